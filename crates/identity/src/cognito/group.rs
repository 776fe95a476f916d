//! Cognito user pool groups with precedence and an IAM role.

use ironbark_core::reconcile::AwsError;
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange};
use serde::{Deserialize, Serialize};

use crate::error::{is_not_found, IdentityError};

const KIND: &str = "user pool group";

/// The desired group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Group name (`admins`).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Precedence (lower wins when a user is in several groups).
    pub precedence: Option<i32>,
    /// IAM role ARN for the group's members.
    pub role_arn: Option<String>,
}

/// The change for a group; observed is (description, precedence, role ARN).
#[must_use]
pub fn decide(
    spec: &GroupSpec,
    observed: Option<&(Option<String>, Option<i32>, Option<String>)>,
) -> Change {
    let Some((description, precedence, role)) = observed else {
        return Change::Create {
            fields: vec![FieldDiff::set("name", &spec.name)],
        };
    };
    let mut fields = Vec::new();
    if *description != spec.description {
        fields.push(FieldDiff::new(
            "description",
            description.as_ref(),
            spec.description.as_ref(),
        ));
    }
    if *precedence != spec.precedence {
        fields.push(FieldDiff::new("precedence", *precedence, spec.precedence));
    }
    if *role != spec.role_arn {
        fields.push(FieldDiff::new(
            "role_arn",
            role.as_ref(),
            spec.role_arn.as_ref(),
        ));
    }
    Change::update_if_any(fields)
}

/// Makes group `spec.name` of pool `pool_id` match.
///
/// # Idempotency
/// Identified by (pool, name), unique in Cognito.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn ensure_group(
    ctx: &Context,
    pool_id: &str,
    spec: &GroupSpec,
) -> Result<ResourceChange, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    let logical_id = format!("identity/cognito/group/{}", spec.name);
    ctx.report(Event::Started {
        resource: logical_id.clone(),
    });
    let observed = match idp
        .get_group()
        .user_pool_id(pool_id)
        .group_name(&spec.name)
        .send()
        .await
    {
        Ok(out) => out.group.map(|g| {
            (
                // An unset description reads back as "" from some implementations.
                g.description().filter(|d| !d.is_empty()).map(str::to_owned),
                g.precedence(),
                g.role_arn().map(str::to_owned),
            )
        }),
        Err(e) if is_not_found(&e) => None,
        Err(e) => {
            return Err(IdentityError::from(AwsError::new(
                "read", KIND, &spec.name, e,
            )))
        }
    };
    let change = decide(spec, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        if observed.is_none() {
            idp.create_group()
                .user_pool_id(pool_id)
                .group_name(&spec.name)
                .set_description(spec.description.clone())
                .set_precedence(spec.precedence)
                .set_role_arn(spec.role_arn.clone())
                .send()
                .await
                .map_err(AwsError::map("create", KIND, &spec.name))?;
        } else {
            idp.update_group()
                .user_pool_id(pool_id)
                .group_name(&spec.name)
                .set_description(spec.description.clone())
                .set_precedence(spec.precedence)
                .set_role_arn(spec.role_arn.clone())
                .send()
                .await
                .map_err(AwsError::map("update", KIND, &spec.name))?;
        }
    }
    ctx.report(Event::Done {
        resource: logical_id.clone(),
        change: change.clone(),
    });
    Ok(ResourceChange {
        id: logical_id,
        kind: KIND.to_owned(),
        physical_id: Some(spec.name.clone()),
        change,
    })
}
