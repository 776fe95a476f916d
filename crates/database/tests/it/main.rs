//! Integration tests of ironbark-database against the harness's PostgreSQL 16 + pgvector and
//! the emulator (run by `cargo xtask test`; ignored by plain `cargo test`).

mod cache;
mod data_api;
mod dynamodb;
mod harness;
mod pgvector;
mod rds;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ironbark_core::report::CollectingReporter;
use ironbark_core::{Context, Mode};
use ironbark_testkit::{EmulatorControl, LogSummary};

/// A test's context against the emulator: its own stack name and access key id, so tests run
/// concurrently and each reads its own requests from the emulator's log, and a reporter that
/// keeps every event (for the secret-leak checks).
pub struct Harness {
    ctx: Context,
    key: String,
    control: EmulatorControl,
    events: Arc<CollectingReporter>,
}

impl Harness {
    /// A context in apply mode for stack `<prefix>-<test>` and environment `env`.
    pub async fn new(prefix: &str, test: &str, env: &str) -> Self {
        let key = ironbark_testkit::unique_access_key(test);
        let events = Arc::new(CollectingReporter::default());
        let ctx = Context::builder(format!("{prefix}-{}", test.replace('_', "-")), env)
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            .static_credentials(key.clone(), "testing")
            .mode(Mode::Apply)
            .reporter(events.clone())
            .build()
            .await;
        Self {
            ctx,
            key,
            control: EmulatorControl::new(&ironbark_testkit::emulator_url()),
            events,
        }
    }

    /// Whether the emulator's log holds `operation` (`service:Operation`) from this test.
    /// The log is written once a request has been handled, so this is the moment to take a
    /// `requests()` baseline after an interruption: the create is counted on both sides.
    pub fn logged(&self, operation: &str) -> bool {
        self.requests()
            .by_operation
            .get(operation)
            .is_some_and(|s| s.count > 0)
    }

    /// The emulator's summary of this test's requests so far.
    pub fn requests(&self) -> LogSummary {
        self.control.log_summary_for(&self.key).unwrap()
    }
}

/// The write operations made between two summaries.
pub fn writes_between(before: &LogSummary, after: &LogSummary) -> Vec<String> {
    after.writes_since(before).into_keys().collect()
}

/// Drives `work` until `reached` says the moment to interrupt it has come (asked every
/// 50 ms), then drops it, as a killed run would be dropped. Interrupting at a state seen
/// rather than after a guessed time keeps the test right on a loaded machine.
///
/// Panics when `work` finishes first or the moment does not come within `limit`.
pub async fn interrupt_when<W, R, F>(work: W, mut reached: R, limit: Duration)
where
    W: Future,
    W::Output: Debug,
    R: FnMut() -> F,
    F: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => panic!("the work finished before the interruption: {done:?}"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        if reached().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the moment to interrupt did not come within {limit:?}"
        );
    }
}
