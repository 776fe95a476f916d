//! Starting and stopping the local AWS emulator (`python -m ironbark_emulator`).
//!
//! Two ways: [`Emulator::start`] owns the process and stops it on drop (the test harness);
//! [`Emulator::start_detached`] leaves it running in its own process group and records it in
//! a state file, for `cargo xtask emulator start` and `--local`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::control::EmulatorControl;
use crate::error::{io, HarnessError};
use crate::paths::{target_dir, workspace_root};
use crate::venv::Venv;

/// How to start the emulator.
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    /// The port (default: a free one).
    pub port: Option<u16>,
    /// The time scale for status transitions: `instant`, or a factor such as `0.01`.
    pub time_scale: Option<String>,
}

/// A recorded, detached emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatorState {
    /// Its process id.
    pub pid: u32,
    /// Its URL.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
}

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    child: Option<Child>,
    /// The base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The server's log file.
    pub log: PathBuf,
}

fn dir() -> PathBuf {
    target_dir().join("ironbark-emulator")
}

fn state_file() -> PathBuf {
    dir().join("state.json")
}

fn spawn(
    venv: &Venv,
    opts: &EmulatorOptions,
    detached: bool,
) -> Result<(Child, String, PathBuf), HarnessError> {
    let port = match opts.port {
        Some(p) => p,
        None => crate::free_port().map_err(io("find a free port", "127.0.0.1"))?,
    };
    let dir = dir();
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let log = dir.join(format!("emulator-{port}.log"));
    let out = File::create(&log).map_err(io("create", &log))?;
    let err = out.try_clone().map_err(io("open", &log))?;
    let mut cmd = Command::new(venv.python());
    cmd.args([
        "-m",
        "ironbark_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ])
    .env("PYTHONPATH", workspace_root().join("tools/emulator"))
    .env("PYTHONUNBUFFERED", "1")
    .stdin(Stdio::null())
    .stdout(out)
    .stderr(err);
    if let Some(scale) = &opts.time_scale {
        cmd.args(["--time-scale", scale]);
    }
    // Its own process group: a Ctrl-C at the terminal reaches the harness, which then stops
    // the servers in order, instead of killing them mid-test.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let _ = detached;
    let child = cmd.spawn().map_err(|e| HarnessError::Command {
        command: format!("{cmd:?}"),
        detail: e.to_string(),
    })?;
    Ok((child, format!("http://127.0.0.1:{port}"), log))
}

fn wait_healthy(child: &mut Child, url: &str, log: &PathBuf) -> Result<(), HarnessError> {
    let control = EmulatorControl::new(url);
    let start = Instant::now();
    let limit = Duration::from_secs(90);
    while start.elapsed() < limit {
        if control.health().is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            return Err(HarnessError::Command {
                command: "python -m ironbark_emulator".into(),
                detail: format!(
                    "exited with {status}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(HarnessError::NotReady {
        service: "the emulator",
        seconds: limit.as_secs(),
        log: log.clone(),
    })
}

impl Emulator {
    /// Starts an emulator owned by this value; it is stopped when dropped.
    ///
    /// # Errors
    /// When it cannot be spawned or does not answer its health check within 90 s.
    pub fn start(venv: &Venv, opts: &EmulatorOptions) -> Result<Self, HarnessError> {
        let (mut child, url, log) = spawn(venv, opts, false)?;
        if let Err(e) = wait_healthy(&mut child, &url, &log) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Self {
            child: Some(child),
            url,
            log,
        })
    }

    /// Starts an emulator that outlives this process, recorded in the state file.
    ///
    /// # Errors
    /// As [`Emulator::start`], or when the state file cannot be written.
    pub fn start_detached(
        venv: &Venv,
        opts: &EmulatorOptions,
    ) -> Result<EmulatorState, HarnessError> {
        let (mut child, url, log) = spawn(venv, opts, true)?;
        if let Err(e) = wait_healthy(&mut child, &url, &log) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        let state = EmulatorState {
            pid: child.id(),
            url,
            log,
        };
        let path = state_file();
        let json = serde_json::to_vec_pretty(&state).unwrap_or_default();
        std::fs::write(&path, json).map_err(io("write", &path))?;
        Ok(state)
    }

    /// The detached emulator recorded in the state file, if it answers its health check.
    #[must_use]
    pub fn running() -> Option<EmulatorState> {
        let state: EmulatorState =
            serde_json::from_slice(&std::fs::read(state_file()).ok()?).ok()?;
        EmulatorControl::new(&state.url)
            .health()
            .ok()
            .map(|_| state)
    }

    /// Stops the detached emulator recorded in the state file. Returns what was stopped.
    ///
    /// # Errors
    /// When the state file cannot be removed.
    pub fn stop_detached() -> Result<Option<EmulatorState>, HarnessError> {
        let path = state_file();
        let Some(state) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<EmulatorState>(&b).ok())
        else {
            return Ok(None);
        };
        terminate(state.pid);
        std::fs::remove_file(&path).map_err(io("remove", &path))?;
        Ok(Some(state))
    }

    /// A control client for this emulator.
    #[must_use]
    pub fn control(&self) -> EmulatorControl {
        EmulatorControl::new(&self.url)
    }

    /// Stops the emulator (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(child.id());
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sends SIGTERM so the emulator can stop the PostgreSQL it started.
fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    // A detached emulator is not our child: wait for it to disappear.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !alive {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}
