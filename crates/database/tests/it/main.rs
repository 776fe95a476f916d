//! Integration tests of ironbark-database against the harness's PostgreSQL 16 + pgvector and
//! the emulator (run by `cargo xtask test`; ignored by plain `cargo test`).

mod cache;
mod data_api;
mod dynamodb;
mod harness;
mod pgvector;
mod rds;
