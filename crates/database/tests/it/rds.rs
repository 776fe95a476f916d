//! RDS PostgreSQL and Aurora against the emulator: fresh create per profile read back field
//! by field, a converged re-run with zero writes (from the emulator's log), a class change in
//! place, refusals that touch nothing, deletion protection on destroy, an interrupted create
//! resumed, and Aurora Serverless v2 with the Data API.

use std::time::Duration;

use crate::{writes_between, Harness};
use ironbark_core::config::{DatabaseConfig, DbEngine, LoadOptions, StackConfig};
use ironbark_core::reconcile::ResourceError;
use ironbark_core::{Change, Event, Mode};
use ironbark_database::stack::{self, DatabaseInputs, INSTANCE};
use ironbark_database::{destroy_database, ensure_database};

/// The shipped stack file's profile.
fn profile(name: &str) -> StackConfig {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ironbark.toml");
    let mut opts = LoadOptions::new(file, name);
    opts.use_env = false;
    ironbark_core::config::load(&opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

/// The Redis AUTH token the tests store; it must never show up anywhere Ironbark writes.
const CACHE_TOKEN: &str = "tok3n-Never-Printed-4f1c9a7e2b";

impl Harness {
    fn rds(&self) -> aws_sdk_rds::Client {
        ironbark_core::sdk_client!(self.ctx, aws_sdk_rds)
    }

    /// A VPC with one subnet per AZ and a security group, made with a plain EC2 client.
    async fn network(&self, azs: usize) -> DatabaseInputs {
        let ec2 = ironbark_core::sdk_client!(self.ctx, aws_sdk_ec2);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let mut subnet_ids = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1c"]
            .iter()
            .take(azs.max(2))
            .enumerate()
        {
            subnet_ids.push(
                ec2.create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(format!("10.9.{i}.0/24"))
                    .availability_zone(*az)
                    .send()
                    .await
                    .unwrap()
                    .subnet
                    .unwrap()
                    .subnet_id
                    .unwrap(),
            );
        }
        let sg = ec2
            .create_security_group()
            .group_name("db")
            .description("db")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        let sm = ironbark_core::sdk_client!(self.ctx, aws_sdk_secretsmanager);
        let token = sm
            .create_secret()
            .name(format!("{}/cache-auth", self.ctx.stack()))
            .secret_string(CACHE_TOKEN)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        DatabaseInputs {
            subnet_ids,
            security_group_ids: vec![sg.clone()],
            kms_key_arn: None,
            cache_security_group_ids: vec![sg],
            cache_auth_secret_arn: Some(token),
            vector_user_secret_arn: None,
        }
    }
}

async fn describe(h: &Harness, id: &str) -> aws_sdk_rds::types::DbInstance {
    h.rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

/// Creates a profile's database fresh, reads every setting back, re-runs with zero writes,
/// then destroys (refused first when the profile protects it).
async fn fresh_profile(env: &str) {
    let h = Harness::new("db", &format!("rds_fresh_{env}"), env).await;
    let cfg = profile(env);
    let db = cfg.database.clone();
    let inputs = h.network(usize::from(cfg.az_count)).await;
    let out = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    assert!(out
        .plan
        .resources
        .iter()
        .all(|c| matches!(c.change, Change::Create { .. })));
    let id = out.outputs["identifier"].clone();
    let got = describe(&h, &id).await;
    assert_eq!(got.db_instance_status(), Some("available"));
    assert_eq!(got.engine(), Some("postgres"));
    assert_eq!(got.engine_version(), Some(db.engine_version.as_str()));
    assert_eq!(got.db_instance_class(), Some(db.instance_class.as_str()));
    assert_eq!(
        got.allocated_storage(),
        Some(i32::try_from(db.allocated_storage_gb).unwrap())
    );
    assert_eq!(got.storage_type(), Some("gp3"));
    assert_eq!(got.storage_encrypted(), Some(true));
    assert_eq!(got.multi_az(), Some(db.multi_az));
    assert_eq!(
        got.backup_retention_period(),
        Some(i32::from(db.backup_retention_days))
    );
    assert_eq!(
        got.preferred_backup_window(),
        Some(db.backup_window.as_str())
    );
    assert_eq!(got.performance_insights_enabled(), Some(true));
    assert_eq!(got.iam_database_authentication_enabled(), Some(true));
    assert_eq!(got.deletion_protection(), Some(db.deletion_protection));
    assert_eq!(got.publicly_accessible(), Some(false));
    assert_eq!(
        got.vpc_security_groups()[0].vpc_security_group_id(),
        Some(inputs.security_group_ids[0].as_str())
    );
    let secret = got
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .unwrap();
    assert_eq!(out.outputs["master_secret_arn"], secret);
    assert!(out.outputs.contains_key("endpoint"));
    assert_eq!(
        got.db_parameter_groups()[0].db_parameter_group_name(),
        Some(ironbark_database::parameter_group::name_of(&h.ctx, stack::PARAMETERS).as_str())
    );
    assert_eq!(
        got.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(ironbark_database::subnet_group::name_of(&h.ctx, stack::SUBNET_GROUP).as_str())
    );

    // The cache: nodes, failover with replicas, encryption, AUTH.
    let ec = ironbark_core::sdk_client!(h.ctx, aws_sdk_elasticache);
    let rg = ec
        .describe_replication_groups()
        .replication_group_id(&out.outputs["cache.replication_group_id"])
        .send()
        .await
        .unwrap()
        .replication_groups()[0]
        .clone();
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.cache_node_type(), Some(db.cache.node_type.as_str()));
    assert_eq!(rg.member_clusters().len(), usize::from(db.cache.nodes));
    let failover = if db.cache.nodes > 1 {
        "enabled"
    } else {
        "disabled"
    };
    assert_eq!(
        rg.automatic_failover()
            .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
        Some(failover)
    );
    assert_eq!(rg.transit_encryption_enabled(), Some(true));
    assert_eq!(rg.at_rest_encryption_enabled(), Some(true));
    assert_eq!(rg.auth_token_enabled(), Some(true));
    assert!(out.outputs.contains_key("cache.endpoint"));

    // The tables: keys, TTL, index, PITR, protection as the profile says.
    let ddb = ironbark_core::sdk_client!(h.ctx, aws_sdk_dynamodb);
    for (name, t) in &db.tables {
        let table = &out.outputs[&format!("table.{name}")];
        let d = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(d.deletion_protection_enabled(), Some(t.deletion_protection));
        assert_eq!(d.global_secondary_indexes().len(), t.indexes.len());
        let ttl = ddb
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .time_to_live_description
            .unwrap();
        assert_eq!(ttl.attribute_name(), t.ttl_attribute.as_deref());
    }

    // Converged: a re-run writes nothing.
    let before = h.requests();
    let again = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_human());
    let after = h.requests();
    assert_eq!(writes_between(&before, &after), Vec::<String>::new());
    assert!(after.reads > before.reads);

    // No secret value anywhere: not the Redis AUTH token, not the master password RDS
    // generated (read here, by the test, from its RDS-managed secret).
    let sm = ironbark_core::sdk_client!(h.ctx, aws_sdk_secretsmanager);
    let master = sm
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let master: serde_json::Value = serde_json::from_str(&master).unwrap();
    let password = master["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 8);
    let mut seen = vec![
        out.plan.render_human(),
        out.plan.to_json().to_string(),
        again.plan.render_human(),
        format!("{:?}", out.outputs),
        format!("{:?}", h.events.events()),
    ];
    h.ctx.set_mode(Mode::Plan);
    let mut grown = db.clone();
    grown.cache.node_type = "cache.t3.large".into();
    let planned = ensure_database(&h.ctx, &grown, &inputs).await.unwrap();
    seen.push(planned.plan.render_human());
    h.ctx.set_mode(Mode::Apply);
    let mut shrunk = db.clone();
    shrunk.allocated_storage_gb = 10;
    let err = ensure_database(&h.ctx, &shrunk, &inputs).await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    for text in &seen {
        assert!(!text.contains(CACHE_TOKEN), "the AUTH token leaked: {text}");
        assert!(
            !text.contains(&password),
            "the master password leaked: {text}"
        );
    }

    // Destroy: refused while protected (prod), then allowed.
    if db.deletion_protection {
        let err = destroy_database(&h.ctx, &db, false).await.unwrap_err();
        assert!(
            matches!(err.resource(), Some(ResourceError::Refused { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("deletion protection"), "{err}");
        assert_eq!(
            describe(&h, &id).await.db_instance_status(),
            Some("available")
        );
    }
    let seen = h.events.events().len();
    let gone = destroy_database(&h.ctx, &db, true).await.unwrap();
    assert!(gone.iter().any(|c| c.change == Change::Delete));
    // The deletion shows progress from start to end: started, AWS's status while it waits,
    // then deleted (a spinner needs the `started` to show the waiting at all).
    let instance_events: Vec<_> = h.events.events()[seen..]
        .iter()
        .filter(|e| e.resource() == Some(INSTANCE))
        .cloned()
        .collect();
    assert!(
        matches!(instance_events.first(), Some(Event::Started { .. }))
            && instance_events
                .iter()
                .any(|e| matches!(e, Event::Waiting { status, .. } if status == "deleting"))
            && matches!(
                instance_events.last(),
                Some(Event::Done {
                    change: Change::Delete,
                    ..
                })
            ),
        "{instance_events:?}"
    );
    let err = h
        .rds()
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&err),
        Some("DBInstanceNotFound")
    );
    // A second destroy is a no-op.
    let again = destroy_database(&h.ctx, &db, true).await.unwrap();
    assert!(again.iter().all(|c| c.change == Change::NoOp), "{again:?}");
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_fresh_dev() {
    fresh_profile("dev").await;
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_fresh_staging() {
    fresh_profile("staging").await;
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_fresh_prod() {
    fresh_profile("prod").await;
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_class_change_in_place_and_replacements_refused() {
    let h = Harness::new("db", "rds_class_change", "dev").await;
    let mut db: DatabaseConfig = profile("dev").database;
    db.cache.enabled = false;
    db.tables.clear();
    let inputs = h.network(2).await;
    let out = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    let id = out.outputs["identifier"].clone();

    // The class change plans as an in-place update naming the field, then applies.
    db.instance_class = "db.t3.small".into();
    h.ctx.set_mode(Mode::Plan);
    let plan = ensure_database(&h.ctx, &db, &inputs).await.unwrap().plan;
    let change = plan.resources.iter().find(|c| c.id == INSTANCE).unwrap();
    match &change.change {
        Change::Update { fields } => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "instance_class");
            assert_eq!(fields[0].old.as_deref(), Some("db.t3.micro"));
            assert_eq!(fields[0].new.as_deref(), Some("db.t3.small"));
        }
        other => panic!("{other:?}"),
    }
    h.ctx.set_mode(Mode::Apply);
    let _ = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    let got = describe(&h, &id).await;
    assert_eq!(got.db_instance_class(), Some("db.t3.small"));
    assert_eq!(got.db_instance_status(), Some("available"));

    // A major engine upgrade: refused with the field named, nothing written.
    let mut major = db.clone();
    major.engine_version = "17.2".into();
    h.ctx.set_mode(Mode::Plan);
    let plan = ensure_database(&h.ctx, &major, &inputs).await.unwrap().plan;
    assert!(plan.has_refusals());
    assert!(plan
        .render_human()
        .contains("engine_version (16.4 -> 17.2)"));
    h.ctx.set_mode(Mode::Apply);
    let before = h.requests();
    let err = ensure_database(&h.ctx, &major, &inputs).await.unwrap_err();
    // The parameter group (its family follows the major version) or the instance refuses
    // first; either way the refusal names the field and nothing is written.
    let text = err.to_string();
    assert!(
        text.contains("family (postgres16 -> postgres17)")
            || text.contains("engine_version (16.4 -> 17.2)"),
        "{text}"
    );
    assert_eq!(writes_between(&before, &h.requests()), Vec::<String>::new());

    // Switching the engine to Aurora: refused, the instance untouched, no cluster made.
    let mut aurora = db.clone();
    aurora.engine = DbEngine::AuroraPostgresql;
    aurora.instance_class = "db.serverless".into();
    let before = h.requests();
    let err = ensure_database(&h.ctx, &aurora, &inputs).await.unwrap_err();
    assert!(
        format!("{err:?}").contains("engine (postgres -> aurora-postgresql)"),
        "{err:?}"
    );
    assert_eq!(writes_between(&before, &h.requests()), Vec::<String>::new());
    assert_eq!(describe(&h, &id).await.engine_version(), Some("16.4"));

    // Storage shrink: refused.
    let mut shrink = db.clone();
    shrink.allocated_storage_gb = 20;
    db.allocated_storage_gb = 30;
    let _ = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    assert_eq!(describe(&h, &id).await.allocated_storage(), Some(30));
    let err = ensure_database(&h.ctx, &shrink, &inputs).await.unwrap_err();
    assert!(
        format!("{err}").contains("allocated_storage_gb (30 -> 20)"),
        "{err}"
    );

    destroy_database(&h.ctx, &db, true).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_interrupted_create_resumes_waiting() {
    let h = Harness::new("db", "rds_interrupted", "dev").await;
    let mut db = profile("dev").database;
    db.cache.enabled = false;
    db.tables.clear();
    let inputs = h.network(2).await;
    // Interrupted while the instance is creating (4.8 s at the tests' time scale).
    let id = ironbark_database::instance::identifier_of(&h.ctx, INSTANCE);
    crate::interrupt_when(
        ensure_database(&h.ctx, &db, &inputs),
        || async { h.logged("rds:CreateDBInstance") },
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        describe(&h, &id).await.db_instance_status(),
        Some("creating")
    );
    let before = h.requests();
    let out = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    assert_eq!(
        writes_between(&before, &h.requests()),
        Vec::<String>::new(),
        "no second create"
    );
    assert_eq!(out.outputs["identifier"], id);
    assert_eq!(
        describe(&h, &id).await.db_instance_status(),
        Some("available")
    );
    let n = h
        .rds()
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter(|i| i.db_instance_identifier() == Some(id.as_str()))
        .count();
    assert_eq!(n, 1);
    destroy_database(&h.ctx, &db, true).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn rds_aurora_serverless_v2_with_data_api() {
    let h = Harness::new("db", "aurora_v2", "dev").await;
    let mut db = profile("dev").database;
    db.cache.enabled = false;
    db.tables.clear();
    db.engine = DbEngine::AuroraPostgresql;
    db.instance_class = "db.serverless".into();
    db.aurora.min_acu = 0.5;
    db.aurora.max_acu = 4.0;
    db.aurora.readers = 1;
    db.aurora.data_api = true;
    db.deletion_protection = true;
    db.parameters
        .insert("log_min_duration_statement".into(), "1000".into());
    let inputs = h.network(2).await;
    let out = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    let kinds: Vec<&str> = out.plan.resources.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "DB subnet group",
            "DB cluster parameter group",
            "DB cluster",
            "DB instance",
            "DB instance"
        ]
    );
    let id = out.outputs["identifier"].clone();
    let c = h
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(&id)
        .send()
        .await
        .unwrap()
        .db_clusters()[0]
        .clone();
    assert_eq!(c.status(), Some("available"));
    assert_eq!(c.engine(), Some("aurora-postgresql"));
    assert_eq!(c.http_endpoint_enabled(), Some(true));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.deletion_protection(), Some(true));
    let scaling = c.serverless_v2_scaling_configuration().unwrap();
    assert_eq!(
        (scaling.min_capacity(), scaling.max_capacity()),
        (Some(0.5), Some(4.0))
    );
    assert_eq!(c.db_cluster_members().len(), 2);
    // The writer is instance 1: Aurora makes the first instance created the writer, so the
    // reader is created only once the writer exists (concurrent creates raced for it).
    let writers: Vec<_> = c
        .db_cluster_members()
        .iter()
        .filter(|m| m.is_cluster_writer() == Some(true))
        .filter_map(|m| m.db_instance_identifier())
        .collect();
    let instance_1 = ironbark_database::instance::identifier_of(
        &h.ctx,
        &ironbark_database::cluster::instance_logical_id(ironbark_database::stack::CLUSTER, 1),
    );
    assert_eq!(writers, [instance_1.as_str()]);
    for m in c.db_cluster_members() {
        let i = describe(&h, m.db_instance_identifier().unwrap()).await;
        assert_eq!(i.db_instance_class(), Some("db.serverless"));
        assert_eq!(
            i.db_instance_status(),
            Some("available"),
            "members are waited for"
        );
    }
    assert!(out.outputs.contains_key("master_secret_arn"));
    assert!(out.outputs.contains_key("reader_endpoint"));

    // Converged.
    let before = h.requests();
    let again = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_human());
    assert_eq!(writes_between(&before, &h.requests()), Vec::<String>::new());

    // ACU range and reader count change in place.
    db.aurora.max_acu = 8.0;
    db.aurora.readers = 0;
    let changed = ensure_database(&h.ctx, &db, &inputs).await.unwrap();
    let text = changed.plan.render_human();
    assert!(text.contains("serverless_v2_acu: 0.5-4 -> 0.5-8"), "{text}");
    let c = h
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(&id)
        .send()
        .await
        .unwrap()
        .db_clusters()[0]
        .clone();
    assert_eq!(
        c.serverless_v2_scaling_configuration()
            .unwrap()
            .max_capacity(),
        Some(8.0)
    );
    assert_eq!(c.db_cluster_members().len(), 1, "the reader is removed");

    // Destroy: protected, then allowed.
    let err = destroy_database(&h.ctx, &db, false).await.unwrap_err();
    assert!(err.to_string().contains(&id), "{err}");
    destroy_database(&h.ctx, &db, true).await.unwrap();
    let left = h
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(&id)
        .send()
        .await;
    assert!(left.is_err(), "the cluster is gone");
}
