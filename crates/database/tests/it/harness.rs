//! The harness's PostgreSQL is a real PostgreSQL 16 with pgvector, reachable by the URL the
//! harness hands out.

use tokio_postgres::NoTls;

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn harness_postgres_is_16_with_pgvector() {
    let (client, connection) = tokio_postgres::connect(&ironbark_testkit::pg_url(), NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("16."), "{version}");
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
        .await
        .unwrap();
    let ext: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ext.starts_with("0.8"), "{ext}");
    // A nearest-neighbour query: the closest of three vectors to [1,1,1] is [1,1,2].
    client
        .batch_execute(
            "CREATE TEMP TABLE v (id int, e vector(3));
             INSERT INTO v VALUES (1, '[9,9,9]'), (2, '[1,1,2]'), (3, '[-5,0,5]');",
        )
        .await
        .unwrap();
    let id: i32 = client
        .query_one("SELECT id FROM v ORDER BY e <-> '[1,1,1]' LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 2);
}
