//! Ironbark database: PostgreSQL schemas for pgvector, reconciled idempotently and never
//! destructively.
//!
//! What is built so far: the [`Executor`] trait with a direct tokio-postgres implementation
//! ([`PgExecutor`], no TLS yet), [`ensure_pgvector`], [`ensure_vector_schema`] and the
//! [`bedrock_knowledge_base`] preset. Still to come (issue 6): the RDS Data API executor, the
//! `bedrock_user` role with its Secrets Manager password, and the RDS/Aurora, ElastiCache and
//! DynamoDB resources.
//!
//! ```no_run
//! # async fn example() -> Result<(), ironbark_database::DatabaseError> {
//! use ironbark_database::{bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, PgExecutor};
//! let exec = PgExecutor::connect("postgres://postgres@127.0.0.1:5432/app").await?;
//! let ext = ensure_pgvector(&exec).await?;
//! let schema = ensure_vector_schema(&exec, &bedrock_knowledge_base(1024)).await?;
//! println!("{} {}", ext.change.symbol(), schema.changes.len());
//! # Ok(()) }
//! ```

pub mod cache;
pub mod cluster;
pub mod data_api;
pub mod dynamodb;
mod error;
pub mod executor;
pub mod instance;
pub mod parameter_group;
pub mod pgvector;
mod rds;
pub mod role;
pub mod stack;
pub mod subnet_group;

pub use data_api::DataApiExecutor;
pub use error::DatabaseError;
pub use executor::{Executor, PgExecutor, Row, TlsOptions};
pub use pgvector::{
    bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, plan_vector_schema, ColumnKind,
    ColumnSpec, FullTextIndexSpec, IndexMethod, VectorIndexSpec, VectorOps, VectorSchemaOutcome,
    VectorSchemaSpec,
};
pub use role::{
    bedrock_user_grants, ensure_login_role, read_secret_string, LoginRoleOutcome, SchemaGrant,
    BEDROCK_USER,
};
pub use stack::{destroy_database, ensure_database, DatabaseInputs, DatabaseOutcome};
