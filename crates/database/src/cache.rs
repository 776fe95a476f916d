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

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::types::{AutomaticFailoverStatus, MultiAzStatus, ReplicationGroup, Tag};
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Event, Tags};
use secrecy::{ExposeSecret, SecretString};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::rds::{foreign, is_already_exists, is_not_found, owned_by, tag_fields};

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

/// The desired cache subnet group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSubnetGroupSpec {
    /// Logical id (`database/cache/subnet-group`); the physical name derives from it.
    pub logical_id: String,
    /// Description.
    pub description: String,
    /// Subnet ids (the database tier's subnets).
    pub subnet_ids: Vec<String>,
}

/// A cache subnet group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedCacheSubnetGroup {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Description.
    pub description: String,
    /// Subnet ids, sorted.
    pub subnet_ids: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_cache_subnet_group`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CacheSubnetGroupOutcome {
    /// The group's name (what the replication group references).
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The desired Redis replication group (cluster mode disabled).
///
/// Holds no secret: the AUTH token is referenced by the ARN of its Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSpec {
    /// Logical id (`database/cache`); the replication group id derives from it.
    pub logical_id: String,
    /// Description.
    pub description: String,
    /// The subnet group the nodes live in (ensured by [`ensure_redis`] first).
    pub subnet_group: CacheSubnetGroupSpec,
    /// Node type (`cache.t3.micro`).
    pub node_type: String,
    /// Number of nodes, 1 to 6: a primary plus `num_nodes - 1` replicas. Automatic failover
    /// and Multi-AZ are on exactly when there are replicas.
    pub num_nodes: u8,
    /// Redis engine version (`7.1`); the observed version matches when it starts with this.
    pub engine_version: String,
    /// Security groups of the nodes.
    pub security_group_ids: Vec<String>,
    /// Encryption at rest.
    pub at_rest_encryption: bool,
    /// KMS key (id or ARN) for encryption at rest; `None` uses the service key.
    pub kms_key_id: Option<String>,
    /// Encryption in transit (TLS); required for an AUTH token.
    pub transit_encryption: bool,
    /// ARN of the Secrets Manager secret holding the AUTH token (a plain string, or a JSON
    /// object with a `token` or `password` field). Read on creation only.
    pub auth_token_secret_arn: Option<String>,
    /// Days of automatic snapshots kept (0 turns them off).
    pub snapshot_retention_days: u8,
    /// Weekly maintenance window (`sun:05:00-sun:06:00`); `None` lets AWS choose.
    pub maintenance_window: Option<String>,
    /// Whether node type and engine version changes apply now rather than in the maintenance
    /// window.
    pub apply_immediately: bool,
}

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// A replication group as found. Fields AWS reports only on the member clusters (engine
/// version, subnet group, security groups, maintenance window, a pending node type) are read
/// from the first member with `DescribeCacheClusters`; they are `None` when that member cannot
/// be described (it is still being created), and `decide` then leaves them alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedReplicationGroup {
    /// Replication group id.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// `creating`, `available`, `modifying`, `deleting`, `create-failed`, `snapshotting`.
    pub status: String,
    /// Description.
    pub description: String,
    /// Engine (`redis`, `valkey`).
    pub engine: String,
    /// Node type.
    pub node_type: String,
    /// A node type change pending for the maintenance window.
    pub pending_node_type: Option<String>,
    /// Member clusters (nodes).
    pub num_nodes: usize,
    /// Automatic failover `enabled` or `enabling`.
    pub automatic_failover: bool,
    /// Multi-AZ enabled.
    pub multi_az: bool,
    /// Encryption at rest.
    pub at_rest_encryption: bool,
    /// KMS key of encryption at rest.
    pub kms_key_id: Option<String>,
    /// Encryption in transit.
    pub transit_encryption: bool,
    /// Whether an AUTH token is set.
    pub auth_token_enabled: bool,
    /// Days of snapshots kept.
    pub snapshot_retention_days: i32,
    /// Engine version (from a member cluster).
    pub engine_version: Option<String>,
    /// Subnet group name (from a member cluster).
    pub subnet_group: Option<String>,
    /// Security group ids, sorted (from a member cluster).
    pub security_group_ids: Option<Vec<String>>,
    /// Maintenance window (from a member cluster).
    pub maintenance_window: Option<String>,
    /// Primary endpoint.
    pub primary_endpoint: Option<Endpoint>,
    /// Reader endpoint.
    pub reader_endpoint: Option<Endpoint>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_redis`] did. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RedisOutcome {
    /// The subnet group's change, then the replication group's.
    pub changes: Vec<ResourceChange>,
    /// The replication group id.
    pub replication_group_id: String,
    /// Where clients write (`None` in plan mode before creation).
    pub primary_endpoint: Option<Endpoint>,
    /// Where clients read from the replicas (`None` when AWS reports none).
    pub reader_endpoint: Option<Endpoint>,
}

/// How [`destroy_redis`] treats the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheDestroyOptions {
    /// Take a final snapshot (`<id>-final-<unix time>`) before deleting.
    pub final_snapshot: bool,
}

/// The physical name of the cache subnet group `logical_id` (AWS stores it lower-cased).
#[must_use]
pub fn subnet_group_name_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::ELASTICACHE_ID)
}

/// The replication group id of `logical_id`.
#[must_use]
pub fn replication_group_id_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::ELASTICACHE_ID)
}

fn client(ctx: &Context) -> aws_sdk_elasticache::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_elasticache)
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Checks what AWS would reject late (or what would make a useless group).
///
/// # Errors
/// The reason, naming the field.
pub fn validate(spec: &RedisSpec) -> Result<(), String> {
    if !(1..=MAX_NODES).contains(&spec.num_nodes) {
        return Err(format!(
            "num_nodes is {}; a replication group has 1 to {MAX_NODES} nodes (a primary and up to five replicas)",
            spec.num_nodes
        ));
    }
    if spec.auth_token_secret_arn.is_some() && !spec.transit_encryption {
        return Err(
            "auth_token_secret_arn needs transit_encryption (AWS accepts AUTH only over TLS)"
                .into(),
        );
    }
    if spec.kms_key_id.is_some() && !spec.at_rest_encryption {
        return Err("kms_key_id needs at_rest_encryption".into());
    }
    if spec.subnet_group.subnet_ids.is_empty() {
        return Err("subnet_group.subnet_ids is empty".into());
    }
    Ok(())
}

/// The change for a cache subnet group. Pure.
#[must_use]
pub fn decide_subnet_group(
    spec: &CacheSubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedCacheSubnetGroup>,
) -> Change {
    let want = sorted(&spec.subnet_ids);
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("subnet_ids", want.join(",")),
                FieldDiff::set("description", &spec.description),
            ],
        };
    };
    let mut fields = Vec::new();
    if obs.subnet_ids != want {
        fields.push(FieldDiff::new(
            "subnet_ids",
            Some(obs.subnet_ids.join(",")),
            Some(want.join(",")),
        ));
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

/// Whether two KMS key references name the same key (an id matches the ARN ending in it).
fn same_key(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

fn version_parts(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Whether `observed` satisfies `desired` (`7.1.0` satisfies `7.1`).
fn version_matches(observed: &str, desired: &str) -> bool {
    observed == desired || observed.starts_with(&format!("{desired}."))
}

fn create_fields(spec: &RedisSpec, subnet_group: &str) -> Vec<FieldDiff> {
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

/// Sends `IncreaseReplicaCount` or `DecreaseReplicaCount` (applied immediately).
async fn change_replica_count(
    ctx: &Context,
    ec: &aws_sdk_elasticache::Client,
    id: &str,
    change: ReplicaChange,
) -> Result<(), DatabaseError> {
    let _permit = ctx.permit("elasticache").await;
    let replicas = i32::from(change.replicas());
    match change {
        ReplicaChange::Increase { .. } => ec
            .increase_replica_count()
            .replication_group_id(id)
            .new_replica_count(replicas)
            .apply_immediately(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::new("add replicas to", RG_KIND, id, e).into()),
        ReplicaChange::Decrease { .. } => ec
            .decrease_replica_count()
            .replication_group_id(id)
            .new_replica_count(replicas)
            .apply_immediately(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::new("remove replicas from", RG_KIND, id, e).into()),
    }
}

fn ec_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
}

async fn read_tags(
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

async fn apply_tags(
    ec: &aws_sdk_elasticache::Client,
    arn: &str,
    desired: &Tags,
    observed: &BTreeMap<String, String>,
    kind: &'static str,
    name: &str,
) -> Result<(), DatabaseError> {
    let diff = desired.diff(observed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !diff.set.is_empty() {
        let set = diff.to_set();
        ec.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(ec_tags(&set)))
            .send()
            .await
            .map_err(AwsError::map("tag", kind, name))?;
    }
    if !diff.remove.is_empty() {
        ec.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .map_err(AwsError::map("untag", kind, name))?;
    }
    Ok(())
}

async fn find_subnet_group(
    ec: &aws_sdk_elasticache::Client,
    name: &str,
) -> Result<Option<ObservedCacheSubnetGroup>, DatabaseError> {
    let out = match ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(is_not_found) => return Ok(None),
        Err(e) => {
            return Err(DatabaseError::from(AwsError::new(
                "read",
                SUBNET_KIND,
                name,
                e,
            )))
        }
    };
    let Some(group) = out.cache_subnet_groups().first() else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .ok_or_else(|| DatabaseError::missing(SUBNET_KIND, name, "ARN"))?
        .to_owned();
    let tags = read_tags(ec, &arn, SUBNET_KIND, name).await?;
    let subnet_ids: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    Ok(Some(ObservedCacheSubnetGroup {
        name: name.to_owned(),
        arn,
        description: group
            .cache_subnet_group_description()
            .unwrap_or_default()
            .to_owned(),
        subnet_ids: sorted(&subnet_ids),
        tags,
    }))
}

/// Creates the cache subnet group, or brings its subnets, description and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; a converged group costs two reads and no write. A group
/// of that name carrying another stack's tags is refused, never adopted. Tags are passed in
/// the create call, so a crash right after it leaves a group the next run recognises.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails, [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a foreign group.
pub async fn ensure_cache_subnet_group(
    ctx: &Context,
    spec: &CacheSubnetGroupSpec,
) -> Result<CacheSubnetGroupOutcome, DatabaseError> {
    let ec = client(ctx);
    let name = subnet_group_name_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("elasticache").await;
    let observed = find_subnet_group(&ec, &name).await?;
    if let Some(obs) = &observed {
        if !owned_by(&obs.tags, ctx, &spec.logical_id) {
            return Err(foreign(SUBNET_KIND, &name, &spec.logical_id));
        }
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide_subnet_group(spec, &tags, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        match &observed {
            None => {
                match ec
                    .create_cache_subnet_group()
                    .cache_subnet_group_name(&name)
                    .cache_subnet_group_description(&spec.description)
                    .set_subnet_ids(Some(spec.subnet_ids.clone()))
                    .set_tags(Some(ec_tags(&tags)))
                    .send()
                    .await
                {
                    Ok(_) => {}
                    // A concurrent run made it with the same tags (checked on the next run).
                    Err(e) if e.as_service_error().is_some_and(is_already_exists) => {}
                    Err(e) => {
                        return Err(DatabaseError::from(AwsError::new(
                            "create",
                            SUBNET_KIND,
                            &name,
                            e,
                        )))
                    }
                }
            }
            Some(obs) => {
                if obs.subnet_ids != sorted(&spec.subnet_ids) || obs.description != spec.description
                {
                    ec.modify_cache_subnet_group()
                        .cache_subnet_group_name(&name)
                        .cache_subnet_group_description(&spec.description)
                        .set_subnet_ids(Some(sorted(&spec.subnet_ids)))
                        .send()
                        .await
                        .map_err(AwsError::map("modify", SUBNET_KIND, &name))?;
                }
                apply_tags(&ec, &obs.arn, &tags, &obs.tags, SUBNET_KIND, &name).await?;
            }
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(CacheSubnetGroupOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: SUBNET_KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
    })
}

fn endpoint(e: Option<&aws_sdk_elasticache::types::Endpoint>) -> Option<Endpoint> {
    let e = e?;
    Some(Endpoint {
        address: e.address()?.to_owned(),
        port: e.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(PORT),
    })
}

/// The replication group's own fields (member-cluster fields left `None`).
fn observed_of(rg: &ReplicationGroup, id: &str) -> ObservedReplicationGroup {
    let node_group = rg.node_groups().first();
    ObservedReplicationGroup {
        id: id.to_owned(),
        arn: rg.arn().unwrap_or_default().to_owned(),
        status: rg.status().unwrap_or_default().to_owned(),
        description: rg.description().unwrap_or_default().to_owned(),
        engine: rg.engine().unwrap_or(ENGINE).to_owned(),
        node_type: rg.cache_node_type().unwrap_or_default().to_owned(),
        pending_node_type: None,
        num_nodes: rg.member_clusters().len(),
        automatic_failover: matches!(
            rg.automatic_failover(),
            Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
        ),
        multi_az: matches!(rg.multi_az(), Some(MultiAzStatus::Enabled)),
        at_rest_encryption: rg.at_rest_encryption_enabled().unwrap_or(false),
        kms_key_id: rg.kms_key_id().map(str::to_owned),
        transit_encryption: rg.transit_encryption_enabled().unwrap_or(false),
        auth_token_enabled: rg.auth_token_enabled().unwrap_or(false),
        snapshot_retention_days: rg.snapshot_retention_limit().unwrap_or(0),
        engine_version: None,
        subnet_group: None,
        security_group_ids: None,
        maintenance_window: None,
        primary_endpoint: endpoint(node_group.and_then(|n| n.primary_endpoint())),
        reader_endpoint: endpoint(node_group.and_then(|n| n.reader_endpoint())),
        tags: BTreeMap::new(),
    }
}

/// Fills in what AWS reports on the member clusters only. A member that cannot be found (it
/// is still being created, or the endpoint does not model members) leaves the fields `None`.
async fn read_member(
    ec: &aws_sdk_elasticache::Client,
    rg: &ReplicationGroup,
    obs: &mut ObservedReplicationGroup,
) -> Result<(), DatabaseError> {
    let Some(member) = rg.member_clusters().first() else {
        return Ok(());
    };
    let out = match ec
        .describe_cache_clusters()
        .cache_cluster_id(member)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(is_not_found) => return Ok(()),
        Err(e) => {
            return Err(DatabaseError::from(AwsError::new(
                "read the nodes of",
                RG_KIND,
                &obs.id,
                e,
            )))
        }
    };
    let Some(cluster) = out.cache_clusters().first() else {
        return Ok(());
    };
    obs.engine_version = cluster.engine_version().map(str::to_owned);
    obs.subnet_group = cluster.cache_subnet_group_name().map(str::to_owned);
    let groups: Vec<String> = cluster
        .security_groups()
        .iter()
        .filter_map(|g| g.security_group_id().map(str::to_owned))
        .collect();
    obs.security_group_ids = Some(sorted(&groups));
    obs.maintenance_window = cluster.preferred_maintenance_window().map(str::to_owned);
    obs.pending_node_type = cluster
        .pending_modified_values()
        .and_then(|p| p.cache_node_type())
        .map(str::to_owned);
    Ok(())
}

async fn find_group(
    ec: &aws_sdk_elasticache::Client,
    id: &str,
    with_members: bool,
) -> Result<Option<ObservedReplicationGroup>, DatabaseError> {
    let out = match ec
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(is_not_found) => return Ok(None),
        Err(e) => return Err(DatabaseError::from(AwsError::new("read", RG_KIND, id, e))),
    };
    let Some(rg) = out.replication_groups().first() else {
        return Ok(None);
    };
    let mut obs = observed_of(rg, id);
    if with_members {
        obs.tags = read_tags(ec, &obs.arn, RG_KIND, id).await?;
        read_member(ec, rg, &mut obs).await?;
    }
    Ok(Some(obs))
}

/// Reads the replication group `id` with its tags and member-cluster fields; `None` when it
/// does not exist.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn find_replication_group(
    ctx: &Context,
    id: &str,
) -> Result<Option<ObservedReplicationGroup>, DatabaseError> {
    find_group(&client(ctx), id, true).await
}

fn wait_error(
    id: &str,
) -> impl FnOnce(ironbark_core::wait::WaitError<DatabaseError>) -> DatabaseError + '_ {
    DatabaseError::wait(RG_KIND, id)
}

/// Waits until the replication group is `available`.
///
/// # Errors
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) on `create-failed`, a timeout or a failed poll.
pub async fn wait_available(
    ctx: &Context,
    logical_id: &str,
    id: &str,
) -> Result<ObservedReplicationGroup, DatabaseError> {
    let ec = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(CACHE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match find_group(&ec, id, false).await? {
                Some(o) if o.status == "available" => Poll::Ready(o),
                Some(o) if o.status == "create-failed" || o.status == "deleting" => {
                    Poll::Failed(o.status)
                }
                Some(o) => Poll::Pending(o.status),
                None => Poll::Pending("not visible yet".into()),
            })
        },
    )
    .await
    .map_err(wait_error(id))
}

async fn wait_gone(ctx: &Context, logical_id: &str, id: &str) -> Result<(), DatabaseError> {
    let ec = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(CACHE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match find_group(&ec, id, false).await? {
                None => Poll::Ready(()),
                Some(o) => Poll::Pending(o.status),
            })
        },
    )
    .await
    .map_err(wait_error(id))
}

/// Whether `token` is a valid Redis AUTH token: 16 to 128 printable ASCII characters other
/// than `@`, `"` and `/`.
#[must_use]
pub fn is_valid_auth_token(token: &str) -> bool {
    (16..=128).contains(&token.len())
        && token
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '@' | '"' | '/'))
}

/// Reads the AUTH token from its secret: the `token` or `password` field of a JSON object,
/// else the whole string. Neither the value nor any part of it reaches an error.
async fn read_auth_token(ctx: &Context, secret_arn: &str) -> Result<SecretString, DatabaseError> {
    let sm = ironbark_core::sdk_client!(ctx, aws_sdk_secretsmanager);
    let out = sm
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .map_err(AwsError::map("read", "secret", secret_arn))?;
    let raw = SecretString::from(
        out.secret_string()
            .ok_or_else(|| DatabaseError::missing("secret", secret_arn, "SecretString"))?,
    );
    let token = serde_json::from_str::<serde_json::Value>(raw.expose_secret())
        .ok()
        .and_then(|v| {
            ["token", "password"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|t| t.as_str()).map(str::to_owned))
        })
        .map_or(raw, SecretString::from);
    if !is_valid_auth_token(token.expose_secret()) {
        return Err(DatabaseError::invalid("secret", secret_arn.to_owned(), "its value is not a valid Redis AUTH token (16 to 128 printable ASCII characters other than @, \" and /)"));
    }
    Ok(token)
}

/// Creates the subnet group and the replication group, or brings them to the spec in place,
/// then waits until the group is `available`.
///
/// # Idempotency
/// Both are found by their deterministic names; a converged cache costs reads only (the
/// secret is not read). A group still `creating` or `modifying` after an interrupted run is
/// waited for, not created again; an "already exists" answer from a concurrent run is treated
/// the same way. Tags are passed in the create calls. A group of that name carrying another
/// stack's tags is refused. A refused change writes nothing.
///
/// # Errors
/// [`ResourceError::InvalidSpec`](ironbark_core::reconcile::ResourceError::InvalidSpec) for a spec AWS would reject or an invalid token,
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a change AWS can only make by replacement (in apply mode; in
/// plan mode it is returned as a refused change), [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails,
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) when the group does not become available.
///
/// ```no_run
/// # async fn example(ctx: &ironbark_core::Context, spec: &ironbark_database::cache::RedisSpec)
/// # -> Result<(), ironbark_database::DatabaseError> {
/// let out = ironbark_database::cache::ensure_redis(ctx, spec).await?;
/// if let Some(primary) = &out.primary_endpoint {
///     println!("redis at {}:{}", primary.address, primary.port);
/// }
/// # Ok(()) }
/// ```
pub async fn ensure_redis(ctx: &Context, spec: &RedisSpec) -> Result<RedisOutcome, DatabaseError> {
    validate(spec)
        .map_err(|reason| DatabaseError::invalid(RG_KIND, spec.logical_id.clone(), reason))?;
    let subnet = ensure_cache_subnet_group(ctx, &spec.subnet_group).await?;
    let ec = client(ctx);
    let id = replication_group_id_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let observed = {
        let _permit = ctx.permit("elasticache").await;
        find_group(&ec, &id, true).await?
    };
    if let Some(obs) = &observed {
        if !owned_by(&obs.tags, ctx, &spec.logical_id) {
            return Err(foreign(RG_KIND, &id, &spec.logical_id));
        }
        if obs.status == "deleting" {
            return Err(DatabaseError::refused(
                RG_KIND,
                &id,
                "it is being deleted; wait for the deletion to finish, then deploy again",
            ));
        }
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &subnet.name, &tags, observed.as_ref()).or_in_progress(
        observed
            .as_ref()
            .map(|o| o.status.as_str())
            .filter(|s| *s != "available"),
    );
    let mut current = observed.clone();
    if let Change::Refused { field, reason } = &change {
        if ctx.is_apply() {
            return Err(DatabaseError::refused(
                RG_KIND,
                &id,
                format!("{field}: {reason}"),
            ));
        }
    } else if ctx.is_apply() {
        let busy = observed.as_ref().is_some_and(|o| o.status != "available");
        match (&observed, change.writes()) {
            (None, _) => {
                create(ctx, &ec, spec, &subnet.name, &id, &tags).await?;
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(obs), true) => {
                if busy {
                    // Resuming an interrupted run: AWS refuses modifications until then.
                    wait_available(ctx, &spec.logical_id, &id).await?;
                }
                let replicas = replica_change(obs.num_nodes, spec.num_nodes);
                if let Some(up @ ReplicaChange::Increase { .. }) = replicas {
                    change_replica_count(ctx, &ec, &id, up).await?;
                    wait_available(ctx, &spec.logical_id, &id).await?;
                }
                let modified = modify(ctx, &ec, spec, obs).await?;
                if let Some(down @ ReplicaChange::Decrease { .. }) = replicas {
                    if modified {
                        wait_available(ctx, &spec.logical_id, &id).await?;
                    }
                    change_replica_count(ctx, &ec, &id, down).await?;
                }
                apply_tags(&ec, &obs.arn, &tags, &obs.tags, RG_KIND, &id).await?;
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(_), false) if busy => {
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(_), false) => {}
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(RedisOutcome {
        changes: vec![
            subnet.change,
            ResourceChange {
                id: spec.logical_id.clone(),
                kind: RG_KIND.to_owned(),
                physical_id: Some(id.clone()),
                change,
            },
        ],
        replication_group_id: id,
        primary_endpoint: current.as_ref().and_then(|o| o.primary_endpoint.clone()),
        reader_endpoint: current.and_then(|o| o.reader_endpoint),
    })
}

async fn create(
    ctx: &Context,
    ec: &aws_sdk_elasticache::Client,
    spec: &RedisSpec,
    subnet_group: &str,
    id: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let token = match &spec.auth_token_secret_arn {
        Some(arn) => Some(read_auth_token(ctx, arn).await?),
        None => None,
    };
    let replicas = spec.num_nodes > 1;
    let _permit = ctx.permit("elasticache").await;
    let req = ec
        .create_replication_group()
        .replication_group_id(id)
        .replication_group_description(&spec.description)
        .engine(ENGINE)
        .engine_version(&spec.engine_version)
        .cache_node_type(&spec.node_type)
        .num_cache_clusters(i32::from(spec.num_nodes))
        .automatic_failover_enabled(replicas)
        .multi_az_enabled(replicas)
        .cache_subnet_group_name(subnet_group)
        .set_security_group_ids(Some(spec.security_group_ids.clone()))
        .port(i32::from(PORT))
        .at_rest_encryption_enabled(spec.at_rest_encryption)
        .set_kms_key_id(spec.kms_key_id.clone().filter(|_| spec.at_rest_encryption))
        .transit_encryption_enabled(spec.transit_encryption)
        .set_auth_token(token.as_ref().map(|t| t.expose_secret().to_owned()))
        .snapshot_retention_limit(i32::from(spec.snapshot_retention_days))
        .set_preferred_maintenance_window(spec.maintenance_window.clone())
        .set_tags(Some(ec_tags(tags)));
    match req.send().await {
        Ok(_) => Ok(()),
        // A concurrent or interrupted run created it: waiting for it is what is left.
        Err(e) if e.as_service_error().is_some_and(is_already_exists) => Ok(()),
        Err(e) => Err(DatabaseError::from(AwsError::new("create", RG_KIND, id, e))),
    }
}

/// Sends `ModifyReplicationGroup` for what differs (the replica count aside); whether it did.
async fn modify(
    ctx: &Context,
    ec: &aws_sdk_elasticache::Client,
    spec: &RedisSpec,
    obs: &ObservedReplicationGroup,
) -> Result<bool, DatabaseError> {
    let id = obs.id.as_str();
    let mut req = ec
        .modify_replication_group()
        .replication_group_id(id)
        .apply_immediately(spec.apply_immediately);
    let mut any = false;
    let node_type = obs.pending_node_type.as_ref().unwrap_or(&obs.node_type);
    if *node_type != spec.node_type {
        req = req.cache_node_type(&spec.node_type);
        any = true;
    }
    if let Some(version) = &obs.engine_version {
        if !version_matches(version, &spec.engine_version) {
            req = req.engine_version(&spec.engine_version);
            any = true;
        }
    }
    let replicas = spec.num_nodes > 1;
    if obs.automatic_failover != replicas {
        req = req.automatic_failover_enabled(replicas);
        any = true;
    }
    if obs.multi_az != replicas {
        req = req.multi_az_enabled(replicas);
        any = true;
    }
    if obs.snapshot_retention_days != i32::from(spec.snapshot_retention_days) {
        req = req.snapshot_retention_limit(i32::from(spec.snapshot_retention_days));
        any = true;
    }
    if let Some(groups) = &obs.security_group_ids {
        if *groups != sorted(&spec.security_group_ids) {
            req = req.set_security_group_ids(Some(spec.security_group_ids.clone()));
            any = true;
        }
    }
    if let (Some(want), Some(have)) = (&spec.maintenance_window, &obs.maintenance_window) {
        if !want.eq_ignore_ascii_case(have) {
            req = req.preferred_maintenance_window(want);
            any = true;
        }
    }
    if obs.description != spec.description {
        req = req.replication_group_description(&spec.description);
        any = true;
    }
    if any {
        let _permit = ctx.permit("elasticache").await;
        req.send()
            .await
            .map_err(AwsError::map("modify", RG_KIND, id))?;
    }
    Ok(any)
}

/// The name of a final snapshot of `id` taken now (unique per destroy).
#[must_use]
pub fn final_snapshot_name(id: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{id}-final-{secs}")
}

/// Deletes the replication group of `logical_id` and waits until it is gone.
///
/// # Idempotency
/// An absent group is a no-op, one already `deleting` is only waited for, and one carrying
/// another stack's tags is left alone. A group still `creating` or `modifying` is waited for
/// first (AWS refuses to delete it then).
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait).
pub async fn destroy_replication_group(
    ctx: &Context,
    logical_id: &str,
    opts: CacheDestroyOptions,
) -> Result<ResourceChange, DatabaseError> {
    let ec = client(ctx);
    let id = replication_group_id_of(ctx, logical_id);
    let observed = find_group(&ec, &id, true).await?;
    let change = match &observed {
        Some(obs) if owned_by(&obs.tags, ctx, logical_id) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() {
        if let Some(obs) = observed.filter(|_| change.is_change()) {
            if obs.status != "deleting" {
                if obs.status != "available" {
                    wait_available(ctx, logical_id, &id).await?;
                }
                let req = ec
                    .delete_replication_group()
                    .replication_group_id(&id)
                    .retain_primary_cluster(false)
                    .set_final_snapshot_identifier(
                        opts.final_snapshot.then(|| final_snapshot_name(&id)),
                    );
                match req.send().await {
                    Ok(_) => {}
                    Err(e) if e.as_service_error().is_some_and(is_not_found) => {}
                    Err(e) => {
                        return Err(DatabaseError::from(AwsError::new(
                            "delete", RG_KIND, &id, e,
                        )))
                    }
                }
            }
            wait_gone(ctx, logical_id, &id).await?;
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: RG_KIND.to_owned(),
        physical_id: Some(id),
        change,
    })
}

/// Deletes the cache subnet group of `logical_id` (after the groups that use it).
///
/// # Idempotency
/// An absent group is a no-op; a group carrying another stack's tags is left alone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_cache_subnet_group(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, DatabaseError> {
    let ec = client(ctx);
    let name = subnet_group_name_of(ctx, logical_id);
    let observed = find_subnet_group(&ec, &name).await?;
    let change = match &observed {
        Some(obs) if owned_by(&obs.tags, ctx, logical_id) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        match ec
            .delete_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(is_not_found) => {}
            Err(e) => {
                return Err(DatabaseError::from(AwsError::new(
                    "delete",
                    SUBNET_KIND,
                    &name,
                    e,
                )))
            }
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: SUBNET_KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let Change::Update { fields } = decide(&s, SUBNET_GROUP, &tags(), Some(&converged()))
        else {
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
}
