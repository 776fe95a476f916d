//! Command-line flags (clap derive).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// Ironbark: infrastructure as code for AWS, in Rust.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The profile to use (a table of the stack file: dev, staging, prod, ...).
    #[arg(long, global = true, env = "IRONBARK_ENV", default_value = "dev")]
    pub env: String,
    /// The stack file (default: ironbark.toml here or in a parent directory).
    #[arg(long, global = true, env = "IRONBARK_STACK_FILE")]
    pub stack: Option<PathBuf>,
    /// Use the local emulator (started when not running).
    #[arg(long, global = true, conflicts_with = "endpoint_url")]
    pub local: bool,
    /// Send every AWS call to this endpoint.
    #[arg(long, global = true, env = "IRONBARK_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Machine-readable output: JSON on stdout, JSON-lines events on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Apply without asking (required when not on a terminal, except with --local).
    #[arg(long, global = true)]
    pub yes: bool,
    /// Override a configuration key: `--set networking.az_count=3` (highest precedence).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Wait up to SECS for another deploy or destroy of this stack and env to finish (default:
    /// fail at once, naming who runs it).
    #[arg(
        long,
        global = true,
        env = "IRONBARK_LOCK_TIMEOUT",
        value_name = "SECS",
        default_value_t = 0
    )]
    pub lock_timeout: u64,
    /// Take over another run's deploy lock after SECS without a heartbeat (it beats every
    /// tenth of that, at most every 30 s). A dead process of this host is taken over at once.
    #[arg(
        long,
        global = true,
        env = "IRONBARK_LOCK_STALE_AFTER",
        value_name = "SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub lock_stale_after: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate the configuration offline; print the resolved profile.
    Validate,
    /// Observe everything and print what deploy would change (exit 0: none, 2: changes, 1: error).
    Plan,
    /// Plan, confirm, apply with live progress, print the outputs.
    Deploy,
    /// Tear down everything tagged with this stack and environment, in reverse order.
    Destroy(DestroyArgs),
    /// Print endpoints, ids and ARNs.
    Outputs,
    /// Show who holds the deploy lock of this stack and env, and remove it (asks first).
    Unlock,
    /// Print the dependency graph of the enabled layers.
    Graph(GraphArgs),
    /// Start, stop or inspect the local AWS emulator.
    Emulator(EmulatorArgs),
    /// Run every test with the emulator and PostgreSQL started around them.
    Test(TestArgs),
    /// Measure a fresh deploy, a converged re-deploy and a destroy against a fresh emulator:
    /// wall time and API calls (reads/writes) from the emulator's own log.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Also delete resources with deletion protection (refused otherwise in production).
    #[arg(long)]
    pub allow_protected: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub action: EmulatorAction,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorAction {
    /// Start the emulator in the background (recorded under target/ironbark-emulator).
    Start {
        /// The port (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Time scale of status transitions: `instant`, `1` (AWS's real durations), `0.01`, ...
        #[arg(long)]
        time_scale: Option<String>,
    },
    /// Stop the background emulator.
    Stop,
    /// Say whether it runs, where, and at which time scale (exit 1 when it does not).
    Status,
    /// Forget every emulated resource, fault rule and logged request.
    Reset,
    /// Inject faults, or list them (no flags) or clear them (--clear).
    Faults(FaultArgs),
    /// Print the request log (or its summary).
    Log {
        /// Counts per operation, reads vs writes.
        #[arg(long)]
        summary: bool,
        /// Clear the log after printing.
        #[arg(long)]
        reset: bool,
    },
    /// Change the time scale of the running emulator.
    TimeScale {
        /// `instant` or a factor.
        scale: String,
    },
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The service (`ec2`, `s3`, `rds`, ...).
    #[arg(long)]
    pub service: Option<String>,
    /// One operation only (`CreateVpc`).
    #[arg(long)]
    pub operation: Option<String>,
    /// Share of requests throttled with the service's own error code (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub throttle: f64,
    /// Share of requests answered with --error-status (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Status of injected errors.
    #[arg(long, default_value_t = 500)]
    pub error_status: u16,
    /// Latency added to each matching request.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Only the first N matching requests.
    #[arg(long)]
    pub count: Option<u64>,
    /// Remove every rule.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Time scale of the emulator during the tests.
    #[arg(long, default_value = "0.01")]
    pub time_scale: String,
    /// Skip the emulator's own Python test suite.
    #[arg(long)]
    pub no_python: bool,
    /// Arguments passed to `cargo test` (after `--`).
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Time scale of the emulator: 1 = AWS's typical durations (NAT ~90 s), 0.01 = fast.
    #[arg(long, default_value = "1")]
    pub time_scale: String,
    /// Where to write the JSON results (default: target/ironbark-bench/deploy-<env>.json).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Latency added to every call for the converged plan's round-trip count, in ms.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
}

/// The environment variable a rejected value came from, when the error is about a flag that
/// was not on the command line but is set through its `IRONBARK_*` variable
/// (`IRONBARK_LOCK_TIMEOUT=ten`): clap's message names only the flag.
pub fn env_source_of(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(invalid)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = invalid.split_whitespace().next()?.strip_prefix("--")?;
    let on_command_line =
        std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    if on_command_line {
        return None;
    }
    let cli = Cli::command();
    let var = cli
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    std::env::var_os(&var).is_some().then_some(var)
}
