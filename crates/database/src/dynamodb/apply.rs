//! Acting on a table's diff: the create, then the in-place writes in the order AWS allows
//! them (one index per `UpdateTable`, waiting for `ACTIVE` between steps).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    BillingMode, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, PointInTimeRecoverySpecification,
    TableStatus, TimeToLiveSpecification, UpdateGlobalSecondaryIndexAction,
};
use ironbark_core::reconcile::{AwsError, Resource, Status};
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::{Context, Tags};

use super::diff::{self, IndexChange, TableDiff, TableUpdate};
use super::sdk::{
    attribute_definitions, build_err, busy_status, ddb_tags, describe, find, key_schema,
    sdk_projection, sdk_throughput, sse_spec, wait_active,
};
use super::{
    client, is_in_use, table_name_of, Billing, GsiSpec, ObservedTable, TableIds, TableSpec, KIND,
    TABLE_TIMEOUT,
};
use crate::error::DatabaseError;

impl Resource for TableSpec {
    type Observed = ObservedTable;
    type Diff = TableDiff;
    type Output = TableIds;
    type Error = DatabaseError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "dynamodb";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, ctx: &Context) -> String {
        table_name_of(ctx, &self.logical_id)
    }

    /// Reads the table. One being deleted is refused here, in plan mode too: nothing can be
    /// planned on it until the deletion ends.
    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedTable>, DatabaseError> {
        let name = self.name(ctx);
        let found = find(&client(ctx), &name).await?;
        if found
            .as_ref()
            .is_some_and(|o| o.status == TableStatus::Deleting.as_str())
        {
            return Err(DatabaseError::refused(
                KIND,
                &name,
                "it is being deleted; wait for the deletion to finish, then deploy again",
            ));
        }
        Ok(found)
    }

    fn tags<'a>(&self, observed: &'a ObservedTable) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    /// Ready when the table and every index are `ACTIVE`; a lost KMS key or an archived table
    /// does not recover by waiting.
    fn status(&self, observed: &ObservedTable) -> Status {
        let terminal = [
            TableStatus::InaccessibleEncryptionCredentials.as_str(),
            TableStatus::Archived.as_str(),
        ];
        if terminal.contains(&observed.status.as_str()) {
            return Status::Failed(observed.status.clone());
        }
        busy_status(observed).map_or(Status::Ready, Status::Pending)
    }

    fn wait_timeout(&self) -> Option<Duration> {
        Some(TABLE_TIMEOUT)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedTable>) -> TableDiff {
        diff::diff(self, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedTable>,
        diff: &TableDiff,
    ) -> Result<TableIds, DatabaseError> {
        let ddb = client(ctx);
        let name = self.name(ctx);
        let (obs, changes) = match (observed, diff) {
            (Some(obs), TableDiff::Update(u)) => (obs.clone(), u.clone()),
            _ => {
                // What CreateTable cannot set (TTL, point-in-time recovery) is the diff of
                // the new table, applied once it is `ACTIVE`.
                create(&ddb, self, &name, tags).await?;
                wait_active(ctx, &self.logical_id, &name).await?;
                let obs = find(&ddb, &name)
                    .await?
                    .ok_or_else(|| DatabaseError::missing(KIND, &name, "table after creation"))?;
                match diff::diff(self, tags, Some(&obs)) {
                    TableDiff::Update(u) => (obs, u),
                    _ => (obs, TableUpdate::default()),
                }
            }
        };
        update(ctx, &ddb, self, &obs, &changes).await?;
        Ok(self.output(ctx, &obs))
    }

    fn output(&self, _ctx: &Context, observed: &ObservedTable) -> TableIds {
        TableIds {
            arn: observed.arn.clone(),
            stream_arn: observed.stream_arn.clone(),
        }
    }
}

async fn create(
    ddb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let mut req = ddb
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attribute_definitions(
            spec,
            &spec.global_secondary_indexes,
            name,
        )?))
        .set_key_schema(Some(key_schema(
            &spec.partition_key,
            spec.sort_key.as_ref(),
            name,
        )?))
        .deletion_protection_enabled(spec.deletion_protection)
        .set_tags(Some(ddb_tags(tags, name)?));
    if spec.kms_key_arn.is_some() {
        req = req.sse_specification(sse_spec(spec.kms_key_arn.as_deref()));
    }
    req = match spec.billing {
        Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
        Billing::Provisioned(t) => req
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(sdk_throughput(t, name)?),
    };
    for g in &spec.global_secondary_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&g.name)
                .set_key_schema(Some(key_schema(
                    &g.partition_key,
                    g.sort_key.as_ref(),
                    name,
                )?))
                .projection(sdk_projection(&g.projection))
                .set_provisioned_throughput(
                    spec.gsi_throughput(g)
                        .map(|t| sdk_throughput(t, name))
                        .transpose()?,
                )
                .build()
                .map_err(build_err(name))?,
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        // A concurrent or interrupted run created it: waiting for it is what is left.
        Err(e) if e.as_service_error().is_some_and(is_in_use) => Ok(()),
        Err(e) => Err(DatabaseError::from(AwsError::new("create", KIND, name, e))),
    }
}

/// The writes `diff` says, in AWS's order: index removals (one per call), billing and index
/// capacity (one call), index creations (one per call), encryption, deletion protection, TTL,
/// point-in-time recovery, tags. Waits for `ACTIVE` after each step that needs it.
async fn update(
    ctx: &Context,
    ddb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    obs: &ObservedTable,
    diff: &TableUpdate,
) -> Result<(), DatabaseError> {
    let name = obs.name.as_str();
    let id = spec.logical_id.as_str();
    // 1. Remove the indexes no longer wanted, one per call.
    for c in &diff.indexes {
        let IndexChange::Remove(index) = c else {
            continue;
        };
        ddb.update_table()
            .table_name(name)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        DeleteGlobalSecondaryIndexAction::builder()
                            .index_name(index)
                            .build()
                            .map_err(build_err(name))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::map("remove an index from", KIND, name))?;
        wait_index_gone(ctx, ddb, id, name, index).await?;
    }
    // 2. Billing and capacity, with the capacity of the indexes that stay.
    let mut index_updates = Vec::new();
    for c in &diff.indexes {
        let IndexChange::Throughput {
            name: index,
            desired,
            ..
        } = c
        else {
            continue;
        };
        index_updates.push(
            GlobalSecondaryIndexUpdate::builder()
                .update(
                    UpdateGlobalSecondaryIndexAction::builder()
                        .index_name(index)
                        .provisioned_throughput(sdk_throughput(*desired, name)?)
                        .build()
                        .map_err(build_err(name))?,
                )
                .build(),
        );
    }
    if diff.billing.is_some() || !index_updates.is_empty() {
        let mut req = ddb.update_table().table_name(name);
        if let Some((_, billing)) = diff.billing {
            req = match billing {
                Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
                Billing::Provisioned(t) => req
                    .billing_mode(BillingMode::Provisioned)
                    .provisioned_throughput(sdk_throughput(t, name)?),
            };
        }
        req.set_global_secondary_index_updates(Some(index_updates).filter(|u| !u.is_empty()))
            .send()
            .await
            .map_err(AwsError::map("change the billing of", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 3. Create the new indexes, one per call; the attribute definitions cover every index
    //    that exists after the call.
    let added = |n: &str| {
        diff.indexes
            .iter()
            .any(|c| matches!(c, IndexChange::Add { name, .. } if name == n))
    };
    let mut present: Vec<&GsiSpec> = spec
        .global_secondary_indexes
        .iter()
        .filter(|g| !added(&g.name))
        .collect();
    for g in spec
        .global_secondary_indexes
        .iter()
        .filter(|g| added(&g.name))
    {
        present.push(g);
        ddb.update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attribute_definitions(
                spec,
                present.iter().copied(),
                name,
            )?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(
                        CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&g.name)
                            .set_key_schema(Some(key_schema(
                                &g.partition_key,
                                g.sort_key.as_ref(),
                                name,
                            )?))
                            .projection(sdk_projection(&g.projection))
                            .set_provisioned_throughput(
                                spec.gsi_throughput(g)
                                    .map(|t| sdk_throughput(t, name))
                                    .transpose()?,
                            )
                            .build()
                            .map_err(build_err(name))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::map("add an index to", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 4. Encryption key.
    if let Some((_, key)) = &diff.kms_key {
        ddb.update_table()
            .table_name(name)
            .sse_specification(sse_spec(key.as_deref()))
            .send()
            .await
            .map_err(AwsError::map("change the encryption of", KIND, name))?;
        wait_active(ctx, id, name).await?;
    }
    // 5. Deletion protection.
    if let Some((_, on)) = diff.deletion_protection {
        set_deletion_protection(ddb, name, on).await?;
    }
    // 6. TTL (a rename was refused by the diff): enable the wanted attribute, or disable the
    //    one there is.
    if let Some((have, want)) = &diff.ttl {
        if let Some((enabled, attribute)) = want
            .as_ref()
            .map(|w| (true, w))
            .or(have.as_ref().map(|h| (false, h)))
        {
            ddb.update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(enabled)
                        .attribute_name(attribute)
                        .build()
                        .map_err(build_err(name))?,
                )
                .send()
                .await
                .map_err(AwsError::map("change the TTL of", KIND, name))?;
        }
    }
    // 7. Point-in-time recovery.
    if let Some((_, on)) = diff.point_in_time_recovery {
        ddb.update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(on)
                    .build()
                    .map_err(build_err(name))?,
            )
            .send()
            .await
            .map_err(AwsError::map("change the backups of", KIND, name))?;
    }
    // 8. Tags.
    if !diff.tags.set.is_empty() {
        ddb.tag_resource()
            .resource_arn(&obs.arn)
            .set_tags(Some(ddb_tags(&diff.tags.to_set(), name)?))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, name))?;
    }
    if !diff.tags.remove.is_empty() {
        ddb.untag_resource()
            .resource_arn(&obs.arn)
            .set_tag_keys(Some(diff.tags.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, name))?;
    }
    Ok(())
}

pub(super) async fn set_deletion_protection(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    on: bool,
) -> Result<(), DatabaseError> {
    ddb.update_table()
        .table_name(name)
        .deletion_protection_enabled(on)
        .send()
        .await
        .map_err(AwsError::map(
            "change the deletion protection of",
            KIND,
            name,
        ))?;
    Ok(())
}

/// Waits until the index `index` is gone and the table is `ACTIVE` again.
async fn wait_index_gone(
    ctx: &Context,
    ddb: &aws_sdk_dynamodb::Client,
    logical_id: &str,
    name: &str,
    index: &str,
) -> Result<(), DatabaseError> {
    wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(TABLE_TIMEOUT),
        || async {
            let Some(t) = describe(ddb, name).await? else {
                return Ok::<_, DatabaseError>(Poll::Failed("deleted".into()));
            };
            let still = t
                .global_secondary_indexes()
                .iter()
                .any(|g| g.index_name() == Some(index));
            Ok(match t.table_status() {
                Some(TableStatus::Active) if !still => Poll::Ready(()),
                _ if still => Poll::Pending(format!("index {index} deleting")),
                Some(s) => Poll::Pending(s.as_str().to_owned()),
                None => Poll::Pending("unknown".into()),
            })
        },
    )
    .await
    .map_err(DatabaseError::wait(KIND, name))
}
