//! Ironbark database: RDS for PostgreSQL instances, Aurora clusters (provisioned or
//! Serverless v2), ElastiCache Redis, DynamoDB tables, and the PostgreSQL schemas inside them
//! (pgvector, login roles), reconciled idempotently and never destructively.
//!
//! [`ensure_database`] converges a stack's whole database section: the PostgreSQL side (subnet
//! group, parameter groups, the instance or cluster), the cache and the tables, concurrently;
//! each resource kind also has its own module with its `ensure_*`. SQL runs through the [`Executor`] trait: [`PgExecutor`]
//! over tokio-postgres, plain or with rustls TLS ([`TlsOptions`]), or [`DataApiExecutor`] over
//! the RDS Data API. [`ensure_pgvector`], [`ensure_vector_schema`] and the
//! [`bedrock_knowledge_base`] preset build vector schemas; [`ensure_login_role`] creates roles
//! such as [`BEDROCK_USER`] with a client-side SCRAM verifier.
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
pub mod login_role;
pub mod parameter_group;
pub mod pgvector;
mod rds;
pub mod stack;
pub mod subnet_group;

pub use data_api::DataApiExecutor;
pub use error::DatabaseError;
pub use executor::{Executor, PgExecutor, Row, TlsOptions};
pub use login_role::{
    bedrock_user_grants, ensure_login_role, read_secret_string, LoginRoleOutcome, SchemaGrant,
    BEDROCK_USER,
};
pub use pgvector::{
    bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, plan_vector_schema, ColumnKind,
    ColumnSpec, FullTextIndexSpec, IndexMethod, VectorIndexSpec, VectorOps, VectorSchemaOutcome,
    VectorSchemaSpec,
};
pub use stack::{destroy_database, ensure_database, DatabaseInputs, DatabaseOutcome};
