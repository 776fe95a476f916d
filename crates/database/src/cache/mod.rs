//! ElastiCache for Redis: a cache subnet group and a cluster-mode-disabled replication group
//! (one primary plus up to five replicas), encrypted, with an AUTH token read from Secrets
//! Manager on creation only.
//!
//! What changes in place: node type, snapshot retention, security groups, maintenance window,
//! description, engine version upgrades, the failover flags and tags. What AWS can only change
//! by replacing the group, or through a multi-step migration that needs client changes, is
//! refused naming the field: engine, subnet group, encryption at rest and its KMS key, encryption
//! in transit (AWS can migrate it through `TransitEncryptionMode` `preferred`, but clients must
//! move to TLS in between, so Ironbark leaves it to the operator), the AUTH token being turned
//! on or off, and engine downgrades. The replica count changes in place through
//! `IncreaseReplicaCount` / `DecreaseReplicaCount` (see [`ReplicaChange`] for the order of the
//! calls around the failover flags).
//!
//! The AUTH token never leaves a [`SecretString`]: plans show `auth_token: (sensitive)`, errors
//! name the secret's ARN, and a converged re-run does not read the secret at all.
//!
//! `subnet_group.rs` holds the cache subnet group (a kind of the reconcile kit);
//! `replication_group.rs` the replication group, its diff (`replication_group/diff.rs`) and
//! its observation, waits and AUTH token (`replication_group/observe.rs`).

mod replication_group;
mod subnet_group;
#[cfg(test)]
mod tests;

pub use crate::subnet_group::SubnetGroupDiff;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::types::Tag;
use ironbark_core::plan::ResourceChange;
use ironbark_core::reconcile::AwsError;
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

use crate::error::DatabaseError;

pub use replication_group::{
    decide, destroy_replication_group, ensure_redis, final_snapshot_name, find_replication_group,
    is_valid_auth_token, replica_change, replication_group_id_of, validate, wait_available,
    Endpoint, ObservedReplicationGroup, RedisOutcome, RedisSpec, ReplicaChange,
};
pub use subnet_group::{
    decide_subnet_group, destroy_cache_subnet_group, ensure_cache_subnet_group,
    subnet_group_name_of, CacheSubnetGroupOutcome, CacheSubnetGroupSpec, ObservedCacheSubnetGroup,
};

const RG_KIND: &str = "replication group";
const SUBNET_KIND: &str = "cache subnet group";

/// The engine Ironbark runs.
pub const ENGINE: &str = "redis";
/// The port every replication group listens on.
pub const PORT: u16 = 6379;
/// The most nodes (a primary and five replicas) of a cluster-mode-disabled group.
pub const MAX_NODES: u8 = 6;
/// How long creating, modifying or deleting a replication group may take.
pub const CACHE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// How [`destroy_redis`] treats the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheDestroyOptions {
    /// Take a final snapshot (`<id>-final-<unix time>`) before deleting.
    pub final_snapshot: bool,
}

pub(crate) fn client(ctx: &Context) -> aws_sdk_elasticache::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_elasticache)
}

pub(crate) fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v.dedup();
    v
}

pub(crate) fn ec_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
}

pub(crate) async fn read_tags(
    ec: &aws_sdk_elasticache::Client,
    arn: &str,
    kind: &'static str,
    name: &str,
) -> Result<BTreeMap<String, String>, DatabaseError> {
    let out = ec
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", kind, name))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

pub(crate) async fn apply_tags(
    ec: &aws_sdk_elasticache::Client,
    arn: &str,
    desired: &Tags,
    observed: &BTreeMap<String, String>,
    kind: &'static str,
    name: &str,
) -> Result<(), DatabaseError> {
    let diff = desired.diff(observed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    write_tags(ec, arn, &diff, kind, name).await
}

/// Makes the tag writes of `diff` on the resource `arn`.
pub(crate) async fn write_tags(
    ec: &aws_sdk_elasticache::Client,
    arn: &str,
    diff: &TagDiff,
    kind: &'static str,
    name: &str,
) -> Result<(), DatabaseError> {
    if !diff.set.is_empty() {
        ec.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(ec_tags(&diff.to_set())))
            .send()
            .await
            .map_err(AwsError::map("tag", kind, name))?;
    }
    if !diff.remove.is_empty() {
        ec.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(diff.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", kind, name))?;
    }
    Ok(())
}

/// Deletes the replication group (with a final snapshot when asked), waits until it is gone,
/// then deletes its subnet group.
///
/// # Idempotency
/// Each step is a no-op when its resource is already gone, so an interrupted destroy is
/// finished by the next one; resources carrying another stack's tags are left alone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait).
pub async fn destroy_redis(
    ctx: &Context,
    spec: &RedisSpec,
    opts: CacheDestroyOptions,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    let group = destroy_replication_group(ctx, &spec.logical_id, opts).await?;
    let subnet = destroy_cache_subnet_group(ctx, &spec.subnet_group.logical_id).await?;
    Ok(vec![group, subnet])
}
