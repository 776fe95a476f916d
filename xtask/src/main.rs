//! The Ironbark CLI, run as `cargo xtask <command>`: parses flags and dispatches with one
//! `match`; each command lives in its own module.

mod bench;
mod emulator;
mod flags;
mod graph;
mod render;
mod run;
mod test;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use crate::flags::{Cli, Command};

/// Exit codes (README, "Exit codes"): 0 success (`plan`: nothing to change), 1 any error,
/// usage errors included, 2 only `plan` with changes pending. clap's own usage errors exit 2,
/// which a CI gate on `plan` would read as "changes pending": they are mapped to 1 here.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        // --help and --version print to stdout and succeed; everything else is a usage error.
        let code = if e.use_stderr() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        let _ = e.print();
        if e.use_stderr() {
            if let Some(var) = flags::env_source_of(&e) {
                eprintln!("note: that value came from the environment variable {var}");
            }
        }
        code
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        Command::Validate => validate::run(&cli.global),
        Command::Plan => run::plan(&cli.global).await,
        Command::Deploy => run::deploy(&cli.global).await,
        Command::Destroy(args) => run::destroy(&cli.global, args).await,
        Command::Outputs => run::outputs(&cli.global).await,
        Command::Unlock => run::unlock(&cli.global).await,
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Emulator(args) => emulator::run(args),
        Command::Test(args) => test::run(args).await,
        Command::Bench(args) => bench::run(&cli.global, args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Every link of the chain, with AWS failures as code, message and meaning.
            eprintln!("error: {}", ironbark_core::reconcile::render(e.as_ref()));
            ExitCode::from(1)
        }
    }
}
