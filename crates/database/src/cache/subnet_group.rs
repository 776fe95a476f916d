//! The cache subnet group: the database tier's subnets a replication group lives in. Its
//! subnets and description change in place; it is deleted only by destroy, after the group.

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Resource, Status};
use ironbark_core::{Context, Tags};

use super::{client, ec_tags, read_tags, sorted, write_tags, SUBNET_KIND};
use crate::error::DatabaseError;
use crate::rds::{is_already_exists, is_not_found, owned_by};
use crate::subnet_group::SubnetGroupDiff;

/// The desired cache subnet group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSubnetGroupSpec {
    /// Logical id (`database/cache/subnet-group`); the physical name derives from it.
    pub logical_id: String,
    /// Description.
    pub description: String,
    /// Subnet ids (the database tier's subnets).
    pub subnet_ids: Vec<String>,
}

/// A cache subnet group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedCacheSubnetGroup {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Description.
    pub description: String,
    /// Subnet ids, sorted.
    pub subnet_ids: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_cache_subnet_group`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CacheSubnetGroupOutcome {
    /// The group's name (what the replication group references).
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The physical name of the cache subnet group `logical_id` (AWS stores it lower-cased).
#[must_use]
pub fn subnet_group_name_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::ELASTICACHE_ID)
}

/// The diff for a cache subnet group. Pure.
fn subnet_diff(
    spec: &CacheSubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedCacheSubnetGroup>,
) -> SubnetGroupDiff {
    SubnetGroupDiff::of(
        &spec.subnet_ids,
        &spec.description,
        tags,
        observed.map(|o| (o.subnet_ids.as_slice(), o.description.as_str(), &o.tags)),
    )
}

/// The change for a cache subnet group. Pure.
#[must_use]
pub fn decide_subnet_group(
    spec: &CacheSubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedCacheSubnetGroup>,
) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &subnet_diff(spec, tags, observed),
        &Status::Ready,
    )
}

pub(crate) async fn find_subnet_group(
    ec: &aws_sdk_elasticache::Client,
    name: &str,
) -> Result<Option<ObservedCacheSubnetGroup>, DatabaseError> {
    let out = match ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(is_not_found) => return Ok(None),
        Err(e) => {
            return Err(DatabaseError::from(AwsError::new(
                "read",
                SUBNET_KIND,
                name,
                e,
            )))
        }
    };
    let Some(group) = out.cache_subnet_groups().first() else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .ok_or_else(|| DatabaseError::missing(SUBNET_KIND, name, "ARN"))?
        .to_owned();
    let tags = read_tags(ec, &arn, SUBNET_KIND, name).await?;
    let subnet_ids: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    Ok(Some(ObservedCacheSubnetGroup {
        name: name.to_owned(),
        arn,
        description: group
            .cache_subnet_group_description()
            .unwrap_or_default()
            .to_owned(),
        subnet_ids: sorted(&subnet_ids),
        tags,
    }))
}

/// Creates the cache subnet group, or brings its subnets, description and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; a converged group costs two reads and no write. A group
/// of that name carrying another stack's tags is refused, never adopted. Tags are passed in
/// the create call, so a crash right after it leaves a group the next run recognises.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails, [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a foreign group.
pub async fn ensure_cache_subnet_group(
    ctx: &Context,
    spec: &CacheSubnetGroupSpec,
) -> Result<CacheSubnetGroupOutcome, DatabaseError> {
    let converged = reconcile::converge(ctx, spec).await?;
    Ok(CacheSubnetGroupOutcome {
        name: converged
            .output
            .into_value()
            .unwrap_or_else(|| spec.name(ctx)),
        change: converged.change,
    })
}

impl Resource for CacheSubnetGroupSpec {
    type Observed = ObservedCacheSubnetGroup;
    type Diff = SubnetGroupDiff;
    type Output = String;
    type Error = DatabaseError;
    const KIND: &'static str = SUBNET_KIND;
    const SERVICE: &'static str = "elasticache";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, ctx: &Context) -> String {
        subnet_group_name_of(ctx, &self.logical_id)
    }

    async fn observe(
        &self,
        ctx: &Context,
    ) -> Result<Option<ObservedCacheSubnetGroup>, DatabaseError> {
        find_subnet_group(&client(ctx), &self.name(ctx)).await
    }

    fn tags<'a>(
        &self,
        observed: &'a ObservedCacheSubnetGroup,
    ) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedCacheSubnetGroup>) -> SubnetGroupDiff {
        subnet_diff(self, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedCacheSubnetGroup>,
        diff: &SubnetGroupDiff,
    ) -> Result<String, DatabaseError> {
        let ec = client(ctx);
        let name = self.name(ctx);
        match observed {
            None => {
                match ec
                    .create_cache_subnet_group()
                    .cache_subnet_group_name(&name)
                    .cache_subnet_group_description(&self.description)
                    .set_subnet_ids(Some(self.subnet_ids.clone()))
                    .set_tags(Some(ec_tags(tags)))
                    .send()
                    .await
                {
                    Ok(_) => {}
                    // A concurrent run made it with the same tags (checked on the next run).
                    Err(e) if e.as_service_error().is_some_and(is_already_exists) => {}
                    Err(e) => return Err(AwsError::new("create", SUBNET_KIND, &name, e).into()),
                }
            }
            Some(obs) => {
                if diff.modifies() {
                    // The modify call names the whole group: its subnets and description.
                    let subnets = diff
                        .desired_subnets()
                        .map_or_else(|| obs.subnet_ids.clone(), <[String]>::to_vec);
                    ec.modify_cache_subnet_group()
                        .cache_subnet_group_name(&name)
                        .cache_subnet_group_description(&self.description)
                        .set_subnet_ids(Some(subnets))
                        .send()
                        .await
                        .map_err(AwsError::map("modify", SUBNET_KIND, &name))?;
                }
                write_tags(&ec, &obs.arn, &diff.tags, SUBNET_KIND, &name).await?;
            }
        }
        Ok(name)
    }

    fn output(&self, ctx: &Context, _observed: &ObservedCacheSubnetGroup) -> String {
        self.name(ctx)
    }
}

/// Deletes the cache subnet group of `logical_id` (after the groups that use it).
///
/// # Idempotency
/// An absent group is a no-op; a group carrying another stack's tags is left alone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_cache_subnet_group(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, DatabaseError> {
    let ec = client(ctx);
    let name = subnet_group_name_of(ctx, logical_id);
    let observed = find_subnet_group(&ec, &name).await?;
    let change = match &observed {
        Some(obs) if owned_by(&obs.tags, ctx, logical_id) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        match ec
            .delete_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(is_not_found) => {}
            Err(e) => {
                return Err(DatabaseError::from(AwsError::new(
                    "delete",
                    SUBNET_KIND,
                    &name,
                    e,
                )))
            }
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: SUBNET_KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}
