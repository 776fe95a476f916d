//! Network ACLs: entries reconciled one by one (by direction and rule number), subnets of the
//! chosen tiers associated with them. Subnets no longer covered go back to the VPC's default
//! ACL. On the reconcile kit: the diff lists the entry and association writes `apply` makes.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{PortRange, ResourceType, RuleAction};
use ironbark_core::config::{parse_ports, NaclConfig};
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::reconcile::{self, Diff, Resource, ResourceError};
use ironbark_core::tags::{TagDiff, Tags};
use ironbark_core::Context;

use crate::ec2::{self, Outcome, KNOWN_AFTER_APPLY};
use crate::error::NetworkingError;

const KIND: &str = "network ACL";

/// One entry: action, protocol number (`6`, `17`, `1`, `-1`), ports, CIDR.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// `allow` or `deny`.
    pub action: String,
    /// Protocol number as AWS stores it.
    pub protocol: String,
    /// Port range (`None` for all protocols / ICMP).
    pub ports: Option<(i32, i32)>,
    /// IPv4 CIDR.
    pub cidr: String,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = self.ports.map_or_else(
            || "all".to_owned(),
            |(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            },
        );
        write!(
            f,
            "{} proto {} ports {} {}",
            self.action, self.protocol, ports, self.cidr
        )
    }
}

/// Entries by (egress, rule number).
pub type Entries = BTreeMap<(bool, i32), Entry>;

fn protocol_number(p: &str) -> String {
    match p {
        "tcp" => "6".into(),
        "udp" => "17".into(),
        "icmp" => "1".into(),
        "all" => "-1".into(),
        other => other.to_owned(),
    }
}

/// Resolves a configured ACL's entries (`vpc` stands for `vpc_cidr`).
///
/// # Errors
/// An entry validation should have rejected.
pub fn resolve_entries(cfg: &NaclConfig, vpc_cidr: &str) -> Result<Entries, NetworkingError> {
    let mut out = Entries::new();
    for (egress, entries) in [(false, &cfg.ingress), (true, &cfg.egress)] {
        for e in entries {
            let (proto, from, to) =
                parse_ports(&e.protocol, &e.ports).map_err(|message| NetworkingError::Blocked {
                    resource: format!("network ACL rule {}", e.rule),
                    message,
                })?;
            let protocol = protocol_number(&proto);
            let ports = (protocol == "6" || protocol == "17").then_some((from, to));
            let cidr = if e.cidr == "vpc" {
                vpc_cidr.to_owned()
            } else {
                e.cidr.clone()
            };
            out.insert(
                (egress, i32::from(e.rule)),
                Entry {
                    action: e.action.clone(),
                    protocol,
                    ports,
                    cidr,
                },
            );
        }
    }
    Ok(out)
}

/// The desired ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaclSpec {
    /// Logical id (`networking/nacl/database`).
    pub logical_id: String,
    /// Its entries.
    pub entries: Entries,
    /// Its subnets (`None`: known after apply).
    pub subnets: Vec<Option<String>>,
}

/// The ACL as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedNacl {
    /// `acl-...`.
    pub id: String,
    /// Its entries, without AWS's catch-all rule 32767.
    pub entries: Entries,
    /// Subnet id -> association id.
    pub associations: BTreeMap<String, String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

fn direction(egress: bool) -> &'static str {
    if egress {
        "egress"
    } else {
        "ingress"
    }
}

/// Decides what to do. Pure.
#[must_use]
pub fn decide(spec: &NaclSpec, tags: &Tags, observed: Option<&ObservedNacl>) -> Change {
    let show = |s: &Option<String>| s.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
    let empty = ObservedNacl {
        id: String::new(),
        entries: Entries::new(),
        associations: BTreeMap::new(),
        tags: BTreeMap::new(),
    };
    let o = observed.unwrap_or(&empty);
    let mut fields = Vec::new();
    for ((egress, rule), entry) in &spec.entries {
        match o.entries.get(&(*egress, *rule)) {
            Some(old) if old == entry => {}
            old => fields.push(FieldDiff::new(
                format!("{} rule {rule}", direction(*egress)),
                old,
                Some(entry),
            )),
        }
    }
    for ((egress, rule), old) in &o.entries {
        if !spec.entries.contains_key(&(*egress, *rule)) {
            fields.push(FieldDiff::new(
                format!("{} rule {rule}", direction(*egress)),
                Some(old),
                None::<String>,
            ));
        }
    }
    for subnet in &spec.subnets {
        if subnet
            .as_ref()
            .is_none_or(|s| !o.associations.contains_key(s))
        {
            fields.push(FieldDiff::new(
                "association",
                None::<String>,
                Some(show(subnet)),
            ));
        }
    }
    let wanted: Vec<&String> = spec.subnets.iter().flatten().collect();
    for subnet in o.associations.keys().filter(|s| !wanted.contains(s)) {
        fields.push(FieldDiff::new(
            "association",
            Some(subnet),
            Some("(default network ACL)"),
        ));
    }
    if observed.is_none() {
        return Change::Create { fields };
    }
    fields.extend(ec2::tag_fields(
        &tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ));
    Change::update_if_any(fields)
}

fn observed(a: &aws_sdk_ec2::types::NetworkAcl) -> ObservedNacl {
    ObservedNacl {
        id: a.network_acl_id().unwrap_or_default().to_owned(),
        entries: a
            .entries()
            .iter()
            .filter(|e| e.rule_number() != Some(32767))
            .filter_map(|e| {
                let protocol = protocol_number(e.protocol()?);
                Some((
                    (e.egress().unwrap_or(false), e.rule_number()?),
                    Entry {
                        action: e.rule_action()?.as_str().to_owned(),
                        ports: e
                            .port_range()
                            .and_then(|p| Some((p.from()?, p.to()?)))
                            .filter(|_| protocol == "6" || protocol == "17"),
                        protocol,
                        cidr: e.cidr_block()?.to_owned(),
                    },
                ))
            })
            .collect(),
        associations: a
            .associations()
            .iter()
            .filter_map(|x| {
                Some((
                    x.subnet_id()?.to_owned(),
                    x.network_acl_association_id()?.to_owned(),
                ))
            })
            .collect(),
        tags: ec2::tag_map(a.tags()),
    }
}

async fn put_entry(
    ec2: &aws_sdk_ec2::Client,
    acl: &str,
    egress: bool,
    rule: i32,
    e: &Entry,
    replace: bool,
) -> Result<(), NetworkingError> {
    let what = format!("{} rule {rule} of {acl}", direction(egress));
    let range = e
        .ports
        .map(|(a, b)| PortRange::builder().from(a).to(b).build());
    let action = RuleAction::from(e.action.as_str());
    if replace {
        ec2.replace_network_acl_entry()
            .network_acl_id(acl)
            .egress(egress)
            .rule_number(rule)
            .rule_action(action)
            .protocol(&e.protocol)
            .set_port_range(range)
            .cidr_block(&e.cidr)
            .send()
            .await
            .map_err(AwsError::map("replace", "network ACL", &what))?;
    } else {
        ec2::when_visible(|| {
            ec2.create_network_acl_entry()
                .network_acl_id(acl)
                .egress(egress)
                .rule_number(rule)
                .rule_action(action.clone())
                .protocol(&e.protocol)
                .set_port_range(range.clone())
                .cidr_block(&e.cidr)
                .send()
        })
        .await
        .map_err(AwsError::map("create", "network ACL", &what))?;
    }
    Ok(())
}

/// The association id of `subnet` (every subnet has exactly one ACL) and the VPC's default
/// ACL id.
async fn association_of(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnet: &str,
) -> Result<(Option<String>, Option<String>), NetworkingError> {
    let out = ec2
        .describe_network_acls()
        .filters(ec2::filter("vpc-id", &[vpc]))
        .send()
        .await
        .map_err(AwsError::map("list network ACLs of", "VPC", vpc))?;
    let association = out
        .network_acls()
        .iter()
        .flat_map(aws_sdk_ec2::types::NetworkAcl::associations)
        .find(|a| a.subnet_id() == Some(subnet))
        .and_then(|a| a.network_acl_association_id().map(str::to_owned));
    let default = out
        .network_acls()
        .iter()
        .find(|a| a.is_default() == Some(true))
        .and_then(|a| a.network_acl_id().map(str::to_owned));
    Ok((association, default))
}

/// What differs between an ACL and its spec: the plan's fields (with placeholders for
/// subnets not created yet) and the writes `apply` makes, which are exactly these.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NaclDiff {
    /// The plan's rendering.
    pub fields: Vec<FieldDiff>,
    /// Entries to create (`false`) or replace (`true`), by (egress, rule number).
    pub put: Vec<((bool, i32), Entry, bool)>,
    /// Entries to delete, by (egress, rule number).
    pub delete: Vec<(bool, i32)>,
    /// Subnets to move onto the ACL.
    pub associate: Vec<String>,
    /// Subnets to return to the VPC's default ACL: (subnet, association id).
    pub release: Vec<(String, String)>,
    /// Tags to set and remove (an existing ACL; a create carries its tags).
    pub tags: TagDiff,
}

impl Diff for NaclDiff {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        self.fields.clone()
    }
}

/// The diff for an ACL with its desired `tags` (including `Name`). Pure.
#[must_use]
pub fn diff(spec: &NaclSpec, tags: &Tags, observed: Option<&ObservedNacl>) -> NaclDiff {
    let fields = match decide(spec, tags, observed) {
        Change::Create { fields } | Change::Update { fields } => fields,
        _ => Vec::new(),
    };
    let empty = ObservedNacl {
        id: String::new(),
        entries: Entries::new(),
        associations: BTreeMap::new(),
        tags: BTreeMap::new(),
    };
    let o = observed.unwrap_or(&empty);
    let put = spec
        .entries
        .iter()
        .filter_map(|(key, entry)| match o.entries.get(key) {
            None => Some((*key, entry.clone(), false)),
            Some(old) if old != entry => Some((*key, entry.clone(), true)),
            Some(_) => None,
        })
        .collect();
    let delete = o
        .entries
        .keys()
        .filter(|k| !spec.entries.contains_key(k))
        .copied()
        .collect();
    let wanted: Vec<&String> = spec.subnets.iter().flatten().collect();
    NaclDiff {
        fields,
        put,
        delete,
        associate: wanted
            .iter()
            .filter(|s| !o.associations.contains_key(**s))
            .map(|s| (*s).clone())
            .collect(),
        release: o
            .associations
            .iter()
            .filter(|(s, _)| !wanted.contains(s))
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect(),
        tags: observed.map_or_else(TagDiff::default, |o| {
            tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        }),
    }
}

/// One ACL to converge in a VPC (`None`: plan only), with its `Name` tag.
struct Nacl<'a> {
    spec: &'a NaclSpec,
    vpc_id: Option<&'a str>,
    name: String,
}

impl Resource for Nacl<'_> {
    type Observed = ObservedNacl;
    type Diff = NaclDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.spec.logical_id.clone()
    }

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedNacl>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedNacl>, NetworkingError> {
        if self.vpc_id.is_none() {
            return Ok(None);
        }
        let found = ec2::client(ctx)
            .describe_network_acls()
            .set_filters(Some(ec2::by_id(ctx, &self.spec.logical_id)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(AwsError::map("find", KIND, &self.spec.logical_id))?;
        Ok(ec2::at_most_one(&self.spec.logical_id, found, |a| {
            a.network_acl_id().unwrap_or_default().to_owned()
        })?
        .map(|a| observed(&a)))
    }

    fn tags<'o>(&self, observed: &'o ObservedNacl) -> Option<&'o BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedNacl>) -> NaclDiff {
        diff(self.spec, &tags.with("Name", &self.name), observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedNacl>,
        diff: &NaclDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        let spec = self.spec;
        let vpc = ec2::vpc_or_missing(KIND, &spec.logical_id, self.vpc_id)?;
        let acl = match observed {
            Some(o) => {
                ec2::apply_tags(&ec2, ctx, &o.id, &diff.tags).await?;
                o.id.clone()
            }
            None => {
                let out = ec2::when_visible(|| {
                    ec2.create_network_acl()
                        .vpc_id(vpc)
                        .tag_specifications(ec2::tag_spec(
                            ctx,
                            &spec.logical_id,
                            ResourceType::NetworkAcl,
                        ))
                        .send()
                })
                .await
                .map_err(AwsError::map("create", KIND, &spec.logical_id))?;
                out.network_acl()
                    .and_then(|a| a.network_acl_id())
                    .ok_or_else(|| ResourceError::Missing {
                        kind: KIND,
                        name: spec.logical_id.clone(),
                        what: "network ACL id",
                    })?
                    .to_owned()
            }
        };
        for ((egress, rule), entry, replace) in &diff.put {
            put_entry(&ec2, &acl, *egress, *rule, entry, *replace).await?;
        }
        for (egress, rule) in &diff.delete {
            ec2.delete_network_acl_entry()
                .network_acl_id(&acl)
                .egress(*egress)
                .rule_number(*rule)
                .send()
                .await
                .map_err(AwsError::map("delete entry of", KIND, &spec.logical_id))?;
        }
        for subnet in &diff.associate {
            if let (Some(association), _) = association_of(&ec2, vpc, subnet).await? {
                ec2.replace_network_acl_association()
                    .association_id(association)
                    .network_acl_id(&acl)
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "associate",
                        KIND,
                        &format!("{} with {subnet}", spec.logical_id),
                    ))?;
            }
        }
        for (subnet, association) in &diff.release {
            if let (_, Some(default)) = association_of(&ec2, vpc, subnet).await? {
                ec2.replace_network_acl_association()
                    .association_id(association)
                    .network_acl_id(default)
                    .send()
                    .await
                    .map_err(AwsError::map("return to the default", KIND, subnet))?;
            }
        }
        Ok(acl)
    }

    fn output(&self, _ctx: &Context, observed: &ObservedNacl) -> String {
        observed.id.clone()
    }
}

/// Ensures the ACL exists in `vpc_id` with exactly the spec's entries and subnets.
///
/// # Idempotency
/// Found by tag; entries are reconciled individually by (direction, rule number) and subnets
/// moved with `ReplaceNetworkAclAssociation`, so a crash half-way is completed by the next run.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn ensure_nacl(
    ctx: &Context,
    vpc_id: Option<&str>,
    spec: &NaclSpec,
) -> Result<Outcome, NetworkingError> {
    let nacl = Nacl {
        spec,
        vpc_id,
        name: ec2::name_tag(ctx, &spec.logical_id),
    };
    Ok(Outcome::of(reconcile::converge(ctx, &nacl).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbark_core::config::NaclEntryConfig;

    fn cfg() -> NaclConfig {
        NaclConfig {
            tiers: vec!["database".into()],
            ingress: vec![NaclEntryConfig {
                rule: 100,
                action: "allow".into(),
                protocol: "tcp".into(),
                ports: "5432".into(),
                cidr: "vpc".into(),
            }],
            egress: vec![NaclEntryConfig {
                rule: 100,
                action: "allow".into(),
                protocol: "all".into(),
                ports: "all".into(),
                cidr: "0.0.0.0/0".into(),
            }],
        }
    }

    #[test]
    fn entries_and_associations_are_reconciled_individually() {
        let entries = resolve_entries(&cfg(), "10.0.0.0/16").unwrap();
        assert_eq!(
            entries[&(false, 100)].to_string(),
            "allow proto 6 ports 5432 10.0.0.0/16"
        );
        assert_eq!(entries[&(true, 100)].ports, None);
        let spec = NaclSpec {
            logical_id: "n".into(),
            entries: entries.clone(),
            subnets: vec![Some("subnet-1".into())],
        };
        let tags = Tags::default();
        let mut o = ObservedNacl {
            id: "acl-1".into(),
            entries,
            associations: [("subnet-1".to_owned(), "aclassoc-1".to_owned())].into(),
            tags: BTreeMap::new(),
        };
        assert_eq!(decide(&spec, &tags, Some(&o)), Change::NoOp);
        o.entries.remove(&(false, 100));
        o.entries.insert(
            (false, 200),
            Entry {
                action: "allow".into(),
                protocol: "6".into(),
                ports: Some((22, 22)),
                cidr: "0.0.0.0/0".into(),
            },
        );
        o.associations
            .insert("subnet-9".into(), "aclassoc-9".into());
        let Change::Update { fields } = decide(&spec, &tags, Some(&o)) else {
            panic!()
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            ["ingress rule 100", "ingress rule 200", "association"]
        );
        assert!(matches!(decide(&spec, &tags, None), Change::Create { .. }));
    }
}
