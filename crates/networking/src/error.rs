//! Errors of the networking crate.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use ironbark_core::wait::WaitError;

/// What went wrong converging or destroying a networking resource.
#[derive(Debug, thiserror::Error)]
pub enum NetworkingError {
    /// An AWS call failed.
    #[error("failed to {action} {resource}: {detail}")]
    Aws {
        /// What was being done (`create subnet`).
        action: &'static str,
        /// The logical id or physical id.
        resource: String,
        /// AWS's code and message.
        detail: String,
        /// The SDK error.
        #[source]
        source: ironbark_core::BoxedSdkError,
    },
    /// More than one resource carries the same `ironbark:id`: something outside Ironbark
    /// copied the tags, or an old bug duplicated a resource. Never guessed at.
    #[error("{resource}: {count} resources carry ironbark:id = {resource} ({ids}); remove or retag the extra ones")]
    Duplicate {
        /// Logical id.
        resource: String,
        /// How many.
        count: usize,
        /// Their ids.
        ids: String,
    },
    /// A wait did not end well.
    #[error(transparent)]
    Wait(#[from] WaitError<Box<NetworkingError>>),
    /// Something Ironbark cannot resolve by itself.
    #[error("{resource}: {message}")]
    Blocked {
        /// Logical or physical id.
        resource: String,
        /// What blocks and what to do.
        message: String,
    },
}

impl NetworkingError {
    /// A closure turning an SDK error into [`NetworkingError::Aws`].
    pub(crate) fn aws<E>(
        action: &'static str,
        resource: impl Into<String>,
    ) -> impl FnOnce(SdkError<E>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let resource = resource.into();
        move |e| Self::Aws {
            action,
            resource,
            detail: DisplayErrorContext(&e).to_string(),
            source: Box::new(e),
        }
    }
}

/// The AWS error code of an SDK error (EC2 models no error types; codes are strings).
pub(crate) fn code<E: ProvideErrorMetadata>(e: &SdkError<E>) -> Option<&str> {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// True when an id just created is not visible yet (EC2 is eventually consistent): the codes
/// end in `.NotFound` (`InvalidVpcID.NotFound`, `InvalidNatGatewayID.NotFound`, ...).
pub(crate) fn is_not_yet_visible<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    code(e).is_some_and(|c| c.ends_with(".NotFound"))
}

/// True for `DependencyViolation`: something still uses the resource.
pub(crate) fn is_dependency_violation<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    code(e) == Some("DependencyViolation")
}
