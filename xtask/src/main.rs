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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
