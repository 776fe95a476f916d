//! The Data API executor against the emulator, whose rds-data runs the SQL on a real
//! PostgreSQL 16 + pgvector (one database per emulated Aurora cluster): the pgvector preset,
//! refusals, a similarity query and the `bedrock_user` role, all through `ExecuteStatement`.
//! Each test has its own cluster and access key id, so they run concurrently.

use ironbark_core::plan::Change;
use ironbark_core::retry::{Backoff, RetryPolicy};
use ironbark_core::{Context, Mode, Plan};
use ironbark_database::data_api::DataApiExecutor;
use ironbark_database::login_role::{
    bedrock_user_grants, ensure_login_role, read_secret_string, BEDROCK_USER,
};
use ironbark_database::{
    bedrock_knowledge_base, ensure_pgvector, ensure_vector_schema, DatabaseError, Executor,
};
use ironbark_testkit::EmulatorControl;
use secrecy::ExposeSecret;

use crate::pgvector::{one, Recording};

/// A test's Aurora PostgreSQL cluster in the emulator, with the Data API enabled.
struct Aurora {
    ctx: Context,
    key: String,
    cluster_arn: String,
    secret_arn: String,
}

impl Aurora {
    async fn new(test: &str) -> Self {
        let key = ironbark_testkit::unique_access_key(test);
        let ctx = Context::builder(format!("db-{}", test.replace('_', "-")), "dev")
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            .static_credentials(key.clone(), "testing")
            .mode(Mode::Apply)
            .build()
            .await;
        let rds = ironbark_core::sdk_client!(ctx, aws_sdk_rds);
        let id = format!("ib-{}", key.to_ascii_lowercase());
        let cluster = rds
            .create_db_cluster()
            .db_cluster_identifier(&id)
            .engine("aurora-postgresql")
            .engine_version("16.4")
            .master_username("postgres")
            .manage_master_user_password(true)
            .enable_http_endpoint(true)
            .send()
            .await
            .unwrap()
            .db_cluster
            .unwrap();
        let cluster_arn = cluster.db_cluster_arn().unwrap().to_owned();
        let secret_arn = cluster
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .expect("ManageMasterUserPassword gives the cluster an RDS-managed secret")
            .to_owned();
        Self {
            ctx,
            key,
            cluster_arn,
            secret_arn,
        }
    }

    fn exec(&self) -> Recording<DataApiExecutor> {
        Recording::new(DataApiExecutor::new(
            &self.ctx,
            &self.cluster_arn,
            &self.secret_arn,
            "postgres",
        ))
    }

    /// How many `ExecuteStatement` calls this test has made so far, per the emulator's log.
    fn statements(&self) -> u64 {
        let log = EmulatorControl::new(&ironbark_testkit::emulator_url())
            .log()
            .unwrap();
        log.iter()
            .filter(|e| {
                e.service == "rds-data"
                    && e.operation == "ExecuteStatement"
                    && e.access_key.as_deref() == Some(self.key.as_str())
            })
            .count() as u64
    }
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn preset_through_the_data_api_then_again_issues_only_catalog_reads() {
    let aurora = Aurora::new("data_api_preset").await;
    let exec = aurora.exec();
    let spec = bedrock_knowledge_base(1024);

    let ext = ensure_pgvector(&exec).await.unwrap();
    assert!(matches!(ext.change, Change::Create { .. }), "{ext:?}");
    let outcome = ensure_vector_schema(&exec, &spec).await.unwrap();
    assert_eq!(outcome.changes.len(), 4);
    for c in &outcome.changes {
        assert!(matches!(c.change, Change::Create { .. }), "{c:?}");
    }
    let (queries, executes) = exec.take();
    assert_eq!(executes.len(), 5, "{executes:#?}");
    // Every statement the executor was given reached the Data API once.
    let sent = aurora.statements();
    assert_eq!(sent, (queries.len() + executes.len()) as u64);

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
    let hnsw = one(
        &exec,
        "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
        &["bedrock_kb_embedding_idx"],
    )
    .await;
    assert!(
        hnsw.contains("USING hnsw (embedding vector_cosine_ops)"),
        "{hnsw}"
    );
    exec.take();

    // Second run: no-ops, and nothing but catalog reads reached the Data API.
    let before = aurora.statements();
    let ext = ensure_pgvector(&exec).await.unwrap();
    assert_eq!(ext.change, Change::NoOp);
    let outcome = ensure_vector_schema(&exec, &spec).await.unwrap();
    for c in &outcome.changes {
        assert_eq!(c.change, Change::NoOp, "{c:?}");
    }
    let (queries, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");
    for q in &queries {
        assert!(q.starts_with("SELECT") && q.contains("pg_catalog."), "{q}");
    }
    assert_eq!(aurora.statements() - before, queries.len() as u64);

    // In plan mode catalog queries still run (through the executor's read-only path, which
    // sends nothing but a plain SELECT), while any DDL meets the guard before it is sent.
    aurora.ctx.set_mode(Mode::Plan);
    let before = aurora.statements();
    let planned = ironbark_database::plan_vector_schema(&exec, &spec)
        .await
        .unwrap();
    assert!(planned.changes.iter().all(|c| c.change == Change::NoOp));
    assert!(
        aurora.statements() > before,
        "the catalog was read in plan mode"
    );
    let e = exec
        .execute("CREATE EXTENSION IF NOT EXISTS vector")
        .await
        .unwrap_err();
    assert!(e.is_plan_mode_write(), "{e:?}");
    let after = aurora.statements();
    let e = exec.query("SELECT 1; DROP TABLE x", &[]).await.unwrap_err();
    assert!(e.is_plan_mode_write(), "{e:?}");
    assert_eq!(aurora.statements(), after, "nothing was sent");
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn wrong_dimension_is_refused_with_rows_intact_and_nearest_neighbour_found() {
    let aurora = Aurora::new("data_api_dimension").await;
    let exec = aurora.exec();
    let _ = ensure_pgvector(&exec).await.unwrap();
    let outcome = ensure_vector_schema(&exec, &bedrock_knowledge_base(3))
        .await
        .unwrap();
    assert!(!outcome.has_refusals());
    let inserted = exec
        .execute(
            "INSERT INTO bedrock_integration.bedrock_kb (id, embedding, chunks, metadata, custom_metadata) VALUES \
             ('00000000-0000-0000-0000-00000000000a', '[1,0,0]', 'east', '{}', '{}'), \
             ('00000000-0000-0000-0000-00000000000b', '[1,1,0.9]', 'diagonal', '{}', '{\"k\": 1}'), \
             ('00000000-0000-0000-0000-00000000000c', '[0,0,-1]', 'down', '{}', '{}')",
        )
        .await
        .unwrap();
    assert_eq!(
        inserted, 3,
        "DML reports its row count through the Data API"
    );
    exec.take();

    let outcome = ensure_vector_schema(&exec, &bedrock_knowledge_base(1024))
        .await
        .unwrap();
    let Change::Refused { field, .. } = &outcome.changes[1].change else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        field,
        "columns.embedding.dimension (vector(3) -> vector(1024))"
    );
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");
    let count = one(
        &exec,
        "SELECT count(*)::text FROM bedrock_integration.bedrock_kb",
        &[],
    )
    .await;
    assert_eq!(count, "3");

    // Nearest neighbour by cosine distance, the query vector a text parameter cast in SQL.
    let nearest = one(
        &exec,
        "SELECT id::text FROM bedrock_integration.bedrock_kb \
         ORDER BY embedding <=> $1::vector LIMIT 1",
        &["[1,1,1]"],
    )
    .await;
    assert_eq!(nearest, "00000000-0000-0000-0000-00000000000b");
    // A `$1` inside a literal is not a parameter; NULL comes back as None.
    let rows = exec
        .query(
            "SELECT '$1'::text AS literal, NULL::text AS nothing, chunks FROM \
             bedrock_integration.bedrock_kb WHERE to_tsvector('simple', chunks) @@ \
             to_tsquery('simple', $1)",
            &["down"],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get("literal"), Some("$1"));
    assert_eq!(rows[0].0.get("nothing"), Some(&None));
    assert_eq!(rows[0].get("chunks"), Some("down"));
    // Non-text columns are refused as through a direct connection.
    let e = exec
        .query(
            "SELECT count(*) AS n FROM bedrock_integration.bedrock_kb",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DatabaseError::NotText { .. }), "{e:?}");
    // A failing statement names itself and carries the server's message.
    let e = exec.execute("SELECT * FROM nowhere").await.unwrap_err();
    let text = chain(&e);
    assert!(
        text.contains("SELECT * FROM nowhere") && text.contains("does not exist"),
        "{text}"
    );
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
#[ignore = "needs the emulator: run cargo xtask test"]
async fn bedrock_user_is_created_once_and_its_password_never_shows() {
    let aurora = Aurora::new("data_api_bedrock_user").await;
    let exec = aurora.exec();
    let _ = ensure_pgvector(&exec).await.unwrap();
    let _ = ensure_vector_schema(&exec, &bedrock_knowledge_base(1024))
        .await
        .unwrap();

    // The password lives in Secrets Manager, as JSON like RDS-managed secrets.
    let password = "Kb-Pass-7f3c9e1d-0a5b-4c2e";
    let sm = ironbark_core::sdk_client!(aurora.ctx, aws_sdk_secretsmanager);
    let secret = sm
        .create_secret()
        .name(format!("{}/bedrock_user", aurora.key))
        .secret_string(format!(
            r#"{{"username":"bedrock_user","password":"{password}"}}"#
        ))
        .send()
        .await
        .unwrap();
    let secret = read_secret_string(&aurora.ctx, secret.arn().unwrap())
        .await
        .unwrap();
    assert_eq!(secret.expose_secret(), password);
    assert!(!format!("{secret:?}").contains(password));
    exec.take();

    let outcome = ensure_login_role(&exec, BEDROCK_USER, &secret, &bedrock_user_grants())
        .await
        .unwrap();
    assert_eq!(outcome.changes.len(), 2);
    assert!(matches!(outcome.changes[0].change, Change::Create { .. }));
    assert!(matches!(outcome.changes[1].change, Change::Create { .. }));
    let (_, executes) = exec.take();
    assert_eq!(executes.len(), 3, "{executes:#?}");
    for e in &executes {
        assert!(!e.contains(password), "{e}");
    }
    let can = one(
        &exec,
        "SELECT (r.rolcanlogin AND has_schema_privilege(r.rolname, 'bedrock_integration', 'USAGE') \
         AND has_table_privilege(r.rolname, 'bedrock_integration.bedrock_kb', 'SELECT') \
         AND has_table_privilege(r.rolname, 'bedrock_integration.bedrock_kb', 'INSERT') \
         AND has_table_privilege(r.rolname, 'bedrock_integration.bedrock_kb', 'UPDATE') \
         AND has_table_privilege(r.rolname, 'bedrock_integration.bedrock_kb', 'DELETE'))::text \
         FROM pg_roles r WHERE r.rolname = $1",
        &[BEDROCK_USER],
    )
    .await;
    assert_eq!(can, "true");

    // Again: a no-op made of catalog reads.
    let outcome2 = ensure_login_role(&exec, BEDROCK_USER, &secret, &bedrock_user_grants())
        .await
        .unwrap();
    for c in &outcome2.changes {
        assert_eq!(c.change, Change::NoOp, "{c:?}");
    }
    let (_, executes) = exec.take();
    assert!(executes.is_empty(), "{executes:#?}");

    // The password shows nowhere: outcomes (Debug, the rendered plan, JSON).
    let mut plan = Plan::default();
    for c in outcome.changes.iter().chain(&outcome2.changes) {
        plan.push(c.clone());
    }
    let shown = format!(
        "{outcome:?}\n{outcome2:?}\n{}\n{}",
        plan.render_human(),
        plan.to_json()
    );
    assert!(shown.contains("password: (sensitive)"), "{shown}");
    assert!(!shown.contains(password), "{shown}");
    assert!(!shown.contains("SCRAM-SHA-256$"), "{shown}");

    // Nor in the error of a CREATE ROLE the server rejects (a reserved role name).
    let e = ensure_login_role(&exec, "pg_ironbark", &secret, &[])
        .await
        .unwrap_err();
    let shown = format!("{e}\n{e:?}\n{}", chain(&e));
    assert!(shown.contains("create role pg_ironbark"), "{shown}");
    assert!(shown.contains("reserved"), "{shown}");
    assert!(!shown.contains(password), "{shown}");
    assert!(!shown.contains("SCRAM-SHA-256$"), "{shown}");
    assert!(!shown.contains("PASSWORD"), "{shown}");
}

/// A one-route HTTP server standing in for the Data API: answers each request with the next
/// of `replies` (status, `x-amzn-ErrorType` or none, JSON body), the last one forever, and
/// counts the requests.
async fn fake_data_api(
    replies: Vec<(u16, Option<&'static str>, &'static str)>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let replies = replies.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                loop {
                    // Read one request: headers, then Content-Length bytes of body.
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        buf.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    let mut body = vec![0u8; len];
                    socket.read_exact(&mut body).await.unwrap();
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let (status, kind, json) = replies[n.min(replies.len() - 1)];
                    let kind = kind.map_or(String::new(), |k| format!("x-amzn-errortype: {k}\r\n"));
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{kind}\
                         content-length: {}\r\n\r\n{json}",
                        json.len()
                    );
                    socket.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, count)
}

async fn executor_against(url: &str) -> DataApiExecutor {
    let ctx = Context::builder("db-fake", "dev")
        .region("us-east-1")
        .endpoint_url(url)
        .static_credentials("AKIBFAKE", "testing")
        .mode(Mode::Apply)
        .build()
        .await;
    let quick = RetryPolicy {
        name: "wait for the Aurora cluster to resume",
        deadline: std::time::Duration::from_secs(2),
        backoff: Backoff {
            initial: std::time::Duration::from_millis(10),
            max: std::time::Duration::from_millis(50),
        },
    };
    DataApiExecutor::new(
        &ctx,
        "arn:aws:rds:us-east-1:1:cluster:c",
        "arn:s",
        "postgres",
    )
    .with_resume_policy(quick)
}

const RESUMING: (u16, Option<&str>, &str) = (
    400,
    Some("DatabaseResumingException"),
    r#"{"message":"The Aurora DB instance db-1 is resuming after being auto-paused. Please wait a few seconds and try again."}"#,
);
const ONE_ROW: (u16, Option<&str>, &str) = (
    200,
    None,
    r#"{"records":[[{"stringValue":"ok"}]],"columnMetadata":[{"name":"a","label":"a","typeName":"text"}],"numberOfRecordsUpdated":0}"#,
);

#[tokio::test]
async fn a_resuming_cluster_is_waited_for_and_other_errors_are_not_retried() {
    let (url, count) = fake_data_api(vec![RESUMING, RESUMING, ONE_ROW]).await;
    let exec = executor_against(&url).await;
    let rows = exec.query("SELECT 'ok' AS a", &[]).await.unwrap();
    assert_eq!(rows[0].get("a"), Some("ok"));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);

    let (url, count) = fake_data_api(vec![(
        400,
        Some("BadRequestException"),
        r#"{"message":"ERROR: relation \"nowhere\" does not exist"}"#,
    )])
    .await;
    let exec = executor_against(&url).await;
    let e = exec.execute("SELECT * FROM nowhere").await.unwrap_err();
    assert!(chain(&e).contains("does not exist"), "{}", chain(&e));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A cluster that never resumes: the last error once the deadline has passed.
    let (url, count) = fake_data_api(vec![RESUMING]).await;
    let exec = executor_against(&url).await;
    let e = exec.execute("SELECT 1").await.unwrap_err();
    assert!(chain(&e).contains("resuming"), "{}", chain(&e));
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) > 3);
}
