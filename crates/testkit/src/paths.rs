//! Where the workspace and its target directory are.

use std::path::PathBuf;

/// The workspace root (the directory holding the root `Cargo.toml`): `IRONBARK_ROOT` when
/// set (an installed CLI, whose build directory is gone); else the workspace around where
/// cargo runs us (`cargo run` and `cargo test` set `CARGO_MANIFEST_DIR` at run time), or the
/// current directory; else where this crate was built. The build-time path alone is wrong
/// when checkouts share a target directory (CI's clone and a developer's tree): cargo does
/// not rebuild this crate for another checkout, so its `env!` path is the other one's.
#[must_use]
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("IRONBARK_ROOT") {
        return PathBuf::from(root);
    }
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    if let Some(root) = start.as_deref().and_then(enclosing_workspace) {
        return root;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or(manifest.clone(), std::path::Path::to_path_buf)
}

/// The nearest directory at or above `dir` whose `Cargo.toml` declares a `[workspace]`.
fn enclosing_workspace(dir: &std::path::Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(std::path::Path::to_path_buf)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`), where the harness keeps
/// the Python environment, server logs and state.
#[must_use]
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_enclosing_workspace_not_a_member() {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = enclosing_workspace(&here).expect("the workspace");
        assert!(root.join("crates").join("testkit").is_dir(), "{root:?}");
        assert_eq!(enclosing_workspace(&here.join("src")), Some(root));
        assert_eq!(enclosing_workspace(std::path::Path::new("/")), None);
    }
}
