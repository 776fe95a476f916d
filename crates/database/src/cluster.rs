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

use aws_sdk_rds::types::{DbCluster, ServerlessV2ScalingConfiguration};
use futures::future::try_join_all;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::instance::{self, DestroyOptions, InstanceSpec, Placement};
use crate::rds;

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

fn acu(range: Option<(f64, f64)>) -> String {
    range.map_or_else(|| "(none)".to_owned(), |(min, max)| format!("{min}-{max}"))
}

/// The change for a cluster (not its instances). Pure.
#[must_use]
pub fn decide(spec: &ClusterSpec, tags: &Tags, observed: Option<&ObservedCluster>) -> Change {
    let Some(obs) = observed else {
        let mut fields = vec![
            FieldDiff::set("engine", "aurora-postgresql"),
            FieldDiff::set("engine_version", &spec.engine_version),
            FieldDiff::set("storage_encrypted", spec.storage_encrypted),
            FieldDiff::set("backup_retention_days", spec.backup_retention_days),
            FieldDiff::set("iam_auth", spec.iam_auth),
            FieldDiff::set("deletion_protection", spec.deletion_protection),
            FieldDiff::set("data_api", spec.data_api),
            FieldDiff::set("master_username", &spec.master_username),
            FieldDiff::set("master_password", "managed by RDS in Secrets Manager"),
        ];
        if spec.serverless.is_some() {
            fields.push(FieldDiff::set("serverless_v2_acu", acu(spec.serverless)));
        }
        return Change::Create { fields };
    };
    if obs.engine != "aurora-postgresql" {
        return Change::refused(
            format!("engine ({} -> aurora-postgresql)", obs.engine),
            "changing the engine replaces the cluster and loses its data",
        );
    }
    if obs.storage_encrypted != spec.storage_encrypted {
        return Change::refused(
            format!(
                "storage_encrypted ({} -> {})",
                obs.storage_encrypted, spec.storage_encrypted
            ),
            "encryption is set when a cluster is created; restore an encrypted snapshot copy into a new cluster",
        );
    }
    if let (Some(want), Some(have)) = (&spec.kms_key_id, &obs.kms_key_id) {
        if want.starts_with("arn:") && have.starts_with("arn:") && want != have {
            return Change::refused(
                format!("kms_key_id ({have} -> {want})"),
                "the encryption key is set when a cluster is created",
            );
        }
    }
    if obs.master_username != spec.master_username {
        return Change::refused(
            format!(
                "master_username ({} -> {})",
                obs.master_username, spec.master_username
            ),
            "the master user is fixed at creation",
        );
    }
    if !obs.database_name.is_empty() && obs.database_name != spec.database_name {
        return Change::refused(
            format!(
                "database_name ({} -> {})",
                obs.database_name, spec.database_name
            ),
            "the initial database is named at creation; create other databases with SQL",
        );
    }
    if obs.subnet_group != spec.subnet_group {
        return Change::refused(
            format!(
                "subnet_group ({} -> {})",
                obs.subnet_group, spec.subnet_group
            ),
            "moving a cluster to another DB subnet group is not done in place by Ironbark",
        );
    }
    if let Err(reason) = instance::version_change(&obs.engine_version, &spec.engine_version) {
        return Change::refused(
            format!(
                "engine_version ({} -> {})",
                obs.engine_version, spec.engine_version
            ),
            reason,
        );
    }
    let mut fields = Vec::new();
    let mut diff = |field: &str, old: String, new: String| {
        if old != new {
            fields.push(FieldDiff::new(field, Some(old), Some(new)));
        }
    };
    diff(
        "engine_version",
        obs.engine_version.clone(),
        spec.engine_version.clone(),
    );
    diff(
        "serverless_v2_acu",
        acu(obs.serverless),
        acu(spec.serverless),
    );
    diff(
        "backup_retention_days",
        obs.backup_retention_days.to_string(),
        spec.backup_retention_days.to_string(),
    );
    diff(
        "backup_window",
        obs.backup_window.clone(),
        spec.backup_window.clone(),
    );
    diff(
        "maintenance_window",
        obs.maintenance_window.clone(),
        spec.maintenance_window.clone(),
    );
    diff(
        "iam_auth",
        obs.iam_auth.to_string(),
        spec.iam_auth.to_string(),
    );
    diff(
        "deletion_protection",
        obs.deletion_protection.to_string(),
        spec.deletion_protection.to_string(),
    );
    let mut sgs = spec.security_group_ids.clone();
    sgs.sort();
    diff(
        "security_group_ids",
        obs.security_group_ids.join(","),
        sgs.join(","),
    );
    if let Some(pg) = &spec.parameter_group {
        diff("parameter_group", obs.parameter_group.clone(), pg.clone());
    }
    diff(
        "data_api",
        obs.data_api.to_string(),
        spec.data_api.to_string(),
    );
    fields.extend(rds::tag_fields(tags, &obs.tags));
    Change::update_if_any(fields)
}

fn observed_of(c: &DbCluster) -> ObservedCluster {
    let mut security_group_ids: Vec<String> = c
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect();
    security_group_ids.sort();
    ObservedCluster {
        identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
        status: c.status().unwrap_or_default().to_owned(),
        engine: c.engine().unwrap_or_default().to_owned(),
        engine_version: c.engine_version().unwrap_or_default().to_owned(),
        serverless: c
            .serverless_v2_scaling_configuration()
            .and_then(|s| Some((s.min_capacity()?, s.max_capacity()?))),
        storage_encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key_id: c.kms_key_id().map(str::to_owned),
        backup_retention_days: u8::try_from(c.backup_retention_period().unwrap_or(0))
            .unwrap_or(u8::MAX),
        backup_window: c.preferred_backup_window().unwrap_or_default().to_owned(),
        maintenance_window: c
            .preferred_maintenance_window()
            .unwrap_or_default()
            .to_owned(),
        iam_auth: c.iam_database_authentication_enabled().unwrap_or(false),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        subnet_group: c.db_subnet_group().unwrap_or_default().to_owned(),
        security_group_ids,
        parameter_group: c
            .db_cluster_parameter_group()
            .unwrap_or_default()
            .to_owned(),
        master_username: c.master_username().unwrap_or_default().to_owned(),
        database_name: c.database_name().unwrap_or_default().to_owned(),
        data_api: c.http_endpoint_enabled().unwrap_or(false),
        master_secret_arn: c
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_owned),
        endpoint: c.endpoint().map(str::to_owned),
        reader_endpoint: c.reader_endpoint().map(str::to_owned),
        port: u16::try_from(c.port().unwrap_or(5432)).unwrap_or(5432),
        members: c
            .db_cluster_members()
            .iter()
            .filter_map(|m| {
                Some((
                    m.db_instance_identifier()?.to_owned(),
                    m.is_cluster_writer().unwrap_or(false),
                ))
            })
            .collect(),
        tags: rds::tag_map(c.tag_list()),
    }
}

/// Reads the cluster `identifier`; `None` when it does not exist.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when the call fails.
pub async fn find_cluster(
    ctx: &Context,
    identifier: &str,
) -> Result<Option<ObservedCluster>, DatabaseError> {
    find(&rds::client(ctx), identifier).await
}

async fn find(
    client: &aws_sdk_rds::Client,
    identifier: &str,
) -> Result<Option<ObservedCluster>, DatabaseError> {
    match client
        .describe_db_clusters()
        .db_cluster_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().map(observed_of)),
        Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => Ok(None),
        Err(e) => Err(DatabaseError::from(AwsError::new(
            "read", KIND, identifier, e,
        ))),
    }
}

async fn wait(
    ctx: &Context,
    logical_id: &str,
    identifier: &str,
    gone: bool,
) -> Result<Option<ObservedCluster>, DatabaseError> {
    let client = rds::client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(CLUSTER_TIMEOUT),
        || async {
            let found = find(&client, identifier).await?;
            Ok::<_, DatabaseError>(match (found, gone) {
                (None, true) => Poll::Ready(None),
                (Some(o), true) => Poll::Pending(o.status),
                (None, false) => Poll::Pending("not visible yet".into()),
                (Some(o), false) => match rds::poll_status(&o.status) {
                    Poll::Ready(()) => Poll::Ready(Some(o)),
                    Poll::Failed(s) => Poll::Failed(s),
                    Poll::Pending(s) => Poll::Pending(s),
                },
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, identifier))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ClusterSpec {
        ClusterSpec {
            logical_id: "database/cluster".into(),
            engine_version: "16.4".into(),
            instance_class: "db.serverless".into(),
            serverless: Some((0.5, 4.0)),
            readers: 1,
            storage_encrypted: true,
            kms_key_id: None,
            backup_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            iam_auth: true,
            deletion_protection: true,
            subnet_group: "g".into(),
            security_group_ids: vec!["sg-1".into()],
            parameter_group: None,
            master_username: "ironbark".into(),
            database_name: "app".into(),
            data_api: true,
            performance_insights: true,
            apply_immediately: true,
        }
    }

    fn converged(tags: &Tags) -> ObservedCluster {
        ObservedCluster {
            status: "available".into(),
            engine: "aurora-postgresql".into(),
            engine_version: "16.4".into(),
            serverless: Some((0.5, 4.0)),
            storage_encrypted: true,
            backup_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            iam_auth: true,
            deletion_protection: true,
            subnet_group: "g".into(),
            security_group_ids: vec!["sg-1".into()],
            master_username: "ironbark".into(),
            database_name: "app".into(),
            data_api: true,
            tags: tags.as_map().clone(),
            ..ObservedCluster::default()
        }
    }

    #[test]
    fn acu_range_and_data_api_change_in_place() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let obs = converged(&tags);
        assert_eq!(decide(&spec(), &tags, Some(&obs)), Change::NoOp);
        let mut s = spec();
        s.serverless = Some((1.0, 8.0));
        s.data_api = false;
        let Change::Update { fields } = decide(&s, &tags, Some(&obs)) else {
            panic!("expected an update");
        };
        let shown: Vec<String> = fields
            .iter()
            .map(|f| format!("{}:{}", f.field, f.new.clone().unwrap_or_default()))
            .collect();
        assert_eq!(shown, ["serverless_v2_acu:1-8", "data_api:false"]);
    }

    #[test]
    fn major_upgrade_and_encryption_are_refused() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        let obs = converged(&tags);
        let mut s = spec();
        s.engine_version = "17.2".into();
        assert!(
            matches!(decide(&s, &tags, Some(&obs)), Change::Refused { field, .. } if field.starts_with("engine_version"))
        );
        let mut s = spec();
        s.storage_encrypted = false;
        assert!(
            matches!(decide(&s, &tags, Some(&obs)), Change::Refused { field, .. } if field.starts_with("storage_encrypted"))
        );
        let mut s = spec();
        s.engine_version = "16.6".into();
        assert!(matches!(
            decide(&s, &tags, Some(&obs)),
            Change::Update { .. }
        ));
    }
}
