//! The account guard: a profile may pin `account_id`; plan, deploy and destroy refuse to run
//! against any other account (the classic "deployed prod into the sandbox account" mistake).

use crate::context::Context;
use crate::error::CoreError;

/// Returns the caller's account id, and fails when `expected` is set and differs.
///
/// # Errors
/// [`CoreError::AccountMismatch`] for another account, [`CoreError::Sts`] when
/// `GetCallerIdentity` fails (no credentials, no network).
pub async fn check_account(ctx: &Context, expected: Option<&str>) -> Result<String, CoreError> {
    check_caller(ctx, expected).await.map(|c| c.account)
}

/// Who is calling: account id and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account id.
    pub account: String,
    /// The caller's ARN (user or assumed role).
    pub arn: String,
}

/// Like [`check_account`], returning the caller's ARN too (the deploy lock names it).
///
/// # Errors
/// As [`check_account`].
pub async fn check_caller(ctx: &Context, expected: Option<&str>) -> Result<Caller, CoreError> {
    let identity = ctx
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CoreError::Sts(Box::new(e)))?;
    let actual = identity.account().unwrap_or_default().to_owned();
    match expected {
        Some(expected) if expected != actual => Err(CoreError::AccountMismatch {
            expected: expected.to_owned(),
            actual,
            arn: identity.arn().unwrap_or_default().to_owned(),
        }),
        _ => Ok(Caller {
            account: actual,
            arn: identity.arn().unwrap_or_default().to_owned(),
        }),
    }
}
