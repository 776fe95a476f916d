//! Ironbark's composition: the one crate that sees several domains (DESIGN invariant 1). A
//! stack is a graph of *layers*, one per domain crate: each turns its section of the stack
//! configuration into that crate's specs, calls its `ensure_*` (or `destroy_*`) functions, and
//! hands its outputs (ids, ARNs, names; never secrets) to the layers that depend on it. The
//! [`execute`] executor runs every layer as soon as what it needs is done (or published
//! early), concurrently otherwise, and in reverse for destroy.
//!
//! The CLI (`xtask`) is a thin shell over this crate: flags, rendering and commands. Another
//! tool can compose stacks the same way:
//!
//! ```no_run
//! # async fn example(cfg: &ironbark_core::config::StackConfig) -> Result<(), ironbark_compose::ComposeError> {
//! let ctx = ironbark_core::Context::builder(cfg.stack.clone(), "dev").build().await;
//! let (plan, outputs) =
//!     ironbark_compose::execute(&ctx, ironbark_compose::layers(cfg), ironbark_compose::Action::Converge).await?;
//! println!("{}{outputs:?}", plan.render_human());
//! # Ok(()) }
//! ```

mod executor;
pub mod layers;
pub mod outputs;

pub use executor::{
    edges, execute, layers, Action, ComposeError, Layer, LayerError, LayerFuture, LayerResult,
    Outputs, Publisher, StepError,
};
pub use outputs::{IdentityOutputs, NetworkingOutputs};
