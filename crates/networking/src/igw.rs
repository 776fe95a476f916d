//! The internet gateway, attached to the VPC.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::ResourceType;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::tags::Tags;
use ironbark_core::Context;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

/// The logical id of the stack's internet gateway.
pub const LOGICAL_ID: &str = "networking/internet-gateway";

/// The gateway as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedGateway {
    /// `igw-...`.
    pub id: String,
    /// The VPC it is attached to, if any.
    pub attached_to: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(vpc_id: Option<&str>, tags: &Tags, observed: Option<&ObservedGateway>) -> Change {
    let vpc = vpc_id.unwrap_or(ec2::KNOWN_AFTER_APPLY);
    let Some(o) = observed else {
        return Change::Create {
            fields: vec![FieldDiff::set("attached_to", vpc)],
        };
    };
    let mut fields = Vec::new();
    if o.attached_to.as_deref() != Some(vpc) {
        fields.push(FieldDiff::new(
            "attached_to",
            o.attached_to.clone(),
            Some(vpc),
        ));
    }
    fields.extend(ec2::tag_fields(
        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ));
    Change::update_if_any(fields)
}

/// Finds the gateway by its tag.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe(ctx: &Context) -> Result<Option<ObservedGateway>, NetworkingError> {
    let found = ec2::client(ctx)
        .describe_internet_gateways()
        .set_filters(Some(ec2::by_id(ctx, LOGICAL_ID)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", "internet gateway", LOGICAL_ID))?;
    Ok(ec2::at_most_one(LOGICAL_ID, found, |g| {
        g.internet_gateway_id().unwrap_or_default().to_owned()
    })?
    .map(|g| ObservedGateway {
        id: g.internet_gateway_id().unwrap_or_default().to_owned(),
        attached_to: g
            .attachments()
            .iter()
            .find_map(|a| a.vpc_id().map(str::to_owned)),
        tags: ec2::tag_map(g.tags()),
    }))
}

/// Ensures an internet gateway exists and is attached to `vpc_id`.
///
/// # Idempotency
/// Found by tag; a crash between creation and attachment leaves a detached gateway that the
/// next run finds and attaches.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn ensure_internet_gateway(
    ctx: &Context,
    vpc_id: Option<&str>,
) -> Result<Outcome, NetworkingError> {
    ec2::reported(ctx, LOGICAL_ID, async {
        let observed = observe(ctx).await?;
        let tags = ec2::desired_tags(ctx, LOGICAL_ID);
        let change = decide(vpc_id, &tags, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        if let (true, Some(vpc)) = (ctx.is_apply(), vpc_id) {
            let ec2 = ec2::client(ctx);
            let (gateway, attached_to) = match &observed {
                Some(o) => (o.id.clone(), o.attached_to.clone()),
                None => {
                    let out = ec2
                        .create_internet_gateway()
                        .tag_specifications(ec2::tag_spec(
                            ctx,
                            LOGICAL_ID,
                            ResourceType::InternetGateway,
                        ))
                        .send()
                        .await
                        .map_err(AwsError::map("create", "internet gateway", LOGICAL_ID))?;
                    (
                        out.internet_gateway()
                            .and_then(|g| g.internet_gateway_id())
                            .unwrap_or_default()
                            .to_owned(),
                        None,
                    )
                }
            };
            if attached_to.as_deref() != Some(vpc) {
                if let Some(other) = &attached_to {
                    ec2.detach_internet_gateway()
                        .internet_gateway_id(&gateway)
                        .vpc_id(other)
                        .send()
                        .await
                        .map_err(AwsError::map("detach", "internet gateway", &gateway))?;
                }
                ec2::when_visible(|| {
                    ec2.attach_internet_gateway()
                        .internet_gateway_id(&gateway)
                        .vpc_id(vpc)
                        .send()
                })
                .await
                .map_err(AwsError::map("attach", "internet gateway", &gateway))?;
            }
            if let Some(o) = &observed {
                ec2::apply_tags(
                    &ec2,
                    ctx,
                    &o.id,
                    &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                )
                .await?;
            }
            id = Some(gateway);
        }
        Ok(Outcome {
            change: ec2::resource_change(LOGICAL_ID, "internet gateway", id.as_deref(), change),
            id,
        })
    })
    .await
}
