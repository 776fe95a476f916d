//! A CloudWatch dashboard per stack and environment (seed 002), generated from the alarms:
//! one alarm-status widget over every alarm, then one graph per metric alarm with its
//! threshold drawn. Dashboards cannot be tagged; the name (`<stack>-<env>-<name>`) is the
//! identity.

use aws_sdk_cloudwatch::operation::get_dashboard::GetDashboardError;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Destroy, Resource, Status};
use ironbark_core::{Context, Tags};
use serde_json::{json, Value};
use std::collections::BTreeMap;

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

/// What differs for a dashboard: its rendered fields (the put writes the whole body). Pure:
/// bodies are compared as JSON values, so key order and whitespace in what AWS returns do
/// not count as drift.
#[must_use]
pub fn diff(spec: &DashboardSpec, observed: Option<&Value>) -> Vec<FieldDiff> {
    let widgets = |b: &Value| b["widgets"].as_array().map_or(0, Vec::len);
    match observed {
        None => vec![FieldDiff::set("widgets", widgets(&spec.body))],
        Some(body) if *body == spec.body => Vec::new(),
        Some(body) => vec![FieldDiff::new(
            "body",
            Some(format!("{} widgets", widgets(body))),
            Some(format!("{} widgets", widgets(&spec.body))),
        )],
    }
}

/// The change for a dashboard. Pure; see [`diff`].
#[must_use]
pub fn decide(spec: &DashboardSpec, observed: Option<&Value>) -> Change {
    reconcile::change_of(observed.is_some(), &diff(spec, observed), &Status::Ready)
}

/// Dashboards cannot be tagged: the name is the identity.
impl Resource for DashboardSpec {
    type Observed = Value;
    type Diff = Vec<FieldDiff>;
    type Output = String;
    type Error = ObservabilityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "cloudwatch";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }
    fn name(&self, ctx: &Context) -> String {
        name_of(ctx, &self.name)
    }
    async fn observe(&self, ctx: &Context) -> Result<Option<Value>, ObservabilityError> {
        find(&crate::alarm::client(ctx), &self.name(ctx)).await
    }
    fn tags<'a>(&self, _observed: &'a Value) -> Option<&'a BTreeMap<String, String>> {
        None
    }
    fn diff(&self, _tags: &Tags, observed: Option<&Value>) -> Vec<FieldDiff> {
        diff(self, observed)
    }
    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        _observed: Option<&Value>,
        _diff: &Vec<FieldDiff>,
    ) -> Result<String, ObservabilityError> {
        let name = self.name(ctx);
        crate::alarm::client(ctx)
            .put_dashboard()
            .dashboard_name(&name)
            .dashboard_body(self.body.to_string())
            .send()
            .await
            .map_err(AwsError::map("put", KIND, &name))?;
        Ok(name)
    }
    fn output(&self, ctx: &Context, _observed: &Value) -> String {
        self.name(ctx)
    }
}

impl Destroy for DashboardSpec {
    async fn delete(&self, ctx: &Context, _observed: &Value) -> Result<(), ObservabilityError> {
        let name = self.name(ctx);
        crate::alarm::client(ctx)
            .delete_dashboards()
            .dashboard_names(&name)
            .send()
            .await
            .map_err(AwsError::map("delete", KIND, &name))?;
        Ok(())
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
        Err(e) => Err(AwsError::new("read", KIND, name, e).into()),
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
    let c = reconcile::converge(ctx, spec).await?;
    Ok(DashboardOutcome {
        name: spec.name(ctx),
        change: c.change,
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
    let spec = DashboardSpec {
        logical_id: logical_id.to_owned(),
        name: name.to_owned(),
        body: Value::Null,
    };
    reconcile::destroy(ctx, &spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
