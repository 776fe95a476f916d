//! CloudWatch Logs log groups: retention (seed 002: 14/30/90 days) and KMS encryption
//! (`CKV_AWS_158`) change in place; a group and what it holds are deleted only by destroy.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Batch, Converged, Destroy, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

use crate::error::ObservabilityError;

const KIND: &str = "log group";

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: &[u16] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The desired log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupSpec {
    /// Logical id (`observability/log-group/api`).
    pub logical_id: String,
    /// Short name (`api`); the group is `/<stack>/<env>/<name>`.
    pub name: String,
    /// Retention in days, one of [`RETENTION_DAYS`].
    pub retention_days: i32,
    /// The KMS key ARN that encrypts the group, when encrypted. Its key policy must allow
    /// `logs.<region>.amazonaws.com`.
    pub kms_key_arn: Option<String>,
}

/// A log group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLogGroup {
    /// Its ARN without the `:*` suffix (the tagging ARN).
    pub arn: String,
    /// Retention in days; `None` is "never expire".
    pub retention_days: Option<i32>,
    /// The KMS key ARN, when encrypted.
    pub kms_key_arn: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_log_group`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LogGroupOutcome {
    /// The group's name.
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The name of the log group `name`: `/<stack>/<env>/<name>`.
#[must_use]
pub fn name_of(ctx: &Context, name: &str) -> String {
    format!("/{}", ctx.physical_name(name, &NameRule::LOG_GROUP))
}

/// What differs between a log group and its spec; [`LogGroupSpec::apply`] acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogGroupDiff {
    /// Retention to set: (observed, desired).
    pub retention: Option<(Option<i32>, i32)>,
    /// KMS key to associate (`Some`) or disassociate (`None`): (observed, desired).
    pub kms_key: Option<(Option<String>, Option<String>)>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering.
    tag_fields: Vec<FieldDiff>,
}

impl Diff for LogGroupDiff {
    fn is_empty(&self) -> bool {
        self.retention.is_none() && self.kms_key.is_none() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let none = || "none".to_owned();
        let mut fields = Vec::new();
        if let Some((old, new)) = &self.retention {
            fields.push(FieldDiff::new(
                "retention_days",
                Some(old.map_or("never".to_owned(), |d| d.to_string())),
                Some(new),
            ));
        }
        if let Some((old, new)) = &self.kms_key {
            fields.push(FieldDiff::new(
                "kms_key",
                Some(old.clone().unwrap_or_else(none)),
                Some(new.clone().unwrap_or_else(none)),
            ));
        }
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }
}

/// The diff for a log group. Pure. A group to create differs in retention and key (the key
/// is set by the create call, the retention right after it).
#[must_use]
pub fn diff(spec: &LogGroupSpec, tags: &Tags, observed: Option<&ObservedLogGroup>) -> LogGroupDiff {
    let Some(obs) = observed else {
        return LogGroupDiff {
            retention: Some((None, spec.retention_days)),
            kms_key: Some((None, spec.kms_key_arn.clone())),
            ..LogGroupDiff::default()
        };
    };
    LogGroupDiff {
        retention: (obs.retention_days != Some(spec.retention_days))
            .then_some((obs.retention_days, spec.retention_days)),
        kms_key: (obs.kms_key_arn != spec.kms_key_arn)
            .then(|| (obs.kms_key_arn.clone(), spec.kms_key_arn.clone())),
        tags: tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        tag_fields: tags.field_diffs(&obs.tags),
    }
}

/// The plan's change for a log group. Pure.
#[must_use]
pub fn decide(spec: &LogGroupSpec, tags: &Tags, observed: Option<&ObservedLogGroup>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}

pub(crate) fn client(ctx: &Context) -> aws_sdk_cloudwatchlogs::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_cloudwatchlogs)
}

fn tagging_arn(group: &LogGroup) -> Option<String> {
    group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
}

/// Every log group whose name starts with `prefix`, by name (one paginated read).
async fn list(
    logs: &aws_sdk_cloudwatchlogs::Client,
    prefix: &str,
) -> Result<BTreeMap<String, LogGroup>, ObservabilityError> {
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::map("read", KIND, prefix))?;
        for g in page.log_groups() {
            if let Some(name) = g.log_group_name() {
                out.insert(name.to_owned(), g.clone());
            }
        }
    }
    Ok(out)
}

/// The observation of one listed group: its tags are one more read.
async fn observed_of(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    group: &LogGroup,
) -> Result<ObservedLogGroup, ObservabilityError> {
    let arn = tagging_arn(group).ok_or_else(|| ObservabilityError::Missing {
        kind: KIND,
        name: name.to_owned(),
        what: "ARN",
    })?;
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", KIND, name))?;
    Ok(ObservedLogGroup {
        arn,
        retention_days: group.retention_in_days(),
        kms_key_arn: group.kms_key_id().map(str::to_owned),
        tags: tags
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
}

/// Reads the log group `name`, or `None` when it does not exist.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Result<Option<ObservedLogGroup>, ObservabilityError> {
    match list(logs, name).await?.get(name) {
        Some(group) => observed_of(logs, name, group).await.map(Some),
        None => Ok(None),
    }
}

impl Resource for LogGroupSpec {
    type Observed = ObservedLogGroup;
    type Diff = LogGroupDiff;
    type Output = String;
    type Error = ObservabilityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "logs";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }

    fn name(&self, ctx: &Context) -> String {
        name_of(ctx, &self.name)
    }

    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedLogGroup>, ObservabilityError> {
        find(&client(ctx), &self.name(ctx)).await
    }

    fn tags<'a>(&self, observed: &'a ObservedLogGroup) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }

    fn diff(&self, tags: &Tags, observed: Option<&ObservedLogGroup>) -> LogGroupDiff {
        diff(self, tags, observed)
    }

    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedLogGroup>,
        diff: &LogGroupDiff,
    ) -> Result<String, ObservabilityError> {
        let logs = client(ctx);
        let name = self.name(ctx);
        match observed {
            Some(obs) => write(&logs, &name, obs, diff).await?,
            None => {
                let obs = create(&logs, &name, self, tags).await?;
                // What the create call did not set (or, after a concurrent create, what differs).
                write(&logs, &name, &obs, &self::diff(self, tags, Some(&obs))).await?;
            }
        }
        Ok(name)
    }

    fn output(&self, ctx: &Context, _observed: &ObservedLogGroup) -> String {
        self.name(ctx)
    }
}

/// Every log group of the stack and env in one paginated read of the `/<stack>/<env>/`
/// prefix, then each group's tags.
impl Batch for LogGroupSpec {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<ObservedLogGroup>>, ObservabilityError> {
        let logs = client(ctx);
        let names: Vec<String> = resources.iter().map(|r| r.name(ctx)).collect();
        let prefix = common_prefix(&names);
        let listed = list(&logs, &prefix).await?;
        futures::future::try_join_all(names.iter().map(|n| async {
            match listed.get(n) {
                Some(group) => observed_of(&logs, n, group).await.map(Some),
                None => Ok(None),
            }
        }))
        .await
    }
}

impl Destroy for LogGroupSpec {
    async fn delete(
        &self,
        ctx: &Context,
        _observed: &ObservedLogGroup,
    ) -> Result<(), ObservabilityError> {
        let name = self.name(ctx);
        match client(ctx).delete_log_group().log_group_name(&name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError::is_resource_not_found_exception) => Ok(()),
            Err(e) => Err(AwsError::new("delete", KIND, &name, e).into()),
        }
    }
}

/// The longest common prefix of `names` (for one listing that covers them all).
fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut len = first.len();
    for n in &names[1..] {
        len = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, c), _)| i + c.len_utf8())
            .min(len);
    }
    first[..len].to_owned()
}

/// Creates the log group, or brings its retention, encryption and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; a converged group costs two reads and no write. A create
/// that meets `ResourceAlreadyExistsException` (a concurrent or interrupted run) reads the
/// group again and converges it. A group of that name tagged for something else is refused.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails, [`ObservabilityError::Refused`] for a
/// foreign group.
pub async fn ensure_log_group(
    ctx: &Context,
    spec: &LogGroupSpec,
) -> Result<LogGroupOutcome, ObservabilityError> {
    let c = reconcile::converge(ctx, spec).await?;
    Ok(outcome(ctx, spec, c))
}

/// [`ensure_log_group`] for several groups, with one listing for all of them.
///
/// # Idempotency
/// As [`ensure_log_group`].
///
/// # Errors
/// As [`ensure_log_group`].
pub async fn ensure_log_groups(
    ctx: &Context,
    specs: &[LogGroupSpec],
) -> Result<Vec<LogGroupOutcome>, ObservabilityError> {
    let all = reconcile::converge_all(ctx, specs).await?;
    Ok(specs
        .iter()
        .zip(all)
        .map(|(s, c)| outcome(ctx, s, c))
        .collect())
}

fn outcome(ctx: &Context, spec: &LogGroupSpec, c: Converged<String>) -> LogGroupOutcome {
    LogGroupOutcome {
        name: c.output.into_value().unwrap_or_else(|| spec.name(ctx)),
        change: c.change,
    }
}

/// Creates the group with its tags and key; returns what it now is (retention is set after).
async fn create(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    spec: &LogGroupSpec,
    tags: &Tags,
) -> Result<ObservedLogGroup, ObservabilityError> {
    match logs
        .create_log_group()
        .log_group_name(name)
        .set_kms_key_id(spec.kms_key_arn.clone())
        .set_tags(Some(tags.to_map()))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError::is_resource_already_exists_exception) => {}
        Err(e) => return Err(AwsError::new("create", KIND, name, e).into()),
    }
    let found = find(logs, name).await?;
    let obs = found.ok_or_else(|| ObservabilityError::Missing {
        kind: KIND,
        name: name.to_owned(),
        what: "log group after creating it",
    })?;
    if !tags.marks(&obs.tags) {
        return Err(ObservabilityError::foreign(KIND, name, &spec.logical_id));
    }
    Ok(obs)
}

/// Makes the calls `diff` says.
async fn write(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    obs: &ObservedLogGroup,
    diff: &LogGroupDiff,
) -> Result<(), ObservabilityError> {
    if let Some((_, days)) = diff.retention {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(AwsError::map("set the retention of", KIND, name))?;
    }
    match &diff.kms_key {
        Some((_, Some(key))) => {
            logs.associate_kms_key()
                .log_group_name(name)
                .kms_key_id(key)
                .send()
                .await
                .map_err(AwsError::map("encrypt", KIND, name))?;
        }
        Some((_, None)) => {
            logs.disassociate_kms_key()
                .log_group_name(name)
                .send()
                .await
                .map_err(AwsError::map("stop encrypting", KIND, name))?;
        }
        None => {}
    }
    if !diff.tags.set.is_empty() {
        logs.tag_resource()
            .resource_arn(&obs.arn)
            .set_tags(Some(diff.tags.to_set().to_map()))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, name))?;
    }
    if !diff.tags.remove.is_empty() {
        logs.untag_resource()
            .resource_arn(&obs.arn)
            .set_tag_keys(Some(diff.tags.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, name))?;
    }
    Ok(())
}

/// Deletes the log group `name` (short name) of `logical_id`, and the logs it holds.
///
/// # Idempotency
/// An absent group is a no-op; a group tagged for something else is left alone.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn destroy_log_group(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<ResourceChange, ObservabilityError> {
    let spec = LogGroupSpec {
        logical_id: logical_id.to_owned(),
        name: name.to_owned(),
        retention_days: 0,
        kms_key_arn: None,
    };
    reconcile::destroy(ctx, &spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LogGroupSpec {
        LogGroupSpec {
            logical_id: "observability/log-group/api".into(),
            name: "api".into(),
            retention_days: 30,
            kms_key_arn: Some("arn:aws:kms:us-east-1:1:key/k".into()),
        }
    }

    fn tags() -> Tags {
        Tags::standard("p", "dev", "o", "c", "s").with_id("observability/log-group/api")
    }

    #[test]
    fn one_listing_covers_every_group_of_the_stack() {
        let names = [
            "/s/dev/api".to_owned(),
            "/s/dev/app".to_owned(),
            "/s/dev/worker".to_owned(),
        ];
        assert_eq!(common_prefix(&names), "/s/dev/");
        assert_eq!(common_prefix(&names[..1]), "/s/dev/api");
        assert_eq!(
            common_prefix(&["/s/é1".to_owned(), "/s/é2".to_owned()]),
            "/s/é"
        );
    }

    #[test]
    fn absent_is_created_converged_is_left_alone_drift_is_named() {
        assert!(matches!(
            decide(&spec(), &tags(), None),
            Change::Create { .. }
        ));
        let obs = ObservedLogGroup {
            arn: "arn".into(),
            retention_days: Some(30),
            kms_key_arn: spec().kms_key_arn,
            tags: tags().as_map().clone(),
        };
        assert_eq!(decide(&spec(), &tags(), Some(&obs)), Change::NoOp);
        let drifted = ObservedLogGroup {
            retention_days: None,
            kms_key_arn: None,
            ..obs
        };
        let Change::Update { fields } = decide(&spec(), &tags(), Some(&drifted)) else {
            panic!("an update");
        };
        let named: Vec<_> = fields
            .iter()
            .map(|f| (f.field.as_str(), f.old.as_deref(), f.new.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                ("retention_days", Some("never"), Some("30")),
                (
                    "kms_key",
                    Some("none"),
                    Some("arn:aws:kms:us-east-1:1:key/k")
                ),
            ]
        );
    }
}
