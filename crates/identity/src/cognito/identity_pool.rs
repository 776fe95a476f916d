//! Cognito identity pools: federated identities from a user pool's clients, with an IAM role
//! for authenticated users.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::AwsError;
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::error::{is_not_found, IdentityError};

const KIND: &str = "identity pool";

/// The desired identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityPoolSpec {
    /// Logical id; the name is `<stack>_<env>_<id>` (identity pool names allow no `-`).
    pub logical_id: String,
    /// User pool providers: (`cognito-idp.<region>.amazonaws.com/<pool id>`, client id).
    pub providers: BTreeSet<(String, String)>,
}

/// The identity pool as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedIdentityPool {
    /// Pool id.
    pub id: String,
    /// Providers.
    pub providers: BTreeSet<(String, String)>,
    /// Unauthenticated identities allowed.
    pub allow_unauthenticated: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// The change for an identity pool.
#[must_use]
pub fn decide(
    spec: &IdentityPoolSpec,
    tags: &Tags,
    observed: Option<&ObservedIdentityPool>,
) -> Change {
    let show = |p: &BTreeSet<(String, String)>| {
        p.iter()
            .map(|(n, c)| format!("{n}:{c}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![FieldDiff::set("providers", show(&spec.providers))],
        };
    };
    let mut fields = Vec::new();
    if obs.providers != spec.providers {
        fields.push(FieldDiff::new(
            "providers",
            Some(show(&obs.providers)),
            Some(show(&spec.providers)),
        ));
    }
    if obs.allow_unauthenticated {
        fields.push(FieldDiff::new(
            "allow_unauthenticated",
            Some(true),
            Some(false),
        ));
    }
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (k, old, new) in td.set {
        fields.push(FieldDiff::new(format!("tags.{k}"), old, Some(new)));
    }
    Change::update_if_any(fields)
}

/// What [`ensure_identity_pool`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct IdentityPoolOutcome {
    /// Pool id (`None` in plan mode before creation).
    pub id: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

fn pool_name(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::GENERIC)
        .replace(['-', '.', '/'], "_")
}

async fn find(
    ci: &aws_sdk_cognitoidentity::Client,
    name: &str,
    logical_id: &str,
) -> Result<Option<ObservedIdentityPool>, IdentityError> {
    let pools = ci
        .list_identity_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list pools to find", KIND, name))?;
    for p in pools
        .iter()
        .filter(|p| p.identity_pool_name() == Some(name))
    {
        let Some(id) = p.identity_pool_id() else {
            continue;
        };
        let d = match ci
            .describe_identity_pool()
            .identity_pool_id(id)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, name, e))),
        };
        let tags: BTreeMap<String, String> = d
            .identity_pool_tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if tags.get(ironbark_core::tags::ID).map(String::as_str) != Some(logical_id) {
            continue;
        }
        return Ok(Some(ObservedIdentityPool {
            id: d.identity_pool_id().to_owned(),
            providers: d
                .cognito_identity_providers()
                .iter()
                .filter_map(|p| Some((p.provider_name()?.to_owned(), p.client_id()?.to_owned())))
                .collect(),
            allow_unauthenticated: d.allow_unauthenticated_identities(),
            tags,
        }));
    }
    Ok(None)
}

fn providers(spec: &IdentityPoolSpec) -> Vec<CognitoIdentityProvider> {
    spec.providers
        .iter()
        .map(|(n, c)| {
            CognitoIdentityProvider::builder()
                .provider_name(n)
                .client_id(c)
                .server_side_token_check(false)
                .build()
        })
        .collect()
}

/// Makes the identity pool match `spec` (authenticated identities only).
///
/// # Idempotency
/// Found by name and `ironbark:id` tag (set in the create call).
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_identity_pool(
    ctx: &Context,
    spec: &IdentityPoolSpec,
) -> Result<IdentityPoolOutcome, IdentityError> {
    let ci = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentity);
    let name = pool_name(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let observed = find(&ci, &name, &spec.logical_id).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    let mut id = observed.as_ref().map(|o| o.id.clone());
    if ctx.is_apply() && change.is_change() {
        let mut all_tags: HashMap<String, String> = observed
            .as_ref()
            .map(|o| o.tags.clone().into_iter().collect())
            .unwrap_or_default();
        all_tags.extend(tags.to_map());
        if let Some(obs) = &observed {
            ci.update_identity_pool()
                .identity_pool_id(&obs.id)
                .identity_pool_name(&name)
                .allow_unauthenticated_identities(false)
                .set_cognito_identity_providers(Some(providers(spec)))
                .set_identity_pool_tags(Some(all_tags))
                .send()
                .await
                .map_err(AwsError::map("update", KIND, &name))?;
        } else {
            let created = ci
                .create_identity_pool()
                .identity_pool_name(&name)
                .allow_unauthenticated_identities(false)
                .set_cognito_identity_providers(Some(providers(spec)))
                .set_identity_pool_tags(Some(all_tags))
                .send()
                .await
                .map_err(AwsError::map("create", KIND, &name))?;
            id = Some(created.identity_pool_id().to_owned());
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(IdentityPoolOutcome {
        id,
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name),
            change,
        },
    })
}

/// Makes `role_arn` the authenticated role of identity pool `pool_id`.
///
/// # Idempotency
/// `SetIdentityPoolRoles` replaces the mapping; it is called only when it differs.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_identity_pool_roles(
    ctx: &Context,
    logical_id: &str,
    pool_id: &str,
    role_arn: &str,
) -> Result<ResourceChange, IdentityError> {
    let ci = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentity);
    let current = ci
        .get_identity_pool_roles()
        .identity_pool_id(pool_id)
        .send()
        .await
        .map_err(AwsError::map("read the roles of", KIND, pool_id))?
        .roles()
        .and_then(|r| r.get("authenticated").cloned());
    let change = if current.as_deref() == Some(role_arn) {
        Change::NoOp
    } else {
        Change::Update {
            fields: vec![FieldDiff::new(
                "roles.authenticated",
                current.as_ref(),
                Some(role_arn),
            )],
        }
    };
    if ctx.is_apply() && change.is_change() {
        ci.set_identity_pool_roles()
            .identity_pool_id(pool_id)
            .roles("authenticated", role_arn)
            .send()
            .await
            .map_err(AwsError::map("set the roles of", KIND, pool_id))?;
    }
    ctx.report(Event::Done {
        resource: logical_id.to_owned(),
        change: change.clone(),
    });
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: "identity pool roles".into(),
        physical_id: Some(pool_id.to_owned()),
        change,
    })
}

/// Deletes the identity pool of `logical_id`.
///
/// # Idempotency
/// Found by name and tag; absent is a no-op.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_identity_pool(
    ctx: &Context,
    logical_id: &str,
) -> Result<ResourceChange, IdentityError> {
    let ci = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentity);
    let name = pool_name(ctx, logical_id);
    let observed = find(&ci, &name, logical_id).await?;
    if let (Some(obs), true) = (&observed, ctx.is_apply()) {
        match ci
            .delete_identity_pool()
            .identity_pool_id(&obs.id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(IdentityError::from(AwsError::new("delete", KIND, &name, e))),
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change: if observed.is_some() {
            Change::Delete
        } else {
            Change::NoOp
        },
    })
}
