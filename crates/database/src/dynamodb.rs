//! DynamoDB tables: key schema, global secondary indexes, billing (on-demand or provisioned),
//! TTL, point-in-time recovery, server-side encryption, deletion protection and tags.
//!
//! Everything but the key schema changes in place. AWS allows one index creation or deletion
//! per `UpdateTable`, so index changes are applied one at a time, each followed by a wait until
//! the table and its indexes are `ACTIVE`. Refused, naming the field, and never touched:
//! a key schema change (it needs a new table: data loss), an index whose keys or projection
//! changed (give it a new name: the new index is built and the old one removed), and a TTL
//! attribute rename (AWS allows one TTL change per hour, so a rename is two deploys: set
//! `ttl_attribute` to none, deploy, and an hour later set the new attribute).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    TableDescription, TableStatus, Tag, TimeToLiveSpecification, TimeToLiveStatus,
    UpdateGlobalSecondaryIndexAction,
};
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::{AwsError, ResourceError};

use crate::error::DatabaseError;
use crate::rds::owned_by;

const KIND: &str = "DynamoDB table";

/// How long a table or index may take to become `ACTIVE` (index backfills are slow on big
/// tables) or to be deleted.
pub const TABLE_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);
/// The most global secondary indexes a table may have.
pub const MAX_GSIS: usize = 20;

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttributeType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl AttributeType {
    fn sdk(self) -> ScalarAttributeType {
        match self {
            Self::S => ScalarAttributeType::S,
            Self::N => ScalarAttributeType::N,
            Self::B => ScalarAttributeType::B,
        }
    }

    fn from_sdk(t: &ScalarAttributeType) -> Option<Self> {
        match t {
            ScalarAttributeType::S => Some(Self::S),
            ScalarAttributeType::N => Some(Self::N),
            ScalarAttributeType::B => Some(Self::B),
            _ => None,
        }
    }
}

impl std::fmt::Display for AttributeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        })
    }
}

/// A key attribute: name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type.
    pub kind: AttributeType,
}

impl KeyAttribute {
    /// A key attribute `name` of type `kind`.
    pub fn new(name: impl Into<String>, kind: AttributeType) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

impl std::fmt::Display for KeyAttribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.kind)
    }
}

/// A key attribute as found; the type is `None` when AWS's attribute definitions do not list
/// it (it is then not compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedKeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type, when reported.
    pub kind: Option<AttributeType>,
}

/// Which attributes an index copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// Every attribute.
    All,
    /// Only the table and index keys.
    KeysOnly,
    /// The keys plus these attributes.
    Include(Vec<String>),
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("ALL"),
            Self::KeysOnly => f.write_str("KEYS_ONLY"),
            Self::Include(attrs) => {
                let mut sorted = attrs.clone();
                sorted.sort();
                write!(f, "INCLUDE({})", sorted.join(","))
            }
        }
    }
}

/// Provisioned capacity units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    /// Read capacity units.
    pub read: i64,
    /// Write capacity units.
    pub write: i64,
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "read {} / write {}", self.read, self.write)
    }
}

/// How the table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// Pay per request.
    OnDemand,
    /// Provisioned capacity.
    Provisioned(Throughput),
}

impl std::fmt::Display for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OnDemand => f.write_str("PAY_PER_REQUEST"),
            Self::Provisioned(t) => write!(f, "PROVISIONED ({t})"),
        }
    }
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiSpec {
    /// Index name.
    pub name: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Projected attributes.
    pub projection: Projection,
    /// Capacity when the table is provisioned; `None` uses the table's.
    pub throughput: Option<Throughput>,
}

/// The desired table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Logical id (`database/dynamodb/jobs`); the table name derives from it.
    pub logical_id: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Global secondary indexes.
    pub global_secondary_indexes: Vec<GsiSpec>,
    /// Billing.
    pub billing: Billing,
    /// The TTL attribute (epoch seconds); `None` turns TTL off.
    pub ttl_attribute: Option<String>,
    /// Point-in-time recovery (35 days of continuous backups).
    pub point_in_time_recovery: bool,
    /// KMS key ARN for server-side encryption; `None` uses the AWS owned key.
    pub kms_key_arn: Option<String>,
    /// Deletion protection.
    pub deletion_protection: bool,
}

/// A global secondary index as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedGsi {
    /// Index name.
    pub name: String,
    /// Partition key.
    pub partition_key: ObservedKeyAttribute,
    /// Sort key.
    pub sort_key: Option<ObservedKeyAttribute>,
    /// Projection.
    pub projection: Projection,
    /// Provisioned capacity (`None` or zero when on demand).
    pub throughput: Option<Throughput>,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`.
    pub status: String,
}

/// A table as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTable {
    /// Table name.
    pub name: String,
    /// Table ARN.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, ...
    pub status: String,
    /// Partition key.
    pub partition_key: ObservedKeyAttribute,
    /// Sort key.
    pub sort_key: Option<ObservedKeyAttribute>,
    /// Billing.
    pub billing: Billing,
    /// Global secondary indexes, by name.
    pub global_secondary_indexes: Vec<ObservedGsi>,
    /// The TTL attribute when TTL is enabled or enabling.
    pub ttl_attribute: Option<String>,
    /// Point-in-time recovery enabled.
    pub point_in_time_recovery: bool,
    /// KMS key ARN of server-side encryption; `None` for the AWS owned key.
    pub kms_key_arn: Option<String>,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Latest stream ARN, if streams were ever enabled.
    pub stream_arn: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_table`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TableOutcome {
    /// The change.
    pub change: ResourceChange,
    /// The table name.
    pub table_name: String,
    /// The table ARN (`None` in plan mode before creation).
    pub table_arn: Option<String>,
    /// The latest stream ARN, if the table has a stream.
    pub stream_arn: Option<String>,
}

/// How [`destroy_table`] treats a protected table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableDestroyOptions {
    /// Turn deletion protection off and delete, instead of refusing.
    pub allow_protected: bool,
}

/// The physical name of the table `logical_id`.
#[must_use]
pub fn table_name_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::DYNAMODB_TABLE)
}

fn client(ctx: &Context) -> aws_sdk_dynamodb::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_dynamodb)
}

fn is_not_found(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

fn is_in_use(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ResourceInUseException")
}

/// Whether two KMS key references name the same key (an id matches the ARN ending in it).
fn same_key(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

fn key_matches(desired: &KeyAttribute, observed: &ObservedKeyAttribute) -> bool {
    desired.name == observed.name && observed.kind.is_none_or(|k| k == desired.kind)
}

fn opt_key_matches(
    desired: Option<&KeyAttribute>,
    observed: Option<&ObservedKeyAttribute>,
) -> bool {
    match (desired, observed) {
        (None, None) => true,
        (Some(d), Some(o)) => key_matches(d, o),
        _ => false,
    }
}

fn show_observed(k: Option<&ObservedKeyAttribute>) -> String {
    k.map_or_else(
        || "none".to_owned(),
        |k| match k.kind {
            Some(t) => format!("{} ({t})", k.name),
            None => k.name.clone(),
        },
    )
}

fn show_desired(k: Option<&KeyAttribute>) -> String {
    k.map_or_else(|| "none".to_owned(), ToString::to_string)
}

fn same_projection(a: &Projection, b: &Projection) -> bool {
    a.to_string() == b.to_string()
}

impl TableSpec {
    /// The capacity of an index when the table is provisioned.
    fn gsi_throughput(&self, gsi: &GsiSpec) -> Option<Throughput> {
        match self.billing {
            Billing::OnDemand => None,
            Billing::Provisioned(t) => Some(gsi.throughput.unwrap_or(t)),
        }
    }

    /// Every key attribute of the table and its indexes, by name.
    fn attributes(&self) -> Vec<&KeyAttribute> {
        let mut out = vec![&self.partition_key];
        out.extend(self.sort_key.as_ref());
        for g in &self.global_secondary_indexes {
            out.push(&g.partition_key);
            out.extend(g.sort_key.as_ref());
        }
        out
    }
}

/// Checks what AWS would reject.
///
/// # Errors
/// The reason, naming the field.
pub fn validate(spec: &TableSpec) -> Result<(), String> {
    let mut types: BTreeMap<&str, AttributeType> = BTreeMap::new();
    for a in spec.attributes() {
        if a.name.is_empty() {
            return Err("a key attribute has an empty name".into());
        }
        if let Some(t) = types.insert(&a.name, a.kind) {
            if t != a.kind {
                return Err(format!(
                    "key attribute {} is declared both {t} and {}",
                    a.name, a.kind
                ));
            }
        }
    }
    if spec.global_secondary_indexes.len() > MAX_GSIS {
        return Err(format!(
            "global_secondary_indexes has {} indexes; a table has at most {MAX_GSIS}",
            spec.global_secondary_indexes.len()
        ));
    }
    let mut names = BTreeSet::new();
    for g in &spec.global_secondary_indexes {
        if !names.insert(g.name.as_str()) {
            return Err(format!(
                "global_secondary_indexes.{} is declared twice",
                g.name
            ));
        }
        if matches!(&g.projection, Projection::Include(a) if a.is_empty()) {
            return Err(format!(
                "global_secondary_indexes.{}.projection is INCLUDE with no attributes",
                g.name
            ));
        }
    }
    let capacities = std::iter::once(match spec.billing {
        Billing::Provisioned(t) => Some(t),
        Billing::OnDemand => None,
    })
    .chain(spec.global_secondary_indexes.iter().map(|g| g.throughput));
    if capacities.flatten().any(|t| t.read < 1 || t.write < 1) {
        return Err("provisioned read and write capacity must be at least 1".into());
    }
    if spec.ttl_attribute.as_deref() == Some("") {
        return Err("ttl_attribute is empty (use none to turn TTL off)".into());
    }
    Ok(())
}

fn create_fields(spec: &TableSpec) -> Vec<FieldDiff> {
    let mut fields = vec![
        FieldDiff::set("partition_key", &spec.partition_key),
        FieldDiff::set("sort_key", show_desired(spec.sort_key.as_ref())),
        FieldDiff::set("billing", spec.billing),
    ];
    for g in &spec.global_secondary_indexes {
        fields.push(FieldDiff::set(
            format!("global_secondary_indexes.{}", g.name),
            gsi_summary(spec, g),
        ));
    }
    fields.extend([
        FieldDiff::set(
            "ttl_attribute",
            spec.ttl_attribute.as_deref().unwrap_or("none"),
        ),
        FieldDiff::set("point_in_time_recovery", spec.point_in_time_recovery),
        FieldDiff::set(
            "kms_key_arn",
            spec.kms_key_arn.as_deref().unwrap_or("AWS owned"),
        ),
        FieldDiff::set("deletion_protection", spec.deletion_protection),
    ]);
    fields
}

fn gsi_summary(spec: &TableSpec, g: &GsiSpec) -> String {
    let mut s = format!(
        "{} / {} / {}",
        g.partition_key,
        show_desired(g.sort_key.as_ref()),
        g.projection
    );
    if let Some(t) = spec.gsi_throughput(g) {
        s.push_str(&format!(" / {t}"));
    }
    s
}

/// The change for a table: a create, the in-place updates, or the first refusal. Pure.
#[must_use]
pub fn decide(spec: &TableSpec, tags: &Tags, observed: Option<&ObservedTable>) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: create_fields(spec),
        };
    };
    if !key_matches(&spec.partition_key, &obs.partition_key) {
        return Change::refused(
            format!(
                "partition_key ({} -> {})",
                show_observed(Some(&obs.partition_key)),
                spec.partition_key
            ),
            "the key schema of a table is fixed; a new key needs a new table (under another logical id) and a data migration",
        );
    }
    if !opt_key_matches(spec.sort_key.as_ref(), obs.sort_key.as_ref()) {
        return Change::refused(
            format!(
                "sort_key ({} -> {})",
                show_observed(obs.sort_key.as_ref()),
                show_desired(spec.sort_key.as_ref())
            ),
            "the key schema of a table is fixed; a new key needs a new table (under another logical id) and a data migration",
        );
    }
    for g in &spec.global_secondary_indexes {
        let Some(o) = obs
            .global_secondary_indexes
            .iter()
            .find(|o| o.name == g.name)
        else {
            continue;
        };
        let same = key_matches(&g.partition_key, &o.partition_key)
            && opt_key_matches(g.sort_key.as_ref(), o.sort_key.as_ref())
            && same_projection(&g.projection, &o.projection);
        if !same {
            return Change::refused(
                format!("global_secondary_indexes.{}", g.name),
                "the keys and projection of an index are fixed; give the changed index a new name (it is built in place and the old one removed)",
            );
        }
    }
    if let (Some(have), Some(want)) = (&obs.ttl_attribute, &spec.ttl_attribute) {
        if have != want {
            return Change::refused(
                format!("ttl_attribute ({have} -> {want})"),
                "AWS cannot rename the TTL attribute and allows one TTL change per hour; set ttl_attribute to none and deploy, then set the new attribute an hour later",
            );
        }
    }
    let mut fields = Vec::new();
    if obs.billing != spec.billing {
        fields.push(FieldDiff::new(
            "billing",
            Some(obs.billing),
            Some(spec.billing),
        ));
    }
    for o in &obs.global_secondary_indexes {
        if !spec
            .global_secondary_indexes
            .iter()
            .any(|g| g.name == o.name)
        {
            fields.push(FieldDiff::new(
                format!("global_secondary_indexes.{}", o.name),
                Some("present"),
                None::<String>,
            ));
        }
    }
    for g in &spec.global_secondary_indexes {
        match obs
            .global_secondary_indexes
            .iter()
            .find(|o| o.name == g.name)
        {
            None => fields.push(FieldDiff::new(
                format!("global_secondary_indexes.{}", g.name),
                None::<String>,
                Some(gsi_summary(spec, g)),
            )),
            Some(o) => {
                let want = spec.gsi_throughput(g);
                if want.is_some() && o.throughput != want {
                    fields.push(FieldDiff::new(
                        format!("global_secondary_indexes.{}.throughput", g.name),
                        o.throughput.map(|t| t.to_string()),
                        want.map(|t| t.to_string()),
                    ));
                }
            }
        }
    }
    if obs.ttl_attribute != spec.ttl_attribute {
        fields.push(FieldDiff::new(
            "ttl_attribute",
            obs.ttl_attribute.as_deref(),
            spec.ttl_attribute.as_deref(),
        ));
    }
    if obs.point_in_time_recovery != spec.point_in_time_recovery {
        fields.push(FieldDiff::new(
            "point_in_time_recovery",
            Some(obs.point_in_time_recovery),
            Some(spec.point_in_time_recovery),
        ));
    }
    let key_same = match (&obs.kms_key_arn, &spec.kms_key_arn) {
        (Some(a), Some(b)) => same_key(a, b),
        (None, None) => true,
        _ => false,
    };
    if !key_same {
        fields.push(FieldDiff::new(
            "kms_key_arn",
            Some(obs.kms_key_arn.as_deref().unwrap_or("AWS owned")),
            Some(spec.kms_key_arn.as_deref().unwrap_or("AWS owned")),
        ));
    }
    if obs.deletion_protection != spec.deletion_protection {
        fields.push(FieldDiff::new(
            "deletion_protection",
            Some(obs.deletion_protection),
            Some(spec.deletion_protection),
        ));
    }
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, old, new) in td.set {
        fields.push(FieldDiff::new(format!("tags.{k}"), old, Some(new)));
    }
    for k in td.remove {
        fields.push(FieldDiff::new(
            format!("tags.{k}"),
            obs.tags.get(&k),
            None::<String>,
        ));
    }
    Change::update_if_any(fields)
}

fn build_err(name: &str) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> DatabaseError + '_ {
    // A required field left unset: a bug in the request's construction, not an AWS answer.
    move |e| DatabaseError::invalid(KIND, name, format!("cannot build the request: {e}"))
}

fn key_schema(
    pk: &KeyAttribute,
    sk: Option<&KeyAttribute>,
    name: &str,
) -> Result<Vec<KeySchemaElement>, DatabaseError> {
    let mut out = vec![KeySchemaElement::builder()
        .attribute_name(&pk.name)
        .key_type(KeyType::Hash)
        .build()
        .map_err(build_err(name))?];
    if let Some(sk) = sk {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(&sk.name)
                .key_type(KeyType::Range)
                .build()
                .map_err(build_err(name))?,
        );
    }
    Ok(out)
}

/// Attribute definitions of the table keys plus the given indexes, deduplicated.
fn attribute_definitions<'a>(
    spec: &'a TableSpec,
    gsis: impl IntoIterator<Item = &'a GsiSpec>,
    name: &str,
) -> Result<Vec<AttributeDefinition>, DatabaseError> {
    let mut attrs: BTreeMap<&str, AttributeType> = BTreeMap::new();
    attrs.insert(&spec.partition_key.name, spec.partition_key.kind);
    if let Some(sk) = &spec.sort_key {
        attrs.insert(&sk.name, sk.kind);
    }
    for g in gsis {
        attrs.insert(&g.partition_key.name, g.partition_key.kind);
        if let Some(sk) = &g.sort_key {
            attrs.insert(&sk.name, sk.kind);
        }
    }
    attrs
        .into_iter()
        .map(|(n, t)| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(t.sdk())
                .build()
                .map_err(build_err(name))
        })
        .collect()
}

fn sdk_projection(p: &Projection) -> aws_sdk_dynamodb::types::Projection {
    let b = aws_sdk_dynamodb::types::Projection::builder();
    match p {
        Projection::All => b.projection_type(ProjectionType::All),
        Projection::KeysOnly => b.projection_type(ProjectionType::KeysOnly),
        Projection::Include(attrs) => b
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attrs.clone())),
    }
    .build()
}

fn sdk_throughput(t: Throughput, name: &str) -> Result<ProvisionedThroughput, DatabaseError> {
    ProvisionedThroughput::builder()
        .read_capacity_units(t.read)
        .write_capacity_units(t.write)
        .build()
        .map_err(build_err(name))
}

fn sse_spec(kms_key_arn: Option<&str>) -> SseSpecification {
    match kms_key_arn {
        Some(key) => SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build(),
        None => SseSpecification::builder().enabled(false).build(),
    }
}

fn ddb_tags(tags: &Tags, name: &str) -> Result<Vec<Tag>, DatabaseError> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
        .into_iter()
        .map(|t| t.map_err(build_err(name)))
        .collect()
}

fn observed_key(
    schema: &[KeySchemaElement],
    types: &BTreeMap<String, AttributeType>,
    kind: &KeyType,
) -> Option<ObservedKeyAttribute> {
    schema
        .iter()
        .find(|k| k.key_type() == kind)
        .map(|k| ObservedKeyAttribute {
            name: k.attribute_name().to_owned(),
            kind: types.get(k.attribute_name()).copied(),
        })
}

fn throughput_of(
    t: Option<&aws_sdk_dynamodb::types::ProvisionedThroughputDescription>,
) -> Option<Throughput> {
    let t = t?;
    let (read, write) = (t.read_capacity_units()?, t.write_capacity_units()?);
    (read > 0 || write > 0).then_some(Throughput { read, write })
}

fn projection_of(p: Option<&aws_sdk_dynamodb::types::Projection>) -> Projection {
    match p.and_then(|p| p.projection_type()) {
        Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
        Some(ProjectionType::Include) => Projection::Include(
            p.map(|p| p.non_key_attributes().to_vec())
                .unwrap_or_default(),
        ),
        _ => Projection::All,
    }
}

/// The table's own description, without TTL, PITR and tags.
fn observed_of(t: &TableDescription, name: &str) -> ObservedTable {
    let types: BTreeMap<String, AttributeType> = t
        .attribute_definitions()
        .iter()
        .filter_map(|a| {
            Some((
                a.attribute_name().to_owned(),
                AttributeType::from_sdk(a.attribute_type())?,
            ))
        })
        .collect();
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    let billing = if on_demand {
        Billing::OnDemand
    } else {
        Billing::Provisioned(
            throughput_of(t.provisioned_throughput()).unwrap_or(Throughput { read: 0, write: 0 }),
        )
    };
    let sse = t.sse_description().filter(|s| {
        matches!(
            s.status(),
            Some(SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating)
        ) && s.sse_type() == Some(&SseType::Kms)
    });
    ObservedTable {
        name: name.to_owned(),
        arn: t.table_arn().unwrap_or_default().to_owned(),
        status: t
            .table_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        partition_key: observed_key(t.key_schema(), &types, &KeyType::Hash).unwrap_or(
            ObservedKeyAttribute {
                name: String::new(),
                kind: None,
            },
        ),
        sort_key: observed_key(t.key_schema(), &types, &KeyType::Range),
        billing,
        global_secondary_indexes: t
            .global_secondary_indexes()
            .iter()
            .map(|g| ObservedGsi {
                name: g.index_name().unwrap_or_default().to_owned(),
                partition_key: observed_key(g.key_schema(), &types, &KeyType::Hash).unwrap_or(
                    ObservedKeyAttribute {
                        name: String::new(),
                        kind: None,
                    },
                ),
                sort_key: observed_key(g.key_schema(), &types, &KeyType::Range),
                projection: projection_of(g.projection()),
                throughput: throughput_of(g.provisioned_throughput()),
                status: g
                    .index_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        ttl_attribute: None,
        point_in_time_recovery: false,
        kms_key_arn: sse.and_then(|s| s.kms_master_key_arn().map(str::to_owned)),
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        stream_arn: t.latest_stream_arn().map(str::to_owned),
        tags: BTreeMap::new(),
    }
}

async fn describe(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<TableDescription>, DatabaseError> {
    match ddb.describe_table().table_name(name).send().await {
        Ok(out) => Ok(out.table),
        Err(e) if e.as_service_error().is_some_and(is_not_found) => Ok(None),
        Err(e) => Err(DatabaseError::from(AwsError::new("read", KIND, name, e))),
    }
}

async fn read_tags(
    ddb: &aws_sdk_dynamodb::Client,
    arn: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, DatabaseError> {
    let mut tags = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(AwsError::map("read the tags of", KIND, name))?;
        for t in out.tags() {
            tags.insert(t.key().to_owned(), t.value().to_owned());
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(tags);
        }
    }
}

/// Reads the table `name` with its TTL, point-in-time recovery and tags; `None` when it does
/// not exist.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn find_table(ctx: &Context, name: &str) -> Result<Option<ObservedTable>, DatabaseError> {
    find(&client(ctx), name).await
}

async fn find(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<ObservedTable>, DatabaseError> {
    let Some(t) = describe(ddb, name).await? else {
        return Ok(None);
    };
    let mut obs = observed_of(&t, name);
    if obs.status == TableStatus::Deleting.as_str() {
        return Ok(Some(obs));
    }
    obs.tags = read_tags(ddb, &obs.arn, name).await?;
    let ttl = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(AwsError::map("read the TTL of", KIND, name))?;
    obs.ttl_attribute = ttl
        .time_to_live_description()
        .filter(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
        })
        .and_then(|d| d.attribute_name().map(str::to_owned));
    let backups = ddb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(AwsError::map("read the backups of", KIND, name))?;
    obs.point_in_time_recovery = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    Ok(Some(obs))
}

/// Waits until the table and all its indexes are `ACTIVE`.
///
/// # Errors
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) on a terminal status (inaccessible key, archived, deleted), a
/// timeout or a failed poll.
pub async fn wait_active(ctx: &Context, logical_id: &str, name: &str) -> Result<(), DatabaseError> {
    let ddb = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            let Some(t) = describe(&ddb, name).await? else {
                return Ok::<_, DatabaseError>(Poll::Failed("deleted".into()));
            };
            let status = t.table_status().cloned();
            let busy_index = t
                .global_secondary_indexes()
                .iter()
                .find(|g| g.index_status() != Some(&IndexStatus::Active));
            Ok(match (status, busy_index) {
                (Some(TableStatus::Active), None) => Poll::Ready(()),
                (Some(TableStatus::Active), Some(g)) => Poll::Pending(format!(
                    "index {} {}",
                    g.index_name().unwrap_or_default(),
                    g.index_status()
                        .map(IndexStatus::as_str)
                        .unwrap_or_default()
                )),
                (
                    Some(
                        s @ (TableStatus::InaccessibleEncryptionCredentials
                        | TableStatus::Archived
                        | TableStatus::Deleting),
                    ),
                    _,
                ) => Poll::Failed(s.as_str().to_owned()),
                (Some(s), _) => Poll::Pending(s.as_str().to_owned()),
                (None, _) => Poll::Pending("unknown".into()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}

async fn wait_gone(ctx: &Context, logical_id: &str, name: &str) -> Result<(), DatabaseError> {
    let ddb = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match describe(&ddb, name).await? {
                None => Poll::Ready(()),
                Some(t) => Poll::Pending(
                    t.table_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}

/// The status of a table still on its way (the table, or one of its indexes, not yet
/// `ACTIVE`), or `None` when it is usable.
fn busy_status(obs: &ObservedTable) -> Option<String> {
    if obs.status != TableStatus::Active.as_str() {
        return Some(obs.status.clone());
    }
    obs.global_secondary_indexes
        .iter()
        .find(|g| g.status != IndexStatus::Active.as_str())
        .map(|g| format!("index {} {}", g.name, g.status))
}

/// Creates the table, or brings billing, indexes, TTL, point-in-time recovery, encryption,
/// deletion protection and tags to the spec in place, waiting for the table (and each index)
/// to be `ACTIVE` between steps.
///
/// # Idempotency
/// Found by its deterministic name; a converged table costs four reads (table, TTL, backups,
/// tags) and no write. Tags go in `CreateTable`, so a table left by a crash is recognised and
/// finished (TTL and PITR, set after creation, are applied by the next run). A table still
/// `CREATING` or `UPDATING` is waited for; a concurrent create's `ResourceInUseException` is
/// treated as "exists". A table of that name carrying another stack's tags is refused. A
/// refused change writes nothing.
///
/// # Errors
/// [`ResourceError::InvalidSpec`](ironbark_core::reconcile::ResourceError::InvalidSpec) for a spec AWS would reject, [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for
/// a key schema change and the other refusals (in apply mode; in plan mode it is returned as a
/// refused change), [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails, [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) when the
/// table does not become active.
///
/// ```no_run
/// # async fn example(ctx: &ironbark_core::Context, spec: &ironbark_database::dynamodb::TableSpec)
/// # -> Result<(), ironbark_database::DatabaseError> {
/// let out = ironbark_database::dynamodb::ensure_table(ctx, spec).await?;
/// println!("{} {}", out.change.change.symbol(), out.table_name);
/// # Ok(()) }
/// ```
pub async fn ensure_table(ctx: &Context, spec: &TableSpec) -> Result<TableOutcome, DatabaseError> {
    validate(spec)
        .map_err(|reason| DatabaseError::invalid(KIND, spec.logical_id.clone(), reason))?;
    let ddb = client(ctx);
    let name = table_name_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let observed = {
        let _permit = ctx.permit("dynamodb").await;
        find(&ddb, &name).await?
    };
    if let Some(obs) = &observed {
        if obs.status == TableStatus::Deleting.as_str() {
            return Err(DatabaseError::refused(
                KIND,
                &name,
                "it is being deleted; wait for the deletion to finish, then deploy again",
            ));
        }
        if !owned_by(&obs.tags, ctx, &spec.logical_id) {
            return Err(ResourceError::foreign(KIND, &name, &spec.logical_id).into());
        }
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref())
        .or_in_progress(observed.as_ref().and_then(busy_status).as_deref());
    let mut arn = observed.as_ref().map(|o| o.arn.clone());
    let mut stream_arn = observed.as_ref().and_then(|o| o.stream_arn.clone());
    if let Change::Refused { field, reason } = &change {
        if ctx.is_apply() {
            return Err(DatabaseError::refused(
                KIND,
                &name,
                format!("{field}: {reason}"),
            ));
        }
    } else if ctx.is_apply() {
        let obs = match &observed {
            Some(obs) => obs.clone(),
            None => {
                create(ctx, &ddb, spec, &name, &tags).await?;
                wait_active(ctx, &spec.logical_id, &name).await?;
                find(&ddb, &name)
                    .await?
                    .ok_or_else(|| DatabaseError::missing(KIND, &name, "table after creation"))?
            }
        };
        if busy_status(&obs).is_some() {
            wait_active(ctx, &spec.logical_id, &name).await?;
        }
        update(ctx, &ddb, spec, &obs, &tags).await?;
        arn = Some(obs.arn.clone());
        stream_arn = obs.stream_arn.clone();
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(TableOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        table_name: name,
        table_arn: arn,
        stream_arn,
    })
}

async fn create(
    ctx: &Context,
    ddb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let mut req = ddb
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attribute_definitions(
            spec,
            &spec.global_secondary_indexes,
            name,
        )?))
        .set_key_schema(Some(key_schema(
            &spec.partition_key,
            spec.sort_key.as_ref(),
            name,
        )?))
        .deletion_protection_enabled(spec.deletion_protection)
        .set_tags(Some(ddb_tags(tags, name)?));
    if spec.kms_key_arn.is_some() {
        req = req.sse_specification(sse_spec(spec.kms_key_arn.as_deref()));
    }
    req = match spec.billing {
        Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
        Billing::Provisioned(t) => req
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(sdk_throughput(t, name)?),
    };
    for g in &spec.global_secondary_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&g.name)
                .set_key_schema(Some(key_schema(
                    &g.partition_key,
                    g.sort_key.as_ref(),
                    name,
                )?))
                .projection(sdk_projection(&g.projection))
                .set_provisioned_throughput(
                    spec.gsi_throughput(g)
                        .map(|t| sdk_throughput(t, name))
                        .transpose()?,
                )
                .build()
                .map_err(build_err(name))?,
        );
    }
    let _permit = ctx.permit("dynamodb").await;
    match req.send().await {
        Ok(_) => Ok(()),
        // A concurrent or interrupted run created it: waiting for it is what is left.
        Err(e) if e.as_service_error().is_some_and(is_in_use) => Ok(()),
        Err(e) => Err(DatabaseError::from(AwsError::new("create", KIND, name, e))),
    }
}

/// One `UpdateTable` (or other write) and the wait after it.
async fn update(
    ctx: &Context,
    ddb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    obs: &ObservedTable,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let name = obs.name.as_str();
    let id = spec.logical_id.as_str();
    let wanted = |n: &str| spec.global_secondary_indexes.iter().any(|g| g.name == n);
    // 1. Remove the indexes no longer wanted, one per call.
    for o in obs
        .global_secondary_indexes
        .iter()
        .filter(|o| !wanted(&o.name))
    {
        ddb.update_table()
            .table_name(name)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        DeleteGlobalSecondaryIndexAction::builder()
                            .index_name(&o.name)
                            .build()
                            .map_err(build_err(name))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::map("remove an index from", KIND, name))?;
        wait_index_gone(ctx, ddb, id, name, &o.name).await?;
    }
    let existing = |n: &str| obs.global_secondary_indexes.iter().any(|o| o.name == n);
    // 2. Billing and capacity, with the capacity of the indexes that stay.
    let mut index_updates = Vec::new();
    for g in spec
        .global_secondary_indexes
        .iter()
        .filter(|g| existing(&g.name))
    {
        let Some(want) = spec.gsi_throughput(g) else {
            continue;
        };
        let have = obs
            .global_secondary_indexes
            .iter()
            .find(|o| o.name == g.name)
            .and_then(|o| o.throughput);
        if have != Some(want) {
            index_updates.push(
                GlobalSecondaryIndexUpdate::builder()
                    .update(
                        UpdateGlobalSecondaryIndexAction::builder()
                            .index_name(&g.name)
                            .provisioned_throughput(sdk_throughput(want, name)?)
                            .build()
                            .map_err(build_err(name))?,
                    )
                    .build(),
            );
        }
    }
    if obs.billing != spec.billing || !index_updates.is_empty() {
        let mut req = ddb.update_table().table_name(name);
        if obs.billing != spec.billing {
            req = match spec.billing {
                Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
                Billing::Provisioned(t) => req
                    .billing_mode(BillingMode::Provisioned)
                    .provisioned_throughput(sdk_throughput(t, name)?),
            };
        }
        req.set_global_secondary_index_updates(Some(index_updates).filter(|u| !u.is_empty()))
            .send()
            .await
            .map_err(AwsError::map("change the billing of", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 3. Create the new indexes, one per call; the attribute definitions cover every index
    //    that exists after the call.
    let mut present: Vec<&GsiSpec> = spec
        .global_secondary_indexes
        .iter()
        .filter(|g| existing(&g.name))
        .collect();
    for g in spec
        .global_secondary_indexes
        .iter()
        .filter(|g| !existing(&g.name))
    {
        present.push(g);
        ddb.update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attribute_definitions(
                spec,
                present.iter().copied(),
                name,
            )?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(
                        CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&g.name)
                            .set_key_schema(Some(key_schema(
                                &g.partition_key,
                                g.sort_key.as_ref(),
                                name,
                            )?))
                            .projection(sdk_projection(&g.projection))
                            .set_provisioned_throughput(
                                spec.gsi_throughput(g)
                                    .map(|t| sdk_throughput(t, name))
                                    .transpose()?,
                            )
                            .build()
                            .map_err(build_err(name))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::map("add an index to", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 4. Encryption key.
    let key_same = match (&obs.kms_key_arn, &spec.kms_key_arn) {
        (Some(a), Some(b)) => same_key(a, b),
        (None, None) => true,
        _ => false,
    };
    if !key_same {
        ddb.update_table()
            .table_name(name)
            .sse_specification(sse_spec(spec.kms_key_arn.as_deref()))
            .send()
            .await
            .map_err(AwsError::map("change the encryption of", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 5. Deletion protection.
    if obs.deletion_protection != spec.deletion_protection {
        set_deletion_protection(ddb, name, spec.deletion_protection).await?;
    }
    // 6. TTL (a rename was refused by decide).
    if obs.ttl_attribute != spec.ttl_attribute {
        let (enabled, attribute) = match (&spec.ttl_attribute, &obs.ttl_attribute) {
            (Some(want), _) => (true, want),
            (None, Some(have)) => (false, have),
            (None, None) => unreachable!("the TTL attributes differ"),
        };
        ddb.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(enabled)
                    .attribute_name(attribute)
                    .build()
                    .map_err(build_err(name))?,
            )
            .send()
            .await
            .map_err(AwsError::map("change the TTL of", KIND, name))?;
    }
    // 7. Point-in-time recovery.
    if obs.point_in_time_recovery != spec.point_in_time_recovery {
        ddb.update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(spec.point_in_time_recovery)
                    .build()
                    .map_err(build_err(name))?,
            )
            .send()
            .await
            .map_err(AwsError::map("change the backups of", KIND, name))?;
    }
    // 8. Tags.
    let diff = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !diff.set.is_empty() {
        let set = diff.to_set();
        ddb.tag_resource()
            .resource_arn(&obs.arn)
            .set_tags(Some(ddb_tags(&set, name)?))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, name))?;
    }
    if !diff.remove.is_empty() {
        ddb.untag_resource()
            .resource_arn(&obs.arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, name))?;
    }
    Ok(())
}

async fn set_deletion_protection(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    on: bool,
) -> Result<(), DatabaseError> {
    ddb.update_table()
        .table_name(name)
        .deletion_protection_enabled(on)
        .send()
        .await
        .map_err(AwsError::map(
            "change the deletion protection of",
            KIND,
            name,
        ))?;
    Ok(())
}

/// Waits until the index `index` is gone and the table is `ACTIVE` again.
async fn wait_index_gone(
    ctx: &Context,
    ddb: &aws_sdk_dynamodb::Client,
    logical_id: &str,
    name: &str,
    index: &str,
) -> Result<(), DatabaseError> {
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            let Some(t) = describe(ddb, name).await? else {
                return Ok::<_, DatabaseError>(Poll::Failed("deleted".into()));
            };
            let still = t
                .global_secondary_indexes()
                .iter()
                .any(|g| g.index_name() == Some(index));
            Ok(match t.table_status() {
                Some(TableStatus::Active) if !still => Poll::Ready(()),
                _ if still => Poll::Pending(format!("index {index} deleting")),
                Some(s) => Poll::Pending(s.as_str().to_owned()),
                None => Poll::Pending("unknown".into()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}

/// Deletes the table of `logical_id` and waits until it is gone.
///
/// # Idempotency
/// An absent table is a no-op, one already `DELETING` is only waited for, and one carrying
/// another stack's tags is left alone. A protected table is refused (a refused change in plan
/// mode) unless `allow_protected`, which turns protection off first; a run killed between the
/// two calls leaves an unprotected table that the next destroy deletes.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a protected table in apply mode, [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) otherwise.
pub async fn destroy_table(
    ctx: &Context,
    logical_id: &str,
    opts: TableDestroyOptions,
) -> Result<ResourceChange, DatabaseError> {
    let ddb = client(ctx);
    let name = table_name_of(ctx, logical_id);
    let observed = find(&ddb, &name).await?;
    let deleting = observed
        .as_ref()
        .is_some_and(|o| o.status == TableStatus::Deleting.as_str());
    let change = match &observed {
        Some(_) if deleting => Change::Delete,
        Some(obs) if owned_by(&obs.tags, ctx, logical_id) => {
            if obs.deletion_protection && !opts.allow_protected {
                Change::refused(
                    "deletion_protection",
                    "the table is protected; destroy with --allow-protected to turn protection off and delete it (its data is lost)",
                )
            } else {
                Change::Delete
            }
        }
        _ => Change::NoOp,
    };
    if let Change::Refused { field, reason } = &change {
        if ctx.is_apply() {
            return Err(DatabaseError::refused(
                KIND,
                &name,
                format!("{field}: {reason}"),
            ));
        }
    } else if ctx.is_apply() {
        if let Some(obs) = observed.filter(|_| change.is_change()) {
            if !deleting {
                if obs.status != TableStatus::Active.as_str() {
                    wait_active(ctx, logical_id, &name).await?;
                }
                if obs.deletion_protection {
                    set_deletion_protection(&ddb, &name, false).await?;
                }
                match ddb.delete_table().table_name(&name).send().await {
                    Ok(_) => {}
                    Err(e) if e.as_service_error().is_some_and(is_not_found) => {}
                    Err(e) => {
                        return Err(DatabaseError::from(AwsError::new("delete", KIND, &name, e)))
                    }
                }
            }
            wait_gone(ctx, logical_id, &name).await?;
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
