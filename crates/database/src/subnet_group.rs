//! DB subnet groups: the subnets (of the database tier) an instance or cluster may live in.
//! The subnets and the description change in place; the group is deleted only by destroy,
//! after everything that uses it.

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::rds;

const KIND: &str = "DB subnet group";

/// The desired subnet group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetGroupSpec {
    /// Logical id (`database/subnet-group`); the physical name derives from it.
    pub logical_id: String,
    /// Description.
    pub description: String,
    /// Subnet ids, at least two AZs' worth (AWS requires two AZs).
    pub subnet_ids: Vec<String>,
}

/// A subnet group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubnetGroup {
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

/// What [`ensure_subnet_group`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SubnetGroupOutcome {
    /// The group's name (what instances and clusters reference).
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The physical name of the subnet group `logical_id` (RDS stores it lower-cased).
#[must_use]
pub fn name_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::RDS_IDENTIFIER)
        .to_ascii_lowercase()
}

/// The change for a subnet group. Pure.
#[must_use]
pub fn decide(
    spec: &SubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedSubnetGroup>,
) -> Change {
    let mut want = spec.subnet_ids.clone();
    want.sort();
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("subnet_ids", want.join(",")),
                FieldDiff::set("description", &spec.description),
            ],
        };
    };
    let mut fields = Vec::new();
    if obs.subnet_ids != want {
        fields.push(FieldDiff::new(
            "subnet_ids",
            Some(obs.subnet_ids.join(",")),
            Some(want.join(",")),
        ));
    }
    if obs.description != spec.description {
        fields.push(FieldDiff::new(
            "description",
            Some(&obs.description),
            Some(&spec.description),
        ));
    }
    fields.extend(rds::tag_fields(tags, &obs.tags));
    Change::update_if_any(fields)
}

async fn find(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Result<Option<ObservedSubnetGroup>, DatabaseError> {
    let out = match rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => return Ok(None),
        Err(e) => return Err(DatabaseError::from(AwsError::new("read", KIND, name, e))),
    };
    let Some(group) = out.db_subnet_groups().first() else {
        return Ok(None);
    };
    let arn = group.db_subnet_group_arn().unwrap_or_default().to_owned();
    let tags = rds
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", KIND, name))?;
    let mut subnet_ids: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    subnet_ids.sort();
    Ok(Some(ObservedSubnetGroup {
        name: name.to_owned(),
        arn,
        description: group
            .db_subnet_group_description()
            .unwrap_or_default()
            .to_owned(),
        subnet_ids,
        tags: rds::tag_map(tags.tag_list()),
    }))
}

/// Creates the subnet group, or brings its subnets, description and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; a converged group costs two reads and no write. A group
/// of that name carrying another stack's tags is refused, never adopted.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails, [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a foreign group.
pub async fn ensure_subnet_group(
    ctx: &Context,
    spec: &SubnetGroupSpec,
) -> Result<SubnetGroupOutcome, DatabaseError> {
    let client = rds::client(ctx);
    let name = name_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("rds").await;
    let observed = find(&client, &name).await?;
    if let Some(obs) = &observed {
        if !rds::owned_by(&obs.tags, ctx, &spec.logical_id) {
            return Err(rds::foreign(KIND, &name, &spec.logical_id));
        }
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        match &observed {
            None => {
                client
                    .create_db_subnet_group()
                    .db_subnet_group_name(&name)
                    .db_subnet_group_description(&spec.description)
                    .set_subnet_ids(Some(spec.subnet_ids.clone()))
                    .set_tags(Some(rds::rds_tags(&tags)))
                    .send()
                    .await
                    .map_err(AwsError::map("create", KIND, &name))?;
            }
            Some(obs) => {
                let mut want = spec.subnet_ids.clone();
                want.sort();
                if obs.subnet_ids != want || obs.description != spec.description {
                    client
                        .modify_db_subnet_group()
                        .db_subnet_group_name(&name)
                        .db_subnet_group_description(&spec.description)
                        .set_subnet_ids(Some(want))
                        .send()
                        .await
                        .map_err(AwsError::map("modify", KIND, &name))?;
                }
                rds::apply_tags(&client, &obs.arn, &tags, &obs.tags, KIND, &name).await?;
            }
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(SubnetGroupOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
    })
}

/// Deletes the subnet group of `logical_id` (after the instances and clusters that use it).
///
/// # Idempotency
/// An absent group is a no-op; a group carrying another stack's tags is left alone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_subnet_group(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, DatabaseError> {
    let client = rds::client(ctx);
    let name = name_of(ctx, logical_id);
    let observed = find(&client, &name).await?;
    let change = match &observed {
        Some(obs) if rds::owned_by(&obs.tags, ctx, logical_id) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        match client
            .delete_db_subnet_group()
            .db_subnet_group_name(&name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => {}
            Err(e) => return Err(DatabaseError::from(AwsError::new("delete", KIND, &name, e))),
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SubnetGroupSpec {
        SubnetGroupSpec {
            logical_id: "database/subnet-group".into(),
            description: "db".into(),
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
        }
    }

    #[test]
    fn converged_group_is_a_noop_and_subnet_order_does_not_matter() {
        let tags = Tags::standard("p", "dev", "o", "c", "s").with_id("database/subnet-group");
        let obs = ObservedSubnetGroup {
            name: "s-dev-db".into(),
            arn: "arn".into(),
            description: "db".into(),
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            tags: tags.as_map().clone(),
        };
        assert_eq!(decide(&spec(), &tags, Some(&obs)), Change::NoOp);
        let mut moved = obs.clone();
        moved.subnet_ids = vec!["subnet-a".into(), "subnet-c".into()];
        match decide(&spec(), &tags, Some(&moved)) {
            Change::Update { fields } => {
                assert_eq!(fields.len(), 1);
                assert_eq!(fields[0].field, "subnet_ids");
                assert_eq!(fields[0].new.as_deref(), Some("subnet-a,subnet-b"));
            }
            other => panic!("{other:?}"),
        }
    }
}
