//! The observability layer end to end against the emulator.

use std::collections::BTreeMap;

use ironbark_core::{Change, Mode};
use ironbark_observability::alarm::{CompositeAlarmSpec, MetricAlarmSpec};
use ironbark_observability::log_group::LogGroupSpec;
use ironbark_observability::query::QuerySpec;
use ironbark_observability::topic::{Subscription, TopicSpec};
use ironbark_observability::{
    alarm, dashboard, destroy_observability, ensure_observability, log_group, query, topic,
    ObservabilityError, ObservabilitySpec,
};

use crate::Harness;

fn email(a: &str) -> Subscription {
    Subscription {
        protocol: "email".into(),
        endpoint: a.into(),
    }
}

fn metric_alarm(name: &str, metric: &str, threshold: f64) -> MetricAlarmSpec {
    MetricAlarmSpec {
        logical_id: format!("observability/alarm/{name}"),
        name: name.into(),
        description: format!("{metric} of the api function"),
        namespace: "AWS/Lambda".into(),
        metric: metric.into(),
        dimensions: BTreeMap::from([("FunctionName".into(), "api".into())]),
        statistic: "Sum".into(),
        period_seconds: 300,
        evaluation_periods: 2,
        datapoints_to_alarm: 2,
        threshold,
        comparison: "GreaterThanThreshold".into(),
        treat_missing_data: "notBreaching".into(),
        actions: Vec::new(),
    }
}

fn spec(h: &Harness, kms: &str) -> ObservabilitySpec {
    let api = log_group::name_of(&h.ctx, "api");
    ObservabilitySpec {
        log_groups: vec![
            LogGroupSpec {
                logical_id: "observability/log-group/api".into(),
                name: "api".into(),
                retention_days: 14,
                kms_key_arn: Some(kms.into()),
            },
            LogGroupSpec {
                logical_id: "observability/log-group/worker".into(),
                name: "worker".into(),
                retention_days: 14,
                kms_key_arn: Some(kms.into()),
            },
        ],
        topic: Some(TopicSpec {
            logical_id: "observability/topic/alerts".into(),
            name: "alerts".into(),
            kms_key_arn: Some(kms.into()),
            subscriptions: vec![email("oncall@example.com"), email("lead@example.com")],
        }),
        alarms: vec![
            metric_alarm("api-errors", "Errors", 5.0),
            metric_alarm("api-throttles", "Throttles", 1.0),
        ],
        composite_alarms: vec![CompositeAlarmSpec {
            logical_id: "observability/composite-alarm/api-down".into(),
            name: "api-down".into(),
            description: "the API fails".into(),
            rule: format!(
                "ALARM(\"{}\") OR ALARM(\"{}\")",
                alarm::name_of(&h.ctx, "api-errors"),
                alarm::name_of(&h.ctx, "api-throttles")
            ),
            actions: Vec::new(),
        }],
        dashboard: Some(("observability/dashboard/main".into(), "main".into())),
        queries: vec![QuerySpec {
            logical_id: "observability/query/errors".into(),
            name: "errors".into(),
            log_groups: vec![api],
            query: "fields @timestamp, @message | filter @message like /ERROR/ | limit 50".into(),
        }],
    }
}

async fn kms_key(h: &Harness) -> String {
    let kms = aws_sdk_kms::Client::new(&h.sdk_config().await);
    kms.create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

fn changes(plan: &[ironbark_core::ResourceChange]) -> Vec<(String, char)> {
    plan.iter()
        .map(|c| (c.id.clone(), c.change.symbol()))
        .collect()
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn observability_create_read_back_rerun_drift_update_destroy() {
    let h = Harness::new("obs_lifecycle").await;
    let key = kms_key(&h).await;
    let spec = spec(&h, &key);
    let conf = h.sdk_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let sns = aws_sdk_sns::Client::new(&conf);

    // Plan mode on an empty account: everything is a create, nothing is written.
    h.ctx.set_mode(Mode::Plan);
    let before = h.requests();
    let planned = ensure_observability(&h.ctx, &spec).await.unwrap();
    assert_eq!(h.writes_since(&before), Vec::<String>::new());
    assert_eq!(planned.plan.len(), 8, "{:?}", changes(&planned.plan));
    assert!(planned.plan.iter().all(|c| c.change.symbol() == '+'));
    h.ctx.set_mode(Mode::Apply);

    // Create, then read everything back through the SDK.
    let out = ensure_observability(&h.ctx, &spec).await.unwrap();
    assert!(
        out.plan.iter().all(|c| c.change.symbol() == '+'),
        "{:?}",
        changes(&out.plan)
    );
    let topic_arn = out.outputs["topic_arn"].clone();
    assert!(topic_arn.starts_with("arn:aws:sns:"), "{topic_arn}");
    let api = log_group::name_of(&h.ctx, "api");
    assert_eq!(out.outputs["log_group.api"], api);
    let group = log_group::find(&logs, &api).await.unwrap().unwrap();
    assert_eq!(group.retention_days, Some(14));
    assert_eq!(group.kms_key_arn.as_deref(), Some(key.as_str()));
    assert_eq!(
        group.tags.get("ironbark:id").map(String::as_str),
        Some("observability/log-group/api")
    );
    let t = topic::find(&sns, &topic::name_of(&h.ctx, "alerts"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.arn, topic_arn);
    assert_eq!(t.kms_key_arn.as_deref(), Some(key.as_str()));
    let mut subs: Vec<_> = t
        .subscriptions
        .iter()
        .map(|s| s.subscription.endpoint.clone())
        .collect();
    subs.sort();
    assert_eq!(subs, ["lead@example.com", "oncall@example.com"]);
    let errors = alarm::find(&cw, &alarm::name_of(&h.ctx, "api-errors"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(errors.settings["threshold"], "5");
    assert_eq!(errors.settings["dimensions"], "FunctionName=api");
    assert_eq!(
        errors.settings["actions"], topic_arn,
        "alarms notify the topic"
    );
    assert_eq!(errors.tags.get("Env").map(String::as_str), Some("dev"));
    let down = alarm::find(&cw, &alarm::name_of(&h.ctx, "api-down"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(down.settings["rule"], spec.composite_alarms[0].rule);
    assert_eq!(down.settings["actions"], topic_arn);
    let board = dashboard::find(&cw, &dashboard::name_of(&h.ctx, "main"))
        .await
        .unwrap()
        .unwrap();
    let widgets = board["widgets"].as_array().unwrap();
    assert_eq!(widgets.len(), 3, "a status widget and one graph per alarm");
    assert_eq!(widgets[0]["properties"]["alarms"][0], errors.arn);
    let q = query::find(&logs, &query::name_of(&h.ctx, "errors"))
        .await
        .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].query, spec.queries[0].query);
    assert_eq!(q[0].log_groups, std::slice::from_ref(&api));

    // A re-run is converged and writes nothing.
    let before = h.requests();
    let again = ensure_observability(&h.ctx, &spec).await.unwrap();
    assert!(
        again.plan.iter().all(|c| c.change == Change::NoOp),
        "{:?}",
        changes(&again.plan)
    );
    assert_eq!(h.writes_since(&before), Vec::<String>::new());

    // Drift out of band: retention, a threshold, a subscription removed, the dashboard
    // rewritten, a duplicate saved query. The re-run plans exactly those and repairs them.
    logs.put_retention_policy()
        .log_group_name(&api)
        .retention_in_days(1)
        .send()
        .await
        .unwrap();
    let s = &spec.alarms[0];
    cw.put_metric_alarm()
        .alarm_name(alarm::name_of(&h.ctx, "api-errors"))
        .alarm_description(&s.description)
        .namespace(&s.namespace)
        .metric_name(&s.metric)
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("FunctionName")
                .value("api")
                .build(),
        )
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(2)
        .datapoints_to_alarm(2)
        .threshold(50.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions(&topic_arn)
        .ok_actions(&topic_arn)
        .send()
        .await
        .unwrap();
    let lead = t
        .subscriptions
        .iter()
        .find(|s| s.subscription.endpoint == "lead@example.com")
        .unwrap();
    sns.unsubscribe()
        .subscription_arn(lead.arn.clone().unwrap())
        .send()
        .await
        .unwrap();
    cw.put_dashboard()
        .dashboard_name(dashboard::name_of(&h.ctx, "main"))
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();
    logs.put_query_definition()
        .name(query::name_of(&h.ctx, "errors"))
        .query_string(&spec.queries[0].query)
        .log_group_names(&api)
        .send()
        .await
        .unwrap();
    let before = h.requests();
    let repaired = ensure_observability(&h.ctx, &spec).await.unwrap();
    let mut drifted: Vec<String> = repaired
        .plan
        .iter()
        .filter_map(|c| match &c.change {
            Change::Update { fields } => Some(
                fields
                    .iter()
                    .map(|f| format!("{} {}", c.id, f.field))
                    .collect::<Vec<_>>(),
            ),
            Change::NoOp => None,
            other => panic!("{}: {other:?}", c.id),
        })
        .flatten()
        .collect();
    drifted.sort();
    assert_eq!(
        drifted,
        [
            "observability/alarm/api-errors threshold",
            "observability/dashboard/main body",
            "observability/log-group/api retention_days",
            "observability/query/errors copies",
            "observability/topic/alerts subscription.email:lead@example.com",
        ]
    );
    let mut writes = h.writes_since(&before);
    writes.sort();
    assert_eq!(
        writes,
        [
            "logs:DeleteQueryDefinition",
            "logs:PutRetentionPolicy",
            "monitoring:PutDashboard",
            "monitoring:PutMetricAlarm",
            "sns:Subscribe",
        ]
    );
    let converged = ensure_observability(&h.ctx, &spec).await.unwrap();
    assert!(
        converged.plan.iter().all(|c| c.change == Change::NoOp),
        "{:?}",
        changes(&converged.plan)
    );

    // In-place updates from the spec: a subscription dropped, a threshold and a query changed.
    let mut next = spec.clone();
    next.topic.as_mut().unwrap().subscriptions.pop();
    next.alarms[1].threshold = 3.0;
    next.queries[0].query = "fields @timestamp | limit 10".into();
    next.log_groups[1].retention_days = 30;
    let updated = ensure_observability(&h.ctx, &next).await.unwrap();
    let updated_ids: Vec<_> = updated
        .plan
        .iter()
        .filter(|c| c.change.symbol() == '~')
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        updated_ids,
        [
            "observability/topic/alerts",
            "observability/log-group/worker",
            "observability/alarm/api-throttles",
            // The dashboard draws the threshold.
            "observability/dashboard/main",
            "observability/query/errors",
        ]
    );
    let t = topic::find(&sns, &topic::name_of(&h.ctx, "alerts"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.subscriptions.len(), 1);
    assert_eq!(
        t.subscriptions[0].subscription.endpoint,
        "oncall@example.com"
    );
    let q = query::find(&logs, &query::name_of(&h.ctx, "errors"))
        .await
        .unwrap();
    assert_eq!(q[0].query, "fields @timestamp | limit 10");

    // Destroy removes everything; a second destroy has nothing to do.
    let destroyed = destroy_observability(&h.ctx, &next).await.unwrap();
    assert!(
        destroyed.iter().all(|c| c.change == Change::Delete),
        "{:?}",
        changes(&destroyed)
    );
    assert!(log_group::find(&logs, &api).await.unwrap().is_none());
    assert!(topic::find(&sns, &topic::name_of(&h.ctx, "alerts"))
        .await
        .unwrap()
        .is_none());
    assert!(alarm::find(&cw, &alarm::name_of(&h.ctx, "api-down"))
        .await
        .unwrap()
        .is_none());
    assert!(alarm::find(&cw, &alarm::name_of(&h.ctx, "api-errors"))
        .await
        .unwrap()
        .is_none());
    assert!(dashboard::find(&cw, &dashboard::name_of(&h.ctx, "main"))
        .await
        .unwrap()
        .is_none());
    assert!(query::find(&logs, &query::name_of(&h.ctx, "errors"))
        .await
        .unwrap()
        .is_empty());
    let again = destroy_observability(&h.ctx, &next).await.unwrap();
    assert!(
        again.iter().all(|c| c.change == Change::NoOp),
        "{:?}",
        changes(&again)
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_foreign_log_group_of_our_name_is_refused_and_left_alone() {
    let h = Harness::new("obs_foreign").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&h.sdk_config().await);
    let name = log_group::name_of(&h.ctx, "api");
    logs.create_log_group()
        .log_group_name(&name)
        .send()
        .await
        .unwrap();
    let spec = LogGroupSpec {
        logical_id: "observability/log-group/api".into(),
        name: "api".into(),
        retention_days: 14,
        kms_key_arn: None,
    };
    let before = h.requests();
    let err = log_group::ensure_log_group(&h.ctx, &spec)
        .await
        .unwrap_err();
    assert!(matches!(err, ObservabilityError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains(&name), "{err}");
    assert_eq!(h.writes_since(&before), Vec::<String>::new());
    let destroyed = log_group::destroy_log_group(&h.ctx, &spec.logical_id, "api")
        .await
        .unwrap();
    assert_eq!(
        destroyed.change,
        Change::NoOp,
        "another's group is not deleted"
    );
    assert!(log_group::find(&logs, &name).await.unwrap().is_some());
}
