//! The observability layer of a stack in one call: the alert topic and the log groups first,
//! then the metric alarms (notifying the topic), then the composite alarms over them, then
//! the dashboard and the saved queries. Everything within a step runs concurrently; nothing
//! here waits on AWS, so the layer costs a few round trips.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use ironbark_core::plan::ResourceChange;
use ironbark_core::Context;

use crate::alarm::{self, CompositeAlarmSpec, MetricAlarmSpec};
use crate::dashboard::{self, DashboardSpec};
use crate::error::ObservabilityError;
use crate::log_group::{self, LogGroupSpec};
use crate::query::{self, QuerySpec};
use crate::topic::{self, TopicSpec};

/// Shown for an ARN that exists only once applied (core's one placeholder).
pub use ironbark_core::KNOWN_AFTER_APPLY;

/// Everything the layer manages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservabilitySpec {
    /// Log groups.
    pub log_groups: Vec<LogGroupSpec>,
    /// The alert topic every alarm notifies (on ALARM and on OK).
    pub topic: Option<TopicSpec>,
    /// Metric alarms; their `actions` are set to the topic's ARN here.
    pub alarms: Vec<MetricAlarmSpec>,
    /// Composite alarms over the metric alarms; `actions` are set to the topic's ARN here.
    pub composite_alarms: Vec<CompositeAlarmSpec>,
    /// The dashboard over the metric alarms: (logical id, short name), when wanted.
    pub dashboard: Option<(String, String)>,
    /// Saved Logs Insights queries.
    pub queries: Vec<QuerySpec>,
}

/// What [`ensure_observability`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct ObservabilityOutcome {
    /// One change per resource, in dependency order.
    pub plan: Vec<ResourceChange>,
    /// `topic_arn`, `pending_confirmations`, `log_group.<name>`, `dashboard`.
    pub outputs: BTreeMap<String, String>,
}

/// Converges the whole observability layer.
///
/// # Idempotency
/// Every step is an idempotent `ensure_*`; a converged layer makes reads only.
///
/// # Errors
/// The first [`ObservabilityError`] of any step; steps after it do not start.
pub async fn ensure_observability(
    ctx: &Context,
    spec: &ObservabilitySpec,
) -> Result<ObservabilityOutcome, ObservabilityError> {
    let mut out = ObservabilityOutcome::default();
    let topic_fut = async {
        match &spec.topic {
            Some(t) => topic::ensure_topic(ctx, t).await.map(Some),
            None => Ok(None),
        }
    };
    let groups_fut = log_group::ensure_log_groups(ctx, &spec.log_groups);
    let (topic, groups) = futures::try_join!(topic_fut, groups_fut)?;
    let actions: Vec<String> = match &topic {
        Some(t) => {
            out.outputs.insert(
                "pending_confirmations".into(),
                t.pending_confirmation.to_string(),
            );
            let arn = t
                .arn
                .clone()
                .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
            out.outputs.insert("topic_arn".into(), arn.clone());
            out.plan.push(t.change.clone());
            vec![arn]
        }
        None => Vec::new(),
    };
    for (spec, g) in spec.log_groups.iter().zip(&groups) {
        out.outputs
            .insert(format!("log_group.{}", spec.name), g.name.clone());
        out.plan.push(g.change.clone());
    }

    let metric: Vec<MetricAlarmSpec> = spec
        .alarms
        .iter()
        .map(|a| MetricAlarmSpec {
            actions: actions.clone(),
            ..a.clone()
        })
        .collect();
    let alarms = try_join_all(metric.iter().map(|a| alarm::ensure_metric_alarm(ctx, a))).await?;
    out.plan.extend(alarms.iter().map(|a| a.change.clone()));

    let composite: Vec<CompositeAlarmSpec> = spec
        .composite_alarms
        .iter()
        .map(|c| CompositeAlarmSpec {
            actions: actions.clone(),
            ..c.clone()
        })
        .collect();
    let composites = try_join_all(
        composite
            .iter()
            .map(|c| alarm::ensure_composite_alarm(ctx, c)),
    )
    .await?;
    out.plan.extend(composites.iter().map(|c| c.change.clone()));

    let dashboard_fut = async {
        let Some((logical_id, name)) = &spec.dashboard else {
            return Ok(None);
        };
        let listed: Vec<_> = alarms
            .iter()
            .zip(&metric)
            .map(|(o, s)| {
                (
                    o.name.clone(),
                    o.arn
                        .clone()
                        .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned()),
                    s.clone(),
                )
            })
            .collect();
        let title = format!("{} {} alarms", ctx.stack(), ctx.env());
        let d = DashboardSpec {
            logical_id: logical_id.clone(),
            name: name.clone(),
            body: dashboard::body_for_alarms(ctx.region(), &title, &listed),
        };
        dashboard::ensure_dashboard(ctx, &d).await.map(Some)
    };
    let queries_fut = try_join_all(spec.queries.iter().map(|q| query::ensure_query(ctx, q)));
    let (dash, queries) = futures::try_join!(dashboard_fut, queries_fut)?;
    if let Some(d) = dash {
        out.outputs.insert("dashboard".into(), d.name);
        out.plan.push(d.change);
    }
    out.plan.extend(queries.into_iter().map(|q| q.change));
    Ok(out)
}

/// Deletes the layer in reverse order: dashboard and queries, composite alarms, metric
/// alarms, the topic, then the log groups (with the logs they hold).
///
/// # Idempotency
/// What is already gone is a no-op; what is tagged for something else is left alone.
///
/// # Errors
/// The first [`ObservabilityError`].
pub async fn destroy_observability(
    ctx: &Context,
    spec: &ObservabilitySpec,
) -> Result<Vec<ResourceChange>, ObservabilityError> {
    let mut plan = Vec::new();
    if let Some((logical_id, name)) = &spec.dashboard {
        plan.push(dashboard::destroy_dashboard(ctx, logical_id, name).await?);
    }
    plan.extend(
        try_join_all(
            spec.queries
                .iter()
                .map(|q| query::destroy_query(ctx, &q.logical_id, &q.name)),
        )
        .await?,
    );
    plan.extend(
        try_join_all(
            spec.composite_alarms
                .iter()
                .map(|c| alarm::destroy_alarm(ctx, &c.logical_id, &c.name)),
        )
        .await?,
    );
    plan.extend(
        try_join_all(
            spec.alarms
                .iter()
                .map(|a| alarm::destroy_alarm(ctx, &a.logical_id, &a.name)),
        )
        .await?,
    );
    if let Some(t) = &spec.topic {
        plan.push(topic::destroy_topic(ctx, &t.logical_id, &t.name).await?);
    }
    plan.extend(
        try_join_all(
            spec.log_groups
                .iter()
                .map(|g| log_group::destroy_log_group(ctx, &g.logical_id, &g.name)),
        )
        .await?,
    );
    Ok(plan)
}
