//! Where SQL runs: the [`Executor`] trait and its direct PostgreSQL implementation.
//!
//! Rows come back as [`Row`]s of text values, the lowest common denominator of a direct
//! connection and the RDS Data API: queries cast every selected column to `text` (or select
//! text-typed columns), and parameters are passed as text and cast in SQL (`$1::vector`).
//!
//! Two executors are meant to sit behind the trait:
//! - [`PgExecutor`]: a direct tokio-postgres connection. TLS is **not done yet**: it connects
//!   with `NoTls`, which is what the test harness's local PostgreSQL needs; an RDS instance
//!   with `rds.force_ssl` needs a rustls connector here before it can be used.
//! - TODO (another session builds it): an RDS Data API executor (`aws-sdk-rdsdata`
//!   `ExecuteStatement` with the cluster ARN and the secret ARN), so Aurora schemas can be
//!   reconciled with no network path into the VPC. Nothing in this crate implements it yet.

use std::collections::BTreeMap;
use std::future::Future;

use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use crate::error::DatabaseError;

/// One result row: column name -> text value (`None` for SQL NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row(pub BTreeMap<String, Option<String>>);

impl Row {
    /// The text value of `column`; `None` when the column is absent or NULL.
    #[must_use]
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0.get(column).and_then(|v| v.as_deref())
    }
}

/// Runs SQL. Implementations: [`PgExecutor`]; the RDS Data API executor is still to be built.
pub trait Executor: Send + Sync {
    /// Runs a query with text parameters (`$1`, `$2`, ... typed `text`; cast them in SQL) and
    /// returns its rows. Every selected column must be text-typed (cast with `::text`).
    ///
    /// # Errors
    /// [`DatabaseError::Sql`] when the statement fails, [`DatabaseError::NotText`] when a
    /// column is not text.
    fn query(
        &self,
        sql: &str,
        params: &[&str],
    ) -> impl Future<Output = Result<Vec<Row>, DatabaseError>> + Send;

    /// Runs one statement with no parameters (DDL) and returns the number of rows affected.
    ///
    /// # Errors
    /// [`DatabaseError::Sql`] when the statement fails.
    fn execute(&self, sql: &str) -> impl Future<Output = Result<u64, DatabaseError>> + Send;
}

/// A direct connection to PostgreSQL through tokio-postgres (no TLS yet, see the module docs).
pub struct PgExecutor {
    client: Client,
}

impl std::fmt::Debug for PgExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: it is never kept or printed.
        f.debug_struct("PgExecutor").finish_non_exhaustive()
    }
}

impl PgExecutor {
    /// Connects to `url` (`postgres://user@host:port/db`) without TLS and drives the
    /// connection on a spawned task.
    ///
    /// # Errors
    /// [`DatabaseError::Connect`] when the server cannot be reached or refuses the login.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| DatabaseError::Connect(Box::new(e)))?;
        tokio::spawn(connection);
        Ok(Self { client })
    }

    /// Connects with a parsed configuration (to pick another database than the URL's, say),
    /// without TLS.
    ///
    /// # Errors
    /// [`DatabaseError::Connect`] when the server cannot be reached or refuses the login.
    pub async fn connect_config(config: &tokio_postgres::Config) -> Result<Self, DatabaseError> {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| DatabaseError::Connect(Box::new(e)))?;
        tokio::spawn(connection);
        Ok(Self { client })
    }
}

fn sql_error(sql: &str, e: tokio_postgres::Error) -> DatabaseError {
    let head: String = sql.chars().take(80).collect();
    DatabaseError::Sql {
        what: format!("run `{head}`"),
        source: Box::new(e),
    }
}

impl Executor for PgExecutor {
    async fn query(&self, sql: &str, params: &[&str]) -> Result<Vec<Row>, DatabaseError> {
        let types = vec![Type::TEXT; params.len()];
        let statement = self
            .client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| sql_error(sql, e))?;
        for column in statement.columns() {
            if !matches!(
                *column.type_(),
                Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR
            ) {
                return Err(DatabaseError::NotText {
                    column: column.name().to_owned(),
                    ty: column.type_().to_string(),
                });
            }
        }
        let args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = self
            .client
            .query(&statement, &args)
            .await
            .map_err(|e| sql_error(sql, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = BTreeMap::new();
            for (i, column) in row.columns().iter().enumerate() {
                let value: Option<String> = row.try_get(i).map_err(|e| sql_error(sql, e))?;
                values.insert(column.name().to_owned(), value);
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    async fn execute(&self, sql: &str) -> Result<u64, DatabaseError> {
        self.client
            .execute(sql, &[])
            .await
            .map_err(|e| sql_error(sql, e))
    }
}
