//! Integration tests of ironbark-identity against the emulator (run by `cargo xtask test`).
