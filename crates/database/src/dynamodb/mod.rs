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
//!
//! A table is a [`Resource`](ironbark_core::reconcile::Resource) of the reconcile kit:
//! `diff.rs` computes the typed [`TableDiff`] (pure), `apply.rs` acts on exactly that diff,
//! `sdk.rs` converts between the spec and the SDK's shapes, `destroy.rs` deletes.

mod apply;
mod destroy;
mod diff;
mod sdk;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ScalarAttributeType;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::ResourceChange;
use ironbark_core::reconcile;
use ironbark_core::Context;

use crate::error::DatabaseError;

pub use destroy::destroy_table;
pub use diff::{decide, diff, IndexChange, TableDiff, TableUpdate};
pub use sdk::{find_table, wait_active};

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

/// What dependents need of a table: its ARN and latest stream ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableIds {
    /// The table ARN.
    pub arn: String,
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
    let converged = reconcile::converge(ctx, spec).await?;
    let ids = converged.output.into_value();
    Ok(TableOutcome {
        table_name: table_name_of(ctx, &spec.logical_id),
        table_arn: ids.as_ref().map(|i| i.arn.clone()),
        stream_arn: ids.and_then(|i| i.stream_arn),
        change: converged.change,
    })
}
