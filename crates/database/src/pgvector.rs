//! pgvector: the `vector` extension and vector schemas (schema, table with a `vector(N)`
//! column, an HNSW or IVFFLAT index, a GIN full-text index), reconciled without ever dropping.
//!
//! DDL is built with sea-query where it can express it: `CREATE EXTENSION`, `CREATE TABLE`,
//! `ALTER TABLE .. ADD COLUMN`, `CREATE INDEX .. USING .. (col opclass)`. Three pieces are
//! written by hand, each noted where it happens: `CREATE SCHEMA` (sea-query 1.0 has no schema
//! statement), the `vector(N)` type (a custom column type, so the `postgres-vector` feature and
//! its `pgvector` crate are not pulled in just for a type name), and the index storage
//! parameters `WITH (m = .., ef_construction = ..)` / `WITH (lists = ..)` (sea-query's index
//! statement has no storage parameters).
//!
//! A mismatch with what exists (a column of the wrong type or dimension, an index with another
//! method, operator class or parameters) is a [`Change::Refused`] naming the field: rebuilding
//! would drop data or an index the user may rely on, so the user decides.
//!
//! Everything here runs through either executor, a direct connection or the RDS Data API:
//! catalog reads select text columns only and take text parameters, and no decision depends
//! on a statement's row count (the Data API reports none for DDL).

use std::collections::BTreeMap;
use std::fmt;

use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use sea_query::extension::postgres::Extension;
use sea_query::{
    Alias, ColumnDef, Expr, Index, IndexColumn, IndexType, PostgresQueryBuilder, Table,
};
use serde::Serialize;

use crate::error::DatabaseError;
use crate::executor::Executor;

/// The extension's name in `pg_extension`.
pub const EXTENSION: &str = "vector";

/// The pgvector extension as found: its version when installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedExtension {
    /// `extversion` (`0.8.0`).
    pub version: String,
}

/// Decides whether to create the extension. Pure.
#[must_use]
pub fn decide_extension(observed: Option<&ObservedExtension>) -> Change {
    match observed {
        Some(_) => Change::NoOp,
        None => Change::Create {
            fields: vec![FieldDiff::set("extension", EXTENSION)],
        },
    }
}

/// The `CREATE EXTENSION IF NOT EXISTS vector` statement.
#[must_use]
pub fn create_extension_sql() -> String {
    Extension::create()
        .name(EXTENSION)
        .if_not_exists()
        .to_string(PostgresQueryBuilder)
}

/// Reads the installed pgvector version, if any.
///
/// # Errors
/// When the catalog query fails.
pub async fn observe_extension<E: Executor>(
    exec: &E,
) -> Result<Option<ObservedExtension>, DatabaseError> {
    let rows = exec
        .query(
            "SELECT extversion::text AS version FROM pg_catalog.pg_extension WHERE extname = $1",
            &[EXTENSION],
        )
        .await?;
    Ok(rows.first().map(|r| ObservedExtension {
        version: r.get("version").unwrap_or_default().to_owned(),
    }))
}

/// Makes sure the `vector` extension is installed in the connected database.
///
/// # Idempotency
/// The extension is identified by its name in `pg_extension`, read first: when it is there
/// nothing is issued. The create is `IF NOT EXISTS`, so a concurrent or crashed earlier run
/// cannot make it fail. Needs a role allowed to create it (`rds_superuser` on RDS).
///
/// # Errors
/// When the catalog read or the `CREATE EXTENSION` fails.
///
/// # Example
/// ```no_run
/// # async fn example() -> Result<(), ironbark_database::DatabaseError> {
/// use ironbark_database::{ensure_pgvector, PgExecutor};
/// let exec = PgExecutor::connect("postgres://postgres@127.0.0.1:5432/app").await?;
/// let change = ensure_pgvector(&exec).await?;
/// println!("{}", change.change.symbol());
/// # Ok(()) }
/// ```
pub async fn ensure_pgvector<E: Executor>(exec: &E) -> Result<ResourceChange, DatabaseError> {
    let observed = observe_extension(exec).await?;
    let change = decide_extension(observed.as_ref());
    if change.is_change() {
        exec.execute(&create_extension_sql()).await?;
    }
    Ok(ResourceChange {
        id: "database/extension/vector".into(),
        kind: "postgres_extension".into(),
        physical_id: Some(EXTENSION.into()),
        change,
    })
}

/// The type of a column of a vector table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// `vector(N)`.
    Vector(u32),
    /// `text`.
    Text,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// `uuid`.
    Uuid,
}

impl fmt::Display for ColumnKind {
    /// The type as `format_type()` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vector(n) => write!(f, "vector({n})"),
            Self::Text => f.write_str("text"),
            Self::Json => f.write_str("json"),
            Self::Jsonb => f.write_str("jsonb"),
            Self::Uuid => f.write_str("uuid"),
        }
    }
}

/// One column besides the `uuid` primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSpec {
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: ColumnKind,
}

/// pgvector's operator classes: the distance an index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorOps {
    /// `vector_cosine_ops` (`<=>`).
    Cosine,
    /// `vector_l2_ops` (`<->`).
    L2,
    /// `vector_ip_ops` (`<#>`).
    InnerProduct,
}

impl VectorOps {
    /// The operator class's name.
    #[must_use]
    pub fn opclass(self) -> &'static str {
        match self {
            Self::Cosine => "vector_cosine_ops",
            Self::L2 => "vector_l2_ops",
            Self::InnerProduct => "vector_ip_ops",
        }
    }
}

/// The approximate-nearest-neighbour index method and its build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum IndexMethod {
    /// `USING hnsw .. WITH (m, ef_construction)`.
    Hnsw {
        /// Max connections per layer (pgvector default 16).
        m: u32,
        /// Candidate list size while building (pgvector default 64).
        ef_construction: u32,
    },
    /// `USING ivfflat .. WITH (lists)`.
    IvfFlat {
        /// Number of inverted lists (pgvector default 100).
        lists: u32,
    },
}

impl IndexMethod {
    /// The access method's name as `pg_indexes.indexdef` prints it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hnsw { .. } => "hnsw",
            Self::IvfFlat { .. } => "ivfflat",
        }
    }

    fn params(&self) -> Vec<(&'static str, u32)> {
        match *self {
            Self::Hnsw { m, ef_construction } => {
                vec![("m", m), ("ef_construction", ef_construction)]
            }
            Self::IvfFlat { lists } => vec![("lists", lists)],
        }
    }
}

/// The vector index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VectorIndexSpec {
    /// The index's name (unique in the schema).
    pub name: String,
    /// The indexed `vector` column.
    pub column: String,
    /// HNSW or IVFFLAT with parameters.
    pub method: IndexMethod,
    /// The distance.
    pub ops: VectorOps,
}

/// A GIN index on `to_tsvector(config, column)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FullTextIndexSpec {
    /// The index's name (unique in the schema).
    pub name: String,
    /// The text column.
    pub column: String,
    /// The text search configuration (`simple`, `english`).
    pub config: String,
}

/// The desired vector schema: a schema, one table, its indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VectorSchemaSpec {
    /// Logical id prefix (`database/vector/bedrock_kb`).
    pub logical_id: String,
    /// The PostgreSQL schema (created if missing).
    pub schema: String,
    /// The table.
    pub table: String,
    /// The `uuid` primary key column.
    pub id_column: String,
    /// The other columns, in creation order.
    pub columns: Vec<ColumnSpec>,
    /// The vector index, if any.
    pub vector_index: Option<VectorIndexSpec>,
    /// The full-text index, if any.
    pub full_text_index: Option<FullTextIndexSpec>,
}

/// The schema Bedrock knowledge bases require on Aurora PostgreSQL: `bedrock_integration.bedrock_kb`
/// with `id uuid` primary key, `embedding vector(dimension)`, `chunks text`, `metadata json`,
/// `custom_metadata jsonb`, an HNSW cosine index on `embedding` and a GIN index on
/// `to_tsvector('simple', chunks)`. Titan Text Embeddings v2 uses 1024 dimensions.
///
/// The `bedrock_user` role Bedrock connects as (password in Secrets Manager) is reconciled
/// separately: [`ensure_login_role`](crate::login_role::ensure_login_role) with
/// [`bedrock_user_grants`](crate::login_role::bedrock_user_grants), after this schema exists.
#[must_use]
pub fn bedrock_knowledge_base(dimension: u32) -> VectorSchemaSpec {
    let col = |name: &str, kind| ColumnSpec {
        name: name.into(),
        kind,
    };
    VectorSchemaSpec {
        logical_id: "database/vector/bedrock_kb".into(),
        schema: "bedrock_integration".into(),
        table: "bedrock_kb".into(),
        id_column: "id".into(),
        columns: vec![
            col("embedding", ColumnKind::Vector(dimension)),
            col("chunks", ColumnKind::Text),
            col("metadata", ColumnKind::Json),
            col("custom_metadata", ColumnKind::Jsonb),
        ],
        vector_index: Some(VectorIndexSpec {
            name: "bedrock_kb_embedding_idx".into(),
            column: "embedding".into(),
            method: IndexMethod::Hnsw {
                m: 16,
                ef_construction: 64,
            },
            ops: VectorOps::Cosine,
        }),
        full_text_index: Some(FullTextIndexSpec {
            name: "bedrock_kb_chunks_idx".into(),
            column: "chunks".into(),
            config: "simple".into(),
        }),
    }
}

/// An index as found in `pg_indexes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedIndex {
    /// `indexname`.
    pub name: String,
    /// `indexdef` (`CREATE INDEX .. USING hnsw (embedding vector_cosine_ops) WITH (m='16', ..)`).
    pub def: String,
}

impl ObservedIndex {
    /// The access method (`hnsw`, `gin`, `btree`).
    #[must_use]
    pub fn method(&self) -> Option<&str> {
        let rest = &self.def[self.def.find(" USING ")? + " USING ".len()..];
        rest.split_whitespace().next()
    }

    /// The parenthesised key list after the method (`embedding vector_cosine_ops`).
    #[must_use]
    pub fn keys(&self) -> Option<&str> {
        let rest = &self.def[self.def.find(" USING ")?..];
        let open = rest.find('(')?;
        let mut depth = 0usize;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&rest[open + 1..open + i]);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The storage parameters (`WITH (m='16', ef_construction='64')`).
    #[must_use]
    pub fn params(&self) -> BTreeMap<String, String> {
        let Some(start) = self.def.find(" WITH (") else {
            return BTreeMap::new();
        };
        let rest = &self.def[start + " WITH (".len()..];
        let body = &rest[..rest.find(')').unwrap_or(rest.len())];
        body.split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().trim_matches('\'').to_owned()))
            })
            .collect()
    }
}

/// The table and everything around it as found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedVectorSchema {
    /// Whether the schema exists.
    pub schema_exists: bool,
    /// The table's columns (name -> `format_type`), `None` when the table does not exist.
    pub columns: Option<BTreeMap<String, String>>,
    /// The table's indexes.
    pub indexes: Vec<ObservedIndex>,
    /// The columns of the table's primary key, in key order (empty when it has none).
    pub primary_key: Vec<String>,
}

/// What to do to each object of a vector schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorSchemaDecision {
    /// The schema.
    pub schema: Change,
    /// The table: create, add missing columns (update), or refused.
    pub table: Change,
    /// Columns to add to an existing table.
    pub add_columns: Vec<ColumnSpec>,
    /// The vector index.
    pub vector_index: Option<Change>,
    /// The full-text index.
    pub full_text_index: Option<Change>,
}

fn decide_table(
    spec: &VectorSchemaSpec,
    columns: Option<&BTreeMap<String, String>>,
    primary_key: &[String],
) -> (Change, Vec<ColumnSpec>) {
    let Some(observed) = columns else {
        let mut fields = vec![FieldDiff::set(
            format!("columns.{}", spec.id_column),
            "uuid primary key",
        )];
        fields.extend(
            spec.columns
                .iter()
                .map(|c| FieldDiff::set(format!("columns.{}", c.name), c.kind)),
        );
        return (Change::Create { fields }, Vec::new());
    };
    let wanted = std::iter::once((spec.id_column.as_str(), ColumnKind::Uuid))
        .chain(spec.columns.iter().map(|c| (c.name.as_str(), c.kind)));
    let mut add = Vec::new();
    let mut fields = Vec::new();
    for (name, kind) in wanted {
        match observed.get(name) {
            None if name == spec.id_column => {
                return (
                    Change::refused(
                        format!("columns.{name}"),
                        "the existing table has no such primary key column; adding a primary key \
                         to a table with rows is left to the user",
                    ),
                    Vec::new(),
                );
            }
            None => {
                fields.push(FieldDiff::set(format!("columns.{name}"), kind));
                add.push(ColumnSpec {
                    name: name.to_owned(),
                    kind,
                });
            }
            Some(ty) if *ty == kind.to_string() => {}
            Some(ty) => {
                let field = match kind {
                    ColumnKind::Vector(_) if ty.starts_with("vector") => {
                        format!("columns.{name}.dimension ({ty} -> {kind})")
                    }
                    _ => format!("columns.{name}.type ({ty} -> {kind})"),
                };
                return (
                    Change::refused(
                        field,
                        "changing a column's type or dimension would rewrite or drop the stored \
                         rows; migrate the data yourself or keep the existing type",
                    ),
                    Vec::new(),
                );
            }
        }
    }
    if observed.contains_key(&spec.id_column) && primary_key != [spec.id_column.as_str()] {
        let found = if primary_key.is_empty() {
            "none".to_owned()
        } else {
            primary_key.join(", ")
        };
        return (
            Change::refused(
                format!("primary_key ({found} -> {})", spec.id_column),
                "changing a table's primary key fails on duplicate or null ids and locks the \
                 table; do it yourself or keep the existing key",
            ),
            Vec::new(),
        );
    }
    (Change::update_if_any(fields), add)
}

fn indexes_column(index: &ObservedIndex, column: &str) -> bool {
    index.keys().is_some_and(|k| {
        k.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| w == column)
    })
}

/// The index named in the spec is compared (a mismatch is refused); failing that, an
/// equivalent index on the column under another name (made by hand or by another tool) counts;
/// failing that, the index is to be created.
fn decide_index(
    indexes: &[ObservedIndex],
    name: &str,
    column: &str,
    compare: impl Fn(&ObservedIndex) -> Change,
    create: impl FnOnce() -> Change,
) -> Change {
    if let Some(found) = indexes.iter().find(|i| i.name == name) {
        return compare(found);
    }
    if indexes
        .iter()
        .any(|i| indexes_column(i, column) && compare(i) == Change::NoOp)
    {
        return Change::NoOp;
    }
    create()
}

/// pgvector's HNSW and IVFFLAT indexes take `vector` columns of at most this many dimensions.
pub const MAX_INDEXED_DIMENSIONS: u32 = 2000;

fn compare_vector_index(spec: &VectorIndexSpec, found: &ObservedIndex) -> Change {
    const REASON: &str = "an index's method, operator class or build parameters cannot change in \
                          place; drop the index yourself (queries slow down until it is rebuilt) \
                          or keep it as it is";
    let method = spec.method.name();
    let found_method = found.method().unwrap_or("?");
    if found_method != method {
        return Change::refused(
            format!("vector_index.method ({found_method} -> {method})"),
            REASON,
        );
    }
    let keys = found.keys().unwrap_or_default();
    // pg_get_indexdef leaves out an operator class that is the type's default for the method,
    // and vector_l2_ops is pgvector's default for both hnsw and ivfflat.
    let found_ops = keys
        .split_whitespace()
        .find(|w| w.starts_with("vector_") && w.ends_with("_ops"))
        .unwrap_or(VectorOps::L2.opclass());
    if found_ops != spec.ops.opclass() {
        return Change::refused(
            format!(
                "vector_index.opclass ({found_ops} -> {})",
                spec.ops.opclass()
            ),
            REASON,
        );
    }
    let params = found.params();
    for (k, v) in spec.method.params() {
        // pgvector's defaults apply when the parameter was not given.
        let default = match k {
            "m" => "16",
            "ef_construction" => "64",
            _ => "100",
        };
        let have = params.get(k).map_or(default, String::as_str);
        if have != v.to_string() {
            return Change::refused(format!("vector_index.{k} ({have} -> {v})"), REASON);
        }
    }
    Change::NoOp
}

fn decide_vector_index(
    spec: &VectorIndexSpec,
    dimension: Option<u32>,
    indexes: &[ObservedIndex],
) -> Change {
    decide_index(
        indexes,
        &spec.name,
        &spec.column,
        |found| compare_vector_index(spec, found),
        || {
            if let Some(n) = dimension.filter(|n| *n > MAX_INDEXED_DIMENSIONS) {
                return Change::refused(
                    format!("vector_index.column ({} is vector({n}))", spec.column),
                    "pgvector cannot index vector columns of more than 2000 dimensions; use \
                     fewer dimensions or no index",
                );
            }
            let mut fields = vec![
                FieldDiff::set("method", spec.method.name()),
                FieldDiff::set("column", &spec.column),
                FieldDiff::set("opclass", spec.ops.opclass()),
            ];
            fields.extend(
                spec.method
                    .params()
                    .into_iter()
                    .map(|(k, v)| FieldDiff::set(k, v)),
            );
            Change::Create { fields }
        },
    )
}

fn compare_full_text_index(spec: &FullTextIndexSpec, found: &ObservedIndex) -> Change {
    let method = found.method().unwrap_or("?");
    if method != "gin" {
        return Change::refused(
            format!("full_text_index.method ({method} -> gin)"),
            "an index's method cannot change in place; drop the index yourself or keep it",
        );
    }
    let keys = found.keys().unwrap_or_default();
    // indexdef prints `to_tsvector('simple'::regconfig, chunks)`.
    let config = keys
        .strip_prefix("to_tsvector('")
        .and_then(|rest| rest.split_once('\''))
        .map(|(config, _)| config);
    match config {
        Some(c) if c == spec.config => Change::NoOp,
        other => Change::refused(
            format!(
                "full_text_index.expression ({keys} -> to_tsvector('{}', {}))",
                spec.config, spec.column
            ),
            if other.is_some() {
                "the index uses another text search configuration; drop it yourself or keep it"
            } else {
                "the index is not on to_tsvector(config, column); drop it yourself or keep it"
            },
        ),
    }
}

fn decide_full_text_index(spec: &FullTextIndexSpec, indexes: &[ObservedIndex]) -> Change {
    decide_index(
        indexes,
        &spec.name,
        &spec.column,
        |found| compare_full_text_index(spec, found),
        || Change::Create {
            fields: vec![
                FieldDiff::set("method", "gin"),
                FieldDiff::set(
                    "expression",
                    format!("to_tsvector('{}', {})", spec.config, spec.column),
                ),
            ],
        },
    )
}

/// Decides what to do to each object of a vector schema. Pure.
#[must_use]
pub fn decide(spec: &VectorSchemaSpec, observed: &ObservedVectorSchema) -> VectorSchemaDecision {
    let schema = if observed.schema_exists {
        Change::NoOp
    } else {
        Change::Create {
            fields: vec![FieldDiff::set("schema", &spec.schema)],
        }
    };
    let (table, add_columns) = decide_table(spec, observed.columns.as_ref(), &observed.primary_key);
    let table_refused = matches!(table, Change::Refused { .. });
    let gate = |c: Change| {
        if table_refused && c.is_change() {
            Change::refused(
                "table",
                "the table's own change is refused; resolve that first",
            )
        } else {
            c
        }
    };
    VectorSchemaDecision {
        schema,
        vector_index: spec.vector_index.as_ref().map(|i| {
            let dimension = spec.columns.iter().find_map(|c| match c.kind {
                ColumnKind::Vector(n) if c.name == i.column => Some(n),
                _ => None,
            });
            gate(decide_vector_index(i, dimension, &observed.indexes))
        }),
        full_text_index: spec
            .full_text_index
            .as_ref()
            .map(|i| gate(decide_full_text_index(i, &observed.indexes))),
        table,
        add_columns,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn column_def(c: &ColumnSpec) -> ColumnDef {
    let mut def = ColumnDef::new(Alias::new(&c.name));
    match c.kind {
        // sea-query's own `vector` type sits behind the `postgres-vector` feature, which pulls
        // in the pgvector crate for values we never bind; a custom type writes the same DDL.
        ColumnKind::Vector(n) => def.custom(format!("vector({n})")),
        ColumnKind::Text => def.text(),
        ColumnKind::Json => def.json(),
        ColumnKind::Jsonb => def.json_binary(),
        ColumnKind::Uuid => def.uuid(),
    };
    def
}

/// `CREATE SCHEMA IF NOT EXISTS`, by hand: sea-query 1.0 has no schema statement.
#[must_use]
pub fn create_schema_sql(spec: &VectorSchemaSpec) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&spec.schema))
}

/// `CREATE TABLE IF NOT EXISTS schema.table (id uuid PRIMARY KEY, ...)`.
#[must_use]
pub fn create_table_sql(spec: &VectorSchemaSpec) -> String {
    let mut table = Table::create();
    table
        .table((Alias::new(&spec.schema), Alias::new(&spec.table)))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new(&spec.id_column))
                .uuid()
                .not_null()
                .primary_key(),
        );
    for c in &spec.columns {
        table.col(column_def(c));
    }
    table.to_string(PostgresQueryBuilder)
}

/// `ALTER TABLE .. ADD COLUMN IF NOT EXISTS ..` for one missing column.
#[must_use]
pub fn add_column_sql(spec: &VectorSchemaSpec, column: &ColumnSpec) -> String {
    Table::alter()
        .table((Alias::new(&spec.schema), Alias::new(&spec.table)))
        .add_column_if_not_exists(column_def(column))
        .to_string(PostgresQueryBuilder)
}

/// `CREATE INDEX IF NOT EXISTS .. USING hnsw|ivfflat (col opclass) WITH (..)`. The method is a
/// custom index type and the storage parameters are appended by hand: sea-query has neither.
#[must_use]
pub fn create_vector_index_sql(spec: &VectorSchemaSpec, index: &VectorIndexSpec) -> String {
    let sql = Index::create()
        .if_not_exists()
        .name(&index.name)
        .table((Alias::new(&spec.schema), Alias::new(&spec.table)))
        .index_type(IndexType::Custom(index.method.name().to_owned().into()))
        .col(
            IndexColumn::from(Alias::new(&index.column))
                .with_operator_class(index.ops.opclass().to_owned()),
        )
        .to_string(PostgresQueryBuilder);
    let params: Vec<String> = index
        .method
        .params()
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    format!("{sql} WITH ({})", params.join(", "))
}

/// `CREATE INDEX IF NOT EXISTS .. USING GIN ((to_tsvector('config', col)))`; the expression is
/// custom SQL with the configuration quoted as a literal and the column as an identifier.
#[must_use]
pub fn create_full_text_index_sql(spec: &VectorSchemaSpec, index: &FullTextIndexSpec) -> String {
    let expr = Expr::cust(format!(
        "to_tsvector({}, {})",
        quote_literal(&index.config),
        quote_ident(&index.column)
    ));
    Index::create()
        .if_not_exists()
        .name(&index.name)
        .table((Alias::new(&spec.schema), Alias::new(&spec.table)))
        .full_text()
        .col(expr)
        .to_string(PostgresQueryBuilder)
}

/// Reads the schema, the table's columns and its indexes from the catalog.
///
/// # Errors
/// When a catalog query fails.
pub async fn observe<E: Executor>(
    exec: &E,
    spec: &VectorSchemaSpec,
) -> Result<ObservedVectorSchema, DatabaseError> {
    let schema_exists = !exec
        .query(
            "SELECT nspname::text AS name FROM pg_catalog.pg_namespace WHERE nspname = $1",
            &[&spec.schema],
        )
        .await?
        .is_empty();
    if !schema_exists {
        return Ok(ObservedVectorSchema::default());
    }
    let table = exec
        .query(
            "SELECT c.relkind::text AS kind FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&spec.schema, &spec.table],
        )
        .await?;
    let Some(kind) = table.first() else {
        return Ok(ObservedVectorSchema {
            schema_exists,
            ..ObservedVectorSchema::default()
        });
    };
    if !matches!(kind.get("kind"), Some("r" | "p")) {
        return Err(DatabaseError::Catalog {
            object: format!("{}.{}", spec.schema, spec.table),
            detail: format!("exists but is not a table (relkind {:?})", kind.get("kind")),
        });
    }
    let columns = exec
        .query(
            "SELECT a.attname::text AS name, \
                    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&spec.schema, &spec.table],
        )
        .await?
        .into_iter()
        .map(|r| {
            (
                r.get("name").unwrap_or_default().to_owned(),
                r.get("type").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let primary_key = exec
        .query(
            "SELECT a.attname::text AS name FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
             WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary ORDER BY k.ord",
            &[&spec.schema, &spec.table],
        )
        .await?
        .into_iter()
        .map(|r| r.get("name").unwrap_or_default().to_owned())
        .collect();
    let indexes = exec
        .query(
            "SELECT indexname::text AS name, indexdef AS def FROM pg_catalog.pg_indexes \
             WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname",
            &[&spec.schema, &spec.table],
        )
        .await?
        .into_iter()
        .map(|r| ObservedIndex {
            name: r.get("name").unwrap_or_default().to_owned(),
            def: r.get("def").unwrap_or_default().to_owned(),
        })
        .collect();
    Ok(ObservedVectorSchema {
        schema_exists,
        columns: Some(columns),
        indexes,
        primary_key,
    })
}

/// The outcome of [`ensure_vector_schema`]: one change per object, in creation order
/// (schema, table, vector index, full-text index).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct VectorSchemaOutcome {
    /// The changes made (or refused).
    pub changes: Vec<ResourceChange>,
}

impl VectorSchemaOutcome {
    /// True when at least one change was refused.
    #[must_use]
    pub fn has_refusals(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c.change, Change::Refused { .. }))
    }
}

fn resource_changes(spec: &VectorSchemaSpec, d: &VectorSchemaDecision) -> Vec<ResourceChange> {
    let qualified = format!("{}.{}", spec.schema, spec.table);
    let mut out = vec![
        ResourceChange {
            id: format!("{}/schema", spec.logical_id),
            kind: "postgres_schema".into(),
            physical_id: Some(spec.schema.clone()),
            change: d.schema.clone(),
        },
        ResourceChange {
            id: format!("{}/table", spec.logical_id),
            kind: "postgres_table".into(),
            physical_id: Some(qualified),
            change: d.table.clone(),
        },
    ];
    if let (Some(i), Some(c)) = (&spec.vector_index, &d.vector_index) {
        out.push(ResourceChange {
            id: format!("{}/vector_index", spec.logical_id),
            kind: "postgres_index".into(),
            physical_id: Some(format!("{}.{}", spec.schema, i.name)),
            change: c.clone(),
        });
    }
    if let (Some(i), Some(c)) = (&spec.full_text_index, &d.full_text_index) {
        out.push(ResourceChange {
            id: format!("{}/full_text_index", spec.logical_id),
            kind: "postgres_index".into(),
            physical_id: Some(format!("{}.{}", spec.schema, i.name)),
            change: c.clone(),
        });
    }
    out
}

/// Observes and decides without writing: what [`ensure_vector_schema`] would do.
///
/// # Errors
/// When a catalog query fails.
pub async fn plan_vector_schema<E: Executor>(
    exec: &E,
    spec: &VectorSchemaSpec,
) -> Result<VectorSchemaOutcome, DatabaseError> {
    let observed = observe(exec, spec).await?;
    Ok(VectorSchemaOutcome {
        changes: resource_changes(spec, &decide(spec, &observed)),
    })
}

/// Makes sure the schema, the table, its columns and its indexes exist as `spec` says.
///
/// # Idempotency
/// Objects are identified by name: the schema by `pg_namespace`, the table by `pg_class`, its
/// columns by `pg_attribute` (types compared through `format_type`, so `vector(1024)` carries
/// its dimension), indexes by `pg_indexes` (method, operator class and `WITH` parameters
/// parsed from `indexdef`; an equivalent index under another name counts). Only what is
/// missing is created, each statement `IF NOT EXISTS`, so a run that crashed between two
/// statements is finished by the next one. A second run issues catalog reads only. Nothing is
/// ever dropped or altered destructively: a mismatch is a refused change naming the field, and
/// refusing the table also refuses the index changes on it.
///
/// # Errors
/// When a catalog read or a DDL statement fails.
///
/// # Example
/// ```no_run
/// # async fn example() -> Result<(), ironbark_database::DatabaseError> {
/// use ironbark_database::{bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, PgExecutor};
/// let exec = PgExecutor::connect("postgres://postgres@127.0.0.1:5432/app").await?;
/// let _ = ensure_pgvector(&exec).await?;
/// let outcome = ensure_vector_schema(&exec, &bedrock_knowledge_base(1024)).await?;
/// assert!(!outcome.has_refusals());
/// # Ok(()) }
/// ```
pub async fn ensure_vector_schema<E: Executor>(
    exec: &E,
    spec: &VectorSchemaSpec,
) -> Result<VectorSchemaOutcome, DatabaseError> {
    let observed = observe(exec, spec).await?;
    let d = decide(spec, &observed);
    if d.schema.is_change() {
        exec.execute(&create_schema_sql(spec)).await?;
    }
    match &d.table {
        Change::Create { .. } => {
            exec.execute(&create_table_sql(spec)).await?;
        }
        Change::Update { .. } => {
            for c in &d.add_columns {
                exec.execute(&add_column_sql(spec, c)).await?;
            }
        }
        _ => {}
    }
    if let (Some(i), Some(Change::Create { .. })) = (&spec.vector_index, &d.vector_index) {
        exec.execute(&create_vector_index_sql(spec, i)).await?;
    }
    if let (Some(i), Some(Change::Create { .. })) = (&spec.full_text_index, &d.full_text_index) {
        exec.execute(&create_full_text_index_sql(spec, i)).await?;
    }
    Ok(VectorSchemaOutcome {
        changes: resource_changes(spec, &d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb_columns(dim: u32) -> BTreeMap<String, String> {
        [
            ("id", "uuid".to_owned()),
            ("embedding", format!("vector({dim})")),
            ("chunks", "text".to_owned()),
            ("metadata", "json".to_owned()),
            ("custom_metadata", "jsonb".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn kb_indexes() -> Vec<ObservedIndex> {
        vec![
            ObservedIndex {
                name: "bedrock_kb_chunks_idx".into(),
                def: "CREATE INDEX bedrock_kb_chunks_idx ON bedrock_integration.bedrock_kb USING gin (to_tsvector('simple'::regconfig, chunks))".into(),
            },
            ObservedIndex {
                name: "bedrock_kb_embedding_idx".into(),
                def: "CREATE INDEX bedrock_kb_embedding_idx ON bedrock_integration.bedrock_kb USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')".into(),
            },
        ]
    }

    fn converged() -> ObservedVectorSchema {
        ObservedVectorSchema {
            schema_exists: true,
            columns: Some(kb_columns(1024)),
            indexes: kb_indexes(),
            primary_key: vec!["id".into()],
        }
    }

    #[test]
    fn ddl_is_what_bedrock_needs() {
        let spec = bedrock_knowledge_base(1024);
        assert_eq!(
            create_extension_sql(),
            "CREATE EXTENSION IF NOT EXISTS vector"
        );
        assert_eq!(
            create_schema_sql(&spec),
            r#"CREATE SCHEMA IF NOT EXISTS "bedrock_integration""#
        );
        assert_eq!(
            create_table_sql(&spec),
            r#"CREATE TABLE IF NOT EXISTS "bedrock_integration"."bedrock_kb" ( "id" uuid NOT NULL PRIMARY KEY, "embedding" vector(1024), "chunks" text, "metadata" json, "custom_metadata" jsonb )"#
        );
        assert_eq!(
            create_vector_index_sql(&spec, spec.vector_index.as_ref().unwrap()),
            r#"CREATE INDEX IF NOT EXISTS "bedrock_kb_embedding_idx" ON "bedrock_integration"."bedrock_kb" USING hnsw ("embedding" vector_cosine_ops) WITH (m = 16, ef_construction = 64)"#
        );
        assert_eq!(
            create_full_text_index_sql(&spec, spec.full_text_index.as_ref().unwrap()),
            r#"CREATE INDEX IF NOT EXISTS "bedrock_kb_chunks_idx" ON "bedrock_integration"."bedrock_kb" USING GIN ((to_tsvector('simple', "chunks")))"#
        );
    }

    #[test]
    fn ivfflat_ddl_carries_lists() {
        let spec = bedrock_knowledge_base(3);
        let index = VectorIndexSpec {
            method: IndexMethod::IvfFlat { lists: 50 },
            ops: VectorOps::L2,
            ..spec.vector_index.clone().unwrap()
        };
        assert!(create_vector_index_sql(&spec, &index)
            .ends_with(r#"USING ivfflat ("embedding" vector_l2_ops) WITH (lists = 50)"#));
    }

    #[test]
    fn empty_database_creates_everything() {
        let d = decide(
            &bedrock_knowledge_base(1024),
            &ObservedVectorSchema::default(),
        );
        assert!(matches!(d.schema, Change::Create { .. }));
        assert!(matches!(d.table, Change::Create { .. }));
        assert!(matches!(d.vector_index, Some(Change::Create { .. })));
        assert!(matches!(d.full_text_index, Some(Change::Create { .. })));
    }

    #[test]
    fn converged_schema_is_a_no_op() {
        let d = decide(&bedrock_knowledge_base(1024), &converged());
        assert_eq!(d.schema, Change::NoOp);
        assert_eq!(d.table, Change::NoOp);
        assert_eq!(d.vector_index, Some(Change::NoOp));
        assert_eq!(d.full_text_index, Some(Change::NoOp));
        assert!(d.add_columns.is_empty());
    }

    #[test]
    fn wrong_dimension_is_refused_naming_the_field() {
        let mut o = converged();
        o.columns = Some(kb_columns(1536));
        let d = decide(&bedrock_knowledge_base(1024), &o);
        let Change::Refused { field, .. } = &d.table else {
            panic!("{:?}", d.table)
        };
        assert_eq!(
            field,
            "columns.embedding.dimension (vector(1536) -> vector(1024))"
        );
        // The indexes exist already: nothing to refuse there.
        assert_eq!(d.vector_index, Some(Change::NoOp));
    }

    #[test]
    fn wrong_type_is_refused() {
        let mut o = converged();
        o.columns
            .as_mut()
            .unwrap()
            .insert("metadata".into(), "text".into());
        let Change::Refused { field, .. } = decide(&bedrock_knowledge_base(1024), &o).table else {
            panic!()
        };
        assert_eq!(field, "columns.metadata.type (text -> json)");
    }

    #[test]
    fn a_table_without_the_id_primary_key_is_refused() {
        let mut o = converged();
        o.primary_key.clear();
        let Change::Refused { field, .. } = decide(&bedrock_knowledge_base(1024), &o).table else {
            panic!()
        };
        assert_eq!(field, "primary_key (none -> id)");
    }

    #[test]
    fn missing_column_is_added_in_place() {
        let mut o = converged();
        o.columns.as_mut().unwrap().remove("custom_metadata");
        let d = decide(&bedrock_knowledge_base(1024), &o);
        assert!(matches!(d.table, Change::Update { .. }));
        assert_eq!(d.add_columns.len(), 1);
        assert_eq!(d.add_columns[0].name, "custom_metadata");
    }

    #[test]
    fn index_method_opclass_and_params_mismatches_are_refused() {
        let spec = bedrock_knowledge_base(1024);
        let with_def = |def: &str| {
            let mut o = converged();
            o.indexes[1].def = def.into();
            decide(&spec, &o).vector_index.unwrap()
        };
        let field = |c: Change| match c {
            Change::Refused { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(with_def("CREATE INDEX bedrock_kb_embedding_idx ON s.t USING ivfflat (embedding vector_cosine_ops) WITH (lists='100')")),
            "vector_index.method (ivfflat -> hnsw)"
        );
        assert_eq!(
            field(with_def(
                "CREATE INDEX bedrock_kb_embedding_idx ON s.t USING hnsw (embedding vector_l2_ops)"
            )),
            "vector_index.opclass (vector_l2_ops -> vector_cosine_ops)"
        );
        assert_eq!(
            field(with_def("CREATE INDEX bedrock_kb_embedding_idx ON s.t USING hnsw (embedding vector_cosine_ops) WITH (m='8')")),
            "vector_index.m (8 -> 16)"
        );
        // An opclass left out of indexdef is the default, vector_l2_ops.
        assert_eq!(
            field(with_def(
                "CREATE INDEX bedrock_kb_embedding_idx ON s.t USING hnsw (embedding)"
            )),
            "vector_index.opclass (vector_l2_ops -> vector_cosine_ops)"
        );
        // Defaults left out of indexdef are pgvector's and match.
        assert_eq!(
            with_def("CREATE INDEX bedrock_kb_embedding_idx ON s.t USING hnsw (embedding vector_cosine_ops)"),
            Change::NoOp
        );
    }

    #[test]
    fn an_equivalent_index_under_another_name_counts() {
        let mut o = converged();
        o.indexes[1].name = "made_by_hand".into();
        let d = decide(&bedrock_knowledge_base(1024), &o);
        assert_eq!(d.vector_index, Some(Change::NoOp));
    }

    #[test]
    fn another_index_on_the_column_does_not_stand_in_unless_equivalent() {
        let mut o = converged();
        o.indexes[1] = ObservedIndex {
            name: "l2_by_hand".into(),
            def: "CREATE INDEX l2_by_hand ON s.t USING hnsw (embedding)".into(),
        };
        let d = decide(&bedrock_knowledge_base(1024), &o);
        assert!(matches!(d.vector_index, Some(Change::Create { .. })));
    }

    #[test]
    fn full_text_config_mismatch_is_refused() {
        let mut o = converged();
        o.indexes[0].def = "CREATE INDEX bedrock_kb_chunks_idx ON s.t USING gin (to_tsvector('english'::regconfig, chunks))".into();
        let Some(Change::Refused { field, .. }) =
            decide(&bedrock_knowledge_base(1024), &o).full_text_index
        else {
            panic!()
        };
        assert_eq!(
            field,
            "full_text_index.expression (to_tsvector('english'::regconfig, chunks) -> to_tsvector('simple', chunks))"
        );
    }

    #[test]
    fn more_than_2000_dimensions_cannot_be_indexed() {
        let d = decide(
            &bedrock_knowledge_base(3072),
            &ObservedVectorSchema::default(),
        );
        assert!(matches!(d.table, Change::Create { .. }));
        let Some(Change::Refused { field, .. }) = d.vector_index else {
            panic!()
        };
        assert_eq!(field, "vector_index.column (embedding is vector(3072))");
    }

    #[test]
    fn a_refused_table_refuses_its_missing_indexes() {
        let mut o = converged();
        o.columns = Some(kb_columns(3));
        o.indexes.clear();
        let d = decide(&bedrock_knowledge_base(1024), &o);
        assert!(matches!(d.vector_index, Some(Change::Refused { .. })));
        assert!(matches!(d.full_text_index, Some(Change::Refused { .. })));
    }

    #[test]
    fn extension_is_created_only_when_missing() {
        assert!(matches!(decide_extension(None), Change::Create { .. }));
        let v = ObservedExtension {
            version: "0.8.0".into(),
        };
        assert_eq!(decide_extension(Some(&v)), Change::NoOp);
    }
}
