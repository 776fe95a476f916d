//! Reading a replication group (its members, endpoints and tags), waiting for it, and reading
//! its AUTH token from Secrets Manager.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{AutomaticFailoverStatus, MultiAzStatus, ReplicationGroup};
use ironbark_core::reconcile::AwsError;
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::Context;
use secrecy::{ExposeSecret, SecretString};

use super::super::{client, read_tags, sorted, CACHE_TIMEOUT, ENGINE, PORT, RG_KIND};
use super::{Endpoint, ObservedReplicationGroup};
use crate::error::DatabaseError;
use crate::rds::is_not_found;

pub(crate) fn endpoint(e: Option<&aws_sdk_elasticache::types::Endpoint>) -> Option<Endpoint> {
    let e = e?;
    Some(Endpoint {
        address: e.address()?.to_owned(),
        port: e.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(PORT),
    })
}

/// The replication group's own fields (member-cluster fields left `None`).
pub(crate) fn observed_of(rg: &ReplicationGroup, id: &str) -> ObservedReplicationGroup {
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
pub(crate) async fn read_member(
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

pub(crate) async fn find_group(
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

pub(crate) fn wait_error(
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

pub(crate) async fn wait_gone(
    ctx: &Context,
    logical_id: &str,
    id: &str,
) -> Result<(), DatabaseError> {
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
pub(crate) async fn read_auth_token(
    ctx: &Context,
    secret_arn: &str,
) -> Result<SecretString, DatabaseError> {
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
