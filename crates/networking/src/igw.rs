//! The internet gateway, attached to the VPC; on the reconcile kit.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::ResourceType;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, AwsError, Diff, Resource, ResourceError, Status};
use ironbark_core::tags::{TagDiff, Tags};
use ironbark_core::Context;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

/// The logical id of the stack's internet gateway.
pub const LOGICAL_ID: &str = "networking/internet-gateway";

const KIND: &str = "internet gateway";

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

/// What differs between the gateway and its spec; the kit's `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayDiff {
    /// The gateway does not exist: create it.
    pub create: bool,
    /// Attach it to the VPC: (attached to now, the VPC or a placeholder before it exists).
    pub attach: Option<(Option<String>, String)>,
    /// Tags to set and remove (an existing gateway; a create carries its tags).
    pub tags: TagDiff,
}

impl Diff for GatewayDiff {
    fn is_empty(&self) -> bool {
        !self.create && self.attach.is_none() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields = Vec::new();
        match &self.attach {
            Some((None, vpc)) if self.create => fields.push(FieldDiff::set("attached_to", vpc)),
            Some((old, vpc)) => {
                fields.push(FieldDiff::new("attached_to", old.clone(), Some(vpc)));
            }
            None => {}
        }
        fields.extend(ec2::tag_fields(&self.tags));
        fields
    }
}

/// The diff for the gateway of `vpc_id` (`None`: not created yet) with its desired `tags`
/// (including `Name`). Pure.
#[must_use]
pub fn diff(vpc_id: Option<&str>, tags: &Tags, observed: Option<&ObservedGateway>) -> GatewayDiff {
    let vpc = vpc_id.unwrap_or(ec2::KNOWN_AFTER_APPLY);
    let Some(o) = observed else {
        return GatewayDiff {
            create: true,
            attach: Some((None, vpc.to_owned())),
            tags: TagDiff::default(),
        };
    };
    GatewayDiff {
        create: false,
        attach: (o.attached_to.as_deref() != Some(vpc))
            .then(|| (o.attached_to.clone(), vpc.to_owned())),
        tags: tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    }
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(vpc_id: Option<&str>, tags: &Tags, observed: Option<&ObservedGateway>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(vpc_id, tags, observed),
        &Status::Ready,
    )
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

/// The stack's gateway, to attach to `vpc_id` (`None`: plan only), with its `Name` tag.
struct Gateway<'a> {
    vpc_id: Option<&'a str>,
    name: String,
}

impl Resource for Gateway<'_> {
    type Observed = ObservedGateway;
    type Diff = GatewayDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        LOGICAL_ID
    }

    fn name(&self, _ctx: &Context) -> String {
        LOGICAL_ID.to_owned()
    }

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedGateway>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedGateway>, NetworkingError> {
        observe(ctx).await
    }

    fn tags<'o>(&self, observed: &'o ObservedGateway) -> Option<&'o BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedGateway>) -> GatewayDiff {
        diff(self.vpc_id, &tags.with("Name", &self.name), observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedGateway>,
        diff: &GatewayDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let vpc = ec2::vpc_or_missing(KIND, LOGICAL_ID, self.vpc_id)?;
        let gateway = match observed {
            Some(o) => {
                ec2::apply_tags(&ec2, ctx, &o.id, &diff.tags).await?;
                o.id.clone()
            }
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
                    .map_err(AwsError::map("create", KIND, LOGICAL_ID))?;
                out.internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .ok_or_else(|| ResourceError::Missing {
                        kind: KIND,
                        name: LOGICAL_ID.to_owned(),
                        what: "internet gateway id",
                    })?
                    .to_owned()
            }
        };
        if let Some((attached_to, _)) = &diff.attach {
            if let Some(other) = attached_to {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(&gateway)
                    .vpc_id(other)
                    .send()
                    .await
                    .map_err(AwsError::map("detach", KIND, &gateway))?;
            }
            ec2::when_visible(|| {
                ec2.attach_internet_gateway()
                    .internet_gateway_id(&gateway)
                    .vpc_id(vpc)
                    .send()
            })
            .await
            .map_err(AwsError::map("attach", KIND, &gateway))?;
        }
        Ok(gateway)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedGateway) -> String {
        observed.id.clone()
    }
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
    let gateway = Gateway {
        vpc_id,
        name: ec2::name_tag(ctx, LOGICAL_ID),
    };
    Ok(Outcome::of(reconcile::converge(ctx, &gateway).await?))
}
