//! `graph`: the dependency graph of the stack's enabled layers, as DOT or Mermaid.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::flags::{Global, GraphArgs, GraphFormat};
use crate::validate;
use ironbark_compose as compose;

pub fn run(global: &Global, args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let loaded = validate::load(global)?;
    let layers = compose::layers(&loaded.config);
    let edges = compose::edges(&layers);
    let mut out = String::new();
    match args.format {
        GraphFormat::Dot => {
            let _ = writeln!(
                out,
                "digraph \"{}-{}\" {{",
                loaded.config.stack, loaded.profile
            );
            for l in &layers {
                let _ = writeln!(out, "  \"{}\";", l.name());
            }
            for (from, to) in &edges {
                let _ = writeln!(out, "  \"{from}\" -> \"{to}\";");
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("graph TD\n");
            for l in &layers {
                let _ = writeln!(out, "  {}", l.name());
            }
            for (from, to) in &edges {
                let _ = writeln!(out, "  {from} --> {to}");
            }
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
