//! RDS DB instances: a standalone RDS for PostgreSQL instance, or a member (writer or reader)
//! of an Aurora cluster.
//!
//! What AWS changes in place is modified in place (class, storage growth, Multi-AZ, backups,
//! windows, Performance Insights, IAM auth, deletion protection, security groups, parameter
//! group, minor engine version), applied at once or in the maintenance window as the spec
//! says, and the wait covers `modifying`. What AWS can only do by replacement (engine,
//! encryption, storage shrink, identifier, master user, subnet group, cluster) is refused
//! with the field named, and nothing is touched. The master password is generated and kept
//! by RDS in Secrets Manager (`ManageMasterUserPassword`): Ironbark never sees it.
//!
//! The instance keeps a hand-written ensure over the kit's pieces (a composite step): a
//! cluster's writer signals that it exists before its readers are created, and a static
//! parameter change is reported as waiting for a reboot. Its diff is typed
//! (`instance/diff.rs`, [`InstanceDiff`]) and `modify` sends exactly its settings.

use std::collections::BTreeMap;
use std::time::Duration;

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::{self, AwsError, Status};

use crate::error::DatabaseError;
use crate::rds;

mod diff;
mod observe;
#[cfg(test)]
mod tests;

pub(crate) use diff::version_change;
pub use diff::{decide, diff, InstanceDiff, Setting};
use observe::{find, wait_gone};
pub use observe::{find_instance, wait_available};

/// How long an instance may take to be created, modified or deleted.
pub const INSTANCE_TIMEOUT: Duration = Duration::from_secs(90 * 60);

const KIND: &str = "DB instance";

/// Settings only a standalone instance has (an Aurora member takes them from its cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandaloneSpec {
    /// The engine version (`16.4`).
    pub engine_version: String,
    /// gp3 storage in GiB.
    pub allocated_storage_gb: u32,
    /// Storage encryption.
    pub storage_encrypted: bool,
    /// The KMS key (ARN) to encrypt with; `None` for the AWS managed key.
    pub kms_key_id: Option<String>,
    /// Multi-AZ standby.
    pub multi_az: bool,
    /// Backup retention in days.
    pub backup_retention_days: u8,
    /// The daily backup window (`03:00-04:00`).
    pub backup_window: String,
    /// IAM database authentication.
    pub iam_auth: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// The DB subnet group's name.
    pub subnet_group: String,
    /// VPC security group ids.
    pub security_group_ids: Vec<String>,
    /// The master user (its password is managed by RDS).
    pub master_username: String,
    /// The initial database.
    pub database_name: String,
}

/// Where the instance lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A standalone RDS for PostgreSQL instance.
    Standalone(Box<StandaloneSpec>),
    /// A member of an Aurora cluster.
    ClusterMember {
        /// The cluster's identifier.
        cluster: String,
        /// Failover priority (0 is promoted first).
        promotion_tier: i32,
    },
}

/// The desired instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Logical id (`database/instance`); the identifier derives from it.
    pub logical_id: String,
    /// `postgres` or `aurora-postgresql`.
    pub engine: String,
    /// The class (`db.t3.micro`, `db.serverless`).
    pub instance_class: String,
    /// Standalone or cluster member.
    pub placement: Placement,
    /// The DB parameter group's name; `None` for the engine's default group.
    pub parameter_group: Option<String>,
    /// Performance Insights.
    pub performance_insights: bool,
    /// The weekly maintenance window (`sun:04:30-sun:05:30`).
    pub maintenance_window: String,
    /// A public address (never in production).
    pub publicly_accessible: bool,
    /// Whether modifications apply at once (true) or in the maintenance window.
    pub apply_immediately: bool,
}

/// An instance as found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedInstance {
    /// The identifier.
    pub identifier: String,
    /// The ARN.
    pub arn: String,
    /// `creating`, `available`, `modifying`, ...
    pub status: String,
    /// The engine.
    pub engine: String,
    /// The engine version.
    pub engine_version: String,
    /// The class.
    pub instance_class: String,
    /// Allocated storage in GiB.
    pub allocated_storage_gb: u32,
    /// Storage encryption.
    pub storage_encrypted: bool,
    /// The KMS key ARN.
    pub kms_key_id: Option<String>,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Backup retention in days.
    pub backup_retention_days: u8,
    /// The backup window.
    pub backup_window: String,
    /// The maintenance window.
    pub maintenance_window: String,
    /// Performance Insights.
    pub performance_insights: bool,
    /// IAM auth.
    pub iam_auth: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Public address.
    pub publicly_accessible: bool,
    /// Security group ids, sorted.
    pub security_group_ids: Vec<String>,
    /// The subnet group's name.
    pub subnet_group: String,
    /// The parameter group's name and its apply status (`in-sync`, `pending-reboot`).
    pub parameter_group: Option<(String, String)>,
    /// The master user.
    pub master_username: String,
    /// The initial database.
    pub database_name: String,
    /// The master secret's ARN (RDS-managed).
    pub master_secret_arn: Option<String>,
    /// The cluster it belongs to.
    pub cluster: Option<String>,
    /// Endpoint address and port.
    pub endpoint: Option<(String, u16)>,
    /// Modifications waiting for the maintenance window, by plan field name.
    pub pending: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_instance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct InstanceOutcome {
    /// The identifier.
    pub identifier: String,
    /// The change.
    pub change: ResourceChange,
    /// The instance as last read (absent in plan mode before creation).
    pub observed: Option<ObservedInstance>,
    /// Whether a static parameter change waits for a reboot.
    pub pending_reboot: bool,
}

/// The identifier of the instance `logical_id`.
#[must_use]
pub fn identifier_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::RDS_IDENTIFIER)
        .to_ascii_lowercase()
}

/// Creates the instance, or modifies it in place toward the spec, then waits until it is
/// available.
///
/// # Idempotency
/// Found by its deterministic identifier. A converged instance costs one read and no write.
/// An instance still `creating` or `modifying` after an interrupted run is waited for, not
/// re-created; a modification already pending for the maintenance window is not requested
/// again. An instance of that identifier that is not this stack's is refused.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a change AWS can only make by replacement (in apply mode;
/// in plan mode it is returned as a refused change), [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails,
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) when the instance does not become available.
pub async fn ensure_instance(
    ctx: &Context,
    spec: &InstanceSpec,
) -> Result<InstanceOutcome, DatabaseError> {
    ensure_instance_with(ctx, spec, None).await
}

/// [`ensure_instance`], sending on `exists` once the instance exists in AWS (found, or its
/// create call returned; in plan mode once decided), before any wait. Aurora makes the first
/// instance created in a cluster its writer, so the cluster creates its readers only after
/// this signal from the writer.
pub(crate) async fn ensure_instance_with(
    ctx: &Context,
    spec: &InstanceSpec,
    exists: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<InstanceOutcome, DatabaseError> {
    let mut exists = exists;
    let mut signal = move || {
        if let Some(tx) = exists.take() {
            let _ = tx.send(());
        }
    };
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
    // Nothing to change but still on its way (an interrupted run): planned as in progress,
    // so the deploy goes on to wait for it.
    let diff = diff(spec, &tags, observed.as_ref());
    let change = reconcile::change_of(observed.is_some(), &diff, &Status::Ready).or_in_progress(
        observed
            .as_ref()
            .map(|o| o.status.as_str())
            .filter(|s| *s != "available"),
    );
    let mut current = observed.clone();
    rds::refuse_in_apply(ctx, KIND, &id, &change)?;
    if !ctx.is_apply() || observed.is_some() || matches!(change, Change::Refused { .. }) {
        signal();
    }
    if ctx.is_apply() && !matches!(change, Change::Refused { .. }) {
        let busy = observed.as_ref().is_some_and(|o| o.status != "available");
        match (&observed, change.writes()) {
            (None, _) => {
                create(ctx, &client, spec, &id, &tags).await?;
                signal();
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(obs), true) => {
                if busy {
                    // Resuming an interrupted run: AWS refuses modifications until then.
                    wait_available(ctx, &spec.logical_id, &id).await?;
                }
                modify(&client, spec, &diff, &id).await?;
                rds::write_tags(&client, &obs.arn, &diff.tags, KIND, &id).await?;
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(_), false) if busy => {
                current = Some(wait_available(ctx, &spec.logical_id, &id).await?);
            }
            (Some(_), false) => {}
        }
    }
    let pending_reboot = current
        .as_ref()
        .and_then(|o| o.parameter_group.as_ref())
        .is_some_and(|(_, status)| status == "pending-reboot");
    if pending_reboot {
        ctx.report(Event::Waiting {
            resource: spec.logical_id.clone(),
            status: "static parameters pending: they take effect at the next reboot".into(),
        });
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(InstanceOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(id.clone()),
            change,
        },
        identifier: id,
        observed: current,
        pending_reboot,
    })
}

async fn create(
    ctx: &Context,
    client: &aws_sdk_rds::Client,
    spec: &InstanceSpec,
    id: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let _permit = ctx.permit("rds").await;
    let mut req = client
        .create_db_instance()
        .db_instance_identifier(id)
        .engine(&spec.engine)
        .db_instance_class(&spec.instance_class)
        .set_db_parameter_group_name(spec.parameter_group.clone())
        .enable_performance_insights(spec.performance_insights)
        .preferred_maintenance_window(&spec.maintenance_window)
        .publicly_accessible(spec.publicly_accessible)
        .auto_minor_version_upgrade(false)
        .copy_tags_to_snapshot(true)
        .set_tags(Some(rds::rds_tags(tags)));
    match &spec.placement {
        Placement::Standalone(s) => {
            req = req
                .engine_version(&s.engine_version)
                .allocated_storage(i32::try_from(s.allocated_storage_gb).unwrap_or(i32::MAX))
                .storage_type("gp3")
                .storage_encrypted(s.storage_encrypted)
                .set_kms_key_id(s.kms_key_id.clone().filter(|_| s.storage_encrypted))
                .multi_az(s.multi_az)
                .backup_retention_period(i32::from(s.backup_retention_days))
                .preferred_backup_window(&s.backup_window)
                .enable_iam_database_authentication(s.iam_auth)
                .deletion_protection(s.deletion_protection)
                .db_subnet_group_name(&s.subnet_group)
                .set_vpc_security_group_ids(Some(s.security_group_ids.clone()))
                .master_username(&s.master_username)
                .manage_master_user_password(true)
                .db_name(&s.database_name);
        }
        Placement::ClusterMember {
            cluster,
            promotion_tier,
        } => {
            req = req
                .db_cluster_identifier(cluster)
                .promotion_tier(*promotion_tier);
        }
    }
    match req.send().await {
        Ok(_) => Ok(()),
        // A concurrent or interrupted run created it: waiting for it is what is left.
        Err(e) if e.as_service_error().is_some_and(rds::is_already_exists) => Ok(()),
        Err(e) => Err(DatabaseError::from(AwsError::new("create", KIND, id, e))),
    }
}

/// Sends the settings of `diff` in one `ModifyDBInstance` (none: no call).
async fn modify(
    client: &aws_sdk_rds::Client,
    spec: &InstanceSpec,
    diff: &InstanceDiff,
    id: &str,
) -> Result<(), DatabaseError> {
    if diff.settings.is_empty() {
        return Ok(());
    }
    let mut req = client
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(spec.apply_immediately);
    for (_, setting) in &diff.settings {
        req = match setting {
            Setting::EngineVersion(v) => req.engine_version(v),
            Setting::AllocatedStorageGb(gb) => {
                req.allocated_storage(i32::try_from(*gb).unwrap_or(i32::MAX))
            }
            Setting::MultiAz(on) => req.multi_az(*on),
            Setting::BackupRetentionDays(days) => req.backup_retention_period(i32::from(*days)),
            Setting::BackupWindow(w) => req.preferred_backup_window(w),
            Setting::IamAuth(on) => req.enable_iam_database_authentication(*on),
            Setting::DeletionProtection(on) => req.deletion_protection(*on),
            Setting::SecurityGroupIds(ids) => req.set_vpc_security_group_ids(Some(ids.clone())),
            Setting::InstanceClass(c) => req.db_instance_class(c),
            Setting::MaintenanceWindow(w) => req.preferred_maintenance_window(w),
            Setting::PerformanceInsights(on) => req.enable_performance_insights(*on),
            Setting::PubliclyAccessible(on) => req.publicly_accessible(*on),
            Setting::ParameterGroup(pg) => req.db_parameter_group_name(pg),
        };
    }
    req.send()
        .await
        .map_err(AwsError::map("modify", KIND, id))?;
    Ok(())
}

/// How destroy treats a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestroyOptions {
    /// Turn deletion protection off first instead of refusing.
    pub allow_protected: bool,
    /// Take a final snapshot (standalone instances and clusters).
    pub final_snapshot: bool,
}

/// The name of a final snapshot of `identifier` taken now (unique per destroy).
#[must_use]
pub fn final_snapshot_name(identifier: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{identifier}-final-{secs}")
}

/// Deletes the instance of `logical_id` and waits until it is gone.
///
/// # Idempotency
/// An absent instance is a no-op and one already `deleting` is only waited for. A protected
/// instance is refused unless `allow_protected`, which turns protection off first. A
/// standalone instance gets a final snapshot (`<id>-final-<unix time>`) when asked.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a protected instance, [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) otherwise.
pub async fn destroy_instance(
    ctx: &Context,
    logical_id: &str,
    opts: DestroyOptions,
) -> Result<ResourceChange, DatabaseError> {
    let client = rds::client(ctx);
    let id = identifier_of(ctx, logical_id);
    let observed = find(&client, &id).await?;
    let change = match &observed {
        Some(obs) if rds::owned_by(&obs.tags, ctx, logical_id) => {
            if obs.deletion_protection && !opts.allow_protected {
                return Err(DatabaseError::refused(
                    KIND,
                    &id,
                    "deletion protection is on; destroy with --allow-protected to turn it off and delete (a final snapshot is taken unless the profile says final_snapshot = false)",
                ));
            }
            Change::Delete
        }
        _ => Change::NoOp,
    };
    if ctx.is_apply() {
        if let Some(obs) = observed.filter(|_| change.is_change()) {
            if obs.status != "deleting" {
                if obs.status != "available" {
                    wait_available(ctx, logical_id, &id).await?;
                }
                if obs.deletion_protection {
                    client
                        .modify_db_instance()
                        .db_instance_identifier(&id)
                        .deletion_protection(false)
                        .apply_immediately(true)
                        .send()
                        .await
                        .map_err(AwsError::map("turn deletion protection off on", KIND, &id))?;
                }
                let mut req = client
                    .delete_db_instance()
                    .db_instance_identifier(&id)
                    .delete_automated_backups(false);
                if obs.cluster.is_none() {
                    req = if opts.final_snapshot {
                        req.final_db_snapshot_identifier(final_snapshot_name(&id))
                    } else {
                        req.skip_final_snapshot(true)
                    };
                }
                match req.send().await {
                    Ok(_) => {}
                    Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => {}
                    Err(e) => {
                        return Err(DatabaseError::from(AwsError::new("delete", KIND, &id, e)))
                    }
                }
            }
            wait_gone(ctx, logical_id, &id).await?;
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(id),
        change,
    })
}
