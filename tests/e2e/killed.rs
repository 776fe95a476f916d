//! The CLI killed (SIGKILL) at several points during a fresh deploy, then re-run: exactly one
//! VPC, the expected subnets and NAT gateways, no extra Elastic IPs, and the killed run's
//! deploy lock taken over at once and released.

use std::process::Stdio;
use std::time::Duration;

use crate::{census, emulator_ctx, ironbark, ironbark_command, text};

const ACCOUNT: &str = "123456789012";

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn killed_deploys_are_finished_by_the_next_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (i, delay_ms) in [400u64, 700, 1000, 1400].into_iter().enumerate() {
        let stack = format!("e2e-killed-{i}");
        for _ in 0..2 {
            let mut child = ironbark_command(&stack, &["deploy", "--env", "prod", "--yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        // A run killed while holding the deploy lock left its lock behind: the next run
        // takes it over at once (its process is gone from this host) and says so.
        let orphaned = rt
            .block_on(ironbark_core::lock::holder(
                &emulator_ctx(&rt, &stack, "prod"),
                ACCOUNT,
            ))
            .unwrap();
        let finish = ironbark(&stack, &["deploy", "--env", "prod", "--yes"]);
        assert_eq!(finish.status.code(), Some(0), "{}", text(&finish));
        if let Some(orphan) = orphaned {
            let pid = orphan.record.unwrap().holder.pid;
            let err = String::from_utf8_lossy(&finish.stderr);
            assert!(
                err.contains("took over the lock") && err.contains(&format!("pid {pid}")),
                "{}",
                text(&finish)
            );
        }
        assert!(rt
            .block_on(ironbark_core::lock::holder(
                &emulator_ctx(&rt, &stack, "prod"),
                ACCOUNT
            ))
            .unwrap()
            .is_none());
        assert_eq!(
            rt.block_on(census(&stack)),
            (1, 9, 3, 3),
            "killed after {delay_ms} ms"
        );
        let plan = ironbark(&stack, &["plan", "--env", "prod"]);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "not converged after a kill at {delay_ms} ms: {}",
            text(&plan)
        );
        let destroy = ironbark(
            &stack,
            &["destroy", "--env", "prod", "--yes", "--allow-protected"],
        );
        assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
        assert_eq!(rt.block_on(census(&stack)), (0, 0, 0, 0));
    }
}
