//! A deploy interrupted at several points (the future dropped mid-flight, as a killed process
//! would stop), then re-run: exactly one VPC, the expected subnets and NAT gateways, no extra
//! Elastic IPs. The CLI-level SIGKILL test lives in the workspace's e2e tests.

use std::time::Duration;

use crate::{profile, Harness};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn interrupted_deploys_leave_nothing_extra() {
    let cfg = profile("prod");
    for (i, cut_ms) in [5u64, 40, 120, 300, 600].into_iter().enumerate() {
        let h = Harness::new(&format!("crash{i}")).await;
        // Interrupt twice at the same point, then let it finish.
        for _ in 0..2 {
            let run = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count);
            let _ = tokio::time::timeout(Duration::from_millis(cut_ms), run).await;
        }
        let done = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
            .await
            .unwrap();
        assert_eq!(
            h.census().await,
            (1, 9, 3, 3),
            "after interrupting at {cut_ms} ms"
        );
        let again = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
            .await
            .unwrap();
        assert!(
            !again.plan.has_changes(),
            "not converged after interrupting at {cut_ms} ms: {}",
            again.plan.render_human()
        );
        assert_eq!(again.outputs, done.outputs);
        ironbark_networking::destroy_networking(&h.ctx)
            .await
            .unwrap();
        assert_eq!(h.census().await, (0, 0, 0, 0));
    }
}
