//! Ironbark networking: VPC, subnets, internet and NAT gateways, route tables, security
//! groups, gateway endpoints; found again by their `ironbark:id` tags, adopted if they exist,
//! never duplicated, reconciled field by field, destroyed in dependency order.
//!
//! [`ensure_networking`] converges a whole [`NetworkingConfig`]; each resource kind also has
//! its own `ensure_*` (observe, pure `decide`, act) for tools that compose differently.
//!
//! ```no_run
//! # async fn example(cfg: &ironbark_core::config::StackConfig) -> Result<(), ironbark_networking::NetworkingError> {
//! use ironbark_core::{Context, Mode};
//! let ctx = Context::builder("shop", "prod").region("eu-west-1").mode(Mode::Apply).build().await;
//! let out = ironbark_networking::ensure_networking(&ctx, &cfg.networking, cfg.az_count).await?;
//! println!("VPC {}", out.outputs["vpc_id"]);
//! # Ok(()) }
//! ```

// `NetworkingError` wraps core's `ResourceError`, whose `AwsError` keeps AWS's code, message and
// status inline so every message can name them; boxing it would cost every caller a match
// through the box for no measured gain.
#![allow(clippy::result_large_err)]
mod default_sg;
mod destroy;
mod ec2;
pub mod endpoint;
mod error;
pub mod flow_logs;
pub mod igw;
pub mod nacl;
pub mod nat;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use std::collections::BTreeMap;

use futures::future::try_join_all;
use ironbark_core::config::{NetworkingConfig, TierKind};
use ironbark_core::plan::Plan;
use ironbark_core::reconcile::AwsError;
use ironbark_core::Context;

pub use default_sg::ensure_default_group_empty;
pub use destroy::destroy_networking;
pub use ec2::{Outcome, KNOWN_AFTER_APPLY};
pub use error::NetworkingError;

/// What [`ensure_networking`] did (or would do) and the ids it leaves for other layers.
#[derive(Debug, Default)]
#[must_use]
pub struct NetworkingOutcome {
    /// Every resource's change.
    pub plan: Plan,
    /// `vpc_id`, `subnet.<tier>.<az>`, `subnets.<tier>` (comma-separated),
    /// `security_group.<name>`, `nat.<az>`, `endpoint.<service>`; placeholders in plan mode
    /// for what does not exist yet.
    pub outputs: BTreeMap<String, String>,
}

/// The first `count` available AZs of the region, in name order.
///
/// # Errors
/// AWS errors, or fewer AZs than asked for.
pub async fn availability_zones(ctx: &Context, count: u8) -> Result<Vec<String>, NetworkingError> {
    let out = ec2::client(ctx)
        .describe_availability_zones()
        .filters(ec2::filter("state", &["available"]))
        .filters(ec2::filter("zone-type", &["availability-zone"]))
        .send()
        .await
        .map_err(AwsError::map(
            "list availability zones of",
            "region",
            ctx.region(),
        ))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    zones.sort();
    if zones.len() < usize::from(count) {
        return Err(NetworkingError::Blocked {
            resource: "networking.az_count".into(),
            message: format!(
                "{count} AZs asked for, {} has {}: {}",
                ctx.region(),
                zones.len(),
                zones.join(", ")
            ),
        });
    }
    zones.truncate(usize::from(count));
    Ok(zones)
}

/// Converges the whole networking layer. Independent resources are handled concurrently
/// (subnets together, security groups together, NAT gateways together), and nothing waits that
/// need not: only private routes wait for their NAT gateway.
///
/// # Idempotency
/// Every resource is found again by its tag; re-running a converged stack writes nothing, and
/// a run interrupted anywhere is completed by the next. NAT gateways no longer wanted (fewer
/// NATs configured) are deleted only after the routes are repointed away from them.
///
/// # Errors
/// The first resource that failed (the others finish first).
pub async fn ensure_networking(
    ctx: &Context,
    cfg: &NetworkingConfig,
    az_count: u8,
) -> Result<NetworkingOutcome, NetworkingError> {
    ensure_networking_with(ctx, cfg, az_count, |_| {}).await
}

/// [`ensure_networking`], calling `on_ready` with the outputs known once the VPC, subnets and
/// security groups exist (`vpc_id`, `subnet.*`, `subnets.*`, `security_group.*`), before NAT
/// gateways, routes and endpoints: what databases and caches need, so they can start while
/// NAT gateways are still becoming available.
///
/// # Idempotency
/// As [`ensure_networking`]; `on_ready` is called once, in plan mode too (with placeholders
/// for what does not exist yet).
///
/// # Errors
/// As [`ensure_networking`].
pub async fn ensure_networking_with(
    ctx: &Context,
    cfg: &NetworkingConfig,
    az_count: u8,
    on_ready: impl FnOnce(&BTreeMap<String, String>) + Send,
) -> Result<NetworkingOutcome, NetworkingError> {
    let mut out = NetworkingOutcome::default();
    let vpc_cidr = ironbark_core::config::parse_vpc_cidr(&cfg.vpc_cidr).map_err(|message| {
        NetworkingError::Blocked {
            resource: "networking.vpc_cidr".into(),
            message,
        }
    })?;
    let azs = availability_zones(ctx, az_count).await?;

    let vpc = vpc::ensure_vpc(
        ctx,
        &vpc::VpcSpec {
            logical_id: "networking/vpc".into(),
            cidr: vpc_cidr,
            dns_support: true,
            dns_hostnames: true,
        },
    )
    .await?;
    let vpc_id = vpc.id.clone();
    out.outputs
        .insert("vpc_id".into(), ec2::or_placeholder(vpc_id.as_ref()));
    out.plan.push(vpc.change);
    let vpc_ref = vpc_id.as_deref();

    // Subnets, carved from the VPC CIDR.
    let layout: Vec<ironbark_core::cidr::TierLayout> = cfg
        .tiers
        .iter()
        .map(|(name, t)| ironbark_core::cidr::TierLayout {
            name: name.clone(),
            slot: t.slot,
            prefix: t.prefix,
        })
        .collect();
    let carved = ironbark_core::cidr::subnets_for(vpc_cidr, &layout, azs.len()).map_err(|e| {
        NetworkingError::Blocked {
            resource: "networking.tiers".into(),
            message: e.to_string(),
        }
    })?;
    let subnet_specs: Vec<subnet::SubnetSpec> = carved
        .iter()
        .map(|(tier, az, cidr)| subnet::SubnetSpec {
            logical_id: format!("networking/subnet/{tier}/{}", azs[*az]),
            tier: tier.clone(),
            az: azs[*az].clone(),
            cidr: *cidr,
            map_public_ip: cfg.tiers[tier].map_public_ip,
        })
        .collect();

    let group_specs: Vec<(&str, &str)> = cfg
        .security_groups
        .iter()
        .map(|(name, g)| (name.as_str(), g.description.as_str()))
        .collect();
    let (default_group, gateway, subnets, groups, existing_nats) = tokio::try_join!(
        default_sg::ensure_default_group_empty(ctx, vpc_ref),
        igw::ensure_internet_gateway(ctx, vpc_ref),
        subnet::ensure_subnets(ctx, vpc_ref, &subnet_specs),
        security_group::ensure_groups(ctx, vpc_ref, &group_specs),
        async {
            if vpc_ref.is_some() {
                nat::observe_all(ctx).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    out.plan.push(default_group.change);
    out.plan.push(gateway.change.clone());
    let mut subnet_ids: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for (spec, outcome) in subnet_specs.iter().zip(subnets) {
        out.outputs.insert(
            format!("subnet.{}.{}", spec.tier, spec.az),
            outcome.id_or_placeholder(),
        );
        subnet_ids.insert((spec.tier.clone(), spec.az.clone()), outcome.id.clone());
        out.plan.push(outcome.change);
    }
    for tier in cfg.tiers.keys() {
        let ids: Vec<String> = azs
            .iter()
            .map(|az| ec2::or_placeholder(subnet_ids[&(tier.clone(), az.clone())].as_ref()))
            .collect();
        out.outputs.insert(format!("subnets.{tier}"), ids.join(","));
    }
    let mut group_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (name, outcome) in cfg.security_groups.keys().zip(groups) {
        out.outputs.insert(
            format!("security_group.{name}"),
            outcome.id_or_placeholder(),
        );
        group_ids.insert(name.clone(), outcome.id.clone());
        out.plan.push(outcome.change);
    }
    on_ready(&out.outputs);

    // Rules, NAT gateways and the public route table, concurrently.
    let mut tiers_by_slot: Vec<(&String, &ironbark_core::config::TierConfig)> =
        cfg.tiers.iter().collect();
    tiers_by_slot.sort_by_key(|(_, t)| t.slot);
    let public_tier = tiers_by_slot
        .iter()
        .find(|(_, t)| t.kind == TierKind::Public)
        .map(|(n, _)| (*n).clone());
    let nat_specs: Vec<nat::NatSpec> = nat::nat_azs(&azs, cfg.nat_gateways)
        .iter()
        .map(|az| nat::spec_for(az))
        .collect();
    let rules: Vec<(String, security_group::Rules)> = cfg
        .security_groups
        .iter()
        .map(|(name, g)| {
            Ok((
                name.clone(),
                security_group::resolve_rules(g, &group_ids, &vpc_cidr.to_string())?,
            ))
        })
        .collect::<Result<_, NetworkingError>>()?;
    let subnets_of = |kind: TierKind, az: Option<&str>| -> Vec<Option<String>> {
        subnet_specs
            .iter()
            .filter(|s| cfg.tiers[&s.tier].kind == kind && az.is_none_or(|a| a == s.az))
            .map(|s| subnet_ids[&(s.tier.clone(), s.az.clone())].clone())
            .collect()
    };
    let public_table = route_table::RouteTableSpec {
        logical_id: "networking/route-table/public".into(),
        routes: [("0.0.0.0/0".to_owned(), gateway.id.clone())].into(),
        subnets: subnets_of(TierKind::Public, None),
    };
    let has_public = !public_table.subnets.is_empty();
    // Interface endpoints go in the first private tier's subnets (one per AZ).
    let private_tier = tiers_by_slot
        .iter()
        .find(|(_, t)| t.kind == TierKind::Private)
        .map(|(n, _)| (*n).clone());
    let interface_specs: Vec<endpoint::InterfaceEndpointSpec> = match &private_tier {
        Some(tier) => cfg
            .interface_endpoints
            .iter()
            .map(|service| endpoint::InterfaceEndpointSpec {
                logical_id: endpoint::logical_id(service),
                service: service.clone(),
                subnets: azs
                    .iter()
                    .map(|az| subnet_ids[&(tier.clone(), az.clone())].clone())
                    .collect(),
                security_groups: cfg
                    .endpoint_security_group
                    .iter()
                    .map(|g| group_ids.get(g).cloned().flatten())
                    .collect(),
                private_dns: true,
            })
            .collect(),
        None => Vec::new(),
    };
    let nacl_specs: Vec<nacl::NaclSpec> = cfg
        .nacls
        .iter()
        .map(|(name, n)| {
            Ok(nacl::NaclSpec {
                logical_id: format!("networking/nacl/{name}"),
                entries: nacl::resolve_entries(n, &vpc_cidr.to_string())?,
                subnets: subnet_specs
                    .iter()
                    .filter(|s| n.tiers.contains(&s.tier))
                    .map(|s| subnet_ids[&(s.tier.clone(), s.az.clone())].clone())
                    .collect(),
            })
        })
        .collect::<Result<_, NetworkingError>>()?;
    // Every route table of the stack, read once: the public one now, the private and isolated
    // ones once their NAT gateways exist (nothing else writes them in between).
    let private_exists = cfg.tiers.values().any(|t| t.kind == TierKind::Private);
    let isolated_exists = cfg.tiers.values().any(|t| t.kind == TierKind::Isolated);
    let mut table_ids: Vec<String> = vec![public_table.logical_id.clone()];
    if private_exists {
        table_ids.extend(
            azs.iter()
                .map(|az| format!("networking/route-table/private/{az}")),
        );
    }
    if isolated_exists {
        table_ids.push("networking/route-table/isolated".into());
    }
    let mut tables: BTreeMap<String, route_table::ObservedRouteTable> = BTreeMap::new();
    if vpc_ref.is_some() {
        let ids: Vec<&str> = table_ids.iter().map(String::as_str).collect();
        for (id, found) in table_ids
            .iter()
            .zip(route_table::observe_all(ctx, &ids).await?)
        {
            if let Some(t) = found {
                tables.insert(id.clone(), t);
            }
        }
    }
    let public_observed = tables.remove(&public_table.logical_id);
    let rule_sets: Vec<(&str, Option<&str>, &security_group::Rules)> = rules
        .iter()
        .map(|(name, r)| (name.as_str(), group_ids[name].as_deref(), r))
        .collect();
    let (rule_outcomes, nats, public_rt, interfaces, nacls) = tokio::try_join!(
        security_group::ensure_all_rules(ctx, &rule_sets),
        try_join_all(nat_specs.iter().map(|spec| {
            let subnet = public_tier
                .as_ref()
                .and_then(|t| subnet_ids.get(&(t.clone(), spec.az.clone())))
                .cloned()
                .flatten();
            let existing = &existing_nats;
            async move { nat::ensure_nat_gateway(ctx, spec, subnet.as_deref(), existing).await }
        })),
        async {
            if has_public {
                route_table::ensure_observed(ctx, vpc_ref, &public_table, public_observed)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        },
        endpoint::ensure_interface_endpoints(ctx, vpc_ref, &interface_specs),
        try_join_all(
            nacl_specs
                .iter()
                .map(|s| nacl::ensure_nacl(ctx, vpc_ref, s))
        ),
    )?;
    for (spec, outcome) in nacl_specs.iter().zip(nacls) {
        out.outputs.insert(
            spec.logical_id.replace("networking/", "").replace('/', "."),
            outcome.id_or_placeholder(),
        );
        out.plan.push(outcome.change);
    }
    for (spec, outcome) in interface_specs.iter().zip(interfaces) {
        out.outputs.insert(
            format!("endpoint.{}", spec.service),
            outcome.id_or_placeholder(),
        );
        out.plan.push(outcome.change);
    }
    out.plan.extend(Plan {
        resources: rule_outcomes.into_iter().map(|o| o.change).collect(),
    });
    let mut nat_by_az: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (spec, outcome) in nat_specs.iter().zip(nats) {
        out.outputs
            .insert(format!("nat.{}", spec.az), outcome.id_or_placeholder());
        nat_by_az.insert(spec.az.clone(), outcome.id.clone());
        out.plan.push(outcome.change);
    }
    let mut private_tables = Vec::new();
    if let Some(rt) = public_rt {
        out.outputs
            .insert("route_table.public".into(), rt.id_or_placeholder());
        out.plan.push(rt.change);
    }

    // Private route tables (one per AZ, default route to the AZ's NAT or the single one) and
    // the isolated one.
    let mut specs = Vec::new();
    if private_exists {
        for az in &azs {
            let nat = match cfg.nat_gateways {
                0 => None,
                1 => Some(nat_by_az.values().next().cloned().flatten()),
                _ => Some(nat_by_az.get(az).cloned().flatten()),
            };
            specs.push(route_table::RouteTableSpec {
                logical_id: format!("networking/route-table/private/{az}"),
                routes: nat
                    .map(|n| ("0.0.0.0/0".to_owned(), n))
                    .into_iter()
                    .collect(),
                subnets: subnets_of(TierKind::Private, Some(az)),
            });
        }
    }
    if isolated_exists {
        specs.push(route_table::RouteTableSpec {
            logical_id: "networking/route-table/isolated".into(),
            routes: BTreeMap::new(),
            subnets: subnets_of(TierKind::Isolated, None),
        });
    }
    for (spec, outcome) in specs.iter().zip(
        try_join_all(specs.iter().map(|s| {
            let observed = tables.remove(&s.logical_id);
            route_table::ensure_observed(ctx, vpc_ref, s, observed)
        }))
        .await?,
    ) {
        let key = spec
            .logical_id
            .trim_start_matches("networking/route-table/")
            .replace('/', ".");
        out.outputs
            .insert(format!("route_table.{key}"), outcome.id_or_placeholder());
        private_tables.push(outcome.id.clone());
        out.plan.push(outcome.change);
    }

    // Gateway endpoints on every private and isolated route table.
    let endpoint_specs: Vec<endpoint::GatewayEndpointSpec> = cfg
        .gateway_endpoints
        .iter()
        .map(|service| endpoint::GatewayEndpointSpec {
            logical_id: endpoint::logical_id(service),
            service: service.clone(),
            route_tables: private_tables.clone(),
        })
        .collect();
    for (spec, outcome) in endpoint_specs
        .iter()
        .zip(endpoint::ensure_gateway_endpoints(ctx, vpc_ref, &endpoint_specs).await?)
    {
        out.outputs.insert(
            format!("endpoint.{}", spec.service),
            outcome.id_or_placeholder(),
        );
        out.plan.push(outcome.change);
    }

    // NAT gateways no longer wanted, now that no route points at them.
    let wanted: Vec<&str> = nat_specs.iter().map(|s| s.logical_id.as_str()).collect();
    let mut extra: Vec<&nat::ObservedNat> = existing_nats
        .iter()
        .filter(|n| !wanted.contains(&n.logical_id.as_str()))
        .collect();
    extra.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    for outcome in try_join_all(extra.into_iter().map(|n| nat::delete_nat_gateway(ctx, n))).await? {
        out.plan.push(outcome.change);
    }
    Ok(out)
}
