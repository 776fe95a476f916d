//! Errors of the networking crate: core's [`ResourceError`] plus duplicates and blockers, and
//! the named predicates on EC2's error codes.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::wait::WaitError;

/// What went wrong converging or destroying a networking resource: core's [`ResourceError`]
/// (every failed AWS call is an [`AwsError`] naming the resource, AWS's code and what it
/// means), and the two failures only networking has.
#[derive(Debug, thiserror::Error)]
pub enum NetworkingError {
    /// A failure every domain shares: a failed AWS call, a missing answer, a refusal, an
    /// invalid spec, a wait that did not end well.
    #[error(transparent)]
    Resource(#[from] ResourceError),
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
    /// Something Ironbark cannot resolve by itself.
    #[error("{resource}: {message}")]
    Blocked {
        /// Logical or physical id.
        resource: String,
        /// What blocks and what to do.
        message: String,
    },
}

impl From<AwsError> for NetworkingError {
    fn from(e: AwsError) -> Self {
        Self::Resource(e.into())
    }
}

impl NetworkingError {
    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        ironbark_core::guard::is_plan_mode_write(self)
    }
}

/// A wait's result as a networking error: a failed poll is the poll's own error; a timeout
/// or a terminal status is core's [`ResourceError::Wait`] naming `kind` `name`.
pub(crate) fn waited<T>(
    kind: &'static str,
    name: &str,
    result: Result<T, WaitError<Box<NetworkingError>>>,
) -> Result<T, NetworkingError> {
    result.map_err(|e| {
        let source = match e {
            WaitError::Poll { source, .. } => return *source,
            WaitError::TimedOut {
                resource,
                last_status,
                waited,
            } => WaitError::TimedOut {
                resource,
                last_status,
                waited,
            },
            WaitError::Failed { resource, status } => WaitError::Failed { resource, status },
        };
        ResourceError::Wait {
            kind,
            name: name.to_owned(),
            source,
        }
        .into()
    })
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
