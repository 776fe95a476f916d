//! Integration tests of ironbark-networking against the emulator (run by `cargo xtask test`).
