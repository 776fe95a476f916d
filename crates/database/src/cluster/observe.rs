//! Reading a cluster (its settings, members and tags) and waiting for it.

use aws_sdk_rds::types::DbCluster;
use ironbark_core::reconcile::AwsError;
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::Context;

use super::{ObservedCluster, CLUSTER_TIMEOUT, KIND};
use crate::error::DatabaseError;
use crate::rds;

pub(crate) fn observed_of(c: &DbCluster) -> ObservedCluster {
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

pub(crate) async fn find(
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

pub(crate) async fn wait(
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
