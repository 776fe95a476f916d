//! The VPC: CIDR, DNS support and hostnames, tags.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use ipnet::Ipv4Net;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::tags::Tags;
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

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

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &VpcSpec, tags: &Tags, observed: Option<&ObservedVpc>) -> Change {
    let Some(o) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("cidr_block", spec.cidr),
                FieldDiff::set("enable_dns_support", spec.dns_support),
                FieldDiff::set("enable_dns_hostnames", spec.dns_hostnames),
            ],
        };
    };
    if o.cidr != spec.cidr.to_string() {
        return Change::Refused {
            field: format!("cidr_block ({} -> {})", o.cidr, spec.cidr),
            reason: "a VPC's primary CIDR cannot change in place; everything in the VPC would be replaced. \
                     Destroy the environment first, or keep the old CIDR"
                .into(),
        };
    }
    let mut fields = Vec::new();
    if o.dns_support != spec.dns_support {
        fields.push(FieldDiff::new(
            "enable_dns_support",
            Some(o.dns_support),
            Some(spec.dns_support),
        ));
    }
    if o.dns_hostnames != spec.dns_hostnames {
        fields.push(FieldDiff::new(
            "enable_dns_hostnames",
            Some(o.dns_hostnames),
            Some(spec.dns_hostnames),
        ));
    }
    fields.extend(ec2::tag_fields(
        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ));
    Change::update_if_any(fields)
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

/// Ensures the VPC exists as specified.
///
/// # Idempotency
/// Found by its `ironbark:id` tag, which `CreateVpc` carries in its own `TagSpecifications`:
/// a VPC created by a run killed before it saw the response is found and adopted by the next.
/// A crash between creation and the DNS attributes leaves a VPC the next run updates.
///
/// # Errors
/// AWS errors, duplicates, and a refused CIDR change (returned as [`Change::Refused`], not an
/// error: nothing is touched).
pub async fn ensure_vpc(ctx: &Context, spec: &VpcSpec) -> Result<Outcome, NetworkingError> {
    ec2::reported(ctx, &spec.logical_id, async {
        let observed = observe(ctx, spec).await?;
        let tags = ec2::desired_tags(ctx, &spec.logical_id);
        let change = decide(spec, &tags, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        if ctx.is_apply() {
            let ec2 = ec2::client(ctx);
            match (&change, &observed) {
                (Change::Create { .. }, _) => {
                    let out = ec2
                        .create_vpc()
                        .cidr_block(spec.cidr.to_string())
                        .tag_specifications(ec2::tag_spec(ctx, &spec.logical_id, ResourceType::Vpc))
                        .send()
                        .await
                        .map_err(AwsError::map("create", "VPC", &spec.logical_id))?;
                    let new_id = out
                        .vpc()
                        .and_then(|v| v.vpc_id())
                        .unwrap_or_default()
                        .to_owned();
                    // New VPCs have DNS support on and hostnames off.
                    if !spec.dns_support {
                        set_attribute(&ec2, &new_id, VpcAttributeName::EnableDnsSupport, false)
                            .await?;
                    }
                    if spec.dns_hostnames {
                        set_attribute(&ec2, &new_id, VpcAttributeName::EnableDnsHostnames, true)
                            .await?;
                    }
                    id = Some(new_id);
                }
                (Change::Update { .. }, Some(o)) => {
                    if o.dns_support != spec.dns_support {
                        set_attribute(
                            &ec2,
                            &o.id,
                            VpcAttributeName::EnableDnsSupport,
                            spec.dns_support,
                        )
                        .await?;
                    }
                    if o.dns_hostnames != spec.dns_hostnames {
                        set_attribute(
                            &ec2,
                            &o.id,
                            VpcAttributeName::EnableDnsHostnames,
                            spec.dns_hostnames,
                        )
                        .await?;
                    }
                    let diff = tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    ec2::apply_tags(&ec2, ctx, &o.id, &diff).await?;
                }
                _ => {}
            }
        }
        Ok(Outcome {
            change: ec2::resource_change(&spec.logical_id, "vpc", id.as_deref(), change),
            id,
        })
    })
    .await
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
