//! The cache diffs, replica steps and validation, without AWS.

use super::*;
use ironbark_core::plan::Change;
use ironbark_core::Tags;

const SUBNET_GROUP: &str = "s-dev-database-cache-subnets";

fn spec() -> RedisSpec {
    RedisSpec {
        logical_id: "database/cache".into(),
        description: "cache".into(),
        subnet_group: CacheSubnetGroupSpec {
            logical_id: "database/cache-subnets".into(),
            description: "cache subnets".into(),
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
        },
        node_type: "cache.t3.small".into(),
        num_nodes: 2,
        engine_version: "7.1".into(),
        security_group_ids: vec!["sg-2".into(), "sg-1".into()],
        at_rest_encryption: true,
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/k1".into()),
        transit_encryption: true,
        auth_token_secret_arn: Some("arn:aws:secretsmanager:us-east-1:1:secret:t".into()),
        snapshot_retention_days: 7,
        maintenance_window: Some("sun:05:00-sun:06:00".into()),
        apply_immediately: true,
    }
}

fn tags() -> Tags {
    Tags::standard("p", "dev", "o", "c", "s").with_id("database/cache")
}

fn converged() -> ObservedReplicationGroup {
    ObservedReplicationGroup {
        id: "s-dev-database-cache".into(),
        arn: "arn".into(),
        status: "available".into(),
        description: "cache".into(),
        engine: "redis".into(),
        node_type: "cache.t3.small".into(),
        pending_node_type: None,
        num_nodes: 2,
        automatic_failover: true,
        multi_az: true,
        at_rest_encryption: true,
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/k1".into()),
        transit_encryption: true,
        auth_token_enabled: true,
        snapshot_retention_days: 7,
        engine_version: Some("7.1.0".into()),
        subnet_group: Some(SUBNET_GROUP.into()),
        security_group_ids: Some(vec!["sg-1".into(), "sg-2".into()]),
        maintenance_window: Some("sun:05:00-sun:06:00".into()),
        primary_endpoint: None,
        reader_endpoint: None,
        tags: tags().as_map().clone(),
    }
}

fn update_fields(change: Change) -> Vec<String> {
    match change {
        Change::Update { fields } => fields.into_iter().map(|f| f.field).collect(),
        other => panic!("expected an update, got {other:?}"),
    }
}

#[test]
fn create_shows_the_token_as_sensitive_and_failover_with_replicas() {
    let Change::Create { fields } = decide(&spec(), SUBNET_GROUP, &tags(), None) else {
        panic!()
    };
    let token = fields.iter().find(|f| f.field == "auth_token").unwrap();
    assert!(token.sensitive && token.new.is_none());
    let failover = fields
        .iter()
        .find(|f| f.field == "automatic_failover")
        .unwrap();
    assert_eq!(failover.new.as_deref(), Some("true"));
    let mut single = spec();
    single.num_nodes = 1;
    let Change::Create { fields } = decide(&single, SUBNET_GROUP, &tags(), None) else {
        panic!()
    };
    let multi_az = fields.iter().find(|f| f.field == "multi_az").unwrap();
    assert_eq!(multi_az.new.as_deref(), Some("false"));
}

#[test]
fn converged_is_noop_and_unknown_member_fields_are_left_alone() {
    assert_eq!(
        decide(&spec(), SUBNET_GROUP, &tags(), Some(&converged())),
        Change::NoOp
    );
    let mut emulated = converged();
    emulated.engine_version = None;
    emulated.subnet_group = None;
    emulated.security_group_ids = None;
    emulated.maintenance_window = None;
    assert_eq!(
        decide(&spec(), SUBNET_GROUP, &tags(), Some(&emulated)),
        Change::NoOp
    );
}

#[test]
fn in_place_changes() {
    let mut s = spec();
    s.node_type = "cache.t3.medium".into();
    s.snapshot_retention_days = 1;
    s.security_group_ids = vec!["sg-3".into()];
    s.engine_version = "7.2".into();
    s.description = "new".into();
    let fields = update_fields(decide(&s, SUBNET_GROUP, &tags(), Some(&converged())));
    assert_eq!(
        fields,
        [
            "engine_version",
            "node_type",
            "snapshot_retention_days",
            "security_group_ids",
            "description"
        ]
    );
    // A node type change waiting for the maintenance window counts as done.
    let mut pending = converged();
    pending.pending_node_type = Some("cache.t3.medium".into());
    let mut s = spec();
    s.node_type = "cache.t3.medium".into();
    assert_eq!(
        decide(&s, SUBNET_GROUP, &tags(), Some(&pending)),
        Change::NoOp
    );
    // Failover follows the replica count.
    let mut off = converged();
    off.automatic_failover = false;
    off.multi_az = false;
    assert_eq!(
        update_fields(decide(&spec(), SUBNET_GROUP, &tags(), Some(&off))),
        ["automatic_failover", "multi_az"]
    );
}

#[test]
fn replica_count_changes_in_place_with_failover() {
    assert_eq!(replica_change(2, 2), None);
    assert_eq!(
        replica_change(1, 3),
        Some(ReplicaChange::Increase { replicas: 2 })
    );
    assert_eq!(
        replica_change(4, 1),
        Some(ReplicaChange::Decrease { replicas: 0 })
    );
    assert_eq!(replica_change(4, 2).map(ReplicaChange::replicas), Some(1));
    // More replicas: an update, failover unchanged (already on).
    let mut s = spec();
    s.num_nodes = 4;
    let Change::Update { fields } = decide(&s, SUBNET_GROUP, &tags(), Some(&converged())) else {
        panic!()
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "num_nodes");
    assert_eq!(fields[0].old.as_deref(), Some("2"));
    assert_eq!(fields[0].new.as_deref(), Some("4"));
    // Down to one node: failover and Multi-AZ go off with it.
    s.num_nodes = 1;
    assert_eq!(
        update_fields(decide(&s, SUBNET_GROUP, &tags(), Some(&converged()))),
        ["num_nodes", "automatic_failover", "multi_az"]
    );
    // Up from one node: failover and Multi-AZ come on.
    let mut single = converged();
    single.num_nodes = 1;
    single.automatic_failover = false;
    single.multi_az = false;
    assert_eq!(
        update_fields(decide(&spec(), SUBNET_GROUP, &tags(), Some(&single))),
        ["num_nodes", "automatic_failover", "multi_az"]
    );
}

type Tweak = Box<dyn Fn(&mut RedisSpec, &mut ObservedReplicationGroup)>;

#[test]
fn replacements_are_refused_naming_the_field() {
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "at_rest_encryption",
            Box::new(|s, _| s.at_rest_encryption = false),
        ),
        (
            "kms_key_id",
            Box::new(|s, _| s.kms_key_id = Some("other".into())),
        ),
        (
            "transit_encryption",
            Box::new(|_, o| o.transit_encryption = false),
        ),
        (
            "auth_token",
            Box::new(|s, _| s.auth_token_secret_arn = None),
        ),
        ("engine", Box::new(|_, o| o.engine = "valkey".into())),
        (
            "subnet_group",
            Box::new(|_, o| o.subnet_group = Some("other".into())),
        ),
        (
            "engine_version",
            Box::new(|s, _| s.engine_version = "6.2".into()),
        ),
    ];
    for (field, change) in cases {
        let mut s = spec();
        let mut o = converged();
        change(&mut s, &mut o);
        match decide(&s, SUBNET_GROUP, &tags(), Some(&o)) {
            Change::Refused { field: f, reason } => {
                assert!(f.starts_with(field), "{f}");
                assert!(!reason.is_empty());
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    // The same key named by id or by ARN is no change.
    let mut s = spec();
    s.kms_key_id = Some("k1".into());
    assert_eq!(
        decide(&s, SUBNET_GROUP, &tags(), Some(&converged())),
        Change::NoOp
    );
}

#[test]
fn validation() {
    assert!(validate(&spec()).is_ok());
    let mut s = spec();
    s.num_nodes = 7;
    assert!(validate(&s).unwrap_err().contains("num_nodes"));
    s.num_nodes = 0;
    assert!(validate(&s).is_err());
    let mut s = spec();
    s.transit_encryption = false;
    assert!(validate(&s).unwrap_err().contains("transit_encryption"));
    let mut s = spec();
    s.at_rest_encryption = false;
    assert!(validate(&s).unwrap_err().contains("kms_key_id"));
}

#[test]
fn auth_token_rules() {
    assert!(is_valid_auth_token("abcdefghijklmnop"));
    assert!(!is_valid_auth_token("short"));
    assert!(!is_valid_auth_token("abcdefghijklmnop@"));
    assert!(!is_valid_auth_token("abcdefgh ijklmnop"));
    assert!(!is_valid_auth_token(&"a".repeat(129)));
}

#[test]
fn subnet_group_diff() {
    let s = spec().subnet_group;
    let t = Tags::standard("p", "dev", "o", "c", "s").with_id("database/cache-subnets");
    let obs = ObservedCacheSubnetGroup {
        name: "n".into(),
        arn: "arn".into(),
        description: "cache subnets".into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        tags: t.as_map().clone(),
    };
    assert_eq!(decide_subnet_group(&s, &t, Some(&obs)), Change::NoOp);
    let mut moved = obs.clone();
    moved.subnet_ids = vec!["subnet-a".into()];
    assert_eq!(
        update_fields(decide_subnet_group(&s, &t, Some(&moved))),
        ["subnet_ids"]
    );
    assert!(matches!(
        decide_subnet_group(&s, &t, None),
        Change::Create { .. }
    ));
}
