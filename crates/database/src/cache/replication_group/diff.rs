//! The replication group's diff: what changes in place, what is refused naming the field,
//! and the replica count steps. Pure.

use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::Tags;

use super::super::{sorted, ENGINE, PORT};
use super::{ObservedReplicationGroup, RedisSpec};
use crate::rds::tag_fields;

/// Whether two KMS key references name the same key (an id matches the ARN ending in it).
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

pub(crate) fn version_parts(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Whether `observed` satisfies `desired` (`7.1.0` satisfies `7.1`).
pub(crate) fn version_matches(observed: &str, desired: &str) -> bool {
    observed == desired || observed.starts_with(&format!("{desired}."))
}

pub(crate) fn create_fields(spec: &RedisSpec, subnet_group: &str) -> Vec<FieldDiff> {
    let replicas = spec.num_nodes > 1;
    let mut fields = vec![
        FieldDiff::set("engine", ENGINE),
        FieldDiff::set("engine_version", &spec.engine_version),
        FieldDiff::set("node_type", &spec.node_type),
        FieldDiff::set("num_nodes", spec.num_nodes),
        FieldDiff::set("automatic_failover", replicas),
        FieldDiff::set("multi_az", replicas),
        FieldDiff::set("subnet_group", subnet_group),
        FieldDiff::set(
            "security_group_ids",
            sorted(&spec.security_group_ids).join(","),
        ),
        FieldDiff::set("port", PORT),
        FieldDiff::set("at_rest_encryption", spec.at_rest_encryption),
        FieldDiff::set("transit_encryption", spec.transit_encryption),
        FieldDiff::set("snapshot_retention_days", spec.snapshot_retention_days),
    ];
    if let Some(key) = &spec.kms_key_id {
        fields.push(FieldDiff::set("kms_key_id", key));
    }
    if let Some(window) = &spec.maintenance_window {
        fields.push(FieldDiff::set("maintenance_window", window));
    }
    if spec.auth_token_secret_arn.is_some() {
        fields.push(FieldDiff::sensitive("auth_token"));
    }
    fields
}

/// The change for a replication group: a create, the in-place updates, or the first refusal
/// (a change AWS can only make by replacement). Pure.
#[must_use]
pub fn decide(
    spec: &RedisSpec,
    subnet_group: &str,
    tags: &Tags,
    observed: Option<&ObservedReplicationGroup>,
) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: create_fields(spec, subnet_group),
        };
    };
    if obs.engine != ENGINE {
        return Change::refused(
            format!("engine ({} -> {ENGINE})", obs.engine),
            "changing the engine replaces the replication group and loses its data; create a new group under another logical id and migrate",
        );
    }
    if obs.at_rest_encryption != spec.at_rest_encryption {
        return Change::refused(
            format!("at_rest_encryption ({} -> {})", obs.at_rest_encryption, spec.at_rest_encryption),
            "encryption at rest is fixed when a replication group is created; create a new group (restored from a snapshot) under another logical id",
        );
    }
    let key_differs = match (&obs.kms_key_id, &spec.kms_key_id) {
        (Some(a), Some(b)) => !same_key(a, b),
        (None, None) => false,
        _ => spec.at_rest_encryption,
    };
    if key_differs {
        return Change::refused(
            format!(
                "kms_key_id ({} -> {})",
                obs.kms_key_id.as_deref().unwrap_or("service key"),
                spec.kms_key_id.as_deref().unwrap_or("service key")
            ),
            "the KMS key of encryption at rest is fixed when a replication group is created; create a new group (restored from a snapshot) under another logical id",
        );
    }
    if obs.transit_encryption != spec.transit_encryption {
        return Change::refused(
            format!("transit_encryption ({} -> {})", obs.transit_encryption, spec.transit_encryption),
            "switching TLS on a live group is a two-step migration (TransitEncryptionMode preferred, move every client, then required) that Ironbark leaves to the operator; do it with aws elasticache modify-replication-group, then deploy again",
        );
    }
    let wants_auth = spec.auth_token_secret_arn.is_some();
    if obs.auth_token_enabled != wants_auth {
        return Change::refused(
            format!("auth_token ({} -> {})", obs.auth_token_enabled, wants_auth),
            "turning AUTH on or off on a live group changes what every client must send; rotate or set it with aws elasticache modify-replication-group --auth-token-update-strategy, then deploy again",
        );
    }
    if let Some(observed_group) = &obs.subnet_group {
        if observed_group != subnet_group {
            return Change::refused(
                format!("subnet_group ({observed_group} -> {subnet_group})"),
                "a replication group cannot move to another subnet group; create a new group under another logical id",
            );
        }
    }
    let mut fields = Vec::new();
    if let Some(version) = &obs.engine_version {
        if !version_matches(version, &spec.engine_version) {
            if version_parts(&spec.engine_version) > version_parts(version) {
                fields.push(FieldDiff::new(
                    "engine_version",
                    Some(version),
                    Some(&spec.engine_version),
                ));
            } else {
                return Change::refused(
                    format!("engine_version ({version} -> {})", spec.engine_version),
                    "Redis cannot be downgraded in place; create a new group under another logical id",
                );
            }
        }
    }
    let node_type = obs.pending_node_type.as_ref().unwrap_or(&obs.node_type);
    if *node_type != spec.node_type {
        fields.push(FieldDiff::new(
            "node_type",
            Some(node_type),
            Some(&spec.node_type),
        ));
    }
    if replica_change(obs.num_nodes, spec.num_nodes).is_some() {
        fields.push(FieldDiff::new(
            "num_nodes",
            Some(obs.num_nodes),
            Some(spec.num_nodes),
        ));
    }
    let replicas = spec.num_nodes > 1;
    if obs.automatic_failover != replicas {
        fields.push(FieldDiff::new(
            "automatic_failover",
            Some(obs.automatic_failover),
            Some(replicas),
        ));
    }
    if obs.multi_az != replicas {
        fields.push(FieldDiff::new(
            "multi_az",
            Some(obs.multi_az),
            Some(replicas),
        ));
    }
    if obs.snapshot_retention_days != i32::from(spec.snapshot_retention_days) {
        fields.push(FieldDiff::new(
            "snapshot_retention_days",
            Some(obs.snapshot_retention_days),
            Some(spec.snapshot_retention_days),
        ));
    }
    if let Some(groups) = &obs.security_group_ids {
        let want = sorted(&spec.security_group_ids);
        if *groups != want {
            fields.push(FieldDiff::new(
                "security_group_ids",
                Some(groups.join(",")),
                Some(want.join(",")),
            ));
        }
    }
    if let (Some(want), Some(have)) = (&spec.maintenance_window, &obs.maintenance_window) {
        if !want.eq_ignore_ascii_case(have) {
            fields.push(FieldDiff::new("maintenance_window", Some(have), Some(want)));
        }
    }
    if obs.description != spec.description {
        fields.push(FieldDiff::new(
            "description",
            Some(&obs.description),
            Some(&spec.description),
        ));
    }
    fields.extend(tag_fields(tags, &obs.tags));
    Change::update_if_any(fields)
}

/// A change of the replica count, made in place.
///
/// AWS refuses automatic failover without a replica and Multi-AZ without automatic failover,
/// and refuses to remove the last replica while either is on. So an increase comes first (then
/// `ModifyReplicationGroup` turns failover and Multi-AZ on when the group had no replica), and a
/// decrease comes last (after `ModifyReplicationGroup` turned them off when no replica is to
/// remain). Each call is followed by waiting for `available`: AWS refuses the next change while
/// the group is `modifying`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaChange {
    /// `IncreaseReplicaCount` to this many replicas, before the other modifications.
    Increase {
        /// The new replica count.
        replicas: u8,
    },
    /// `DecreaseReplicaCount` to this many replicas, after the other modifications.
    Decrease {
        /// The new replica count.
        replicas: u8,
    },
}

impl ReplicaChange {
    /// The new replica count.
    #[must_use]
    pub fn replicas(self) -> u8 {
        match self {
            Self::Increase { replicas } | Self::Decrease { replicas } => replicas,
        }
    }
}

/// The replica count change from `observed_nodes` to `desired_nodes` nodes (a primary and
/// its replicas); `None` when the count stays. Pure.
#[must_use]
pub fn replica_change(observed_nodes: usize, desired_nodes: u8) -> Option<ReplicaChange> {
    let replicas = desired_nodes.saturating_sub(1);
    match observed_nodes.cmp(&usize::from(desired_nodes)) {
        std::cmp::Ordering::Less => Some(ReplicaChange::Increase { replicas }),
        std::cmp::Ordering::Greater => Some(ReplicaChange::Decrease { replicas }),
        std::cmp::Ordering::Equal => None,
    }
}
