//! Security groups declared by name, and their rules reconciled one by one: missing rules
//! authorized (tagged), extra rules revoked, descriptions updated in place. Rules reference
//! other groups by name; the default egress rule AWS adds to new groups is removed unless
//! declared. Groups are on the reconcile kit (every group of the stack read by one
//! `DescribeSecurityGroups`); rules keep a hand-written ensure, every group's rules read by
//! one `DescribeSecurityGroupRules`.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_ec2::types::{
    IpPermission, IpRange, PrefixListId, ResourceType, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate, UserIdGroupPair,
};
use ironbark_core::config::{parse_peer, parse_ports, Peer, SecurityGroupConfig};
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, AwsError, Batch, Diff, Resource, ResourceError, Status};
use ironbark_core::tags::{TagDiff, Tags};
use ironbark_core::Context;

use crate::ec2::{self, Outcome, KNOWN_AFTER_APPLY};
use crate::error::NetworkingError;

const KIND: &str = "security group";

/// The logical id of a group.
#[must_use]
pub fn logical_id(name: &str) -> String {
    format!("networking/security-group/{name}")
}

/// What identifies a rule: direction, protocol, ports, peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleKey {
    /// Outbound when true.
    pub egress: bool,
    /// `tcp`, `udp`, `icmp` or `-1`.
    pub protocol: String,
    /// First port (`-1` for all protocols).
    pub from: i32,
    /// Last port.
    pub to: i32,
    /// The other side.
    pub peer: PeerRef,
}

/// The other side of a rule, resolved to AWS ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerRef {
    /// An IPv4 CIDR.
    Cidr(String),
    /// A group id (or [`KNOWN_AFTER_APPLY`] in plans).
    Group(String),
    /// A prefix list id.
    PrefixList(String),
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports = match (self.protocol.as_str(), self.from, self.to) {
            ("-1", _, _) => "all".to_owned(),
            (_, a, b) if a == b => a.to_string(),
            (_, a, b) => format!("{a}-{b}"),
        };
        let (dir, prep) = if self.egress {
            ("egress", "to")
        } else {
            ("ingress", "from")
        };
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        let peer = match &self.peer {
            PeerRef::Cidr(c) => c.clone(),
            PeerRef::Group(g) => g.clone(),
            PeerRef::PrefixList(p) => p.clone(),
        };
        write!(f, "{dir} {proto} {ports} {prep} {peer}")
    }
}

/// Desired rules of one group: key -> description.
pub type Rules = BTreeMap<RuleKey, String>;

/// Resolves a group's configured rules to keys. `groups` maps group names to ids (`None`:
/// not created yet); `vpc_cidr` stands for the `vpc` peer.
///
/// # Errors
/// A rule that validation should have rejected (a bad port or peer).
pub fn resolve_rules(
    cfg: &SecurityGroupConfig,
    groups: &BTreeMap<String, Option<String>>,
    vpc_cidr: &str,
) -> Result<Rules, NetworkingError> {
    let mut out = Rules::new();
    for (egress, rules) in [(false, &cfg.ingress), (true, &cfg.egress)] {
        for rule in rules {
            let bad = |message: String| NetworkingError::Blocked {
                resource: cfg.description.clone(),
                message,
            };
            let (protocol, from, to) = parse_ports(&rule.protocol, &rule.ports).map_err(bad)?;
            let peer = match parse_peer(&rule.peer).map_err(bad)? {
                Peer::Cidr(c) => PeerRef::Cidr(c.to_string()),
                Peer::Vpc => PeerRef::Cidr(vpc_cidr.to_owned()),
                Peer::PrefixList(p) => PeerRef::PrefixList(p),
                Peer::Group(name) => PeerRef::Group(
                    groups
                        .get(&name)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned()),
                ),
            };
            out.insert(
                RuleKey {
                    egress,
                    protocol,
                    from,
                    to,
                    peer,
                },
                rule.description.clone(),
            );
        }
    }
    Ok(out)
}

/// A group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedGroup {
    /// `sg-...`.
    pub id: String,
    /// Its description.
    pub description: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// An existing rule: its key, description and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRule {
    /// What identifies it.
    pub key: RuleKey,
    /// Its description.
    pub description: String,
    /// `sgr-...`.
    pub id: String,
}

/// What differs between a group (not its rules) and its spec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDiff {
    /// The group does not exist: the description to create it with.
    pub create: Option<String>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// A description change, refused: (field, reason).
    pub refusal: Option<(String, String)>,
}

impl Diff for GroupDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none() && self.tags.is_empty() && self.refusal.is_none()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields: Vec<FieldDiff> = self
            .create
            .iter()
            .map(|d| FieldDiff::set("description", d))
            .collect();
        fields.extend(ec2::tag_fields(&self.tags));
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// The diff for a group (not its rules) with its desired `tags` (including `Name`). Pure.
#[must_use]
pub fn diff_group(description: &str, tags: &Tags, observed: Option<&ObservedGroup>) -> GroupDiff {
    let Some(o) = observed else {
        return GroupDiff {
            create: Some(description.to_owned()),
            ..GroupDiff::default()
        };
    };
    if o.description != description {
        return GroupDiff {
            refusal: Some((
                format!("description ({:?} -> {description:?})", o.description),
                "AWS cannot change a security group's description in place; keep the old one"
                    .to_owned(),
            )),
            ..GroupDiff::default()
        };
    }
    GroupDiff {
        tags: tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        ..GroupDiff::default()
    }
}

/// Decides what to do with a group (not its rules). Pure.
#[must_use]
pub fn decide_group(description: &str, tags: &Tags, observed: Option<&ObservedGroup>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff_group(description, tags, observed),
        &Status::Ready,
    )
}

/// Decides what to do with a group's rules. Pure.
#[must_use]
pub fn decide_rules(desired: &Rules, observed: &[ObservedRule]) -> Change {
    let mut fields = Vec::new();
    let seen: BTreeMap<&RuleKey, &ObservedRule> = observed.iter().map(|r| (&r.key, r)).collect();
    for (key, description) in desired {
        match seen.get(key) {
            None => fields.push(FieldDiff::new(
                key.to_string(),
                None::<String>,
                Some(description),
            )),
            Some(r) if &r.description != description => fields.push(FieldDiff::new(
                key.to_string(),
                Some(&r.description),
                Some(description),
            )),
            Some(_) => {}
        }
    }
    for r in observed {
        if !desired.contains_key(&r.key) {
            fields.push(FieldDiff::new(
                r.key.to_string(),
                Some(&r.description),
                None::<String>,
            ));
        }
    }
    Change::update_if_any(fields)
}

fn observed_group(g: &aws_sdk_ec2::types::SecurityGroup) -> ObservedGroup {
    ObservedGroup {
        id: g.group_id().unwrap_or_default().to_owned(),
        description: g.description().unwrap_or_default().to_owned(),
        tags: ec2::tag_map(g.tags()),
    }
}

/// Finds a group by its tag.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe_group(
    ctx: &Context,
    logical_id: &str,
) -> Result<Option<ObservedGroup>, NetworkingError> {
    let found = ec2::client(ctx)
        .describe_security_groups()
        .set_filters(Some(ec2::by_id(ctx, logical_id)))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("find", KIND, logical_id))?;
    Ok(ec2::at_most_one(logical_id, found, |g| {
        g.group_id().unwrap_or_default().to_owned()
    })?
    .map(|g| observed_group(&g)))
}

/// The rules of a group.
///
/// # Errors
/// AWS errors.
pub async fn observe_rules(
    ctx: &Context,
    group_id: &str,
) -> Result<Vec<ObservedRule>, NetworkingError> {
    Ok(observe_rules_of(ctx, &[group_id])
        .await?
        .remove(group_id)
        .unwrap_or_default())
}

/// The rules of every group of `group_ids`, by group id, in one paginated
/// `DescribeSecurityGroupRules`.
///
/// # Errors
/// AWS errors.
pub async fn observe_rules_of(
    ctx: &Context,
    group_ids: &[&str],
) -> Result<BTreeMap<String, Vec<ObservedRule>>, NetworkingError> {
    let mut out: BTreeMap<String, Vec<ObservedRule>> = BTreeMap::new();
    if group_ids.is_empty() {
        return Ok(out);
    }
    let rules = ec2::client(ctx)
        .describe_security_group_rules()
        .filters(ec2::filter("group-id", group_ids))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(AwsError::map("read rules of", KIND, &group_ids.join(", ")))?;
    for r in &rules {
        let Some(group) = r.group_id() else { continue };
        let peer = if let Some(c) = r.cidr_ipv4() {
            PeerRef::Cidr(c.to_owned())
        } else if let Some(g) = r.referenced_group_info().and_then(|g| g.group_id()) {
            PeerRef::Group(g.to_owned())
        } else if let Some(p) = r.prefix_list_id() {
            PeerRef::PrefixList(p.to_owned())
        } else {
            continue;
        };
        let protocol = r.ip_protocol().unwrap_or("-1").to_owned();
        let (from, to) = if protocol == "-1" {
            (-1, -1)
        } else {
            (r.from_port().unwrap_or(-1), r.to_port().unwrap_or(-1))
        };
        out.entry(group.to_owned()).or_default().push(ObservedRule {
            key: RuleKey {
                egress: r.is_egress().unwrap_or(false),
                protocol,
                from,
                to,
                peer,
            },
            description: r.description().unwrap_or_default().to_owned(),
            id: r.security_group_rule_id().unwrap_or_default().to_owned(),
        });
    }
    Ok(out)
}

/// One security group (not its rules) to converge in a VPC (`None`: plan only).
struct Group<'a> {
    name: &'a str,
    description: &'a str,
    vpc_id: Option<&'a str>,
    logical_id: String,
    name_tag: String,
}

impl<'a> Group<'a> {
    fn new(ctx: &Context, vpc_id: Option<&'a str>, name: &'a str, description: &'a str) -> Self {
        let logical_id = logical_id(name);
        Self {
            name,
            description,
            vpc_id,
            name_tag: ec2::name_tag(ctx, &logical_id),
            logical_id,
        }
    }
}

impl Resource for Group<'_> {
    type Observed = ObservedGroup;
    type Diff = GroupDiff;
    type Output = String;
    type Error = NetworkingError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "ec2";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.logical_id.clone()
    }

    fn physical_id(&self, _ctx: &Context, observed: Option<&ObservedGroup>) -> Option<String> {
        observed.map(|o| o.id.clone())
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedGroup>, NetworkingError> {
        match self.vpc_id {
            Some(_) => observe_group(ctx, &self.logical_id).await,
            None => Ok(None),
        }
    }

    fn tags<'o>(&self, observed: &'o ObservedGroup) -> Option<&'o BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedGroup>) -> GroupDiff {
        diff_group(
            self.description,
            &tags.with("Name", &self.name_tag),
            observed,
        )
    }

    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        observed: Option<&ObservedGroup>,
        diff: &GroupDiff,
    ) -> Result<String, NetworkingError> {
        let ec2 = ec2::client(ctx);
        if let Some(o) = observed {
            ec2::apply_tags(&ec2, ctx, &o.id, &diff.tags).await?;
            return Ok(o.id.clone());
        }
        let vpc = ec2::vpc_or_missing(KIND, &self.logical_id, self.vpc_id)?;
        let out = ec2::when_visible(|| {
            ec2.create_security_group()
                .group_name(ctx.physical_name(
                    &format!("sg/{}", self.name),
                    &ironbark_core::naming::NameRule::GENERIC,
                ))
                .description(self.description)
                .vpc_id(vpc)
                .tag_specifications(ec2::tag_spec(
                    ctx,
                    &self.logical_id,
                    ResourceType::SecurityGroup,
                ))
                .send()
        })
        .await
        .map_err(AwsError::map("create", KIND, &self.logical_id))?;
        Ok(out
            .group_id()
            .ok_or_else(|| ResourceError::Missing {
                kind: KIND,
                name: self.logical_id.clone(),
                what: "group id",
            })?
            .to_owned())
    }

    fn output(&self, _ctx: &Context, observed: &ObservedGroup) -> String {
        observed.id.clone()
    }
}

/// Every security group of the stack in one paginated, tag-filtered `DescribeSecurityGroups`.
impl Batch for Group<'_> {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<ObservedGroup>>, NetworkingError> {
        if resources.iter().all(|r| r.vpc_id.is_none()) {
            return Ok(resources.iter().map(|_| None).collect());
        }
        let found = ec2::client(ctx)
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
        let mut found = ec2::ByLogicalId::new(found, aws_sdk_ec2::types::SecurityGroup::tags);
        resources
            .iter()
            .map(|r| {
                Ok(found
                    .take(&r.logical_id, |g| {
                        g.group_id().unwrap_or_default().to_owned()
                    })?
                    .filter(|_| r.vpc_id.is_some())
                    .map(|g| observed_group(&g)))
            })
            .collect()
    }
}

/// Ensures a group exists (rules are [`ensure_rules`]'s job).
///
/// # Idempotency
/// Found by its `ironbark:id` tag, carried by `CreateSecurityGroup`; its name is the
/// deterministic physical name, so even an untagged leftover would collide rather than
/// duplicate.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn ensure_group(
    ctx: &Context,
    vpc_id: Option<&str>,
    name: &str,
    description: &str,
) -> Result<Outcome, NetworkingError> {
    let group = Group::new(ctx, vpc_id, name, description);
    Ok(Outcome::of(reconcile::converge(ctx, &group).await?))
}

/// [`ensure_group`] for every group `(name, description)`, with one `DescribeSecurityGroups`
/// for all of them.
///
/// # Idempotency
/// As [`ensure_group`].
///
/// # Errors
/// As [`ensure_group`]; the first error after the others finish.
pub async fn ensure_groups(
    ctx: &Context,
    vpc_id: Option<&str>,
    groups: &[(&str, &str)],
) -> Result<Vec<Outcome>, NetworkingError> {
    let groups: Vec<Group<'_>> = groups
        .iter()
        .map(|(name, description)| Group::new(ctx, vpc_id, name, description))
        .collect();
    Ok(ec2::outcomes(reconcile::converge_all(ctx, &groups).await?))
}

fn permission(key: &RuleKey, description: &str) -> IpPermission {
    let mut p = IpPermission::builder()
        .ip_protocol(&key.protocol)
        .from_port(key.from)
        .to_port(key.to);
    p = match &key.peer {
        PeerRef::Cidr(c) => p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .description(description)
                .build(),
        ),
        PeerRef::Group(g) => p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .description(description)
                .build(),
        ),
        PeerRef::PrefixList(l) => p.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(l)
                .description(description)
                .build(),
        ),
    };
    p.build()
}

fn request(key: &RuleKey, description: &str) -> SecurityGroupRuleRequest {
    let mut r = SecurityGroupRuleRequest::builder()
        .ip_protocol(&key.protocol)
        .from_port(key.from)
        .to_port(key.to)
        .description(description);
    r = match &key.peer {
        PeerRef::Cidr(c) => r.cidr_ipv4(c),
        PeerRef::Group(g) => r.referenced_group_id(g),
        PeerRef::PrefixList(l) => r.prefix_list_id(l),
    };
    r.build()
}

/// Ensures a group's rules are exactly `desired`.
///
/// # Idempotency
/// Each rule is identified by (direction, protocol, ports, peer); only missing rules are
/// authorized and only extra ones revoked, so a crash half-way is completed by the next run.
///
/// # Errors
/// AWS errors.
pub async fn ensure_rules(
    ctx: &Context,
    name: &str,
    group_id: Option<&str>,
    desired: &Rules,
) -> Result<Outcome, NetworkingError> {
    let observed = match group_id {
        Some(g) => observe_rules(ctx, g).await?,
        None => Vec::new(),
    };
    converge_rules(ctx, name, group_id, desired, &observed).await
}

/// [`ensure_rules`] for every group `(name, group id, rules)`, with one
/// `DescribeSecurityGroupRules` for all of them.
///
/// # Idempotency
/// As [`ensure_rules`].
///
/// # Errors
/// As [`ensure_rules`]; the first error after the others finish.
pub async fn ensure_all_rules(
    ctx: &Context,
    groups: &[(&str, Option<&str>, &Rules)],
) -> Result<Vec<Outcome>, NetworkingError> {
    let ids: Vec<&str> = groups.iter().filter_map(|(_, id, _)| *id).collect();
    let observed = {
        let _permit = ctx.permit("ec2").await;
        observe_rules_of(ctx, &ids).await?
    };
    let none = Vec::new();
    futures::future::try_join_all(groups.iter().map(|(name, id, desired)| {
        let found = id.and_then(|g| observed.get(g)).unwrap_or(&none);
        converge_rules(ctx, name, *id, desired, found)
    }))
    .await
}

/// A group's rules brought to `desired` from what was observed. Hand-written (not on the
/// kit): the rules are not one AWS resource, and each is authorized, revoked or re-described
/// on its own.
async fn converge_rules(
    ctx: &Context,
    name: &str,
    group_id: Option<&str>,
    desired: &Rules,
    observed: &[ObservedRule],
) -> Result<Outcome, NetworkingError> {
    let logical_id = format!("{}/rules", logical_id(name));
    ec2::reported(ctx, &logical_id, async {
        let change = decide_rules(desired, observed);
        if let (true, Some(group), true) = (ctx.is_apply(), group_id, change.is_change()) {
            let ec2 = ec2::client(ctx);
            let seen: BTreeMap<&RuleKey, &ObservedRule> =
                observed.iter().map(|r| (&r.key, r)).collect();
            let unwanted: Vec<&ObservedRule> = observed
                .iter()
                .filter(|r| !desired.contains_key(&r.key))
                .collect();
            for egress in [false, true] {
                let ids: Vec<String> = unwanted
                    .iter()
                    .filter(|r| r.key.egress == egress)
                    .map(|r| r.id.clone())
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let what = format!(
                    "{logical_id} ({})",
                    if egress { "egress" } else { "ingress" }
                );
                if egress {
                    ec2.revoke_security_group_egress()
                        .group_id(group)
                        .set_security_group_rule_ids(Some(ids))
                        .send()
                        .await
                        .map_err(AwsError::map("revoke rules of", "security group", &what))?;
                } else {
                    ec2.revoke_security_group_ingress()
                        .group_id(group)
                        .set_security_group_rule_ids(Some(ids))
                        .send()
                        .await
                        .map_err(AwsError::map("revoke rules of", "security group", &what))?;
                }
            }
            let tag = ec2::tag_spec(ctx, &logical_id, ResourceType::SecurityGroupRule);
            for (key, description) in desired {
                match seen.get(key) {
                    None if key.egress => {
                        ec2::when_visible(|| {
                            ec2.authorize_security_group_egress()
                                .group_id(group)
                                .ip_permissions(permission(key, description))
                                .tag_specifications(tag.clone())
                                .send()
                        })
                        .await
                        .map_err(AwsError::map(
                            "authorize",
                            "security group",
                            &format!("{logical_id} ({key})"),
                        ))?;
                    }
                    None => {
                        ec2::when_visible(|| {
                            ec2.authorize_security_group_ingress()
                                .group_id(group)
                                .ip_permissions(permission(key, description))
                                .tag_specifications(tag.clone())
                                .send()
                        })
                        .await
                        .map_err(AwsError::map(
                            "authorize",
                            "security group",
                            &format!("{logical_id} ({key})"),
                        ))?;
                    }
                    Some(r) if &r.description != description => {
                        let update = SecurityGroupRuleUpdate::builder()
                            .security_group_rule_id(&r.id)
                            .security_group_rule(request(key, description))
                            .build();
                        ec2.modify_security_group_rules()
                            .group_id(group)
                            .security_group_rules(update)
                            .send()
                            .await
                            .map_err(AwsError::map(
                                "update description of",
                                "security group",
                                &format!("{logical_id} ({key})"),
                            ))?;
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(Outcome {
            change: ec2::resource_change(&logical_id, "security group rules", group_id, change),
            id: group_id.map(str::to_owned),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbark_core::config::RuleConfig;

    fn cfg() -> SecurityGroupConfig {
        SecurityGroupConfig {
            description: "db".into(),
            ingress: vec![RuleConfig {
                protocol: "tcp".into(),
                ports: "5432".into(),
                peer: "sg:app".into(),
                description: "pg".into(),
            }],
            egress: vec![RuleConfig {
                protocol: "all".into(),
                ports: "all".into(),
                peer: "vpc".into(),
                description: "in vpc".into(),
            }],
        }
    }

    #[test]
    fn rules_resolve_names_and_vpc() {
        let groups = [("app".to_owned(), Some("sg-app".to_owned()))].into();
        let rules = resolve_rules(&cfg(), &groups, "10.0.0.0/16").unwrap();
        let shown: Vec<String> = rules.keys().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "ingress tcp 5432 from sg-app",
                "egress all all to 10.0.0.0/16"
            ]
        );
        let unknown = resolve_rules(&cfg(), &BTreeMap::new(), "10.0.0.0/16").unwrap();
        assert!(unknown
            .keys()
            .any(|k| k.peer == PeerRef::Group(KNOWN_AFTER_APPLY.into())));
    }

    #[test]
    fn extra_rules_are_revoked_missing_added_descriptions_updated() {
        let groups = [("app".to_owned(), Some("sg-app".to_owned()))].into();
        let desired = resolve_rules(&cfg(), &groups, "10.0.0.0/16").unwrap();
        let mut observed: Vec<ObservedRule> = desired
            .iter()
            .map(|(k, d)| ObservedRule {
                key: k.clone(),
                description: d.clone(),
                id: "sgr-1".into(),
            })
            .collect();
        assert_eq!(decide_rules(&desired, &observed), Change::NoOp);
        observed[0].description = "old".into();
        observed.push(ObservedRule {
            key: RuleKey {
                egress: false,
                protocol: "tcp".into(),
                from: 22,
                to: 22,
                peer: PeerRef::Cidr("0.0.0.0/0".into()),
            },
            description: "added by hand".into(),
            id: "sgr-9".into(),
        });
        let Change::Update { fields } = decide_rules(&desired, &observed) else {
            panic!()
        };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].field, "ingress tcp 22 from 0.0.0.0/0");
        assert_eq!(fields[1].new, None);
    }
}
