//! The RDS Data API executor: SQL over HTTPS (`rds-data:ExecuteStatement`) with the cluster's
//! ARN and a Secrets Manager secret, so Aurora PostgreSQL schemas are reconciled with no
//! network path into the VPC.
//!
//! The [`Executor`] trait speaks PostgreSQL's `$1` placeholders with text parameters; the Data
//! API names its parameters (`:p1`). [`to_named_parameters`] rewrites one into the other,
//! leaving string literals, quoted identifiers, dollar-quoted bodies and comments alone, and
//! each parameter is sent as a `stringValue` (cast it in SQL: `$1::vector`). Rows come back as
//! typed `Field`s; like [`PgExecutor`](crate::PgExecutor), this executor reads text-typed
//! columns only (`NULL` is `None`), so one query works through both.
//!
//! Aurora Serverless v2 clusters that scale to zero answer `DatabaseResumingException` while
//! they wake up; that error, and only that one, is retried within a bounded deadline.
//!
//! [`Executor::execute`] sets `continueAfterTimeout`: a statement that outlives the Data API's
//! 45-second call limit (an index build on a large table) fails the call with
//! `StatementTimeoutException` but runs to completion, and the next run finds its result.
//!
//! Every `ExecuteStatement` is a write to the plan-mode guard (it cannot tell a `SELECT` from
//! a `DROP`), so this executor only works in apply mode.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use aws_sdk_rdsdata::error::SdkError;
use aws_sdk_rdsdata::operation::execute_statement::{
    ExecuteStatementError, ExecuteStatementOutput,
};
use aws_sdk_rdsdata::types::{Field, SqlParameter};
use ironbark_core::retry::{retry, RetryPolicy};
use ironbark_core::Context;

use crate::error::DatabaseError;
use crate::executor::{Executor, Row};

/// How long a statement waits for an auto-paused Aurora Serverless v2 cluster to resume.
/// AWS documents resumption in about 15 seconds; a minute leaves room for a slow one.
pub const RESUME_POLICY: RetryPolicy = RetryPolicy::new(
    "wait for the Aurora cluster to resume",
    Duration::from_secs(60),
);

/// Runs SQL through the RDS Data API on one Aurora cluster and database.
#[derive(Clone)]
pub struct DataApiExecutor {
    client: aws_sdk_rdsdata::Client,
    /// A client without the plan-mode guard (still recorded), for catalog queries in plan
    /// mode: the Data API has one operation for reads and writes, which the guard must treat
    /// as a write. Only statements [`is_read_only`] accepts go through it.
    reads: aws_sdk_rdsdata::Client,
    ctx: Context,
    cluster_arn: String,
    secret_arn: String,
    database: String,
    resume: RetryPolicy,
}

impl fmt::Debug for DataApiExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The ARNs name resources, not secret values: they may be shown.
        f.debug_struct("DataApiExecutor")
            .field("cluster_arn", &self.cluster_arn)
            .field("secret_arn", &self.secret_arn)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl DataApiExecutor {
    /// An executor for `database` on the Aurora cluster `cluster_arn` (its HTTP endpoint
    /// enabled), authenticating with the Secrets Manager secret `secret_arn` (Aurora's
    /// RDS-managed master user secret, or any secret with `username` and `password`). The
    /// client comes from `ctx` with its plan-mode guard and request recorder.
    ///
    /// # Example
    /// ```no_run
    /// # async fn example(ctx: &ironbark_core::Context) -> Result<(), ironbark_database::DatabaseError> {
    /// use ironbark_database::data_api::DataApiExecutor;
    /// use ironbark_database::ensure_pgvector;
    /// let exec = DataApiExecutor::new(
    ///     ctx,
    ///     "arn:aws:rds:us-east-1:123456789012:cluster:kb",
    ///     "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-abc",
    ///     "postgres",
    /// );
    /// let change = ensure_pgvector(&exec).await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn new(
        ctx: &Context,
        cluster_arn: impl Into<String>,
        secret_arn: impl Into<String>,
        database: impl Into<String>,
    ) -> Self {
        Self {
            client: ironbark_core::sdk_client!(ctx, aws_sdk_rdsdata),
            reads: aws_sdk_rdsdata::Client::from_conf(
                aws_sdk_rdsdata::config::Builder::from(ctx.sdk_config())
                    .interceptor(ctx.recorder().clone())
                    .build(),
            ),
            ctx: ctx.clone(),
            cluster_arn: cluster_arn.into(),
            secret_arn: secret_arn.into(),
            database: database.into(),
            resume: RESUME_POLICY,
        }
    }

    /// Replaces the budget for waiting on a resuming cluster ([`RESUME_POLICY`] by default).
    #[must_use]
    pub fn with_resume_policy(mut self, policy: RetryPolicy) -> Self {
        self.resume = policy;
        self
    }

    /// The cluster's ARN.
    #[must_use]
    pub fn cluster_arn(&self) -> &str {
        &self.cluster_arn
    }

    /// The database statements run in.
    #[must_use]
    pub fn database(&self) -> &str {
        &self.database
    }

    async fn run(
        &self,
        sql: &str,
        params: &[&str],
        ddl: bool,
    ) -> Result<ExecuteStatementOutput, DatabaseError> {
        let (named, used) = to_named_parameters(sql).map_err(|e| sql_error(sql, e))?;
        let mut parameters = Vec::with_capacity(used.len());
        for n in used {
            let Some(value) = n.checked_sub(1).and_then(|i| params.get(i)) else {
                return Err(sql_error(
                    sql,
                    PlaceholderError(format!(
                        "the statement uses ${n} but {} parameters were given",
                        params.len()
                    )),
                ));
            };
            parameters.push(
                SqlParameter::builder()
                    .name(format!("p{n}"))
                    .value(Field::StringValue((*value).to_owned()))
                    .build(),
            );
        }
        // In plan mode a catalog query may run (nothing else: DDL still meets the guard).
        let client = if !ddl && !self.ctx.is_apply() && is_read_only(sql) {
            &self.reads
        } else {
            &self.client
        };
        retry(&self.resume, is_resuming, || {
            client
                .execute_statement()
                .resource_arn(&self.cluster_arn)
                .secret_arn(&self.secret_arn)
                .database(&self.database)
                .sql(&named)
                .set_parameters(Some(parameters.clone()))
                // Queries need the column names; DDL keeps running past the call's 45-second
                // limit (AWS's advice: a large index build outlives it, and a timed-out
                // statement rolled back would be retried from scratch forever).
                .include_result_metadata(!ddl)
                .continue_after_timeout(ddl)
                .send()
        })
        .await
        .map_err(|e| sql_error(sql, e))
    }
}

/// Whether `sql` is one plain query (`SELECT` or `WITH ... SELECT`, no `;`, none of the
/// data-changing keywords a `WITH` may carry): what plan mode lets through the Data API.
#[must_use]
pub fn is_read_only(sql: &str) -> bool {
    // String literals ('INSERT' as a privilege name) are data, not keywords: blank them.
    let mut code = String::with_capacity(sql.len());
    let mut in_literal = false;
    for c in sql.chars() {
        if c == '\'' {
            in_literal = !in_literal;
            code.push(' ');
        } else if !in_literal {
            code.push(c);
        }
    }
    if in_literal || sql.contains("$$") {
        return false;
    }
    let upper = code.trim().to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let starts = matches!(words.first(), Some(&("SELECT" | "WITH")));
    let writes = [
        "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "GRANT", "REVOKE",
        "TRUNCATE", "COPY", "CALL", "DO", "SET", "NEXTVAL", "SETVAL", "LOCK", "INTO",
    ];
    starts && !upper.contains(';') && !words.iter().any(|w| writes.contains(w))
}

/// Whether the Data API refused a statement because the cluster is resuming from an automatic
/// pause (Aurora Serverless v2 at 0 ACUs): worth retrying after a few seconds.
#[must_use]
pub fn is_resuming(e: &SdkError<ExecuteStatementError>) -> bool {
    e.as_service_error()
        .is_some_and(ExecuteStatementError::is_database_resuming_exception)
}

/// A statement [`to_named_parameters`] cannot rewrite, or whose placeholders the parameters
/// do not cover: found before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderError(pub String);

impl fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlaceholderError {}

fn sql_error(sql: &str, e: impl std::error::Error + Send + Sync + 'static) -> DatabaseError {
    let head: String = sql.chars().take(80).collect();
    DatabaseError::Sql {
        what: format!("run `{head}` through the Data API"),
        source: Box::new(e),
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// The tag of a dollar quote starting at `rest` (`$$` or `$tag$`), including both dollars.
fn dollar_tag(rest: &str) -> Option<&str> {
    let body = rest.strip_prefix('$')?;
    let end = body.find('$')?;
    let tag = &body[..end];
    let valid = tag.chars().next().is_none_or(|c| !c.is_ascii_digit())
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii());
    valid.then(|| &rest[..end + 2])
}

/// Rewrites PostgreSQL's positional placeholders (`$1`, `$2`, ...) into the Data API's named
/// ones (`:p1`, `:p2`, ...) and returns the placeholder numbers used. Text inside string
/// literals (`'..'`, `E'..'`), quoted identifiers, dollar-quoted strings and comments is left
/// as it is, as is a `$` inside an identifier (`a$1`). Casts (`$1::vector`) keep working:
/// `:p1::vector`.
///
/// # Errors
/// When a literal, identifier, dollar quote or block comment is not closed, or a placeholder
/// is `$0`.
pub fn to_named_parameters(sql: &str) -> Result<(String, BTreeSet<usize>), PlaceholderError> {
    let unclosed = |what: &str| PlaceholderError(format!("unclosed {what} in the statement"));
    let mut out = String::with_capacity(sql.len() + 8);
    let mut used = BTreeSet::new();
    let mut i = 0;
    let mut prev: Option<char> = None;
    while let Some(c) = sql[i..].chars().next() {
        let rest = &sql[i..];
        let after_ident = prev.is_some_and(is_ident_char);
        // Copies `len` bytes unchanged.
        let take = |len: usize, out: &mut String| {
            out.push_str(&sql[i..i + len]);
            len
        };
        let len = if rest.starts_with("--") {
            take(rest.find('\n').map_or(rest.len(), |n| n + 1), &mut out)
        } else if rest.starts_with("/*") {
            let mut depth = 0usize;
            let mut j = 0;
            let mut closed = None;
            while j < rest.len() {
                if rest[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        closed = Some(j);
                        break;
                    }
                } else {
                    j += rest[j..].chars().next().map_or(1, char::len_utf8);
                }
            }
            take(closed.ok_or_else(|| unclosed("block comment"))?, &mut out)
        } else if c == '\'' || c == '"' {
            // `E'..'` strings take backslash escapes; standard strings and identifiers only
            // the doubled quote.
            let backslash = c == '\''
                && matches!(prev, Some('E' | 'e'))
                && !sql[..i - 1].chars().next_back().is_some_and(is_ident_char);
            let mut j = 1;
            let mut closed = None;
            while let Some(d) = rest[j..].chars().next() {
                if backslash && d == '\\' {
                    j += 1 + rest[j + 1..].chars().next().map_or(0, char::len_utf8);
                } else if d == c {
                    if rest[j + 1..].starts_with(c) {
                        j += 2;
                    } else {
                        closed = Some(j + 1);
                        break;
                    }
                } else {
                    j += d.len_utf8();
                }
            }
            let what = if c == '"' {
                "quoted identifier"
            } else {
                "string literal"
            };
            take(closed.ok_or_else(|| unclosed(what))?, &mut out)
        } else if c == '$' && !after_ident {
            let digits = rest[1..]
                .find(|d: char| !d.is_ascii_digit())
                .unwrap_or(rest.len() - 1);
            if digits > 0 {
                let n: usize = rest[1..=digits]
                    .parse()
                    .map_err(|_| PlaceholderError("placeholder number too large".into()))?;
                if n == 0 {
                    return Err(PlaceholderError("placeholder $0 in the statement".into()));
                }
                used.insert(n);
                out.push_str(&format!(":p{n}"));
                1 + digits
            } else if let Some(tag) = dollar_tag(rest) {
                let body = &rest[tag.len()..];
                let end = body
                    .find(tag)
                    .ok_or_else(|| unclosed("dollar-quoted string"))?;
                take(tag.len() * 2 + end, &mut out)
            } else {
                take(1, &mut out)
            }
        } else {
            take(c.len_utf8(), &mut out)
        };
        prev = sql[..i + len].chars().next_back();
        i += len;
    }
    Ok((out, used))
}

/// PostgreSQL's string types, as the Data API's `columnMetadata.typeName` names them: the
/// ones [`PgExecutor`](crate::PgExecutor) reads, so a query accepted by one is by the other.
fn is_text_type(name: &str) -> bool {
    ["text", "varchar", "name", "bpchar"]
        .iter()
        .any(|t| name.eq_ignore_ascii_case(t))
}

fn field_text(column: &str, ty: &str, field: &Field) -> Result<Option<String>, DatabaseError> {
    match field {
        Field::IsNull(true) => Ok(None),
        Field::StringValue(s) => Ok(Some(s.clone())),
        _ => Err(DatabaseError::NotText {
            column: column.to_owned(),
            ty: ty.to_owned(),
        }),
    }
}

/// Turns a Data API result into rows, refusing non-text columns like
/// [`PgExecutor`](crate::PgExecutor) does.
fn rows_of(output: &ExecuteStatementOutput) -> Result<Vec<Row>, DatabaseError> {
    let columns: Vec<(String, String)> = output
        .column_metadata()
        .iter()
        .map(|m| {
            let name = m.label().or(m.name()).unwrap_or_default().to_owned();
            let ty = m.type_name().unwrap_or("unknown").to_owned();
            (name, ty)
        })
        .collect();
    for (name, ty) in &columns {
        if !is_text_type(ty) {
            return Err(DatabaseError::NotText {
                column: name.clone(),
                ty: ty.clone(),
            });
        }
    }
    output
        .records()
        .iter()
        .map(|record| {
            if record.len() != columns.len() {
                return Err(DatabaseError::Catalog {
                    object: "Data API result".into(),
                    detail: format!(
                        "a record has {} fields for {} columns",
                        record.len(),
                        columns.len()
                    ),
                });
            }
            let mut values = BTreeMap::new();
            for ((name, ty), field) in columns.iter().zip(record) {
                values.insert(name.clone(), field_text(name, ty, field)?);
            }
            Ok(Row(values))
        })
        .collect()
}

impl Executor for DataApiExecutor {
    async fn query(&self, sql: &str, params: &[&str]) -> Result<Vec<Row>, DatabaseError> {
        let output = self.run(sql, params, false).await?;
        rows_of(&output)
    }

    async fn execute(&self, sql: &str) -> Result<u64, DatabaseError> {
        let output = self.run(sql, &[], true).await?;
        // DDL reports no count (0); a negative count would be the service's oddity, not ours.
        Ok(u64::try_from(output.number_of_records_updated()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(sql: &str) -> (String, Vec<usize>) {
        let (s, used) = to_named_parameters(sql).unwrap();
        (s, used.into_iter().collect())
    }

    #[test]
    fn only_plain_queries_are_read_only() {
        assert!(is_read_only(
            "SELECT extversion::text FROM pg_extension WHERE extname = $1"
        ));
        assert!(is_read_only("  with t as (select 1) select * from t"));
        assert!(is_read_only(
            "SELECT has_table_privilege($1::name, c.oid, 'INSERT')::text FROM pg_class c"
        ));
        assert!(!is_read_only("SELECT 'unterminated"));
        for sql in [
            "CREATE EXTENSION vector",
            "SELECT 1; DROP TABLE x",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "SELECT nextval('s')",
            "SELECT * INTO t2 FROM t",
        ] {
            assert!(!is_read_only(sql), "{sql}");
        }
    }

    #[test]
    fn placeholders_become_named_parameters() {
        assert_eq!(
            named("SELECT a FROM t WHERE x = $1 AND y = $2::vector ORDER BY e <=> $1"),
            (
                "SELECT a FROM t WHERE x = :p1 AND y = :p2::vector ORDER BY e <=> :p1".into(),
                vec![1, 2]
            )
        );
        assert_eq!(
            named("SELECT $10,$2"),
            ("SELECT :p10,:p2".into(), vec![2, 10])
        );
    }

    #[test]
    fn literals_identifiers_comments_and_dollar_quotes_are_left_alone() {
        let sql = r#"SELECT '$1', 'it''s $2', E'\'$3', "col$4", a$5, $$ $6 $$, $f$ $7 $f$, $8 -- $9
/* $10 /* nested $11 */ $12 */ FROM t"#;
        let (out, used) = named(sql);
        assert_eq!(used, vec![8]);
        assert_eq!(
            out,
            r#"SELECT '$1', 'it''s $2', E'\'$3', "col$4", a$5, $$ $6 $$, $f$ $7 $f$, :p8 -- $9
/* $10 /* nested $11 */ $12 */ FROM t"#
        );
    }

    #[test]
    fn a_standard_string_ending_in_a_backslash_closes() {
        // standard_conforming_strings: the backslash is an ordinary character.
        let (out, used) = named(r"SELECT 'C:\' , $1");
        assert_eq!(out, r"SELECT 'C:\' , :p1");
        assert_eq!(used, vec![1]);
        // `line'...'` is not an E string: the E must start the token.
        let (_, used) = named(r"SELECT line'\', $1");
        assert_eq!(used, vec![1]);
    }

    #[test]
    fn unicode_passes_through() {
        assert_eq!(named("SELECT 'é', ü, $1").0, "SELECT 'é', ü, :p1");
    }

    #[test]
    fn unclosed_and_zero_are_errors() {
        for sql in [
            "SELECT 'x",
            "SELECT \"x",
            "SELECT $$ x",
            "SELECT /* x",
            "SELECT $0",
        ] {
            assert!(to_named_parameters(sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn rows_read_text_and_null_and_refuse_other_types() {
        use aws_sdk_rdsdata::types::ColumnMetadata;
        let meta = |name: &str, ty: &str| {
            ColumnMetadata::builder()
                .name(name)
                .label(name)
                .type_name(ty)
                .build()
        };
        let output = ExecuteStatementOutput::builder()
            .column_metadata(meta("a", "text"))
            .column_metadata(meta("b", "varchar"))
            .records(vec![Field::StringValue("x".into()), Field::IsNull(true)])
            .build();
        let rows = rows_of(&output).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("a"), Some("x"));
        assert_eq!(rows[0].0.get("b"), Some(&None));

        let output = ExecuteStatementOutput::builder()
            .column_metadata(meta("n", "int8"))
            .records(vec![Field::LongValue(3)])
            .build();
        let Err(DatabaseError::NotText { column, ty }) = rows_of(&output) else {
            panic!()
        };
        assert_eq!((column.as_str(), ty.as_str()), ("n", "int8"));
    }
}
