//! Cognito hosted UI domains (a prefix under `auth.<region>.amazoncognito.com`).

use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange};

use crate::error::IdentityError;

const KIND: &str = "user pool domain";

/// What [`ensure_domain`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct DomainOutcome {
    /// The prefix.
    pub prefix: String,
    /// The OAuth token endpoint (`https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token`).
    pub token_url: String,
    /// The change.
    pub change: ResourceChange,
}

/// The change for a domain whose observed owner pool is `owner`.
#[must_use]
pub fn decide(pool_id: &str, prefix: &str, owner: Option<&str>) -> Change {
    match owner {
        None => Change::Create { fields: vec![FieldDiff::set("domain", prefix)] },
        Some(o) if o == pool_id => Change::NoOp,
        Some(o) => Change::Refused {
            field: "domain".into(),
            reason: format!("the prefix {prefix} belongs to user pool {o}; domain prefixes are global, choose another"),
        },
    }
}

/// The default domain prefix of a stack and env: `<stack>-<env>-auth`, lower case.
#[must_use]
pub fn default_prefix(ctx: &Context) -> String {
    format!("{}-{}-auth", ctx.stack(), ctx.env()).to_ascii_lowercase()
}

/// Makes `prefix` the hosted domain of pool `pool_id`.
///
/// # Idempotency
/// A prefix is globally unique; found by `DescribeUserPoolDomain`. One owned by another pool
/// is refused, never taken over.
///
/// # Errors
/// [`ResourceError::Aws`] when a call fails, [`ResourceError::Refused`] (apply mode) when the
/// prefix belongs to another pool.
pub async fn ensure_domain(
    ctx: &Context,
    logical_id: &str,
    pool_id: &str,
    prefix: &str,
) -> Result<DomainOutcome, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    ctx.report(Event::Started {
        resource: logical_id.to_owned(),
    });
    let owner = idp
        .describe_user_pool_domain()
        .domain(prefix)
        .send()
        .await
        .map_err(AwsError::map("read", KIND, prefix))?
        .domain_description
        .and_then(|d| d.user_pool_id)
        .filter(|id| !id.is_empty());
    let change = decide(pool_id, prefix, owner.as_deref());
    match &change {
        Change::Refused { reason, .. } if ctx.is_apply() => {
            return Err(IdentityError::Resource(ResourceError::Refused {
                field: None,
                kind: KIND,
                name: prefix.to_owned(),
                reason: reason.clone(),
            }))
        }
        Change::Create { .. } if ctx.is_apply() => {
            idp.create_user_pool_domain()
                .user_pool_id(pool_id)
                .domain(prefix)
                .send()
                .await
                .map_err(AwsError::map("create", KIND, prefix))?;
        }
        _ => {}
    }
    ctx.report(Event::Done {
        resource: logical_id.to_owned(),
        change: change.clone(),
    });
    Ok(DomainOutcome {
        token_url: format!(
            "https://{prefix}.auth.{}.amazoncognito.com/oauth2/token",
            ctx.region()
        ),
        prefix: prefix.to_owned(),
        change: ResourceChange {
            id: logical_id.to_owned(),
            kind: KIND.to_owned(),
            physical_id: Some(prefix.to_owned()),
            change,
        },
    })
}
