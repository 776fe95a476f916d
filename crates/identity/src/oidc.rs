//! IAM `OpenID` Connect providers for EKS clusters (IRSA), on the reconcile kit.
//!
//! Thumbprints: AWS now validates EKS (and other well-known) issuers against its library of
//! trusted root CAs and ignores the thumbprint for them, and `CreateOpenIDConnectProvider`
//! no longer requires one. Ironbark therefore sends no thumbprint unless the spec pins some,
//! and does not report the thumbprint AWS fills in on its own as drift.

use std::collections::{BTreeMap, BTreeSet};

use ironbark_core::reconcile::{self, AwsError, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Change, Context, FieldDiff, ResourceChange, Tags};
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

/// What differs between a provider and its spec; the kit's `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OidcDiff {
    /// The provider does not exist: create it (URL, audiences, pinned thumbprints, tags).
    pub create: Option<(String, BTreeSet<String>)>,
    /// Audiences: (observed, desired), when they differ.
    pub client_ids: Option<(BTreeSet<String>, BTreeSet<String>)>,
    /// Pinned thumbprints: (observed, desired), when they differ.
    pub thumbprints: Option<(BTreeSet<String>, BTreeSet<String>)>,
    /// Tags to set (tags outside the spec are left alone).
    pub tags: TagDiff,
}

impl Diff for OidcDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none()
            && self.client_ids.is_none()
            && self.thumbprints.is_none()
            && self.tags.set.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let mut fields = Vec::new();
        if let Some((url, client_ids)) = &self.create {
            fields.push(FieldDiff::set("url", url));
            fields.push(FieldDiff::set("client_ids", join(client_ids)));
        }
        for (field, value) in [
            ("client_ids", &self.client_ids),
            ("thumbprints", &self.thumbprints),
        ] {
            if let Some((old, new)) = value {
                fields.push(FieldDiff::new(field, Some(join(old)), Some(join(new))));
            }
        }
        for (k, old, new) in &self.tags.set {
            fields.push(FieldDiff::new(format!("tags.{k}"), old.clone(), Some(new)));
        }
        fields
    }
}

/// The diff for a provider. Pure. Thumbprints AWS filled in are drift only when pinned.
#[must_use]
pub fn diff(spec: &OidcProviderSpec, tags: &Tags, observed: Option<&ObservedProvider>) -> OidcDiff {
    let Some(obs) = observed else {
        return OidcDiff {
            create: Some((spec.issuer_url.clone(), spec.client_ids.clone())),
            ..OidcDiff::default()
        };
    };
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    OidcDiff {
        create: None,
        client_ids: (obs.client_ids != spec.client_ids)
            .then(|| (obs.client_ids.clone(), spec.client_ids.clone())),
        thumbprints: spec
            .thumbprints
            .as_ref()
            .filter(|want| **want != obs.thumbprints)
            .map(|want| (obs.thumbprints.clone(), want.clone())),
        tags: TagDiff {
            set: td.set,
            remove: Vec::new(),
        },
    }
}

/// The change for a provider.
#[must_use]
pub fn decide(spec: &OidcProviderSpec, tags: &Tags, observed: Option<&ObservedProvider>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
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

/// One provider, with its ARN (which needs the account, read once before converging).
struct Provider<'a> {
    spec: &'a OidcProviderSpec,
    arn: String,
}

impl Resource for Provider<'_> {
    type Observed = ObservedProvider;
    type Diff = OidcDiff;
    type Output = String;
    type Error = IdentityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "iam";

    fn logical_id(&self) -> &str {
        &self.spec.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.arn.clone()
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedProvider>, IdentityError> {
        observe(&ironbark_core::sdk_client!(ctx, aws_sdk_iam), &self.arn).await
    }

    /// `None`: an account has one provider per issuer, identified by its ARN; it is tagged
    /// but, as before the kit, never refused for its tags.
    fn tags<'o>(&self, _observed: &'o ObservedProvider) -> Option<&'o BTreeMap<String, String>> {
        None
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedProvider>) -> OidcDiff {
        diff(self.spec, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        _observed: Option<&ObservedProvider>,
        diff: &OidcDiff,
    ) -> Result<String, IdentityError> {
        let iam = ironbark_core::sdk_client!(ctx, aws_sdk_iam);
        let arn = &self.arn;
        if diff.create.is_some() {
            match iam
                .create_open_id_connect_provider()
                .url(&self.spec.issuer_url)
                .set_client_id_list(Some(self.spec.client_ids.iter().cloned().collect()))
                .set_thumbprint_list(
                    self.spec
                        .thumbprints
                        .as_ref()
                        .map(|t| t.iter().cloned().collect()),
                )
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_entity_already_exists(&e) => {}
                Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, arn, e))),
            }
            return Ok(arn.clone());
        }
        if let Some((have, want)) = &diff.client_ids {
            for id in want.difference(have) {
                iam.add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(AwsError::map("add an audience to", KIND, arn))?;
            }
            for id in have.difference(want) {
                iam.remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(AwsError::map("remove an audience from", KIND, arn))?;
            }
        }
        if let Some((_, want)) = &diff.thumbprints {
            iam.update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(want.iter().cloned().collect()))
                .send()
                .await
                .map_err(AwsError::map("update thumbprints of", KIND, arn))?;
        }
        if !diff.tags.set.is_empty() {
            iam.tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(iam_tags(&diff.tags.to_set())))
                .send()
                .await
                .map_err(AwsError::map("tag", KIND, arn))?;
        }
        Ok(arn.clone())
    }

    fn output(&self, _ctx: &Context, _observed: &ObservedProvider) -> String {
        self.arn.clone()
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
    let (partition, account) = crate::account::caller(ctx).await?;
    let arn = format!(
        "arn:{partition}:iam::{account}:oidc-provider/{}",
        spec.issuer_host()
    );
    let converged = reconcile::converge(
        ctx,
        &Provider {
            spec,
            arn: arn.clone(),
        },
    )
    .await?;
    Ok(OidcOutcome {
        change: converged.change,
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
