//! VPC endpoints: gateway endpoints (S3, DynamoDB) on the chosen route tables, interface
//! endpoints in one subnet per AZ. Both on the reconcile kit, each kind's endpoints of the
//! stack read by one `DescribeVpcEndpoints`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, AwsError, Batch, Diff, Resource, ResourceError, Status};
use ironbark_core::tags::Tags;
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
    Ok(find(ctx, logical_id).await?.map(|e| observed_gateway(&e)))
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

fn observed_interface(e: &aws_sdk_ec2::types::VpcEndpoint) -> ObservedInterfaceEndpoint {
    ObservedInterfaceEndpoint {
        id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
        state: e.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        subnets: e.subnet_ids().iter().cloned().collect(),
        security_groups: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        private_dns: e.private_dns_enabled().unwrap_or(false),
    }
}

fn observed_gateway(e: &aws_sdk_ec2::types::VpcEndpoint) -> ObservedEndpoint {
    ObservedEndpoint {
        id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
        service_name: e.service_name().unwrap_or_default().to_owned(),
        route_tables: e.route_table_ids().iter().cloned().collect(),
        tags: ec2::tag_map(e.tags()),
    }
}

/// The states of an endpoint that is (or is becoming) usable; deleted ones are left out.
const LIVE: &[&str] = &["pendingAcceptance", "pending", "available"];

/// The live endpoint tagged `logical_id`, if any.
async fn find(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<aws_sdk_ec2::types::VpcEndpoint>, NetworkingError> {
    let mut filters = ec2::by_id(ctx, logical_id);
    filters.push(ec2::filter("vpc-endpoint-state", LIVE));
    let found = ec2::client(ctx)
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", "VPC endpoint", logical_id))?;
    ec2::at_most_one(logical_id, found, |e| {
        e.vpc_endpoint_id().unwrap_or_default().to_owned()
    })
}

/// Every live endpoint of the stack in one paginated, tag-filtered `DescribeVpcEndpoints`,
/// each of `logical_ids` given its own (or `None`).
async fn find_all(
    ctx: &Context,
    logical_ids: &[&str],
) -> Result<Vec<Option<aws_sdk_ec2::types::VpcEndpoint>>, NetworkingError> {
    let mut filters = ec2::stack_filters(ctx);
    filters.push(ec2::filter("vpc-endpoint-state", LIVE));
    let found = ec2::client(ctx)
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("list VPC endpoints of", "stack", ctx.stack()))?;
    let mut found = ec2::ByLogicalId::new(found, aws_sdk_ec2::types::VpcEndpoint::tags);
    logical_ids
        .iter()
        .map(|id| found.take(id, |e| e.vpc_endpoint_id().unwrap_or_default().to_owned()))
        .collect()
}

/// Known values to add to and remove from a set: (add, remove).
fn set_change(wanted: &[Option<String>], have: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let wanted: BTreeSet<String> = wanted.iter().flatten().cloned().collect();
    (
        wanted.difference(have).cloned().collect(),
        have.difference(&wanted).cloned().collect(),
    )
}

/// What differs between an endpoint and its spec: the plan's fields (with placeholders for
/// ids not known yet) and the known ids to add and remove, which `apply` acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointDiff {
    /// The plan's rendering.
    pub fields: Vec<FieldDiff>,
    /// Subnets (interface) or route tables (gateway) to add.
    pub add: Vec<String>,
    /// Subnets (interface) or route tables (gateway) to remove.
    pub remove: Vec<String>,
    /// Security groups to add (interface).
    pub add_groups: Vec<String>,
    /// Security groups to remove (interface).
    pub remove_groups: Vec<String>,
    /// Private DNS to set (interface).
    pub private_dns: Option<bool>,
}

impl Diff for EndpointDiff {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        self.fields.clone()
    }
}

/// The diff for an interface endpoint. Pure.
#[must_use]
pub fn diff_interface(
    spec: &InterfaceEndpointSpec,
    service_name: &str,
    observed: Option<&ObservedInterfaceEndpoint>,
) -> EndpointDiff {
    let fields = match decide_interface(spec, service_name, observed) {
        Change::Create { fields } | Change::Update { fields } => fields,
        _ => Vec::new(),
    };
    let Some(o) = observed else {
        return EndpointDiff {
            fields,
            ..EndpointDiff::default()
        };
    };
    let (add, remove) = set_change(&spec.subnets, &o.subnets);
    let (add_groups, remove_groups) = set_change(&spec.security_groups, &o.security_groups);
    EndpointDiff {
        fields,
        add,
        remove,
        add_groups,
        remove_groups,
        private_dns: (o.private_dns != spec.private_dns).then_some(spec.private_dns),
    }
}

/// The diff for a gateway endpoint. Pure.
#[must_use]
pub fn diff_gateway(
    spec: &GatewayEndpointSpec,
    service_name: &str,
    observed: Option<&ObservedEndpoint>,
) -> EndpointDiff {
    let fields = match decide(spec, service_name, observed) {
        Change::Create { fields } | Change::Update { fields } => fields,
        _ => Vec::new(),
    };
    let (add, remove) = observed.map_or_else(Default::default, |o| {
        set_change(&spec.route_tables, &o.route_tables)
    });
    EndpointDiff {
        fields,
        add,
        remove,
        ..EndpointDiff::default()
    }
}

fn some(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn endpoint_id(
    kind: &'static str,
    logical_id: &str,
    out: &aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput,
) -> Result<String, NetworkingError> {
    Ok(out
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .ok_or_else(|| ResourceError::Missing {
            kind,
            name: logical_id.to_owned(),
            what: "VPC endpoint id",
        })?
        .to_owned())
}

/// One interface endpoint to converge in a VPC (`None`: plan only).
struct Interface<'a> {
    spec: &'a InterfaceEndpointSpec,
    vpc_id: Option<&'a str>,
    service_name: String,
}

impl Resource for Interface<'_> {
    type Observed = ObservedInterfaceEndpoint;
    type Diff = EndpointDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = "interface endpoint";
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.spec.logical_id.clone()
    }

    fn physical_id(
        &self,
        _ctx: &Context,
        observed: Option<&ObservedInterfaceEndpoint>,
    ) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(
        &self,
        ctx: &Context,
    ) -> Result<Option<ObservedInterfaceEndpoint>, NetworkingError> {
        if self.vpc_id.is_none() {
            return Ok(None);
        }
        Ok(find(ctx, &self.spec.logical_id)
            .await?
            .map(|e| observed_interface(&e)))
    }

    /// Found by its stack, env and `ironbark:id` tags, so always ours.
    fn tags<'o>(
        &self,
        _observed: &'o ObservedInterfaceEndpoint,
    ) -> Option<&'o BTreeMap<String, String>> {
        None
    }

    fn status(&self, observed: &ObservedInterfaceEndpoint) -> Status {
        if observed.state.eq_ignore_ascii_case("available") {
            Status::Ready
        } else if observed.state.eq_ignore_ascii_case("failed") {
            Status::Failed(observed.state.clone())
        } else {
            Status::Pending(observed.state.clone())
        }
    }

    fn wait_timeout(&self) -> Option<std::time::Duration> {
        Some(INTERFACE_TIMEOUT)
    }

    fn diff(&self, _tags: &Tags, observed: Option<&ObservedInterfaceEndpoint>) -> EndpointDiff {
        diff_interface(self.spec, &self.service_name, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedInterfaceEndpoint>,
        diff: &EndpointDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let spec = self.spec;
        if let Some(o) = observed {
            ec2.modify_vpc_endpoint()
                .vpc_endpoint_id(&o.id)
                .set_add_subnet_ids(some(&diff.add))
                .set_remove_subnet_ids(some(&diff.remove))
                .set_add_security_group_ids(some(&diff.add_groups))
                .set_remove_security_group_ids(some(&diff.remove_groups))
                .set_private_dns_enabled(diff.private_dns)
                .send()
                .await
                .map_err(AwsError::map("update", Self::KIND, &spec.logical_id))?;
            return Ok(o.id.clone());
        }
        let vpc = ec2::vpc_or_missing(Self::KIND, &spec.logical_id, self.vpc_id)?;
        let subnets: Vec<String> = spec.subnets.iter().flatten().cloned().collect();
        let groups: Vec<String> = spec.security_groups.iter().flatten().cloned().collect();
        let token = ctx.client_token(&spec.logical_id, &(spec, vpc));
        let out = ec2::when_visible(|| {
            ec2.create_vpc_endpoint()
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .vpc_id(vpc)
                .service_name(&self.service_name)
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
        .map_err(AwsError::map("create", Self::KIND, &spec.logical_id))?;
        endpoint_id(Self::KIND, &spec.logical_id, &out)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedInterfaceEndpoint) -> String {
        observed.id.clone()
    }
}

/// Every endpoint of the stack in one `DescribeVpcEndpoints`.
impl Batch for Interface<'_> {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<ObservedInterfaceEndpoint>>, NetworkingError> {
        if resources.iter().all(|r| r.vpc_id.is_none()) {
            return Ok(resources.iter().map(|_| None).collect());
        }
        let ids: Vec<&str> = resources
            .iter()
            .map(|r| r.spec.logical_id.as_str())
            .collect();
        Ok(find_all(ctx, &ids)
            .await?
            .iter()
            .map(|e| e.as_ref().map(observed_interface))
            .collect())
    }
}

fn interface<'a>(
    ctx: &Context,
    vpc_id: Option<&'a str>,
    spec: &'a InterfaceEndpointSpec,
) -> Interface<'a> {
    Interface {
        spec,
        vpc_id,
        service_name: format!("com.amazonaws.{}.{}", ctx.region(), spec.service),
    }
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
    Ok(Outcome::of(
        reconcile::converge(ctx, &interface(ctx, vpc_id, spec)).await?,
    ))
}

/// [`ensure_interface_endpoint`] for several endpoints, with one `DescribeVpcEndpoints` for
/// all of them.
///
/// # Idempotency
/// As [`ensure_interface_endpoint`].
///
/// # Errors
/// As [`ensure_interface_endpoint`]; the first error after the others finish.
pub async fn ensure_interface_endpoints(
    ctx: &Context,
    vpc_id: Option<&str>,
    specs: &[InterfaceEndpointSpec],
) -> Result<Vec<Outcome>, NetworkingError> {
    let all: Vec<Interface<'_>> = specs.iter().map(|s| interface(ctx, vpc_id, s)).collect();
    Ok(ec2::outcomes(reconcile::converge_all(ctx, &all).await?))
}

/// One gateway endpoint to converge in a VPC (`None`: plan only).
struct Gateway<'a> {
    spec: &'a GatewayEndpointSpec,
    vpc_id: Option<&'a str>,
    service_name: String,
}

impl Resource for Gateway<'_> {
    type Observed = ObservedEndpoint;
    type Diff = EndpointDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = "gateway endpoint";
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.spec.logical_id.clone()
    }

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedEndpoint>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedEndpoint>, NetworkingError> {
        if self.vpc_id.is_none() {
            return Ok(None);
        }
        Ok(find(ctx, &self.spec.logical_id)
            .await?
            .map(|e| observed_gateway(&e)))
    }

    /// Found by its stack, env and `ironbark:id` tags, so always ours.
    fn tags<'o>(&self, _observed: &'o ObservedEndpoint) -> Option<&'o BTreeMap<String, String>> {
        None
    }

    fn diff(&self, _tags: &Tags, observed: Option<&ObservedEndpoint>) -> EndpointDiff {
        diff_gateway(self.spec, &self.service_name, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedEndpoint>,
        diff: &EndpointDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let spec = self.spec;
        if let Some(o) = observed {
            ec2.modify_vpc_endpoint()
                .vpc_endpoint_id(&o.id)
                .set_add_route_table_ids(some(&diff.add))
                .set_remove_route_table_ids(some(&diff.remove))
                .send()
                .await
                .map_err(AwsError::map(
                    "update route tables of",
                    Self::KIND,
                    &spec.logical_id,
                ))?;
            return Ok(o.id.clone());
        }
        let vpc = ec2::vpc_or_missing(Self::KIND, &spec.logical_id, self.vpc_id)?;
        let tables: Vec<String> = spec.route_tables.iter().flatten().cloned().collect();
        let token = ctx.client_token(&spec.logical_id, &(spec, vpc));
        let out = ec2::when_visible(|| {
            ec2.create_vpc_endpoint()
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .vpc_id(vpc)
                .service_name(&self.service_name)
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
        .map_err(AwsError::map("create", Self::KIND, &spec.logical_id))?;
        endpoint_id(Self::KIND, &spec.logical_id, &out)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedEndpoint) -> String {
        observed.id.clone()
    }
}

/// Every endpoint of the stack in one `DescribeVpcEndpoints`.
impl Batch for Gateway<'_> {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<ObservedEndpoint>>, NetworkingError> {
        if resources.iter().all(|r| r.vpc_id.is_none()) {
            return Ok(resources.iter().map(|_| None).collect());
        }
        let ids: Vec<&str> = resources
            .iter()
            .map(|r| r.spec.logical_id.as_str())
            .collect();
        Ok(find_all(ctx, &ids)
            .await?
            .iter()
            .map(|e| e.as_ref().map(observed_gateway))
            .collect())
    }
}

fn gateway<'a>(
    ctx: &Context,
    vpc_id: Option<&'a str>,
    spec: &'a GatewayEndpointSpec,
) -> Gateway<'a> {
    Gateway {
        spec,
        vpc_id,
        service_name: format!("com.amazonaws.{}.{}", ctx.region(), spec.service),
    }
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
    Ok(Outcome::of(
        reconcile::converge(ctx, &gateway(ctx, vpc_id, spec)).await?,
    ))
}

/// [`ensure_gateway_endpoint`] for several endpoints, with one `DescribeVpcEndpoints` for all
/// of them.
///
/// # Idempotency
/// As [`ensure_gateway_endpoint`].
///
/// # Errors
/// As [`ensure_gateway_endpoint`]; the first error after the others finish.
pub async fn ensure_gateway_endpoints(
    ctx: &Context,
    vpc_id: Option<&str>,
    specs: &[GatewayEndpointSpec],
) -> Result<Vec<Outcome>, NetworkingError> {
    let all: Vec<Gateway<'_>> = specs.iter().map(|s| gateway(ctx, vpc_id, s)).collect();
    Ok(ec2::outcomes(reconcile::converge_all(ctx, &all).await?))
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
