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

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_deploy_killed_while_the_database_is_creating_is_in_progress_then_waited_for() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A try proves something only if the plan looked while the instance was still creating
    // (4.8 s at the tests' time scale); one that came back later is made again.
    for attempt in 0..4 {
        let stack = format!("e2e-resume-{attempt}");
        let ctx = emulator_ctx(&rt, &stack, "prod");
        let id =
            ironbark_database::instance::identifier_of(&ctx, ironbark_database::stack::INSTANCE);
        let mut child = ironbark_command(&stack, &["deploy", "--env", "prod", "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        while rt.block_on(instance_status(&ctx, &id)).is_none() {
            assert!(Instant::now() < deadline, "the deploy never created {id}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill(); // SIGKILL, right after the create call
        let _ = child.wait();

        let plan = ironbark(&stack, &["plan", "--env", "prod"]);
        let still_creating = rt.block_on(instance_status(&ctx, &id)).as_deref() == Some("creating");
        if still_creating {
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
        } else if attempt < 3 {
            // The plan came back after the instance was available: it proves nothing.
            let _ = ironbark(
                &stack,
                &["destroy", "--env", "prod", "--yes", "--allow-protected"],
            );
            continue;
        } else {
            panic!(
                "no plan came back while the instance was creating: {}",
                text(&plan)
            );
        }

        let deploy = ironbark(&stack, &["deploy", "--env", "prod", "--yes"]);
        assert_eq!(deploy.status.code(), Some(0), "{}", text(&deploy));
        let err = String::from_utf8_lossy(&deploy.stderr);
        assert!(
            err.contains("database/instance: waiting (creating)"),
            "{}",
            text(&deploy)
        );
        assert_eq!(
            rt.block_on(instance_status(&ctx, &id)).as_deref(),
            Some("available"),
            "deploy exited 0 before the database was available"
        );
        let again = ironbark(&stack, &["plan", "--env", "prod"]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        let destroy = ironbark(
            &stack,
            &["destroy", "--env", "prod", "--yes", "--allow-protected"],
        );
        assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
        return;
    }
}
