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
    for set in &global.set {
        let Some((key, value)) = set.split_once('=') else {
            bail!("--set {set}: expected KEY=VALUE, e.g. --set networking.az_count=3");
        };
        opts = opts.set(key.trim(), value.trim());
    }
    let loaded =
        config::load(&opts).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
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
