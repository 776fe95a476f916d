//! ElastiCache Redis against the emulator: a fresh create read back from
//! `DescribeReplicationGroups` and `DescribeCacheClusters`, converged re-runs with zero writes
//! (from the emulator's log), a node type change and replica count changes in place, an
//! at-rest-encryption change refused with nothing written, an interrupted create resumed,
//! destroy, and the AUTH token never showing anywhere.
//!
//! The emulator's time scale is left as `cargo xtask test` sets it (0.01: a create takes 6 s);
//! it is global to the emulator, so these tests never change it.

use std::time::Duration;

use ironbark_core::plan::Plan;
use ironbark_core::reconcile::ResourceError;
use ironbark_core::{Change, Mode};
use ironbark_database::cache::{self, CacheDestroyOptions, CacheSubnetGroupSpec, RedisSpec, PORT};
use ironbark_testkit::LogSummary;

use crate::{writes_between, Harness};

/// The AUTH token the tests store; it must never appear in any output.
const TOKEN: &str = "Sup3r-Secret-Auth-Token-42xyz";

impl Harness {
    fn ec(&self) -> aws_sdk_elasticache::Client {
        ironbark_core::sdk_client!(self.ctx, aws_sdk_elasticache)
    }

    /// A Secrets Manager secret holding `value`, made with a plain client.
    async fn secret(&self, value: &str) -> String {
        let sm = ironbark_core::sdk_client!(self.ctx, aws_sdk_secretsmanager);
        sm.create_secret()
            .name(format!("{}/redis-auth", self.ctx.stack()))
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap()
    }

    /// The replication group as AWS describes it.
    async fn describe(&self, id: &str) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
        match self
            .ec()
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            Ok(out) => out.replication_groups().first().cloned(),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    aws_sdk_elasticache::error::ProvideErrorMetadata::code(s)
                        == Some("ReplicationGroupNotFoundFault")
                }) =>
            {
                None
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

fn count(summary: &LogSummary, op: &str) -> u64 {
    summary.by_operation.get(op).map_or(0, |s| s.count)
}

/// Subnets and security groups need not exist: the emulator accepts unknown ids here.
fn redis(secret: Option<String>, num_nodes: u8) -> RedisSpec {
    RedisSpec {
        logical_id: "database/cache".into(),
        description: "app cache".into(),
        subnet_group: CacheSubnetGroupSpec {
            logical_id: "database/cache-subnets".into(),
            description: "cache subnets".into(),
            subnet_ids: vec!["subnet-0aaa".into(), "subnet-0bbb".into()],
        },
        node_type: "cache.t3.micro".into(),
        num_nodes,
        engine_version: "7.1".into(),
        security_group_ids: vec!["sg-0cache".into()],
        at_rest_encryption: true,
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/cache-key".into()),
        transit_encryption: true,
        auth_token_secret_arn: secret,
        snapshot_retention_days: 3,
        maintenance_window: Some("sun:05:00-sun:06:00".into()),
        apply_immediately: true,
    }
}

fn rg_change(out: &cache::RedisOutcome) -> &Change {
    &out.changes[1].change
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn redis_create_rerun_and_node_type_change() {
    let h = Harness::new("ec", "redis_create", "dev").await;
    let arn = h.secret(TOKEN).await;
    let spec = redis(Some(arn), 2);

    // Plan mode: a create, nothing written.
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
    assert!(matches!(planned.changes[0].change, Change::Create { .. }));
    assert!(matches!(rg_change(&planned), Change::Create { .. }));
    assert!(planned.primary_endpoint.is_none());
    let after = h.requests();
    assert!(writes_between(&before, &after).is_empty());
    assert_eq!(count(&after, "secretsmanager:GetSecretValue"), 0);

    // Apply: created and available.
    h.ctx.set_mode(Mode::Apply);
    let out = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
    assert!(matches!(rg_change(&out), Change::Create { .. }));
    let primary = out.primary_endpoint.clone().expect("a primary endpoint");
    assert_eq!(primary.port, PORT);
    assert!(!primary.address.is_empty());
    assert_eq!(count(&h.requests(), "secretsmanager:GetSecretValue"), 1);

    // Read back every setting AWS reports on the group.
    let rg = h.describe(&out.replication_group_id).await.unwrap();
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.description(), Some("app cache"));
    assert_eq!(rg.engine(), Some("redis"));
    assert_eq!(rg.cache_node_type(), Some("cache.t3.micro"));
    assert_eq!(rg.member_clusters().len(), 2);
    assert_eq!(
        rg.automatic_failover()
            .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
        Some("enabled")
    );
    assert_eq!(
        rg.multi_az()
            .map(aws_sdk_elasticache::types::MultiAzStatus::as_str),
        Some("enabled")
    );
    assert_eq!(rg.at_rest_encryption_enabled(), Some(true));
    assert_eq!(rg.kms_key_id(), spec.kms_key_id.as_deref());
    assert_eq!(rg.transit_encryption_enabled(), Some(true));
    assert_eq!(rg.auth_token_enabled(), Some(true));
    assert_eq!(rg.snapshot_retention_limit(), Some(3));
    assert_eq!(rg.cluster_enabled(), Some(false));
    let ng = &rg.node_groups()[0];
    assert_eq!(
        ng.primary_endpoint()
            .and_then(aws_sdk_elasticache::types::Endpoint::port),
        Some(i32::from(PORT))
    );
    let tags = h
        .ec()
        .list_tags_for_resource()
        .resource_name(rg.arn().unwrap())
        .send()
        .await
        .unwrap();
    let id_tag = tags
        .tag_list()
        .iter()
        .find(|t| t.key() == Some("ironbark:id"))
        .and_then(|t| t.value());
    assert_eq!(id_tag, Some("database/cache"));
    let groups = h
        .ec()
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(out.changes[0].physical_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    let mut subnets: Vec<&str> = groups.cache_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort_unstable();
    assert_eq!(subnets, ["subnet-0aaa", "subnet-0bbb"]);

    // Re-runs, plan then apply: no change, no write, the secret not read again.
    for mode in [Mode::Plan, Mode::Apply] {
        h.ctx.set_mode(mode);
        let before = h.requests();
        let again = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
        assert!(
            again.changes.iter().all(|c| c.change == Change::NoOp),
            "{again:?}"
        );
        assert_eq!(again.primary_endpoint, Some(primary.clone()));
        let after = h.requests();
        assert_eq!(
            after.writes,
            before.writes,
            "{:?}",
            writes_between(&before, &after)
        );
        assert_eq!(count(&after, "secretsmanager:GetSecretValue"), 1);
    }

    // Node type: planned as an in-place update, then applied in place.
    let mut bigger = spec.clone();
    bigger.node_type = "cache.t3.small".into();
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = cache::ensure_redis(&h.ctx, &bigger).await.unwrap();
    match rg_change(&planned) {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "node_type");
            assert_eq!(fields[0].old.as_deref(), Some("cache.t3.micro"));
            assert_eq!(fields[0].new.as_deref(), Some("cache.t3.small"));
        }
        other => panic!("{other:?}"),
    }
    assert!(writes_between(&before, &h.requests()).is_empty());
    h.ctx.set_mode(Mode::Apply);
    let before = h.requests();
    let updated = cache::ensure_redis(&h.ctx, &bigger).await.unwrap();
    assert!(matches!(rg_change(&updated), Change::Update { .. }));
    assert_eq!(
        writes_between(&before, &h.requests()),
        ["elasticache:ModifyReplicationGroup"]
    );
    let rg = h.describe(&updated.replication_group_id).await.unwrap();
    assert_eq!(rg.cache_node_type(), Some("cache.t3.small"));
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.member_clusters().len(), 2);

    // Out of band: snapshot retention changed. The re-run fixes only that.
    h.ec()
        .modify_replication_group()
        .replication_group_id(&updated.replication_group_id)
        .snapshot_retention_limit(9)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let before = h.requests();
    let fixed = cache::ensure_redis(&h.ctx, &bigger).await.unwrap();
    match rg_change(&fixed) {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "snapshot_retention_days");
            assert_eq!(fields[0].old.as_deref(), Some("9"));
            assert_eq!(fields[0].new.as_deref(), Some("3"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        writes_between(&before, &h.requests()),
        ["elasticache:ModifyReplicationGroup"]
    );
    let rg = h.describe(&updated.replication_group_id).await.unwrap();
    assert_eq!(rg.snapshot_retention_limit(), Some(3));

    // The member-cluster fields are observed (DescribeCacheClusters), and so is the reader.
    let observed = cache::find_replication_group(&h.ctx, &updated.replication_group_id)
        .await
        .unwrap()
        .unwrap();
    assert!(observed
        .engine_version
        .as_deref()
        .is_some_and(|v| v.starts_with("7.1")));
    assert_eq!(
        observed.subnet_group.as_deref(),
        out.changes[0].physical_id.as_deref()
    );
    assert_eq!(
        observed.security_group_ids.as_deref(),
        Some(&["sg-0cache".to_owned()][..])
    );
    assert_eq!(
        observed.maintenance_window.as_deref(),
        Some("sun:05:00-sun:06:00")
    );
    assert!(out.reader_endpoint.is_some(), "{out:?}");

    // Replica count 1 -> 2: planned as an update, applied in place with IncreaseReplicaCount.
    let mut three = bigger.clone();
    three.num_nodes = 3;
    h.ctx.set_mode(Mode::Plan);
    let planned = cache::ensure_redis(&h.ctx, &three).await.unwrap();
    match rg_change(&planned) {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "num_nodes");
            assert_eq!(fields[0].old.as_deref(), Some("2"));
            assert_eq!(fields[0].new.as_deref(), Some("3"));
        }
        other => panic!("{other:?}"),
    }
    h.ctx.set_mode(Mode::Apply);
    let before = h.requests();
    let grown = cache::ensure_redis(&h.ctx, &three).await.unwrap();
    assert!(matches!(rg_change(&grown), Change::Update { .. }));
    assert_eq!(
        writes_between(&before, &h.requests()),
        ["elasticache:IncreaseReplicaCount"]
    );
    let rg = h.describe(&grown.replication_group_id).await.unwrap();
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.member_clusters().len(), 3);
    assert_eq!(rg.node_groups()[0].node_group_members().len(), 3);

    // Down to one node: failover and Multi-AZ off first, then DecreaseReplicaCount.
    let mut one = bigger.clone();
    one.num_nodes = 1;
    let before = h.requests();
    let shrunk = cache::ensure_redis(&h.ctx, &one).await.unwrap();
    assert_eq!(
        update_field_names(rg_change(&shrunk)),
        ["num_nodes", "automatic_failover", "multi_az"]
    );
    let mut writes = writes_between(&before, &h.requests());
    writes.sort();
    assert_eq!(
        writes,
        [
            "elasticache:DecreaseReplicaCount",
            "elasticache:ModifyReplicationGroup"
        ]
    );
    let rg = h.describe(&shrunk.replication_group_id).await.unwrap();
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.member_clusters().len(), 1);
    assert_eq!(
        rg.automatic_failover()
            .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
        Some("disabled")
    );
    assert_eq!(
        rg.multi_az()
            .map(aws_sdk_elasticache::types::MultiAzStatus::as_str),
        Some("disabled")
    );

    // Back up to two nodes: IncreaseReplicaCount first, then failover and Multi-AZ on.
    let before = h.requests();
    let regrown = cache::ensure_redis(&h.ctx, &bigger).await.unwrap();
    assert!(matches!(rg_change(&regrown), Change::Update { .. }));
    let mut writes = writes_between(&before, &h.requests());
    writes.sort();
    assert_eq!(
        writes,
        [
            "elasticache:IncreaseReplicaCount",
            "elasticache:ModifyReplicationGroup"
        ]
    );
    let rg = h.describe(&regrown.replication_group_id).await.unwrap();
    assert_eq!(rg.member_clusters().len(), 2);
    assert_eq!(
        rg.automatic_failover()
            .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
        Some("enabled")
    );

    // Converged again: no write.
    let before = h.requests();
    let again = cache::ensure_redis(&h.ctx, &bigger).await.unwrap();
    assert!(
        again.changes.iter().all(|c| c.change == Change::NoOp),
        "{again:?}"
    );
    assert_eq!(h.requests().writes, before.writes);
}

fn update_field_names(change: &Change) -> Vec<&str> {
    match change {
        Change::Update { fields } => fields.iter().map(|f| f.field.as_str()).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn redis_refusal_writes_nothing_and_token_never_shows() {
    let h = Harness::new("ec", "redis_refuse", "dev").await;
    let arn = h.secret(&format!("{{\"token\": \"{TOKEN}\"}}")).await;
    let spec = redis(Some(arn.clone()), 1);
    let out = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
    let rg = h.describe(&out.replication_group_id).await.unwrap();
    assert_eq!(rg.member_clusters().len(), 1);
    assert_eq!(
        rg.automatic_failover()
            .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
        Some("disabled")
    );
    assert_eq!(
        rg.multi_az()
            .map(aws_sdk_elasticache::types::MultiAzStatus::as_str),
        Some("disabled")
    );
    assert_eq!(rg.auth_token_enabled(), Some(true));

    let mut plain = spec.clone();
    plain.at_rest_encryption = false;
    plain.kms_key_id = None;
    // Plan: refused, naming the field; nothing written.
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = cache::ensure_redis(&h.ctx, &plain).await.unwrap();
    match rg_change(&planned) {
        Change::Refused { field, reason } => {
            assert!(field.starts_with("at_rest_encryption"), "{field}");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // Apply: an error naming the field; nothing written.
    h.ctx.set_mode(Mode::Apply);
    let err = cache::ensure_redis(&h.ctx, &plain).await.unwrap_err();
    assert!(matches!(
        err.resource(),
        Some(ResourceError::Refused { .. })
    ));
    assert!(err.to_string().contains("at_rest_encryption"), "{err}");
    let after = h.requests();
    assert_eq!(
        after.writes,
        before.writes,
        "{:?}",
        writes_between(&before, &after)
    );
    let rg = h.describe(&out.replication_group_id).await.unwrap();
    assert_eq!(rg.at_rest_encryption_enabled(), Some(true));

    // A token AWS would reject: the error names the secret, never its value.
    let other = Harness::new("ec", "redis_badtoken", "dev").await;
    let bad = format!("{TOKEN}@");
    let bad_arn = other.secret(&bad).await;
    let bad_err = cache::ensure_redis(&other.ctx, &redis(Some(bad_arn.clone()), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(bad_err.resource(), Some(ResourceError::InvalidSpec { .. })),
        "{bad_err:?}"
    );
    assert!(bad_err.to_string().contains(&bad_arn));

    // Nowhere: outcome, plans (human and JSON), errors, events.
    let mut plan = Plan::default();
    for c in out.changes.iter().chain(&planned.changes) {
        plan.push(c.clone());
    }
    let mut create_plan = Plan::default();
    h.ctx.set_mode(Mode::Plan);
    let mut fresh = spec.clone();
    fresh.logical_id = "database/cache-two".into();
    let planned_create = cache::ensure_redis(&h.ctx, &fresh).await.unwrap();
    for c in planned_create.changes {
        create_plan.push(c);
    }
    assert!(create_plan
        .render_human()
        .contains("auth_token: (sensitive)"));
    let texts = [
        format!("{out:?}"),
        format!("{planned:?}"),
        plan.render_human(),
        plan.to_json().to_string(),
        create_plan.render_human(),
        create_plan.to_json().to_string(),
        format!("{err} {err:?}"),
        format!("{bad_err} {bad_err:?}"),
        format!("{:?} {:?}", h.events.events(), other.events.events()),
        format!("{spec:?}"),
    ];
    for text in texts {
        assert!(!text.contains(TOKEN), "the token leaked into: {text}");
        assert!(
            !text.contains("Secret-Auth"),
            "part of the token leaked into: {text}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn redis_interrupted_create_resumes() {
    let h = Harness::new("ec", "redis_resume", "dev").await;
    let spec = redis(None, 1);
    // Killed while waiting (creation takes 600 s scaled, 6 s at the test time scale).
    let id = cache::replication_group_id_of(&h.ctx, &spec.logical_id);
    crate::interrupt_when(
        cache::ensure_redis(&h.ctx, &spec),
        || async { h.logged("elasticache:CreateReplicationGroup") },
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(h.describe(&id).await.unwrap().status(), Some("creating"));
    // The next run waits for it: no create, no write, no "already exists".
    let before = h.requests();
    let out = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
    // The subnet group is converged; the group still creating is planned as in progress
    // (the kit's `Change::InProgress`: a deploy waits for it) and waited for, not re-created.
    let changes: Vec<&Change> = out.changes.iter().map(|c| &c.change).collect();
    assert_eq!(
        changes,
        [
            &Change::NoOp,
            &Change::InProgress {
                status: "creating".into()
            }
        ],
        "{out:?}"
    );
    let after = h.requests();
    assert_eq!(
        after.writes,
        before.writes,
        "{:?}",
        writes_between(&before, &after)
    );
    assert_eq!(h.describe(&id).await.unwrap().status(), Some("available"));
    assert!(out.primary_endpoint.is_some());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn redis_destroy_then_noop() {
    let h = Harness::new("ec", "redis_destroy", "dev").await;
    let spec = redis(None, 1);
    let out = cache::ensure_redis(&h.ctx, &spec).await.unwrap();
    let opts = CacheDestroyOptions {
        final_snapshot: false,
    };

    // Plan mode: both deletions planned, nothing written.
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = cache::destroy_redis(&h.ctx, &spec, opts).await.unwrap();
    assert!(
        planned.iter().all(|c| c.change == Change::Delete),
        "{planned:?}"
    );
    assert!(writes_between(&before, &h.requests()).is_empty());

    // The replication group is deleted and waited for.
    h.ctx.set_mode(Mode::Apply);
    let gone = cache::destroy_replication_group(&h.ctx, &spec.logical_id, opts)
        .await
        .unwrap();
    assert_eq!(gone.change, Change::Delete);
    assert!(h.describe(&out.replication_group_id).await.is_none());

    // A second destroy of it is a no-op without writes.
    let before = h.requests();
    let again = cache::destroy_replication_group(&h.ctx, &spec.logical_id, opts)
        .await
        .unwrap();
    assert_eq!(again.change, Change::NoOp);
    assert_eq!(h.requests().writes, before.writes);

    // The subnet group is deleted next, and a second destroy is a no-op.
    let rest = cache::destroy_redis(&h.ctx, &spec, opts).await.unwrap();
    assert_eq!(rest[0].change, Change::NoOp);
    assert_eq!(rest[1].change, Change::Delete);
    let before = h.requests();
    let rest = cache::destroy_redis(&h.ctx, &spec, opts).await.unwrap();
    assert!(rest.iter().all(|c| c.change == Change::NoOp), "{rest:?}");
    assert_eq!(h.requests().writes, before.writes);
}
