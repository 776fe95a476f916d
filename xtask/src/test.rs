//! `test`: the whole suite. Creates the pinned Python environment, starts the emulator and
//! PostgreSQL, runs `cargo test --workspace -- --include-ignored` (so the tests that need the
//! services run too) and the emulator's own pytest suite, then stops both servers whatever
//! happened (failure or Ctrl-C).

use std::process::ExitCode;

use anyhow::Context as _;
use ironbark_testkit::{
    workspace_root, Emulator, EmulatorOptions, Postgres, Venv, CLI_VAR, EMULATOR_URL_VAR,
    PG_URL_VAR,
};
use tokio::process::Command;

use crate::flags::TestArgs;

async fn run_child(mut cmd: Command, what: &str) -> anyhow::Result<bool> {
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    tokio::select! {
        status = child.wait() => Ok(status.with_context(|| format!("waiting for {what}"))?.success()),
        _ = tokio::signal::ctrl_c() => {
            let _ = child.kill().await;
            eprintln!("interrupted: stopping the emulator and PostgreSQL");
            Ok(false)
        }
    }
}

pub async fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let root = workspace_root();
    let venv = Venv::ensure()?;
    let emulator = Emulator::start(
        &venv,
        &EmulatorOptions {
            port: None,
            time_scale: Some(args.time_scale.clone()),
        },
    )?;
    let postgres = Postgres::start(&venv)?;
    eprintln!(
        "ironbark: emulator at {}, PostgreSQL at {}",
        emulator.url,
        postgres.url()
    );

    let selects_packages = args
        .cargo_args
        .iter()
        .any(|a| a == "-p" || a.starts_with("--package"));
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&root)
        .arg("test")
        .args(if selects_packages {
            &[][..]
        } else {
            &["--workspace"][..]
        })
        .args(&args.cargo_args)
        .args(["--", "--include-ignored"])
        .env(EMULATOR_URL_VAR, &emulator.url)
        .env(PG_URL_VAR, postgres.url())
        .env(
            CLI_VAR,
            std::env::current_exe().context("cannot find the running CLI")?,
        );
    let rust_ok = run_child(cargo, "cargo test").await?;

    let python_ok = if args.no_python {
        true
    } else {
        let mut pytest = Command::new(venv.python());
        pytest
            .current_dir(&root)
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tools/emulator/tests",
            ])
            .env("PYTHONPATH", root.join("tools/emulator"));
        run_child(pytest, "the emulator's pytest suite").await?
    };

    postgres.stop();
    emulator.stop();
    if rust_ok && python_ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "ironbark: tests failed (cargo test: {}, pytest: {})",
            ok(rust_ok),
            ok(python_ok)
        );
        Ok(ExitCode::from(1))
    }
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "failed"
    }
}
