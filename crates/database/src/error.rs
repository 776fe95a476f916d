//! Errors of the database crate.

use thiserror::Error;

/// What can go wrong while reconciling databases and their schemas.
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
        source: Box<tokio_postgres::Error>,
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
}
