//! The cluster diff, without AWS.

use super::*;
use ironbark_core::plan::Change;
use ironbark_core::Tags;

fn spec() -> ClusterSpec {
    ClusterSpec {
        logical_id: "database/cluster".into(),
        engine_version: "16.4".into(),
        instance_class: "db.serverless".into(),
        serverless: Some((0.5, 4.0)),
        readers: 1,
        storage_encrypted: true,
        kms_key_id: None,
        backup_retention_days: 7,
        backup_window: "03:00-04:00".into(),
        maintenance_window: "sun:04:30-sun:05:30".into(),
        iam_auth: true,
        deletion_protection: true,
        subnet_group: "g".into(),
        security_group_ids: vec!["sg-1".into()],
        parameter_group: None,
        master_username: "ironbark".into(),
        database_name: "app".into(),
        data_api: true,
        performance_insights: true,
        apply_immediately: true,
    }
}

fn converged(tags: &Tags) -> ObservedCluster {
    ObservedCluster {
        status: "available".into(),
        engine: "aurora-postgresql".into(),
        engine_version: "16.4".into(),
        serverless: Some((0.5, 4.0)),
        storage_encrypted: true,
        backup_retention_days: 7,
        backup_window: "03:00-04:00".into(),
        maintenance_window: "sun:04:30-sun:05:30".into(),
        iam_auth: true,
        deletion_protection: true,
        subnet_group: "g".into(),
        security_group_ids: vec!["sg-1".into()],
        master_username: "ironbark".into(),
        database_name: "app".into(),
        data_api: true,
        tags: tags.as_map().clone(),
        ..ObservedCluster::default()
    }
}

#[test]
fn acu_range_and_data_api_change_in_place() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = converged(&tags);
    assert_eq!(decide(&spec(), &tags, Some(&obs)), Change::NoOp);
    let mut s = spec();
    s.serverless = Some((1.0, 8.0));
    s.data_api = false;
    let Change::Update { fields } = decide(&s, &tags, Some(&obs)) else {
        panic!("expected an update");
    };
    let shown: Vec<String> = fields
        .iter()
        .map(|f| format!("{}:{}", f.field, f.new.clone().unwrap_or_default()))
        .collect();
    assert_eq!(shown, ["serverless_v2_acu:1-8", "data_api:false"]);
}

#[test]
fn major_upgrade_and_encryption_are_refused() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = converged(&tags);
    let mut s = spec();
    s.engine_version = "17.2".into();
    assert!(
        matches!(decide(&s, &tags, Some(&obs)), Change::Refused { field, .. } if field.starts_with("engine_version"))
    );
    let mut s = spec();
    s.storage_encrypted = false;
    assert!(
        matches!(decide(&s, &tags, Some(&obs)), Change::Refused { field, .. } if field.starts_with("storage_encrypted"))
    );
    let mut s = spec();
    s.engine_version = "16.6".into();
    assert!(matches!(
        decide(&s, &tags, Some(&obs)),
        Change::Update { .. }
    ));
}
