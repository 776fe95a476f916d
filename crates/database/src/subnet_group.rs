//! DB subnet groups: the subnets (of the database tier) an instance or cluster may live in.
//! The subnets and the description change in place; the group is deleted only by destroy,
//! after everything that uses it.

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

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

/// What differs between a subnet group (DB or cache) and its spec; apply acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubnetGroupDiff {
    /// The group does not exist: it is created with the desired subnets and description.
    pub create: bool,
    /// Subnets, sorted: (observed, desired).
    pub subnet_ids: Option<(Vec<String>, Vec<String>)>,
    /// Description: (observed, desired).
    pub description: Option<(String, String)>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering.
    tag_fields: Vec<FieldDiff>,
}

impl SubnetGroupDiff {
    /// The diff of a group with `subnet_ids` (any order) and `description` against what was
    /// found (its sorted subnets, description and tags). Pure.
    #[must_use]
    pub fn of(
        subnet_ids: &[String],
        description: &str,
        tags: &Tags,
        observed: Option<(&[String], &str, &BTreeMap<String, String>)>,
    ) -> Self {
        let mut want = subnet_ids.to_vec();
        want.sort();
        want.dedup();
        let Some((have, have_description, have_tags)) = observed else {
            return Self {
                create: true,
                subnet_ids: Some((Vec::new(), want)),
                description: Some((String::new(), description.to_owned())),
                ..Self::default()
            };
        };
        Self {
            create: false,
            subnet_ids: (have != want.as_slice()).then(|| (have.to_vec(), want)),
            description: (have_description != description)
                .then(|| (have_description.to_owned(), description.to_owned())),
            tags: tags.diff(have_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            tag_fields: tags.field_diffs(have_tags),
        }
    }

    /// Whether the subnets or the description change (one modify call sets both).
    #[must_use]
    pub fn modifies(&self) -> bool {
        self.subnet_ids.is_some() || self.description.is_some()
    }

    /// The desired subnets, sorted, when they change.
    #[must_use]
    pub fn desired_subnets(&self) -> Option<&[String]> {
        self.subnet_ids.as_ref().map(|(_, want)| want.as_slice())
    }
}

impl Diff for SubnetGroupDiff {
    fn is_empty(&self) -> bool {
        !self.create && !self.modifies() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        if self.create {
            let (_, want) = self.subnet_ids.clone().unwrap_or_default();
            let (_, description) = self.description.clone().unwrap_or_default();
            return vec![
                FieldDiff::set("subnet_ids", want.join(",")),
                FieldDiff::set("description", description),
            ];
        }
        let mut fields = Vec::new();
        if let Some((have, want)) = &self.subnet_ids {
            fields.push(FieldDiff::new(
                "subnet_ids",
                Some(have.join(",")),
                Some(want.join(",")),
            ));
        }
        if let Some((have, want)) = &self.description {
            fields.push(FieldDiff::new("description", Some(have), Some(want)));
        }
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }
}

/// The diff for a subnet group. Pure.
#[must_use]
pub fn diff(
    spec: &SubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedSubnetGroup>,
) -> SubnetGroupDiff {
    SubnetGroupDiff::of(
        &spec.subnet_ids,
        &spec.description,
        tags,
        observed.map(|o| (o.subnet_ids.as_slice(), o.description.as_str(), &o.tags)),
    )
}

/// The change for a subnet group. Pure.
#[must_use]
pub fn decide(
    spec: &SubnetGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedSubnetGroup>,
) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
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
    let converged = reconcile::converge(ctx, spec).await?;
    Ok(SubnetGroupOutcome {
        name: converged
            .output
            .into_value()
            .unwrap_or_else(|| spec.name(ctx)),
        change: converged.change,
    })
}

impl Resource for SubnetGroupSpec {
    type Observed = ObservedSubnetGroup;
    type Diff = SubnetGroupDiff;
    type Output = String;
    type Error = DatabaseError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "rds";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, ctx: &Context) -> String {
        name_of(ctx, &self.logical_id)
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedSubnetGroup>, DatabaseError> {
        find(&rds::client(ctx), &self.name(ctx)).await
    }

    fn tags<'a>(&self, observed: &'a ObservedSubnetGroup) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedSubnetGroup>) -> SubnetGroupDiff {
        diff(self, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedSubnetGroup>,
        diff: &SubnetGroupDiff,
    ) -> Result<String, DatabaseError> {
        let client = rds::client(ctx);
        let name = self.name(ctx);
        match observed {
            None => {
                client
                    .create_db_subnet_group()
                    .db_subnet_group_name(&name)
                    .db_subnet_group_description(&self.description)
                    .set_subnet_ids(Some(self.subnet_ids.clone()))
                    .set_tags(Some(rds::rds_tags(tags)))
                    .send()
                    .await
                    .map_err(AwsError::map("create", KIND, &name))?;
            }
            Some(obs) => {
                if diff.modifies() {
                    // The modify call names the whole group: its subnets and description.
                    let subnets = diff
                        .desired_subnets()
                        .map_or_else(|| obs.subnet_ids.clone(), <[String]>::to_vec);
                    client
                        .modify_db_subnet_group()
                        .db_subnet_group_name(&name)
                        .db_subnet_group_description(&self.description)
                        .set_subnet_ids(Some(subnets))
                        .send()
                        .await
                        .map_err(AwsError::map("modify", KIND, &name))?;
                }
                rds::write_tags(&client, &obs.arn, &diff.tags, KIND, &name).await?;
            }
        }
        Ok(name)
    }

    fn output(&self, ctx: &Context, _observed: &ObservedSubnetGroup) -> String {
        self.name(ctx)
    }
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
