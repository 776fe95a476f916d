//! CloudWatch Logs log groups: retention (seed 002: 14/30/90 days) and KMS encryption
//! (`CKV_AWS_158`) change in place; a group and what it holds are deleted only by destroy.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::{Context, Event, Tags};

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

/// The change for a log group. Pure.
#[must_use]
pub fn decide(spec: &LogGroupSpec, tags: &Tags, observed: Option<&ObservedLogGroup>) -> Change {
    let kms = spec.kms_key_arn.as_deref().unwrap_or("none");
    let Some(obs) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("retention_days", spec.retention_days),
                FieldDiff::set("kms_key", kms),
            ],
        };
    };
    let mut fields = Vec::new();
    if obs.retention_days != Some(spec.retention_days) {
        fields.push(FieldDiff::new(
            "retention_days",
            Some(
                obs.retention_days
                    .map_or("never".to_owned(), |d| d.to_string()),
            ),
            Some(spec.retention_days),
        ));
    }
    if obs.kms_key_arn != spec.kms_key_arn {
        fields.push(FieldDiff::new(
            "kms_key",
            Some(obs.kms_key_arn.as_deref().unwrap_or("none")),
            Some(kms),
        ));
    }
    fields.extend(tags.field_diffs(&obs.tags));
    Change::update_if_any(fields)
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

/// Reads the log group `name`, or `None` when it does not exist.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Result<Option<ObservedLogGroup>, ObservabilityError> {
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(ObservabilityError::aws("read", KIND, name))?;
    let Some(group) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
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
        .map_err(ObservabilityError::aws("read the tags of", KIND, name))?;
    Ok(Some(ObservedLogGroup {
        arn,
        retention_days: group.retention_in_days(),
        kms_key_arn: group.kms_key_id().map(str::to_owned),
        tags: tags
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
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
    let logs = client(ctx);
    let name = name_of(ctx, &spec.name);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("logs").await;
    let tags = ctx.tags_for(&spec.logical_id);
    let observed = find(&logs, &name).await?;
    if let Some(obs) = &observed {
        if !tags.marks(&obs.tags) {
            return Err(ObservabilityError::foreign(KIND, &name, &spec.logical_id));
        }
    }
    let change = decide(spec, &tags, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        let current = match observed {
            Some(obs) => obs,
            None => create(&logs, &name, spec, &tags).await?,
        };
        converge(&logs, &name, spec, &tags, &current).await?;
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(LogGroupOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
    })
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
        Err(e) => return Err(ObservabilityError::aws("create", KIND, name)(e)),
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

/// Makes the calls that bring `obs` to the spec.
async fn converge(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    spec: &LogGroupSpec,
    tags: &Tags,
    obs: &ObservedLogGroup,
) -> Result<(), ObservabilityError> {
    if obs.retention_days != Some(spec.retention_days) {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(spec.retention_days)
            .send()
            .await
            .map_err(ObservabilityError::aws("set the retention of", KIND, name))?;
    }
    if obs.kms_key_arn != spec.kms_key_arn {
        match &spec.kms_key_arn {
            Some(key) => {
                logs.associate_kms_key()
                    .log_group_name(name)
                    .kms_key_id(key)
                    .send()
                    .await
                    .map_err(ObservabilityError::aws("encrypt", KIND, name))?;
            }
            None => {
                logs.disassociate_kms_key()
                    .log_group_name(name)
                    .send()
                    .await
                    .map_err(ObservabilityError::aws("stop encrypting", KIND, name))?;
            }
        }
    }
    let diff = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !diff.set.is_empty() {
        let set = diff.to_set().to_map();
        logs.tag_resource()
            .resource_arn(&obs.arn)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(ObservabilityError::aws("tag", KIND, name))?;
    }
    if !diff.remove.is_empty() {
        logs.untag_resource()
            .resource_arn(&obs.arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .map_err(ObservabilityError::aws("untag", KIND, name))?;
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
    let logs = client(ctx);
    let name = name_of(ctx, name);
    let observed = find(&logs, &name).await?;
    let change = match &observed {
        Some(obs) if ctx.tags_for(logical_id).marks(&obs.tags) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        match logs.delete_log_group().log_group_name(&name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError::is_resource_not_found_exception) => {}
            Err(e) => return Err(ObservabilityError::aws("delete", KIND, &name)(e)),
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
