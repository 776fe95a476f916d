//! CloudWatch metric alarms and composite alarms (seed 002), notifying the alert topic.
//! `PutMetricAlarm` and `PutCompositeAlarm` replace an alarm's whole definition, so every
//! setting changes in place; tags, which those calls ignore on update, go through
//! `TagResource`/`UntagResource`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag,
};
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Converged, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

use crate::error::ObservabilityError;

const METRIC: &str = "metric alarm";
const COMPOSITE: &str = "composite alarm";

/// The comparison operators a metric alarm accepts.
pub const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
/// The statistics a metric alarm accepts.
pub const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
/// How an alarm treats missing data points.
pub const MISSING_DATA: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

/// A desired metric alarm on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricAlarmSpec {
    /// Logical id (`observability/alarm/api-errors`).
    pub logical_id: String,
    /// Short name (`api-errors`); the alarm is `<stack>-<env>-<name>`.
    pub name: String,
    /// What the alarm means, for whoever is paged.
    pub description: String,
    /// The metric's namespace (`AWS/Lambda`).
    pub namespace: String,
    /// The metric (`Errors`).
    pub metric: String,
    /// Its dimensions (`FunctionName = api`).
    pub dimensions: BTreeMap<String, String>,
    /// One of [`STATISTICS`].
    pub statistic: String,
    /// The period in seconds (10, 30 or a multiple of 60).
    pub period_seconds: i32,
    /// How many periods are evaluated.
    pub evaluation_periods: i32,
    /// How many of them must breach.
    pub datapoints_to_alarm: i32,
    /// The threshold.
    pub threshold: f64,
    /// One of [`COMPARISONS`].
    pub comparison: String,
    /// One of [`MISSING_DATA`].
    pub treat_missing_data: String,
    /// ARNs notified on ALARM and on OK (the alert topic).
    pub actions: Vec<String>,
}

/// A desired composite alarm: a rule over other alarms (`ALARM("<alarm name>") OR ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositeAlarmSpec {
    /// Logical id (`observability/composite-alarm/api-down`).
    pub logical_id: String,
    /// Short name; the alarm is `<stack>-<env>-<name>`.
    pub name: String,
    /// What the alarm means.
    pub description: String,
    /// The rule, over physical alarm names.
    pub rule: String,
    /// ARNs notified on ALARM and on OK.
    pub actions: Vec<String>,
}

/// An alarm as found: its settings as plan strings, its ARN and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAlarm {
    /// Its ARN.
    pub arn: String,
    /// Each setting, rendered as the plan shows it.
    pub settings: BTreeMap<&'static str, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_metric_alarm`] or [`ensure_composite_alarm`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AlarmOutcome {
    /// The alarm's name.
    pub name: String,
    /// Its ARN once it exists.
    pub arn: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

/// The alarm's name: `<stack>-<env>-<name>`.
#[must_use]
pub fn name_of(ctx: &Context, name: &str) -> String {
    ctx.physical_name(name, &NameRule::GENERIC)
}

fn actions(list: &[String]) -> String {
    let mut v = list.to_vec();
    v.sort();
    v.join(",")
}

/// An observed alarm's ALARM and OK actions as one setting: Ironbark puts the same list in
/// both, so a target in either counts.
fn observed_actions(alarm: &[String], ok: &[String]) -> String {
    let mut v: Vec<String> = alarm.iter().chain(ok).cloned().collect();
    v.sort();
    v.dedup();
    v.join(",")
}

/// The settings of a metric alarm spec, as the plan shows them.
#[must_use]
pub fn metric_settings(spec: &MetricAlarmSpec) -> BTreeMap<&'static str, String> {
    let dims: Vec<String> = spec
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    BTreeMap::from([
        ("description", spec.description.clone()),
        ("namespace", spec.namespace.clone()),
        ("metric", spec.metric.clone()),
        ("dimensions", dims.join(",")),
        ("statistic", spec.statistic.clone()),
        ("period_seconds", spec.period_seconds.to_string()),
        ("evaluation_periods", spec.evaluation_periods.to_string()),
        ("datapoints_to_alarm", spec.datapoints_to_alarm.to_string()),
        ("threshold", spec.threshold.to_string()),
        ("comparison", spec.comparison.clone()),
        ("treat_missing_data", spec.treat_missing_data.clone()),
        ("actions", actions(&spec.actions)),
    ])
}

/// The settings of a composite alarm spec, as the plan shows them.
#[must_use]
pub fn composite_settings(spec: &CompositeAlarmSpec) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("description", spec.description.clone()),
        ("rule", spec.rule.clone()),
        ("actions", actions(&spec.actions)),
    ])
}

fn observed_metric(a: &MetricAlarm) -> BTreeMap<&'static str, String> {
    let mut dims: Vec<String> = a
        .dimensions()
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d.name().unwrap_or_default(),
                d.value().unwrap_or_default()
            )
        })
        .collect();
    dims.sort();
    BTreeMap::from([
        (
            "description",
            a.alarm_description().unwrap_or_default().to_owned(),
        ),
        ("namespace", a.namespace().unwrap_or_default().to_owned()),
        ("metric", a.metric_name().unwrap_or_default().to_owned()),
        ("dimensions", dims.join(",")),
        (
            "statistic",
            a.statistic()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("period_seconds", a.period().unwrap_or_default().to_string()),
        (
            "evaluation_periods",
            a.evaluation_periods().unwrap_or_default().to_string(),
        ),
        (
            "datapoints_to_alarm",
            // AWS omits it when it equals the evaluation periods.
            a.datapoints_to_alarm()
                .or(a.evaluation_periods())
                .unwrap_or_default()
                .to_string(),
        ),
        ("threshold", a.threshold().unwrap_or_default().to_string()),
        (
            "comparison",
            a.comparison_operator()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
        ),
        (
            "treat_missing_data",
            a.treat_missing_data().unwrap_or("missing").to_owned(),
        ),
        (
            "actions",
            observed_actions(a.alarm_actions(), a.ok_actions()),
        ),
    ])
}

/// What differs for an alarm. The puts are upserts of the whole definition, so any setting
/// that differs means one put; tags, which the puts ignore on update, are set and removed
/// one by one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmDiff {
    /// The alarm does not exist.
    pub create: bool,
    /// The settings that differ (all of them for a create), as the plan shows them.
    pub settings: Vec<FieldDiff>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    tag_fields: Vec<FieldDiff>,
}

impl Diff for AlarmDiff {
    fn is_empty(&self) -> bool {
        !self.create && self.settings.is_empty() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        self.settings
            .iter()
            .chain(&self.tag_fields)
            .cloned()
            .collect()
    }
}

/// The diff for an alarm, from its desired and observed settings. Pure.
#[must_use]
pub fn diff(
    desired: &BTreeMap<&'static str, String>,
    tags: &Tags,
    observed: Option<&ObservedAlarm>,
) -> AlarmDiff {
    let Some(obs) = observed else {
        return AlarmDiff {
            create: true,
            settings: desired
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| FieldDiff::set(*k, v))
                .collect(),
            ..AlarmDiff::default()
        };
    };
    AlarmDiff {
        create: false,
        settings: desired
            .iter()
            .filter(|(k, v)| obs.settings.get(*k) != Some(*v))
            .map(|(k, v)| FieldDiff::new(*k, obs.settings.get(k), Some(v)))
            .collect(),
        tags: tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        tag_fields: tags.field_diffs(&obs.tags),
    }
}

/// The change for an alarm, from its desired and observed settings. Pure.
#[must_use]
pub fn decide(
    desired: &BTreeMap<&'static str, String>,
    tags: &Tags,
    observed: Option<&ObservedAlarm>,
) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(desired, tags, observed),
        &Status::Ready,
    )
}

pub(crate) fn client(ctx: &Context) -> aws_sdk_cloudwatch::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_cloudwatch)
}

fn cw_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
}

/// Reads the alarm `name` of either type, or `None` when it does not exist.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    cw: &aws_sdk_cloudwatch::Client,
    name: &str,
) -> Result<Option<ObservedAlarm>, ObservabilityError> {
    let out = cw
        .describe_alarms()
        .alarm_names(name)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .map_err(AwsError::map("read", METRIC, name))?;
    let found = if let Some(a) = out.metric_alarms().first() {
        Some((a.alarm_arn(), observed_metric(a)))
    } else {
        out.composite_alarms().first().map(|c| {
            (
                c.alarm_arn(),
                BTreeMap::from([
                    (
                        "description",
                        c.alarm_description().unwrap_or_default().to_owned(),
                    ),
                    ("rule", c.alarm_rule().unwrap_or_default().to_owned()),
                    (
                        "actions",
                        observed_actions(c.alarm_actions(), c.ok_actions()),
                    ),
                ]),
            )
        })
    };
    let Some((arn, settings)) = found else {
        return Ok(None);
    };
    let arn = arn
        .ok_or_else(|| ObservabilityError::Missing {
            kind: METRIC,
            name: name.to_owned(),
            what: "alarm ARN",
        })?
        .to_owned();
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", METRIC, name))?;
    Ok(Some(ObservedAlarm {
        arn,
        settings,
        tags: tags
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
    }))
}

/// Acts on an alarm's diff: `put` (the whole definition) when a setting differs, then the
/// tags. Returns the alarm's ARN.
async fn apply_alarm(
    ctx: &Context,
    kind: &'static str,
    name: &str,
    tags: &Tags,
    observed: Option<&ObservedAlarm>,
    diff: &AlarmDiff,
    put: impl std::future::Future<Output = Result<(), ObservabilityError>>,
) -> Result<String, ObservabilityError> {
    let cw = client(ctx);
    if diff.create || !diff.settings.is_empty() {
        put.await?;
    }
    let (arn, tag_diff) = match observed {
        Some(o) => (o.arn.clone(), diff.tags.clone()),
        None => {
            // Created with its tags; a concurrent run's alarm may carry others.
            let current = find(&cw, name)
                .await?
                .ok_or_else(|| ObservabilityError::Missing {
                    kind,
                    name: name.to_owned(),
                    what: "alarm after putting it",
                })?;
            let tag_diff = tags.diff(current.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            (current.arn, tag_diff)
        }
    };
    if !tag_diff.set.is_empty() {
        cw.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(cw_tags(&tag_diff.to_set())))
            .send()
            .await
            .map_err(AwsError::map("tag", kind, name))?;
    }
    if !tag_diff.remove.is_empty() {
        cw.untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(tag_diff.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", kind, name))?;
    }
    Ok(arn)
}

fn outcome(name: String, c: Converged<String>) -> AlarmOutcome {
    AlarmOutcome {
        name,
        arn: c.output.into_value(),
        change: c.change,
    }
}

async fn put_metric(
    ctx: &Context,
    s: &MetricAlarmSpec,
    name: &str,
    tags: &Tags,
) -> Result<(), ObservabilityError> {
    client(ctx)
        .put_metric_alarm()
        .alarm_name(name)
        .alarm_description(&s.description)
        .namespace(&s.namespace)
        .metric_name(&s.metric)
        .set_dimensions(Some(
            s.dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
        ))
        .statistic(Statistic::from(s.statistic.as_str()))
        .period(s.period_seconds)
        .evaluation_periods(s.evaluation_periods)
        .datapoints_to_alarm(s.datapoints_to_alarm)
        .threshold(s.threshold)
        .comparison_operator(ComparisonOperator::from(s.comparison.as_str()))
        .treat_missing_data(&s.treat_missing_data)
        .actions_enabled(true)
        .set_alarm_actions(Some(s.actions.clone()))
        .set_ok_actions(Some(s.actions.clone()))
        .set_tags(Some(cw_tags(tags)))
        .send()
        .await
        .map_err(AwsError::map("put", METRIC, name))?;
    Ok(())
}

async fn put_composite(
    ctx: &Context,
    s: &CompositeAlarmSpec,
    name: &str,
    tags: &Tags,
) -> Result<(), ObservabilityError> {
    client(ctx)
        .put_composite_alarm()
        .alarm_name(name)
        .alarm_description(&s.description)
        .alarm_rule(&s.rule)
        .actions_enabled(true)
        .set_alarm_actions(Some(s.actions.clone()))
        .set_ok_actions(Some(s.actions.clone()))
        .set_tags(Some(cw_tags(tags)))
        .send()
        .await
        .map_err(AwsError::map("put", COMPOSITE, name))?;
    Ok(())
}

/// Both alarm kinds are one reconciler: found by name, diffed over their settings, written
/// by their put (an upsert of the whole definition); they differ in kind, settings and put.
macro_rules! alarm_resource {
    ($spec:ty, $kind:expr, $settings:path, $put:path) => {
        impl Resource for $spec {
            type Observed = ObservedAlarm;
            type Diff = AlarmDiff;
            type Output = String;
            type Error = ObservabilityError;
            const KIND: &'static str = $kind;
            const SERVICE: &'static str = "cloudwatch";

            fn logical_id(&self) -> &str {
                &self.logical_id
            }
            fn name(&self, ctx: &Context) -> String {
                name_of(ctx, &self.name)
            }
            async fn observe(
                &self,
                ctx: &Context,
            ) -> Result<Option<ObservedAlarm>, ObservabilityError> {
                find(&client(ctx), &self.name(ctx)).await
            }
            fn tags<'a>(
                &self,
                observed: &'a ObservedAlarm,
            ) -> Option<&'a BTreeMap<String, String>> {
                Some(&observed.tags)
            }
            fn diff(&self, tags: &Tags, observed: Option<&ObservedAlarm>) -> AlarmDiff {
                diff(&$settings(self), tags, observed)
            }
            async fn apply(
                &self,
                ctx: &Context,
                tags: &Tags,
                observed: Option<&ObservedAlarm>,
                diff: &AlarmDiff,
            ) -> Result<String, ObservabilityError> {
                let name = self.name(ctx);
                let put = $put(ctx, self, &name, tags);
                apply_alarm(ctx, $kind, &name, tags, observed, diff, put).await
            }
            fn output(&self, _ctx: &Context, observed: &ObservedAlarm) -> String {
                observed.arn.clone()
            }
        }
    };
}

alarm_resource!(MetricAlarmSpec, METRIC, metric_settings, put_metric);
alarm_resource!(
    CompositeAlarmSpec,
    COMPOSITE,
    composite_settings,
    put_composite
);

/// Creates the metric alarm, or brings its definition and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; `PutMetricAlarm` is an upsert, so a create interrupted
/// at any point is completed by the next run. A converged alarm costs two reads and no write.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails, [`ObservabilityError::Refused`] for an
/// alarm of that name tagged for something else.
pub async fn ensure_metric_alarm(
    ctx: &Context,
    spec: &MetricAlarmSpec,
) -> Result<AlarmOutcome, ObservabilityError> {
    let c = reconcile::converge(ctx, spec).await?;
    Ok(outcome(spec.name(ctx), c))
}

/// Creates the composite alarm, or brings its rule, actions and tags to the spec. The alarms
/// its rule names must exist first.
///
/// # Idempotency
/// As [`ensure_metric_alarm`]: `PutCompositeAlarm` is an upsert.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails, [`ObservabilityError::Refused`] for an
/// alarm of that name tagged for something else.
pub async fn ensure_composite_alarm(
    ctx: &Context,
    spec: &CompositeAlarmSpec,
) -> Result<AlarmOutcome, ObservabilityError> {
    let c = reconcile::converge(ctx, spec).await?;
    Ok(outcome(spec.name(ctx), c))
}

/// Deletes the alarm `name` (short name) of `logical_id`. Delete composite alarms before the
/// alarms their rules name.
///
/// # Idempotency
/// An absent alarm is a no-op (`DeleteAlarms` of an absent name succeeds too); an alarm
/// tagged for something else is left alone.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn destroy_alarm(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<ResourceChange, ObservabilityError> {
    let cw = client(ctx);
    let name = name_of(ctx, name);
    let observed = find(&cw, &name).await?;
    let kind = match &observed {
        Some(o) if o.settings.contains_key("rule") => COMPOSITE,
        _ => METRIC,
    };
    let change = match &observed {
        Some(obs) if ctx.tags_for(logical_id).marks(&obs.tags) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        cw.delete_alarms()
            .alarm_names(&name)
            .send()
            .await
            .map_err(AwsError::map("delete", kind, &name))?;
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: kind.to_owned(),
        physical_id: Some(name),
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn errors_alarm() -> MetricAlarmSpec {
        MetricAlarmSpec {
            logical_id: "observability/alarm/api-errors".into(),
            name: "api-errors".into(),
            description: "API errors".into(),
            namespace: "AWS/Lambda".into(),
            metric: "Errors".into(),
            dimensions: BTreeMap::from([("FunctionName".into(), "api".into())]),
            statistic: "Sum".into(),
            period_seconds: 300,
            evaluation_periods: 2,
            datapoints_to_alarm: 2,
            threshold: 5.0,
            comparison: "GreaterThanThreshold".into(),
            treat_missing_data: "notBreaching".into(),
            actions: vec!["arn:aws:sns:us-east-1:1:alerts".into()],
        }
    }

    #[test]
    fn a_changed_threshold_is_the_only_field_planned() {
        let spec = errors_alarm();
        let tags = Tags::standard("p", "dev", "o", "c", "s").with_id(&spec.logical_id);
        let desired = metric_settings(&spec);
        assert!(matches!(
            decide(&desired, &tags, None),
            Change::Create { .. }
        ));
        let mut obs = ObservedAlarm {
            arn: "arn".into(),
            settings: desired.clone(),
            tags: tags.as_map().clone(),
        };
        assert_eq!(decide(&desired, &tags, Some(&obs)), Change::NoOp);
        obs.settings.insert("threshold", "10".into());
        let Change::Update { fields } = decide(&desired, &tags, Some(&obs)) else {
            panic!("an update");
        };
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "threshold");
        assert_eq!(fields[0].old.as_deref(), Some("10"));
        assert_eq!(fields[0].new.as_deref(), Some("5"));
    }
}
