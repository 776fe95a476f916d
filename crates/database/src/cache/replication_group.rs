//! The Redis replication group (cluster mode disabled): one primary plus up to five
//! replicas. A composite step; hand-written ensure over the kit's pieces: the replica count
//! changes through `IncreaseReplicaCount` / `DecreaseReplicaCount` around the failover flags,
//! each followed by a wait, which one diff-then-apply cannot express.

mod diff;
mod observe;

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::reconcile::AwsError;
use ironbark_core::{Context, Event, Tags};
use secrecy::ExposeSecret;

use super::{
    apply_tags, client, ec_tags, sorted, CacheDestroyOptions, ENGINE, MAX_NODES, PORT, RG_KIND,
};
use crate::error::DatabaseError;
use crate::rds::{foreign, is_already_exists, is_not_found, owned_by};

use diff::version_matches;
pub use diff::{decide, replica_change, ReplicaChange};
use observe::{find_group, read_auth_token, wait_gone};

use super::subnet_group::{ensure_cache_subnet_group, CacheSubnetGroupSpec};
pub use observe::{find_replication_group, is_valid_auth_token, wait_available};

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

/// The replication group id of `logical_id`.
#[must_use]
pub fn replication_group_id_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::ELASTICACHE_ID)
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

/// Sends `IncreaseReplicaCount` or `DecreaseReplicaCount` (applied immediately).
pub(crate) async fn change_replica_count(
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

pub(crate) async fn create(
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
pub(crate) async fn modify(
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
