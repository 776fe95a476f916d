//! Gateway VPC endpoints (S3, DynamoDB) on the chosen route tables.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::Context;
use serde::Serialize;

use crate::ec2::{self, Outcome, KNOWN_AFTER_APPLY};
use crate::error::NetworkingError;

/// The desired gateway endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayEndpointSpec {
    /// Logical id (`networking/endpoint/s3`).
    pub logical_id: String,
    /// `s3` or `dynamodb`.
    pub service: String,
    /// Route tables it adds its prefix-list route to (`None`: known after apply).
    pub route_tables: Vec<Option<String>>,
}

/// The endpoint as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEndpoint {
    /// `vpce-...`.
    pub id: String,
    /// Its service name.
    pub service_name: String,
    /// Its route tables.
    pub route_tables: BTreeSet<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// The logical id of the gateway endpoint for `service`.
#[must_use]
pub fn logical_id(service: &str) -> String {
    format!("networking/endpoint/{service}")
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(
    spec: &GatewayEndpointSpec,
    service_name: &str,
    observed: Option<&ObservedEndpoint>,
) -> Change {
    let show = |t: &Option<String>| t.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
    let Some(o) = observed else {
        let mut fields = vec![FieldDiff::set("service_name", service_name)];
        fields.extend(
            spec.route_tables
                .iter()
                .map(|t| FieldDiff::set("route_table", show(t))),
        );
        return Change::Create { fields };
    };
    let wanted: BTreeSet<String> = spec.route_tables.iter().map(show).collect();
    let mut fields: Vec<FieldDiff> = wanted
        .difference(&o.route_tables)
        .map(|t| FieldDiff::new("route_table", None::<String>, Some(t)))
        .collect();
    fields.extend(
        o.route_tables
            .difference(&wanted)
            .map(|t| FieldDiff::new("route_table", Some(t), None::<String>)),
    );
    Change::update_if_any(fields)
}

/// Finds the endpoint by its tag (deleted ones excluded).
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<ObservedEndpoint>, NetworkingError> {
    let mut filters = ec2::by_id(ctx, logical_id);
    filters.push(ec2::filter(
        "vpc-endpoint-state",
        &["pendingAcceptance", "pending", "available"],
    ));
    let found = ec2::client(ctx)
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(NetworkingError::aws("find VPC endpoint", logical_id))?;
    Ok(ec2::at_most_one(logical_id, found, |e| {
        e.vpc_endpoint_id().unwrap_or_default().to_owned()
    })?
    .map(|e| ObservedEndpoint {
        id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
        service_name: e.service_name().unwrap_or_default().to_owned(),
        route_tables: e.route_table_ids().iter().cloned().collect(),
        tags: ec2::tag_map(e.tags()),
    }))
}

/// Ensures a gateway endpoint for `spec.service` on exactly `spec.route_tables`.
///
/// # Idempotency
/// Found by tag; `CreateVpcEndpoint` carries a `ClientToken` from (stack, env, logical id,
/// spec), so a retried create returns the same endpoint. Route tables are added and removed
/// in place (`ModifyVpcEndpoint`).
///
/// # Errors
/// AWS errors, duplicates.
pub async fn ensure_gateway_endpoint(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &GatewayEndpointSpec,
) -> Result<Outcome, NetworkingError> {
    ec2::tracked(ctx, &spec.logical_id, async {
        let service_name = format!("com.amazonaws.{}.{}", ctx.region(), spec.service);
        let observed = match vpc_id {
            Some(_) => observe(ctx, &spec.logical_id).await?,
            None => None,
        };
        let change = decide(spec, &service_name, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        let tables: Vec<String> = spec.route_tables.iter().flatten().cloned().collect();
        if let (true, Some(vpc), true) = (ctx.is_apply(), vpc_id, change.is_change()) {
            let ec2 = ec2::client(ctx);
            match &observed {
                None => {
                    let token = ctx.client_token(&spec.logical_id, &(spec, vpc));
                    let out = ec2::when_visible(|| {
                        ec2.create_vpc_endpoint()
                            .vpc_endpoint_type(VpcEndpointType::Gateway)
                            .vpc_id(vpc)
                            .service_name(&service_name)
                            .set_route_table_ids(Some(tables.clone()))
                            .client_token(&token)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.logical_id,
                                ResourceType::VpcEndpoint,
                            ))
                            .send()
                    })
                    .await
                    .map_err(NetworkingError::aws(
                        "create gateway endpoint",
                        &spec.logical_id,
                    ))?;
                    id = out
                        .vpc_endpoint()
                        .and_then(|e| e.vpc_endpoint_id())
                        .map(str::to_owned);
                }
                Some(o) => {
                    let wanted: BTreeSet<String> = tables.iter().cloned().collect();
                    let add: Vec<String> = wanted.difference(&o.route_tables).cloned().collect();
                    let remove: Vec<String> = o.route_tables.difference(&wanted).cloned().collect();
                    ec2.modify_vpc_endpoint()
                        .vpc_endpoint_id(&o.id)
                        .set_add_route_table_ids((!add.is_empty()).then_some(add))
                        .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
                        .send()
                        .await
                        .map_err(NetworkingError::aws(
                            "update route tables of",
                            &spec.logical_id,
                        ))?;
                }
            }
        }
        Ok(Outcome {
            change: ec2::resource_change(
                &spec.logical_id,
                "gateway endpoint",
                id.as_deref(),
                change,
            ),
            id,
        })
    })
    .await
}

/// The desired interface endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceEndpointSpec {
    /// Logical id (`networking/endpoint/secretsmanager`).
    pub logical_id: String,
    /// The service (`secretsmanager`, `bedrock-runtime`).
    pub service: String,
    /// One subnet per AZ (`None`: known after apply).
    pub subnets: Vec<Option<String>>,
    /// Its security groups (`None`: known after apply).
    pub security_groups: Vec<Option<String>>,
    /// Private DNS for the service's public name.
    pub private_dns: bool,
}

/// An interface endpoint as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInterfaceEndpoint {
    /// `vpce-...`.
    pub id: String,
    /// `pending`, `available`, ...
    pub state: String,
    /// Its subnets.
    pub subnets: BTreeSet<String>,
    /// Its security groups.
    pub security_groups: BTreeSet<String>,
    /// Private DNS.
    pub private_dns: bool,
}

/// How long an interface endpoint may take to become available.
pub const INTERFACE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

fn set_diff(field: &str, wanted: &[Option<String>], have: &BTreeSet<String>) -> Vec<FieldDiff> {
    let show = |t: &Option<String>| t.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
    let wanted: BTreeSet<String> = wanted.iter().map(show).collect();
    let mut out: Vec<FieldDiff> = wanted
        .difference(have)
        .map(|t| FieldDiff::new(field, None::<String>, Some(t)))
        .collect();
    out.extend(
        have.difference(&wanted)
            .map(|t| FieldDiff::new(field, Some(t), None::<String>)),
    );
    out
}

/// Decides what to do with an interface endpoint. Pure.
#[must_use]
pub fn decide_interface(
    spec: &InterfaceEndpointSpec,
    service_name: &str,
    observed: Option<&ObservedInterfaceEndpoint>,
) -> Change {
    let Some(o) = observed else {
        let mut fields = vec![
            FieldDiff::set("service_name", service_name),
            FieldDiff::set("private_dns", spec.private_dns),
        ];
        fields.extend(set_diff("subnet", &spec.subnets, &BTreeSet::new()));
        fields.extend(set_diff(
            "security_group",
            &spec.security_groups,
            &BTreeSet::new(),
        ));
        return Change::Create { fields };
    };
    let mut fields = set_diff("subnet", &spec.subnets, &o.subnets);
    fields.extend(set_diff(
        "security_group",
        &spec.security_groups,
        &o.security_groups,
    ));
    if o.private_dns != spec.private_dns {
        fields.push(FieldDiff::new(
            "private_dns",
            Some(o.private_dns),
            Some(spec.private_dns),
        ));
    }
    Change::update_if_any(fields)
}

async fn observe_interface(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<ObservedInterfaceEndpoint>, NetworkingError> {
    let mut filters = ec2::by_id(ctx, logical_id);
    filters.push(ec2::filter(
        "vpc-endpoint-state",
        &["pendingAcceptance", "pending", "available"],
    ));
    let found = ec2::client(ctx)
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(NetworkingError::aws("find VPC endpoint", logical_id))?
        .vpc_endpoints()
        .to_vec();
    Ok(ec2::at_most_one(logical_id, found, |e| {
        e.vpc_endpoint_id().unwrap_or_default().to_owned()
    })?
    .map(|e| ObservedInterfaceEndpoint {
        id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
        state: e.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        subnets: e.subnet_ids().iter().cloned().collect(),
        security_groups: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        private_dns: e.private_dns_enabled().unwrap_or(false),
    }))
}

async fn wait_interface_available(ctx: &Context, logical_id: &str) -> Result<(), NetworkingError> {
    ironbark_core::wait::wait_for(
        ctx.reporter().as_ref(),
        logical_id,
        &ctx.wait_policy(INTERFACE_TIMEOUT),
        || async {
            Ok(
                match observe_interface(ctx, logical_id).await.map_err(Box::new)? {
                    Some(e) if e.state.eq_ignore_ascii_case("available") => {
                        ironbark_core::wait::Poll::Ready(())
                    }
                    Some(e) if e.state.eq_ignore_ascii_case("failed") => {
                        ironbark_core::wait::Poll::Failed(e.state)
                    }
                    Some(e) => ironbark_core::wait::Poll::Pending(e.state),
                    None => ironbark_core::wait::Poll::Pending("not visible yet".into()),
                },
            )
        },
    )
    .await?;
    Ok(())
}

/// Ensures an interface endpoint for `spec.service` in exactly the spec's subnets and
/// security groups, and waits until it is available.
///
/// # Idempotency
/// Found by tag; `CreateVpcEndpoint` carries a `ClientToken` from (stack, env, logical id,
/// spec); an endpoint found `pending` is waited for, not re-created. Subnets, groups and
/// private DNS change in place (`ModifyVpcEndpoint`).
///
/// # Errors
/// AWS errors, duplicates, an endpoint that fails or does not become available in 10 minutes.
pub async fn ensure_interface_endpoint(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &InterfaceEndpointSpec,
) -> Result<Outcome, NetworkingError> {
    ec2::tracked(ctx, &spec.logical_id, async {
        let service_name = format!("com.amazonaws.{}.{}", ctx.region(), spec.service);
        let observed = match vpc_id {
            Some(_) => observe_interface(ctx, &spec.logical_id).await?,
            None => None,
        };
        let change = decide_interface(spec, &service_name, observed.as_ref()).or_in_progress(
            observed
                .as_ref()
                .map(|o| o.state.as_str())
                .filter(|s| !s.eq_ignore_ascii_case("available")),
        );
        let mut id = observed.as_ref().map(|o| o.id.clone());
        let subnets: Vec<String> = spec.subnets.iter().flatten().cloned().collect();
        let groups: Vec<String> = spec.security_groups.iter().flatten().cloned().collect();
        if let (true, Some(vpc)) = (ctx.is_apply(), vpc_id) {
            let ec2 = ec2::client(ctx);
            match &observed {
                None => {
                    let token = ctx.client_token(&spec.logical_id, &(spec, vpc));
                    let out = ec2::when_visible(|| {
                        ec2.create_vpc_endpoint()
                            .vpc_endpoint_type(VpcEndpointType::Interface)
                            .vpc_id(vpc)
                            .service_name(&service_name)
                            .set_subnet_ids(Some(subnets.clone()))
                            .set_security_group_ids(Some(groups.clone()))
                            .private_dns_enabled(spec.private_dns)
                            .client_token(&token)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.logical_id,
                                ResourceType::VpcEndpoint,
                            ))
                            .send()
                    })
                    .await
                    .map_err(NetworkingError::aws(
                        "create interface endpoint",
                        &spec.logical_id,
                    ))?;
                    id = out
                        .vpc_endpoint()
                        .and_then(|e| e.vpc_endpoint_id())
                        .map(str::to_owned);
                }
                Some(o) if change.writes() => {
                    let diff =
                        |want: &[String], have: &BTreeSet<String>| -> (Vec<String>, Vec<String>) {
                            let want: BTreeSet<String> = want.iter().cloned().collect();
                            (
                                want.difference(have).cloned().collect(),
                                have.difference(&want).cloned().collect(),
                            )
                        };
                    let (add_subnets, remove_subnets) = diff(&subnets, &o.subnets);
                    let (add_groups, remove_groups) = diff(&groups, &o.security_groups);
                    let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
                    ec2.modify_vpc_endpoint()
                        .vpc_endpoint_id(&o.id)
                        .set_add_subnet_ids(some(add_subnets))
                        .set_remove_subnet_ids(some(remove_subnets))
                        .set_add_security_group_ids(some(add_groups))
                        .set_remove_security_group_ids(some(remove_groups))
                        .set_private_dns_enabled(
                            (o.private_dns != spec.private_dns).then_some(spec.private_dns),
                        )
                        .send()
                        .await
                        .map_err(NetworkingError::aws(
                            "update interface endpoint",
                            &spec.logical_id,
                        ))?;
                }
                Some(_) => {}
            }
            if observed
                .as_ref()
                .is_none_or(|o| !o.state.eq_ignore_ascii_case("available"))
            {
                wait_interface_available(ctx, &spec.logical_id).await?;
            }
        }
        Ok(Outcome {
            change: ec2::resource_change(
                &spec.logical_id,
                "interface endpoint",
                id.as_deref(),
                change,
            ),
            id,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_endpoint_decisions() {
        let spec = InterfaceEndpointSpec {
            logical_id: "networking/endpoint/sts".into(),
            service: "sts".into(),
            subnets: vec![Some("subnet-a".into()), Some("subnet-b".into())],
            security_groups: vec![Some("sg-1".into())],
            private_dns: true,
        };
        assert!(matches!(
            decide_interface(&spec, "x", None),
            Change::Create { .. }
        ));
        let mut o = ObservedInterfaceEndpoint {
            id: "vpce-1".into(),
            state: "available".into(),
            subnets: ["subnet-a".to_owned(), "subnet-b".to_owned()].into(),
            security_groups: ["sg-1".to_owned()].into(),
            private_dns: true,
        };
        assert_eq!(decide_interface(&spec, "x", Some(&o)), Change::NoOp);
        o.subnets.remove("subnet-b");
        o.private_dns = false;
        let Change::Update { fields } = decide_interface(&spec, "x", Some(&o)) else {
            panic!()
        };
        let names: Vec<_> = fields
            .iter()
            .map(|f| (f.field.as_str(), f.new.as_deref()))
            .collect();
        assert_eq!(
            names,
            [("subnet", Some("subnet-b")), ("private_dns", Some("true"))]
        );
    }
}
