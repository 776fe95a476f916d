//! Observe by kind (issue 11, point 8): a converged re-run of the prod networking stack reads
//! each kind with many resources once (one tag-filtered, paginated call for all of them), and
//! writes nothing.

use std::collections::BTreeMap;

use ironbark_core::Mode;
use ironbark_testkit::LogSummary;

use crate::{profile, writes_between, Harness};

/// Counts per read operation between two summaries of the same caller.
fn reads_between(before: &LogSummary, after: &LogSummary) -> BTreeMap<String, u64> {
    after
        .by_operation
        .iter()
        .filter(|(_, s)| s.class != "write")
        .map(|(op, s)| {
            let earlier = before.by_operation.get(op).map_or(0, |b| b.count);
            (op.clone(), s.count.saturating_sub(earlier))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_converged_prod_plan_reads_each_kind_once() {
    let h = Harness::new("prod_reads").await;
    let cfg = profile("prod");
    let created = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    let resources = created.plan.resources.len();

    for mode in [Mode::Plan, Mode::Apply] {
        h.ctx.set_mode(mode);
        let before = h.requests();
        let again = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
            .await
            .unwrap();
        let after = h.requests();
        assert!(!again.plan.has_changes(), "{}", again.plan.render_human());
        assert_eq!(writes_between(&before, &after), BTreeMap::new());
        let reads = reads_between(&before, &after);
        let total: u64 = reads.values().sum();
        eprintln!("{mode:?}: {total} reads for {resources} resources: {reads:#?}");
        // One read per kind for the kinds with many resources (main had 9 DescribeSubnets,
        // 6 DescribeSecurityGroups, 5 DescribeSecurityGroupRules, 5 DescribeRouteTables and
        // 6 DescribeVpcEndpoints: 38 reads in all).
        for (op, most) in [
            ("ec2:DescribeSubnets", 1),
            ("ec2:DescribeRouteTables", 1),
            ("ec2:DescribeSecurityGroupRules", 1),
            // The stack's groups, and the VPC's default group.
            ("ec2:DescribeSecurityGroups", 2),
            // Interface endpoints, then gateway endpoints once the route tables exist.
            ("ec2:DescribeVpcEndpoints", 2),
            ("ec2:DescribeNatGateways", 1),
            ("ec2:DescribeNetworkAcls", 1),
        ] {
            let made = reads.get(op).copied().unwrap_or(0);
            assert!(
                made <= most,
                "{mode:?}: {made} {op}, at most {most}: {reads:#?}"
            );
        }
        assert!(
            total <= 14,
            "{mode:?}: {total} reads for {resources} resources: {reads:#?}"
        );
        assert!(
            total * 10 <= resources as u64 * 8,
            "{mode:?}: more than 0.8 reads per resource"
        );
    }
    ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
}
