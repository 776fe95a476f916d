//! Teardown of everything the stack's networking layer owns, found by the stack and
//! environment tags (not by the configuration: whatever an earlier configuration created goes
//! too), in dependency order, waiting where AWS needs it: endpoints, NAT gateways (then their
//! Elastic IPs), route tables, security groups, subnets, internet gateways, VPCs.

use futures::future::try_join_all;
use ironbark_core::plan::{Change, Plan};
use ironbark_core::reconcile::AwsError;
use ironbark_core::Context;

use crate::ec2::{self, Outcome};
use crate::error::NetworkingError;
use crate::nat;

fn deleted(ctx: &Context, logical_id: Option<String>, kind: &str, physical: &str) -> Outcome {
    let id = logical_id.unwrap_or_else(|| physical.to_owned());
    ctx.report(ironbark_core::Event::Done {
        resource: id.clone(),
        change: Change::Delete,
    });
    Outcome {
        change: ec2::resource_change(&id, kind, Some(physical), Change::Delete),
        id: Some(physical.to_owned()),
    }
}

/// Deletes every networking resource tagged with this stack and environment (plan mode: lists
/// them as deletions).
///
/// # Idempotency
/// Everything is found by tags each time, so a destroy interrupted at any point is finished by
/// the next one.
///
/// # Errors
/// AWS errors, and a clear [`NetworkingError::Blocked`] naming the network interfaces that
/// something outside Ironbark (a Lambda function, a load balancer) still has in a subnet.
pub async fn destroy_networking(ctx: &Context) -> Result<Plan, NetworkingError> {
    let ec2 = ec2::client(ctx);
    let apply = ctx.is_apply();
    let mut plan = Plan::default();

    // 0. Flow logs and their log group.
    plan.resources
        .extend(crate::flow_logs::destroy_flow_logs(ctx).await?);

    // 1. Endpoints.
    let endpoints = ec2
        .describe_vpc_endpoints()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("list VPC endpoints of", "stack", ctx.stack()))?;
    for e in endpoints
        .iter()
        .filter(|e| e.state().is_none_or(|s| s.as_str() != "deleted"))
    {
        let id = e.vpc_endpoint_id().unwrap_or_default();
        if apply {
            ec2.delete_vpc_endpoints()
                .vpc_endpoint_ids(id)
                .send()
                .await
                .map_err(AwsError::map("delete", "VPC endpoint", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(e.tags()), "VPC endpoint", id).change);
    }

    // 2. NAT gateways, concurrently; each releases its Elastic IP once gone.
    let nats = nat::observe_all(ctx).await?;
    if apply {
        for outcome in try_join_all(nats.iter().map(|n| nat::delete_nat_gateway(ctx, n))).await? {
            plan.push(outcome.change);
        }
    } else {
        for n in &nats {
            plan.push(deleted(ctx, Some(n.logical_id.clone()), "NAT gateway", &n.id).change);
        }
    }
    // Elastic IPs left over (their NAT already gone in an earlier, interrupted destroy).
    let addresses = ec2
        .describe_addresses()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .send()
        .await
        .map_err(AwsError::map("list Elastic IPs of", "stack", ctx.stack()))?;
    for a in addresses.addresses() {
        let logical = ec2::logical_id_of(a.tags());
        if apply {
            if let Some(l) = &logical {
                nat::release_eip(ctx, l).await?;
            }
        }
        plan.push(
            deleted(
                ctx,
                logical,
                "Elastic IP",
                a.allocation_id().unwrap_or_default(),
            )
            .change,
        );
    }

    // 3. Route tables.
    let tables = ec2
        .describe_route_tables()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("list route tables of", "stack", ctx.stack()))?;
    for t in &tables {
        let id = t.route_table_id().unwrap_or_default();
        if apply {
            for a in t
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
            {
                if let Some(assoc) = a.route_table_association_id() {
                    ec2.disassociate_route_table()
                        .association_id(assoc)
                        .send()
                        .await
                        .map_err(AwsError::map("disassociate", "route table", id))?;
                }
            }
            ec2.delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .map_err(AwsError::map("delete", "route table", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(t.tags()), "route table", id).change);
    }

    // 4. Security groups: rules first (groups reference each other), then the groups.
    let groups = ec2
        .describe_security_groups()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map(
            "list security groups of",
            "stack",
            ctx.stack(),
        ))?;
    if apply {
        for g in &groups {
            let id = g.group_id().unwrap_or_default();
            if !g.ip_permissions().is_empty() {
                ec2.revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(g.ip_permissions().to_vec()))
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "revoke the ingress rules of",
                        "security group",
                        id,
                    ))?;
            }
            if !g.ip_permissions_egress().is_empty() {
                ec2.revoke_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()))
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "revoke the egress rules of",
                        "security group",
                        id,
                    ))?;
            }
        }
    }

    // 5. Network interfaces someone else still has in our subnets block everything below.
    let subnets = ec2
        .describe_subnets()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("list subnets of", "stack", ctx.stack()))?;
    let subnet_ids: Vec<&str> = subnets.iter().filter_map(|s| s.subnet_id()).collect();
    if apply && !subnet_ids.is_empty() {
        wait_for_interfaces(ctx, &ec2, &subnet_ids).await?;
    }
    for g in &groups {
        let id = g.group_id().unwrap_or_default();
        if apply {
            ec2::when_visible(|| ec2.delete_security_group().group_id(id).send())
                .await
                .map_err(AwsError::map("delete", "security group", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(g.tags()), "security group", id).change);
    }

    // 5b. Network ACLs: their subnets go back to the VPC's default ACL first.
    let acls = ec2
        .describe_network_acls()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .send()
        .await
        .map_err(AwsError::map("list network ACLs of", "stack", ctx.stack()))?;
    for a in acls
        .network_acls()
        .iter()
        .filter(|a| a.is_default() != Some(true))
    {
        let id = a.network_acl_id().unwrap_or_default();
        if apply {
            let default = ec2
                .describe_network_acls()
                .filters(ec2::filter("vpc-id", &[a.vpc_id().unwrap_or_default()]))
                .filters(ec2::filter("default", &["true"]))
                .send()
                .await
                .map_err(AwsError::map("find the default network ACL for", "VPC", id))?
                .network_acls()
                .first()
                .and_then(|d| d.network_acl_id().map(str::to_owned));
            if let Some(default) = default {
                for association in a
                    .associations()
                    .iter()
                    .filter_map(|x| x.network_acl_association_id())
                {
                    ec2.replace_network_acl_association()
                        .association_id(association)
                        .network_acl_id(&default)
                        .send()
                        .await
                        .map_err(AwsError::map(
                            "return a subnet to the default from",
                            "network ACL",
                            id,
                        ))?;
                }
            }
            ec2.delete_network_acl()
                .network_acl_id(id)
                .send()
                .await
                .map_err(AwsError::map("delete", "network ACL", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(a.tags()), "network ACL", id).change);
    }

    // 6. Subnets.
    for s in &subnets {
        let id = s.subnet_id().unwrap_or_default();
        if apply {
            ec2::retry_dependency(|| ec2.delete_subnet().subnet_id(id).send())
                .await
                .map_err(AwsError::map("delete", "subnet", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(s.tags()), "subnet", id).change);
    }

    // 7. Internet gateways.
    let gateways = ec2
        .describe_internet_gateways()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .send()
        .await
        .map_err(AwsError::map(
            "list internet gateways of",
            "stack",
            ctx.stack(),
        ))?;
    for g in gateways.internet_gateways() {
        let id = g.internet_gateway_id().unwrap_or_default();
        if apply {
            for a in g.attachments() {
                if let Some(vpc) = a.vpc_id() {
                    ec2::retry_dependency(|| {
                        ec2.detach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(vpc)
                            .send()
                    })
                    .await
                    .map_err(AwsError::map(
                        "detach",
                        "internet gateway",
                        id,
                    ))?;
                }
            }
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map_err(AwsError::map("delete", "internet gateway", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(g.tags()), "internet gateway", id).change);
    }

    // 8. VPCs.
    let vpcs = ec2
        .describe_vpcs()
        .set_filters(Some(ec2::stack_filters(ctx)))
        .send()
        .await
        .map_err(AwsError::map("list VPCs of", "stack", ctx.stack()))?;
    for v in vpcs.vpcs() {
        let id = v.vpc_id().unwrap_or_default();
        if apply {
            ec2::retry_dependency(|| ec2.delete_vpc().vpc_id(id).send())
                .await
                .map_err(AwsError::map("delete", "VPC", id))?;
        }
        plan.push(deleted(ctx, ec2::logical_id_of(v.tags()), "VPC", id).change);
    }
    Ok(plan)
}

/// Interface types AWS creates and removes itself when their owner is deleted.
const AWS_MANAGED: &[&str] = &[
    "nat_gateway",
    "vpc_endpoint",
    "gateway_load_balancer_endpoint",
    "network_load_balancer",
];

/// Waits (bounded) for the network interfaces AWS removes with their owners; fails at once,
/// naming them, for interfaces something outside Ironbark still holds.
async fn wait_for_interfaces(
    ctx: &Context,
    ec2: &aws_sdk_ec2::Client,
    subnet_ids: &[&str],
) -> Result<(), NetworkingError> {
    let resource = format!("networking of {}/{}", ctx.stack(), ctx.env());
    let policy = ctx.wait_policy(std::time::Duration::from_secs(300));
    let waited = ironbark_core::wait::wait_for(ctx.reporter().as_ref(), &resource, &policy, || async {
        let enis = ec2
            .describe_network_interfaces()
            .filters(ec2::filter("subnet-id", subnet_ids))
            .send()
            .await
            .map_err(|e| Box::new(NetworkingError::from(AwsError::map("list network interfaces in the subnets of", "stack", ctx.stack())(e))))?;
        let describe = |n: &aws_sdk_ec2::types::NetworkInterface| {
            format!(
                "{} in {} ({})",
                n.network_interface_id().unwrap_or_default(),
                n.subnet_id().unwrap_or_default(),
                n.description().filter(|d| !d.is_empty()).or(n.requester_id()).unwrap_or("no description")
            )
        };
        let (managed, foreign): (Vec<_>, Vec<_>) = enis
            .network_interfaces()
            .iter()
            .partition(|n| n.interface_type().is_some_and(|t| AWS_MANAGED.contains(&t.as_str())));
        if !foreign.is_empty() {
            return Err(Box::new(NetworkingError::Blocked {
                resource: resource.clone(),
                message: format!(
                    "network interfaces created outside Ironbark still use the subnets: {}. Delete what owns them \
                     (Lambda functions in the VPC release theirs up to 20 minutes after deletion), then run destroy again",
                    foreign.iter().map(|n| describe(n)).collect::<Vec<_>>().join("; ")
                ),
            }));
        }
        Ok(if managed.is_empty() {
            ironbark_core::wait::Poll::Ready(())
        } else {
            ironbark_core::wait::Poll::Pending(format!("{} AWS-managed network interfaces being released", managed.len()))
        })
    })
    .await;
    crate::error::waited("network interfaces in the subnets of", &resource, waited)
}
