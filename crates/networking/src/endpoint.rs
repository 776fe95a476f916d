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
