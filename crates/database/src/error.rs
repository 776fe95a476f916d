//! Errors of the database crate: core's [`ResourceError`] for everything a resource meets
//! (AWS failures as [`AwsError`], with the error code and what it means), plus what only
//! PostgreSQL has (connections, statements, catalog answers). Messages name the resource; none
//! ever holds a password, an auth token or a secret value (SQL that carries a credential is
//! never quoted).

use ironbark_core::reconcile::{render, AwsError, ResourceError};
use ironbark_core::wait::WaitError;
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
    /// What every resource of every domain can meet (an AWS call that failed, with its error
    /// code and meaning; an answer missing something; a refusal; an invalid spec; a wait that
    /// did not end well): core's [`ResourceError`].
    /// Boxed, so that every `Result` of the crate stays small.
    #[error(transparent)]
    Resource(Box<ResourceError>),
}

impl From<ResourceError> for DatabaseError {
    fn from(e: ResourceError) -> Self {
        Self::Resource(Box::new(e))
    }
}

impl From<AwsError> for DatabaseError {
    fn from(e: AwsError) -> Self {
        ResourceError::Aws(e).into()
    }
}

impl DatabaseError {
    /// A missing-field error.
    pub(crate) fn missing(kind: &'static str, name: &str, what: &'static str) -> Self {
        ResourceError::Missing {
            kind,
            name: name.to_owned(),
            what,
        }
        .into()
    }

    /// A refusal naming the resource and why (not about one field).
    pub(crate) fn refused(
        kind: &'static str,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ResourceError::Refused {
            kind,
            name: name.into(),
            field: None,
            reason: reason.into(),
        }
        .into()
    }

    /// An invalid spec, naming the resource and what is wrong.
    pub(crate) fn invalid(
        kind: &'static str,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ResourceError::InvalidSpec {
            kind,
            name: name.into(),
            reason: reason.into(),
        }
        .into()
    }

    /// An error-mapping closure for a wait that ended badly. A failed poll keeps its error as
    /// the wait's source; a poll only fails on an AWS call (a SQL error cannot happen there,
    /// and would be kept as its rendering).
    pub(crate) fn wait<'a>(
        kind: &'static str,
        name: &'a str,
    ) -> impl FnOnce(WaitError<DatabaseError>) -> Self + 'a {
        move |e| {
            let source = match e {
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
                WaitError::Poll { resource, source } => WaitError::Poll {
                    resource,
                    source: Box::new(match source {
                        Self::Resource(r) => *r,
                        other => ResourceError::InvalidSpec {
                            kind,
                            name: name.to_owned(),
                            reason: render(&other),
                        },
                    }),
                },
            };
            ResourceError::Wait {
                kind,
                name: name.to_owned(),
                source,
            }
            .into()
        }
    }

    /// The resource error of this failure (AWS, missing, refused, invalid spec, wait), when
    /// it is one.
    #[must_use]
    pub fn resource(&self) -> Option<&ResourceError> {
        match self {
            Self::Resource(e) => Some(e),
            _ => None,
        }
    }

    /// The AWS error of this failure, when it is one.
    #[must_use]
    pub fn aws(&self) -> Option<&AwsError> {
        match self.resource() {
            Some(ResourceError::Aws(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether this error, or any in its chain, is the plan-mode guard refusing a write.
    #[must_use]
    pub fn is_plan_mode_write(&self) -> bool {
        ironbark_core::guard::is_plan_mode_write(self)
    }
}
