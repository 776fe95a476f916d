//! Integration tests of ironbark-networking against the emulator (run by `cargo xtask test`;
//! ignored by plain `cargo test`). Each test has its own stack name and access key id, so
//! tests run concurrently and each reads its own requests from the emulator's log.

mod crash;
mod drift;
mod emulator;
mod flow_logs;
mod growth;
mod lifecycle;
mod reads;

use ironbark_core::config::{LoadOptions, StackConfig};
use ironbark_core::{Context, Mode};
use ironbark_testkit::{EmulatorControl, LogSummary};

/// The shipped stack file's profile.
pub fn profile(name: &str) -> StackConfig {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ironbark.toml");
    let mut opts = LoadOptions::new(file, name);
    opts.use_env = false;
    ironbark_core::config::load(&opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

/// A test's context against the emulator.
pub struct Harness {
    /// The context (apply mode at first).
    pub ctx: Context,
    /// The access key id that tags this test's requests in the emulator's log.
    pub key: String,
    /// The emulator's control client.
    pub control: EmulatorControl,
}

impl Harness {
    /// A context with its own stack name and access key id.
    pub async fn new(test: &str) -> Self {
        let key = ironbark_testkit::unique_access_key(test);
        let ctx = Context::builder(format!("net-{}", test.replace('_', "-")), "dev")
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

    /// A raw EC2 client for out-of-band changes (bypasses nothing: it is a plain client).
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        ironbark_core::sdk_client!(self.ctx, aws_sdk_ec2)
    }

    /// Resources of this stack (tag filters) that are alive: (VPCs, subnets, live NATs, EIPs).
    pub async fn census(&self) -> (usize, usize, usize, usize) {
        let ec2 = self.ec2();
        let owned = || {
            vec![aws_sdk_ec2::types::Filter::builder()
                .name("tag:ironbark:stack")
                .values(self.ctx.stack())
                .build()]
        };
        let vpcs = ec2
            .describe_vpcs()
            .set_filters(Some(owned()))
            .send()
            .await
            .unwrap()
            .vpcs()
            .len();
        let subnets = ec2
            .describe_subnets()
            .set_filters(Some(owned()))
            .send()
            .await
            .unwrap()
            .subnets()
            .len();
        let mut nat_filters = owned();
        nat_filters.push(
            aws_sdk_ec2::types::Filter::builder()
                .name("state")
                .values("pending")
                .values("available")
                .build(),
        );
        let nats = ec2
            .describe_nat_gateways()
            .set_filter(Some(nat_filters))
            .send()
            .await
            .unwrap()
            .nat_gateways()
            .len();
        let eips = ec2
            .describe_addresses()
            .set_filters(Some(owned()))
            .send()
            .await
            .unwrap()
            .addresses()
            .len();
        (vpcs, subnets, nats, eips)
    }
}

/// Counts per write operation between two summaries.
pub fn writes_between(
    before: &LogSummary,
    after: &LogSummary,
) -> std::collections::BTreeMap<String, u64> {
    after.writes_since(before)
}
