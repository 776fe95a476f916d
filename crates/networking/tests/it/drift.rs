//! Out-of-band drift: a route deleted, a security group rule added by hand, the default
//! security group given a rule, a tag removed. Plan shows each as a field diff; deploy repairs
//! exactly those, writing nothing else.

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Tag};
use ironbark_core::plan::Change;
use ironbark_core::Mode;

use crate::{profile, writes_between, Harness};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn drift_is_planned_field_by_field_and_repaired_alone() {
    let h = Harness::new("drift").await;
    let cfg = profile("dev");
    let out = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap()
        .outputs;
    let ec2 = h.ec2();

    // 1. A route deleted.
    let private_a = &out["route_table.private.us-east-1a"];
    ec2.delete_route()
        .route_table_id(private_a)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    // 2. An SG rule added by hand.
    let db = &out["security_group.db"];
    let ssh = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(
            IpRange::builder()
                .cidr_ip("0.0.0.0/0")
                .description("debugging")
                .build(),
        )
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(db)
        .ip_permissions(ssh.clone())
        .send()
        .await
        .unwrap();
    // 3. The default SG given a rule.
    let default = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .values(&out["vpc_id"])
                .build(),
        )
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&default)
        .ip_permissions(ssh)
        .send()
        .await
        .unwrap();
    // 4. A tag removed.
    let subnet = &out["subnet.public.us-east-1b"];
    ec2.delete_tags()
        .resources(subnet)
        .tags(Tag::builder().key("Owner").build())
        .send()
        .await
        .unwrap();

    // 5. A network ACL entry deleted.
    let acl = &out["nacl.database"];
    ec2.delete_network_acl_entry()
        .network_acl_id(acl)
        .egress(false)
        .rule_number(110)
        .send()
        .await
        .unwrap();

    // Plan: exactly five resources change, each with the drifted field.
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let plan = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap()
        .plan;
    assert_eq!(
        writes_between(&before, &h.requests()),
        Default::default(),
        "plan wrote"
    );
    let changed: Vec<(String, Vec<String>)> = plan
        .resources
        .iter()
        .filter_map(|r| match &r.change {
            Change::Update { fields } => Some((
                r.id.clone(),
                fields.iter().map(|f| f.field.clone()).collect(),
            )),
            Change::NoOp => None,
            other => panic!("unexpected {other:?} for {}", r.id),
        })
        .collect();
    let expected = vec![
        (
            "networking/default-security-group".to_owned(),
            vec!["ingress_rules".to_owned()],
        ),
        (
            "networking/subnet/public/us-east-1b".to_owned(),
            vec!["tags.Owner".to_owned()],
        ),
        (
            "networking/security-group/db/rules".to_owned(),
            vec!["ingress tcp 22 from 0.0.0.0/0".to_owned()],
        ),
        (
            "networking/nacl/database".to_owned(),
            vec!["ingress rule 110".to_owned()],
        ),
        (
            "networking/route-table/private/us-east-1a".to_owned(),
            vec!["route 0.0.0.0/0".to_owned()],
        ),
    ];
    let mut sorted = changed.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted, "{}", plan.render_human());

    // Deploy: only the drifted items are written.
    h.ctx.set_mode(Mode::Apply);
    let before = h.requests();
    let _ = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    let writes = writes_between(&before, &h.requests());
    let expected_writes: std::collections::BTreeMap<String, u64> = [
        ("ec2:CreateRoute".to_owned(), 1),
        ("ec2:RevokeSecurityGroupIngress".to_owned(), 2),
        ("ec2:CreateTags".to_owned(), 1),
        ("ec2:CreateNetworkAclEntry".to_owned(), 1),
    ]
    .into();
    assert_eq!(writes, expected_writes);

    // And it is converged again.
    let before = h.requests();
    let again = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_human());
    assert_eq!(writes_between(&before, &h.requests()), Default::default());
    ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
}
