//! Errors of ironbark-identity, and the named predicates that recognise service errors.

use aws_sdk_iam::error::ProvideErrorMetadata;
use ironbark_core::BoxedSdkError;

use crate::document::ParseError;

/// Errors of the identity crate. Messages name the resource; none ever holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// An AWS call failed.
    #[error("failed to {action} {kind} {name}")]
    Aws {
        /// What was attempted (`create`, `read`, `update tags of`).
        action: &'static str,
        /// The resource kind (`role`, `KMS key`).
        kind: &'static str,
        /// The physical name or logical id.
        name: String,
        /// The SDK error.
        #[source]
        source: BoxedSdkError,
    },
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
    /// AWS's answer lacks something it always returns (an id, an ARN).
    #[error("{kind} {name}: AWS's response has no {what}")]
    Missing {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// What is missing.
        what: &'static str,
    },
    /// A change Ironbark refuses to make (replacing a stateful resource, adopting a resource
    /// that belongs to something else).
    #[error("refusing to change {kind} {name}: {reason}")]
    Refused {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// Why, and what the user can do.
        reason: String,
    },
    /// The spec itself is invalid.
    #[error("invalid spec for {kind} {name}: {reason}")]
    InvalidSpec {
        /// The resource kind.
        kind: &'static str,
        /// The logical id.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Waiting for a resource failed or timed out.
    #[error("failed waiting for {kind} {name}")]
    Wait {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// The wait error.
        #[source]
        source: BoxedSdkError,
    },
}

impl IdentityError {
    /// An error-mapping closure for a failed AWS call.
    pub(crate) fn aws<'a, E>(
        action: &'static str,
        kind: &'static str,
        name: &'a str,
    ) -> impl FnOnce(E) -> Self + 'a
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |e| Self::Aws {
            action,
            kind,
            name: name.to_owned(),
            source: Box::new(e),
        }
    }

    /// A missing-field error.
    pub(crate) fn missing(kind: &'static str, name: &str, what: &'static str) -> Self {
        Self::Missing {
            kind,
            name: name.to_owned(),
            what,
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
