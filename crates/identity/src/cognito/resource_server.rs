//! Cognito resource servers: an API identifier and its OAuth scopes (`read`, `write`).

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::ResourceServerScopeType;
use ironbark_core::reconcile::AwsError;
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange};
use serde::{Deserialize, Serialize};

use super::join;
use crate::error::{is_not_found, IdentityError};

const KIND: &str = "resource server";

/// The desired resource server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceServerSpec {
    /// Logical id (events and plan).
    pub logical_id: String,
    /// The identifier, prefix of every scope (`https://api.shop.example`).
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scope name -> description.
    pub scopes: BTreeMap<String, String>,
}

impl ResourceServerSpec {
    /// The full scope names (`<identifier>/<scope>`), as clients request them.
    #[must_use]
    pub fn full_scopes(&self) -> Vec<String> {
        self.scopes
            .keys()
            .map(|s| format!("{}/{s}", self.identifier))
            .collect()
    }
}

/// The change for a resource server (observed: name and scopes).
#[must_use]
pub fn decide(
    spec: &ResourceServerSpec,
    observed: Option<&(String, BTreeMap<String, String>)>,
) -> Change {
    let Some((name, scopes)) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("identifier", &spec.identifier),
                FieldDiff::set("scopes", join(spec.scopes.keys())),
            ],
        };
    };
    let mut fields = Vec::new();
    if *name != spec.name {
        fields.push(FieldDiff::new("name", Some(name), Some(&spec.name)));
    }
    if *scopes != spec.scopes {
        fields.push(FieldDiff::new(
            "scopes",
            Some(join(scopes.keys())),
            Some(join(spec.scopes.keys())),
        ));
    }
    Change::update_if_any(fields)
}

/// Makes the resource server of `spec.identifier` in pool `pool_id` match.
///
/// # Idempotency
/// Identified by (pool, identifier), unique in Cognito. Updates replace name and scopes.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_resource_server(
    ctx: &Context,
    pool_id: &str,
    spec: &ResourceServerSpec,
) -> Result<ResourceChange, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let observed = match idp
        .describe_resource_server()
        .user_pool_id(pool_id)
        .identifier(&spec.identifier)
        .send()
        .await
    {
        Ok(out) => out.resource_server.map(|rs| {
            (
                rs.name().unwrap_or_default().to_owned(),
                rs.scopes()
                    .iter()
                    .map(|s| (s.scope_name().to_owned(), s.scope_description().to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            )
        }),
        Err(e) if is_not_found(&e) => None,
        Err(e) => {
            return Err(IdentityError::from(AwsError::new(
                "read",
                KIND,
                &spec.identifier,
                e,
            )))
        }
    };
    let change = decide(spec, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        let scopes: Vec<ResourceServerScopeType> = spec
            .scopes
            .iter()
            .filter_map(|(n, d)| {
                ResourceServerScopeType::builder()
                    .scope_name(n)
                    .scope_description(d)
                    .build()
                    .ok()
            })
            .collect();
        if observed.is_none() {
            idp.create_resource_server()
                .user_pool_id(pool_id)
                .identifier(&spec.identifier)
                .name(&spec.name)
                .set_scopes(Some(scopes))
                .send()
                .await
                .map_err(AwsError::map("create", KIND, &spec.identifier))?;
        } else {
            idp.update_resource_server()
                .user_pool_id(pool_id)
                .identifier(&spec.identifier)
                .name(&spec.name)
                .set_scopes(Some(scopes))
                .send()
                .await
                .map_err(AwsError::map("update", KIND, &spec.identifier))?;
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(ResourceChange {
        id: spec.logical_id.clone(),
        kind: KIND.to_owned(),
        physical_id: Some(spec.identifier.clone()),
        change,
    })
}
