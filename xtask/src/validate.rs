//! `validate`: load and validate the configuration offline, print the resolved profile.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use ironbark_core::config::{self, LoadOptions, Loaded};

use crate::flags::Global;

/// The stack file: `--stack`, or `ironbark.toml` here or in a parent directory.
pub fn stack_file(global: &Global) -> anyhow::Result<PathBuf> {
    if let Some(path) = &global.stack {
        return Ok(path.clone());
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match config::find_upwards(&cwd, "ironbark.toml") {
        Some(path) => Ok(path),
        None => bail!(
            "no ironbark.toml in {} or its parents; pass --stack FILE",
            cwd.display()
        ),
    }
}

/// Loads and validates the selected profile. Prints security warnings; fails with every
/// error (key path, file, profile table) before any AWS call.
pub fn load(global: &Global) -> anyhow::Result<Loaded> {
    let mut opts = LoadOptions::new(stack_file(global)?, global.env.clone());
    let report = |e: config::ConfigErrors| anyhow::anyhow!("{}", e.to_string().trim_end());
    for set in &global.set {
        opts = opts.set_arg(set).map_err(report)?;
    }
    let loaded = config::load(&opts).map_err(report)?;
    for w in &loaded.warnings {
        eprintln!(
            "warning: {}: {} (security rule {}; an error in production)",
            w.path, w.message, w.rule
        );
    }
    Ok(loaded)
}

pub fn run(global: &Global) -> anyhow::Result<ExitCode> {
    let loaded = load(global)?;
    if global.json {
        let out = serde_json::json!({
            "file": loaded.file,
            "profile": loaded.profile,
            "production": loaded.production,
            "config": loaded.config,
            "warnings": loaded.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "# {} — profile `{}`{}",
            loaded.file.display(),
            loaded.profile,
            if loaded.production {
                " (production)"
            } else {
                ""
            }
        );
        print!("{}", toml::to_string_pretty(&loaded.config)?);
    }
    Ok(ExitCode::SUCCESS)
}
