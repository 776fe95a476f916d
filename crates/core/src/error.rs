//! Errors of ironbark-core.

/// A boxed error from an AWS SDK call.
pub type BoxedSdkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the core crate.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    /// The caller is in another account than the profile pins.
    #[error("refusing to run: credentials are for account {actual} ({arn}) but the profile pins account_id = {expected}")]
    AccountMismatch {
        /// The pinned account.
        expected: String,
        /// The caller's account.
        actual: String,
        /// The caller's ARN.
        arn: String,
    },
    /// `sts:GetCallerIdentity` failed.
    #[error("failed to read the caller identity (sts:GetCallerIdentity)")]
    Sts(#[source] BoxedSdkError),
}
