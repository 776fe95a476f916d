//! KMS customer managed keys: symmetric, rotating, with a key policy granting the account
//! root plus the services that use the key, an alias `alias/<stack>-<env>-<name>` and tags.
//!
//! Keys are stateful (data encrypted under a deleted key is lost): they are never replaced or
//! deleted by `ensure_key`; [`destroy_key`] schedules deletion with a waiting period.

use std::collections::BTreeMap;

use aws_sdk_kms::types::{KeySpec as AwsKeySpec, KeyState, KeyUsageType, Tag};
use ironbark_core::naming::NameRule;
use ironbark_core::reconcile::{self, AwsError, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Change, Context, FieldDiff, ResourceChange, Tags};
use serde::{Deserialize, Serialize};

use crate::document::{PolicyDocument, Principal, Statement};
use crate::error::{is_access_denied, is_not_found, IdentityError};

const KIND: &str = "KMS key";

/// The desired key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Short name (`main`, `logs`): alias `alias/<stack>-<env>-<name>`, logical id
    /// `identity/kms/<name>`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Service principals allowed to use the key (`logs.us-east-1.amazonaws.com`,
    /// `secretsmanager.amazonaws.com`).
    pub service_principals: Vec<String>,
    /// Further key policy statements.
    pub extra_statements: Vec<Statement>,
    /// Waiting period when destroyed, 7 to 30 days.
    pub deletion_window_days: i32,
}

impl KeySpec {
    /// A key named `name` usable by `services`, 30-day deletion window.
    pub fn new(name: impl Into<String>, services: impl IntoIterator<Item = String>) -> Self {
        let name = name.into();
        Self {
            description: format!("Ironbark key {name}"),
            name,
            service_principals: services.into_iter().collect(),
            extra_statements: Vec::new(),
            deletion_window_days: 30,
        }
    }

    /// The logical id.
    #[must_use]
    pub fn logical_id(&self) -> String {
        format!("identity/kms/{}", self.name)
    }

    /// The key policy: the account root may administer the key (so IAM policies apply), the
    /// services may use it for encryption.
    #[must_use]
    pub fn policy(&self, partition: &str, account: &str) -> PolicyDocument {
        let mut statements = vec![Statement::allow_principal(
            Principal::aws(format!("arn:{partition}:iam::{account}:root")),
            ["kms:*"],
        )
        .with_sid("EnableRootPermissions")
        .with_resources(["*"])];
        if !self.service_principals.is_empty() {
            statements.push(
                Statement::allow_principal(
                    Principal::services(self.service_principals.clone()),
                    [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                )
                .with_sid("AllowServices")
                .with_resources(["*"]),
            );
        }
        statements.extend(self.extra_statements.iter().cloned());
        PolicyDocument::new(statements)
    }
}

/// The key as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedKey {
    /// Key id.
    pub key_id: String,
    /// Key ARN.
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
    /// Description.
    pub description: String,
    /// The key policy.
    pub policy: PolicyDocument,
    /// Automatic rotation.
    pub rotation: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether the alias points at it.
    pub has_alias: bool,
}

/// What differs between a key and its spec; the kit's `apply` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyDiff {
    /// The key does not exist: the policy (JSON) to create it with, then alias and rotation.
    pub create: Option<String>,
    /// A disabled key to enable.
    pub enable: bool,
    /// The alias to point at the key (a key found by its tags after a crash).
    pub alias: Option<String>,
    /// The key policy: (observed, desired), canonical JSON.
    pub policy: Option<(String, String)>,
    /// Rotation to turn on.
    pub rotation: bool,
    /// The description: (observed, desired).
    pub description: Option<(String, String)>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering (removals show the value they had).
    tag_fields: Vec<FieldDiff>,
    /// A key pending deletion, refused: (field, reason).
    pub refusal: Option<(String, String)>,
}

impl Diff for KeyDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none()
            && !self.enable
            && self.alias.is_none()
            && self.policy.is_none()
            && !self.rotation
            && self.description.is_none()
            && self.tags.is_empty()
            && self.refusal.is_none()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        if let Some(policy) = &self.create {
            return vec![
                FieldDiff::set("key_spec", "SYMMETRIC_DEFAULT"),
                FieldDiff::set("rotation", true),
                FieldDiff::set("policy", policy),
            ];
        }
        let mut fields = Vec::new();
        if self.enable {
            fields.push(FieldDiff::new("enabled", Some(false), Some(true)));
        }
        if let Some(name) = &self.alias {
            fields.push(FieldDiff::new("alias", None::<String>, Some(name)));
        }
        if let Some((old, new)) = &self.policy {
            fields.push(FieldDiff::new("policy", Some(old), Some(new)));
        }
        if self.rotation {
            fields.push(FieldDiff::new("rotation", Some(false), Some(true)));
        }
        if let Some((old, new)) = &self.description {
            fields.push(FieldDiff::new("description", Some(old), Some(new)));
        }
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// The diff for a key with its resolved `policy`. Pure.
#[must_use]
pub fn diff(
    spec: &KeySpec,
    policy: &PolicyDocument,
    tags: &Tags,
    observed: Option<&ObservedKey>,
) -> KeyDiff {
    let Some(obs) = observed else {
        return KeyDiff {
            create: Some(policy.to_json()),
            ..KeyDiff::default()
        };
    };
    if obs.state == "PendingDeletion" || obs.state == "PendingReplicaDeletion" {
        return KeyDiff {
            refusal: Some((
                "key_state".into(),
                format!(
                    "key {} is pending deletion; cancel it (aws kms cancel-key-deletion --key-id {}) to keep its data, Ironbark never does so implicitly",
                    obs.key_id, obs.key_id
                ),
            )),
            ..KeyDiff::default()
        };
    }
    let td = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut tag_fields: Vec<FieldDiff> = td
        .set
        .iter()
        .map(|(k, old, new)| FieldDiff::new(format!("tags.{k}"), old.clone(), Some(new)))
        .collect();
    tag_fields.extend(
        td.remove
            .iter()
            .map(|k| FieldDiff::new(format!("tags.{k}"), obs.tags.get(k), None::<String>)),
    );
    KeyDiff {
        create: None,
        enable: obs.state == "Disabled",
        alias: (!obs.has_alias).then(|| spec.name.clone()),
        policy: (!obs.policy.same_as(policy)).then(|| {
            (
                obs.policy.canonical().to_json(),
                policy.canonical().to_json(),
            )
        }),
        rotation: !obs.rotation,
        description: (obs.description != spec.description)
            .then(|| (obs.description.clone(), spec.description.clone())),
        tags: td,
        tag_fields,
        refusal: None,
    }
}

/// The change for a key.
#[must_use]
pub fn decide(
    spec: &KeySpec,
    policy: &PolicyDocument,
    tags: &Tags,
    observed: Option<&ObservedKey>,
) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, policy, tags, observed),
        &Status::Ready,
    )
}

/// What [`ensure_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct KeyOutcome {
    /// The alias (`alias/shop-prod-main`).
    pub alias: String,
    /// The key id (`None` in plan mode before creation).
    pub key_id: Option<String>,
    /// The key ARN (`None` in plan mode before creation).
    pub arn: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

/// The alias of a key name in this context.
#[must_use]
pub fn alias_name(ctx: &Context, name: &str) -> String {
    format!("alias/{}", ctx.physical_name(name, &NameRule::KMS_ALIAS))
}

fn kms_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().tag_key(k).tag_value(v).build())
        .into_iter()
        .flatten()
        .collect()
}

async fn read_key(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    has_alias: bool,
    alias: &str,
) -> Result<ObservedKey, IdentityError> {
    let meta = kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(AwsError::map("read", KIND, alias))?
        .key_metadata
        .ok_or_else(|| IdentityError::missing(KIND, alias, "key metadata"))?;
    let key_id = meta.key_id().to_owned();
    let state = meta
        .key_state()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let pending = matches!(meta.key_state(), Some(KeyState::PendingDeletion));
    let policy_text = kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .map_err(AwsError::map("read the policy of", KIND, alias))?
        .policy
        .unwrap_or_default();
    let policy = PolicyDocument::parse(&policy_text).map_err(|source| IdentityError::Document {
        kind: KIND,
        name: alias.to_owned(),
        source,
    })?;
    // Rotation status cannot be read from a key pending deletion.
    let rotation = if pending {
        false
    } else {
        kms.get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .map_err(AwsError::map("read the rotation of", KIND, alias))?
            .key_rotation_enabled()
    };
    Ok(ObservedKey {
        arn: meta.arn().unwrap_or_default().to_owned(),
        state,
        description: meta.description().unwrap_or_default().to_owned(),
        policy,
        rotation,
        tags: read_tags(kms, &key_id, alias).await?,
        has_alias,
        key_id,
    })
}

async fn read_tags(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    alias: &str,
) -> Result<BTreeMap<String, String>, IdentityError> {
    Ok(kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", KIND, alias))?
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect())
}

/// Finds the key by alias, or (when a crash left a key without its alias) by its
/// `ironbark:id`, stack and env tags among the account's keys not pending deletion.
async fn find(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
    logical_id: &str,
    alias: &str,
) -> Result<Option<ObservedKey>, IdentityError> {
    match kms.describe_key().key_id(alias).send().await {
        Ok(out) => {
            if let Some(meta) = out.key_metadata {
                return read_key(kms, meta.key_id(), true, alias).await.map(Some);
            }
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(IdentityError::from(AwsError::new("read", KIND, alias, e))),
    }
    let keys = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list keys to find", KIND, alias))?;
    let want = ctx.tags_for(logical_id);
    for key in keys {
        let Some(id) = key.key_id() else { continue };
        // Keys whose tags we may not read (other principals' key policies) are not ours.
        let tags = match kms.list_resource_tags().key_id(id).send().await {
            Ok(out) => out
                .tags()
                .iter()
                .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
                .collect::<BTreeMap<_, _>>(),
            Err(e) if is_access_denied(&e) || is_not_found(&e) => continue,
            Err(e) => {
                return Err(IdentityError::from(AwsError::new(
                    "read the tags of",
                    KIND,
                    alias,
                    e,
                )))
            }
        };
        let ours = [
            ironbark_core::tags::ID,
            ironbark_core::tags::STACK,
            ironbark_core::tags::ENVIRONMENT,
        ]
        .iter()
        .all(|k| tags.get(*k).map(String::as_str) == want.get(k));
        if ours {
            let key = read_key(kms, id, false, alias).await?;
            if key.state != "PendingDeletion" {
                return Ok(Some(key));
            }
        }
    }
    Ok(None)
}

/// One key, with its alias and resolved policy (which needs the account, read once before
/// converging).
struct Key<'a> {
    spec: &'a KeySpec,
    logical_id: String,
    alias: String,
    policy: PolicyDocument,
}

impl Resource for Key<'_> {
    type Observed = ObservedKey;
    type Diff = KeyDiff;
    type Output = (String, String);
    type Error = IdentityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "kms";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, _ctx: &Context) -> String {
        self.alias.clone()
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedKey>, IdentityError> {
        let kms = ironbark_core::sdk_client!(ctx, aws_sdk_kms);
        find(ctx, &kms, &self.logical_id, &self.alias).await
    }

    /// `None`: found by its alias (or, after a crash, by these very tags), and adopted, as
    /// before the kit.
    fn tags<'o>(&self, _observed: &'o ObservedKey) -> Option<&'o BTreeMap<String, String>> {
        None
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedKey>) -> KeyDiff {
        diff(self.spec, &self.policy, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedKey>,
        diff: &KeyDiff,
    ) -> Result<(String, String), IdentityError> {
        let kms = ironbark_core::sdk_client!(ctx, aws_sdk_kms);
        act(&kms, self, tags, observed, diff).await
    }

    fn output(&self, _ctx: &Context, observed: &ObservedKey) -> (String, String) {
        (observed.key_id.clone(), observed.arn.clone())
    }
}

/// Makes the key of `spec.name` match: creates it with its policy, tags and alias, turns on
/// rotation, and reconciles policy, rotation, description and tags in place.
///
/// # Idempotency
/// Found by its alias; a crash between `CreateKey` and `CreateAlias` leaves a key carrying
/// its `ironbark:id` tag (tags are passed to `CreateKey`), which the next run finds among the
/// account's keys and adopts instead of creating a second one. A key pending deletion is
/// never cancelled implicitly: the change is refused, naming the command that would.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails, [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) when the key is
/// pending deletion in apply mode.
pub async fn ensure_key(ctx: &Context, spec: &KeySpec) -> Result<KeyOutcome, IdentityError> {
    let (partition, account) = crate::account::caller(ctx).await?;
    let key = Key {
        spec,
        logical_id: spec.logical_id(),
        alias: alias_name(ctx, &spec.name),
        policy: spec.policy(&partition, &account),
    };
    let converged = reconcile::converge(ctx, &key).await?;
    let ids = converged.output.into_value();
    Ok(KeyOutcome {
        key_id: ids.as_ref().map(|(id, _)| id.clone()),
        arn: ids.map(|(_, arn)| arn),
        change: converged.change,
        alias: key.alias,
    })
}

/// The writes `diff` says, on the key of `observed` (or a new one).
async fn act(
    kms: &aws_sdk_kms::Client,
    key: &Key<'_>,
    tags: &Tags,
    observed: Option<&ObservedKey>,
    diff: &KeyDiff,
) -> Result<(String, String), IdentityError> {
    let (spec, alias) = (key.spec, key.alias.as_str());
    let (key_id, arn) = match (observed, &diff.create) {
        (Some(obs), _) => (obs.key_id.clone(), obs.arn.clone()),
        (None, policy) => {
            let meta = kms
                .create_key()
                .description(&spec.description)
                .key_usage(KeyUsageType::EncryptDecrypt)
                .key_spec(AwsKeySpec::SymmetricDefault)
                .set_policy(policy.clone())
                .set_tags(Some(kms_tags(tags)))
                .send()
                .await
                .map_err(AwsError::map("create", KIND, alias))?
                .key_metadata
                .ok_or_else(|| IdentityError::missing(KIND, alias, "key metadata"))?;
            (
                meta.key_id().to_owned(),
                meta.arn().unwrap_or_default().to_owned(),
            )
        }
    };
    let created = diff.create.is_some();
    if created || diff.alias.is_some() {
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&key_id)
            .send()
            .await
            .map_err(AwsError::map("create the alias of", KIND, alias))?;
    }
    if diff.enable {
        kms.enable_key()
            .key_id(&key_id)
            .send()
            .await
            .map_err(AwsError::map("enable", KIND, alias))?;
    }
    if diff.policy.is_some() {
        kms.put_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .policy(key.policy.to_json())
            .send()
            .await
            .map_err(AwsError::map("update the policy of", KIND, alias))?;
    }
    if created || diff.rotation {
        kms.enable_key_rotation()
            .key_id(&key_id)
            .send()
            .await
            .map_err(AwsError::map("enable rotation of", KIND, alias))?;
    }
    if diff.description.is_some() {
        kms.update_key_description()
            .key_id(&key_id)
            .description(&spec.description)
            .send()
            .await
            .map_err(AwsError::map("update the description of", KIND, alias))?;
    }
    if !diff.tags.set.is_empty() {
        kms.tag_resource()
            .key_id(&key_id)
            .set_tags(Some(kms_tags(&diff.tags.to_set())))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, alias))?;
    }
    if !diff.tags.remove.is_empty() {
        kms.untag_resource()
            .key_id(&key_id)
            .set_tag_keys(Some(diff.tags.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, alias))?;
    }
    Ok((key_id, arn))
}

/// Schedules deletion of the key of `name` after `window_days` (7-30) and deletes its alias.
///
/// # Idempotency
/// Found by alias or tags; a key already pending deletion (or absent) is a no-op. Until the
/// waiting period ends the key can be recovered with `aws kms cancel-key-deletion`.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_key(
    ctx: &Context,
    name: &str,
    window_days: i32,
) -> Result<ResourceChange, IdentityError> {
    let kms = ironbark_core::sdk_client!(ctx, aws_sdk_kms);
    let logical_id = format!("identity/kms/{name}");
    let alias = alias_name(ctx, name);
    let observed = find(ctx, &kms, &logical_id, &alias).await?;
    let live = observed.filter(|o| o.state != "PendingDeletion");
    if let (Some(obs), true) = (&live, ctx.is_apply()) {
        if obs.has_alias {
            match kms.delete_alias().alias_name(&alias).send().await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(IdentityError::from(AwsError::new(
                        "delete the alias of",
                        KIND,
                        &alias,
                        e,
                    )))
                }
            }
        }
        kms.schedule_key_deletion()
            .key_id(&obs.key_id)
            .pending_window_in_days(window_days.clamp(7, 30))
            .send()
            .await
            .map_err(AwsError::map("schedule deletion of", KIND, &alias))?;
    }
    Ok(ResourceChange {
        id: logical_id,
        kind: KIND.to_owned(),
        physical_id: Some(alias),
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

    fn fixture() -> (KeySpec, PolicyDocument, Tags, ObservedKey) {
        let spec = KeySpec::new("main", ["logs.us-east-1.amazonaws.com".to_owned()]);
        let policy = spec.policy("aws", "123456789012");
        let tags = Tags::standard("s", "prod", "o", "c", "s").with_id(&spec.logical_id());
        let obs = ObservedKey {
            key_id: "k".into(),
            arn: "arn:aws:kms:us-east-1:123456789012:key/k".into(),
            state: "Enabled".into(),
            description: spec.description.clone(),
            policy: policy.clone(),
            rotation: true,
            tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
            has_alias: true,
        };
        (spec, policy, tags, obs)
    }

    #[test]
    fn converged_key_is_a_noop_and_drift_is_named() {
        let (spec, policy, tags, mut obs) = fixture();
        assert_eq!(decide(&spec, &policy, &tags, Some(&obs)), Change::NoOp);
        obs.rotation = false;
        obs.policy = spec.policy("aws", "999999999999");
        let Change::Update { fields } = decide(&spec, &policy, &tags, Some(&obs)) else {
            panic!()
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["policy", "rotation"]);
    }

    #[test]
    fn pending_deletion_is_refused_never_recreated() {
        let (spec, policy, tags, mut obs) = fixture();
        obs.state = "PendingDeletion".into();
        assert!(matches!(
            decide(&spec, &policy, &tags, Some(&obs)),
            Change::Refused { field, .. } if field == "key_state"
        ));
    }

    proptest::proptest! {
        #[test]
        fn prop_reordered_services_converge_and_changed_tags_are_field_diffs(
            services in proptest::collection::btree_set("[a-z]{2,10}\\.amazonaws\\.com", 0..4),
            env in "[a-z]{2,8}",
        ) {
            let spec = KeySpec::new("k", services.iter().cloned());
            let policy = spec.policy("aws", "123456789012");
            let mut reversed = spec.clone();
            reversed.service_principals.reverse();
            let tags = Tags::standard("s", &env, "o", "c", "s").with_id(&spec.logical_id());
            let mut obs = ObservedKey {
                key_id: "k".into(),
                arn: "arn".into(),
                state: "Enabled".into(),
                description: spec.description.clone(),
                policy: reversed.policy("aws", "123456789012"),
                rotation: true,
                tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
                has_alias: true,
            };
            proptest::prop_assert_eq!(decide(&spec, &policy, &tags, Some(&obs)), Change::NoOp);
            obs.tags.insert("Env".into(), format!("{env}x"));
            let Change::Update { fields } = decide(&spec, &policy, &tags, Some(&obs)) else {
                return Err(proptest::test_runner::TestCaseError::fail("expected an update"));
            };
            proptest::prop_assert_eq!(fields.len(), 1);
            proptest::prop_assert_eq!(fields[0].field.as_str(), "tags.Env");
        }
    }

    #[test]
    fn policy_grants_root_and_services() {
        let (spec, policy, ..) = fixture();
        let json = policy.to_json();
        assert!(json.contains("arn:aws:iam::123456789012:root"));
        assert!(json.contains("logs.us-east-1.amazonaws.com"));
        assert_eq!(spec.logical_id(), "identity/kms/main");
    }
}
