//! The RAG stack (reference platform 004) through the CLI: Aurora Serverless v2 with the
//! pgvector schema and the `bedrock_user` role applied by the same deploy through the Data
//! API, Redis with its AUTH token, DynamoDB tables; a converged plan; and no secret value in
//! anything the CLI prints, from deploy to destroy.

use crate::{ironbark, text};

fn rag(stack: &str, args: &[&str]) -> std::process::Output {
    let file = ironbark_testkit::workspace_root().join("stacks/rag.toml");
    let mut all: Vec<&str> = args.to_vec();
    let file = file.to_string_lossy().into_owned();
    all.extend(["--stack", &file]);
    ironbark(stack, &all)
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn rag_stack_applies_the_vector_schema_and_never_prints_a_secret() {
    let stack = "e2e-rag";
    let mut printed = Vec::new();
    let deploy = rag(stack, &["deploy", "--env", "dev", "--yes"]);
    assert_eq!(deploy.status.code(), Some(0), "{}", text(&deploy));
    printed.push(text(&deploy));

    let plan = rag(stack, &["plan", "--env", "dev"]);
    assert_eq!(plan.status.code(), Some(0), "converged: {}", text(&plan));
    printed.push(text(&plan));
    let json = rag(stack, &["plan", "--env", "dev", "--json"]);
    printed.push(text(&json));

    let outputs = rag(stack, &["outputs", "--env", "dev", "--json"]);
    printed.push(text(&outputs));
    let outputs: serde_json::Value =
        serde_json::from_slice(&outputs.stdout).expect("outputs --json is JSON");
    let get = |k: &str| {
        outputs[k]
            .as_str()
            .unwrap_or_else(|| panic!("output {k} missing: {outputs}"))
            .to_owned()
    };

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (values, embedding, role) = rt.block_on(async {
        let ctx = ironbark_core::Context::builder(stack, "dev")
            .region("us-east-1")
            .endpoint_url(ironbark_testkit::emulator_url())
            // Apply: the Data API's one operation is a write to the guard.
            .mode(ironbark_core::Mode::Apply)
            .build()
            .await;
        let sm = ironbark_core::sdk_client!(ctx, aws_sdk_secretsmanager);
        let mut values = Vec::new();
        for key in [
            "database.cache.auth_secret_arn",
            "database.master_secret_arn",
            "database.vector.bedrock_user_secret_arn",
        ] {
            let v = sm
                .get_secret_value()
                .secret_id(get(key))
                .send()
                .await
                .unwrap()
                .secret_string
                .unwrap();
            // The RDS-managed secret is JSON; its password is the value to look for.
            let v = serde_json::from_str::<serde_json::Value>(&v)
                .ok()
                .and_then(|j| j["password"].as_str().map(str::to_owned))
                .unwrap_or(v);
            assert!(v.len() >= 8, "{key} holds a real value ({} characters)", v.len());
            values.push((key, v));
        }
        let data = ironbark_core::sdk_client!(ctx, aws_sdk_rdsdata);
        let query = |sql: &str| {
            data.execute_statement()
                .resource_arn(get("database.arn"))
                .secret_arn(get("database.master_secret_arn"))
                .database(get("database.database_name"))
                .sql(sql)
                .send()
        };
        let text_of = |out: aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementOutput| {
            out.records()
                .first()
                .and_then(|r| r.first())
                .and_then(|f| f.as_string_value().ok().cloned())
        };
        let embedding = text_of(
            query(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = 'bedrock_integration.bedrock_kb'::regclass AND attname = 'embedding'",
            )
            .await
            .unwrap(),
        );
        let role = text_of(
            query("SELECT rolname::text FROM pg_roles WHERE rolname = 'bedrock_user' AND rolcanlogin")
                .await
                .unwrap(),
        );
        (values, embedding, role)
    });
    assert_eq!(embedding.as_deref(), Some("vector(1024)"));
    assert_eq!(role.as_deref(), Some("bedrock_user"));

    let destroy = rag(stack, &["destroy", "--env", "dev", "--yes"]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    printed.push(text(&destroy));

    for (key, value) in &values {
        for out in &printed {
            assert!(
                !out.contains(value.as_str()),
                "the value of {key} was printed"
            );
        }
    }
}
