//! Integration tests of ironbark-identity against the emulator (run by `cargo xtask test`).
//!
//! Each test uses its own stack name (tests run concurrently against one emulator) and a
//! fresh access key per phase, so the emulator's request log counts that phase's calls alone.

mod cognito;
mod kms;
mod oidc;
mod role;
mod secret;

use std::sync::Arc;

use ironbark_core::report::CollectingReporter;
use ironbark_core::{Context, Mode};
use ironbark_testkit::LogSummary;

/// One phase of a test (create, re-run, drift plan, fix, destroy): a context for `stack` with
/// its own access key and a collecting reporter.
pub struct Phase {
    /// The phase's context.
    pub ctx: Context,
    /// Its access key id (the emulator's log filter).
    pub key: String,
    /// Every event it reported.
    pub events: Arc<CollectingReporter>,
}

impl Phase {
    /// A phase in env `dev`.
    pub async fn new(stack: &str, mode: Mode) -> Self {
        Self::with_env(stack, "dev", mode).await
    }

    /// A phase in `env`.
    pub async fn with_env(stack: &str, env: &str, mode: Mode) -> Self {
        let key = ironbark_testkit::unique_access_key(stack);
        let events = Arc::new(CollectingReporter::default());
        // Unique per test process too, so a re-run against a long-lived emulator does not
        // meet what the previous run left scheduled for deletion.
        let ctx = Context::builder(format!("it-{stack}-{}", std::process::id() % 100_000), env)
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            .static_credentials(key.clone(), "testing")
            .reporter(events.clone())
            .mode(mode)
            .build()
            .await;
        Self { ctx, key, events }
    }

    /// The emulator's own count of this phase's calls.
    pub fn server_log(&self) -> LogSummary {
        ironbark_testkit::EmulatorControl::new(&ironbark_testkit::emulator_url())
            .log_summary_for(&self.key)
            .expect("emulator log")
    }

    /// Asserts the emulator saw no write from this phase.
    pub fn assert_no_writes(&self) {
        let log = self.server_log();
        assert_eq!(log.writes, 0, "writes: {:?}", log.write_operations());
        assert!(log.reads > 0, "the phase made no calls at all: {log:?}");
    }
}
