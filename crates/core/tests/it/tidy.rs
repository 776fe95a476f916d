//! Tidy tests: architecture invariants and documentation rules checked on the source tree itself,
//! so they are tested, not only written (rust-analyzer's `xtask/src/tidy.rs` is the model).
//!
//! They read files only: no emulator, no network, not `#[ignore]`d, so plain `cargo test` runs
//! them. Each collects every offender before failing, so one run lists all of them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The domain crates under `crates/`. DESIGN invariant 1: they depend on `ironbark-core` and
/// their own `aws-sdk-*` crates only, never on each other.
const DOMAINS: &[&str] = &[
    "networking",
    "database",
    "compute",
    "edge",
    "identity",
    "ai",
    "observability",
];

/// The crates under `crates/` that are not domains: what domains build on, and the test harness.
const BASE: &[&str] = &["core", "testkit"];

/// The composition: the one crate that sees several domains (it wires one's outputs into
/// another's inputs), so it is the one allowed to depend on them.
const COMPOSITION: &[&str] = &["compose"];

/// Directory names never searched: build output, tool caches, hidden directories.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "__pycache__"];

/// The repository root (this crate is `crates/core`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/core has a grandparent")
        .to_path_buf()
}

/// `path` relative to the root, with `/` separators, as the failure messages print it.
fn rel(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn read_toml(path: &Path) -> toml::Table {
    toml::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: invalid TOML: {e}", rel(path)))
}

/// Every file and directory below `dir` (sorted), skipping [`SKIPPED_DIRS`] and hidden entries.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') || SKIPPED_DIRS.contains(&name.as_ref()) {
            continue;
        }
        let is_dir = path.is_dir();
        out.push(path.clone());
        if is_dir {
            walk(&path, out);
        }
    }
}

/// Every `.rs` file of the workspace's crates: `crates/`, `xtask/` and `tests/`.
fn rust_files() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for top in ["crates", "xtask", "tests"] {
        walk(&root().join(top), &mut all);
    }
    all.retain(|p| p.extension().is_some_and(|e| e == "rs"));
    all
}

/// The crate directories under `crates/` (those with a `Cargo.toml`), by name.
fn crate_dirs() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("crates"))
        .expect("crates/ exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Fails with every problem, one per line, under a headline saying which rule they break.
fn report(rule: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "\n{rule}\n{} problem(s):\n  {}\n",
        problems.len(),
        problems.join("\n  ")
    );
}

/// The 1-based line of the first line of `text` that starts (after indentation) with `key`
/// followed by ` `, `.` or `=`; 0 when there is none.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with([' ', '.', '=']))
        })
        .map_or(0, |i| i + 1)
}

/// `(table, key, package)` for every dependency of a manifest: normal, dev and build dependencies,
/// also under `[target.'cfg(..)'.*]`. The package is the `package = ".."` of a renamed
/// dependency, the key otherwise.
fn dependencies(manifest: &toml::Table) -> Vec<(String, String, String)> {
    const KINDS: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for kind in KINDS {
        if let Some(t) = manifest.get(*kind).and_then(toml::Value::as_table) {
            tables.push(((*kind).to_owned(), t));
        }
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for (cfg, target) in targets {
            for kind in KINDS {
                if let Some(t) = target.get(*kind).and_then(toml::Value::as_table) {
                    tables.push((format!("target.{cfg}.{kind}"), t));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (table, deps) in tables {
        for (key, value) in deps {
            let package = value
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key);
            out.push((table.clone(), key.clone(), package.to_owned()));
        }
    }
    out
}

/// Architecture invariant: domain crates depend on `ironbark-core` and their own `aws-sdk-*`
/// crates only, never on each other (dev-dependencies included: a test that needs two domains
/// belongs to the composition or `tests/`). Core and testkit depend on no domain at all. A new
/// directory under `crates/` must be classified here, so the rule cannot silently skip it.
#[test]
fn domain_crates_do_not_depend_on_each_other() {
    let mut problems = Vec::new();
    for name in crate_dirs() {
        let is_domain = DOMAINS.contains(&name.as_str());
        if COMPOSITION.contains(&name.as_str()) {
            continue;
        }
        if !is_domain && !BASE.contains(&name.as_str()) {
            problems.push(format!(
                "crates/{name}: neither a domain crate, core/testkit nor the composition; add it \
                 to DOMAINS, BASE or COMPOSITION in crates/core/tests/it/tidy.rs"
            ));
            continue;
        }
        let path = root().join("crates").join(&name).join("Cargo.toml");
        let text = read(&path);
        for (table, key, package) in dependencies(&read_toml(&path)) {
            let Some(other) = package.strip_prefix("ironbark-") else {
                continue;
            };
            if DOMAINS.contains(&other) && other != name {
                let what = if is_domain {
                    "domain crate"
                } else {
                    "base crate"
                };
                problems.push(format!(
                    "{}:{}: [{table}] {key}: {what} {name} depends on domain crate {other}",
                    rel(&path),
                    line_of(&text, &key)
                ));
            }
        }
    }
    report(
        "Architecture invariant: domain crates depend on ironbark-core and their own aws-sdk-* \
         crates only, never on each other",
        &problems,
    );
}

/// Every Rust file opens with a `//!` line saying what it holds: the first non-empty line of
/// every `.rs` file under `crates/`, `xtask/` and `tests/` (all files, not only crate roots).
#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut problems = Vec::new();
    for path in rust_files() {
        let text = read(&path);
        match text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) {
            None => problems.push(format!("{}: empty file, no `//!` header", rel(&path))),
            Some((i, line)) if !line.trim_start().starts_with("//!") => problems.push(format!(
                "{}:{}: first non-empty line is not a `//!` header: {}",
                rel(&path),
                i + 1,
                line.trim()
            )),
            Some(_) => {}
        }
    }
    report(
        "Every .rs file opens with a `//!` header (its first non-empty line)",
        &problems,
    );
}

/// The level of a workspace lint entry, written `"warn"` or `{ level = "warn", priority = .. }`.
fn lint_level(lints: Option<&toml::Value>, lint: &str) -> Option<String> {
    let entry = lints?.get(lint)?;
    let level = entry
        .as_str()
        .or_else(|| entry.get("level").and_then(toml::Value::as_str))?;
    Some(level.to_owned())
}

/// Public items are documented. rustc's `missing_docs` lint already checks exactly that, and CI
/// runs clippy with `-D warnings`, so re-implementing it here would only be a worse copy. The
/// tidy form of the invariant is that the lint stays on everywhere: the workspace lints keep
/// `missing_docs` at `warn` or stricter (and `unsafe_code` at `forbid`), every workspace member
/// inherits them with `[lints] workspace = true`, and no source file turns `missing_docs` off
/// with an `allow`/`expect` attribute.
#[test]
fn missing_docs_stays_on_in_every_crate() {
    let mut problems = Vec::new();
    let root_manifest = root().join("Cargo.toml");
    let workspace = read_toml(&root_manifest);
    let ws = workspace
        .get("workspace")
        .and_then(toml::Value::as_table)
        .expect("the root Cargo.toml has a [workspace]");
    let rust_lints = ws.get("lints").and_then(|l| l.get("rust"));
    match lint_level(rust_lints, "missing_docs").as_deref() {
        Some("warn" | "deny" | "forbid") => {}
        other => problems.push(format!(
            "Cargo.toml: [workspace.lints.rust] missing_docs is {}, want \"warn\" (CI denies \
             warnings)",
            other.map_or_else(|| "absent".to_owned(), |level| format!("{level:?}"))
        )),
    }
    if lint_level(rust_lints, "unsafe_code").as_deref() != Some("forbid") {
        problems.push("Cargo.toml: [workspace.lints.rust] unsafe_code is not \"forbid\"".into());
    }

    let members = ws
        .get("members")
        .and_then(toml::Value::as_array)
        .expect("[workspace] members");
    for member in members {
        let member = member.as_str().expect("members are strings");
        let path = root().join(member).join("Cargo.toml");
        let manifest = read_toml(&path);
        let inherits = manifest
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(toml::Value::as_bool)
            == Some(true);
        if !inherits {
            problems.push(format!(
                "{}: no `[lints] workspace = true`: the workspace lints (missing_docs) do not \
                 apply to it",
                rel(&path)
            ));
        }
    }

    for path in rust_files() {
        let text = read(&path);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start();
            let attribute = line.starts_with("#[") || line.starts_with("#![");
            if attribute
                && line.contains("missing_docs")
                && (line.contains("allow") || line.contains("expect"))
            {
                problems.push(format!(
                    "{}:{}: turns missing_docs off: {}",
                    rel(&path),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    report(
        "Public items are documented: missing_docs is on for every crate",
        &problems,
    );
}

/// `{a,b}c` → `ac`, `bc` (nested and repeated groups too); text without braces as is.
fn expand_braces(token: &str) -> Vec<String> {
    let Some(open) = token.find('{') else {
        return vec![token.to_owned()];
    };
    let Some(close) = token[open..].find('}').map(|i| open + i) else {
        return vec![token.to_owned()];
    };
    let (prefix, inner, suffix) = (&token[..open], &token[open + 1..close], &token[close + 1..]);
    inner
        .split(',')
        .flat_map(|alt| expand_braces(&format!("{prefix}{alt}{suffix}")))
        .collect()
}

/// Whether a backticked token in a doc is meant as a path of the repository.
///
/// The rule: no whitespace and none of the characters of code, templates or globs
/// (`<stack>/<env>.json`, `aws-sdk-*`, `ec2::owned`, `emulator_url()`), and either a `/` in it
/// or a name ending in `.rs`, `.toml`, `.py` or `.md`. Not checked: paths starting with `/`
/// (HTTP paths such as `/_ironbark/health`), with `../` (outside the repository) or with
/// `target/` (build output, created at run time), and extensions alone (`.rs`).
fn names_a_path(token: &str) -> bool {
    const CODE_CHARS: &str = "<>$*:()[]!?'\"=;,@#&|%^~`{}";
    if token.is_empty()
        || token
            .chars()
            .any(|c| c.is_whitespace() || CODE_CHARS.contains(c))
    {
        return false;
    }
    if token.starts_with('/') || token.starts_with("../") || token.starts_with("target/") {
        return false;
    }
    // An extension alone (`.rs`) names a kind of file, not a file.
    if token.starts_with('.') && token[1..].chars().all(char::is_alphanumeric) {
        return false;
    }
    token.contains('/')
        || [".rs", ".toml", ".py", ".md"]
            .iter()
            .any(|ext| token.ends_with(ext))
}

/// One heading or paragraph (lines up to a blank line) of a Markdown file, outside code fences.
struct Block {
    first_line: usize,
    text: String,
    heading: bool,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut current: Option<Block> = None;
    let mut fenced = false;
    for (i, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.extend(current.take());
            continue;
        }
        if fenced || line.trim().is_empty() {
            out.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            out.extend(current.take());
            out.push(Block {
                first_line: i + 1,
                text: line.to_owned(),
                heading: true,
            });
            continue;
        }
        match &mut current {
            Some(block) => {
                block.text.push('\n');
                block.text.push_str(line);
            }
            None => {
                current = Some(Block {
                    first_line: i + 1,
                    text: line.to_owned(),
                    heading: false,
                });
            }
        }
    }
    out.extend(current);
    out
}

/// The inline code spans of a block with their line numbers.
fn code_spans(block: &Block) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, piece) in block.text.split('`').enumerate() {
        if i % 2 == 1 {
            let line = block.first_line + block.text[..offset].matches('\n').count();
            out.push((line, piece));
        }
        offset += piece.len() + 1;
    }
    out
}

/// Every path named in `docs/architecture.md` exists.
///
/// A token that [`names_a_path`] resolves when it exists relative to the repository root, or
/// when some file or directory inside the current *scope* ends with it (so `cbor.py` or
/// `config/` name something inside the crate being described). The scope is the directory a
/// heading names in backticks (the heading of `crates/core`), narrowed to the directory a
/// paragraph opens with (the `crates/database` paragraph); with no scope, anywhere in the tree.
/// A bare file name listed in one crate's section must therefore exist in that crate.
#[test]
fn architecture_md_names_only_paths_that_exist() {
    let root = root();
    let doc = root.join("docs/architecture.md");
    let mut tree = Vec::new();
    walk(&root, &mut tree);
    let tree: BTreeSet<String> = tree.iter().map(|p| rel(p)).collect();
    let is_dir = |token: &str| {
        let token = token.trim_end_matches('/');
        !token.is_empty() && names_a_path(token) && root.join(token).is_dir()
    };
    let found = |token: &str, scope: Option<&str>| {
        let token = token.trim_end_matches('/');
        if root.join(token).exists() {
            return true;
        }
        let suffix = format!("/{token}");
        tree.iter().any(|p| {
            let inside = scope.is_none_or(|s| p.starts_with(&format!("{s}/")));
            inside && (p == token || p.ends_with(&suffix))
        })
    };

    let mut problems = Vec::new();
    let mut heading_scope: Option<String> = None;
    for block in blocks(&read(&doc)) {
        let spans = code_spans(&block);
        let first_dir = spans
            .first()
            .filter(|_| block.heading || block.text.starts_with('`'))
            .map(|(_, t)| t.trim_end_matches('/').to_owned())
            .filter(|t| is_dir(t));
        let scope = if block.heading {
            heading_scope = spans
                .iter()
                .map(|(_, t)| t.trim_end_matches('/').to_owned())
                .find(|t| is_dir(t));
            None
        } else {
            first_dir.or_else(|| heading_scope.clone())
        };
        for (line, token) in spans {
            for path in expand_braces(token) {
                if names_a_path(&path) && !found(&path, scope.as_deref()) {
                    let place = scope
                        .as_deref()
                        .map_or_else(|| "anywhere in the tree".to_owned(), |s| format!("in {s}/"));
                    problems.push(format!(
                        "docs/architecture.md:{line}: `{path}` does not exist (not at the root, \
                         nor {place})"
                    ));
                }
            }
        }
    }
    report(
        "docs/architecture.md names only files and directories that exist",
        &problems,
    );
}

/// A crate's own description says what exists: the `//!` header of every crate root
/// (`lib.rs`, `xtask/src/main.rs`) is at least a sentence and never a placeholder or a to-do.
#[test]
fn crate_headers_are_not_placeholders() {
    const STALE: &[&str] = &["placeholder", "todo", "fixme", "tbd"];
    let mut roots: Vec<PathBuf> = crate_dirs()
        .iter()
        .map(|c| root().join("crates").join(c).join("src/lib.rs"))
        .collect();
    roots.push(root().join("xtask/src/main.rs"));
    roots.push(root().join("tests/lib.rs"));
    let mut problems = Vec::new();
    for path in roots {
        let text = read(&path);
        let header: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .take_while(|(_, l)| l.starts_with("//!"))
            .collect();
        let words: usize = header
            .iter()
            .map(|(_, l)| l.split_whitespace().count() - 1)
            .sum();
        if words < 8 {
            problems.push(format!(
                "{}: the `//!` header has {words} word(s); say what the crate owns (or that it \
                 is not built yet, and which issue builds it)",
                rel(&path)
            ));
        }
        for (i, line) in &header {
            let lower = line.to_lowercase();
            for stale in STALE {
                if lower
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == *stale)
                {
                    problems.push(format!("{}:{}: says `{stale}`: {line}", rel(&path), i + 1));
                }
            }
        }
    }
    report(
        "Crate headers describe what exists, not placeholders",
        &problems,
    );
}
