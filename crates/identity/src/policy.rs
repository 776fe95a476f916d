//! Customer managed IAM policies: a named document, versioned by IAM, reconciled by adding
//! a new default version; on the reconcile kit.

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::{self, AwsError, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Change, Context, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::document::PolicyDocument;
use crate::error::{is_entity_already_exists, is_no_such_entity, IdentityError};
use crate::role::iam_tags;

const KIND: &str = "managed policy";

/// The desired managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicySpec {
    /// Logical id; the policy's name is `<stack>-<env>-<id>`.
    pub logical_id: String,
    /// Description (fixed at creation by IAM).
    pub description: Option<String>,
    /// The document.
    pub document: PolicyDocument,
}

/// The managed policy as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPolicy {
    /// Its ARN.
    pub arn: String,
    /// The default version's document.
    pub document: PolicyDocument,
    /// Its versions, oldest first: (version id, is default).
    pub versions: Vec<(String, bool)>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What differs between a managed policy and its spec; the kit's `apply` acts on exactly
/// this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyDiff {
    /// The policy does not exist: the document to create it with.
    pub create: Option<String>,
    /// A new default version: (observed, desired), canonical JSON.
    pub document: Option<(String, String)>,
    /// The oldest non-default version, deleted first when IAM's five versions are reached.
    pub delete_version: Option<String>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering (removals show the value they had).
    tag_fields: Vec<FieldDiff>,
}

impl Diff for PolicyDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none() && self.document.is_none() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields = Vec::new();
        if let Some(doc) = &self.create {
            fields.push(FieldDiff::set("document", doc));
        }
        if let Some((old, new)) = &self.document {
            fields.push(FieldDiff::new("document", Some(old), Some(new)));
        }
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }
}

/// The diff for a managed policy. Pure.
#[must_use]
pub fn diff(
    spec: &ManagedPolicySpec,
    tags: &Tags,
    observed: Option<&ObservedPolicy>,
) -> PolicyDiff {
    let Some(obs) = observed else {
        return PolicyDiff {
            create: Some(spec.document.to_json()),
            ..PolicyDiff::default()
        };
    };
    let document = (!obs.document.same_as(&spec.document)).then(|| {
        (
            obs.document.canonical().to_json(),
            spec.document.canonical().to_json(),
        )
    });
    let delete_version = document
        .as_ref()
        .filter(|_| obs.versions.len() >= 5)
        .and_then(|_| obs.versions.iter().find(|(_, d)| !d))
        .map(|(v, _)| v.clone());
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut tag_fields: Vec<FieldDiff> = td
        .set
        .iter()
        .map(|(k, old, new)| FieldDiff::new(format!("tags.{k}"), old.clone(), Some(new)))
        .collect();
    tag_fields.extend(
        td.remove
            .iter()
            .map(|k| FieldDiff::new(format!("tags.{k}"), obs.tags.get(k), None::<String>)),
    );
    PolicyDiff {
        create: None,
        document,
        delete_version,
        tags: td,
        tag_fields,
    }
}

/// The change for a managed policy.
#[must_use]
pub fn decide(spec: &ManagedPolicySpec, tags: &Tags, observed: Option<&ObservedPolicy>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}

/// What [`ensure_managed_policy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PolicyOutcome {
    /// The policy's ARN (known before creation: it is derived from the account and name).
    pub arn: String,
    /// The change.
    pub change: ResourceChange,
}

async fn observe(
    iam: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<Option<ObservedPolicy>, IdentityError> {
    let policy = match iam.get_policy().policy_arn(arn).send().await {
        Ok(out) => out
            .policy
            .ok_or_else(|| IdentityError::missing(KIND, arn, "policy"))?,
        Err(e) if is_no_such_entity(&e) => return Ok(None),
        Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, arn, e))),
    };
    let default = policy.default_version_id().unwrap_or("v1").to_owned();
    let version = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&default)
        .send()
        .await
        .map_err(AwsError::map("read the default version of", KIND, arn))?;
    let text = version
        .policy_version
        .and_then(|v| v.document)
        .ok_or_else(|| IdentityError::missing(KIND, arn, "document"))?;
    let document = PolicyDocument::parse(&text).map_err(|source| IdentityError::Document {
        kind: KIND,
        name: arn.to_owned(),
        source,
    })?;
    let mut versions: Vec<(String, bool, Option<aws_sdk_iam::primitives::DateTime>)> = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(AwsError::map("list versions of", KIND, arn))?
        .versions()
        .iter()
        .map(|v| {
            (
                v.version_id().unwrap_or_default().to_owned(),
                v.is_default_version(),
                v.create_date().copied(),
            )
        })
        .collect();
    versions.sort_by_key(|(_, _, d)| d.map(|d| (d.secs(), d.subsec_nanos())));
    Ok(Some(ObservedPolicy {
        arn: arn.to_owned(),
        document,
        versions: versions.into_iter().map(|(v, d, _)| (v, d)).collect(),
        tags: policy
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    }))
}

/// One managed policy, with its name and ARN (which needs the account, read once before
/// converging).
struct Policy<'a> {
    spec: &'a ManagedPolicySpec,
    name: String,
    arn: String,
}

impl Resource for Policy<'_> {
    type Observed = ObservedPolicy;
    type Diff = PolicyDiff;
    type Output = String;
    type Error = IdentityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "iam";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.name.clone()
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedPolicy>, IdentityError> {
        observe(&ironbark_core::sdk_client!(ctx, aws_sdk_iam), &self.arn).await
    }

    /// `None`: the policy is identified by its deterministic name in the account and, as
    /// before the kit, never refused for its tags.
    fn tags<'o>(&self, _observed: &'o ObservedPolicy) -> Option<&'o BTreeMap<String, String>> {
        None
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedPolicy>) -> PolicyDiff {
        diff(self.spec, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        _observed: Option<&ObservedPolicy>,
        diff: &PolicyDiff,
    ) -> Result<String, IdentityError> {
        let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
        let (name, arn) = (&self.name, &self.arn);
        if let Some(doc) = &diff.create {
            match iam
                .create_policy()
                .policy_name(name)
                .policy_document(doc)
                .set_description(self.spec.description.clone())
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_entity_already_exists(&e) => {}
                Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, name, e))),
            }
            return Ok(arn.clone());
        }
        if let Some(oldest) = &diff.delete_version {
            iam.delete_policy_version()
                .policy_arn(arn)
                .version_id(oldest)
                .send()
                .await
                .map_err(AwsError::map("delete an old version of", KIND, name))?;
        }
        if diff.document.is_some() {
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(self.spec.document.to_json())
                .set_as_default(true)
                .send()
                .await
                .map_err(AwsError::map("add a version to", KIND, name))?;
        }
        if !diff.tags.set.is_empty() {
            iam.tag_policy()
                .policy_arn(arn)
                .set_tags(Some(iam_tags(&diff.tags.to_set())))
                .send()
                .await
                .map_err(AwsError::map("tag", KIND, name))?;
        }
        if !diff.tags.remove.is_empty() {
            iam.untag_policy()
                .policy_arn(arn)
                .set_tag_keys(Some(diff.tags.remove.clone()))
                .send()
                .await
                .map_err(AwsError::map("untag", KIND, name))?;
        }
        Ok(arn.clone())
    }

    fn output(&self, _ctx: &Context, _observed: &ObservedPolicy) -> String {
        self.arn.clone()
    }
}

/// Makes the customer managed policy match `spec`.
///
/// # Idempotency
/// Identified by its ARN, derived from the caller's account and the deterministic name. A
/// changed document becomes a new default version; when IAM's limit of five versions is
/// reached the oldest non-default version is deleted first. A crash between the two leaves
/// one version fewer, which the next run does not need.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_managed_policy(
    ctx: &Context,
    spec: &ManagedPolicySpec,
) -> Result<PolicyOutcome, IdentityError> {
    let name = ctx.physical_name(&spec.logical_id, &NameRule::IAM_ROLE);
    let (partition, account) = crate::account::caller(ctx).await?;
    let arn = format!("arn:{partition}:iam::{account}:policy/{name}");
    let policy = Policy {
        spec,
        name,
        arn: arn.clone(),
    };
    let converged = reconcile::converge(ctx, &policy).await?;
    Ok(PolicyOutcome {
        arn,
        change: converged.change,
    })
}

/// Deletes the managed policy of `logical_id`: detaches it from every role, deletes its
/// non-default versions, then the policy.
///
/// # Idempotency
/// Found by ARN; an absent policy is a no-op, and each step tolerates what is gone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_managed_policy(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, IdentityError> {
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    let name = ctx.physical_name(logical_id, &NameRule::IAM_ROLE);
    let (partition, account) = crate::account::caller(ctx).await?;
    let arn = format!("arn:{partition}:iam::{account}:policy/{name}");
    let observed = observe(&iam, &arn).await?;
    let change = if observed.is_some() {
        Change::Delete
    } else {
        Change::NoOp
    };
    if let (Some(obs), true) = (observed, ctx.is_apply()) {
        let roles = iam
            .list_entities_for_policy()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(AwsError::map("list attachments of", KIND, &name))?;
        for role in roles.policy_roles() {
            if let Some(role) = role.role_name() {
                iam.detach_role_policy()
                    .role_name(role)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(AwsError::map("detach", KIND, &name))?;
            }
        }
        for (version, default) in obs.versions {
            if !default {
                iam.delete_policy_version()
                    .policy_arn(&arn)
                    .version_id(version)
                    .send()
                    .await
                    .map_err(AwsError::map("delete a version of", KIND, &name))?;
            }
        }
        match iam.delete_policy().policy_arn(&arn).send().await {
            Ok(_) => {}
            Err(e) if is_no_such_entity(&e) => {}
            Err(e) => return Err(IdentityError::from(AwsError::new("delete", KIND, &name, e))),
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Statement;

    #[test]
    fn reordered_document_is_converged_and_a_new_action_is_not() {
        let tags = Tags::standard("s", "dev", "o", "c", "s").with_id("p");
        let spec = ManagedPolicySpec {
            logical_id: "p".into(),
            description: None,
            document: PolicyDocument::new(vec![Statement::allow(["a:B", "c:D"], ["*"])]),
        };
        let mut obs = ObservedPolicy {
            arn: "arn".into(),
            document: PolicyDocument::new(vec![Statement::allow(["c:D", "a:B"], ["*"])]),
            versions: vec![("v1".into(), true)],
            tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        assert_eq!(decide(&spec, &tags, Some(&obs)), Change::NoOp);
        obs.document = PolicyDocument::new(vec![Statement::allow(["a:B"], ["*"])]);
        assert!(
            matches!(decide(&spec, &tags, Some(&obs)), Change::Update { fields } if fields[0].field == "document")
        );
        assert!(matches!(decide(&spec, &tags, None), Change::Create { .. }));
    }
}
