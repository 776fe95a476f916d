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

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::DbInstance;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::rds;

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

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

fn version_parts(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Compares desired and observed engine versions: `Ok(true)` for an in-place minor upgrade,
/// `Ok(false)` when equal, `Err` for a major change or a downgrade.
pub(crate) fn version_change(observed: &str, desired: &str) -> Result<bool, String> {
    if observed == desired {
        return Ok(false);
    }
    if major(observed) != major(desired) {
        return Err(format!(
            "a major version upgrade ({observed} -> {desired}) changes the parameter group family and cannot be rolled back; Ironbark refuses it: take a snapshot, upgrade by hand (or restore into a new stack), then deploy"
        ));
    }
    if version_parts(desired) < version_parts(observed) {
        return Err(format!(
            "{desired} is older than the running {observed}; RDS cannot downgrade an engine"
        ));
    }
    Ok(true)
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

/// The fields of a new instance, as shown in a plan.
fn create_fields(spec: &InstanceSpec) -> Vec<FieldDiff> {
    let mut fields = vec![
        FieldDiff::set("engine", &spec.engine),
        FieldDiff::set("instance_class", &spec.instance_class),
    ];
    match &spec.placement {
        Placement::Standalone(s) => {
            fields.extend([
                FieldDiff::set("engine_version", &s.engine_version),
                FieldDiff::set("allocated_storage_gb", s.allocated_storage_gb),
                FieldDiff::set("storage_type", "gp3"),
                FieldDiff::set("storage_encrypted", s.storage_encrypted),
                FieldDiff::set("multi_az", s.multi_az),
                FieldDiff::set("backup_retention_days", s.backup_retention_days),
                FieldDiff::set("iam_auth", s.iam_auth),
                FieldDiff::set("deletion_protection", s.deletion_protection),
                FieldDiff::set("master_username", &s.master_username),
                FieldDiff::set("master_password", "managed by RDS in Secrets Manager"),
            ]);
        }
        Placement::ClusterMember { cluster, .. } => {
            fields.push(FieldDiff::set("cluster", cluster));
        }
    }
    fields.extend([
        FieldDiff::set("performance_insights", spec.performance_insights),
        FieldDiff::set("publicly_accessible", spec.publicly_accessible),
    ]);
    fields
}

/// The change for an instance. Pure.
///
/// A modification already pending for the maintenance window counts as done: the value
/// compared is the pending one.
#[must_use]
pub fn decide(spec: &InstanceSpec, tags: &Tags, observed: Option<&ObservedInstance>) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: create_fields(spec),
        };
    };
    let eff = |field: &str, current: String| obs.pending.get(field).cloned().unwrap_or(current);
    if obs.engine != spec.engine {
        return Change::refused(
            format!("engine ({} -> {})", obs.engine, spec.engine),
            "changing the engine replaces the database and loses its data; migrate with a snapshot restore or dump into a new stack",
        );
    }
    let mut fields = Vec::new();
    let mut diff = |field: &str, old: String, new: String| {
        if old != new {
            fields.push(FieldDiff::new(field, Some(old), Some(new)));
        }
    };
    match (&spec.placement, &obs.cluster) {
        (Placement::Standalone(s), None) => {
            if obs.storage_encrypted != s.storage_encrypted {
                return Change::refused(
                    format!("storage_encrypted ({} -> {})", obs.storage_encrypted, s.storage_encrypted),
                    "encryption can only be set when a database is created; restore an encrypted copy of a snapshot into a new instance",
                );
            }
            if let (Some(want), Some(have)) = (&s.kms_key_id, &obs.kms_key_id) {
                if want.starts_with("arn:") && have.starts_with("arn:") && want != have {
                    return Change::refused(
                        format!("kms_key_id ({have} -> {want})"),
                        "the encryption key can only be set when a database is created; restore a snapshot copied under the new key",
                    );
                }
            }
            let storage = eff("allocated_storage_gb", obs.allocated_storage_gb.to_string());
            let storage_now: u32 = storage.parse().unwrap_or(obs.allocated_storage_gb);
            if s.allocated_storage_gb < storage_now {
                return Change::refused(
                    format!("allocated_storage_gb ({storage_now} -> {})", s.allocated_storage_gb),
                    "RDS storage cannot shrink; dump and restore into a smaller instance, or keep the size",
                );
            }
            if obs.master_username != s.master_username {
                return Change::refused(
                    format!(
                        "master_username ({} -> {})",
                        obs.master_username, s.master_username
                    ),
                    "the master user is fixed at creation",
                );
            }
            if !obs.database_name.is_empty() && obs.database_name != s.database_name {
                return Change::refused(
                    format!(
                        "database_name ({} -> {})",
                        obs.database_name, s.database_name
                    ),
                    "the initial database is named at creation; create other databases with SQL",
                );
            }
            if obs.subnet_group != s.subnet_group {
                return Change::refused(
                    format!("subnet_group ({} -> {})", obs.subnet_group, s.subnet_group),
                    "moving an instance to another DB subnet group is not done in place by Ironbark",
                );
            }
            let version = eff("engine_version", obs.engine_version.clone());
            match version_change(&version, &s.engine_version) {
                Err(reason) => {
                    return Change::refused(
                        format!("engine_version ({version} -> {})", s.engine_version),
                        reason,
                    )
                }
                Ok(true) => diff("engine_version", version, s.engine_version.clone()),
                Ok(false) => {}
            }
            diff(
                "allocated_storage_gb",
                storage,
                s.allocated_storage_gb.to_string(),
            );
            diff(
                "multi_az",
                eff("multi_az", obs.multi_az.to_string()),
                s.multi_az.to_string(),
            );
            diff(
                "backup_retention_days",
                eff(
                    "backup_retention_days",
                    obs.backup_retention_days.to_string(),
                ),
                s.backup_retention_days.to_string(),
            );
            diff(
                "backup_window",
                obs.backup_window.clone(),
                s.backup_window.clone(),
            );
            diff(
                "iam_auth",
                eff("iam_auth", obs.iam_auth.to_string()),
                s.iam_auth.to_string(),
            );
            diff(
                "deletion_protection",
                obs.deletion_protection.to_string(),
                s.deletion_protection.to_string(),
            );
            diff(
                "security_group_ids",
                obs.security_group_ids.join(","),
                sorted(&s.security_group_ids).join(","),
            );
        }
        (Placement::ClusterMember { cluster, .. }, Some(have)) if have == cluster => {}
        (Placement::ClusterMember { cluster, .. }, have) => {
            return Change::refused(
                format!(
                    "cluster ({} -> {cluster})",
                    have.as_deref().unwrap_or("(standalone)")
                ),
                "an instance cannot move into or between clusters",
            );
        }
        (Placement::Standalone(_), Some(have)) => {
            return Change::refused(
                format!("cluster ({have} -> (standalone))"),
                "an Aurora member cannot become a standalone instance",
            );
        }
    }
    diff(
        "instance_class",
        eff("instance_class", obs.instance_class.clone()),
        spec.instance_class.clone(),
    );
    diff(
        "maintenance_window",
        obs.maintenance_window.clone(),
        spec.maintenance_window.clone(),
    );
    diff(
        "performance_insights",
        obs.performance_insights.to_string(),
        spec.performance_insights.to_string(),
    );
    diff(
        "publicly_accessible",
        obs.publicly_accessible.to_string(),
        spec.publicly_accessible.to_string(),
    );
    if let Some(want) = &spec.parameter_group {
        let have = obs
            .parameter_group
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        diff("parameter_group", have, want.clone());
    }
    if !spec.apply_immediately {
        for f in &mut fields {
            if let Some(new) = &mut f.new {
                if DEFERRABLE.contains(&f.field.as_str()) {
                    new.push_str(" (in the maintenance window)");
                }
            }
        }
    }
    fields.extend(rds::tag_fields(tags, &obs.tags));
    Change::update_if_any(fields)
}

/// Fields whose modification waits for the maintenance window unless applied immediately.
const DEFERRABLE: &[&str] = &[
    "instance_class",
    "allocated_storage_gb",
    "multi_az",
    "engine_version",
    "backup_retention_days",
];

fn observed_of(db: &DbInstance) -> ObservedInstance {
    let mut pending = BTreeMap::new();
    if let Some(p) = db.pending_modified_values() {
        if let Some(v) = p.db_instance_class() {
            pending.insert("instance_class".into(), v.to_owned());
        }
        if let Some(v) = p.allocated_storage() {
            pending.insert("allocated_storage_gb".into(), v.to_string());
        }
        if let Some(v) = p.multi_az() {
            pending.insert("multi_az".into(), v.to_string());
        }
        if let Some(v) = p.engine_version() {
            pending.insert("engine_version".into(), v.to_owned());
        }
        if let Some(v) = p.backup_retention_period() {
            pending.insert("backup_retention_days".into(), v.to_string());
        }
        if let Some(v) = p.iam_database_authentication_enabled() {
            pending.insert("iam_auth".into(), v.to_string());
        }
    }
    let mut security_group_ids: Vec<String> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect();
    security_group_ids.sort();
    ObservedInstance {
        identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: db.db_instance_arn().unwrap_or_default().to_owned(),
        status: db.db_instance_status().unwrap_or_default().to_owned(),
        engine: db.engine().unwrap_or_default().to_owned(),
        engine_version: db.engine_version().unwrap_or_default().to_owned(),
        instance_class: db.db_instance_class().unwrap_or_default().to_owned(),
        allocated_storage_gb: u32::try_from(db.allocated_storage().unwrap_or(0)).unwrap_or(0),
        storage_encrypted: db.storage_encrypted().unwrap_or(false),
        kms_key_id: db.kms_key_id().map(str::to_owned),
        multi_az: db.multi_az().unwrap_or(false),
        backup_retention_days: u8::try_from(db.backup_retention_period().unwrap_or(0))
            .unwrap_or(u8::MAX),
        backup_window: db.preferred_backup_window().unwrap_or_default().to_owned(),
        maintenance_window: db
            .preferred_maintenance_window()
            .unwrap_or_default()
            .to_owned(),
        performance_insights: db.performance_insights_enabled().unwrap_or(false),
        iam_auth: db.iam_database_authentication_enabled().unwrap_or(false),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        publicly_accessible: db.publicly_accessible().unwrap_or(false),
        security_group_ids,
        subnet_group: db
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .unwrap_or_default()
            .to_owned(),
        parameter_group: db.db_parameter_groups().first().map(|g| {
            (
                g.db_parameter_group_name().unwrap_or_default().to_owned(),
                g.parameter_apply_status().unwrap_or_default().to_owned(),
            )
        }),
        master_username: db.master_username().unwrap_or_default().to_owned(),
        database_name: db.db_name().unwrap_or_default().to_owned(),
        master_secret_arn: db
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_owned),
        cluster: db.db_cluster_identifier().map(str::to_owned),
        endpoint: db.endpoint().and_then(|e| {
            Some((
                e.address()?.to_owned(),
                u16::try_from(e.port().unwrap_or(5432)).unwrap_or(5432),
            ))
        }),
        pending,
        tags: rds::tag_map(db.tag_list()),
    }
}

/// Reads the instance `identifier`; `None` when it does not exist.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when the call fails.
pub async fn find_instance(
    ctx: &Context,
    identifier: &str,
) -> Result<Option<ObservedInstance>, DatabaseError> {
    find(&rds::client(ctx), identifier).await
}

async fn find(
    client: &aws_sdk_rds::Client,
    identifier: &str,
) -> Result<Option<ObservedInstance>, DatabaseError> {
    match client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().map(observed_of)),
        Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => Ok(None),
        Err(e) => Err(DatabaseError::from(AwsError::new(
            "read", KIND, identifier, e,
        ))),
    }
}

/// Waits until the instance is `available` (covering `creating`, `modifying`, `backing-up`,
/// and Serverless v2 members that stay `creating` after their cluster is available).
///
/// # Errors
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) on a terminal status, a timeout or a failed poll.
pub async fn wait_available(
    ctx: &Context,
    logical_id: &str,
    identifier: &str,
) -> Result<ObservedInstance, DatabaseError> {
    let client = rds::client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(INSTANCE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match find(&client, identifier).await? {
                Some(o) if o.status == "available" => Poll::Ready(o),
                Some(o) => match rds::poll_status(&o.status) {
                    Poll::Failed(s) => Poll::Failed(s),
                    _ => Poll::Pending(o.status),
                },
                None => Poll::Pending("not visible yet".into()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, identifier))
}

/// Waits until the instance no longer exists.
async fn wait_gone(ctx: &Context, logical_id: &str, identifier: &str) -> Result<(), DatabaseError> {
    let client = rds::client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(INSTANCE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match find(&client, identifier).await? {
                None => Poll::Ready(()),
                Some(o) => Poll::Pending(o.status),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, identifier))
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
    let change = decide(spec, &tags, observed.as_ref()).or_in_progress(
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
                modify(&client, spec, obs, &id).await?;
                rds::apply_tags(&client, &obs.arn, &tags, &obs.tags, KIND, &id).await?;
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

async fn modify(
    client: &aws_sdk_rds::Client,
    spec: &InstanceSpec,
    obs: &ObservedInstance,
    id: &str,
) -> Result<(), DatabaseError> {
    let mut req = client
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(spec.apply_immediately);
    let mut any = false;
    let eff = |field: &str, current: String| obs.pending.get(field).cloned().unwrap_or(current);
    if eff("instance_class", obs.instance_class.clone()) != spec.instance_class {
        req = req.db_instance_class(&spec.instance_class);
        any = true;
    }
    if obs.maintenance_window != spec.maintenance_window {
        req = req.preferred_maintenance_window(&spec.maintenance_window);
        any = true;
    }
    if obs.performance_insights != spec.performance_insights {
        req = req.enable_performance_insights(spec.performance_insights);
        any = true;
    }
    if obs.publicly_accessible != spec.publicly_accessible {
        req = req.publicly_accessible(spec.publicly_accessible);
        any = true;
    }
    if let Some(pg) = &spec.parameter_group {
        if obs.parameter_group.as_ref().map(|(n, _)| n) != Some(pg) {
            req = req.db_parameter_group_name(pg);
            any = true;
        }
    }
    if let Placement::Standalone(s) = &spec.placement {
        if eff("engine_version", obs.engine_version.clone()) != s.engine_version {
            req = req.engine_version(&s.engine_version);
            any = true;
        }
        if eff("allocated_storage_gb", obs.allocated_storage_gb.to_string())
            != s.allocated_storage_gb.to_string()
        {
            req = req.allocated_storage(i32::try_from(s.allocated_storage_gb).unwrap_or(i32::MAX));
            any = true;
        }
        if eff("multi_az", obs.multi_az.to_string()) != s.multi_az.to_string() {
            req = req.multi_az(s.multi_az);
            any = true;
        }
        if eff(
            "backup_retention_days",
            obs.backup_retention_days.to_string(),
        ) != s.backup_retention_days.to_string()
        {
            req = req.backup_retention_period(i32::from(s.backup_retention_days));
            any = true;
        }
        if obs.backup_window != s.backup_window {
            req = req.preferred_backup_window(&s.backup_window);
            any = true;
        }
        if eff("iam_auth", obs.iam_auth.to_string()) != s.iam_auth.to_string() {
            req = req.enable_iam_database_authentication(s.iam_auth);
            any = true;
        }
        if obs.deletion_protection != s.deletion_protection {
            req = req.deletion_protection(s.deletion_protection);
            any = true;
        }
        if obs.security_group_ids != sorted(&s.security_group_ids) {
            req = req.set_vpc_security_group_ids(Some(s.security_group_ids.clone()));
            any = true;
        }
    }
    if any {
        req.send()
            .await
            .map_err(AwsError::map("modify", KIND, id))?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InstanceSpec {
        InstanceSpec {
            logical_id: "database/instance".into(),
            engine: "postgres".into(),
            instance_class: "db.t3.micro".into(),
            placement: Placement::Standalone(Box::new(StandaloneSpec {
                engine_version: "16.4".into(),
                allocated_storage_gb: 20,
                storage_encrypted: true,
                kms_key_id: None,
                multi_az: false,
                backup_retention_days: 7,
                backup_window: "03:00-04:00".into(),
                iam_auth: true,
                deletion_protection: false,
                subnet_group: "sg".into(),
                security_group_ids: vec!["sg-2".into(), "sg-1".into()],
                master_username: "ironbark".into(),
                database_name: "app".into(),
            })),
            parameter_group: Some("pg".into()),
            performance_insights: true,
            maintenance_window: "sun:04:30-sun:05:30".into(),
            publicly_accessible: false,
            apply_immediately: true,
        }
    }

    fn converged(tags: &Tags) -> ObservedInstance {
        ObservedInstance {
            identifier: "i".into(),
            status: "available".into(),
            engine: "postgres".into(),
            engine_version: "16.4".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage_gb: 20,
            storage_encrypted: true,
            backup_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            performance_insights: true,
            iam_auth: true,
            security_group_ids: vec!["sg-1".into(), "sg-2".into()],
            subnet_group: "sg".into(),
            parameter_group: Some(("pg".into(), "in-sync".into())),
            master_username: "ironbark".into(),
            database_name: "app".into(),
            tags: tags.as_map().clone(),
            ..ObservedInstance::default()
        }
    }

    fn standalone(s: &mut InstanceSpec) -> &mut StandaloneSpec {
        match &mut s.placement {
            Placement::Standalone(s) => s,
            Placement::ClusterMember { .. } => unreachable!(),
        }
    }

    #[test]
    fn converged_is_noop_and_class_change_is_in_place() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let obs = converged(&tags);
        assert_eq!(decide(&spec(), &tags, Some(&obs)), Change::NoOp);
        let mut bigger = spec();
        bigger.instance_class = "db.t3.small".into();
        let Change::Update { fields } = decide(&bigger, &tags, Some(&obs)) else {
            panic!("expected an update");
        };
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "instance_class");
        assert_eq!(fields[0].new.as_deref(), Some("db.t3.small"));
    }

    #[test]
    fn pending_modification_counts_as_done() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let mut obs = converged(&tags);
        obs.pending
            .insert("instance_class".into(), "db.t3.small".into());
        let mut later = spec();
        later.instance_class = "db.t3.small".into();
        later.apply_immediately = false;
        assert_eq!(decide(&later, &tags, Some(&obs)), Change::NoOp);
        let mut other = later.clone();
        other.instance_class = "db.t3.medium".into();
        let Change::Update { fields } = decide(&other, &tags, Some(&obs)) else {
            panic!("expected an update");
        };
        assert_eq!(
            fields[0].new.as_deref(),
            Some("db.t3.medium (in the maintenance window)")
        );
        assert_eq!(fields[0].old.as_deref(), Some("db.t3.small"));
    }

    #[test]
    fn replacements_are_refused_naming_the_field() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let obs = converged(&tags);
        type Edit = Box<dyn Fn(&mut InstanceSpec)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|s| s.engine = "mysql".into()), "engine"),
            (
                Box::new(|s| standalone(s).storage_encrypted = false),
                "storage_encrypted",
            ),
            (
                Box::new(|s| standalone(s).allocated_storage_gb = 10),
                "allocated_storage_gb",
            ),
            (
                Box::new(|s| standalone(s).engine_version = "17.1".into()),
                "engine_version",
            ),
            (
                Box::new(|s| standalone(s).engine_version = "16.2".into()),
                "engine_version",
            ),
            (
                Box::new(|s| standalone(s).master_username = "root".into()),
                "master_username",
            ),
            (
                Box::new(|s| standalone(s).subnet_group = "other".into()),
                "subnet_group",
            ),
        ];
        for (edit, field) in cases {
            let mut s = spec();
            edit(&mut s);
            match decide(&s, &tags, Some(&obs)) {
                Change::Refused { field: f, .. } => assert!(f.starts_with(field), "{f}"),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn growth_and_minor_upgrade_are_in_place() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let obs = converged(&tags);
        let mut s = spec();
        standalone(&mut s).allocated_storage_gb = 50;
        standalone(&mut s).engine_version = "16.6".into();
        let Change::Update { fields } = decide(&s, &tags, Some(&obs)) else {
            panic!("expected an update");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["engine_version", "allocated_storage_gb"]);
    }
}
