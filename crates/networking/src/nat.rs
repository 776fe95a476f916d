//! NAT gateways with their Elastic IPs: none, one shared, or one per AZ. Switching between
//! these is an in-place plan (NATs created or deleted, routes repointed), never a rebuild.

use std::time::Duration;

use aws_sdk_ec2::types::{DomainType, NatGatewayState, ResourceType};
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::wait::{wait_for, Poll};
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;

/// How long a NAT gateway may take to become available or to be deleted.
pub const NAT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The desired NAT gateway of one AZ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatSpec {
    /// Logical id (`networking/nat/us-east-1a`).
    pub logical_id: String,
    /// Logical id of its Elastic IP (`networking/eip/nat/us-east-1a`).
    pub eip_logical_id: String,
    /// The AZ.
    pub az: String,
}

/// A NAT gateway as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedNat {
    /// `nat-...`.
    pub id: String,
    /// `pending`, `available`, ...
    pub state: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its logical id.
    pub logical_id: String,
}

/// Logical ids of the NAT gateway and its EIP for an AZ.
#[must_use]
pub fn spec_for(az: &str) -> NatSpec {
    NatSpec {
        logical_id: format!("networking/nat/{az}"),
        eip_logical_id: format!("networking/eip/nat/{az}"),
        az: az.to_owned(),
    }
}

/// The AZs that get a NAT gateway: none, the first, or all.
#[must_use]
pub fn nat_azs(azs: &[String], count: u8) -> Vec<String> {
    match count {
        0 => Vec::new(),
        1 => azs.iter().take(1).cloned().collect(),
        _ => azs.to_vec(),
    }
}

/// Decides what to do with one desired NAT. Pure.
#[must_use]
pub fn decide(subnet_id: Option<&str>, observed: Option<&ObservedNat>) -> Change {
    let subnet = subnet_id.unwrap_or(ec2::KNOWN_AFTER_APPLY);
    match observed {
        None => Change::Create { fields: vec![FieldDiff::set("subnet_id", subnet), FieldDiff::set("elastic_ip", ec2::KNOWN_AFTER_APPLY)] },
        Some(o) if subnet_id.is_some() && o.subnet_id != subnet => Change::Refused {
            field: format!("subnet_id ({} -> {subnet})", o.subnet_id),
            reason: "the AZ's public subnet changed; delete the NAT gateway (set nat_gateways lower) and deploy again".into(),
        },
        Some(_) => Change::NoOp,
    }
}

fn observed(n: &aws_sdk_ec2::types::NatGateway) -> ObservedNat {
    ObservedNat {
        id: n.nat_gateway_id().unwrap_or_default().to_owned(),
        state: n.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
        logical_id: ec2::logical_id_of(n.tags()).unwrap_or_default(),
    }
}

/// Every live (pending or available) NAT gateway of the stack.
///
/// # Errors
/// AWS errors.
pub async fn observe_all(ctx: &Context) -> Result<Vec<ObservedNat>, NetworkingError> {
    let mut filters = ec2::stack_filters(ctx);
    filters.push(ec2::filter("state", &["pending", "available"]));
    let found = ec2::client(ctx)
        .describe_nat_gateways()
        .set_filter(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("list NAT gateways of", "stack", ctx.stack()))?;
    Ok(found.iter().map(observed).collect())
}

async fn state(ctx: &Context, id: &str) -> Result<Option<NatGatewayState>, NetworkingError> {
    let out = ec2::client(ctx)
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .map_err(AwsError::map("read", "NAT gateway", id))?;
    Ok(out.nat_gateways().first().and_then(|n| n.state().cloned()))
}

/// Waits until the NAT gateway is available, reporting its state.
///
/// # Errors
/// Timeout or a `failed` state.
pub async fn wait_available(
    ctx: &Context,
    logical_id: &str,
    id: &str,
) -> Result<(), NetworkingError> {
    let waited = wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(NAT_TIMEOUT),
        || async {
            Ok(match state(ctx, id).await.map_err(Box::new)? {
                Some(NatGatewayState::Available) => Poll::Ready(()),
                Some(
                    s @ (NatGatewayState::Failed
                    | NatGatewayState::Deleted
                    | NatGatewayState::Deleting),
                ) => Poll::Failed(s.as_str().to_owned()),
                Some(s) => Poll::Pending(s.as_str().to_owned()),
                None => Poll::Pending("not visible yet".to_owned()),
            })
        },
    )
    .await;
    crate::error::waited("NAT gateway", id, waited)
}

/// Finds the Elastic IP tagged `logical_id`: (allocation id, association id).
async fn find_eip(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<(String, Option<String>)>, NetworkingError> {
    let out = ec2::client(ctx)
        .describe_addresses()
        .set_filters(Some(ec2::by_id(ctx, logical_id)))
        .send()
        .await
        .map_err(AwsError::map("find", "Elastic IP", logical_id))?;
    let found = out.addresses().to_vec();
    Ok(ec2::at_most_one(logical_id, found, |a| {
        a.allocation_id().unwrap_or_default().to_owned()
    })?
    .map(|a| {
        (
            a.allocation_id().unwrap_or_default().to_owned(),
            a.association_id().map(str::to_owned),
        )
    }))
}

/// Ensures the NAT gateway of one AZ exists in `subnet_id` (its AZ's public subnet) and is
/// available, with its Elastic IP.
///
/// # Idempotency
/// The EIP and the NAT carry their `ironbark:id` tags in their create calls, and
/// `CreateNatGateway` gets a `ClientToken` derived from (stack, env, logical id, spec): a run
/// killed after either call is finished by the next, which finds both (or AWS returns the same
/// NAT for the same token). A NAT found `pending` is waited for, not re-created.
///
/// # Errors
/// AWS errors, duplicates, a NAT that fails or does not become available in 15 minutes.
pub async fn ensure_nat_gateway(
    ctx: &Context,
    spec: &NatSpec,
    subnet_id: Option<&str>,
    existing: &[ObservedNat],
) -> Result<Outcome, NetworkingError> {
    ec2::reported(ctx, &spec.logical_id, async {
        let mine: Vec<ObservedNat> = existing
            .iter()
            .filter(|n| n.logical_id == spec.logical_id)
            .cloned()
            .collect();
        let current = ec2::at_most_one(&spec.logical_id, mine, |n| n.id.clone())?;
        let change = decide(subnet_id, current.as_ref()).or_in_progress(
            current
                .as_ref()
                .map(|n| n.state.as_str())
                .filter(|s| *s != "available"),
        );
        let mut id = current.as_ref().map(|n| n.id.clone());
        if let (true, Some(subnet)) = (ctx.is_apply(), subnet_id) {
            let ec2 = ec2::client(ctx);
            let nat_id = match (&change, &current) {
                (Change::Create { .. }, _) => {
                    let allocation = match find_eip(ctx, &spec.eip_logical_id).await? {
                        Some((allocation, _)) => allocation,
                        None => ec2
                            .allocate_address()
                            .domain(DomainType::Vpc)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.eip_logical_id,
                                ResourceType::ElasticIp,
                            ))
                            .send()
                            .await
                            .map_err(AwsError::map(
                                "allocate",
                                "Elastic IP",
                                &spec.eip_logical_id,
                            ))?
                            .allocation_id()
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    let token = ctx.client_token(&spec.logical_id, &(spec, subnet, &allocation));
                    let out = ec2::when_visible(|| {
                        ec2.create_nat_gateway()
                            .subnet_id(subnet)
                            .allocation_id(&allocation)
                            .client_token(&token)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.logical_id,
                                ResourceType::Natgateway,
                            ))
                            .send()
                    })
                    .await
                    .map_err(AwsError::map(
                        "create",
                        "NAT gateway",
                        &spec.logical_id,
                    ))?;
                    out.nat_gateway()
                        .and_then(|n| n.nat_gateway_id())
                        .unwrap_or_default()
                        .to_owned()
                }
                (_, Some(n)) => n.id.clone(),
                (_, None) => {
                    return Err(NetworkingError::Blocked {
                        resource: spec.logical_id.clone(),
                        message: "no NAT gateway to wait for".into(),
                    })
                }
            };
            if current.as_ref().is_none_or(|n| n.state != "available") {
                wait_available(ctx, &spec.logical_id, &nat_id).await?;
            }
            id = Some(nat_id);
        }
        Ok(Outcome {
            change: ec2::resource_change(&spec.logical_id, "NAT gateway", id.as_deref(), change),
            id,
        })
    })
    .await
}

/// Deletes a NAT gateway no longer wanted, waits until it is gone, then releases its EIP.
///
/// # Idempotency
/// Deleting a deleted NAT is a no-op; the EIP is found by its tag, so a run killed between
/// the NAT deletion and the release releases it next time.
///
/// # Errors
/// AWS errors, a deletion that does not finish in 15 minutes.
pub async fn delete_nat_gateway(
    ctx: &Context,
    nat: &ObservedNat,
) -> Result<Outcome, NetworkingError> {
    let logical_id = nat.logical_id.clone();
    ec2::reported(ctx, &logical_id, async {
        if ctx.is_apply() {
            let ec2 = ec2::client(ctx);
            ec2.delete_nat_gateway()
                .nat_gateway_id(&nat.id)
                .send()
                .await
                .map_err(AwsError::map("delete", "NAT gateway", &nat.id))?;
            let waited = wait_for(
                ctx.reporter().as_ref(),
                &logical_id,
                &ctx.wait_policy(NAT_TIMEOUT),
                || async {
                    Ok(match state(ctx, &nat.id).await.map_err(Box::new)? {
                        Some(NatGatewayState::Deleted) | None => Poll::Ready(()),
                        Some(s) => Poll::Pending(s.as_str().to_owned()),
                    })
                },
            )
            .await;
            crate::error::waited("NAT gateway", &nat.id, waited)?;
            let eip_id = logical_id.replacen("networking/nat/", "networking/eip/nat/", 1);
            release_eip(ctx, &eip_id).await?;
        }
        Ok(Outcome {
            change: ec2::resource_change(&logical_id, "NAT gateway", Some(&nat.id), Change::Delete),
            id: Some(nat.id.clone()),
        })
    })
    .await
}

/// Releases the Elastic IP tagged `logical_id`, if there is one (disassociating it first).
///
/// # Errors
/// AWS errors.
pub async fn release_eip(ctx: &Context, logical_id: &str) -> Result<(), NetworkingError> {
    let Some((allocation, association)) = find_eip(ctx, logical_id).await? else {
        return Ok(());
    };
    let ec2 = ec2::client(ctx);
    if let Some(association) = association {
        ec2.disassociate_address()
            .association_id(association)
            .send()
            .await
            .map_err(AwsError::map("disassociate", "Elastic IP", logical_id))?;
    }
    // Right after a NAT is deleted AWS may still report the address in use for a moment.
    ec2::when_visible(|| ec2.release_address().allocation_id(&allocation).send())
        .await
        .map_err(AwsError::map("release", "Elastic IP", logical_id))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_placement() {
        let azs: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert!(nat_azs(&azs, 0).is_empty());
        assert_eq!(nat_azs(&azs, 1), ["a"]);
        assert_eq!(nat_azs(&azs, 3), ["a", "b", "c"]);
    }

    #[test]
    fn decisions() {
        assert!(matches!(decide(None, None), Change::Create { .. }));
        let o = ObservedNat {
            id: "nat-1".into(),
            state: "pending".into(),
            subnet_id: "subnet-1".into(),
            logical_id: "x".into(),
        };
        assert_eq!(decide(Some("subnet-1"), Some(&o)), Change::NoOp);
        assert!(matches!(
            decide(Some("subnet-2"), Some(&o)),
            Change::Refused { .. }
        ));
    }
}
