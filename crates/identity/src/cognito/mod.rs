//! Cognito: user pools, resource servers, app clients, hosted domains, groups and identity
//! pools. A user pool holds users and is never replaced: settings are updated in place and
//! changes AWS cannot make in place (sign-in attributes) are refused.

pub mod client;
pub mod domain;
pub mod group;
pub mod identity_pool;
pub mod resource_server;
pub mod user_pool;

pub use client::{ensure_client, ClientKind, ClientOutcome, ClientSpec};
pub use domain::{ensure_domain, DomainOutcome};
pub use group::{ensure_group, GroupSpec};
pub use identity_pool::{ensure_identity_pool, IdentityPoolOutcome, IdentityPoolSpec};
pub use resource_server::{ensure_resource_server, ResourceServerSpec};
pub use user_pool::{
    destroy_user_pool, ensure_user_pool, Mfa, PasswordPolicy, SignIn, UserPoolOutcome, UserPoolSpec,
};

fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v.join(",")
}

/// The M2M credential of seed 003 as a JSON secret: `client_id`, `client_secret`,
/// `token_url` and the space-separated `scopes`. In plan mode, before the client exists,
/// the id and secret are empty (the plan only shows `value: (sensitive)`).
#[must_use]
pub fn m2m_credentials(
    logical_id: impl Into<String>,
    client: &ClientOutcome,
    token_url: &str,
    scopes: &[String],
) -> crate::secret::SecretSpec {
    use secrecy::SecretString;
    let fields = [
        (
            "client_id",
            SecretString::from(client.client_id.clone().unwrap_or_default()),
        ),
        (
            "client_secret",
            client
                .client_secret
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
        ),
        ("token_url", SecretString::from(token_url.to_owned())),
        ("scopes", SecretString::from(scopes.join(" "))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    crate::secret::SecretSpec::json(logical_id, fields)
}
