//! Errors of ironbark-identity (core's [`ResourceError`] plus unreadable policy documents),
//! and the named predicates that recognise service errors.

use aws_sdk_iam::error::ProvideErrorMetadata;
use ironbark_core::reconcile::{AwsError, ResourceError};

use crate::document::ParseError;

/// Errors of the identity crate: core's [`ResourceError`] (every failed AWS call is an
/// [`AwsError`] naming the resource, AWS's code and what it means), and an unreadable policy
/// document, which only identity has. Messages name the resource; none ever holds a secret
/// value.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A failure every domain shares: a failed AWS call, a missing answer, a refusal, an
    /// invalid spec, a wait that did not end well.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// AWS returned a document that is not a policy document.
    #[error("{kind} {name} holds an unreadable policy document")]
    Document {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// Why it could not be parsed.
        #[source]
        source: ParseError,
    },
}

impl From<AwsError> for IdentityError {
    fn from(e: AwsError) -> Self {
        Self::Resource(e.into())
    }
}

impl IdentityError {
    /// A missing-field error.
    pub(crate) fn missing(kind: &'static str, name: &str, what: &'static str) -> Self {
        Self::Resource(ResourceError::Missing {
            kind,
            name: name.to_owned(),
            what,
        })
    }

    /// The refusal, when this is one: its reason.
    #[must_use]
    pub fn refusal(&self) -> Option<&str> {
        match self {
            Self::Resource(ResourceError::Refused { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        ironbark_core::guard::is_plan_mode_write(self)
    }
}

fn code_is(e: &impl ProvideErrorMetadata, code: &str) -> bool {
    e.code() == Some(code)
}

/// IAM: the role, policy, instance profile or provider does not exist.
pub fn is_no_such_entity(e: &impl ProvideErrorMetadata) -> bool {
    code_is(e, "NoSuchEntity")
}

/// IAM: the entity already exists (a concurrent or crashed run created it).
pub fn is_entity_already_exists(e: &impl ProvideErrorMetadata) -> bool {
    code_is(e, "EntityAlreadyExists")
}

/// IAM: a role or policy is not yet usable right after creation (propagation) — the errors
/// AWS gives while a new principal is not visible everywhere.
pub fn is_iam_propagation(e: &impl ProvideErrorMetadata) -> bool {
    is_no_such_entity(e)
        || (code_is(e, "MalformedPolicyDocument")
            && e.message().is_some_and(|m| m.contains("Invalid principal")))
}

/// KMS, Secrets Manager, Cognito: the resource does not exist.
pub fn is_not_found(e: &impl ProvideErrorMetadata) -> bool {
    matches!(
        e.code(),
        Some("NotFoundException" | "ResourceNotFoundException")
    )
}

/// Any service: the caller may not perform this call on this resource.
pub fn is_access_denied(e: &impl ProvideErrorMetadata) -> bool {
    matches!(e.code(), Some("AccessDeniedException" | "AccessDenied"))
}

/// Secrets Manager, Cognito: the resource already exists.
pub fn is_already_exists(e: &impl ProvideErrorMetadata) -> bool {
    matches!(
        e.code(),
        Some("ResourceExistsException" | "AlreadyExistsException")
    )
}

/// Secrets Manager: the secret is scheduled for deletion (`InvalidRequestException` saying so).
pub fn is_scheduled_for_deletion(e: &impl ProvideErrorMetadata) -> bool {
    code_is(e, "InvalidRequestException") && e.message().is_some_and(|m| m.contains("deletion"))
}

/// Cognito: the user pool has deletion protection on.
pub fn is_deletion_protected(e: &impl ProvideErrorMetadata) -> bool {
    code_is(e, "InvalidParameterException")
        && e.message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("deletion protection"))
}
