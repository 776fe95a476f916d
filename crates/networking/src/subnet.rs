//! Subnets: one per tier and AZ, CIDRs carved by [`ironbark_core::cidr`].

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use ipnet::Ipv4Net;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::tags::Tags;
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

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

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &SubnetSpec, tags: &Tags, observed: Option<&ObservedSubnet>) -> Change {
    let Some(o) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("cidr_block", spec.cidr),
                FieldDiff::set("availability_zone", &spec.az),
                FieldDiff::set("map_public_ip_on_launch", spec.map_public_ip),
            ],
        };
    };
    for (field, old, new) in [
        ("cidr_block", &o.cidr, &spec.cidr.to_string()),
        ("availability_zone", &o.az, &spec.az),
    ] {
        if old != new {
            return Change::Refused {
                field: format!("{field} ({old} -> {new})"),
                reason: "a subnet's CIDR and AZ cannot change in place; replacing it would disrupt everything \
                         in it. Keep the tier's slot and prefix, or destroy the environment first"
                    .into(),
            };
        }
    }
    let mut fields = Vec::new();
    if o.map_public_ip != spec.map_public_ip {
        fields.push(FieldDiff::new(
            "map_public_ip_on_launch",
            Some(o.map_public_ip),
            Some(spec.map_public_ip),
        ));
    }
    fields.extend(ec2::tag_fields(
        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ));
    Change::update_if_any(fields)
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
        .map_err(NetworkingError::aws("find subnet", logical_id))?;
    Ok(ec2::at_most_one(logical_id, found, |s| {
        s.subnet_id().unwrap_or_default().to_owned()
    })?
    .map(|s| ObservedSubnet {
        id: s.subnet_id().unwrap_or_default().to_owned(),
        cidr: s.cidr_block().unwrap_or_default().to_owned(),
        az: s.availability_zone().unwrap_or_default().to_owned(),
        map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
        tags: ec2::tag_map(s.tags()),
    }))
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
    .map_err(NetworkingError::aws(
        "set map_public_ip_on_launch of subnet",
        id,
    ))?;
    Ok(())
}

/// Ensures the subnet exists in `vpc_id` (`None`: the VPC is yet to be created; plan only).
///
/// # Idempotency
/// Found by its `ironbark:id` tag, carried by `CreateSubnet` itself. A crash before the
/// attribute change leaves a subnet the next run updates.
///
/// # Errors
/// AWS errors, duplicates. A CIDR or AZ change is a [`Change::Refused`]: nothing is touched.
pub async fn ensure_subnet(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &SubnetSpec,
) -> Result<Outcome, NetworkingError> {
    ec2::tracked(ctx, &spec.logical_id, async {
        let observed = match vpc_id {
            Some(_) => observe(ctx, &spec.logical_id).await?,
            None => None,
        };
        let tags = ec2::desired_tags(ctx, &spec.logical_id);
        let change = decide(spec, &tags, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        if let (true, Some(vpc)) = (ctx.is_apply(), vpc_id) {
            let ec2 = ec2::client(ctx);
            match (&change, &observed) {
                (Change::Create { .. }, _) => {
                    let _permit = ctx.permit("ec2").await;
                    let out = ec2::when_visible(|| {
                        ec2.create_subnet()
                            .vpc_id(vpc)
                            .cidr_block(spec.cidr.to_string())
                            .availability_zone(&spec.az)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.logical_id,
                                ResourceType::Subnet,
                            ))
                            .send()
                    })
                    .await
                    .map_err(NetworkingError::aws("create subnet", &spec.logical_id))?;
                    let new_id = out
                        .subnet()
                        .and_then(|s| s.subnet_id())
                        .unwrap_or_default()
                        .to_owned();
                    if spec.map_public_ip {
                        set_map_public_ip(&ec2, &new_id, true).await?;
                    }
                    id = Some(new_id);
                }
                (Change::Update { .. }, Some(o)) => {
                    if o.map_public_ip != spec.map_public_ip {
                        set_map_public_ip(&ec2, &o.id, spec.map_public_ip).await?;
                    }
                    ec2::apply_tags(
                        &ec2,
                        ctx,
                        &o.id,
                        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    )
                    .await?;
                }
                _ => {}
            }
        }
        Ok(Outcome {
            change: ec2::resource_change(&spec.logical_id, "subnet", id.as_deref(), change),
            id,
        })
    })
    .await
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
