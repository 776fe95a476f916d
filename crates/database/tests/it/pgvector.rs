//! `ensure_pgvector`, `ensure_vector_schema` and the Bedrock preset against the harness's real
//! PostgreSQL 16 + pgvector. Each test works in its own database, so they run concurrently.

use std::sync::Mutex;

use ironbark_core::plan::Change;
use ironbark_database::executor::TlsOptions;
use ironbark_database::login_role::{ensure_login_role, SchemaGrant};
use ironbark_database::pgvector::{create_table_sql, plan_vector_schema};
use ironbark_database::{
    bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, DatabaseError, Executor,
    IndexMethod, PgExecutor, Row, VectorOps, VectorSchemaSpec,
};
use secrecy::SecretString;
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

/// An executor that records every statement before passing it on (shared with the Data API
/// tests).
pub(crate) struct Recording<E> {
    pub(crate) inner: E,
    queries: Mutex<Vec<String>>,
    executes: Mutex<Vec<String>>,
}

impl<E> Recording<E> {
    pub(crate) fn new(inner: E) -> Self {
        Self {
            inner,
            queries: Mutex::default(),
            executes: Mutex::default(),
        }
    }

    /// The statements run since the last call: (queries, executes).
    pub(crate) fn take(&self) -> (Vec<String>, Vec<String>) {
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

/// The single value of a one-row, one-column query.
pub(crate) async fn one(exec: &impl Executor, sql: &str, params: &[&str]) -> String {
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

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn login_role_is_created_then_granted_on_a_table_added_later() {
    let exec = Recording::new(fresh_database("ib_pgvector_role").await);
    let role = "ib_pgvector_role_user";
    exec.execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
    exec.execute("CREATE SCHEMA kb").await.unwrap();
    exec.execute("CREATE TABLE kb.first (id int)")
        .await
        .unwrap();
    let grants = [SchemaGrant::usage_and_all_tables("kb")];
    let password = SecretString::from("pg-role-test-password-1");
    exec.take();

    let outcome = ensure_login_role(&exec, role, &password, &grants)
        .await
        .unwrap();
    assert!(matches!(outcome.changes[0].change, Change::Create { .. }));
    assert!(matches!(outcome.changes[1].change, Change::Create { .. }));
    let (_, executes) = exec.take();
    assert_eq!(executes.len(), 3, "{executes:#?}");
    assert!(executes[0].contains("PASSWORD 'SCRAM-SHA-256$4096:"));
    assert!(executes
        .iter()
        .all(|e| !e.contains("pg-role-test-password-1")));
    // PostgreSQL stored the verifier as it was sent.
    let stored = one(
        &exec,
        "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
        &[role],
    )
    .await;
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");

    // Again: reads only.
    let outcome = ensure_login_role(&exec, role, &password, &grants)
        .await
        .unwrap();
    assert!(outcome.changes.iter().all(|c| c.change == Change::NoOp));
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");

    // A table added later is granted on the next run, and only that is issued.
    exec.execute("CREATE TABLE kb.second (id int)")
        .await
        .unwrap();
    exec.take();
    let outcome = ensure_login_role(&exec, role, &password, &grants)
        .await
        .unwrap();
    let Change::Update { fields } = &outcome.changes[1].change else {
        panic!("{outcome:?}")
    };
    assert_eq!(fields[0].old.as_deref(), Some("missing on second"));
    let (_, executes) = exec.take();
    assert_eq!(
        executes,
        [r#"GRANT ALL ON ALL TABLES IN SCHEMA "kb" TO "ib_pgvector_role_user""#]
    );
    let insert = one(
        &exec,
        "SELECT has_table_privilege($1, 'kb.second', 'INSERT')::text",
        &[role],
    )
    .await;
    assert_eq!(insert, "true");

    // A grant on a schema that does not exist is refused, not attempted.
    let outcome = ensure_login_role(
        &exec,
        role,
        &password,
        &[SchemaGrant::usage_and_all_tables("nowhere")],
    )
    .await
    .unwrap();
    assert!(outcome.has_refusals());
    assert!(exec.take().1.is_empty());
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert DER, key DER).
fn test_pki(
    ca_name: &str,
) -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    (ca.pem(), cert.der().clone(), key.into())
}

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The `ErrorResponse` a server with `rds.force_ssl` sends a client that did not ask for TLS.
fn no_encryption_error() -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28000"),
        (
            b'M',
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \
             \"postgres\", no encryption",
        ),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&(u32::try_from(fields.len()).unwrap() + 4).to_be_bytes());
    msg.extend_from_slice(&fields);
    msg
}

/// A TLS-terminating front for the harness's PostgreSQL (whose build has no SSL), speaking
/// the protocol's `SSLRequest` negotiation like a server with `ssl = on` and refusing
/// clients that skip it, as RDS does with `rds.force_ssl = 1`. Returns its port.
async fn tls_front(
    backend: u16,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).await.is_err() {
                    return;
                }
                if first != SSL_REQUEST {
                    let _ = client.write_all(&no_encryption_error()).await;
                    return;
                }
                if client.write_all(b"S").await.is_err() {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut pg) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut pg).await;
            });
        }
    });
    port
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn tls_connects_with_the_servers_ca_and_refuses_another() {
    let (ca, cert, key) = test_pki("Ironbark test CA");
    let (other_ca, _, _) = test_pki("Some other CA");
    let backend: tokio_postgres::Config = ironbark_testkit::pg_url().parse().unwrap();
    let backend_port = backend.get_ports()[0];
    let port = tls_front(backend_port, cert, key).await;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");

    // Without TLS the server refuses the login, as RDS with rds.force_ssl does.
    let plain = PgExecutor::connect(&url).await.unwrap_err();
    assert!(chain(&plain).contains("no encryption"), "{}", chain(&plain));

    // With the server's CA: connected, through TLS, and the schema functions work.
    let exec = PgExecutor::connect_tls(&url, &TlsOptions::only_ca_pem(ca.clone()))
        .await
        .unwrap();
    assert_eq!(
        one(&exec, "SELECT version()", &[]).await[..10],
        *"PostgreSQL"
    );
    // The platform roots plus the CA bundle work too (what RDS users pass).
    let exec = PgExecutor::connect_tls(&url, &TlsOptions::new().with_ca_pem(ca))
        .await
        .unwrap();
    let _ = ensure_pgvector(&exec).await.unwrap();

    // Another CA, or the platform roots alone: the certificate is not trusted, and the error
    // says so.
    for tls in [TlsOptions::only_ca_pem(other_ca), TlsOptions::new()] {
        if tls.client_config().is_err() {
            // A machine without a platform root store: nothing to connect with.
            continue;
        }
        let Err(e) = PgExecutor::connect_tls(&url, &tls).await else {
            panic!("connected with {tls:?}")
        };
        assert!(matches!(e, DatabaseError::Connect(_)), "{e:?}");
        let text = chain(&e);
        assert!(
            text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
            "{text}"
        );
    }
    // A bundle that holds no certificate is refused before connecting.
    let e = TlsOptions::only_ca_pem("not a pem")
        .client_config()
        .unwrap_err();
    assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
}
