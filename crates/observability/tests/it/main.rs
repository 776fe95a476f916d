//! Integration tests of ironbark-observability against the emulator (run by
//! `cargo xtask test`; ignored by plain `cargo test`): the whole layer created and read back,
//! re-run with zero writes, drift repaired field by field, in-place updates, plan mode, a
//! foreign resource refused, and destroy.

mod lifecycle;

use ironbark_core::{Context, Mode};
use ironbark_testkit::{EmulatorControl, LogSummary};

/// A test's context against the emulator: its own stack name and access key id.
pub struct Harness {
    /// The context (apply mode).
    pub ctx: Context,
    key: String,
    control: EmulatorControl,
}

impl Harness {
    /// A context for stack `obs-<test>`, environment `dev`.
    pub async fn new(test: &str) -> Self {
        let key = ironbark_testkit::unique_access_key(test);
        let ctx = Context::builder(format!("obs-{}", test.replace('_', "-")), "dev")
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            .static_credentials(key.clone(), "testing")
            .mode(Mode::Apply)
            .build()
            .await;
        Self {
            ctx,
            key,
            control: EmulatorControl::new(&ironbark_testkit::emulator_url()),
        }
    }

    /// The emulator's summary of this test's requests so far.
    pub fn requests(&self) -> LogSummary {
        self.control.log_summary_for(&self.key).unwrap()
    }

    /// The write operations made since `before`.
    pub fn writes_since(&self, before: &LogSummary) -> Vec<String> {
        self.requests().writes_since(before).into_keys().collect()
    }

    /// A plain client of `sdk` against the emulator with this test's key (for reading back
    /// and for out-of-band drift).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(ironbark_testkit::emulator_url())
            .credentials_provider(aws_credential_types::Credentials::new(
                &self.key, "testing", None, None, "test",
            ))
            .load()
            .await
    }
}
