//! Reading an instance (its settings, the modifications pending for the maintenance window,
//! its tags) and waiting for it to be available or gone.

use std::collections::BTreeMap;

use aws_sdk_rds::types::DbInstance;
use ironbark_core::reconcile::AwsError;
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::Context;

use super::{ObservedInstance, INSTANCE_TIMEOUT, KIND};
use crate::error::DatabaseError;
use crate::rds;

pub(crate) fn observed_of(db: &DbInstance) -> ObservedInstance {
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

pub(crate) async fn find(
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
pub(crate) async fn wait_gone(
    ctx: &Context,
    logical_id: &str,
    identifier: &str,
) -> Result<(), DatabaseError> {
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
