//! Cognito app clients: web (authorization code + PKCE, public, callback and logout URLs)
//! and machine-to-machine (client credentials with a resource server's scopes, confidential).

use std::collections::BTreeSet;

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes,
};
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::join;
use crate::error::{is_not_found, IdentityError};

const KIND: &str = "app client";

/// What kind of client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// A browser app: authorization code flow with PKCE, no secret.
    Web {
        /// Allowed redirect URLs after sign-in.
        callback_urls: BTreeSet<String>,
        /// Allowed redirect URLs after sign-out.
        logout_urls: BTreeSet<String>,
        /// Scopes (`openid`, `email`, `profile`, resource server scopes).
        scopes: BTreeSet<String>,
    },
    /// A service: client credentials flow, generated secret.
    M2m {
        /// Resource server scopes (`https://api/read`).
        scopes: BTreeSet<String>,
    },
}

/// The desired client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Logical id; the client name is `<stack>-<env>-<id>`.
    pub logical_id: String,
    /// Kind and its settings.
    pub kind: ClientKind,
}

/// The client as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedClient {
    /// Client id.
    pub client_id: String,
    /// OAuth flows.
    pub flows: BTreeSet<String>,
    /// OAuth scopes.
    pub scopes: BTreeSet<String>,
    /// Callback URLs.
    pub callback_urls: BTreeSet<String>,
    /// Logout URLs.
    pub logout_urls: BTreeSet<String>,
    /// Whether it has a secret.
    pub has_secret: bool,
}

struct Wanted<'a> {
    flows: BTreeSet<String>,
    scopes: &'a BTreeSet<String>,
    callback_urls: BTreeSet<String>,
    logout_urls: BTreeSet<String>,
    secret: bool,
}

fn wanted(kind: &ClientKind) -> Wanted<'_> {
    match kind {
        ClientKind::Web {
            callback_urls,
            logout_urls,
            scopes,
        } => Wanted {
            flows: ["code".to_owned()].into(),
            scopes,
            callback_urls: callback_urls.clone(),
            logout_urls: logout_urls.clone(),
            secret: false,
        },
        ClientKind::M2m { scopes } => Wanted {
            flows: ["client_credentials".to_owned()].into(),
            scopes,
            callback_urls: BTreeSet::new(),
            logout_urls: BTreeSet::new(),
            secret: true,
        },
    }
}

/// The change for a client.
#[must_use]
pub fn decide(spec: &ClientSpec, observed: Option<&ObservedClient>) -> Change {
    let w = wanted(&spec.kind);
    let Some(obs) = observed else {
        let mut fields = vec![
            FieldDiff::set("oauth_flows", join(&w.flows)),
            FieldDiff::set("scopes", join(w.scopes)),
            FieldDiff::set("generate_secret", w.secret),
        ];
        if !w.callback_urls.is_empty() {
            fields.push(FieldDiff::set("callback_urls", join(&w.callback_urls)));
        }
        return Change::Create { fields };
    };
    if obs.has_secret != w.secret {
        return Change::Refused {
            field: "generate_secret".into(),
            reason: "Cognito cannot add or remove a client's secret; a new client (new id) would be needed".into(),
        };
    }
    let mut fields = Vec::new();
    for (name, old, new) in [
        ("oauth_flows", &obs.flows, &w.flows),
        ("scopes", &obs.scopes, w.scopes),
        ("callback_urls", &obs.callback_urls, &w.callback_urls),
        ("logout_urls", &obs.logout_urls, &w.logout_urls),
    ] {
        if old != new {
            fields.push(FieldDiff::new(name, Some(join(old)), Some(join(new))));
        }
    }
    Change::update_if_any(fields)
}

/// What [`ensure_client`] did. The secret, when there is one, is a [`SecretString`]: redacted
/// in `Debug`, meant only for [`crate::secret::ensure_secret`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientOutcome {
    /// The client's name.
    pub name: String,
    /// Client id (`None` in plan mode before creation).
    pub client_id: Option<String>,
    /// The client secret of an M2M client (`None` for web clients and before creation).
    pub client_secret: Option<SecretString>,
    /// The change.
    pub change: ResourceChange,
}

async fn find(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    name: &str,
) -> Result<Option<(ObservedClient, Option<SecretString>)>, IdentityError> {
    let clients = idp
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list clients to find", KIND, name))?;
    let Some(id) = clients
        .iter()
        .find(|c| c.client_name() == Some(name))
        .and_then(|c| c.client_id())
    else {
        return Ok(None);
    };
    let client = match idp
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(id)
        .send()
        .await
    {
        Ok(out) => out.user_pool_client,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, name, e))),
    };
    Ok(client.map(|c| {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        (
            ObservedClient {
                client_id: c.client_id().unwrap_or_default().to_owned(),
                flows: c
                    .allowed_o_auth_flows()
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
                scopes: set(c.allowed_o_auth_scopes()),
                callback_urls: set(c.callback_urls()),
                logout_urls: set(c.logout_urls()),
                has_secret: c.client_secret().is_some(),
            },
            c.client_secret().map(|s| SecretString::from(s.to_owned())),
        )
    }))
}

/// Makes the app client of `spec.logical_id` in pool `pool_id` match.
///
/// # Idempotency
/// Found by name within the pool (Cognito client names are not unique, Ironbark keeps them
/// so). A crash after `CreateUserPoolClient` leaves a complete client (every setting is part
/// of the call) that the next run finds by name. Updates send every setting (Cognito resets
/// omitted ones). Adding or removing a secret is refused: it needs a new client id.
///
/// # Errors
/// [`ResourceError::Aws`] when a call fails, [`ResourceError::Refused`] in apply mode for a
/// refused change.
pub async fn ensure_client(
    ctx: &Context,
    pool_id: &str,
    spec: &ClientSpec,
) -> Result<ClientOutcome, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    let name = ctx.physical_name(&spec.logical_id, &NameRule::GENERIC);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let found = find(&idp, pool_id, &name).await?;
    let (observed, mut secret) = match found {
        Some((o, s)) => (Some(o), s),
        None => (None, None),
    };
    let change = decide(spec, observed.as_ref());
    let mut client_id = observed.as_ref().map(|o| o.client_id.clone());
    if let Change::Refused { reason, .. } = &change {
        if ctx.is_apply() {
            return Err(IdentityError::Resource(ResourceError::Refused {
                field: None,
                kind: KIND,
                name,
                reason: reason.clone(),
            }));
        }
    } else if ctx.is_apply() && change.is_change() {
        let w = wanted(&spec.kind);
        let flows: Vec<OAuthFlowType> = w
            .flows
            .iter()
            .map(|f| OAuthFlowType::from(f.as_str()))
            .collect();
        let scopes: Vec<String> = w.scopes.iter().cloned().collect();
        let (callbacks, logouts) = (
            (!w.callback_urls.is_empty()).then(|| w.callback_urls.iter().cloned().collect()),
            (!w.logout_urls.is_empty()).then(|| w.logout_urls.iter().cloned().collect()),
        );
        let auth_flows = Some(if w.secret {
            vec![ExplicitAuthFlowsType::AllowRefreshTokenAuth]
        } else {
            vec![
                ExplicitAuthFlowsType::AllowUserSrpAuth,
                ExplicitAuthFlowsType::AllowRefreshTokenAuth,
            ]
        });
        if let Some(obs) = &observed {
            idp.update_user_pool_client()
                .user_pool_id(pool_id)
                .client_id(&obs.client_id)
                .client_name(&name)
                .set_allowed_o_auth_flows(Some(flows))
                .set_allowed_o_auth_scopes(Some(scopes))
                .allowed_o_auth_flows_user_pool_client(true)
                .set_callback_urls(callbacks)
                .set_logout_urls(logouts)
                .supported_identity_providers("COGNITO")
                .set_explicit_auth_flows(auth_flows)
                .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
                .send()
                .await
                .map_err(AwsError::map("update", KIND, &name))?;
        } else {
            let created = idp
                .create_user_pool_client()
                .user_pool_id(pool_id)
                .client_name(&name)
                .generate_secret(w.secret)
                .set_allowed_o_auth_flows(Some(flows))
                .set_allowed_o_auth_scopes(Some(scopes))
                .allowed_o_auth_flows_user_pool_client(true)
                .set_callback_urls(callbacks)
                .set_logout_urls(logouts)
                .supported_identity_providers("COGNITO")
                .set_explicit_auth_flows(auth_flows)
                .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
                .send()
                .await
                .map_err(AwsError::map("create", KIND, &name))?
                .user_pool_client
                .ok_or_else(|| IdentityError::missing(KIND, &name, "client"))?;
            client_id = created.client_id().map(str::to_owned);
            secret = created
                .client_secret()
                .map(|s| SecretString::from(s.to_owned()));
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(ClientOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
        client_id,
        client_secret: secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_drift_is_a_field_diff_and_secret_changes_are_refused() {
        let spec = ClientSpec {
            logical_id: "web".into(),
            kind: ClientKind::Web {
                callback_urls: ["https://app.example.com/callback".to_owned()].into(),
                logout_urls: ["https://app.example.com/".to_owned()].into(),
                scopes: ["openid".to_owned(), "email".to_owned()].into(),
            },
        };
        let mut obs = ObservedClient {
            client_id: "c".into(),
            flows: ["code".to_owned()].into(),
            scopes: ["email".to_owned(), "openid".to_owned()].into(),
            callback_urls: ["https://app.example.com/callback".to_owned()].into(),
            logout_urls: ["https://app.example.com/".to_owned()].into(),
            has_secret: false,
        };
        assert_eq!(decide(&spec, Some(&obs)), Change::NoOp);
        obs.callback_urls = ["https://evil.example.com/".to_owned()].into();
        let Change::Update { fields } = decide(&spec, Some(&obs)) else {
            panic!()
        };
        assert_eq!(fields[0].field, "callback_urls");
        assert_eq!(fields[0].old.as_deref(), Some("https://evil.example.com/"));
        obs.has_secret = true;
        assert!(matches!(decide(&spec, Some(&obs)), Change::Refused { .. }));
    }
}
