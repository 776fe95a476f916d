//! Subnets: one per tier and AZ, CIDRs carved by [`ironbark_core::cidr`]; on the reconcile
//! kit, every subnet of the stack read by one `DescribeSubnets`.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use ipnet::Ipv4Net;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, AwsError, Batch, Diff, Resource, ResourceError, Status};
use ironbark_core::tags::{TagDiff, Tags};
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

const KIND: &str = "subnet";

/// The desired subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetSpec {
    /// Logical id (`networking/subnet/private/us-east-1a`).
    pub logical_id: String,
    /// The tier (`private`).
    pub tier: String,
    /// The availability zone name.
    pub az: String,
    /// Its CIDR.
    pub cidr: Ipv4Net,
    /// `MapPublicIpOnLaunch`.
    pub map_public_ip: bool,
}

/// The subnet as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubnet {
    /// `subnet-...`.
    pub id: String,
    /// Its CIDR.
    pub cidr: String,
    /// Its AZ.
    pub az: String,
    /// `MapPublicIpOnLaunch`.
    pub map_public_ip: bool,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// What differs between a subnet and its spec; the kit's `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubnetDiff {
    /// The subnet does not exist: (CIDR, AZ) to create it with.
    pub create: Option<(String, String)>,
    /// `MapPublicIpOnLaunch` to set: (observed, desired); `None` observed for a create.
    pub map_public_ip: Option<(Option<bool>, bool)>,
    /// Tags to set and remove (an existing subnet; a create carries its tags).
    pub tags: TagDiff,
    /// A CIDR or AZ change, refused: (field, reason).
    pub refusal: Option<(String, String)>,
}

impl Diff for SubnetDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none()
            && self.map_public_ip.is_none()
            && self.tags.is_empty()
            && self.refusal.is_none()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields = Vec::new();
        if let Some((cidr, az)) = &self.create {
            fields.push(FieldDiff::set("cidr_block", cidr));
            fields.push(FieldDiff::set("availability_zone", az));
        }
        match self.map_public_ip {
            Some((None, new)) => fields.push(FieldDiff::set("map_public_ip_on_launch", new)),
            Some((Some(old), new)) => fields.push(FieldDiff::new(
                "map_public_ip_on_launch",
                Some(old),
                Some(new),
            )),
            None => {}
        }
        fields.extend(ec2::tag_fields(&self.tags));
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// The diff for a subnet with its desired `tags` (including `Name`). Pure.
#[must_use]
pub fn diff(spec: &SubnetSpec, tags: &Tags, observed: Option<&ObservedSubnet>) -> SubnetDiff {
    let Some(o) = observed else {
        return SubnetDiff {
            create: Some((spec.cidr.to_string(), spec.az.clone())),
            map_public_ip: Some((None, spec.map_public_ip)),
            ..SubnetDiff::default()
        };
    };
    let refusal = [
        ("cidr_block", &o.cidr, &spec.cidr.to_string()),
        ("availability_zone", &o.az, &spec.az),
    ]
    .into_iter()
    .find(|(_, old, new)| old != new)
    .map(|(field, old, new)| {
        (
            format!("{field} ({old} -> {new})"),
            "a subnet's CIDR and AZ cannot change in place; replacing it would disrupt everything \
             in it. Keep the tier's slot and prefix, or destroy the environment first"
                .to_owned(),
        )
    });
    SubnetDiff {
        create: None,
        map_public_ip: (o.map_public_ip != spec.map_public_ip)
            .then_some((Some(o.map_public_ip), spec.map_public_ip)),
        tags: tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        refusal,
    }
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &SubnetSpec, tags: &Tags, observed: Option<&ObservedSubnet>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}

fn observed_of(s: &aws_sdk_ec2::types::Subnet) -> ObservedSubnet {
    ObservedSubnet {
        id: s.subnet_id().unwrap_or_default().to_owned(),
        cidr: s.cidr_block().unwrap_or_default().to_owned(),
        az: s.availability_zone().unwrap_or_default().to_owned(),
        map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
        tags: ec2::tag_map(s.tags()),
    }
}

/// Finds the subnet by its `ironbark:id` tag.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<ObservedSubnet>, NetworkingError> {
    let found = ec2::client(ctx)
        .describe_subnets()
        .set_filters(Some(ec2::by_id(ctx, logical_id)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", KIND, logical_id))?;
    Ok(ec2::at_most_one(logical_id, found, |s| {
        s.subnet_id().unwrap_or_default().to_owned()
    })?
    .map(|s| observed_of(&s)))
}

async fn set_map_public_ip(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    value: bool,
) -> Result<(), NetworkingError> {
    ec2::when_visible(|| {
        ec2.modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
            .send()
    })
    .await
    .map_err(AwsError::map("set map_public_ip_on_launch of", KIND, id))?;
    Ok(())
}

/// One subnet to converge in a VPC (`None`: the VPC is yet to be created, plan only), with
/// its `Name` tag.
struct Subnet<'a> {
    spec: &'a SubnetSpec,
    vpc_id: Option<&'a str>,
    name: String,
}

impl<'a> Subnet<'a> {
    fn new(ctx: &Context, vpc_id: Option<&'a str>, spec: &'a SubnetSpec) -> Self {
        Self {
            spec,
            vpc_id,
            name: ec2::name_tag(ctx, &spec.logical_id),
        }
    }
}

impl Resource for Subnet<'_> {
    type Observed = ObservedSubnet;
    type Diff = SubnetDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.spec.logical_id.clone()
    }

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedSubnet>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedSubnet>, NetworkingError> {
        match self.vpc_id {
            Some(_) => observe(ctx, &self.spec.logical_id).await,
            None => Ok(None),
        }
    }

    fn tags<'o>(&self, observed: &'o ObservedSubnet) -> Option<&'o BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedSubnet>) -> SubnetDiff {
        diff(self.spec, &tags.with("Name", &self.name), observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedSubnet>,
        diff: &SubnetDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let id = match observed {
            Some(o) => {
                ec2::apply_tags(&ec2, ctx, &o.id, &diff.tags).await?;
                o.id.clone()
            }
            None => {
                let vpc = ec2::vpc_or_missing(KIND, &self.spec.logical_id, self.vpc_id)?;
                let out = ec2::when_visible(|| {
                    ec2.create_subnet()
                        .vpc_id(vpc)
                        .cidr_block(self.spec.cidr.to_string())
                        .availability_zone(&self.spec.az)
                        .tag_specifications(ec2::tag_spec(
                            ctx,
                            &self.spec.logical_id,
                            ResourceType::Subnet,
                        ))
                        .send()
                })
                .await
                .map_err(AwsError::map("create", KIND, &self.spec.logical_id))?;
                out.subnet()
                    .and_then(|s| s.subnet_id())
                    .ok_or_else(|| ResourceError::Missing {
                        kind: KIND,
                        name: self.spec.logical_id.clone(),
                        what: "subnet id",
                    })?
                    .to_owned()
            }
        };
        // New subnets do not map public IPs: set it only when wanted.
        match diff.map_public_ip {
            Some((Some(_), value)) | Some((None, value @ true)) => {
                set_map_public_ip(&ec2, &id, value).await?;
            }
            _ => {}
        }
        Ok(id)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedSubnet) -> String {
        observed.id.clone()
    }
}

/// Every subnet of the stack in one paginated, tag-filtered `DescribeSubnets`.
impl Batch for Subnet<'_> {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<ObservedSubnet>>, NetworkingError> {
        if resources.iter().all(|r| r.vpc_id.is_none()) {
            return Ok(resources.iter().map(|_| None).collect());
        }
        let found = ec2::client(ctx)
            .describe_subnets()
            .set_filters(Some(ec2::stack_filters(ctx)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(AwsError::map("list subnets of", "stack", ctx.stack()))?;
        let mut found = ec2::ByLogicalId::new(found, aws_sdk_ec2::types::Subnet::tags);
        resources
            .iter()
            .map(|r| {
                Ok(found
                    .take(&r.spec.logical_id, |s| {
                        s.subnet_id().unwrap_or_default().to_owned()
                    })?
                    .filter(|_| r.vpc_id.is_some())
                    .map(|s| observed_of(&s)))
            })
            .collect()
    }
}

/// Ensures the subnet exists in `vpc_id` (`None`: the VPC is yet to be created; plan only).
///
/// # Idempotency
/// Found by its `ironbark:id` tag, carried by `CreateSubnet` itself. A crash before the
/// attribute change leaves a subnet the next run updates.
///
/// # Errors
/// AWS errors, duplicates. A CIDR or AZ change is a [`Change::Refused`] in a plan (an error in
/// apply mode): nothing is touched.
pub async fn ensure_subnet(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &SubnetSpec,
) -> Result<Outcome, NetworkingError> {
    Ok(Outcome::of(
        reconcile::converge(ctx, &Subnet::new(ctx, vpc_id, spec)).await?,
    ))
}

/// [`ensure_subnet`] for every subnet of the stack, with one `DescribeSubnets` for all of them.
///
/// # Idempotency
/// As [`ensure_subnet`].
///
/// # Errors
/// As [`ensure_subnet`]; the first error after the others finish.
pub async fn ensure_subnets(
    ctx: &Context,
    vpc_id: Option<&str>,
    specs: &[SubnetSpec],
) -> Result<Vec<Outcome>, NetworkingError> {
    let subnets: Vec<Subnet<'_>> = specs.iter().map(|s| Subnet::new(ctx, vpc_id, s)).collect();
    Ok(ec2::outcomes(reconcile::converge_all(ctx, &subnets).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SubnetSpec {
        SubnetSpec {
            logical_id: "networking/subnet/public/us-east-1a".into(),
            tier: "public".into(),
            az: "us-east-1a".into(),
            cidr: "10.0.0.0/24".parse().unwrap(),
            map_public_ip: false,
        }
    }

    #[test]
    fn decisions() {
        let tags = Tags::standard("p", "dev", "o", "c", "s");
        assert!(matches!(
            decide(&spec(), &tags, None),
            Change::Create { .. }
        ));
        let mut o = ObservedSubnet {
            id: "subnet-1".into(),
            cidr: "10.0.0.0/24".into(),
            az: "us-east-1a".into(),
            map_public_ip: false,
            tags: tags.as_map().clone(),
        };
        assert_eq!(decide(&spec(), &tags, Some(&o)), Change::NoOp);
        o.map_public_ip = true;
        assert!(
            matches!(decide(&spec(), &tags, Some(&o)), Change::Update { fields } if fields[0].field == "map_public_ip_on_launch")
        );
        o.az = "us-east-1b".into();
        assert!(matches!(
            decide(&spec(), &tags, Some(&o)),
            Change::Refused { .. }
        ));
    }
}
