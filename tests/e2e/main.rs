//! End-to-end tests: the CLI binary against the emulator (run by `cargo xtask test`, which
//! hands the tests its own binary; ignored by plain `cargo test`).

mod cli;
mod database;
mod exit_codes;
mod killed;
mod lock;
mod resume;

use std::process::{Command, Output};

/// The CLI binary: the one running `cargo xtask test`, or the one `cargo test` built.
pub fn cli_binary() -> std::path::PathBuf {
    std::env::var_os(ironbark_testkit::CLI_VAR).map_or_else(
        || ironbark_testkit::target_dir().join("debug").join("xtask"),
        std::path::PathBuf::from,
    )
}

/// The CLI with `args` against the test emulator, for stack `stack`, not started yet.
pub fn ironbark_command(stack: &str, args: &[&str]) -> Command {
    let mut command = Command::new(cli_binary());
    command
        .args(args)
        .args([
            "--endpoint-url",
            &ironbark_testkit::emulator_url(),
            "--set",
            &format!("stack={stack}"),
        ])
        .env_remove("IRONBARK_ENV")
        .env("NO_COLOR", "1");
    command
}

/// Runs the CLI with `args` against the test emulator, for stack `stack`.
pub fn ironbark(stack: &str, args: &[&str]) -> Output {
    ironbark_command(stack, args)
        .output()
        .expect("the CLI runs")
}

/// A plan-mode context of `stack` and `env` against the test emulator, to look at what the
/// CLI did (resources, the deploy lock).
pub fn emulator_ctx(
    rt: &tokio::runtime::Runtime,
    stack: &str,
    env: &str,
) -> ironbark_core::Context {
    rt.block_on(
        ironbark_core::Context::builder(stack, env)
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            .mode(ironbark_core::Mode::Plan)
            .build(),
    )
}

/// Stdout and stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// (VPCs, subnets, live NAT gateways, Elastic IPs) tagged with `stack`.
pub async fn census(stack: &str) -> (usize, usize, usize, usize) {
    let ctx = ironbark_core::Context::builder(stack, "prod")
        .region("us-east-1")
        .endpoint_url(ironbark_testkit::emulator_url())
        .mode(ironbark_core::Mode::Plan)
        .build()
        .await;
    let ec2 = ironbark_core::sdk_client!(ctx, aws_sdk_ec2);
    let owned = || {
        vec![aws_sdk_ec2::types::Filter::builder()
            .name("tag:ironbark:stack")
            .values(stack)
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
    let mut live = owned();
    live.push(
        aws_sdk_ec2::types::Filter::builder()
            .name("state")
            .values("pending")
            .values("available")
            .build(),
    );
    let nats = ec2
        .describe_nat_gateways()
        .set_filter(Some(live))
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
