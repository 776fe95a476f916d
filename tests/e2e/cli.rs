//! The README's promises through the real CLI: validate errors, plan exit codes, deploy, a
//! converged plan, destroy.

use crate::{census, ironbark, text};

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn plan_deploy_plan_destroy_with_exit_codes() {
    let stack = "e2e-cli";
    let plan = ironbark(stack, &["plan", "--env", "prod"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        out.contains("+ vpc networking/vpc") && out.contains("Plan: "),
        "{out}"
    );

    let deploy = ironbark(stack, &["deploy", "--env", "prod", "--yes"]);
    assert_eq!(deploy.status.code(), Some(0), "{}", text(&deploy));
    let out = String::from_utf8_lossy(&deploy.stdout);
    assert!(
        out.contains("networking.vpc_id") && out.contains("vpc-"),
        "{out}"
    );
    // Waits are reported with AWS's status. The RDS instance's create lasts 4.8 s at the
    // tests' time scale, long enough to be seen on a loaded machine (a NAT's 0.9 s is not).
    assert!(
        String::from_utf8_lossy(&deploy.stderr).contains("database/instance: waiting (creating)"),
        "waits are reported: {}",
        text(&deploy)
    );

    let again = ironbark(stack, &["plan", "--env", "prod"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("No changes."),
        "{}",
        text(&again)
    );

    let json = ironbark(stack, &["outputs", "--env", "prod", "--json"]);
    let outputs: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("outputs --json is JSON");
    assert!(outputs["networking.vpc_id"]
        .as_str()
        .unwrap()
        .starts_with("vpc-"));
    // The observability layer: alarms notify the topic, and `${database.identifier}` in the
    // stack file became the instance the database layer created.
    let topic = outputs["observability.topic_arn"].as_str().unwrap();
    assert!(topic.starts_with("arn:aws:sns:"), "{outputs}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = crate::emulator_ctx(&rt, stack, "prod");
    let cw = ironbark_core::sdk_client!(ctx, aws_sdk_cloudwatch);
    let name = ironbark_observability::alarm::name_of(&ctx, "db-cpu");
    let alarm = rt
        .block_on(ironbark_observability::alarm::find(&cw, &name))
        .unwrap()
        .expect("the db-cpu alarm exists");
    assert_eq!(
        alarm.settings["dimensions"],
        format!(
            "DBInstanceIdentifier={}",
            outputs["database.identifier"].as_str().unwrap()
        )
    );
    assert_eq!(alarm.settings["actions"], topic);
    // Every log group Ironbark creates is encrypted with the stack's key (CKV_AWS_158), the
    // VPC flow logs' included.
    let logs = ironbark_core::sdk_client!(ctx, aws_sdk_cloudwatchlogs);
    let flow = ironbark_observability::log_group::name_of(&ctx, "vpc-flow-logs");
    assert_eq!(outputs["flow-logs.log_group"].as_str(), Some(flow.as_str()));
    let group = rt
        .block_on(ironbark_observability::log_group::find(&logs, &flow))
        .unwrap()
        .expect("the flow-log group exists");
    let key = outputs["identity.kms_key_arn"].as_str().unwrap();
    assert!(key.starts_with("arn:aws:kms:"), "{outputs}");
    assert_eq!(group.kms_key_arn.as_deref(), Some(key));

    let destroy = ironbark(
        stack,
        &["destroy", "--env", "prod", "--yes", "--allow-protected"],
    );
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    assert_eq!(rt.block_on(census(stack)), (0, 0, 0, 0));
}

#[test]
#[ignore = "needs the CLI binary that cargo xtask test runs"]
fn bad_input_fails_before_any_aws_call() {
    // A listener standing in for AWS: any request at all would connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let cli = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ironbark.toml");
    for (args, path) in [
        (vec!["plan", "--env", "nope"], "--env"),
        (
            vec![
                "plan",
                "--env",
                "prod",
                "--set",
                "networking.vpc_cidr=10.0.0.0/33",
            ],
            "networking.vpc_cidr",
        ),
        (
            vec![
                "deploy",
                "--env",
                "prod",
                "--set",
                "networking.nat_gateways=2",
            ],
            "networking.nat_gateways",
        ),
        (
            vec![
                "plan",
                "--env",
                "prod",
                "--set",
                "database.allocated_storage_gb=5",
            ],
            "database.allocated_storage_gb",
        ),
        (
            vec![
                "destroy",
                "--env",
                "prod",
                "--set",
                "networking.vpc_cidrr=10.0.0.0/16",
            ],
            "networking.vpc_cidrr",
        ),
    ] {
        let out = std::process::Command::new(crate::cli_binary())
            .args(&args)
            .args(["--endpoint-url", &endpoint, "--stack"])
            .arg(&cli)
            .env_remove("IRONBARK_ENV")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(path) && err.contains("ironbark.toml"),
            "{args:?} should name {path} and the file: {err}"
        );
        assert!(err.lines().count() <= 24, "more than a screen: {err}");
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{args:?} made a network call before failing: {other:?}"),
        }
    }
}
