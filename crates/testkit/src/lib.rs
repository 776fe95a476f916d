//! Ironbark's test harness: creates the pinned Python environment, starts and stops the local
//! AWS emulator (`tools/emulator`) and a throwaway PostgreSQL 16 + pgvector, and hands their
//! endpoints to tests through environment variables.
//!
//! `cargo xtask test` starts both servers, sets [`EMULATOR_URL_VAR`] and [`PG_URL_VAR`], and
//! runs every test including the `#[ignore]`d ones that need them. Inside a test:
//!
//! ```no_run
//! let url = ironbark_testkit::emulator_url();
//! let control = ironbark_testkit::EmulatorControl::new(&url);
//! let summary = control.log_summary().unwrap();
//! println!("{} writes so far", summary.writes);
//! ```

mod control;
mod emulator;
mod error;
mod paths;
mod postgres;
mod venv;

pub use control::{EmulatorControl, FaultRule, LogEntry, LogSummary, OperationSummary};
pub use emulator::{Emulator, EmulatorOptions, EmulatorState};
pub use error::HarnessError;
pub use paths::{target_dir, workspace_root};
pub use postgres::Postgres;
pub use venv::Venv;

/// The environment variable holding the emulator's URL during `cargo xtask test`.
pub const EMULATOR_URL_VAR: &str = "IRONBARK_TESTKIT_EMULATOR_URL";
/// The environment variable holding the PostgreSQL URL during `cargo xtask test`.
pub const PG_URL_VAR: &str = "IRONBARK_TESTKIT_PG_URL";

/// The environment variable holding the path of the CLI binary during `cargo xtask test`.
pub const CLI_VAR: &str = "IRONBARK_TESTKIT_CLI";

/// The CLI binary (`xtask`) that runs the tests. Panics with instructions when not run under
/// `cargo xtask test`.
#[must_use]
pub fn cli() -> std::path::PathBuf {
    std::path::PathBuf::from(required_var(CLI_VAR))
}

fn required_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs the services started by `cargo xtask test`")
    })
}

/// The emulator's URL. Panics with instructions when not run under `cargo xtask test`.
#[must_use]
pub fn emulator_url() -> String {
    required_var(EMULATOR_URL_VAR)
}

/// The PostgreSQL URL (`postgres://postgres@127.0.0.1:PORT/postgres`). Panics with
/// instructions when not run under `cargo xtask test`.
#[must_use]
pub fn pg_url() -> String {
    required_var(PG_URL_VAR)
}

/// A loopback port that was free a moment ago.
///
/// # Errors
/// When no socket can be bound.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// A unique access key id for one test, so the emulator's request log can be filtered to that
/// test's own calls while other tests run concurrently.
#[must_use]
pub fn unique_access_key(test: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let clean: String = test
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    format!("AKIB{clean}{:05}{n:03}", std::process::id() % 100_000)
}
