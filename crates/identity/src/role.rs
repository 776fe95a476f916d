//! IAM roles: trust policy (service principals or IRSA federation), inline policies, managed
//! policy attachments, permissions boundary, tags, optional instance profile.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_iam::types::Tag;
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::AwsError;
use ironbark_core::retry::{retry, RetryPolicy};
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::document::{OneOrMany, PolicyDocument, Principal, Statement};
use crate::error::{
    is_entity_already_exists, is_iam_propagation, is_no_such_entity, IdentityError,
};

const KIND: &str = "role";

/// How long a new role may take to become visible everywhere before Ironbark gives up.
pub const PROPAGATION: RetryPolicy =
    RetryPolicy::new("wait for IAM propagation", Duration::from_secs(90));

/// The AWS services Ironbark's layers hand roles to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServicePrincipal {
    /// `lambda.amazonaws.com`.
    Lambda,
    /// `ecs-tasks.amazonaws.com` (task and task execution roles).
    EcsTasks,
    /// `eks.amazonaws.com` (the cluster role).
    Eks,
    /// `ec2.amazonaws.com` (EKS node groups, bastions, Beanstalk instances).
    Ec2,
    /// `vpc-flow-logs.amazonaws.com`.
    VpcFlowLogs,
    /// `monitoring.rds.amazonaws.com` (RDS enhanced monitoring).
    RdsMonitoring,
    /// `bedrock.amazonaws.com` (knowledge bases, agents).
    Bedrock,
    /// `elasticbeanstalk.amazonaws.com` (the Beanstalk service role).
    ElasticBeanstalk,
    /// Any other service host.
    Other(String),
}

impl ServicePrincipal {
    /// The principal's host name.
    #[must_use]
    pub fn host(&self) -> &str {
        match self {
            Self::Lambda => "lambda.amazonaws.com",
            Self::EcsTasks => "ecs-tasks.amazonaws.com",
            Self::Eks => "eks.amazonaws.com",
            Self::Ec2 => "ec2.amazonaws.com",
            Self::VpcFlowLogs => "vpc-flow-logs.amazonaws.com",
            Self::RdsMonitoring => "monitoring.rds.amazonaws.com",
            Self::Bedrock => "bedrock.amazonaws.com",
            Self::ElasticBeanstalk => "elasticbeanstalk.amazonaws.com",
            Self::Other(host) => host,
        }
    }
}

/// Who may assume the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// AWS services (`sts:AssumeRole`).
    Services(Vec<ServicePrincipal>),
    /// A Kubernetes service account through an EKS OIDC provider (IRSA):
    /// `sts:AssumeRoleWithWebIdentity` with `<issuer>:sub = system:serviceaccount:NS:NAME` and
    /// `<issuer>:aud = sts.amazonaws.com`.
    Irsa {
        /// The OIDC provider's ARN (`arn:aws:iam::123:oidc-provider/oidc.eks...`).
        provider_arn: String,
        /// The Kubernetes namespace.
        namespace: String,
        /// The service account's name.
        service_account: String,
    },
    /// Authenticated identities of a Cognito identity pool.
    CognitoAuthenticated {
        /// The identity pool id (`us-east-1:...`).
        identity_pool_id: String,
    },
    /// Any other trust policy.
    Document(PolicyDocument),
}

impl Trust {
    /// The trust policy document.
    #[must_use]
    pub fn document(&self) -> PolicyDocument {
        match self {
            Self::Services(services) => PolicyDocument::new(vec![Statement::allow_principal(
                Principal::services(services.iter().map(|s| s.host().to_owned())),
                ["sts:AssumeRole"],
            )]),
            Self::Irsa {
                provider_arn,
                namespace,
                service_account,
            } => {
                let issuer = provider_arn
                    .split_once(":oidc-provider/")
                    .map_or(provider_arn.as_str(), |(_, issuer)| issuer);
                PolicyDocument::new(vec![Statement::allow_principal(
                    Principal::federated(provider_arn.clone()),
                    ["sts:AssumeRoleWithWebIdentity"],
                )
                .with_condition(
                    "StringEquals",
                    format!("{issuer}:sub"),
                    OneOrMany::one(format!(
                        "system:serviceaccount:{namespace}:{service_account}"
                    )),
                )
                .with_condition(
                    "StringEquals",
                    format!("{issuer}:aud"),
                    OneOrMany::one("sts.amazonaws.com"),
                )])
            }
            Self::CognitoAuthenticated { identity_pool_id } => {
                PolicyDocument::new(vec![Statement::allow_principal(
                    Principal::federated("cognito-identity.amazonaws.com"),
                    ["sts:AssumeRoleWithWebIdentity"],
                )
                .with_condition(
                    "StringEquals",
                    "cognito-identity.amazonaws.com:aud",
                    OneOrMany::one(identity_pool_id.clone()),
                )
                .with_condition(
                    "ForAnyValue:StringLike",
                    "cognito-identity.amazonaws.com:amr",
                    OneOrMany::one("authenticated"),
                )])
            }
            Self::Document(doc) => doc.clone(),
        }
    }
}

/// The desired role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSpec {
    /// Logical id (`identity/role/api`); the role's name is `<stack>-<env>-<id>`.
    pub logical_id: String,
    /// Description.
    pub description: Option<String>,
    /// Who may assume it.
    pub trust: Trust,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    /// ARNs of managed policies to attach (customer or AWS managed).
    pub managed_policy_arns: BTreeSet<String>,
    /// A permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Maximum session duration in seconds (3600 when unset).
    pub max_session_duration: Option<i32>,
    /// Whether an instance profile of the same name holds the role (EC2 instances).
    pub instance_profile: bool,
}

impl RoleSpec {
    /// A role for AWS services, with nothing attached yet.
    pub fn for_services(
        logical_id: impl Into<String>,
        services: impl IntoIterator<Item = ServicePrincipal>,
    ) -> Self {
        Self::new(logical_id, Trust::Services(services.into_iter().collect()))
    }

    /// A role with this trust, with nothing attached yet.
    pub fn new(logical_id: impl Into<String>, trust: Trust) -> Self {
        Self {
            logical_id: logical_id.into(),
            description: None,
            trust,
            inline_policies: BTreeMap::new(),
            managed_policy_arns: BTreeSet::new(),
            permissions_boundary: None,
            max_session_duration: None,
            instance_profile: false,
        }
    }

    /// Adds an inline policy.
    #[must_use]
    pub fn with_inline(mut self, name: impl Into<String>, doc: PolicyDocument) -> Self {
        self.inline_policies.insert(name.into(), doc);
        self
    }

    /// Attaches a managed policy.
    #[must_use]
    pub fn with_managed(mut self, arn: impl Into<String>) -> Self {
        self.managed_policy_arns.insert(arn.into());
        self
    }
}

/// The role as observed in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRole {
    /// The role's ARN.
    pub arn: String,
    /// The trust policy.
    pub trust: PolicyDocument,
    /// Description.
    pub description: Option<String>,
    /// Maximum session duration.
    pub max_session_duration: Option<i32>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    /// Attached managed policy ARNs.
    pub managed_policy_arns: BTreeSet<String>,
    /// The instance profile of the role's name: `None` when absent, `Some(holds_role)`.
    pub instance_profile: Option<bool>,
}

/// What must change, computed purely from spec and observation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleDiff {
    /// The role does not exist.
    pub create: bool,
    /// Field diffs, for the plan.
    pub fields: Vec<FieldDiff>,
    /// Trust policy differs.
    pub trust: bool,
    /// Description or max session duration differ.
    pub settings: bool,
    /// Boundary to set (`Some(Some)`) or remove (`Some(None)`).
    pub boundary: Option<Option<String>>,
    /// Tags to set.
    pub tags_set: Vec<(String, String)>,
    /// Tag keys to remove.
    pub tags_remove: Vec<String>,
    /// Inline policies to put.
    pub inline_put: Vec<String>,
    /// Inline policies to delete.
    pub inline_delete: Vec<String>,
    /// Managed policies to attach.
    pub attach: Vec<String>,
    /// Managed policies to detach.
    pub detach: Vec<String>,
    /// Create the instance profile.
    pub profile_create: bool,
    /// Add the role to the instance profile.
    pub profile_add: bool,
}

fn compact(doc: &PolicyDocument) -> String {
    doc.canonical().to_json()
}

/// Compares the desired role (spec plus `tags`) with what is observed.
#[must_use]
pub fn diff(spec: &RoleSpec, tags: &Tags, observed: Option<&ObservedRole>) -> RoleDiff {
    let trust = spec.trust.document();
    let Some(obs) = observed else {
        let mut fields = vec![FieldDiff::set("assume_role_policy", trust.to_json())];
        for (name, doc) in &spec.inline_policies {
            fields.push(FieldDiff::set(
                format!("inline_policy.{name}"),
                doc.to_json(),
            ));
        }
        for arn in &spec.managed_policy_arns {
            fields.push(FieldDiff::set(format!("managed_policy.{arn}"), "attached"));
        }
        if let Some(b) = &spec.permissions_boundary {
            fields.push(FieldDiff::set("permissions_boundary", b));
        }
        if spec.instance_profile {
            fields.push(FieldDiff::set("instance_profile", true));
        }
        return RoleDiff {
            create: true,
            fields,
            inline_put: spec.inline_policies.keys().cloned().collect(),
            attach: spec.managed_policy_arns.iter().cloned().collect(),
            boundary: spec.permissions_boundary.clone().map(Some),
            profile_create: spec.instance_profile,
            profile_add: spec.instance_profile,
            ..RoleDiff::default()
        };
    };
    let mut d = RoleDiff::default();
    if !obs.trust.same_as(&trust) {
        d.trust = true;
        d.fields.push(FieldDiff::new(
            "assume_role_policy",
            Some(compact(&obs.trust)),
            Some(compact(&trust)),
        ));
    }
    if spec.description.is_some() && obs.description != spec.description {
        d.settings = true;
        d.fields.push(FieldDiff::new(
            "description",
            obs.description.as_ref(),
            spec.description.as_ref(),
        ));
    }
    let want_session = spec.max_session_duration.unwrap_or(3600);
    if obs.max_session_duration.unwrap_or(3600) != want_session {
        d.settings = true;
        d.fields.push(FieldDiff::new(
            "max_session_duration",
            obs.max_session_duration,
            Some(want_session),
        ));
    }
    if obs.permissions_boundary != spec.permissions_boundary {
        d.boundary = Some(spec.permissions_boundary.clone());
        d.fields.push(FieldDiff::new(
            "permissions_boundary",
            obs.permissions_boundary.as_ref(),
            spec.permissions_boundary.as_ref(),
        ));
    }
    let tag_diff = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, old, new) in tag_diff.set {
        d.fields
            .push(FieldDiff::new(format!("tags.{k}"), old, Some(&new)));
        d.tags_set.push((k, new));
    }
    for k in tag_diff.remove {
        d.fields.push(FieldDiff::new(
            format!("tags.{k}"),
            obs.tags.get(&k),
            None::<String>,
        ));
        d.tags_remove.push(k);
    }
    for (name, doc) in &spec.inline_policies {
        let old = obs.inline_policies.get(name);
        if !old.is_some_and(|o| o.same_as(doc)) {
            d.fields.push(FieldDiff::new(
                format!("inline_policy.{name}"),
                old.map(compact),
                Some(compact(doc)),
            ));
            d.inline_put.push(name.clone());
        }
    }
    for (name, doc) in &obs.inline_policies {
        if !spec.inline_policies.contains_key(name) {
            d.fields.push(FieldDiff::new(
                format!("inline_policy.{name}"),
                Some(compact(doc)),
                None::<String>,
            ));
            d.inline_delete.push(name.clone());
        }
    }
    for arn in spec
        .managed_policy_arns
        .difference(&obs.managed_policy_arns)
    {
        d.fields
            .push(FieldDiff::set(format!("managed_policy.{arn}"), "attached"));
        d.attach.push(arn.clone());
    }
    for arn in obs
        .managed_policy_arns
        .difference(&spec.managed_policy_arns)
    {
        d.fields.push(FieldDiff::new(
            format!("managed_policy.{arn}"),
            Some("attached"),
            None::<String>,
        ));
        d.detach.push(arn.clone());
    }
    if spec.instance_profile && obs.instance_profile != Some(true) {
        d.fields.push(FieldDiff::new(
            "instance_profile",
            obs.instance_profile.map(|_| "without role"),
            Some("with role"),
        ));
        d.profile_create = obs.instance_profile.is_none();
        d.profile_add = true;
    }
    d
}

/// The change for a role: create, update of the differing fields, or nothing.
#[must_use]
pub fn decide(spec: &RoleSpec, tags: &Tags, observed: Option<&ObservedRole>) -> Change {
    let d = diff(spec, tags, observed);
    if d.create {
        Change::Create { fields: d.fields }
    } else {
        Change::update_if_any(d.fields)
    }
}

/// What [`ensure_role`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RoleOutcome {
    /// The role's name.
    pub name: String,
    /// The role's ARN (`None` only in plan mode for a role still to be created).
    pub arn: Option<String>,
    /// The instance profile's ARN, when one is wanted and exists.
    pub instance_profile_arn: Option<String>,
    /// The change made (or planned).
    pub change: ResourceChange,
}

pub(crate) fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
        .into_iter()
        .flatten()
        .collect()
}

/// Reads a role and everything attached to it; `None` when it does not exist.
///
/// # Errors
/// When a read fails for another reason than the role not existing.
pub async fn observe_role(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<Option<ObservedRole>, IdentityError> {
    let role = match iam.get_role().role_name(name).send().await {
        Ok(out) => out
            .role
            .ok_or_else(|| IdentityError::missing(KIND, name, "role"))?,
        Err(e) if is_no_such_entity(&e) => return Ok(None),
        Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, name, e))),
    };
    let parse = |text: &str| {
        PolicyDocument::parse(text).map_err(|source| IdentityError::Document {
            kind: KIND,
            name: name.to_owned(),
            source,
        })
    };
    let trust = parse(role.assume_role_policy_document().unwrap_or("{}"))?;
    let names = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list inline policies of", KIND, name))?;
    let mut inline_policies = BTreeMap::new();
    for policy in names {
        let out = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
            .map_err(AwsError::map("read inline policy of", KIND, name))?;
        inline_policies.insert(policy, parse(out.policy_document())?);
    }
    let managed_policy_arns = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list managed policies of", KIND, name))?
        .into_iter()
        .filter_map(|p| p.policy_arn)
        .collect();
    let instance_profile = match iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(out) => Some(
            out.instance_profile
                .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == name)),
        ),
        Err(e) if is_no_such_entity(&e) => None,
        Err(e) => {
            return Err(IdentityError::from(AwsError::new(
                "read instance profile of",
                KIND,
                name,
                e,
            )))
        }
    };
    Ok(Some(ObservedRole {
        arn: role.arn().to_owned(),
        trust,
        description: role.description().map(str::to_owned),
        max_session_duration: role.max_session_duration(),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        inline_policies,
        managed_policy_arns,
        instance_profile,
    }))
}

/// Makes the role match `spec`: creates it, or updates its trust policy, settings, tags,
/// inline policies, managed attachments, boundary and instance profile in place.
///
/// # Idempotency
/// The role is identified by its name, `<stack>-<env>-<logical id>`. A crash after
/// `CreateRole` leaves the role (with its tags, passed inside the create call) without some
/// policies; the next run finds it by name and adds what is missing. Out-of-band edits
/// (an inline policy changed, a policy attached by hand) are reported as field diffs and
/// reverted. Calls that follow a create are retried while IAM propagates (bounded by
/// [`PROPAGATION`]), and the role is read back until visible before this returns.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails (naming the role), [`IdentityError::Document`]
/// when AWS returns an unreadable policy.
pub async fn ensure_role(ctx: &Context, spec: &RoleSpec) -> Result<RoleOutcome, IdentityError> {
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    let name = ctx.physical_name(&spec.logical_id, &NameRule::IAM_ROLE);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("iam").await;
    let observed = observe_role(&iam, &name).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let d = diff(spec, &tags, observed.as_ref());
    let change = if d.create {
        Change::Create {
            fields: d.fields.clone(),
        }
    } else {
        Change::update_if_any(d.fields.clone())
    };
    let mut arn = observed.as_ref().map(|o| o.arn.clone());
    let mut profile_arn = None;
    if ctx.is_apply() && change.is_change() {
        arn = Some(act(&iam, &name, spec, &tags, &d).await?);
    }
    if spec.instance_profile && (ctx.is_apply() || !d.profile_create) {
        profile_arn = match iam
            .get_instance_profile()
            .instance_profile_name(&name)
            .send()
            .await
        {
            Ok(o) => o.instance_profile.map(|p| p.arn().to_owned()),
            Err(e) if is_no_such_entity(&e) => None,
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "read the instance profile of",
                    KIND,
                    &name,
                    e,
                )))
            }
        };
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(RoleOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
        arn,
        instance_profile_arn: profile_arn,
    })
}

async fn act(
    iam: &aws_sdk_iam::Client,
    name: &str,
    spec: &RoleSpec,
    tags: &Tags,
    d: &RoleDiff,
) -> Result<String, IdentityError> {
    let trust = spec.trust.document().to_json();
    if d.create {
        let created = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(&trust)
            .set_description(spec.description.clone())
            .set_max_session_duration(spec.max_session_duration)
            .set_permissions_boundary(spec.permissions_boundary.clone())
            .set_tags(Some(iam_tags(tags)))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // A concurrent run created it between our read and this call: adopt it.
            Err(e) if is_entity_already_exists(&e) => {}
            Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, name, e))),
        }
    }
    if d.trust {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(&trust)
            .send()
            .await
            .map_err(AwsError::map("update the trust policy of", KIND, name))?;
    }
    if d.settings {
        iam.update_role()
            .role_name(name)
            .set_description(spec.description.clone())
            .max_session_duration(spec.max_session_duration.unwrap_or(3600))
            .send()
            .await
            .map_err(AwsError::map("update", KIND, name))?;
    }
    if !d.create {
        match &d.boundary {
            Some(Some(arn)) => {
                iam.put_role_permissions_boundary()
                    .role_name(name)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map_err(AwsError::map("set the permissions boundary of", KIND, name))?;
            }
            Some(None) => {
                iam.delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(AwsError::map(
                        "remove the permissions boundary of",
                        KIND,
                        name,
                    ))?;
            }
            None => {}
        }
    }
    if !d.tags_set.is_empty() {
        let set: Tags = d.tags_set.iter().cloned().collect();
        iam.tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(&set)))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, name))?;
    }
    if !d.tags_remove.is_empty() {
        iam.untag_role()
            .role_name(name)
            .set_tag_keys(Some(d.tags_remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, name))?;
    }
    for policy in &d.inline_put {
        let doc = spec.inline_policies[policy].to_json();
        retry(&PROPAGATION, is_iam_propagation, || {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(&doc)
                .send()
        })
        .await
        .map_err(AwsError::map("put an inline policy on", KIND, name))?;
    }
    for policy in &d.inline_delete {
        match iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_no_such_entity(&e) => {}
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "delete an inline policy of",
                    KIND,
                    name,
                    e,
                )))
            }
        }
    }
    for arn in &d.attach {
        retry(&PROPAGATION, is_iam_propagation, || {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
        })
        .await
        .map_err(AwsError::map("attach a managed policy to", KIND, name))?;
    }
    for arn in &d.detach {
        match iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_no_such_entity(&e) => {}
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "detach a managed policy from",
                    KIND,
                    name,
                    e,
                )))
            }
        }
    }
    if d.profile_create {
        match iam
            .create_instance_profile()
            .instance_profile_name(name)
            .set_tags(Some(iam_tags(tags)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_entity_already_exists(&e) => {}
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "create the instance profile of",
                    KIND,
                    name,
                    e,
                )))
            }
        }
    }
    if d.profile_add {
        retry(&PROPAGATION, is_iam_propagation, || {
            iam.add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(name)
                .send()
        })
        .await
        .map_err(AwsError::map(
            "add the role to the instance profile",
            KIND,
            name,
        ))?;
    }
    // Usable: the role is readable (visible to IAM's read path) before anyone is handed it.
    let role = retry(&PROPAGATION, is_no_such_entity, || {
        iam.get_role().role_name(name).send()
    })
    .await
    .map_err(AwsError::map("read back", KIND, name))?;
    role.role
        .map(|r| r.arn().to_owned())
        .ok_or_else(|| IdentityError::missing(KIND, name, "ARN"))
}

/// Deletes the role of `logical_id` and everything attached to it (inline policies, managed
/// attachments, its instance profile).
///
/// # Idempotency
/// Found by name; every step tolerates the thing already being gone, so a crash mid-way is
/// finished by the next run. An absent role is a no-op.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_role(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, IdentityError> {
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    let name = ctx.physical_name(logical_id, &NameRule::IAM_ROLE);
    let _permit = ctx.permit("iam").await;
    let observed = observe_role(&iam, &name).await?;
    let change = if observed.is_some() {
        Change::Delete
    } else {
        Change::NoOp
    };
    if let (Some(obs), true) = (&observed, ctx.is_apply()) {
        ctx.report(Event::Started {
            resource: logical_id.to_owned(),
        });
        for arn in &obs.managed_policy_arns {
            ignore_missing(
                iam.detach_role_policy()
                    .role_name(&name)
                    .policy_arn(arn)
                    .send()
                    .await,
                "detach a managed policy from",
                &name,
            )?;
        }
        for policy in obs.inline_policies.keys() {
            ignore_missing(
                iam.delete_role_policy()
                    .role_name(&name)
                    .policy_name(policy)
                    .send()
                    .await,
                "delete an inline policy of",
                &name,
            )?;
        }
        let profiles = iam
            .list_instance_profiles_for_role()
            .role_name(&name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(AwsError::map("list instance profiles of", KIND, &name))?;
        for profile in profiles {
            let pname = profile.instance_profile_name();
            ignore_missing(
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(pname)
                    .role_name(&name)
                    .send()
                    .await,
                "remove from its instance profile",
                &name,
            )?;
            if pname == name {
                ignore_missing(
                    iam.delete_instance_profile()
                        .instance_profile_name(pname)
                        .send()
                        .await,
                    "delete the instance profile of",
                    &name,
                )?;
            }
        }
        if obs.instance_profile.is_some() {
            ignore_missing(
                iam.delete_instance_profile()
                    .instance_profile_name(&name)
                    .send()
                    .await,
                "delete the instance profile of",
                &name,
            )?;
        }
        ignore_missing(
            iam.delete_role().role_name(&name).send().await,
            "delete",
            &name,
        )?;
    }
    ctx.report(Event::Done {
        resource: logical_id.to_owned(),
        change: change.clone(),
    });
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}

fn ignore_missing<T, E>(
    result: Result<T, aws_sdk_iam::error::SdkError<E>>,
    action: &'static str,
    name: &str,
) -> Result<(), IdentityError>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_no_such_entity(&e) => Ok(()),
        Err(e) => Err(IdentityError::from(AwsError::new(action, KIND, name, e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags() -> Tags {
        Tags::standard("shop", "prod", "team", "cc", "shop").with_id("identity/role/api")
    }

    fn spec() -> RoleSpec {
        RoleSpec::for_services("identity/role/api", [ServicePrincipal::Lambda])
            .with_inline(
                "read",
                PolicyDocument::new(vec![Statement::allow(["s3:GetObject"], ["*"])]),
            )
            .with_managed("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    }

    fn converged(spec: &RoleSpec) -> ObservedRole {
        ObservedRole {
            arn: "arn:aws:iam::123456789012:role/shop-prod-identity-role-api".into(),
            trust: spec.trust.document(),
            description: spec.description.clone(),
            max_session_duration: Some(3600),
            permissions_boundary: spec.permissions_boundary.clone(),
            tags: tags().iter().map(|(k, v)| (k.into(), v.into())).collect(),
            inline_policies: spec.inline_policies.clone(),
            managed_policy_arns: spec.managed_policy_arns.clone(),
            instance_profile: spec.instance_profile.then_some(true),
        }
    }

    #[test]
    fn absent_role_is_created_with_everything() {
        let d = diff(&spec(), &tags(), None);
        assert!(d.create);
        assert_eq!(d.inline_put, ["read"]);
        assert_eq!(d.attach.len(), 1);
        assert!(matches!(
            decide(&spec(), &tags(), None),
            Change::Create { .. }
        ));
    }

    #[test]
    fn converged_role_is_a_noop() {
        let s = spec();
        assert_eq!(decide(&s, &tags(), Some(&converged(&s))), Change::NoOp);
    }

    #[test]
    fn drift_is_reported_field_by_field() {
        let s = spec();
        let mut obs = converged(&s);
        obs.inline_policies.insert(
            "read".into(),
            PolicyDocument::new(vec![Statement::allow(["s3:*"], ["*"])]),
        );
        obs.inline_policies.insert(
            "stray".into(),
            PolicyDocument::new(vec![Statement::allow(["iam:*"], ["*"])]),
        );
        obs.managed_policy_arns
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        obs.tags.insert("Env".into(), "dev".into());
        let d = diff(&s, &tags(), Some(&obs));
        assert_eq!(d.inline_put, ["read"]);
        assert_eq!(d.inline_delete, ["stray"]);
        assert_eq!(d.detach, ["arn:aws:iam::aws:policy/AdministratorAccess"]);
        assert_eq!(d.tags_set, [("Env".to_owned(), "prod".to_owned())]);
        let fields: Vec<_> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "tags.Env",
                "inline_policy.read",
                "inline_policy.stray",
                "managed_policy.arn:aws:iam::aws:policy/AdministratorAccess"
            ]
        );
    }

    #[test]
    fn irsa_trust_names_the_service_account() {
        let trust = Trust::Irsa {
            provider_arn:
                "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
                    .into(),
            namespace: "default".into(),
            service_account: "llm-gateway-sa".into(),
        };
        let json = trust.document().to_json();
        assert!(json.contains(r#""oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:default:llm-gateway-sa""#), "{json}");
        assert!(json.contains(r#""Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks"#));
        assert!(json.contains("sts:AssumeRoleWithWebIdentity"));
    }

    #[test]
    fn every_named_service_has_its_host() {
        for (p, host) in [
            (ServicePrincipal::EcsTasks, "ecs-tasks.amazonaws.com"),
            (
                ServicePrincipal::RdsMonitoring,
                "monitoring.rds.amazonaws.com",
            ),
            (ServicePrincipal::VpcFlowLogs, "vpc-flow-logs.amazonaws.com"),
            (
                ServicePrincipal::ElasticBeanstalk,
                "elasticbeanstalk.amazonaws.com",
            ),
        ] {
            assert_eq!(p.host(), host);
        }
    }

    proptest! {
        #[test]
        fn prop_observing_the_spec_itself_is_a_noop(
            services in prop::collection::vec(prop::sample::select(vec![
                ServicePrincipal::Lambda, ServicePrincipal::Ec2, ServicePrincipal::Bedrock, ServicePrincipal::Eks,
            ]), 1..4),
            policies in prop::collection::btree_map("[a-z]{1,8}", prop::collection::vec("[a-z]{1,5}:[A-Z][a-z]{1,8}", 1..4), 0..4),
            managed in prop::collection::btree_set("arn:aws:iam::aws:policy/[A-Za-z]{1,10}", 0..3),
            profile in prop::bool::ANY,
        ) {
            let mut s = RoleSpec::for_services("identity/role/x", services);
            for (name, actions) in policies {
                s = s.with_inline(name, PolicyDocument::new(vec![Statement::allow(actions, ["*"])]));
            }
            s.managed_policy_arns = managed;
            s.instance_profile = profile;
            let mut obs = converged(&s);
            // AWS's reordering does not count as drift.
            for doc in obs.inline_policies.values_mut() {
                for st in &mut doc.statements {
                    if let Some(a) = &mut st.action { a.0.reverse(); }
                }
            }
            prop_assert_eq!(decide(&s, &tags(), Some(&obs)), Change::NoOp);
            prop_assert!(diff(&s, &tags(), None).create);
        }
    }
}
