//! Route tables with their routes and subnet associations, reconciled individually: missing
//! routes added, wrong targets replaced, foreign routes removed. Routes that gateway endpoints
//! own (prefix-list destinations) and the VPC's `local` route are left alone. Every table of
//! the stack is read by one `DescribeRouteTables` ([`observe_all`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::ResourceType;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::tags::Tags;
use ironbark_core::Context;

use crate::ec2::{self, Outcome, KNOWN_AFTER_APPLY};
use crate::error::NetworkingError;

/// The desired route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableSpec {
    /// Logical id (`networking/route-table/private/us-east-1a`).
    pub logical_id: String,
    /// Destination CIDR -> target id (`igw-...`, `nat-...`); `None` = known after apply.
    pub routes: BTreeMap<String, Option<String>>,
    /// Subnets associated with it; `None` = known after apply.
    pub subnets: Vec<Option<String>>,
}

/// The route table as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRouteTable {
    /// `rtb-...`.
    pub id: String,
    /// Managed routes: destination CIDR -> target id.
    pub routes: BTreeMap<String, String>,
    /// Subnet id -> association id.
    pub associations: BTreeMap<String, String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &RouteTableSpec, tags: &Tags, observed: Option<&ObservedRouteTable>) -> Change {
    let show = |t: &Option<String>| t.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
    let Some(o) = observed else {
        let mut fields: Vec<FieldDiff> = spec
            .routes
            .iter()
            .map(|(d, t)| FieldDiff::set(format!("route {d}"), show(t)))
            .collect();
        fields.extend(
            spec.subnets
                .iter()
                .map(|s| FieldDiff::set("association", show(s))),
        );
        return Change::Create { fields };
    };
    let mut fields = Vec::new();
    for (dest, target) in &spec.routes {
        match (o.routes.get(dest), target) {
            (None, _) => fields.push(FieldDiff::new(
                format!("route {dest}"),
                None::<String>,
                Some(show(target)),
            )),
            (Some(old), Some(new)) if old != new => fields.push(FieldDiff::new(
                format!("route {dest}"),
                Some(old),
                Some(new),
            )),
            (Some(old), None) => fields.push(FieldDiff::new(
                format!("route {dest}"),
                Some(old),
                Some(KNOWN_AFTER_APPLY),
            )),
            _ => {}
        }
    }
    for (dest, old) in &o.routes {
        if !spec.routes.contains_key(dest) {
            fields.push(FieldDiff::new(
                format!("route {dest}"),
                Some(old),
                None::<String>,
            ));
        }
    }
    let wanted: BTreeSet<&str> = spec.subnets.iter().flatten().map(String::as_str).collect();
    for subnet in spec.subnets.iter() {
        match subnet {
            Some(s) if !o.associations.contains_key(s) => {
                fields.push(FieldDiff::new("association", None::<String>, Some(s)));
            }
            None => fields.push(FieldDiff::new(
                "association",
                None::<String>,
                Some(KNOWN_AFTER_APPLY),
            )),
            Some(_) => {}
        }
    }
    for subnet in o.associations.keys() {
        if !wanted.contains(subnet.as_str()) {
            fields.push(FieldDiff::new("association", Some(subnet), None::<String>));
        }
    }
    fields.extend(ec2::tag_fields(
        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ));
    Change::update_if_any(fields)
}

fn target_of(r: &aws_sdk_ec2::types::Route) -> Option<String> {
    r.nat_gateway_id()
        .or(r.gateway_id())
        .or(r.transit_gateway_id())
        .or(r.vpc_peering_connection_id())
        .or(r.network_interface_id())
        .or(r.instance_id())
        .map(str::to_owned)
}

fn observed_of(t: &aws_sdk_ec2::types::RouteTable) -> ObservedRouteTable {
    ObservedRouteTable {
        id: t.route_table_id().unwrap_or_default().to_owned(),
        routes: t
            .routes()
            .iter()
            .filter(|r| r.gateway_id() != Some("local"))
            .filter_map(|r| Some((r.destination_cidr_block()?.to_owned(), target_of(r)?)))
            .collect(),
        associations: t
            .associations()
            .iter()
            .filter_map(|a| {
                Some((
                    a.subnet_id()?.to_owned(),
                    a.route_table_association_id()?.to_owned(),
                ))
            })
            .collect(),
        tags: ec2::tag_map(t.tags()),
    }
}

/// Finds the route table by its tag.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<ObservedRouteTable>, NetworkingError> {
    let found = ec2::client(ctx)
        .describe_route_tables()
        .set_filters(Some(ec2::by_id(ctx, logical_id)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", "route table", logical_id))?;
    Ok(ec2::at_most_one(logical_id, found, |t| {
        t.route_table_id().unwrap_or_default().to_owned()
    })?
    .map(|t| observed_of(&t)))
}

/// The route tables of `logical_ids`, in their order, from one paginated, tag-filtered
/// `DescribeRouteTables` of the whole stack.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe_all(
    ctx: &Context,
    logical_ids: &[&str],
) -> Result<Vec<Option<ObservedRouteTable>>, NetworkingError> {
    let found = {
        let _permit = ctx.permit("ec2").await;
        ec2::client(ctx)
            .describe_route_tables()
            .set_filters(Some(ec2::stack_filters(ctx)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(AwsError::map("list route tables of", "stack", ctx.stack()))?
    };
    let mut found = ec2::ByLogicalId::new(found, aws_sdk_ec2::types::RouteTable::tags);
    logical_ids
        .iter()
        .map(|id| {
            Ok(found
                .take(id, |t| t.route_table_id().unwrap_or_default().to_owned())?
                .map(|t| observed_of(&t)))
        })
        .collect()
}

async fn put_route(
    ec2: &aws_sdk_ec2::Client,
    table: &str,
    dest: &str,
    target: &str,
    replace: bool,
) -> Result<(), NetworkingError> {
    let what = format!("route {dest} of {table}");
    if replace {
        let req = ec2
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(dest);
        let req = if target.starts_with("nat-") {
            req.nat_gateway_id(target)
        } else {
            req.gateway_id(target)
        };
        req.send()
            .await
            .map_err(AwsError::map("replace", "route table", &what))?;
    } else {
        ec2::when_visible(|| {
            let req = ec2
                .create_route()
                .route_table_id(table)
                .destination_cidr_block(dest);
            let req = if target.starts_with("nat-") {
                req.nat_gateway_id(target)
            } else {
                req.gateway_id(target)
            };
            req.send()
        })
        .await
        .map_err(AwsError::map("create", "route table", &what))?;
    }
    Ok(())
}

/// The association of `subnet` with any route table other than the main one, if any.
async fn current_association(
    ec2: &aws_sdk_ec2::Client,
    subnet: &str,
) -> Result<Option<String>, NetworkingError> {
    let out = ec2
        .describe_route_tables()
        .filters(ec2::filter("association.subnet-id", &[subnet]))
        .send()
        .await
        .map_err(AwsError::map("find the route table of", "subnet", subnet))?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(aws_sdk_ec2::types::RouteTable::associations)
        .find(|a| a.subnet_id() == Some(subnet))
        .and_then(|a| a.route_table_association_id().map(str::to_owned)))
}

/// Ensures the route table exists in `vpc_id` with exactly the spec's routes and associations.
///
/// # Idempotency
/// Found by tag; each route and association is reconciled on its own, so a crash half-way
/// leaves a table the next run completes. A subnet associated with another table is moved
/// (`ReplaceRouteTableAssociation`), never left doubly routed.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn ensure_route_table(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &RouteTableSpec,
) -> Result<Outcome, NetworkingError> {
    let observed = match vpc_id {
        Some(_) => observe(ctx, &spec.logical_id).await?,
        None => None,
    };
    ensure_observed(ctx, vpc_id, spec, observed).await
}

/// [`ensure_route_table`] for a table already observed (by [`observe_all`], one read for
/// every table of the stack). Hand-written, not on the reconcile kit: routes are reconciled
/// one by one (replaced when their target moves, as when a NAT gateway is replaced) and a
/// subnet is moved from the table it is on, which needs a read of that other table.
///
/// # Idempotency
/// As [`ensure_route_table`].
///
/// # Errors
/// As [`ensure_route_table`].
pub async fn ensure_observed(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &RouteTableSpec,
    observed: Option<ObservedRouteTable>,
) -> Result<Outcome, NetworkingError> {
    let observed = observed.filter(|_| vpc_id.is_some());
    ec2::reported(ctx, &spec.logical_id, async {
        let tags = ec2::desired_tags(ctx, &spec.logical_id);
        let change = decide(spec, &tags, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        if let (true, Some(vpc), true) = (ctx.is_apply(), vpc_id, change.is_change()) {
            let ec2 = ec2::client(ctx);
            let (table, routes, associations) = match &observed {
                Some(o) => {
                    ec2::apply_tags(
                        &ec2,
                        ctx,
                        &o.id,
                        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    )
                    .await?;
                    (o.id.clone(), o.routes.clone(), o.associations.clone())
                }
                None => {
                    let out = ec2::when_visible(|| {
                        ec2.create_route_table()
                            .vpc_id(vpc)
                            .tag_specifications(ec2::tag_spec(
                                ctx,
                                &spec.logical_id,
                                ResourceType::RouteTable,
                            ))
                            .send()
                    })
                    .await
                    .map_err(AwsError::map(
                        "create",
                        "route table",
                        &spec.logical_id,
                    ))?;
                    let table = out
                        .route_table()
                        .and_then(|t| t.route_table_id())
                        .unwrap_or_default()
                        .to_owned();
                    (table, BTreeMap::new(), BTreeMap::new())
                }
            };
            for (dest, target) in &spec.routes {
                let Some(target) = target else { continue };
                match routes.get(dest) {
                    None => put_route(&ec2, &table, dest, target, false).await?,
                    Some(old) if old != target => {
                        put_route(&ec2, &table, dest, target, true).await?;
                    }
                    Some(_) => {}
                }
            }
            for dest in routes.keys().filter(|d| !spec.routes.contains_key(*d)) {
                ec2.delete_route()
                    .route_table_id(&table)
                    .destination_cidr_block(dest)
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "delete foreign route from",
                        "route table",
                        &format!("{} ({dest})", spec.logical_id),
                    ))?;
            }
            let wanted: BTreeSet<&str> =
                spec.subnets.iter().flatten().map(String::as_str).collect();
            for subnet in &wanted {
                if associations.contains_key(*subnet) {
                    continue;
                }
                match current_association(&ec2, subnet).await? {
                    Some(association) => {
                        ec2.replace_route_table_association()
                            .association_id(association)
                            .route_table_id(&table)
                            .send()
                            .await
                            .map_err(AwsError::map(
                                "move to",
                                "route table",
                                &format!("{subnet} ({})", spec.logical_id),
                            ))?;
                    }
                    None => {
                        ec2::when_visible(|| {
                            ec2.associate_route_table()
                                .route_table_id(&table)
                                .subnet_id(*subnet)
                                .send()
                        })
                        .await
                        .map_err(AwsError::map(
                            "associate",
                            "route table",
                            &format!("{subnet} with {}", spec.logical_id),
                        ))?;
                    }
                }
            }
            for (subnet, association) in associations
                .iter()
                .filter(|(s, _)| !wanted.contains(s.as_str()))
            {
                ec2.disassociate_route_table()
                    .association_id(association)
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "disassociate",
                        "route table",
                        &format!("{subnet} from {}", spec.logical_id),
                    ))?;
            }
            id = Some(table);
        }
        Ok(Outcome {
            change: ec2::resource_change(&spec.logical_id, "route table", id.as_deref(), change),
            id,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_associations_are_reconciled_individually() {
        let tags = Tags::default();
        let spec = RouteTableSpec {
            logical_id: "rt".into(),
            routes: [("0.0.0.0/0".to_owned(), Some("nat-b".to_owned()))].into(),
            subnets: vec![Some("subnet-1".into()), Some("subnet-2".into())],
        };
        let o = ObservedRouteTable {
            id: "rtb-1".into(),
            routes: [
                ("0.0.0.0/0".to_owned(), "nat-a".to_owned()),
                ("10.9.0.0/16".to_owned(), "pcx-1".to_owned()),
            ]
            .into(),
            associations: [
                ("subnet-1".to_owned(), "a-1".to_owned()),
                ("subnet-9".to_owned(), "a-9".to_owned()),
            ]
            .into(),
            tags: BTreeMap::new(),
        };
        let Change::Update { fields } = decide(&spec, &tags, Some(&o)) else {
            panic!()
        };
        let rendered: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: {:?} -> {:?}", f.field, f.old, f.new))
            .collect();
        assert_eq!(
            rendered,
            [
                "route 0.0.0.0/0: Some(\"nat-a\") -> Some(\"nat-b\")",
                "route 10.9.0.0/16: Some(\"pcx-1\") -> None",
                "association: None -> Some(\"subnet-2\")",
                "association: Some(\"subnet-9\") -> None",
            ]
        );
        let converged = ObservedRouteTable {
            routes: [("0.0.0.0/0".to_owned(), "nat-b".to_owned())].into(),
            associations: [
                ("subnet-1".to_owned(), "a".to_owned()),
                ("subnet-2".to_owned(), "b".to_owned()),
            ]
            .into(),
            ..o
        };
        assert_eq!(decide(&spec, &tags, Some(&converged)), Change::NoOp);
    }
}
