//! Errors of the database crate. Messages name the resource; none ever holds a password, an
//! auth token or a secret value (SQL that carries a credential is never quoted).

use ironbark_core::BoxedSdkError;
use thiserror::Error;

/// What can go wrong while reconciling databases, caches, tables and schemas.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The connection to PostgreSQL could not be opened.
    #[error("failed to connect to postgresql")]
    Connect(#[source] Box<tokio_postgres::Error>),
    /// A statement failed; `what` names the statement's purpose and its object.
    #[error("failed to {what}")]
    Sql {
        /// What the statement was for (`create table bedrock_integration.bedrock_kb`).
        what: String,
        /// The driver's error.
        #[source]
        source: BoxedSdkError,
    },
    /// A query returned a column the executor cannot read as text.
    #[error("column {column} of a query result has type {ty}; cast it to text in the query")]
    NotText {
        /// The column's name.
        column: String,
        /// Its PostgreSQL type.
        ty: String,
    },
    /// The catalog said something the reconciler does not understand.
    #[error("unexpected catalog answer for {object}: {detail}")]
    Catalog {
        /// The object observed.
        object: String,
        /// What was unexpected.
        detail: String,
    },
    /// An AWS call failed.
    #[error("failed to {action} {kind} {name}")]
    Aws {
        /// What was attempted (`create`, `read`, `modify`).
        action: &'static str,
        /// The resource kind (`DB instance`, `replication group`).
        kind: &'static str,
        /// The physical name or logical id.
        name: String,
        /// The SDK error.
        #[source]
        source: BoxedSdkError,
    },
    /// AWS's answer lacks something it always returns (an id, an ARN, an endpoint).
    #[error("{kind} {name}: AWS's response has no {what}")]
    Missing {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// What is missing.
        what: &'static str,
    },
    /// A change Ironbark refuses to make (replacing a stateful resource, deleting a protected
    /// one, adopting a resource that belongs to something else).
    #[error("refusing to change {kind} {name}: {reason}")]
    Refused {
        /// The resource kind.
        kind: &'static str,
        /// The physical name.
        name: String,
        /// Why, naming the field, and what the user can do.
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

impl DatabaseError {
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

    /// A refusal naming the resource and why.
    pub(crate) fn refused(kind: &'static str, name: &str, reason: impl Into<String>) -> Self {
        Self::Refused {
            kind,
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        ironbark_core::guard::is_plan_mode_write(self)
    }
}
