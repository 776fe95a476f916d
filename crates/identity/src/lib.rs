//! Ironbark identity: who may do what, and the keys and secrets every other domain uses.
//!
//! This crate owns IAM roles (service and IRSA trust, inline and managed policies, instance
//! profiles), customer managed policies, EKS OIDC providers, KMS keys, Secrets Manager
//! secrets and Cognito (user pools, resource servers, app clients, domains, groups, identity
//! pools). Other domain crates never create roles: they expose the policy documents their
//! resources need as [`document::PolicyDocument`]s, and the composition hands them here.
//!
//! Every `ensure_*` observes (reads only), decides with a pure `decide`, and acts only in
//! apply mode; every `destroy_*` tolerates what is already gone.
//!
//! ```no_run
//! # async fn example() -> Result<(), ironbark_identity::IdentityError> {
//! use ironbark_core::{Context, Mode};
//! use ironbark_identity::document::{PolicyDocument, Statement};
//! use ironbark_identity::role::{ensure_role, RoleSpec, ServicePrincipal};
//! let ctx = Context::builder("shop", "prod").mode(Mode::Apply).build().await;
//! let spec = RoleSpec::for_services("identity/role/api", [ServicePrincipal::Lambda]).with_inline(
//!     "read-media",
//!     PolicyDocument::new(vec![Statement::allow(["s3:GetObject"], ["arn:aws:s3:::media/*"])]),
//! );
//! let role = ensure_role(&ctx, &spec).await?;
//! println!("{} {:?}", role.name, role.arn);
//! # Ok(()) }
//! ```

// `IdentityError` wraps core's `ResourceError`, whose `AwsError` keeps AWS's code, message and
// status inline so every message can name them; boxing it would cost every caller a match
// through the box for no measured gain.
#![allow(clippy::result_large_err)]
pub mod account;
pub mod cognito;
pub mod document;
mod error;
pub mod kms;
pub mod oidc;
pub mod policy;
pub mod role;
pub mod secret;

pub use error::{
    is_access_denied, is_already_exists, is_deletion_protected, is_entity_already_exists,
    is_iam_propagation, is_no_such_entity, is_not_found, is_scheduled_for_deletion, IdentityError,
};
