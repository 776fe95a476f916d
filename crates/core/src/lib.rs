//! Ironbark core: what every domain crate builds on.
//!
//! - [`Context`]: one `SdkConfig` (region, credentials chain, endpoint override, retries tuned
//!   for control planes, timeouts), stack and environment, tags, plan/apply mode, a reporter,
//!   per-service concurrency caps. Clients come from [`sdk_client!`], which installs the
//!   plan-mode [`guard::WriteGuard`] and the [`recorder::RequestRecorder`].
//! - [`config`]: layered, validated stack configuration with errors naming key and file.
//! - [`plan`]: the change model (`+ ~ - !` with field diffs) and its renderings.
//! - [`naming`]: deterministic physical names and client tokens; [`cidr`]: subnet carving.
//! - [`retry`] and [`wait`]: bounded eventual-consistency retries and status waiters.
//! - [`report`]: progress events.
//! - [`reconcile`]: the one way a resource converges (the `Resource` trait and its driver),
//!   the AWS error shape every domain wraps, and error messages for people.
//! - [`known`]: values known only after apply, one marker for every domain.
//! - [`lock`]: the deploy lock (one deploy or destroy per stack and environment at a time).
//!
//! ```no_run
//! # async fn example() -> Result<(), ironbark_core::CoreError> {
//! use ironbark_core::{Context, Mode};
//! let ctx = Context::builder("shop", "dev").region("eu-west-1").mode(Mode::Plan).build().await;
//! let account = ironbark_core::account::check_account(&ctx, Some("123456789012")).await?;
//! println!("planning {} in {account}", ctx.stack());
//! # Ok(()) }
//! ```

pub mod account;
pub mod cidr;
pub mod config;
mod context;
mod error;
pub mod guard;
pub mod known;
pub mod lock;
pub mod naming;
pub mod ops;
pub mod plan;
pub mod reconcile;
pub mod recorder;
pub mod report;
pub mod retry;
pub mod tags;
pub mod wait;

pub use context::{Context, ContextBuilder, DEFAULT_CONCURRENCY};
pub use error::{BoxedSdkError, CoreError};
pub use guard::Mode;
pub use known::{Known, KNOWN_AFTER_APPLY};
pub use plan::{Change, FieldDiff, Plan, ResourceChange};
pub use report::{Event, Reporter, SharedReporter};
pub use tags::Tags;
