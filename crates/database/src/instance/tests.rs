//! The instance diff, without AWS.

use super::*;
use ironbark_core::plan::Change;
use ironbark_core::Tags;

fn spec() -> InstanceSpec {
    InstanceSpec {
        logical_id: "database/instance".into(),
        engine: "postgres".into(),
        instance_class: "db.t3.micro".into(),
        placement: Placement::Standalone(Box::new(StandaloneSpec {
            engine_version: "16.4".into(),
            allocated_storage_gb: 20,
            storage_encrypted: true,
            kms_key_id: None,
            multi_az: false,
            backup_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            iam_auth: true,
            deletion_protection: false,
            subnet_group: "sg".into(),
            security_group_ids: vec!["sg-2".into(), "sg-1".into()],
            master_username: "ironbark".into(),
            database_name: "app".into(),
        })),
        parameter_group: Some("pg".into()),
        performance_insights: true,
        maintenance_window: "sun:04:30-sun:05:30".into(),
        publicly_accessible: false,
        apply_immediately: true,
    }
}

fn converged(tags: &Tags) -> ObservedInstance {
    ObservedInstance {
        identifier: "i".into(),
        status: "available".into(),
        engine: "postgres".into(),
        engine_version: "16.4".into(),
        instance_class: "db.t3.micro".into(),
        allocated_storage_gb: 20,
        storage_encrypted: true,
        backup_retention_days: 7,
        backup_window: "03:00-04:00".into(),
        maintenance_window: "sun:04:30-sun:05:30".into(),
        performance_insights: true,
        iam_auth: true,
        security_group_ids: vec!["sg-1".into(), "sg-2".into()],
        subnet_group: "sg".into(),
        parameter_group: Some(("pg".into(), "in-sync".into())),
        master_username: "ironbark".into(),
        database_name: "app".into(),
        tags: tags.as_map().clone(),
        ..ObservedInstance::default()
    }
}

fn standalone(s: &mut InstanceSpec) -> &mut StandaloneSpec {
    match &mut s.placement {
        Placement::Standalone(s) => s,
        Placement::ClusterMember { .. } => unreachable!(),
    }
}

#[test]
fn converged_is_noop_and_class_change_is_in_place() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = converged(&tags);
    assert_eq!(decide(&spec(), &tags, Some(&obs)), Change::NoOp);
    let mut bigger = spec();
    bigger.instance_class = "db.t3.small".into();
    let Change::Update { fields } = decide(&bigger, &tags, Some(&obs)) else {
        panic!("expected an update");
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field, "instance_class");
    assert_eq!(fields[0].new.as_deref(), Some("db.t3.small"));
}

#[test]
fn pending_modification_counts_as_done() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let mut obs = converged(&tags);
    obs.pending
        .insert("instance_class".into(), "db.t3.small".into());
    let mut later = spec();
    later.instance_class = "db.t3.small".into();
    later.apply_immediately = false;
    assert_eq!(decide(&later, &tags, Some(&obs)), Change::NoOp);
    let mut other = later.clone();
    other.instance_class = "db.t3.medium".into();
    let Change::Update { fields } = decide(&other, &tags, Some(&obs)) else {
        panic!("expected an update");
    };
    assert_eq!(
        fields[0].new.as_deref(),
        Some("db.t3.medium (in the maintenance window)")
    );
    assert_eq!(fields[0].old.as_deref(), Some("db.t3.small"));
}

#[test]
fn replacements_are_refused_naming_the_field() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = converged(&tags);
    type Edit = Box<dyn Fn(&mut InstanceSpec)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|s| s.engine = "mysql".into()), "engine"),
        (
            Box::new(|s| standalone(s).storage_encrypted = false),
            "storage_encrypted",
        ),
        (
            Box::new(|s| standalone(s).allocated_storage_gb = 10),
            "allocated_storage_gb",
        ),
        (
            Box::new(|s| standalone(s).engine_version = "17.1".into()),
            "engine_version",
        ),
        (
            Box::new(|s| standalone(s).engine_version = "16.2".into()),
            "engine_version",
        ),
        (
            Box::new(|s| standalone(s).master_username = "root".into()),
            "master_username",
        ),
        (
            Box::new(|s| standalone(s).subnet_group = "other".into()),
            "subnet_group",
        ),
    ];
    for (edit, field) in cases {
        let mut s = spec();
        edit(&mut s);
        match decide(&s, &tags, Some(&obs)) {
            Change::Refused { field: f, .. } => assert!(f.starts_with(field), "{f}"),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn growth_and_minor_upgrade_are_in_place() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = converged(&tags);
    let mut s = spec();
    standalone(&mut s).allocated_storage_gb = 50;
    standalone(&mut s).engine_version = "16.6".into();
    let Change::Update { fields } = decide(&s, &tags, Some(&obs)) else {
        panic!("expected an update");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["engine_version", "allocated_storage_gb"]);
}
