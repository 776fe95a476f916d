//! A deploy killed while its database is still `creating`: the plan after it says what is in
//! progress and exits 2 (never "up to date"), and the next deploy waits for the database,
//! reporting the wait, and exits 0 only once it is available (DESIGN invariant 8).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{emulator_ctx, ironbark, ironbark_command, text};

/// The RDS instance's status, or `None` while it does not exist.
async fn instance_status(ctx: &ironbark_core::Context, id: &str) -> Option<String> {
    let rds = ironbark_core::sdk_client!(ctx, aws_sdk_rds);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?;
    out.db_instances()
        .first()
        .and_then(|d| d.db_instance_status())
        .map(str::to_owned)
}

/// Starts a fresh prod deploy of `stack` and kills it (SIGKILL) right after it created the
/// RDS instance, which is then `creating` for 4.8 s at the tests' time scale.
fn kill_after_create(
    rt: &tokio::runtime::Runtime,
    stack: &str,
) -> (ironbark_core::Context, String) {
    let ctx = emulator_ctx(rt, stack, "prod");
    let id = ironbark_database::instance::identifier_of(&ctx, ironbark_database::stack::INSTANCE);
    let mut child = ironbark_command(stack, &["deploy", "--env", "prod", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while rt.block_on(instance_status(&ctx, &id)).is_none() {
        assert!(Instant::now() < deadline, "the deploy never created {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    (ctx, id)
}

fn destroy(stack: &str) {
    let out = ironbark(
        stack,
        &["destroy", "--env", "prod", "--yes", "--allow-protected"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A try proves something only if the plan (or the deploy's apply) looked while the instance
/// was still creating; one that came back later is made again with a fresh stack.
const TRIES: usize = 4;

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_plan_after_a_killed_deploy_says_the_database_is_in_progress() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for attempt in 0..TRIES {
        let stack = format!("e2e-resume-plan-{attempt}");
        let (ctx, id) = kill_after_create(&rt, &stack);
        let plan = ironbark(&stack, &["plan", "--env", "prod"]);
        let still_creating = rt.block_on(instance_status(&ctx, &id)).as_deref() == Some("creating");
        if !still_creating {
            destroy(&stack);
            assert!(
                attempt + 1 < TRIES,
                "no plan came back while the instance was creating"
            );
            continue;
        }
        let out = String::from_utf8_lossy(&plan.stdout);
        assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
        assert!(
            out.contains(&format!("* DB instance database/instance ({id})"))
                && out.contains("status: creating (in progress: deploy waits for it)")
                && out.contains("in progress ("),
            "{}",
            text(&plan)
        );
        assert!(!out.contains("No changes"), "{}", text(&plan));
        destroy(&stack);
        return;
    }
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_deploy_after_a_killed_deploy_goes_on_until_the_database_is_available() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for attempt in 0..TRIES {
        let stack = format!("e2e-resume-deploy-{attempt}");
        let (ctx, id) = kill_after_create(&rt, &stack);
        let deploy = ironbark(&stack, &["deploy", "--env", "prod", "--yes"]);
        assert_eq!(deploy.status.code(), Some(0), "{}", text(&deploy));
        let err = String::from_utf8_lossy(&deploy.stderr);
        assert_eq!(
            rt.block_on(instance_status(&ctx, &id)).as_deref(),
            Some("available"),
            "deploy exited 0 before the database was available: {}",
            text(&deploy)
        );
        // The deploy's first look must have seen the instance in progress: then it may not
        // stop at "No changes", and must end only once the instance is available. A try whose
        // first look came after the create window proves nothing and is made again.
        if !err.contains("database/instance: in progress") {
            destroy(&stack);
            assert!(
                attempt + 1 < TRIES,
                "no deploy looked while the instance was creating: {}",
                text(&deploy)
            );
            continue;
        }
        // It went on (lock, second look, apply) instead of ending there. When its apply still
        // found the instance creating, it waited, reporting the wait, before calling it ready.
        if err.contains("database/instance: ready") {
            let waited = err.find("database/instance: waiting (creating)");
            assert!(
                waited.is_some() && waited < err.find("database/instance: ready"),
                "the wait is reported before the instance is ready: {}",
                text(&deploy)
            );
        }
        let again = ironbark(&stack, &["plan", "--env", "prod"]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        destroy(&stack);
        return;
    }
}
