//! `ensure_pgvector`, `ensure_vector_schema` and the Bedrock preset against the harness's real
//! PostgreSQL 16 + pgvector. Each test works in its own database, so they run concurrently.

use std::sync::Mutex;

use ironbark_core::plan::Change;
use ironbark_database::pgvector::{create_table_sql, plan_vector_schema};
use ironbark_database::{
    bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, DatabaseError, Executor,
    IndexMethod, PgExecutor, Row, VectorOps, VectorSchemaSpec,
};
use tokio_postgres::NoTls;

/// Drops and recreates database `name` on the harness's server and connects to it.
async fn fresh_database(name: &str) -> PgExecutor {
    let url = ironbark_testkit::pg_url();
    let (admin, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.dbname(name);
    PgExecutor::connect_config(&config).await.unwrap()
}

/// An executor that records every statement before passing it on.
struct Recording<E> {
    inner: E,
    queries: Mutex<Vec<String>>,
    executes: Mutex<Vec<String>>,
}

impl<E> Recording<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            queries: Mutex::default(),
            executes: Mutex::default(),
        }
    }

    fn take(&self) -> (Vec<String>, Vec<String>) {
        (
            std::mem::take(&mut *self.queries.lock().unwrap()),
            std::mem::take(&mut *self.executes.lock().unwrap()),
        )
    }
}

impl<E: Executor> Executor for Recording<E> {
    async fn query(&self, sql: &str, params: &[&str]) -> Result<Vec<Row>, DatabaseError> {
        self.queries.lock().unwrap().push(sql.to_owned());
        self.inner.query(sql, params).await
    }

    async fn execute(&self, sql: &str) -> Result<u64, DatabaseError> {
        self.executes.lock().unwrap().push(sql.to_owned());
        self.inner.execute(sql).await
    }
}

async fn one(exec: &impl Executor, sql: &str, params: &[&str]) -> String {
    let rows = exec.query(sql, params).await.unwrap();
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0]
        .0
        .values()
        .next()
        .unwrap()
        .clone()
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn preset_on_empty_database_then_again_issues_only_catalog_reads() {
    let exec = Recording::new(fresh_database("ib_pgvector_preset").await);
    let spec = bedrock_knowledge_base(1024);

    let ext = ensure_pgvector(&exec).await.unwrap();
    assert!(matches!(ext.change, Change::Create { .. }), "{ext:?}");
    let outcome = ensure_vector_schema(&exec, &spec).await.unwrap();
    assert_eq!(outcome.changes.len(), 4);
    for c in &outcome.changes {
        assert!(matches!(c.change, Change::Create { .. }), "{c:?}");
    }
    let (_, executes) = exec.take();
    assert_eq!(executes.len(), 5, "{executes:#?}");

    // What the catalog now says is what Bedrock needs.
    let columns = one(
        &exec,
        "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
         FROM pg_attribute WHERE attrelid = 'bedrock_integration.bedrock_kb'::regclass \
         AND attnum > 0 AND NOT attisdropped",
        &[],
    )
    .await;
    assert_eq!(
        columns,
        "id uuid, embedding vector(1024), chunks text, metadata json, custom_metadata jsonb"
    );
    let pk = one(
        &exec,
        "SELECT string_agg(a.attname::text, ',') FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = 'bedrock_integration.bedrock_kb'::regclass AND i.indisprimary",
        &[],
    )
    .await;
    assert_eq!(pk, "id");
    let hnsw = one(
        &exec,
        "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
        &["bedrock_kb_embedding_idx"],
    )
    .await;
    assert!(
        hnsw.contains(
            "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')"
        ),
        "{hnsw}"
    );
    let gin = one(
        &exec,
        "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
        &["bedrock_kb_chunks_idx"],
    )
    .await;
    assert!(
        gin.contains("USING gin (to_tsvector('simple'::regconfig, chunks))"),
        "{gin}"
    );
    exec.take();

    // Second run: no-ops, and nothing but catalog reads reached the server.
    let ext = ensure_pgvector(&exec).await.unwrap();
    assert_eq!(ext.change, Change::NoOp);
    let outcome = ensure_vector_schema(&exec, &spec).await.unwrap();
    for c in &outcome.changes {
        assert_eq!(c.change, Change::NoOp, "{c:?}");
    }
    let (queries, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");
    assert!(!queries.is_empty());
    for q in &queries {
        assert!(q.starts_with("SELECT") && q.contains("pg_catalog."), "{q}");
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn wrong_dimension_is_refused_and_rows_stay() {
    let exec = Recording::new(fresh_database("ib_pgvector_wrong_dim").await);
    let _ = ensure_pgvector(&exec).await.unwrap();
    // Someone made the table with 3 dimensions and stored rows in it.
    let three = bedrock_knowledge_base(3);
    exec.execute("CREATE SCHEMA bedrock_integration")
        .await
        .unwrap();
    exec.execute(&create_table_sql(&three)).await.unwrap();
    exec.execute(
        "INSERT INTO bedrock_integration.bedrock_kb (id, embedding, chunks) VALUES \
         ('00000000-0000-0000-0000-000000000001', '[1,2,3]', 'one'), \
         ('00000000-0000-0000-0000-000000000002', '[4,5,6]', 'two')",
    )
    .await
    .unwrap();
    exec.take();

    let outcome = ensure_vector_schema(&exec, &bedrock_knowledge_base(1024))
        .await
        .unwrap();
    assert!(outcome.has_refusals());
    let table = &outcome.changes[1];
    let Change::Refused { field, .. } = &table.change else {
        panic!("{table:?}")
    };
    assert_eq!(
        field,
        "columns.embedding.dimension (vector(3) -> vector(1024))"
    );
    // The indexes on the refused table are refused too, and nothing was written.
    assert!(matches!(outcome.changes[2].change, Change::Refused { .. }));
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");

    // The data is intact and the column unchanged.
    let count = one(
        &exec,
        "SELECT count(*)::text FROM bedrock_integration.bedrock_kb",
        &[],
    )
    .await;
    assert_eq!(count, "2");
    let ty = one(
        &exec,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'bedrock_integration.bedrock_kb'::regclass AND attname = 'embedding'",
        &[],
    )
    .await;
    assert_eq!(ty, "vector(3)");
    // The rendered plan names the field.
    let mut plan = ironbark_core::Plan::default();
    for c in outcome.changes {
        plan.push(c);
    }
    let text = plan.render_human();
    assert!(
        text.contains("columns.embedding.dimension (vector(3) -> vector(1024)): refused"),
        "{text}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn similarity_query_returns_the_nearest_row() {
    let exec = fresh_database("ib_pgvector_similarity").await;
    let _ = ensure_pgvector(&exec).await.unwrap();
    let _ = ensure_vector_schema(&exec, &bedrock_knowledge_base(3))
        .await
        .unwrap();
    exec.execute(
        "INSERT INTO bedrock_integration.bedrock_kb (id, embedding, chunks, metadata, custom_metadata) VALUES \
         ('00000000-0000-0000-0000-00000000000a', '[1,0,0]', 'east', '{}', '{}'), \
         ('00000000-0000-0000-0000-00000000000b', '[1,1,0.9]', 'diagonal', '{}', '{\"k\": 1}'), \
         ('00000000-0000-0000-0000-00000000000c', '[0,0,-1]', 'down', '{}', '{}')",
    )
    .await
    .unwrap();
    let nearest = one(
        &exec,
        "SELECT id::text FROM bedrock_integration.bedrock_kb \
         ORDER BY embedding <=> $1::vector LIMIT 1",
        &["[1,1,1]"],
    )
    .await;
    assert_eq!(nearest, "00000000-0000-0000-0000-00000000000b");
    // The full-text side of hybrid search works on the same table.
    let by_text = one(
        &exec,
        "SELECT chunks FROM bedrock_integration.bedrock_kb \
         WHERE to_tsvector('simple', chunks) @@ to_tsquery('simple', $1)",
        &["down"],
    )
    .await;
    assert_eq!(by_text, "down");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn ivfflat_l2_schema_and_plan_mode_without_writes() {
    let exec = Recording::new(fresh_database("ib_pgvector_ivfflat").await);
    let _ = ensure_pgvector(&exec).await.unwrap();
    let mut spec: VectorSchemaSpec = bedrock_knowledge_base(8);
    spec.logical_id = "database/vector/docs".into();
    spec.schema = "docs".into();
    spec.table = "chunks".into();
    let index = spec.vector_index.as_mut().unwrap();
    index.name = "chunks_embedding_ivf".into();
    index.method = IndexMethod::IvfFlat { lists: 10 };
    index.ops = VectorOps::L2;
    spec.full_text_index = None;
    exec.take();

    // Plan mode reads and writes nothing.
    let planned = plan_vector_schema(&exec, &spec).await.unwrap();
    assert!(planned
        .changes
        .iter()
        .all(|c| matches!(c.change, Change::Create { .. })));
    let (_, executes) = exec.take();
    assert!(executes.is_empty());

    let _ = ensure_vector_schema(&exec, &spec).await.unwrap();
    let def = one(
        &exec,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'docs' AND indexname = $1",
        &["chunks_embedding_ivf"],
    )
    .await;
    assert!(
        // vector_l2_ops is the default operator class, which pg_get_indexdef leaves out.
        def.contains("USING ivfflat (embedding) WITH (lists='10')"),
        "{def}"
    );

    // Asking for HNSW on the same column now is refused, naming the method.
    let mut hnsw = spec.clone();
    hnsw.vector_index.as_mut().unwrap().method = IndexMethod::Hnsw {
        m: 16,
        ef_construction: 64,
    };
    exec.take();
    let outcome = ensure_vector_schema(&exec, &hnsw).await.unwrap();
    let Change::Refused { field, .. } = &outcome.changes[2].change else {
        panic!("{outcome:?}")
    };
    assert_eq!(field, "vector_index.method (ivfflat -> hnsw)");
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");

    // The same spec again is a no-op: the default opclass read back as l2 matches.
    let outcome = ensure_vector_schema(&exec, &spec).await.unwrap();
    for c in &outcome.changes {
        assert_eq!(c.change, Change::NoOp, "{c:?}");
    }
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn missing_columns_are_added_and_a_missing_primary_key_is_refused() {
    let exec = Recording::new(fresh_database("ib_pgvector_columns").await);
    let _ = ensure_pgvector(&exec).await.unwrap();
    let spec = |schema: &str| {
        let mut s = bedrock_knowledge_base(3);
        s.schema = schema.into();
        s
    };
    exec.execute("CREATE SCHEMA partial").await.unwrap();
    exec.execute(
        "CREATE TABLE partial.bedrock_kb \
         (id uuid PRIMARY KEY, embedding vector(3), chunks text)",
    )
    .await
    .unwrap();
    exec.execute(
        "INSERT INTO partial.bedrock_kb VALUES ('00000000-0000-0000-0000-000000000001', '[1,2,3]', 'kept')",
    )
    .await
    .unwrap();
    exec.execute("CREATE SCHEMA nokey").await.unwrap();
    exec.execute("CREATE TABLE nokey.bedrock_kb (id uuid, embedding vector(3), chunks text, metadata json, custom_metadata jsonb)")
        .await
        .unwrap();
    exec.take();

    let outcome = ensure_vector_schema(&exec, &spec("partial")).await.unwrap();
    let Change::Update { fields } = &outcome.changes[1].change else {
        panic!("{outcome:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["columns.metadata", "columns.custom_metadata"]);
    let (_, executes) = exec.take();
    assert_eq!(executes.len(), 4, "{executes:#?}");
    assert!(executes.iter().all(|e| !e.contains("DROP")));
    let row = one(
        &exec,
        "SELECT chunks FROM partial.bedrock_kb WHERE id = $1::uuid",
        &["00000000-0000-0000-0000-000000000001"],
    )
    .await;
    assert_eq!(row, "kept");

    let outcome = ensure_vector_schema(&exec, &spec("nokey")).await.unwrap();
    let Change::Refused { field, .. } = &outcome.changes[1].change else {
        panic!("{outcome:?}")
    };
    assert_eq!(field, "primary_key (none -> id)");
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");
}
