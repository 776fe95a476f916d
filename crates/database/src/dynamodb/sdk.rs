//! The SDK side of tables: requests built from the spec, observations read from AWS's
//! answers (table, TTL, backups, tags), and the waits for `ACTIVE` and for deletion.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, IndexStatus, KeySchemaElement, KeyType, ProjectionType,
    ProvisionedThroughput, SseSpecification, SseStatus, SseType, TableDescription, TableStatus,
    Tag, TimeToLiveStatus,
};
use ironbark_core::reconcile::AwsError;
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Tags};

use super::{
    client, is_not_found, AttributeType, Billing, GsiSpec, KeyAttribute, ObservedGsi,
    ObservedKeyAttribute, ObservedTable, Projection, TableSpec, Throughput, KIND, TABLE_TIMEOUT,
};
use crate::error::DatabaseError;

pub(super) fn build_err(
    name: &str,
) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> DatabaseError + '_ {
    // A required field left unset: a bug in the request's construction, not an AWS answer.
    move |e| DatabaseError::invalid(KIND, name, format!("cannot build the request: {e}"))
}

pub(super) fn key_schema(
    pk: &KeyAttribute,
    sk: Option<&KeyAttribute>,
    name: &str,
) -> Result<Vec<KeySchemaElement>, DatabaseError> {
    let mut out = vec![KeySchemaElement::builder()
        .attribute_name(&pk.name)
        .key_type(KeyType::Hash)
        .build()
        .map_err(build_err(name))?];
    if let Some(sk) = sk {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(&sk.name)
                .key_type(KeyType::Range)
                .build()
                .map_err(build_err(name))?,
        );
    }
    Ok(out)
}

/// Attribute definitions of the table keys plus the given indexes, deduplicated.
pub(super) fn attribute_definitions<'a>(
    spec: &'a TableSpec,
    gsis: impl IntoIterator<Item = &'a GsiSpec>,
    name: &str,
) -> Result<Vec<AttributeDefinition>, DatabaseError> {
    let mut attrs: BTreeMap<&str, AttributeType> = BTreeMap::new();
    attrs.insert(&spec.partition_key.name, spec.partition_key.kind);
    if let Some(sk) = &spec.sort_key {
        attrs.insert(&sk.name, sk.kind);
    }
    for g in gsis {
        attrs.insert(&g.partition_key.name, g.partition_key.kind);
        if let Some(sk) = &g.sort_key {
            attrs.insert(&sk.name, sk.kind);
        }
    }
    attrs
        .into_iter()
        .map(|(n, t)| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(t.sdk())
                .build()
                .map_err(build_err(name))
        })
        .collect()
}

pub(super) fn sdk_projection(p: &Projection) -> aws_sdk_dynamodb::types::Projection {
    let b = aws_sdk_dynamodb::types::Projection::builder();
    match p {
        Projection::All => b.projection_type(ProjectionType::All),
        Projection::KeysOnly => b.projection_type(ProjectionType::KeysOnly),
        Projection::Include(attrs) => b
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attrs.clone())),
    }
    .build()
}

pub(super) fn sdk_throughput(
    t: Throughput,
    name: &str,
) -> Result<ProvisionedThroughput, DatabaseError> {
    ProvisionedThroughput::builder()
        .read_capacity_units(t.read)
        .write_capacity_units(t.write)
        .build()
        .map_err(build_err(name))
}

pub(super) fn sse_spec(kms_key_arn: Option<&str>) -> SseSpecification {
    match kms_key_arn {
        Some(key) => SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build(),
        None => SseSpecification::builder().enabled(false).build(),
    }
}

pub(super) fn ddb_tags(tags: &Tags, name: &str) -> Result<Vec<Tag>, DatabaseError> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
        .into_iter()
        .map(|t| t.map_err(build_err(name)))
        .collect()
}

fn observed_key(
    schema: &[KeySchemaElement],
    types: &BTreeMap<String, AttributeType>,
    kind: &KeyType,
) -> Option<ObservedKeyAttribute> {
    schema
        .iter()
        .find(|k| k.key_type() == kind)
        .map(|k| ObservedKeyAttribute {
            name: k.attribute_name().to_owned(),
            kind: types.get(k.attribute_name()).copied(),
        })
}

fn throughput_of(
    t: Option<&aws_sdk_dynamodb::types::ProvisionedThroughputDescription>,
) -> Option<Throughput> {
    let t = t?;
    let (read, write) = (t.read_capacity_units()?, t.write_capacity_units()?);
    (read > 0 || write > 0).then_some(Throughput { read, write })
}

fn projection_of(p: Option<&aws_sdk_dynamodb::types::Projection>) -> Projection {
    match p.and_then(|p| p.projection_type()) {
        Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
        Some(ProjectionType::Include) => Projection::Include(
            p.map(|p| p.non_key_attributes().to_vec())
                .unwrap_or_default(),
        ),
        _ => Projection::All,
    }
}

/// The table's own description, without TTL, PITR and tags.
fn observed_of(t: &TableDescription, name: &str) -> ObservedTable {
    let types: BTreeMap<String, AttributeType> = t
        .attribute_definitions()
        .iter()
        .filter_map(|a| {
            Some((
                a.attribute_name().to_owned(),
                AttributeType::from_sdk(a.attribute_type())?,
            ))
        })
        .collect();
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    let billing = if on_demand {
        Billing::OnDemand
    } else {
        Billing::Provisioned(
            throughput_of(t.provisioned_throughput()).unwrap_or(Throughput { read: 0, write: 0 }),
        )
    };
    let sse = t.sse_description().filter(|s| {
        matches!(
            s.status(),
            Some(SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating)
        ) && s.sse_type() == Some(&SseType::Kms)
    });
    ObservedTable {
        name: name.to_owned(),
        arn: t.table_arn().unwrap_or_default().to_owned(),
        status: t
            .table_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        partition_key: observed_key(t.key_schema(), &types, &KeyType::Hash).unwrap_or(
            ObservedKeyAttribute {
                name: String::new(),
                kind: None,
            },
        ),
        sort_key: observed_key(t.key_schema(), &types, &KeyType::Range),
        billing,
        global_secondary_indexes: t
            .global_secondary_indexes()
            .iter()
            .map(|g| ObservedGsi {
                name: g.index_name().unwrap_or_default().to_owned(),
                partition_key: observed_key(g.key_schema(), &types, &KeyType::Hash).unwrap_or(
                    ObservedKeyAttribute {
                        name: String::new(),
                        kind: None,
                    },
                ),
                sort_key: observed_key(g.key_schema(), &types, &KeyType::Range),
                projection: projection_of(g.projection()),
                throughput: throughput_of(g.provisioned_throughput()),
                status: g
                    .index_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        ttl_attribute: None,
        point_in_time_recovery: false,
        kms_key_arn: sse.and_then(|s| s.kms_master_key_arn().map(str::to_owned)),
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        stream_arn: t.latest_stream_arn().map(str::to_owned),
        tags: BTreeMap::new(),
    }
}

pub(super) async fn describe(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<TableDescription>, DatabaseError> {
    match ddb.describe_table().table_name(name).send().await {
        Ok(out) => Ok(out.table),
        Err(e) if e.as_service_error().is_some_and(is_not_found) => Ok(None),
        Err(e) => Err(DatabaseError::from(AwsError::new("read", KIND, name, e))),
    }
}

async fn read_tags(
    ddb: &aws_sdk_dynamodb::Client,
    arn: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, DatabaseError> {
    let mut tags = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(AwsError::map("read the tags of", KIND, name))?;
        for t in out.tags() {
            tags.insert(t.key().to_owned(), t.value().to_owned());
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(tags);
        }
    }
}

/// Reads the table `name` with its TTL, point-in-time recovery and tags; `None` when it does
/// not exist.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn find_table(ctx: &Context, name: &str) -> Result<Option<ObservedTable>, DatabaseError> {
    find(&client(ctx), name).await
}

pub(super) async fn find(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<ObservedTable>, DatabaseError> {
    let Some(t) = describe(ddb, name).await? else {
        return Ok(None);
    };
    let mut obs = observed_of(&t, name);
    if obs.status == TableStatus::Deleting.as_str() {
        return Ok(Some(obs));
    }
    obs.tags = read_tags(ddb, &obs.arn, name).await?;
    let ttl = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(AwsError::map("read the TTL of", KIND, name))?;
    obs.ttl_attribute = ttl
        .time_to_live_description()
        .filter(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
        })
        .and_then(|d| d.attribute_name().map(str::to_owned));
    let backups = ddb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(AwsError::map("read the backups of", KIND, name))?;
    obs.point_in_time_recovery = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    Ok(Some(obs))
}

/// Waits until the table and all its indexes are `ACTIVE`.
///
/// # Errors
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) on a terminal status (inaccessible key, archived, deleted), a
/// timeout or a failed poll.
pub async fn wait_active(ctx: &Context, logical_id: &str, name: &str) -> Result<(), DatabaseError> {
    let ddb = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            let Some(t) = describe(&ddb, name).await? else {
                return Ok::<_, DatabaseError>(Poll::Failed("deleted".into()));
            };
            let status = t.table_status().cloned();
            let busy_index = t
                .global_secondary_indexes()
                .iter()
                .find(|g| g.index_status() != Some(&IndexStatus::Active));
            Ok(match (status, busy_index) {
                (Some(TableStatus::Active), None) => Poll::Ready(()),
                (Some(TableStatus::Active), Some(g)) => Poll::Pending(format!(
                    "index {} {}",
                    g.index_name().unwrap_or_default(),
                    g.index_status()
                        .map(IndexStatus::as_str)
                        .unwrap_or_default()
                )),
                (
                    Some(
                        s @ (TableStatus::InaccessibleEncryptionCredentials
                        | TableStatus::Archived
                        | TableStatus::Deleting),
                    ),
                    _,
                ) => Poll::Failed(s.as_str().to_owned()),
                (Some(s), _) => Poll::Pending(s.as_str().to_owned()),
                (None, _) => Poll::Pending("unknown".into()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}

pub(super) async fn wait_gone(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<(), DatabaseError> {
    let ddb = client(ctx);
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            Ok::<_, DatabaseError>(match describe(&ddb, name).await? {
                None => Poll::Ready(()),
                Some(t) => Poll::Pending(
                    t.table_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}

/// The status of a table still on its way (the table, or one of its indexes, not yet
/// `ACTIVE`), or `None` when it is usable.
pub(super) fn busy_status(obs: &ObservedTable) -> Option<String> {
    if obs.status != TableStatus::Active.as_str() {
        return Some(obs.status.clone());
    }
    obs.global_secondary_indexes
        .iter()
        .find(|g| g.status != IndexStatus::Active.as_str())
        .map(|g| format!("index {} {}", g.name, g.status))
}
