//! Cognito user pools: password policy, MFA, advanced security, deletion protection,
//! sign-in attributes, custom attributes, tags.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cognitoidentityprovider::types::{
    AdvancedSecurityModeType, AttributeDataType, DeletionProtectionType, PasswordPolicyType,
    SchemaAttributeType, SoftwareTokenMfaConfigType, UserPoolAddOnsType, UserPoolMfaType,
    UserPoolPolicyType, UsernameAttributeType, VerifiedAttributeType,
};
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::error::{is_deletion_protected, is_not_found, IdentityError};

const KIND: &str = "user pool";

/// Password rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// Minimum length (6-99).
    pub min_length: i32,
    /// Require a lower-case letter.
    pub require_lowercase: bool,
    /// Require an upper-case letter.
    pub require_uppercase: bool,
    /// Require a digit.
    pub require_numbers: bool,
    /// Require a symbol.
    pub require_symbols: bool,
    /// Days an admin-set temporary password stays valid.
    pub temporary_password_validity_days: i32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
        }
    }
}

/// Multi-factor authentication (TOTP apps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mfa {
    /// No MFA.
    Off,
    /// Users may enrol.
    Optional,
    /// Every user must.
    On,
}

impl Mfa {
    fn aws(self) -> UserPoolMfaType {
        match self {
            Self::Off => UserPoolMfaType::Off,
            Self::Optional => UserPoolMfaType::Optional,
            Self::On => UserPoolMfaType::On,
        }
    }
}

/// What users sign in with. Fixed at creation by Cognito.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignIn {
    /// Their email address is their username.
    Email,
    /// A username.
    Username,
}

/// The desired user pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPoolSpec {
    /// Logical id (`identity/cognito/users`); the name is `<stack>-<env>-<id>`.
    pub logical_id: String,
    /// Password rules.
    pub password: PasswordPolicy,
    /// MFA.
    pub mfa: Mfa,
    /// Advanced security (threat protection) enforced; required in production.
    pub advanced_security: bool,
    /// Deletion protection; on in production.
    pub deletion_protection: bool,
    /// Sign-in attribute.
    pub sign_in: SignIn,
    /// Custom attributes (`tenant_id` -> `String` or `Number`), without the `custom:` prefix.
    pub custom_attributes: BTreeMap<String, String>,
}

/// The user pool as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedUserPool {
    /// Pool id.
    pub id: String,
    /// Pool ARN.
    pub arn: String,
    /// Password rules.
    pub password: PasswordPolicy,
    /// MFA.
    pub mfa: Mfa,
    /// Advanced security enforced.
    pub advanced_security: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Sign-in.
    pub sign_in: SignIn,
    /// Custom attributes by name (without prefix) -> type.
    pub custom_attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// The change for a user pool.
#[must_use]
pub fn decide(spec: &UserPoolSpec, tags: &Tags, observed: Option<&ObservedUserPool>) -> Change {
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("mfa", format!("{:?}", spec.mfa).to_lowercase()),
                FieldDiff::set("advanced_security", spec.advanced_security),
                FieldDiff::set("deletion_protection", spec.deletion_protection),
                FieldDiff::set("sign_in", format!("{:?}", spec.sign_in).to_lowercase()),
            ],
        };
    };
    if obs.sign_in != spec.sign_in {
        return Change::Refused {
            field: "sign_in".into(),
            reason: "Cognito fixes sign-in attributes at creation; changing them needs a new pool and a user migration, which Ironbark never does implicitly".into(),
        };
    }
    let mut fields = Vec::new();
    let p = (&obs.password, &spec.password);
    for (name, old, new) in [
        (
            "password.min_length",
            p.0.min_length.to_string(),
            p.1.min_length.to_string(),
        ),
        (
            "password.require_lowercase",
            p.0.require_lowercase.to_string(),
            p.1.require_lowercase.to_string(),
        ),
        (
            "password.require_uppercase",
            p.0.require_uppercase.to_string(),
            p.1.require_uppercase.to_string(),
        ),
        (
            "password.require_numbers",
            p.0.require_numbers.to_string(),
            p.1.require_numbers.to_string(),
        ),
        (
            "password.require_symbols",
            p.0.require_symbols.to_string(),
            p.1.require_symbols.to_string(),
        ),
        (
            "password.temporary_password_validity_days",
            p.0.temporary_password_validity_days.to_string(),
            p.1.temporary_password_validity_days.to_string(),
        ),
        (
            "mfa",
            format!("{:?}", obs.mfa).to_lowercase(),
            format!("{:?}", spec.mfa).to_lowercase(),
        ),
        (
            "advanced_security",
            obs.advanced_security.to_string(),
            spec.advanced_security.to_string(),
        ),
        (
            "deletion_protection",
            obs.deletion_protection.to_string(),
            spec.deletion_protection.to_string(),
        ),
    ] {
        if old != new {
            fields.push(FieldDiff::new(name, Some(old), Some(new)));
        }
    }
    for (name, ty) in &spec.custom_attributes {
        match obs.custom_attributes.get(name) {
            None => fields.push(FieldDiff::set(format!("custom_attributes.{name}"), ty)),
            Some(have) if have != ty => {
                return Change::Refused {
                    field: format!("custom_attributes.{name}"),
                    reason: format!("Cognito cannot change a custom attribute's type ({have} -> {ty}) nor remove one"),
                }
            }
            Some(_) => {}
        }
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

/// What [`ensure_user_pool`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct UserPoolOutcome {
    /// The pool's name.
    pub name: String,
    /// Pool id (`None` in plan mode before creation).
    pub id: Option<String>,
    /// Pool ARN.
    pub arn: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

fn read_pool(pool: &aws_sdk_cognitoidentityprovider::types::UserPoolType) -> ObservedUserPool {
    let pw = pool.policies().and_then(|p| p.password_policy());
    ObservedUserPool {
        id: pool.id().unwrap_or_default().to_owned(),
        arn: pool.arn().unwrap_or_default().to_owned(),
        password: PasswordPolicy {
            min_length: pw.and_then(PasswordPolicyType::minimum_length).unwrap_or(8),
            require_lowercase: pw.is_some_and(PasswordPolicyType::require_lowercase),
            require_uppercase: pw.is_some_and(PasswordPolicyType::require_uppercase),
            require_numbers: pw.is_some_and(PasswordPolicyType::require_numbers),
            require_symbols: pw.is_some_and(PasswordPolicyType::require_symbols),
            temporary_password_validity_days: pw
                .map_or(7, PasswordPolicyType::temporary_password_validity_days),
        },
        mfa: match pool.mfa_configuration() {
            Some(UserPoolMfaType::On) => Mfa::On,
            Some(UserPoolMfaType::Optional) => Mfa::Optional,
            _ => Mfa::Off,
        },
        advanced_security: pool
            .user_pool_add_ons()
            .is_some_and(|a| *a.advanced_security_mode() == AdvancedSecurityModeType::Enforced),
        deletion_protection: pool.deletion_protection() == Some(&DeletionProtectionType::Active),
        sign_in: if pool
            .username_attributes()
            .contains(&UsernameAttributeType::Email)
        {
            SignIn::Email
        } else {
            SignIn::Username
        },
        custom_attributes: pool
            .schema_attributes()
            .iter()
            .filter_map(|a| {
                let name = a.name()?.strip_prefix("custom:")?;
                Some((
                    name.to_owned(),
                    a.attribute_data_type()?.as_str().to_owned(),
                ))
            })
            .collect(),
        tags: pool
            .user_pool_tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

/// Finds the pool by name among the account's pools, adopting only one carrying this
/// logical id's `ironbark:id` tag.
pub(crate) async fn find(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    name: &str,
    logical_id: &str,
) -> Result<Option<ObservedUserPool>, IdentityError> {
    let pools = idp
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list pools to find", KIND, name))?;
    for summary in pools.iter().filter(|p| p.name() == Some(name)) {
        let Some(id) = summary.id() else { continue };
        let pool = match idp.describe_user_pool().user_pool_id(id).send().await {
            Ok(out) => out.user_pool,
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, name, e))),
        };
        if let Some(pool) = pool {
            let mut observed = read_pool(&pool);
            if observed
                .tags
                .get(ironbark_core::tags::ID)
                .map(String::as_str)
                == Some(logical_id)
            {
                // The MFA setting's own API is authoritative (TOTP is set through it).
                let mfa = idp
                    .get_user_pool_mfa_config()
                    .user_pool_id(id)
                    .send()
                    .await
                    .map_err(AwsError::map("read MFA of", KIND, name))?;
                observed.mfa = match mfa.mfa_configuration() {
                    Some(UserPoolMfaType::On) => Mfa::On,
                    Some(UserPoolMfaType::Optional) => Mfa::Optional,
                    _ => Mfa::Off,
                };
                return Ok(Some(observed));
            }
        }
    }
    Ok(None)
}

fn password_policy(p: &PasswordPolicy) -> UserPoolPolicyType {
    UserPoolPolicyType::builder()
        .password_policy(
            PasswordPolicyType::builder()
                .minimum_length(p.min_length)
                .require_lowercase(p.require_lowercase)
                .require_uppercase(p.require_uppercase)
                .require_numbers(p.require_numbers)
                .require_symbols(p.require_symbols)
                .temporary_password_validity_days(p.temporary_password_validity_days)
                .build(),
        )
        .build()
}

fn add_ons(advanced: bool) -> Option<UserPoolAddOnsType> {
    UserPoolAddOnsType::builder()
        .advanced_security_mode(if advanced {
            AdvancedSecurityModeType::Enforced
        } else {
            AdvancedSecurityModeType::Off
        })
        .build()
        .ok()
}

fn protection(on: bool) -> DeletionProtectionType {
    if on {
        DeletionProtectionType::Active
    } else {
        DeletionProtectionType::Inactive
    }
}

fn custom_schema(name: &str, ty: &str) -> SchemaAttributeType {
    SchemaAttributeType::builder()
        .name(name)
        .attribute_data_type(AttributeDataType::from(ty))
        .mutable(true)
        .build()
}

/// Makes the user pool match `spec`; never replaces it.
///
/// # Idempotency
/// Found by name (`<stack>-<env>-<logical id>`) and its `ironbark:id` tag, both set in the
/// create call. Cognito has no client token for pools: a crash after `CreateUserPool` and
/// before the MFA settings leaves a tagged pool that the next run adopts and completes. Every
/// `UpdateUserPool` sends the complete desired settings (Cognito resets omitted ones).
/// Changes of sign-in attributes or custom attribute types are refused.
///
/// # Errors
/// [`ResourceError::Aws`] when a call fails, [`ResourceError::Refused`] for a change that
/// would need a new pool (in apply mode).
pub async fn ensure_user_pool(
    ctx: &Context,
    spec: &UserPoolSpec,
) -> Result<UserPoolOutcome, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    let name = ctx.physical_name(&spec.logical_id, &NameRule::GENERIC);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("cognito-idp").await;
    let observed = find(&idp, &name, &spec.logical_id).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    let mut ids = observed.as_ref().map(|o| (o.id.clone(), o.arn.clone()));
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
        ids = Some(act(&idp, spec, &name, &tags, observed.as_ref()).await?);
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(UserPoolOutcome {
        id: ids.as_ref().map(|(id, _)| id.clone()),
        arn: ids.map(|(_, arn)| arn),
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
    })
}

async fn act(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    spec: &UserPoolSpec,
    name: &str,
    tags: &Tags,
    observed: Option<&ObservedUserPool>,
) -> Result<(String, String), IdentityError> {
    let tag_map: HashMap<String, String> = tags.to_map();
    let (id, arn) = if let Some(obs) = observed {
        // Tags set outside Ironbark's namespace are kept: UpdateUserPool replaces the map.
        let mut all_tags: HashMap<String, String> = obs.tags.clone().into_iter().collect();
        for k in tags
            .diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .remove
        {
            all_tags.remove(&k);
        }
        all_tags.extend(tag_map);
        if obs.mfa != spec.mfa {
            set_mfa(idp, &obs.id, spec.mfa, name).await?;
        }
        let settings_differ = obs.password != spec.password
            || obs.mfa != spec.mfa
            || obs.advanced_security != spec.advanced_security
            || obs.deletion_protection != spec.deletion_protection
            || all_tags.len() != obs.tags.len()
            || all_tags.iter().any(|(k, v)| obs.tags.get(k) != Some(v));
        if settings_differ {
            idp.update_user_pool()
                .user_pool_id(&obs.id)
                .policies(password_policy(&spec.password))
                .mfa_configuration(spec.mfa.aws())
                .set_user_pool_add_ons(add_ons(spec.advanced_security))
                .deletion_protection(protection(spec.deletion_protection))
                .auto_verified_attributes(VerifiedAttributeType::Email)
                .set_user_pool_tags(Some(all_tags))
                .send()
                .await
                .map_err(AwsError::map("update", KIND, name))?;
        }
        let missing: Vec<SchemaAttributeType> = spec
            .custom_attributes
            .iter()
            .filter(|(n, _)| !obs.custom_attributes.contains_key(*n))
            .map(|(n, t)| custom_schema(n, t))
            .collect();
        if !missing.is_empty() {
            idp.add_custom_attributes()
                .user_pool_id(&obs.id)
                .set_custom_attributes(Some(missing))
                .send()
                .await
                .map_err(AwsError::map("add custom attributes to", KIND, name))?;
        }
        (obs.id.clone(), obs.arn.clone())
    } else {
        let mut create = idp
            .create_user_pool()
            .pool_name(name)
            .policies(password_policy(&spec.password))
            .mfa_configuration(UserPoolMfaType::Off)
            .set_user_pool_add_ons(add_ons(spec.advanced_security))
            .deletion_protection(protection(spec.deletion_protection))
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .set_user_pool_tags(Some(tag_map))
            .set_schema(Some(
                spec.custom_attributes
                    .iter()
                    .map(|(n, t)| custom_schema(n, t))
                    .collect(),
            ));
        if spec.sign_in == SignIn::Email {
            create = create.username_attributes(UsernameAttributeType::Email);
        }
        let pool = create
            .send()
            .await
            .map_err(AwsError::map("create", KIND, name))?
            .user_pool
            .ok_or_else(|| IdentityError::missing(KIND, name, "user pool"))?;
        let id = pool
            .id()
            .ok_or_else(|| IdentityError::missing(KIND, name, "id"))?
            .to_owned();
        if spec.mfa != Mfa::Off {
            set_mfa(idp, &id, spec.mfa, name).await?;
        }
        (id, pool.arn().unwrap_or_default().to_owned())
    };
    Ok((id, arn))
}

async fn set_mfa(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    id: &str,
    mfa: Mfa,
    name: &str,
) -> Result<(), IdentityError> {
    idp.set_user_pool_mfa_config()
        .user_pool_id(id)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder()
                .enabled(mfa != Mfa::Off)
                .build(),
        )
        .mfa_configuration(mfa.aws())
        .send()
        .await
        .map_err(AwsError::map("set MFA of", KIND, name))?;
    Ok(())
}

/// Deletes the user pool of `logical_id` (its domain first). A deletion-protected pool is
/// refused unless `allow_protected`, in which case protection is turned off first.
///
/// # Idempotency
/// Found by name and tag; absent is a no-op.
///
/// # Errors
/// [`ResourceError::Refused`] for a protected pool without `allow_protected`,
/// [`ResourceError::Aws`] when a call fails.
pub async fn destroy_user_pool(
    ctx: &Context,
    logical_id: &str,
    allow_protected: bool,
) -> Result<ResourceChange, IdentityError> {
    let idp = ironbark_core::sdk_client!(ctx, aws_sdk_cognitoidentityprovider);
    let name = ctx.physical_name(logical_id, &NameRule::GENERIC);
    let observed = find(&idp, &name, logical_id).await?;
    let change = match &observed {
        None => Change::NoOp,
        Some(obs) if obs.deletion_protection && !allow_protected => Change::Refused {
            field: "deletion_protection".into(),
            reason: "the user pool is deletion-protected; destroy with --allow-protected to delete it and its users".into(),
        },
        Some(_) => Change::Delete,
    };
    if let (Some(obs), true) = (&observed, ctx.is_apply()) {
        if let Change::Refused { reason, .. } = &change {
            return Err(IdentityError::Resource(ResourceError::Refused {
                field: None,
                kind: KIND,
                name,
                reason: reason.clone(),
            }));
        }
        let pool = idp
            .describe_user_pool()
            .user_pool_id(&obs.id)
            .send()
            .await
            .map_err(AwsError::map("read", KIND, &name))?
            .user_pool;
        if let Some(domain) = pool.as_ref().and_then(|p| p.domain()) {
            idp.delete_user_pool_domain()
                .user_pool_id(&obs.id)
                .domain(domain)
                .send()
                .await
                .map_err(AwsError::map("delete the domain of", KIND, &name))?;
        }
        if obs.deletion_protection {
            idp.update_user_pool()
                .user_pool_id(&obs.id)
                .policies(password_policy(&obs.password))
                .mfa_configuration(obs.mfa.aws())
                .set_user_pool_add_ons(add_ons(obs.advanced_security))
                .deletion_protection(DeletionProtectionType::Inactive)
                .set_user_pool_tags(Some(obs.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(AwsError::map(
                    "turn off deletion protection of",
                    KIND,
                    &name,
                ))?;
        }
        match idp.delete_user_pool().user_pool_id(&obs.id).send().await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) if is_deletion_protected(&e) => {
                return Err(IdentityError::Resource(ResourceError::Refused {
                    field: None,
                    kind: KIND,
                    name,
                    reason: "AWS refused: deletion protection is still active".into(),
                }))
            }
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

    fn spec() -> UserPoolSpec {
        UserPoolSpec {
            logical_id: "identity/cognito/users".into(),
            password: PasswordPolicy::default(),
            mfa: Mfa::Optional,
            advanced_security: true,
            deletion_protection: true,
            sign_in: SignIn::Email,
            custom_attributes: [("tenant_id".to_owned(), "String".to_owned())].into(),
        }
    }

    fn converged(s: &UserPoolSpec, tags: &Tags) -> ObservedUserPool {
        ObservedUserPool {
            id: "us-east-1_x".into(),
            arn: "arn".into(),
            password: s.password.clone(),
            mfa: s.mfa,
            advanced_security: s.advanced_security,
            deletion_protection: s.deletion_protection,
            sign_in: s.sign_in,
            custom_attributes: s.custom_attributes.clone(),
            tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    #[test]
    fn updates_in_place_and_refuses_what_needs_a_new_pool() {
        let tags = Tags::default().with_id("identity/cognito/users");
        let s = spec();
        let mut obs = converged(&s, &tags);
        assert_eq!(decide(&s, &tags, Some(&obs)), Change::NoOp);
        obs.password.min_length = 8;
        obs.advanced_security = false;
        let Change::Update { fields } = decide(&s, &tags, Some(&obs)) else {
            panic!()
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["password.min_length", "advanced_security"]);
        obs.sign_in = SignIn::Username;
        assert!(
            matches!(decide(&s, &tags, Some(&obs)), Change::Refused { field, .. } if field == "sign_in")
        );
        let mut obs = converged(&s, &tags);
        obs.custom_attributes
            .insert("tenant_id".into(), "Number".into());
        assert!(matches!(
            decide(&s, &tags, Some(&obs)),
            Change::Refused { .. }
        ));
    }
}
