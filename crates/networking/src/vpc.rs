//! The VPC: CIDR, DNS support and hostnames, tags; on the reconcile kit.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use ipnet::Ipv4Net;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, AwsError, Diff, Resource, ResourceError, Status};
use ironbark_core::tags::{TagDiff, Tags};
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

const KIND: &str = "vpc";

/// The desired VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcSpec {
    /// Logical id (`networking/vpc`).
    pub logical_id: String,
    /// The primary IPv4 CIDR.
    pub cidr: Ipv4Net,
    /// `enableDnsSupport`.
    pub dns_support: bool,
    /// `enableDnsHostnames` (needed for private DNS of interface endpoints).
    pub dns_hostnames: bool,
}

/// The VPC as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedVpc {
    /// `vpc-...`.
    pub id: String,
    /// Its primary CIDR.
    pub cidr: String,
    /// `enableDnsSupport`.
    pub dns_support: bool,
    /// `enableDnsHostnames`.
    pub dns_hostnames: bool,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// What differs between the VPC and its spec; the kit's `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpcDiff {
    /// The VPC does not exist: the CIDR to create it with.
    pub create: Option<String>,
    /// `enableDnsSupport` to set: (observed, desired); `None` observed for a create.
    pub dns_support: Option<(Option<bool>, bool)>,
    /// `enableDnsHostnames` to set: (observed, desired); `None` observed for a create.
    pub dns_hostnames: Option<(Option<bool>, bool)>,
    /// Tags to set and remove (an existing VPC; a create carries its tags).
    pub tags: TagDiff,
    /// A CIDR change, refused: (field, reason).
    pub refusal: Option<(String, String)>,
}

impl Diff for VpcDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none()
            && self.dns_support.is_none()
            && self.dns_hostnames.is_none()
            && self.tags.is_empty()
            && self.refusal.is_none()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields: Vec<FieldDiff> = self
            .create
            .iter()
            .map(|c| FieldDiff::set("cidr_block", c))
            .collect();
        for (field, value) in [
            ("enable_dns_support", self.dns_support),
            ("enable_dns_hostnames", self.dns_hostnames),
        ] {
            match value {
                Some((None, new)) => fields.push(FieldDiff::set(field, new)),
                Some((Some(old), new)) => fields.push(FieldDiff::new(field, Some(old), Some(new))),
                None => {}
            }
        }
        fields.extend(ec2::tag_fields(&self.tags));
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// The diff for the VPC with its desired `tags` (including `Name`). Pure. A VPC to create
/// shows both DNS settings (AWS creates it with support on and hostnames off).
#[must_use]
pub fn diff(spec: &VpcSpec, tags: &Tags, observed: Option<&ObservedVpc>) -> VpcDiff {
    let Some(o) = observed else {
        return VpcDiff {
            create: Some(spec.cidr.to_string()),
            dns_support: Some((None, spec.dns_support)),
            dns_hostnames: Some((None, spec.dns_hostnames)),
            ..VpcDiff::default()
        };
    };
    if o.cidr != spec.cidr.to_string() {
        return VpcDiff {
            refusal: Some((
                format!("cidr_block ({} -> {})", o.cidr, spec.cidr),
                "a VPC's primary CIDR cannot change in place; everything in the VPC would be replaced. \
                 Destroy the environment first, or keep the old CIDR"
                    .to_owned(),
            )),
            ..VpcDiff::default()
        };
    }
    VpcDiff {
        create: None,
        dns_support: (o.dns_support != spec.dns_support)
            .then_some((Some(o.dns_support), spec.dns_support)),
        dns_hostnames: (o.dns_hostnames != spec.dns_hostnames)
            .then_some((Some(o.dns_hostnames), spec.dns_hostnames)),
        tags: tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        refusal: None,
    }
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &VpcSpec, tags: &Tags, observed: Option<&ObservedVpc>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}

async fn attribute(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    name: VpcAttributeName,
) -> Result<bool, NetworkingError> {
    let out = ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(name)
        .send()
        .await
        .map_err(AwsError::map("read attributes of", "VPC", id))?;
    let value = out
        .enable_dns_support()
        .or(out.enable_dns_hostnames())
        .and_then(AttributeBooleanValue::value);
    Ok(value.unwrap_or(false))
}

/// Finds the VPC by its `ironbark:id` tag (reads only).
///
/// # Errors
/// When AWS fails or two VPCs carry the same id.
pub async fn observe(
    ctx: &Context,
    spec: &VpcSpec,
) -> Result<Option<ObservedVpc>, NetworkingError> {
    let ec2 = ec2::client(ctx);
    let found = ec2
        .describe_vpcs()
        .set_filters(Some(ec2::by_id(ctx, &spec.logical_id)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", "VPC", &spec.logical_id))?;
    let Some(vpc) = ec2::at_most_one(&spec.logical_id, found, |v| {
        v.vpc_id().unwrap_or_default().to_owned()
    })?
    else {
        return Ok(None);
    };
    let id = vpc.vpc_id().unwrap_or_default().to_owned();
    Ok(Some(ObservedVpc {
        dns_support: attribute(&ec2, &id, VpcAttributeName::EnableDnsSupport).await?,
        dns_hostnames: attribute(&ec2, &id, VpcAttributeName::EnableDnsHostnames).await?,
        cidr: vpc.cidr_block().unwrap_or_default().to_owned(),
        tags: ec2::tag_map(vpc.tags()),
        id,
    }))
}

async fn set_attribute(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    name: VpcAttributeName,
    value: bool,
) -> Result<(), NetworkingError> {
    let v = AttributeBooleanValue::builder().value(value).build();
    ec2::when_visible(|| {
        let req = ec2.modify_vpc_attribute().vpc_id(id);
        let req = match name {
            VpcAttributeName::EnableDnsSupport => req.enable_dns_support(v.clone()),
            _ => req.enable_dns_hostnames(v.clone()),
        };
        req.send()
    })
    .await
    .map_err(AwsError::map("set DNS attributes of", "VPC", id))?;
    Ok(())
}

/// The VPC to converge, with its `Name` tag.
struct Vpc<'a> {
    spec: &'a VpcSpec,
    name: String,
}

impl Resource for Vpc<'_> {
    type Observed = ObservedVpc;
    type Diff = VpcDiff;
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

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedVpc>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedVpc>, NetworkingError> {
        observe(ctx, self.spec).await
    }

    fn tags<'o>(&self, observed: &'o ObservedVpc) -> Option<&'o BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedVpc>) -> VpcDiff {
        diff(self.spec, &tags.with("Name", &self.name), observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedVpc>,
        diff: &VpcDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let id = match observed {
            Some(o) => {
                ec2::apply_tags(&ec2, ctx, &o.id, &diff.tags).await?;
                o.id.clone()
            }
            None => {
                let out = ec2
                    .create_vpc()
                    .cidr_block(self.spec.cidr.to_string())
                    .tag_specifications(ec2::tag_spec(
                        ctx,
                        &self.spec.logical_id,
                        ResourceType::Vpc,
                    ))
                    .send()
                    .await
                    .map_err(AwsError::map("create", KIND, &self.spec.logical_id))?;
                out.vpc()
                    .and_then(|v| v.vpc_id())
                    .ok_or_else(|| ResourceError::Missing {
                        kind: KIND,
                        name: self.spec.logical_id.clone(),
                        what: "VPC id",
                    })?
                    .to_owned()
            }
        };
        // New VPCs have DNS support on and hostnames off: a create sets only what differs.
        for (name, value, default) in [
            (VpcAttributeName::EnableDnsSupport, diff.dns_support, true),
            (
                VpcAttributeName::EnableDnsHostnames,
                diff.dns_hostnames,
                false,
            ),
        ] {
            match value {
                Some((Some(_), want)) => set_attribute(&ec2, &id, name, want).await?,
                Some((None, want)) if want != default => {
                    set_attribute(&ec2, &id, name, want).await?;
                }
                _ => {}
            }
        }
        Ok(id)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedVpc) -> String {
        observed.id.clone()
    }
}

/// Ensures the VPC exists as specified.
///
/// # Idempotency
/// Found by its `ironbark:id` tag, which `CreateVpc` carries in its own `TagSpecifications`:
/// a VPC created by a run killed before it saw the response is found and adopted by the next.
/// A crash between creation and the DNS attributes leaves a VPC the next run updates.
///
/// # Errors
/// AWS errors, duplicates; a CIDR change is a [`Change::Refused`] in a plan (an error in
/// apply mode): nothing is touched.
pub async fn ensure_vpc(ctx: &Context, spec: &VpcSpec) -> Result<Outcome, NetworkingError> {
    let vpc = Vpc {
        spec,
        name: ec2::name_tag(ctx, &spec.logical_id),
    };
    Ok(Outcome::of(reconcile::converge(ctx, &vpc).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VpcSpec {
        VpcSpec {
            logical_id: "networking/vpc".into(),
            cidr: "10.0.0.0/16".parse().unwrap(),
            dns_support: true,
            dns_hostnames: true,
        }
    }

    fn tags() -> Tags {
        Tags::standard("p", "dev", "o", "c", "s").with_id("networking/vpc")
    }

    fn observed() -> ObservedVpc {
        ObservedVpc {
            id: "vpc-1".into(),
            cidr: "10.0.0.0/16".into(),
            dns_support: true,
            dns_hostnames: true,
            tags: tags().as_map().clone(),
        }
    }

    #[test]
    fn absent_is_created_converged_is_left_alone() {
        assert!(matches!(
            decide(&spec(), &tags(), None),
            Change::Create { .. }
        ));
        assert_eq!(decide(&spec(), &tags(), Some(&observed())), Change::NoOp);
    }

    #[test]
    fn drift_is_updated_field_by_field() {
        let mut o = observed();
        o.dns_hostnames = false;
        o.tags.remove("Owner");
        let Change::Update { fields } = decide(&spec(), &tags(), Some(&o)) else {
            panic!()
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["enable_dns_hostnames", "tags.Owner"]);
    }

    #[test]
    fn a_cidr_change_is_refused() {
        let mut o = observed();
        o.cidr = "10.9.0.0/16".into();
        assert!(
            matches!(decide(&spec(), &tags(), Some(&o)), Change::Refused { field, .. } if field.starts_with("cidr_block"))
        );
    }
}
