//! Aurora PostgreSQL clusters, provisioned or Serverless v2, with their writer and reader
//! instances.
//!
//! The cluster holds the data (storage, encryption, backups, master user, Data API); its
//! instances are compute: a writer plus `readers`, all of the cluster's instance class
//! (`db.serverless` for Serverless v2, scaled within the cluster's ACU range). The same rules
//! as for instances apply: in-place where AWS allows (ACU range, backups, windows, IAM auth,
//! deletion protection, security groups, parameter group, Data API, minor version, reader
//! count, instance class), refused with the field named where only a replacement would do.
//!
//! A composite step; hand-written ensure over the kit's pieces: the cluster, then its writer,
//! then its readers once the writer exists (Aurora makes the first instance created the
//! writer), then the readers no longer wanted removed.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::ServerlessV2ScalingConfiguration;
use futures::future::try_join_all;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::instance::{self, DestroyOptions, InstanceSpec, Placement};
use crate::rds;

mod diff;
mod observe;
#[cfg(test)]
mod tests;

pub use diff::decide;
pub use observe::find_cluster;
use observe::{find, wait};

/// How long a cluster may take to be created, modified or deleted.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(90 * 60);

const KIND: &str = "DB cluster";

/// The desired cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// Logical id (`database/cluster`); the identifier derives from it, and the instances'
    /// logical ids are `<logical_id>/instance/<n>`.
    pub logical_id: String,
    /// The engine version (`16.4`).
    pub engine_version: String,
    /// The instances' class (`db.serverless` for Serverless v2, or `db.r6g.large`...).
    pub instance_class: String,
    /// Serverless v2 capacity range in ACUs (min, max); required for `db.serverless`.
    pub serverless: Option<(f64, f64)>,
    /// Readers besides the writer.
    pub readers: u8,
    /// Storage encryption.
    pub storage_encrypted: bool,
    /// The KMS key ARN; `None` for the AWS managed key.
    pub kms_key_id: Option<String>,
    /// Backup retention in days (1-35).
    pub backup_retention_days: u8,
    /// The daily backup window.
    pub backup_window: String,
    /// The weekly maintenance window.
    pub maintenance_window: String,
    /// IAM database authentication.
    pub iam_auth: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// The DB subnet group's name.
    pub subnet_group: String,
    /// VPC security group ids.
    pub security_group_ids: Vec<String>,
    /// The DB cluster parameter group's name; `None` for the default.
    pub parameter_group: Option<String>,
    /// The master user (its password is managed by RDS in Secrets Manager).
    pub master_username: String,
    /// The initial database.
    pub database_name: String,
    /// The RDS Data API (HTTP endpoint).
    pub data_api: bool,
    /// Performance Insights on the instances.
    pub performance_insights: bool,
    /// Whether modifications apply at once or in the maintenance window.
    pub apply_immediately: bool,
}

/// A cluster as found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedCluster {
    /// Identifier.
    pub identifier: String,
    /// ARN.
    pub arn: String,
    /// Status.
    pub status: String,
    /// Engine.
    pub engine: String,
    /// Engine version.
    pub engine_version: String,
    /// Serverless v2 range.
    pub serverless: Option<(f64, f64)>,
    /// Storage encryption.
    pub storage_encrypted: bool,
    /// KMS key ARN.
    pub kms_key_id: Option<String>,
    /// Backup retention.
    pub backup_retention_days: u8,
    /// Backup window.
    pub backup_window: String,
    /// Maintenance window.
    pub maintenance_window: String,
    /// IAM auth.
    pub iam_auth: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Subnet group name.
    pub subnet_group: String,
    /// Security group ids, sorted.
    pub security_group_ids: Vec<String>,
    /// Cluster parameter group name.
    pub parameter_group: String,
    /// Master user.
    pub master_username: String,
    /// Initial database.
    pub database_name: String,
    /// Data API.
    pub data_api: bool,
    /// Master secret ARN.
    pub master_secret_arn: Option<String>,
    /// Writer endpoint.
    pub endpoint: Option<String>,
    /// Reader endpoint.
    pub reader_endpoint: Option<String>,
    /// Port.
    pub port: u16,
    /// Member instance identifiers and whether each is the writer.
    pub members: Vec<(String, bool)>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_cluster`] did.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ClusterOutcome {
    /// The identifier.
    pub identifier: String,
    /// The cluster's change, then its instances'.
    pub changes: Vec<ResourceChange>,
    /// The cluster as last read (absent in plan mode before creation).
    pub observed: Option<ObservedCluster>,
}

/// The identifier of the cluster `logical_id`.
#[must_use]
pub fn identifier_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::RDS_IDENTIFIER)
        .to_ascii_lowercase()
}

/// The logical id of the cluster's `n`th instance (1 is the writer).
#[must_use]
pub fn instance_logical_id(cluster_logical_id: &str, n: usize) -> String {
    format!("{cluster_logical_id}/instance/{n}")
}

fn instance_spec(spec: &ClusterSpec, cluster: &str, n: usize) -> InstanceSpec {
    InstanceSpec {
        logical_id: instance_logical_id(&spec.logical_id, n),
        engine: "aurora-postgresql".into(),
        instance_class: spec.instance_class.clone(),
        placement: Placement::ClusterMember {
            cluster: cluster.to_owned(),
            promotion_tier: i32::try_from(n - 1).unwrap_or(15).min(15),
        },
        parameter_group: None,
        performance_insights: spec.performance_insights,
        maintenance_window: spec.maintenance_window.clone(),
        publicly_accessible: false,
        apply_immediately: spec.apply_immediately,
    }
}

/// Creates or converges the cluster, then its writer and readers (concurrently), removing
/// readers beyond the count; waits until the cluster and every instance are available.
///
/// # Idempotency
/// Found by deterministic identifiers. A converged cluster with its instances costs one read
/// per resource and no write. A cluster or instance still `creating` after an interrupted
/// run is waited for, never re-created (Serverless v2 instances may stay `creating` well
/// after their cluster is `available`).
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a replacement (apply mode), [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) otherwise.
pub async fn ensure_cluster(
    ctx: &Context,
    spec: &ClusterSpec,
) -> Result<ClusterOutcome, DatabaseError> {
    let client = rds::client(ctx);
    let id = identifier_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let observed = {
        let _permit = ctx.permit("rds").await;
        find(&client, &id).await?
    };
    if let Some(obs) = &observed {
        rds::check_found(ctx, KIND, &id, &spec.logical_id, &obs.tags, &obs.status)?;
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref()).or_in_progress(
        observed
            .as_ref()
            .map(|o| o.status.as_str())
            .filter(|s| *s != "available"),
    );
    let mut current = observed.clone();
    rds::refuse_in_apply(ctx, KIND, &id, &change)?;
    if ctx.is_apply() && !matches!(change, Change::Refused { .. }) {
        let busy = observed.as_ref().is_some_and(|o| o.status != "available");
        match &observed {
            None => create(ctx, &client, spec, &id, &tags).await?,
            Some(obs) if change.writes() => {
                if busy {
                    wait(ctx, &spec.logical_id, &id, false).await?;
                }
                modify(&client, spec, obs, &id).await?;
                rds::apply_tags(&client, &obs.arn, &tags, &obs.tags, KIND, &id).await?;
            }
            Some(_) => {}
        }
        if observed.is_none() || change.writes() || busy {
            current = wait(ctx, &spec.logical_id, &id, false).await?;
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    let mut changes = vec![ResourceChange {
        id: spec.logical_id.clone(),
        kind: KIND.to_owned(),
        physical_id: Some(id.clone()),
        change,
    }];
    // Instances: Aurora makes the first instance created in a cluster its writer, so the
    // readers are created once the writer exists; then all are waited for concurrently.
    let want = 1 + usize::from(spec.readers);
    let specs: Vec<InstanceSpec> = (1..=want).map(|n| instance_spec(spec, &id, n)).collect();
    let (writer_exists, then) = tokio::sync::oneshot::channel();
    let writer = instance::ensure_instance_with(ctx, &specs[0], Some(writer_exists));
    let readers = async {
        // An error of the writer drops the sender; its own error is the one reported.
        let _ = then.await;
        try_join_all(specs[1..].iter().map(|s| instance::ensure_instance(ctx, s))).await
    };
    let (writer, readers) = tokio::try_join!(writer, readers)?;
    changes.push(writer.change);
    changes.extend(readers.into_iter().map(|o| o.change));
    // Readers beyond the count: the highest-numbered instances that are not the writer.
    let members = current
        .as_ref()
        .map(|c| c.members.clone())
        .unwrap_or_default();
    let extra: Vec<usize> = members
        .iter()
        .filter(|(_, writer)| !writer)
        .filter_map(|(ident, _)| {
            (want + 1..=16).find(|n| {
                instance::identifier_of(ctx, &instance_logical_id(&spec.logical_id, *n)) == *ident
            })
        })
        .collect();
    for n in extra {
        let logical = instance_logical_id(&spec.logical_id, n);
        changes.push(instance::destroy_instance(ctx, &logical, DestroyOptions::default()).await?);
    }
    if ctx.is_apply() {
        current = find(&client, &id).await?;
    }
    Ok(ClusterOutcome {
        identifier: id,
        changes,
        observed: current,
    })
}

async fn create(
    ctx: &Context,
    client: &aws_sdk_rds::Client,
    spec: &ClusterSpec,
    id: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let _permit = ctx.permit("rds").await;
    let scaling = spec.serverless.map(|(min, max)| {
        ServerlessV2ScalingConfiguration::builder()
            .min_capacity(min)
            .max_capacity(max)
            .build()
    });
    let result = client
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .engine_version(&spec.engine_version)
        .set_serverless_v2_scaling_configuration(scaling)
        .storage_encrypted(spec.storage_encrypted)
        .set_kms_key_id(spec.kms_key_id.clone().filter(|_| spec.storage_encrypted))
        .backup_retention_period(i32::from(spec.backup_retention_days))
        .preferred_backup_window(&spec.backup_window)
        .preferred_maintenance_window(&spec.maintenance_window)
        .enable_iam_database_authentication(spec.iam_auth)
        .deletion_protection(spec.deletion_protection)
        .db_subnet_group_name(&spec.subnet_group)
        .set_vpc_security_group_ids(Some(spec.security_group_ids.clone()))
        .set_db_cluster_parameter_group_name(spec.parameter_group.clone())
        .master_username(&spec.master_username)
        .manage_master_user_password(true)
        .database_name(&spec.database_name)
        .enable_http_endpoint(spec.data_api)
        .copy_tags_to_snapshot(true)
        .set_tags(Some(rds::rds_tags(tags)))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(rds::is_already_exists) => Ok(()),
        Err(e) => Err(DatabaseError::from(AwsError::new("create", KIND, id, e))),
    }
}

async fn modify(
    client: &aws_sdk_rds::Client,
    spec: &ClusterSpec,
    obs: &ObservedCluster,
    id: &str,
) -> Result<(), DatabaseError> {
    let mut req = client
        .modify_db_cluster()
        .db_cluster_identifier(id)
        .apply_immediately(spec.apply_immediately);
    let mut any = false;
    if obs.engine_version != spec.engine_version {
        req = req.engine_version(&spec.engine_version);
        any = true;
    }
    if obs.serverless != spec.serverless {
        if let Some((min, max)) = spec.serverless {
            req = req.serverless_v2_scaling_configuration(
                ServerlessV2ScalingConfiguration::builder()
                    .min_capacity(min)
                    .max_capacity(max)
                    .build(),
            );
            any = true;
        }
    }
    if obs.backup_retention_days != spec.backup_retention_days {
        req = req.backup_retention_period(i32::from(spec.backup_retention_days));
        any = true;
    }
    if obs.backup_window != spec.backup_window {
        req = req.preferred_backup_window(&spec.backup_window);
        any = true;
    }
    if obs.maintenance_window != spec.maintenance_window {
        req = req.preferred_maintenance_window(&spec.maintenance_window);
        any = true;
    }
    if obs.iam_auth != spec.iam_auth {
        req = req.enable_iam_database_authentication(spec.iam_auth);
        any = true;
    }
    if obs.deletion_protection != spec.deletion_protection {
        req = req.deletion_protection(spec.deletion_protection);
        any = true;
    }
    let mut sgs = spec.security_group_ids.clone();
    sgs.sort();
    if obs.security_group_ids != sgs {
        req = req.set_vpc_security_group_ids(Some(spec.security_group_ids.clone()));
        any = true;
    }
    if let Some(pg) = &spec.parameter_group {
        if &obs.parameter_group != pg {
            req = req.db_cluster_parameter_group_name(pg);
            any = true;
        }
    }
    if any {
        req.send()
            .await
            .map_err(AwsError::map("modify", KIND, id))?;
    }
    if obs.data_api != spec.data_api {
        if spec.data_api {
            client
                .enable_http_endpoint()
                .resource_arn(&obs.arn)
                .send()
                .await
                .map_err(AwsError::map("enable the Data API of", KIND, id))?;
        } else {
            client
                .disable_http_endpoint()
                .resource_arn(&obs.arn)
                .send()
                .await
                .map_err(AwsError::map("disable the Data API of", KIND, id))?;
        }
    }
    Ok(())
}

/// Deletes the cluster of `logical_id`: every member instance first (they are compute; the
/// data lives in the cluster), then the cluster with a final snapshot when asked.
///
/// # Idempotency
/// An absent cluster is a no-op; one already `deleting` is only waited for. A protected
/// cluster is refused unless `allow_protected`.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a protected cluster, [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) otherwise.
pub async fn destroy_cluster(
    ctx: &Context,
    logical_id: &str,
    opts: DestroyOptions,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    let client = rds::client(ctx);
    let id = identifier_of(ctx, logical_id);
    let observed = find(&client, &id).await?;
    let Some(obs) = observed.filter(|o| rds::owned_by(&o.tags, ctx, logical_id)) else {
        return Ok(vec![ResourceChange {
            id: logical_id.to_owned(),
            kind: KIND.to_owned(),
            physical_id: Some(id),
            change: Change::NoOp,
        }]);
    };
    if obs.deletion_protection && !opts.allow_protected {
        return Err(DatabaseError::refused(
            KIND,
            &id,
            "deletion protection is on; destroy with --allow-protected to turn it off and delete (a final snapshot is taken unless the profile says final_snapshot = false)",
        ));
    }
    let mut changes = Vec::new();
    // Members by their own logical ids (read from their tags); ones made outside Ironbark
    // must go too, or the cluster cannot be deleted.
    let members = try_join_all(obs.members.iter().map(|(ident, _)| async {
        let found = instance::find_instance(ctx, ident).await?;
        Ok::<_, DatabaseError>((ident.clone(), found))
    }))
    .await?;
    let mut deletions = Vec::new();
    for (ident, found) in members {
        let Some(found) = found else { continue };
        let logical = found
            .tags
            .get(ironbark_core::tags::ID)
            .cloned()
            .filter(|l| rds::owned_by(&found.tags, ctx, l));
        match logical {
            Some(l) => deletions.push(l),
            None => {
                changes.push(ResourceChange {
                    id: format!("{logical_id}/member/{ident}"),
                    kind: "DB instance".into(),
                    physical_id: Some(ident.clone()),
                    change: Change::Delete,
                });
                if ctx.is_apply() && found.status != "deleting" {
                    client
                        .delete_db_instance()
                        .db_instance_identifier(&ident)
                        .send()
                        .await
                        .map_err(AwsError::map("delete", "DB instance", &ident))?;
                }
            }
        }
    }
    let opts_members = DestroyOptions {
        allow_protected: true,
        final_snapshot: false,
    };
    changes.extend(
        try_join_all(
            deletions
                .iter()
                .map(|l| instance::destroy_instance(ctx, l, opts_members)),
        )
        .await?,
    );
    changes.push(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(id.clone()),
        change: Change::Delete,
    });
    if !ctx.is_apply() {
        return Ok(changes);
    }
    if obs.status != "deleting" {
        // Foreign members were deleted without waiting above; the cluster refuses deletion
        // while it has members, so wait for them here.
        wait_members_gone(ctx, logical_id, &id).await?;
        if obs.deletion_protection {
            client
                .modify_db_cluster()
                .db_cluster_identifier(&id)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(AwsError::map("turn deletion protection off on", KIND, &id))?;
        }
        let mut req = client.delete_db_cluster().db_cluster_identifier(&id);
        req = if opts.final_snapshot {
            req.final_db_snapshot_identifier(instance::final_snapshot_name(&id))
        } else {
            req.skip_final_snapshot(true)
        };
        match req.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => {}
            Err(e) => return Err(DatabaseError::from(AwsError::new("delete", KIND, &id, e))),
        }
    }
    wait(ctx, logical_id, &id, true).await?;
    Ok(changes)
}

async fn wait_members_gone(
    ctx: &Context,
    logical_id: &str,
    identifier: &str,
) -> Result<(), DatabaseError> {
    let client = rds::client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(CLUSTER_TIMEOUT),
        || async {
            let found = find(&client, identifier).await?;
            Ok::<_, DatabaseError>(match found {
                Some(c) if !c.members.is_empty() => {
                    Poll::Pending(format!("{} instances left", c.members.len()))
                }
                _ => Poll::Ready(()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, identifier))
}
