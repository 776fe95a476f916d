//! The typed difference between a table and its spec, computed once and pure: the plan
//! renders it, and apply acts on it and on nothing else.

use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, Diff, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::Tags;

use super::{
    Billing, GsiSpec, KeyAttribute, ObservedKeyAttribute, ObservedTable, Projection, TableSpec,
    Throughput,
};

/// Whether two KMS key references name the same key (an id matches the ARN ending in it).
pub(super) fn same_key(a: &str, b: &str) -> bool {
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

/// A change to one global secondary index, in the plan's order (removals first, then the
/// spec's indexes in their order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChange {
    /// Remove the index of that name.
    Remove(String),
    /// Create the spec's index of that name; `summary` is its plan rendering.
    Add {
        /// The index name.
        name: String,
        /// Keys, projection and capacity, as the plan shows them.
        summary: String,
    },
    /// Set the provisioned capacity of an index that stays.
    Throughput {
        /// The index name.
        name: String,
        /// What it has.
        observed: Option<Throughput>,
        /// What the spec wants.
        desired: Throughput,
    },
}

/// What differs between a table and its spec; `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableDiff {
    /// The table does not exist: the plan's fields of the create.
    Create(Vec<FieldDiff>),
    /// A change AWS can only make with a new table or index, refused: (field, reason).
    Refused(String, String),
    /// In-place changes (possibly none).
    Update(TableUpdate),
}

/// The in-place changes to an existing table; each `Some` is (observed, desired).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableUpdate {
    /// Billing mode or table capacity.
    pub billing: Option<(Billing, Billing)>,
    /// Index removals, additions and capacity changes.
    pub indexes: Vec<IndexChange>,
    /// The TTL attribute (never a rename: that is refused).
    pub ttl: Option<(Option<String>, Option<String>)>,
    /// Point-in-time recovery.
    pub point_in_time_recovery: Option<(bool, bool)>,
    /// The KMS key (`None`: the AWS owned key).
    pub kms_key: Option<(Option<String>, Option<String>)>,
    /// Deletion protection.
    pub deletion_protection: Option<(bool, bool)>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering.
    tag_fields: Vec<FieldDiff>,
}

impl TableUpdate {
    fn is_empty(&self) -> bool {
        self.billing.is_none()
            && self.indexes.is_empty()
            && self.ttl.is_none()
            && self.point_in_time_recovery.is_none()
            && self.kms_key.is_none()
            && self.deletion_protection.is_none()
            && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields = Vec::new();
        if let Some((old, new)) = self.billing {
            fields.push(FieldDiff::new("billing", Some(old), Some(new)));
        }
        for c in &self.indexes {
            fields.push(match c {
                IndexChange::Remove(name) => FieldDiff::new(
                    format!("global_secondary_indexes.{name}"),
                    Some("present"),
                    None::<String>,
                ),
                IndexChange::Add { name, summary } => FieldDiff::new(
                    format!("global_secondary_indexes.{name}"),
                    None::<String>,
                    Some(summary),
                ),
                IndexChange::Throughput {
                    name,
                    observed,
                    desired,
                } => FieldDiff::new(
                    format!("global_secondary_indexes.{name}.throughput"),
                    observed.map(|t| t.to_string()),
                    Some(desired.to_string()),
                ),
            });
        }
        if let Some((old, new)) = &self.ttl {
            fields.push(FieldDiff::new(
                "ttl_attribute",
                old.as_deref(),
                new.as_deref(),
            ));
        }
        if let Some((old, new)) = self.point_in_time_recovery {
            fields.push(FieldDiff::new(
                "point_in_time_recovery",
                Some(old),
                Some(new),
            ));
        }
        if let Some((old, new)) = &self.kms_key {
            fields.push(FieldDiff::new(
                "kms_key_arn",
                Some(old.as_deref().unwrap_or("AWS owned")),
                Some(new.as_deref().unwrap_or("AWS owned")),
            ));
        }
        if let Some((old, new)) = self.deletion_protection {
            fields.push(FieldDiff::new("deletion_protection", Some(old), Some(new)));
        }
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }
}

impl Diff for TableDiff {
    fn is_empty(&self) -> bool {
        match self {
            Self::Create(_) | Self::Refused(..) => false,
            Self::Update(u) => u.is_empty(),
        }
    }

    fn fields(&self) -> Vec<FieldDiff> {
        match self {
            Self::Create(fields) => fields.clone(),
            Self::Refused(..) => Vec::new(),
            Self::Update(u) => u.fields(),
        }
    }

    fn refusal(&self) -> Option<(String, String)> {
        match self {
            Self::Refused(field, reason) => Some((field.clone(), reason.clone())),
            _ => None,
        }
    }
}

const KEY_FIXED: &str = "the key schema of a table is fixed; a new key needs a new table (under another logical id) and a data migration";

/// The first change AWS cannot make in place, as (field, reason).
fn refusal(spec: &TableSpec, obs: &ObservedTable) -> Option<(String, String)> {
    if !key_matches(&spec.partition_key, &obs.partition_key) {
        return Some((
            format!(
                "partition_key ({} -> {})",
                show_observed(Some(&obs.partition_key)),
                spec.partition_key
            ),
            KEY_FIXED.into(),
        ));
    }
    if !opt_key_matches(spec.sort_key.as_ref(), obs.sort_key.as_ref()) {
        return Some((
            format!(
                "sort_key ({} -> {})",
                show_observed(obs.sort_key.as_ref()),
                show_desired(spec.sort_key.as_ref())
            ),
            KEY_FIXED.into(),
        ));
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
            return Some((
                format!("global_secondary_indexes.{}", g.name),
                "the keys and projection of an index are fixed; give the changed index a new name (it is built in place and the old one removed)".into(),
            ));
        }
    }
    if let (Some(have), Some(want)) = (&obs.ttl_attribute, &spec.ttl_attribute) {
        if have != want {
            return Some((
                format!("ttl_attribute ({have} -> {want})"),
                "AWS cannot rename the TTL attribute and allows one TTL change per hour; set ttl_attribute to none and deploy, then set the new attribute an hour later".into(),
            ));
        }
    }
    None
}

/// The index changes, removals first (in the table's order), then the spec's indexes.
fn index_changes(spec: &TableSpec, obs: &ObservedTable) -> Vec<IndexChange> {
    let mut out: Vec<IndexChange> = obs
        .global_secondary_indexes
        .iter()
        .filter(|o| {
            !spec
                .global_secondary_indexes
                .iter()
                .any(|g| g.name == o.name)
        })
        .map(|o| IndexChange::Remove(o.name.clone()))
        .collect();
    for g in &spec.global_secondary_indexes {
        match obs
            .global_secondary_indexes
            .iter()
            .find(|o| o.name == g.name)
        {
            None => out.push(IndexChange::Add {
                name: g.name.clone(),
                summary: gsi_summary(spec, g),
            }),
            Some(o) => match spec.gsi_throughput(g) {
                Some(want) if o.throughput != Some(want) => out.push(IndexChange::Throughput {
                    name: g.name.clone(),
                    observed: o.throughput,
                    desired: want,
                }),
                _ => {}
            },
        }
    }
    out
}

/// The diff for a table: a create, the first refusal, or the in-place updates. Pure.
#[must_use]
pub fn diff(spec: &TableSpec, tags: &Tags, observed: Option<&ObservedTable>) -> TableDiff {
    let Some(obs) = observed else {
        return TableDiff::Create(create_fields(spec));
    };
    if let Some((field, reason)) = refusal(spec, obs) {
        return TableDiff::Refused(field, reason);
    }
    let key_same = match (&obs.kms_key_arn, &spec.kms_key_arn) {
        (Some(a), Some(b)) => same_key(a, b),
        (None, None) => true,
        _ => false,
    };
    TableDiff::Update(TableUpdate {
        billing: (obs.billing != spec.billing).then_some((obs.billing, spec.billing)),
        indexes: index_changes(spec, obs),
        ttl: (obs.ttl_attribute != spec.ttl_attribute)
            .then(|| (obs.ttl_attribute.clone(), spec.ttl_attribute.clone())),
        point_in_time_recovery: (obs.point_in_time_recovery != spec.point_in_time_recovery)
            .then_some((obs.point_in_time_recovery, spec.point_in_time_recovery)),
        kms_key: (!key_same).then(|| (obs.kms_key_arn.clone(), spec.kms_key_arn.clone())),
        deletion_protection: (obs.deletion_protection != spec.deletion_protection)
            .then_some((obs.deletion_protection, spec.deletion_protection)),
        tags: tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        tag_fields: tags.field_diffs(&obs.tags),
    })
}

/// The plan's change for a table: a create, the in-place updates, or the first refusal
/// (whatever AWS reports as its status). Pure.
#[must_use]
pub fn decide(spec: &TableSpec, tags: &Tags, observed: Option<&ObservedTable>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}
