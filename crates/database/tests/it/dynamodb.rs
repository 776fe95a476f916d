//! DynamoDB tables against the emulator: a fresh create with an index, TTL, point-in-time
//! recovery, a KMS key and deletion protection read back field by field; converged re-runs
//! with zero writes (from the emulator's log); an index added and another removed in place; a
//! billing switch; a key schema change refused with nothing written; destroy refused while
//! protected unless allowed.

use crate::{writes_between, Harness};
use ironbark_core::reconcile::ResourceError;
use ironbark_core::{Change, Mode};
use ironbark_database::dynamodb::{
    self, AttributeType, Billing, GsiSpec, KeyAttribute, Projection, TableDestroyOptions,
    TableSpec, Throughput,
};

impl Harness {
    fn ddb(&self) -> aws_sdk_dynamodb::Client {
        ironbark_core::sdk_client!(self.ctx, aws_sdk_dynamodb)
    }

    async fn table(&self, name: &str) -> Option<aws_sdk_dynamodb::types::TableDescription> {
        match self.ddb().describe_table().table_name(name).send().await {
            Ok(out) => out.table,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_dynamodb::operation::describe_table::DescribeTableError::is_resource_not_found_exception) =>
            {
                None
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/jobs-key";

fn gsi(name: &str, pk: &str, projection: Projection) -> GsiSpec {
    GsiSpec {
        name: name.into(),
        partition_key: KeyAttribute::new(pk, AttributeType::S),
        sort_key: Some(KeyAttribute::new("created_at", AttributeType::N)),
        projection,
        throughput: None,
    }
}

/// Seed 002's jobs table: job metadata with a TTL.
fn jobs() -> TableSpec {
    TableSpec {
        logical_id: "database/dynamodb/jobs".into(),
        partition_key: KeyAttribute::new("job_id", AttributeType::S),
        sort_key: Some(KeyAttribute::new("version", AttributeType::N)),
        global_secondary_indexes: vec![gsi(
            "by-status",
            "status",
            Projection::Include(vec!["owner".into(), "progress".into()]),
        )],
        billing: Billing::OnDemand,
        ttl_attribute: Some("expires_at".into()),
        point_in_time_recovery: true,
        kms_key_arn: Some(KEY_ARN.into()),
        deletion_protection: true,
    }
}

async fn assert_converged(h: &Harness, spec: &TableSpec) {
    for mode in [Mode::Plan, Mode::Apply] {
        h.ctx.set_mode(mode);
        let before = h.requests();
        let out = dynamodb::ensure_table(&h.ctx, spec).await.unwrap();
        assert_eq!(out.change.change, Change::NoOp, "{out:?}");
        let after = h.requests();
        assert_eq!(
            after.writes,
            before.writes,
            "{:?}",
            writes_between(&before, &after)
        );
    }
    h.ctx.set_mode(Mode::Apply);
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn table_create_read_back_and_rerun() {
    let h = Harness::new("ddb", "table_create", "dev").await;
    let spec = jobs();

    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    assert!(matches!(planned.change.change, Change::Create { .. }));
    assert!(planned.table_arn.is_none());
    assert_eq!(h.requests().writes, before.writes);

    h.ctx.set_mode(Mode::Apply);
    let out = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    assert!(matches!(out.change.change, Change::Create { .. }));
    let arn = out.table_arn.clone().expect("an ARN");

    let t = h.table(&out.table_name).await.unwrap();
    assert_eq!(t.table_arn(), Some(arn.as_str()));
    assert_eq!(
        t.table_status()
            .map(aws_sdk_dynamodb::types::TableStatus::as_str),
        Some("ACTIVE")
    );
    let keys: Vec<(&str, &str)> = t
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, [("job_id", "HASH"), ("version", "RANGE")]);
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(aws_sdk_dynamodb::types::BillingMode::as_str),
        Some("PAY_PER_REQUEST")
    );
    let g = &t.global_secondary_indexes()[0];
    assert_eq!(g.index_name(), Some("by-status"));
    let gkeys: Vec<&str> = g
        .key_schema()
        .iter()
        .map(aws_sdk_dynamodb::types::KeySchemaElement::attribute_name)
        .collect();
    assert_eq!(gkeys, ["status", "created_at"]);
    let p = g.projection().unwrap();
    assert_eq!(
        p.projection_type()
            .map(aws_sdk_dynamodb::types::ProjectionType::as_str),
        Some("INCLUDE")
    );
    assert_eq!(p.non_key_attributes(), ["owner", "progress"]);
    let sse = t.sse_description().unwrap();
    assert_eq!(
        sse.status().map(aws_sdk_dynamodb::types::SseStatus::as_str),
        Some("ENABLED")
    );
    assert_eq!(
        sse.sse_type().map(aws_sdk_dynamodb::types::SseType::as_str),
        Some("KMS")
    );
    assert_eq!(sse.kms_master_key_arn(), Some(KEY_ARN));
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let ttl = h
        .ddb()
        .describe_time_to_live()
        .table_name(&out.table_name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        ttl.time_to_live_status()
            .map(aws_sdk_dynamodb::types::TimeToLiveStatus::as_str),
        Some("ENABLED")
    );
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    let backups = h
        .ddb()
        .describe_continuous_backups()
        .table_name(&out.table_name)
        .send()
        .await
        .unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
    let tags = h
        .ddb()
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "ironbark:id" && t.value() == "database/dynamodb/jobs"));

    assert_converged(&h, &spec).await;
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn table_indexes_and_billing_change_in_place() {
    let h = Harness::new("ddb", "table_update", "dev").await;
    let mut spec = jobs();
    spec.deletion_protection = false;
    spec.global_secondary_indexes
        .push(gsi("by-owner", "owner", Projection::KeysOnly));
    let out = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    assert_eq!(
        h.table(&out.table_name)
            .await
            .unwrap()
            .global_secondary_indexes()
            .len(),
        2
    );

    // Remove by-status, add by-queue: one index change per call.
    let mut swapped = spec.clone();
    swapped.global_secondary_indexes = vec![
        gsi("by-owner", "owner", Projection::KeysOnly),
        gsi("by-queue", "queue", Projection::All),
    ];
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = dynamodb::ensure_table(&h.ctx, &swapped).await.unwrap();
    match &planned.change.change {
        Change::Update { fields } => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(
                names,
                [
                    "global_secondary_indexes.by-status",
                    "global_secondary_indexes.by-queue"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.requests().writes, before.writes);
    h.ctx.set_mode(Mode::Apply);
    let before = h.requests();
    let _ = dynamodb::ensure_table(&h.ctx, &swapped).await.unwrap();
    let after = h.requests();
    assert_eq!(
        after.by_operation["dynamodb:UpdateTable"].count
            - before
                .by_operation
                .get("dynamodb:UpdateTable")
                .map_or(0, |s| s.count),
        2,
        "one UpdateTable per index change"
    );
    let t = h.table(&out.table_name).await.unwrap();
    let mut names: Vec<&str> = t
        .global_secondary_indexes()
        .iter()
        .filter_map(|g| g.index_name())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["by-owner", "by-queue"]);
    assert_converged(&h, &swapped).await;

    // On demand -> provisioned, the indexes following the table's capacity.
    let mut provisioned = swapped.clone();
    provisioned.billing = Billing::Provisioned(Throughput { read: 5, write: 3 });
    let out = dynamodb::ensure_table(&h.ctx, &provisioned).await.unwrap();
    match &out.change.change {
        Change::Update { fields } => assert_eq!(fields[0].field, "billing"),
        other => panic!("{other:?}"),
    }
    let t = h.table(&out.table_name).await.unwrap();
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(aws_sdk_dynamodb::types::BillingMode::as_str),
        Some("PROVISIONED")
    );
    let tp = t.provisioned_throughput().unwrap();
    assert_eq!(
        (tp.read_capacity_units(), tp.write_capacity_units()),
        (Some(5), Some(3))
    );
    for g in t.global_secondary_indexes() {
        let gp = g.provisioned_throughput().unwrap();
        assert_eq!(
            (gp.read_capacity_units(), gp.write_capacity_units()),
            (Some(5), Some(3)),
            "{:?}",
            g.index_name()
        );
    }
    assert_converged(&h, &provisioned).await;
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn table_key_change_refused_and_protected_destroy() {
    let h = Harness::new("ddb", "table_refuse", "dev").await;
    let spec = jobs();
    let out = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    let before = h.requests();

    // A new sort key needs a new table: refused in plan and apply, nothing written.
    let mut rekeyed = spec.clone();
    rekeyed.sort_key = Some(KeyAttribute::new("version", AttributeType::S));
    h.ctx.set_mode(Mode::Plan);
    let planned = dynamodb::ensure_table(&h.ctx, &rekeyed).await.unwrap();
    assert!(
        matches!(&planned.change.change, Change::Refused { field, .. } if field.starts_with("sort_key")),
        "{planned:?}"
    );
    h.ctx.set_mode(Mode::Apply);
    let err = dynamodb::ensure_table(&h.ctx, &rekeyed).await.unwrap_err();
    assert!(
        matches!(err.resource(), Some(ResourceError::Refused { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("sort_key"), "{err}");

    // Destroy of a protected table: refused (plan and apply) unless allowed.
    let opts = TableDestroyOptions::default();
    h.ctx.set_mode(Mode::Plan);
    let planned = dynamodb::destroy_table(&h.ctx, &spec.logical_id, opts)
        .await
        .unwrap();
    assert!(
        matches!(&planned.change, Change::Refused { field, .. } if field == "deletion_protection")
    );
    h.ctx.set_mode(Mode::Apply);
    let err = dynamodb::destroy_table(&h.ctx, &spec.logical_id, opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deletion_protection"), "{err}");
    let after = h.requests();
    assert_eq!(
        after.writes,
        before.writes,
        "{:?}",
        writes_between(&before, &after)
    );
    assert!(h.table(&out.table_name).await.is_some());

    let allowed = TableDestroyOptions {
        allow_protected: true,
    };
    let gone = dynamodb::destroy_table(&h.ctx, &spec.logical_id, allowed)
        .await
        .unwrap();
    assert_eq!(gone.change, Change::Delete);
    assert!(h.table(&out.table_name).await.is_none());
    let before = h.requests();
    let again = dynamodb::destroy_table(&h.ctx, &spec.logical_id, allowed)
        .await
        .unwrap();
    assert_eq!(again.change, Change::NoOp);
    assert_eq!(h.requests().writes, before.writes);
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn table_settings_and_tag_drift() {
    let h = Harness::new("ddb", "table_settings", "dev").await;
    let spec = jobs();
    let out = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    let arn = out.table_arn.clone().unwrap();

    // Out of band: the Env tag is changed. The re-run fixes only that.
    h.ddb()
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key("Env")
                .value("drifted")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let before = h.requests();
    let fixed = dynamodb::ensure_table(&h.ctx, &spec).await.unwrap();
    match &fixed.change.change {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "tags.Env");
            assert_eq!(fields[0].old.as_deref(), Some("drifted"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        writes_between(&before, &h.requests()),
        ["dynamodb:TagResource"]
    );
    assert_converged(&h, &spec).await;

    // TTL and PITR off, protection off: all in place.
    let mut relaxed = spec.clone();
    relaxed.ttl_attribute = None;
    relaxed.point_in_time_recovery = false;
    relaxed.deletion_protection = false;
    let out = dynamodb::ensure_table(&h.ctx, &relaxed).await.unwrap();
    match &out.change.change {
        Change::Update { fields } => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(
                names,
                [
                    "ttl_attribute",
                    "point_in_time_recovery",
                    "deletion_protection"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let t = h.table(&out.table_name).await.unwrap();
    assert_eq!(t.deletion_protection_enabled(), Some(false));
    let ttl = h
        .ddb()
        .describe_time_to_live()
        .table_name(&out.table_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.time_to_live_status())
            .map(aws_sdk_dynamodb::types::TimeToLiveStatus::as_str),
        Some("DISABLED")
    );
    assert_converged(&h, &relaxed).await;

    // Another KMS key is an in-place update (planned only: the emulator ignores
    // UpdateTable's SSESpecification).
    let mut rekeyed = relaxed.clone();
    rekeyed.kms_key_arn = Some("arn:aws:kms:us-east-1:123456789012:key/other-key".into());
    h.ctx.set_mode(Mode::Plan);
    let planned = dynamodb::ensure_table(&h.ctx, &rekeyed).await.unwrap();
    match &planned.change.change {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "kms_key_arn");
            assert_eq!(fields[0].new.as_deref(), rekeyed.kms_key_arn.as_deref());
        }
        other => panic!("{other:?}"),
    }
    h.ctx.set_mode(Mode::Apply);

    // A TTL attribute rename is refused (AWS: one TTL change per hour).
    let mut renamed = relaxed.clone();
    renamed.ttl_attribute = Some("expires_at".into());
    let mut on = relaxed.clone();
    on.ttl_attribute = Some("ttl".into());
    let _ = dynamodb::ensure_table(&h.ctx, &on).await.unwrap();
    h.ctx.set_mode(Mode::Plan);
    let planned = dynamodb::ensure_table(&h.ctx, &renamed).await.unwrap();
    assert!(
        matches!(&planned.change.change, Change::Refused { field, .. } if field.starts_with("ttl_attribute")),
        "{planned:?}"
    );
}
