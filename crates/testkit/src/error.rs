//! Errors of the harness.

use std::path::PathBuf;

/// What went wrong starting or talking to a test service.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A command could not be run or failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and output tail.
        detail: String,
    },
    /// A service did not become ready in time.
    #[error("{service} did not become ready within {seconds} s; its log: {log}")]
    NotReady {
        /// Which service.
        service: &'static str,
        /// How long we waited.
        seconds: u64,
        /// The log file to read.
        log: PathBuf,
    },
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP call to the emulator's control endpoint failed.
    #[error("emulator control {endpoint}: {detail}")]
    Control {
        /// The endpoint.
        endpoint: String,
        /// The error.
        detail: String,
    },
}

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> HarnessError {
    let path = path.into();
    move |source| HarnessError::Io {
        action,
        path,
        source,
    }
}
