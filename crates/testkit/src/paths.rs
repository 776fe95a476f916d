//! Where the workspace and its target directory are.

use std::path::PathBuf;

/// The workspace root (the directory holding the root `Cargo.toml`): `IRONBARK_ROOT` when
/// set (an installed CLI, whose build directory is gone), else where this crate was built.
#[must_use]
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("IRONBARK_ROOT") {
        return PathBuf::from(root);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or(manifest.clone(), std::path::Path::to_path_buf)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`), where the harness keeps
/// the Python environment, server logs and state.
#[must_use]
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}
