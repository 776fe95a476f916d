//! Fresh create of the prod profile, a converged re-run with zero writes, destroy.

use ironbark_core::plan::Change;
use ironbark_core::Mode;

use crate::{profile, writes_between, Harness};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn prod_create_rerun_destroy() {
    let h = Harness::new("prod_lifecycle").await;
    let cfg = profile("prod");

    // Plan on nothing: everything is a create (the default SG and rule sets are updates).
    h.ctx.set_mode(Mode::Plan);
    let planned = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    let s = planned.plan.summary();
    assert_eq!(
        s.create,
        1 + 1 + 9 + 5 + 3 + 1 + 3 + 1 + 1 + 5 + 1,
        "{}",
        planned.plan.render_human()
    );
    assert_eq!(h.requests().writes, 0, "plan wrote");

    // Create.
    h.ctx.set_mode(Mode::Apply);
    let created = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    assert_eq!(created.plan.summary().create, s.create);
    assert!(created.outputs["vpc_id"].starts_with("vpc-"));
    assert_eq!(created.outputs["subnets.private"].split(',').count(), 3);
    assert!(created.outputs["nat.us-east-1c"].starts_with("nat-"));
    assert_eq!(h.census().await, (1, 9, 3, 3));

    // The default security group is empty.
    let ec2 = h.ec2();
    let default = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&created.outputs["vpc_id"])
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = &default.security_groups()[0];
    assert!(g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty());

    // Re-run: no changes, zero writes by the emulator's own count.
    let before = h.requests();
    let again = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    let after = h.requests();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_human());
    assert_eq!(writes_between(&before, &after), Default::default());
    assert_eq!(again.outputs, created.outputs);

    // Destroy: planned as deletions first, then done; nothing tagged with the stack is left.
    h.ctx.set_mode(Mode::Plan);
    let plan = ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
    assert!(plan.resources.iter().all(|r| r.change == Change::Delete));
    assert_eq!(
        plan.resources.len(),
        1 + 9 + 3 + 3 + 5 + 1 + 5 + 1 + 5 + 1,
        "{}",
        plan.render_human()
    );
    h.ctx.set_mode(Mode::Apply);
    ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
    assert_eq!(h.census().await, (0, 0, 0, 0));
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ironbark:stack")
                .values(h.ctx.stack())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(groups.security_groups().is_empty());
}
