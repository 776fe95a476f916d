//! Errors of the observability crate. Every message names the resource kind and its name.

use ironbark_core::BoxedSdkError;
use thiserror::Error;

/// What can go wrong while reconciling log groups, topics, alarms, dashboards and queries.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ObservabilityError {
    /// An AWS call failed.
    #[error("failed to {action} {kind} {name}")]
    Aws {
        /// What was attempted (`create`, `read`, `update`).
        action: &'static str,
        /// The resource kind (`log group`, `metric alarm`).
        kind: &'static str,
        /// The physical name.
        name: String,
        /// The SDK error.
        #[source]
        source: BoxedSdkError,
    },
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
    /// A change Ironbark refuses to make (adopting a resource that belongs to something else).
    #[error("refusing to change {kind} {name}: {reason}")]
    Refused {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// Why, and what the user can do.
        reason: String,
    },
    /// The spec itself is invalid (an alarm rule naming an alarm the spec does not have).
    #[error("invalid spec for {kind} {name}: {reason}")]
    InvalidSpec {
        /// The resource kind.
        kind: &'static str,
        /// The logical id.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl ObservabilityError {
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

    /// The refusal for a resource of our name whose tags say it is not ours.
    pub(crate) fn foreign(kind: &'static str, name: &str, logical_id: &str) -> Self {
        Self::Refused {
            kind,
            name: name.to_owned(),
            reason: format!(
                "it exists but its tags do not mark it as {logical_id} of this stack and environment; Ironbark never adopts it implicitly (rename it, or tag it ironbark:stack/ironbark:env/ironbark:id to adopt it)"
            ),
        }
    }

    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        ironbark_core::guard::is_plan_mode_write(self)
    }
}
