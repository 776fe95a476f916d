//! The VPC's default security group, emptied: no ingress, no egress (`CKV2_AWS_12`). AWS
//! creates it with the VPC and forbids deleting it, so Ironbark only strips its rules.

use aws_sdk_ec2::types::IpPermission;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::Context;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

/// The default group as found.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedDefaultGroup {
    /// `sg-...`.
    pub id: String,
    /// Its inbound permissions.
    pub ingress: Vec<IpPermission>,
    /// Its outbound permissions.
    pub egress: Vec<IpPermission>,
}

/// Decides what to do: any rule is removed. Pure.
#[must_use]
pub fn decide(observed: Option<&ObservedDefaultGroup>) -> Change {
    let Some(o) = observed else {
        // The VPC does not exist yet: AWS will create the group with rules, deploy strips them.
        return Change::Update {
            fields: vec![FieldDiff::set("rules", "(AWS defaults) -> none")],
        };
    };
    let mut fields = Vec::new();
    if !o.ingress.is_empty() {
        fields.push(FieldDiff::new(
            "ingress_rules",
            Some(o.ingress.len()),
            Some(0),
        ));
    }
    if !o.egress.is_empty() {
        fields.push(FieldDiff::new(
            "egress_rules",
            Some(o.egress.len()),
            Some(0),
        ));
    }
    Change::update_if_any(fields)
}

/// Empties the default security group of `vpc_id` (`None`: the VPC is yet to be created).
///
/// # Idempotency
/// The default group is found by VPC and name; revoking only what is there makes re-runs
/// write nothing.
///
/// # Errors
/// AWS errors.
pub async fn ensure_default_group_empty(
    ctx: &Context,
    vpc_id: Option<&str>,
) -> Result<Outcome, NetworkingError> {
    let logical_id = "networking/default-security-group";
    ec2::reported(ctx, logical_id, async {
        let ec2 = ec2::client(ctx);
        let observed = match vpc_id {
            None => None,
            Some(vpc) => {
                let groups = ec2::when_visible(|| {
                    ec2.describe_security_groups()
                        .filters(ec2::filter("vpc-id", &[vpc]))
                        .filters(ec2::filter("group-name", &["default"]))
                        .send()
                })
                .await
                .map_err(AwsError::map(
                    "find the default security group of",
                    "VPC",
                    vpc,
                ))?;
                groups
                    .security_groups()
                    .first()
                    .map(|g| ObservedDefaultGroup {
                        id: g.group_id().unwrap_or_default().to_owned(),
                        ingress: g.ip_permissions().to_vec(),
                        egress: g.ip_permissions_egress().to_vec(),
                    })
            }
        };
        let change = decide(observed.as_ref());
        if let (true, Some(o), true) = (ctx.is_apply(), &observed, change.is_change()) {
            if !o.ingress.is_empty() {
                ec2.revoke_security_group_ingress()
                    .group_id(&o.id)
                    .set_ip_permissions(Some(o.ingress.clone()))
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "revoke the ingress rules of the default",
                        "security group",
                        &o.id,
                    ))?;
            }
            if !o.egress.is_empty() {
                ec2.revoke_security_group_egress()
                    .group_id(&o.id)
                    .set_ip_permissions(Some(o.egress.clone()))
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "revoke the egress rules of the default",
                        "security group",
                        &o.id,
                    ))?;
            }
        }
        let id = observed.map(|o| o.id);
        Ok(Outcome {
            change: ec2::resource_change(
                logical_id,
                "default security group",
                id.as_deref(),
                change,
            ),
            id,
        })
    })
    .await
}
