//! Integration tests of ironbark-core against the local emulator (run by `cargo xtask test`;
//! ignored by plain `cargo test`), and the tidy tests of the whole tree (`tidy`, no emulator,
//! run by plain `cargo test` too).

mod account;
mod guard;
mod lock;
mod recorder;
mod tidy;

use ironbark_core::{Context, Mode};

/// A context against the emulator with its own access key id, so the emulator's request log
/// can be read for this test alone.
pub async fn emulator_context(test: &str, mode: Mode) -> (Context, String) {
    let key = ironbark_testkit::unique_access_key(test);
    let ctx = Context::builder(format!("it-{}", test.replace('_', "-")), "dev")
        .region("us-east-1")
        .endpoint_url(ironbark_testkit::emulator_url())
        .static_credentials(key.clone(), "testing")
        .mode(mode)
        .build()
        .await;
    (ctx, key)
}

/// The emulator's control client.
pub fn control() -> ironbark_testkit::EmulatorControl {
    ironbark_testkit::EmulatorControl::new(&ironbark_testkit::emulator_url())
}
