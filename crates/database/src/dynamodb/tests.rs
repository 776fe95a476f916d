//! The table diff and validation, without AWS.

use super::*;
use ironbark_core::plan::Change;
use ironbark_core::Tags;

fn spec() -> TableSpec {
    TableSpec {
        logical_id: "database/dynamodb/jobs".into(),
        partition_key: KeyAttribute::new("pk", AttributeType::S),
        sort_key: Some(KeyAttribute::new("sk", AttributeType::N)),
        global_secondary_indexes: vec![GsiSpec {
            name: "by-status".into(),
            partition_key: KeyAttribute::new("status", AttributeType::S),
            sort_key: None,
            projection: Projection::Include(vec!["b".into(), "a".into()]),
            throughput: None,
        }],
        billing: Billing::OnDemand,
        ttl_attribute: Some("expires_at".into()),
        point_in_time_recovery: true,
        kms_key_arn: Some("arn:aws:kms:us-east-1:1:key/k1".into()),
        deletion_protection: true,
    }
}

fn tags() -> Tags {
    Tags::standard("p", "dev", "o", "c", "s").with_id("database/dynamodb/jobs")
}

fn key(name: &str, kind: AttributeType) -> ObservedKeyAttribute {
    ObservedKeyAttribute {
        name: name.into(),
        kind: Some(kind),
    }
}

fn converged() -> ObservedTable {
    ObservedTable {
        name: "s-dev-database-dynamodb-jobs".into(),
        arn: "arn".into(),
        status: "ACTIVE".into(),
        partition_key: key("pk", AttributeType::S),
        sort_key: Some(key("sk", AttributeType::N)),
        billing: Billing::OnDemand,
        global_secondary_indexes: vec![ObservedGsi {
            name: "by-status".into(),
            partition_key: key("status", AttributeType::S),
            sort_key: None,
            projection: Projection::Include(vec!["a".into(), "b".into()]),
            throughput: None,
            status: "ACTIVE".into(),
        }],
        ttl_attribute: Some("expires_at".into()),
        point_in_time_recovery: true,
        kms_key_arn: Some("arn:aws:kms:us-east-1:1:key/k1".into()),
        deletion_protection: true,
        stream_arn: None,
        tags: tags().as_map().clone(),
    }
}

fn fields(change: Change) -> Vec<String> {
    match change {
        Change::Update { fields } => fields.into_iter().map(|f| f.field).collect(),
        other => panic!("expected an update, got {other:?}"),
    }
}

#[test]
fn create_lists_indexes_and_settings() {
    let Change::Create { fields } = decide(&spec(), &tags(), None) else {
        panic!()
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert!(names.contains(&"global_secondary_indexes.by-status"));
    assert!(names.contains(&"ttl_attribute"));
    assert!(names.contains(&"deletion_protection"));
}

#[test]
fn converged_is_noop_even_without_attribute_types() {
    assert_eq!(decide(&spec(), &tags(), Some(&converged())), Change::NoOp);
    let mut untyped = converged();
    untyped.partition_key.kind = None;
    untyped.global_secondary_indexes[0].partition_key.kind = None;
    assert_eq!(decide(&spec(), &tags(), Some(&untyped)), Change::NoOp);
}

#[test]
fn index_add_remove_billing_and_settings_are_in_place() {
    let mut s = spec();
    s.global_secondary_indexes = vec![GsiSpec {
        name: "by-owner".into(),
        partition_key: KeyAttribute::new("owner", AttributeType::S),
        sort_key: Some(KeyAttribute::new("created", AttributeType::N)),
        projection: Projection::KeysOnly,
        throughput: None,
    }];
    s.billing = Billing::Provisioned(Throughput { read: 5, write: 2 });
    s.point_in_time_recovery = false;
    s.kms_key_arn = None;
    s.deletion_protection = false;
    s.ttl_attribute = None;
    assert_eq!(
        fields(decide(&s, &tags(), Some(&converged()))),
        [
            "billing",
            "global_secondary_indexes.by-status",
            "global_secondary_indexes.by-owner",
            "ttl_attribute",
            "point_in_time_recovery",
            "kms_key_arn",
            "deletion_protection"
        ]
    );
    // A provisioned table's index follows the table's capacity unless it has its own.
    let mut s = spec();
    s.billing = Billing::Provisioned(Throughput { read: 5, write: 2 });
    let mut o = converged();
    o.billing = s.billing;
    o.global_secondary_indexes[0].throughput = Some(Throughput { read: 5, write: 2 });
    assert_eq!(decide(&s, &tags(), Some(&o)), Change::NoOp);
    s.global_secondary_indexes[0].throughput = Some(Throughput { read: 1, write: 1 });
    assert_eq!(
        fields(decide(&s, &tags(), Some(&o))),
        ["global_secondary_indexes.by-status.throughput"]
    );
}

#[test]
fn key_index_and_ttl_renames_are_refused_naming_the_field() {
    let refusal = |s: &TableSpec, o: &ObservedTable| match decide(s, &tags(), Some(o)) {
        Change::Refused { field, .. } => field,
        other => panic!("{other:?}"),
    };
    let mut s = spec();
    s.partition_key = KeyAttribute::new("id", AttributeType::S);
    assert!(refusal(&s, &converged()).starts_with("partition_key"));
    let mut s = spec();
    s.sort_key = Some(KeyAttribute::new("sk", AttributeType::S));
    assert!(refusal(&s, &converged()).starts_with("sort_key"));
    let mut s = spec();
    s.sort_key = None;
    assert!(refusal(&s, &converged()).starts_with("sort_key"));
    let mut s = spec();
    s.global_secondary_indexes[0].projection = Projection::All;
    assert_eq!(
        refusal(&s, &converged()),
        "global_secondary_indexes.by-status"
    );
    let mut s = spec();
    s.ttl_attribute = Some("ttl".into());
    assert!(refusal(&s, &converged()).starts_with("ttl_attribute"));
}

#[test]
fn validation() {
    assert!(validate(&spec()).is_ok());
    let mut s = spec();
    s.global_secondary_indexes[0].partition_key = KeyAttribute::new("pk", AttributeType::N);
    assert!(validate(&s).unwrap_err().contains("pk"));
    let mut s = spec();
    s.global_secondary_indexes
        .push(s.global_secondary_indexes[0].clone());
    assert!(validate(&s).unwrap_err().contains("twice"));
    let mut s = spec();
    s.global_secondary_indexes[0].projection = Projection::Include(vec![]);
    assert!(validate(&s).is_err());
    let mut s = spec();
    s.billing = Billing::Provisioned(Throughput { read: 0, write: 1 });
    assert!(validate(&s).is_err());
}
