//! One error shape for every resource of every domain: a failed AWS call ([`AwsError`], with
//! the AWS error code and a one-line meaning captured when it happens), an answer missing
//! something AWS always returns, a refusal, an invalid spec, a wait that did not end well.
//! Domain errors wrap [`ResourceError`] and add what only they have; named service-error
//! predicates (`is_not_found`) stay with each service.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::BoxedSdkError;
use crate::wait::WaitError;

/// What kind of failure an AWS call met, in the words a user acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// AWS throttled the call and the SDK's retries did not get through.
    Throttled,
    /// The credentials may not make the call.
    AccessDenied,
    /// The credentials are missing, expired or invalid.
    Credentials,
    /// AWS rejected the request's parameters.
    Invalid,
    /// The thing named does not exist.
    NotFound,
    /// It conflicts with the resource's current state (in use, being modified, exists).
    Conflict,
    /// An account or service quota is reached.
    Limit,
    /// AWS failed (5xx) through every retry.
    ServerError,
    /// No answer in time.
    Timeout,
    /// The request never reached AWS (DNS, connection, TLS).
    Network,
    /// Anything else.
    Other,
}

impl Fault {
    /// From an AWS error code and HTTP status.
    #[must_use]
    pub fn classify(code: Option<&str>, status: Option<u16>) -> Self {
        let code = code.unwrap_or_default();
        let has = |needles: &[&str]| needles.iter().any(|n| code.contains(n));
        if has(&[
            "Throttl",
            "RequestLimitExceeded",
            "TooManyRequests",
            "SlowDown",
            "RequestThrottled",
            "PriorRequestNotComplete",
        ]) || status == Some(429)
        {
            Self::Throttled
        } else if has(&[
            "AccessDenied",
            "UnauthorizedOperation",
            "NotAuthorized",
            "Forbidden",
        ]) {
            Self::AccessDenied
        } else if has(&[
            "ExpiredToken",
            "InvalidClientTokenId",
            "UnrecognizedClient",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "InvalidSignature",
            "MissingAuthenticationToken",
        ]) {
            Self::Credentials
        } else if has(&["LimitExceeded", "QuotaExceeded", "Quota"]) {
            Self::Limit
        } else if has(&["NotFound", "NoSuch", "NonExistent"]) || status == Some(404) {
            Self::NotFound
        } else if has(&[
            "InUse",
            "Conflict",
            "AlreadyExists",
            "InvalidState",
            "Dependency",
        ]) || status == Some(409)
        {
            Self::Conflict
        } else if has(&[
            "Validation",
            "Invalid",
            "Malformed",
            "BadRequest",
            "Missing",
        ]) {
            Self::Invalid
        } else if status == Some(403) {
            Self::AccessDenied
        } else if status.is_some_and(|s| s >= 500) || has(&["InternalError", "ServiceUnavailable"])
        {
            Self::ServerError
        } else {
            Self::Other
        }
    }

    /// One line saying what it means and what to do.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Throttled => {
                "AWS throttled the request through every retry: run again later, or lower the concurrency"
            }
            Self::AccessDenied => "the credentials are not allowed to make this call",
            Self::Credentials => {
                "the credentials are missing, expired or invalid: sign in again (aws sso login, AWS_PROFILE)"
            }
            Self::Invalid => "AWS rejected the request's parameters",
            Self::NotFound => "AWS says it does not exist",
            Self::Conflict => "it conflicts with the resource's current state: run again once it settles",
            Self::Limit => "an AWS quota is reached: raise it in Service Quotas, or remove what is unused",
            Self::ServerError => "AWS failed through every retry: run again later",
            Self::Timeout => "no answer from AWS in time: check the network, then run again",
            Self::Network => "the request did not reach AWS: check the network, proxy and endpoint",
            Self::Other => "AWS refused the call",
        }
    }
}

/// A failed AWS call on one resource: `failed to create log group /shop/prod/api:
/// ThrottlingException: Rate exceeded (AWS throttled ...)`. The SDK error stays reachable
/// as the source (the plan-mode guard is found through it), but the message already says
/// everything a user needs, so renderers stop here (see [`render`](super::render)).
#[derive(Debug, thiserror::Error)]
pub struct AwsError {
    /// What was attempted (`create`, `read`, `tag`).
    pub action: &'static str,
    /// The resource kind (`log group`).
    pub kind: &'static str,
    /// The physical name, or the logical id before there is one.
    pub name: String,
    /// AWS's error code (`ThrottlingException`), when the answer had one.
    pub code: Option<String>,
    /// AWS's message, when the answer had one.
    pub message: Option<String>,
    /// The HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// What it means.
    pub fault: Fault,
    /// The SDK error.
    #[source]
    pub source: BoxedSdkError,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to {} {} {}", self.action, self.kind, self.name)?;
        if crate::guard::is_plan_mode_write(self.source.as_ref()) {
            return write!(f, ": {}", self.source);
        }
        match (&self.code, self.status) {
            (Some(code), _) => write!(f, ": {code}")?,
            (None, Some(status)) => write!(f, ": HTTP {status}")?,
            (None, None) => {}
        }
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            write!(f, ": {m}")?;
        }
        write!(f, " ({})", self.fault.meaning())
    }
}

impl AwsError {
    /// From an SDK error of any operation.
    pub fn new<E>(
        action: &'static str,
        kind: &'static str,
        name: impl Into<String>,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        let fault = match &err {
            SdkError::TimeoutError(_) => Fault::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => Fault::Timeout,
            SdkError::DispatchFailure(_) => Fault::Network,
            _ => Fault::classify(code.as_deref(), status),
        };
        Self {
            action,
            kind,
            name: name.into(),
            code,
            message,
            status,
            fault,
            source: Box::new(err),
        }
    }

    /// An error-mapping closure: `.map_err(AwsError::map("create", KIND, &name))`.
    pub fn map<'a, E>(
        action: &'static str,
        kind: &'static str,
        name: &'a str,
    ) -> impl FnOnce(SdkError<E, HttpResponse>) -> Self + 'a
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        move |e| Self::new(action, kind, name, e)
    }

    /// Whether this is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        crate::guard::is_plan_mode_write(self)
    }
}

/// What can go wrong while converging one resource, in every domain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// AWS's answer lacks something it always returns (an ARN, an id).
    #[error("{kind} {name}: AWS's response has no {what}")]
    Missing {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// What is missing.
        what: &'static str,
    },
    /// A change Ironbark refuses to make (replacing a stateful resource, adopting a
    /// resource that belongs to something else).
    #[error("refusing to change {kind} {name}: {reason}")]
    Refused {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// The field whose change is refused, when it is about one.
        field: Option<String>,
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
    /// The resource did not become usable.
    #[error("{kind} {name} did not become ready")]
    Wait {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// The wait's error.
        #[source]
        source: WaitError<Box<ResourceError>>,
    },
}

impl ResourceError {
    /// The refusal for a resource of our name whose tags say it is not ours.
    #[must_use]
    pub fn foreign(kind: &'static str, name: &str, logical_id: &str) -> Self {
        Self::Refused {
            kind,
            name: name.to_owned(),
            field: None,
            reason: format!(
                "it exists but its tags do not mark it as {logical_id} of this stack and environment; Ironbark never adopts it implicitly (rename it, or tag it ironbark:stack/ironbark:env/ironbark:id to adopt it)"
            ),
        }
    }

    /// The refusal of a planned change to `field`.
    #[must_use]
    pub fn refused(kind: &'static str, name: &str, field: &str, reason: &str) -> Self {
        Self::Refused {
            kind,
            name: name.to_owned(),
            field: Some(field.to_owned()),
            reason: format!("{field}: {reason}"),
        }
    }

    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        crate::guard::is_plan_mode_write(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_by_what_the_user_does_next() {
        let c = |code: &str| Fault::classify(Some(code), Some(400));
        assert_eq!(c("ThrottlingException"), Fault::Throttled);
        assert_eq!(c("RequestLimitExceeded"), Fault::Throttled);
        assert_eq!(c("Throttling"), Fault::Throttled);
        assert_eq!(c("SlowDown"), Fault::Throttled);
        assert_eq!(c("AccessDeniedException"), Fault::AccessDenied);
        assert_eq!(c("UnauthorizedOperation"), Fault::AccessDenied);
        assert_eq!(c("ExpiredToken"), Fault::Credentials);
        assert_eq!(c("LimitExceededException"), Fault::Limit);
        assert_eq!(c("ResourceNotFoundException"), Fault::NotFound);
        assert_eq!(c("InvalidVpcID.NotFound"), Fault::NotFound);
        assert_eq!(c("ResourceInUseException"), Fault::Conflict);
        assert_eq!(c("ValidationException"), Fault::Invalid);
        assert_eq!(Fault::classify(None, Some(403)), Fault::AccessDenied);
        assert_eq!(Fault::classify(None, Some(404)), Fault::NotFound);
        assert_eq!(Fault::classify(None, Some(503)), Fault::ServerError);
        assert_eq!(Fault::classify(None, None), Fault::Other);
    }

    #[test]
    fn the_message_names_resource_code_and_meaning_and_no_debug_dump() {
        let e = AwsError {
            action: "create",
            kind: "log group",
            name: "/shop/prod/api".into(),
            code: Some("ThrottlingException".into()),
            message: Some("Rate exceeded".into()),
            status: Some(400),
            fault: Fault::Throttled,
            source: "unhandled error (ThrottlingException)".into(),
        };
        assert_eq!(
            e.to_string(),
            "failed to create log group /shop/prod/api: ThrottlingException: Rate exceeded (AWS throttled the request through every retry: run again later, or lower the concurrency)"
        );
        let bare = AwsError {
            code: None,
            message: None,
            status: Some(403),
            fault: Fault::AccessDenied,
            ..e
        };
        assert_eq!(
            bare.to_string(),
            "failed to create log group /shop/prod/api: HTTP 403 (the credentials are not allowed to make this call)"
        );
    }
}
