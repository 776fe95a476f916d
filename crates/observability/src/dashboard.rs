//! A CloudWatch dashboard per stack and environment (seed 002), generated from the alarms:
//! one alarm-status widget over every alarm, then one graph per metric alarm with its
//! threshold drawn. Dashboards cannot be tagged; the name (`<stack>-<env>-<name>`) is the
//! identity.

use aws_sdk_cloudwatch::operation::get_dashboard::GetDashboardError;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::{Context, Event};
use serde_json::{json, Value};

use crate::alarm::MetricAlarmSpec;
use crate::error::ObservabilityError;

const KIND: &str = "dashboard";

/// A desired dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardSpec {
    /// Logical id (`observability/dashboard/main`).
    pub logical_id: String,
    /// Short name; the dashboard is `<stack>-<env>-<name>`.
    pub name: String,
    /// The body (CloudWatch's dashboard JSON).
    pub body: Value,
}

/// What [`ensure_dashboard`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct DashboardOutcome {
    /// The dashboard's name.
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The dashboard's name: `<stack>-<env>-<name>`.
#[must_use]
pub fn name_of(ctx: &Context, name: &str) -> String {
    ctx.physical_name(name, &NameRule::GENERIC)
}

/// The body of a dashboard over `alarms` (`(physical name, ARN, spec)`): an alarm-status
/// widget, then a graph per metric alarm with its threshold as a horizontal annotation.
/// Pure: the same alarms give the same body, so a converged dashboard is never rewritten.
#[must_use]
pub fn body_for_alarms(
    region: &str,
    title: &str,
    alarms: &[(String, String, MetricAlarmSpec)],
) -> Value {
    let mut widgets = vec![json!({
        "type": "alarm",
        "x": 0, "y": 0, "width": 24, "height": 3,
        "properties": {
            "title": title,
            "alarms": alarms.iter().map(|(_, arn, _)| arn.clone()).collect::<Vec<_>>(),
        }
    })];
    for (i, (name, _, spec)) in alarms.iter().enumerate() {
        let mut metric: Vec<Value> = vec![json!(spec.namespace), json!(spec.metric)];
        for (k, v) in &spec.dimensions {
            metric.push(json!(k));
            metric.push(json!(v));
        }
        metric.push(json!({ "stat": spec.statistic, "period": spec.period_seconds }));
        widgets.push(json!({
            "type": "metric",
            "x": (i % 2) * 12, "y": 3 + (i / 2) * 6, "width": 12, "height": 6,
            "properties": {
                "title": name,
                "region": region,
                "view": "timeSeries",
                "metrics": [metric],
                "annotations": { "horizontal": [{ "label": spec.comparison, "value": spec.threshold }] },
            }
        }));
    }
    json!({ "widgets": widgets })
}

/// The change for a dashboard. Pure: bodies are compared as JSON values, so key order and
/// whitespace in what AWS returns do not count as drift.
#[must_use]
pub fn decide(spec: &DashboardSpec, observed: Option<&Value>) -> Change {
    let widgets = |b: &Value| b["widgets"].as_array().map_or(0, Vec::len);
    match observed {
        None => Change::Create {
            fields: vec![FieldDiff::set("widgets", widgets(&spec.body))],
        },
        Some(body) if *body == spec.body => Change::NoOp,
        Some(body) => Change::Update {
            fields: vec![FieldDiff::new(
                "body",
                Some(format!("{} widgets", widgets(body))),
                Some(format!("{} widgets", widgets(&spec.body))),
            )],
        },
    }
}

/// Reads the body of the dashboard `name`, or `None` when it does not exist.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    cw: &aws_sdk_cloudwatch::Client,
    name: &str,
) -> Result<Option<Value>, ObservabilityError> {
    match cw.get_dashboard().dashboard_name(name).send().await {
        Ok(out) => Ok(out
            .dashboard_body()
            .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))),
        Err(e)
            if e.as_service_error()
                .is_some_and(GetDashboardError::is_dashboard_not_found_error) =>
        {
            Ok(None)
        }
        Err(e) => Err(ObservabilityError::aws("read", KIND, name)(e)),
    }
}

/// Creates the dashboard, or writes its body when it differs.
///
/// # Idempotency
/// Found by its deterministic name; `PutDashboard` is an upsert. A converged dashboard costs
/// one read and no write.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails (AWS validates the body).
pub async fn ensure_dashboard(
    ctx: &Context,
    spec: &DashboardSpec,
) -> Result<DashboardOutcome, ObservabilityError> {
    let cw = crate::alarm::client(ctx);
    let name = name_of(ctx, &spec.name);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("cloudwatch").await;
    let observed = find(&cw, &name).await?;
    let change = decide(spec, observed.as_ref());
    if ctx.is_apply() && change.is_change() {
        cw.put_dashboard()
            .dashboard_name(&name)
            .dashboard_body(spec.body.to_string())
            .send()
            .await
            .map_err(ObservabilityError::aws("put", KIND, &name))?;
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(DashboardOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
    })
}

/// Deletes the dashboard `name` (short name) of `logical_id`.
///
/// # Idempotency
/// An absent dashboard is a no-op.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn destroy_dashboard(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<ResourceChange, ObservabilityError> {
    let cw = crate::alarm::client(ctx);
    let name = name_of(ctx, name);
    let change = if find(&cw, &name).await?.is_some() {
        Change::Delete
    } else {
        Change::NoOp
    };
    if ctx.is_apply() && change.is_change() {
        cw.delete_dashboards()
            .dashboard_names(&name)
            .send()
            .await
            .map_err(ObservabilityError::aws("delete", KIND, &name))?;
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
    use std::collections::BTreeMap;

    fn alarm(name: &str) -> (String, String, MetricAlarmSpec) {
        let spec = MetricAlarmSpec {
            logical_id: format!("observability/alarm/{name}"),
            name: name.into(),
            description: String::new(),
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
            actions: vec![],
        };
        (
            format!("s-dev-{name}"),
            format!("arn:alarm:s-dev-{name}"),
            spec,
        )
    }

    #[test]
    fn the_body_has_a_status_widget_and_a_graph_per_alarm_and_reparsed_is_converged() {
        let body = body_for_alarms("us-east-1", "s dev", &[alarm("a"), alarm("b")]);
        let widgets = body["widgets"].as_array().unwrap();
        assert_eq!(widgets.len(), 3);
        assert_eq!(widgets[0]["properties"]["alarms"][1], "arn:alarm:s-dev-b");
        assert_eq!(
            widgets[1]["properties"]["metrics"][0],
            json!(["AWS/Lambda", "Errors", "FunctionName", "api", {"stat": "Sum", "period": 300}])
        );
        let spec = DashboardSpec {
            logical_id: "observability/dashboard/main".into(),
            name: "main".into(),
            body: body.clone(),
        };
        let reparsed: Value = serde_json::from_str(&body.to_string()).unwrap();
        assert_eq!(decide(&spec, Some(&reparsed)), Change::NoOp);
        let fewer = body_for_alarms("us-east-1", "s dev", &[alarm("a")]);
        assert!(matches!(decide(&spec, Some(&fewer)), Change::Update { .. }));
    }
}
