//! Integration tests of ironbark-database against the harness's PostgreSQL 16 + pgvector and
//! the emulator (run by `cargo xtask test`; ignored by plain `cargo test`).

mod harness;
mod pgvector;
