//! Customer managed IAM policies: a named document, versioned by IAM, reconciled by adding
//! a new default version.

use std::collections::BTreeMap;

use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::AwsError;
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
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

/// The change for a managed policy.
#[must_use]
pub fn decide(spec: &ManagedPolicySpec, tags: &Tags, observed: Option<&ObservedPolicy>) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![FieldDiff::set("document", spec.document.to_json())],
        };
    };
    let mut fields = Vec::new();
    if !obs.document.same_as(&spec.document) {
        fields.push(FieldDiff::new(
            "document",
            Some(obs.document.canonical().to_json()),
            Some(spec.document.canonical().to_json()),
        ));
    }
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, old, new) in td.set {
        fields.push(FieldDiff::new(format!("tags.{k}"), old, Some(new)));
    }
    for k in td.remove {
        fields.push(FieldDiff::new(
            format!("tags.{k}"),
            obs.tags.get(&k),
            None::<String>,
        ));
    }
    Change::update_if_any(fields)
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
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    let name = ctx.physical_name(&spec.logical_id, &NameRule::IAM_ROLE);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let (partition, account) = crate::account::caller(ctx).await?;
    let arn = format!("arn:{partition}:iam::{account}:policy/{name}");
    let _permit = ctx.permit("iam").await;
    let observed = observe(&iam, &arn).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        let doc = spec.document.to_json();
        match &observed {
            None => match iam
                .create_policy()
                .policy_name(&name)
                .policy_document(&doc)
                .set_description(spec.description.clone())
                .set_tags(Some(iam_tags(&tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_entity_already_exists(&e) => {}
                Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, &name, e))),
            },
            Some(obs) => {
                if !obs.document.same_as(&spec.document) {
                    if obs.versions.len() >= 5 {
                        if let Some((oldest, _)) = obs.versions.iter().find(|(_, d)| !d) {
                            iam.delete_policy_version()
                                .policy_arn(&arn)
                                .version_id(oldest)
                                .send()
                                .await
                                .map_err(AwsError::map("delete an old version of", KIND, &name))?;
                        }
                    }
                    iam.create_policy_version()
                        .policy_arn(&arn)
                        .policy_document(&doc)
                        .set_as_default(true)
                        .send()
                        .await
                        .map_err(AwsError::map("add a version to", KIND, &name))?;
                }
                let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if !td.set.is_empty() {
                    let set = td.to_set();
                    iam.tag_policy()
                        .policy_arn(&arn)
                        .set_tags(Some(iam_tags(&set)))
                        .send()
                        .await
                        .map_err(AwsError::map("tag", KIND, &name))?;
                }
                if !td.remove.is_empty() {
                    iam.untag_policy()
                        .policy_arn(&arn)
                        .set_tag_keys(Some(td.remove))
                        .send()
                        .await
                        .map_err(AwsError::map("untag", KIND, &name))?;
                }
            }
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(PolicyOutcome {
        arn,
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name),
            change,
        },
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
