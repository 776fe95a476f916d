//! dev -> prod sizing (2 -> 3 AZs, 1 -> 3 NAT gateways) is an in-place plan: exactly the added
//! subnets, NATs and route tables are created, existing subnets stay, routes are repointed.
//! And back: prod -> dev sizing deletes the extra NATs and releases their Elastic IPs.

use std::collections::BTreeMap;

use ironbark_core::plan::Change;
use ironbark_core::Mode;

use crate::{profile, Harness};

fn changes(plan: &ironbark_core::Plan) -> BTreeMap<String, char> {
    plan.resources
        .iter()
        .filter(|r| r.change.is_change())
        .map(|r| (r.id.clone(), r.change.symbol()))
        .collect()
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn growing_from_dev_to_prod_sizing_is_in_place() {
    let h = Harness::new("growth").await;
    let dev = profile("dev");
    let created = ironbark_networking::ensure_networking(&h.ctx, &dev.networking, dev.az_count)
        .await
        .unwrap()
        .outputs;
    assert_eq!(h.census().await, (1, 6, 1, 1));

    // prod sizing on the same VPC CIDR.
    let mut grown = profile("prod");
    grown.networking.vpc_cidr = dev.networking.vpc_cidr.clone();
    h.ctx.set_mode(Mode::Plan);
    let plan = ironbark_networking::ensure_networking(&h.ctx, &grown.networking, grown.az_count)
        .await
        .unwrap()
        .plan;
    let expected: BTreeMap<String, char> = [
        ("networking/subnet/public/us-east-1c", '+'),
        ("networking/subnet/private/us-east-1c", '+'),
        ("networking/subnet/database/us-east-1c", '+'),
        ("networking/nat/us-east-1b", '+'),
        ("networking/nat/us-east-1c", '+'),
        ("networking/route-table/private/us-east-1c", '+'),
        // The b table's default route moves from the single NAT to b's own.
        ("networking/route-table/private/us-east-1b", '~'),
        // The new AZ's subnets join the shared tables; the endpoint gets the new table.
        ("networking/route-table/public", '~'),
        ("networking/route-table/isolated", '~'),
        ("networking/endpoint/s3", '~'),
        // Interface endpoints get a subnet in the new AZ.
        ("networking/endpoint/secretsmanager", '~'),
        ("networking/endpoint/logs", '~'),
        ("networking/endpoint/ecr.api", '~'),
        ("networking/endpoint/ecr.dkr", '~'),
        ("networking/endpoint/sts", '~'),
        // The database tier's new subnet joins its network ACL.
        ("networking/nacl/database", '~'),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(changes(&plan), expected, "{}", plan.render_human());
    assert!(!plan.has_refusals());

    h.ctx.set_mode(Mode::Apply);
    let grown_out =
        ironbark_networking::ensure_networking(&h.ctx, &grown.networking, grown.az_count)
            .await
            .unwrap()
            .outputs;
    assert_eq!(h.census().await, (1, 9, 3, 3));
    for key in [
        "vpc_id",
        "subnet.public.us-east-1a",
        "subnet.private.us-east-1b",
        "nat.us-east-1a",
    ] {
        assert_eq!(grown_out[key], created[key], "{key} was replaced");
    }

    // Back to dev sizing: the extra NATs go (after their routes are repointed), their EIPs are
    // released; the third AZ's subnets are not deleted implicitly (only the plan lists them).
    let mut shrunk = dev.clone();
    shrunk.az_count = 3;
    let back = ironbark_networking::ensure_networking(&h.ctx, &shrunk.networking, shrunk.az_count)
        .await
        .unwrap()
        .plan;
    let deleted: Vec<&str> = back
        .resources
        .iter()
        .filter(|r| r.change == Change::Delete)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        deleted,
        ["networking/nat/us-east-1b", "networking/nat/us-east-1c"]
    );
    assert_eq!(h.census().await, (1, 9, 1, 1));
    let again = ironbark_networking::ensure_networking(&h.ctx, &shrunk.networking, shrunk.az_count)
        .await
        .unwrap()
        .plan;
    assert!(!again.has_changes(), "{}", again.render_human());
    ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
    assert_eq!(h.census().await, (0, 0, 0, 0));
}
