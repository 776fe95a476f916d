//! Secrets Manager secrets: generated values (created once, never regenerated, never
//! printed), structured JSON values (like the M2M credential of seed 003), a KMS key, tags
//! and a rotation schedule when a rotation Lambda is given.
//!
//! Secret values are [`SecretString`]s: their `Debug` is redacted, they never enter a
//! [`Change`], an [`Event`], an error or an outcome. Plans say `value: (sensitive)`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_secretsmanager::types::{RotationRulesType, Tag};
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::{Change, Context, Event, FieldDiff, ResourceChange, Tags};
use rand::seq::SliceRandom;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{is_already_exists, is_not_found, IdentityError};

const KIND: &str = "secret";

/// Characters AWS services commonly reject in passwords (RDS: `/ @ "`; shells: `` ` `` `\` `'`).
pub const DEFAULT_EXCLUDE: &str = "/@\"'`\\ ";

/// How to generate a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generator {
    /// Length in characters.
    pub length: usize,
    /// Include (and require at least one of) `a-z`.
    pub lowercase: bool,
    /// Include (and require at least one of) `A-Z`.
    pub uppercase: bool,
    /// Include (and require at least one of) `0-9`.
    pub digits: bool,
    /// Include (and require at least one of) ASCII punctuation.
    pub symbols: bool,
    /// Characters never used.
    pub exclude: String,
}

impl Default for Generator {
    /// 32 characters of every class, without [`DEFAULT_EXCLUDE`].
    fn default() -> Self {
        Self {
            length: 32,
            lowercase: true,
            uppercase: true,
            digits: true,
            symbols: true,
            exclude: DEFAULT_EXCLUDE.to_owned(),
        }
    }
}

impl Generator {
    /// The enabled character classes, each without excluded characters.
    #[must_use]
    pub fn classes(&self) -> Vec<Vec<char>> {
        let class = |on: bool, f: fn(&char) -> bool| -> Option<Vec<char>> {
            on.then(|| {
                (33u8..127)
                    .map(char::from)
                    .filter(|c| f(c) && !self.exclude.contains(*c))
                    .collect()
            })
        };
        [
            class(self.lowercase, char::is_ascii_lowercase),
            class(self.uppercase, char::is_ascii_uppercase),
            class(self.digits, char::is_ascii_digit),
            class(self.symbols, char::is_ascii_punctuation),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Checks that a value can be generated: at least one class, none emptied by
    /// exclusions, and a length that fits one of each class.
    ///
    /// # Errors
    /// What is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let classes = self.classes();
        if classes.is_empty() {
            return Err("no character class enabled".into());
        }
        if classes.iter().any(Vec::is_empty) {
            return Err("an enabled character class is entirely excluded".into());
        }
        if self.length < classes.len() || self.length > 4096 {
            return Err(format!(
                "length {} must be between {} (one of each class) and 4096",
                self.length,
                classes.len()
            ));
        }
        Ok(())
    }

    /// Generates a value: one character of each enabled class, the rest from all of them,
    /// shuffled, from the thread's cryptographically secure generator.
    ///
    /// # Errors
    /// When [`Generator::validate`] fails.
    pub fn generate(&self) -> Result<SecretString, String> {
        self.validate()?;
        let classes = self.classes();
        let all: Vec<char> = classes.iter().flatten().copied().collect();
        let mut rng = rand::rng();
        let mut chars: Vec<char> = classes
            .iter()
            .map(|c| c[rng.random_range(0..c.len())])
            .collect();
        while chars.len() < self.length {
            chars.push(all[rng.random_range(0..all.len())]);
        }
        chars.shuffle(&mut rng);
        Ok(SecretString::from(chars.into_iter().collect::<String>()))
    }
}

/// The value of a secret.
#[derive(Debug, Clone)]
pub enum SecretValue {
    /// Generated once at creation, never regenerated, never read back by Ironbark.
    Generated(Generator),
    /// A JSON object of string fields (reconciled: a changed field is written as a new
    /// version).
    Json(BTreeMap<String, SecretString>),
    /// A given string (reconciled like [`SecretValue::Json`]).
    Provided(SecretString),
}

impl SecretValue {
    fn render(&self) -> Result<Option<SecretString>, String> {
        match self {
            Self::Generated(_) => Ok(None),
            Self::Json(fields) => {
                let map: BTreeMap<&str, &str> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.expose_secret()))
                    .collect();
                serde_json::to_string(&map)
                    .map(|s| Some(SecretString::from(s)))
                    .map_err(|e| e.to_string())
            }
            Self::Provided(v) => Ok(Some(v.clone())),
        }
    }

    /// Whether `current` (the stored value) already holds this value. JSON is compared as
    /// objects, so key order and whitespace do not matter.
    fn matches(&self, current: &SecretString) -> bool {
        match self {
            Self::Generated(_) => true,
            Self::Json(fields) => {
                serde_json::from_str::<BTreeMap<String, serde_json::Value>>(current.expose_secret())
                    .is_ok_and(|stored| {
                        stored.len() == fields.len()
                            && fields.iter().all(|(k, v)| {
                                stored.get(k).and_then(|s| s.as_str()) == Some(v.expose_secret())
                            })
                    })
            }
            Self::Provided(v) => v.expose_secret() == current.expose_secret(),
        }
    }
}

/// Serializes what the value is, never the value: a generator, the JSON keys, or `provided`.
impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Shape<'a> {
            Generated(&'a Generator),
            Json(BTreeSet<&'a str>),
            Provided,
        }
        match self {
            Self::Generated(g) => Shape::Generated(g),
            Self::Json(fields) => Shape::Json(fields.keys().map(String::as_str).collect()),
            Self::Provided(_) => Shape::Provided,
        }
        .serialize(s)
    }
}

/// Automatic rotation by a Lambda function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The rotation function's ARN.
    pub lambda_arn: String,
    /// Days between rotations (1-1000).
    pub after_days: i64,
}

/// The desired secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecretSpec {
    /// Logical id; the name is `<stack>/<env>/<id>`.
    pub logical_id: String,
    /// Description.
    pub description: Option<String>,
    /// The KMS key (ARN) encrypting it; `None` for the AWS managed key.
    pub kms_key_id: Option<String>,
    /// The value.
    pub value: SecretValue,
    /// Rotation, when a rotation Lambda is given.
    pub rotation: Option<Rotation>,
}

impl SecretSpec {
    /// A secret holding a generated value.
    pub fn generated(logical_id: impl Into<String>, generator: Generator) -> Self {
        Self {
            logical_id: logical_id.into(),
            description: None,
            kms_key_id: None,
            value: SecretValue::Generated(generator),
            rotation: None,
        }
    }

    /// A secret holding a JSON object.
    pub fn json(logical_id: impl Into<String>, fields: BTreeMap<String, SecretString>) -> Self {
        Self {
            value: SecretValue::Json(fields),
            ..Self::generated(logical_id, Generator::default())
        }
    }
}

/// The secret as observed. `current` is read only when the spec's value is reconciled
/// (JSON or provided); a generated value is never read back.
#[derive(Debug, Clone)]
pub struct ObservedSecret {
    /// ARN.
    pub arn: String,
    /// Description.
    pub description: Option<String>,
    /// KMS key.
    pub kms_key_id: Option<String>,
    /// Rotation Lambda, when rotation is enabled.
    pub rotation: Option<Rotation>,
    /// Scheduled for deletion.
    pub deleted: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The current value (`AWSCURRENT`), when read.
    pub current: Option<SecretString>,
}

/// The change for a secret. The value appears only as a sensitive field.
#[must_use]
pub fn decide(spec: &SecretSpec, tags: &Tags, observed: Option<&ObservedSecret>) -> Change {
    let Some(obs) = observed else {
        let mut fields = vec![FieldDiff::sensitive("value")];
        if let Some(k) = &spec.kms_key_id {
            fields.push(FieldDiff::set("kms_key_id", k));
        }
        if let Some(r) = &spec.rotation {
            fields.push(FieldDiff::set(
                "rotation",
                format!("{} every {} days", r.lambda_arn, r.after_days),
            ));
        }
        return Change::Create { fields };
    };
    if obs.deleted {
        return Change::Refused {
            field: "deleted_date".into(),
            reason: "the secret is scheduled for deletion; restore it (aws secretsmanager restore-secret) to keep its value, Ironbark never does so implicitly".into(),
        };
    }
    let mut fields = Vec::new();
    let value_differs = match (&spec.value, &obs.current) {
        (SecretValue::Generated(_), _) => false,
        (_, None) => true,
        (value, Some(current)) => !value.matches(current),
    };
    if value_differs {
        fields.push(FieldDiff::sensitive("value"));
    }
    if spec.description.is_some() && spec.description != obs.description {
        fields.push(FieldDiff::new(
            "description",
            obs.description.as_ref(),
            spec.description.as_ref(),
        ));
    }
    if spec.kms_key_id.is_some() && spec.kms_key_id != obs.kms_key_id {
        fields.push(FieldDiff::new(
            "kms_key_id",
            obs.kms_key_id.as_ref(),
            spec.kms_key_id.as_ref(),
        ));
    }
    if spec.rotation != obs.rotation {
        let show = |r: &Option<Rotation>| {
            r.as_ref()
                .map(|r| format!("{} every {} days", r.lambda_arn, r.after_days))
        };
        fields.push(FieldDiff::new(
            "rotation",
            show(&obs.rotation),
            show(&spec.rotation),
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

/// What [`ensure_secret`] did. Holds the ARN and name, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SecretOutcome {
    /// The secret's name (`shop/prod/db/master`).
    pub name: String,
    /// Its ARN (`None` in plan mode before creation).
    pub arn: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

fn sm_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
}

async fn observe(
    sm: &aws_sdk_secretsmanager::Client,
    name: &str,
    read_value: bool,
) -> Result<Option<ObservedSecret>, IdentityError> {
    let d = match sm.describe_secret().secret_id(name).send().await {
        Ok(d) => d,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, name, e))),
    };
    let deleted = d.deleted_date().is_some();
    let current = if read_value && !deleted {
        match sm.get_secret_value().secret_id(name).send().await {
            Ok(v) => v.secret_string.map(SecretString::from),
            // A secret created without a value (crash right after create) has no version.
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "read the value of",
                    KIND,
                    name,
                    e,
                )))
            }
        }
    } else {
        None
    };
    Ok(Some(ObservedSecret {
        arn: d.arn().unwrap_or_default().to_owned(),
        description: d.description().map(str::to_owned),
        kms_key_id: d.kms_key_id().map(str::to_owned),
        rotation: match (d.rotation_enabled(), d.rotation_lambda_arn()) {
            (Some(true), Some(arn)) if !arn.is_empty() => Some(Rotation {
                lambda_arn: arn.to_owned(),
                after_days: d
                    .rotation_rules()
                    .and_then(RotationRulesType::automatically_after_days)
                    .unwrap_or_default(),
            }),
            _ => None,
        },
        deleted,
        tags: d
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
        current,
    }))
}

/// Makes the secret of `spec.logical_id` match: creates it with its value, KMS key and tags
/// in one call; reconciles description, KMS key, tags and rotation; writes a new version
/// only when a JSON or provided value differs. A generated value is created once and never
/// regenerated or read back.
///
/// # Idempotency
/// Found by its name, `<stack>/<env>/<logical id>`. `CreateSecret` carries a client request
/// token derived from the spec, so a retried create cannot make two versions. A crash after
/// the create leaves a complete secret (value and tags are part of the call). A secret
/// scheduled for deletion is never restored implicitly: the change is refused.
///
/// # Errors
/// [`ResourceError::Aws`] when a call fails (never carrying the value),
/// [`ResourceError::InvalidSpec`] for an impossible generator, [`ResourceError::Refused`]
/// for a secret scheduled for deletion in apply mode.
pub async fn ensure_secret(
    ctx: &Context,
    spec: &SecretSpec,
) -> Result<SecretOutcome, IdentityError> {
    let sm = ironbark_core::sdk_client!(ctx, aws_sdk_secretsmanager);
    let name = ctx.physical_name(&spec.logical_id, &NameRule::SECRET);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    if let SecretValue::Generated(g) = &spec.value {
        g.validate().map_err(|reason| {
            IdentityError::Resource(ResourceError::InvalidSpec {
                kind: KIND,
                name: spec.logical_id.clone(),
                reason,
            })
        })?;
    }
    let _permit = ctx.permit("secretsmanager").await;
    let reconcile_value = !matches!(spec.value, SecretValue::Generated(_));
    let observed = observe(&sm, &name, reconcile_value).await?;
    let tags = ctx.tags_for(&spec.logical_id);
    let change = decide(spec, &tags, observed.as_ref());
    let mut arn = observed.as_ref().map(|o| o.arn.clone());
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
        arn = Some(act(ctx, &sm, spec, &name, &tags, observed.as_ref()).await?);
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(SecretOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
        arn,
    })
}

async fn act(
    ctx: &Context,
    sm: &aws_sdk_secretsmanager::Client,
    spec: &SecretSpec,
    name: &str,
    tags: &Tags,
    observed: Option<&ObservedSecret>,
) -> Result<String, IdentityError> {
    let invalid = |reason: String| {
        IdentityError::Resource(ResourceError::InvalidSpec {
            kind: KIND,
            name: spec.logical_id.clone(),
            reason,
        })
    };
    let value = match &spec.value {
        SecretValue::Generated(g) if observed.is_none() => Some(g.generate().map_err(invalid)?),
        other => other.render().map_err(invalid)?,
    };
    let arn = if let Some(obs) = observed {
        if let Some(value) = value.as_ref().filter(|v| {
            obs.current.as_ref().is_none_or(|c| !spec.value.matches(c))
                && !v.expose_secret().is_empty()
        }) {
            sm.put_secret_value()
                .secret_id(name)
                .secret_string(value.expose_secret())
                .send()
                .await
                .map_err(AwsError::map("write a new version of", KIND, name))?;
        }
        let description_differs = spec.description.is_some() && spec.description != obs.description;
        let key_differs = spec.kms_key_id.is_some() && spec.kms_key_id != obs.kms_key_id;
        if description_differs || key_differs {
            sm.update_secret()
                .secret_id(name)
                .set_description(spec.description.clone())
                .set_kms_key_id(spec.kms_key_id.clone())
                .send()
                .await
                .map_err(AwsError::map("update", KIND, name))?;
        }
        let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !td.set.is_empty() {
            let set = td.to_set();
            sm.tag_resource()
                .secret_id(name)
                .set_tags(Some(sm_tags(&set)))
                .send()
                .await
                .map_err(AwsError::map("tag", KIND, name))?;
        }
        if !td.remove.is_empty() {
            sm.untag_resource()
                .secret_id(name)
                .set_tag_keys(Some(td.remove))
                .send()
                .await
                .map_err(AwsError::map("untag", KIND, name))?;
        }
        obs.arn.clone()
    } else {
        let created = sm
            .create_secret()
            .name(name)
            .client_request_token(ctx.client_token(&spec.logical_id, spec))
            .set_description(spec.description.clone())
            .set_kms_key_id(spec.kms_key_id.clone())
            .set_secret_string(value.as_ref().map(|v| v.expose_secret().to_owned()))
            .set_tags(Some(sm_tags(tags)))
            .send()
            .await;
        match created {
            Ok(out) => out.arn.unwrap_or_default(),
            // Another run created it since we looked: adopt it, never overwrite its value.
            Err(e) if is_already_exists(&e) => sm
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(AwsError::map("read", KIND, name))?
                .arn
                .unwrap_or_default(),
            Err(e) => return Err(IdentityError::from(AwsError::new("create", KIND, name, e))),
        }
    };
    let current_rotation = observed.and_then(|o| o.rotation.clone());
    if spec.rotation != current_rotation {
        match &spec.rotation {
            Some(r) => {
                sm.rotate_secret()
                    .secret_id(name)
                    .rotation_lambda_arn(&r.lambda_arn)
                    .rotation_rules(
                        RotationRulesType::builder()
                            .automatically_after_days(r.after_days)
                            .build(),
                    )
                    .rotate_immediately(false)
                    .send()
                    .await
                    .map_err(AwsError::map("configure rotation of", KIND, name))?;
            }
            None => {
                sm.cancel_rotate_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(AwsError::map("turn off rotation of", KIND, name))?;
            }
        }
    }
    Ok(arn)
}

/// Deletes the secret of `logical_id`, recoverable for `recovery_days` (7-30).
///
/// # Idempotency
/// Found by name; absent or already scheduled is a no-op.
///
/// # Errors
/// [`ResourceError::Aws`] when a call fails.
pub async fn destroy_secret(
    ctx: &Context,
    logical_id: &str,
    recovery_days: i64,
) -> Result<ResourceChange, IdentityError> {
    let sm = ironbark_core::sdk_client!(ctx, aws_sdk_secretsmanager);
    let name = ctx.physical_name(logical_id, &NameRule::SECRET);
    let live = observe(&sm, &name, false).await?.filter(|o| !o.deleted);
    if live.is_some() && ctx.is_apply() {
        match sm
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(recovery_days.clamp(7, 30))
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
        change: if live.is_some() {
            Change::Delete
        } else {
            Change::NoOp
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags() -> Tags {
        Tags::standard("s", "dev", "o", "c", "s").with_id("db/master")
    }

    fn observed(current: Option<&str>) -> ObservedSecret {
        ObservedSecret {
            arn: "arn".into(),
            description: None,
            kms_key_id: None,
            rotation: None,
            deleted: false,
            tags: tags().iter().map(|(k, v)| (k.into(), v.into())).collect(),
            current: current.map(|c| SecretString::from(c.to_owned())),
        }
    }

    #[test]
    fn generated_values_are_never_regenerated_or_shown() {
        let spec = SecretSpec::generated("db/master", Generator::default());
        let Change::Create { fields } = decide(&spec, &tags(), None) else {
            panic!()
        };
        assert!(fields[0].sensitive && fields[0].old.is_none() && fields[0].new.is_none());
        assert_eq!(decide(&spec, &tags(), Some(&observed(None))), Change::NoOp);
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains("\"length\":32"), "{json}");
    }

    #[test]
    fn json_values_compare_as_objects_and_drift_is_sensitive() {
        let fields: BTreeMap<String, SecretString> = [
            ("client_id".to_owned(), SecretString::from("abc")),
            ("client_secret".to_owned(), SecretString::from("s3cr3t")),
        ]
        .into();
        let spec = SecretSpec::json("m2m", fields);
        let same = observed(Some(r#"{ "client_secret": "s3cr3t", "client_id": "abc" }"#));
        assert_eq!(decide(&spec, &tags(), Some(&same)), Change::NoOp);
        let changed = observed(Some(r#"{"client_id":"abc","client_secret":"0ldv4lue"}"#));
        let change = decide(&spec, &tags(), Some(&changed));
        assert_eq!(
            change,
            Change::Update {
                fields: vec![FieldDiff::sensitive("value")]
            }
        );
        let rendered = format!("{change:?} {}", serde_json::to_string(&spec).unwrap());
        assert!(
            !rendered.contains("s3cr3t") && !rendered.contains("0ldv4lue"),
            "{rendered}"
        );
        assert!(!format!("{spec:?}").contains("s3cr3t"));
    }

    #[test]
    fn impossible_generators_are_rejected() {
        let g = Generator {
            length: 2,
            ..Generator::default()
        };
        assert!(g.validate().is_err());
        let g = Generator {
            digits: true,
            lowercase: false,
            uppercase: false,
            symbols: false,
            exclude: "0123456789".into(),
            length: 8,
        };
        assert!(g.validate().is_err());
    }

    proptest! {
        #[test]
        fn prop_generated_values_satisfy_their_rules(
            length in 4usize..128,
            lowercase in any::<bool>(),
            uppercase in any::<bool>(),
            digits in any::<bool>(),
            symbols in any::<bool>(),
            exclude in "[a-zA-Z0-9!-/:-@]{0,10}",
        ) {
            let g = Generator { length, lowercase, uppercase, digits, symbols, exclude: exclude.clone() };
            prop_assume!(g.validate().is_ok());
            let v = g.generate().unwrap();
            let v = v.expose_secret();
            prop_assert_eq!(v.chars().count(), length);
            prop_assert!(v.chars().all(|c| c.is_ascii_graphic() && !exclude.contains(c)));
            prop_assert_eq!(v.chars().any(|c| c.is_ascii_lowercase()), lowercase);
            prop_assert_eq!(v.chars().any(|c| c.is_ascii_uppercase()), uppercase);
            prop_assert_eq!(v.chars().any(|c| c.is_ascii_digit()), digits);
            prop_assert_eq!(v.chars().any(|c| c.is_ascii_punctuation()), symbols);
        }

        #[test]
        fn prop_two_generated_values_differ(length in 16usize..64) {
            let g = Generator { length, ..Generator::default() };
            let (a, b) = (g.generate().unwrap(), g.generate().unwrap());
            prop_assert_ne!(a.expose_secret(), b.expose_secret());
        }
    }
}
