//! IAM `OpenID` Connect providers for EKS clusters (IRSA).
//!
//! Thumbprints: AWS now validates EKS (and other well-known) issuers against its library of
//! trusted root CAs and ignores the thumbprint for them, and `CreateOpenIDConnectProvider`
//! no longer requires one. Ironbark therefore sends no thumbprint unless the spec pins some,
//! and does not report the thumbprint AWS fills in on its own as drift.

use std::collections::{BTreeMap, BTreeSet};

use ironbark_core::reconcile::AwsError;
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::error::{is_entity_already_exists, is_no_such_entity, IdentityError};
use crate::role::iam_tags;

const KIND: &str = "OIDC provider";

/// The desired provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProviderSpec {
    /// Logical id (tags only: a provider is identified by its issuer URL).
    pub logical_id: String,
    /// The issuer (`https://oidc.eks.us-east-1.amazonaws.com/id/ABC`).
    pub issuer_url: String,
    /// Audiences (`sts.amazonaws.com` for IRSA).
    pub client_ids: BTreeSet<String>,
    /// Pinned thumbprints; `None` lets AWS validate the issuer against trusted CAs.
    pub thumbprints: Option<BTreeSet<String>>,
}

impl OidcProviderSpec {
    /// An IRSA provider for an EKS issuer, audience `sts.amazonaws.com`, no thumbprint.
    pub fn for_eks(logical_id: impl Into<String>, issuer_url: impl Into<String>) -> Self {
        Self {
            logical_id: logical_id.into(),
            issuer_url: issuer_url.into(),
            client_ids: ["sts.amazonaws.com".to_owned()].into(),
            thumbprints: None,
        }
    }

    /// The issuer without its scheme, as it appears in the provider's ARN and in conditions.
    #[must_use]
    pub fn issuer_host(&self) -> &str {
        self.issuer_url
            .strip_prefix("https://")
            .unwrap_or(&self.issuer_url)
    }
}

/// The provider as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedProvider {
    /// Audiences.
    pub client_ids: BTreeSet<String>,
    /// Thumbprints.
    pub thumbprints: BTreeSet<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// The change for a provider.
#[must_use]
pub fn decide(spec: &OidcProviderSpec, tags: &Tags, observed: Option<&ObservedProvider>) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("url", &spec.issuer_url),
                FieldDiff::set("client_ids", join(&spec.client_ids)),
            ],
        };
    };
    let mut fields = Vec::new();
    if obs.client_ids != spec.client_ids {
        fields.push(FieldDiff::new(
            "client_ids",
            Some(join(&obs.client_ids)),
            Some(join(&spec.client_ids)),
        ));
    }
    if let Some(want) = &spec.thumbprints {
        if *want != obs.thumbprints {
            fields.push(FieldDiff::new(
                "thumbprints",
                Some(join(&obs.thumbprints)),
                Some(join(want)),
            ));
        }
    }
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, old, new) in td.set {
        fields.push(FieldDiff::new(format!("tags.{k}"), old, Some(new)));
    }
    Change::update_if_any(fields)
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

/// What [`ensure_oidc_provider`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct OidcOutcome {
    /// The provider's ARN.
    pub arn: String,
    /// The change.
    pub change: ResourceChange,
}

async fn observe(
    iam: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<Option<ObservedProvider>, IdentityError> {
    match iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(ObservedProvider {
            client_ids: out.client_id_list().iter().cloned().collect(),
            thumbprints: out.thumbprint_list().iter().cloned().collect(),
            tags: out
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        })),
        Err(e) if is_no_such_entity(&e) => Ok(None),
        Err(e) => Err(IdentityError::from(AwsError::new("read", KIND, arn, e))),
    }
}

/// Makes the OIDC provider for an issuer match `spec`.
///
/// # Idempotency
/// Identified by its ARN, `arn:<partition>:iam::<account>:oidc-provider/<issuer host>`;
/// there is at most one per issuer and account. Tags are passed inside the create call.
/// Audiences and pinned thumbprints are reconciled in place.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_oidc_provider(
    ctx: &Context,
    spec: &OidcProviderSpec,
) -> Result<OidcOutcome, IdentityError> {
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let (partition, account) = crate::account::caller(ctx).await?;
    let arn = format!(
        "arn:{partition}:iam::{account}:oidc-provider/{}",
        spec.issuer_host()
    );
    let observed = observe(&iam, &arn).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        match &observed {
            None => match iam
                .create_open_id_connect_provider()
                .url(&spec.issuer_url)
                .set_client_id_list(Some(spec.client_ids.iter().cloned().collect()))
                .set_thumbprint_list(
                    spec.thumbprints
                        .as_ref()
                        .map(|t| t.iter().cloned().collect()),
                )
                .set_tags(Some(iam_tags(&tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_entity_already_exists(&e) => {}
                Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, &arn, e))),
            },
            Some(obs) => {
                for id in spec.client_ids.difference(&obs.client_ids) {
                    iam.add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .client_id(id)
                        .send()
                        .await
                        .map_err(AwsError::map("add an audience to", KIND, &arn))?;
                }
                for id in obs.client_ids.difference(&spec.client_ids) {
                    iam.remove_client_id_from_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .client_id(id)
                        .send()
                        .await
                        .map_err(AwsError::map("remove an audience from", KIND, &arn))?;
                }
                if let Some(want) = spec.thumbprints.as_ref().filter(|t| **t != obs.thumbprints) {
                    iam.update_open_id_connect_provider_thumbprint()
                        .open_id_connect_provider_arn(&arn)
                        .set_thumbprint_list(Some(want.iter().cloned().collect()))
                        .send()
                        .await
                        .map_err(AwsError::map("update thumbprints of", KIND, &arn))?;
                }
                let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if !td.set.is_empty() {
                    let set = td.to_set();
                    iam.tag_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .set_tags(Some(iam_tags(&set)))
                        .send()
                        .await
                        .map_err(AwsError::map("tag", KIND, &arn))?;
                }
            }
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(OidcOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(arn.clone()),
            change,
        },
        arn,
    })
}

/// Deletes the provider of `issuer_url`.
///
/// # Idempotency
/// An absent provider is a no-op.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_oidc_provider(
    ctx: &Context,
    logical_id: &str,
    issuer_url: &str,
) -> Result<ResourceChange, IdentityError> {
    let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
    let (partition, account) = crate::account::caller(ctx).await?;
    let host = issuer_url.strip_prefix("https://").unwrap_or(issuer_url);
    let arn = format!("arn:{partition}:iam::{account}:oidc-provider/{host}");
    let exists = observe(&iam, &arn).await?.is_some();
    if exists && ctx.is_apply() {
        match iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_no_such_entity(&e) => {}
            Err(e) => return Err(IdentityError::from(AwsError::new("delete", KIND, &arn, e))),
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(arn),
        change: if exists { Change::Delete } else { Change::NoOp },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_filled_thumbprints_are_not_drift_unless_pinned() {
        let tags = Tags::default().with_id("oidc");
        let mut spec =
            OidcProviderSpec::for_eks("oidc", "https://oidc.eks.us-east-1.amazonaws.com/id/X");
        assert_eq!(spec.issuer_host(), "oidc.eks.us-east-1.amazonaws.com/id/X");
        let obs = ObservedProvider {
            client_ids: spec.client_ids.clone(),
            thumbprints: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".to_owned()].into(),
            tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        assert_eq!(decide(&spec, &tags, Some(&obs)), Change::NoOp);
        spec.thumbprints = Some(["a".repeat(40)].into());
        assert!(matches!(
            decide(&spec, &tags, Some(&obs)),
            Change::Update { .. }
        ));
        spec.client_ids.insert("other".into());
        let Change::Update { fields } = decide(&spec, &tags, Some(&obs)) else {
            panic!()
        };
        assert_eq!(fields[0].field, "client_ids");
    }
}
