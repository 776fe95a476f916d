//! The observability layer: after identity (the KMS key that encrypts the log groups and the
//! alert topic), it runs `ironbark_observability::ensure_observability`: log groups, the alert
//! topic and its email subscriptions, metric and composite alarms, the dashboard and the saved
//! queries. Nothing in it waits on AWS, so it finishes while the database is still creating.

use ironbark_core::config::StackConfig;
use ironbark_core::Context;
use ironbark_observability::alarm::{self, CompositeAlarmSpec, MetricAlarmSpec};
use ironbark_observability::log_group::{self, LogGroupSpec};
use ironbark_observability::query::QuerySpec;
use ironbark_observability::stack::KNOWN_AFTER_APPLY;
use ironbark_observability::topic::{Subscription, TopicSpec};
use ironbark_observability::{destroy_observability, ensure_observability, ObservabilitySpec};

use crate::{Action, IdentityOutputs, Layer, LayerFuture, LayerResult, Outputs, Publisher};

/// The observability layer of a stack.
pub struct Observability {
    /// The whole stack (its `observability` section is the layer's), to resolve `${database.*}` references in alarm dimensions.
    stack: StackConfig,
}

impl Observability {
    /// The layer for `cfg`.
    pub fn new(cfg: &StackConfig) -> Self {
        Self { stack: cfg.clone() }
    }
}

/// A dimension value with its `${...}` reference (validated at load time) replaced by the
/// deterministic physical name of what it names. The names are known before anything
/// exists, so alarms do not wait for the database layer.
fn resolve(ctx: &Context, stack: &StackConfig, value: &str) -> String {
    use ironbark_database::stack::{table_logical_id, CACHE, CLUSTER, INSTANCE};
    use ironbark_database::{cache, cluster, dynamodb, instance};
    match ironbark_core::config::dimension_ref(stack, value) {
        Ok(Some(key)) => match key.as_str() {
            "database.identifier"
                if stack.database.engine == ironbark_core::config::DbEngine::AuroraPostgresql =>
            {
                cluster::identifier_of(ctx, CLUSTER)
            }
            "database.identifier" => instance::identifier_of(ctx, INSTANCE),
            "database.cache" => cache::replication_group_id_of(ctx, CACHE),
            other => other.strip_prefix("database.table.").map_or_else(
                || value.to_owned(),
                |t| dynamodb::table_name_of(ctx, &table_logical_id(t)),
            ),
        },
        _ => value.to_owned(),
    }
}

/// A composite rule over short alarm names, rewritten over physical names (quoted).
fn physical_rule(ctx: &Context, rule: &str) -> String {
    let Ok(refs) = ironbark_core::config::alarm_rule_refs(rule) else {
        // Validation rejects such rules before any layer runs.
        return rule.to_owned();
    };
    let mut out = String::new();
    let mut at = 0;
    for (start, end, name) in refs {
        // Drop any quotes around the name; they are written back around the physical one.
        let before = rule[at..start].trim_end_matches('"');
        out.push_str(before);
        out.push('"');
        out.push_str(&alarm::name_of(ctx, &name));
        out.push('"');
        at = end + usize::from(rule[end..].starts_with('"'));
    }
    out.push_str(&rule[at..]);
    out
}

/// The crate's spec from the stack file's section.
pub fn spec(ctx: &Context, stack: &StackConfig, kms: &str) -> ObservabilitySpec {
    let cfg = &stack.observability;
    let kms = Some(kms.to_owned());
    let metric = |name: &String, a: &ironbark_core::config::AlarmConfig| MetricAlarmSpec {
        logical_id: format!("observability/alarm/{name}"),
        name: name.clone(),
        description: a.description.clone(),
        namespace: a.namespace.clone(),
        metric: a.metric.clone(),
        dimensions: a
            .dimensions
            .iter()
            .map(|(k, v)| (k.clone(), resolve(ctx, stack, v)))
            .collect(),
        statistic: a.statistic.clone(),
        period_seconds: i32::try_from(a.period_seconds).unwrap_or(i32::MAX),
        evaluation_periods: i32::try_from(a.evaluation_periods).unwrap_or(i32::MAX),
        datapoints_to_alarm: i32::try_from(a.datapoints_to_alarm.unwrap_or(a.evaluation_periods))
            .unwrap_or(i32::MAX),
        threshold: a.threshold,
        comparison: a.comparison.clone(),
        treat_missing_data: a.treat_missing_data.clone(),
        actions: Vec::new(),
    };
    ObservabilitySpec {
        log_groups: cfg
            .log_groups
            .iter()
            .map(|g| LogGroupSpec {
                logical_id: format!("observability/log-group/{g}"),
                name: g.clone(),
                retention_days: i32::from(cfg.log_retention_days),
                kms_key_arn: kms.clone(),
            })
            .collect(),
        topic: Some(TopicSpec {
            logical_id: "observability/topic/alerts".into(),
            name: "alerts".into(),
            kms_key_arn: kms.clone(),
            subscriptions: cfg
                .alert_emails
                .iter()
                .map(|e| Subscription {
                    protocol: "email".into(),
                    endpoint: e.clone(),
                })
                .collect(),
        }),
        alarms: cfg.alarms.iter().map(|(n, a)| metric(n, a)).collect(),
        composite_alarms: cfg
            .composite_alarms
            .iter()
            .map(|(n, c)| CompositeAlarmSpec {
                logical_id: format!("observability/composite-alarm/{n}"),
                name: n.clone(),
                description: c.description.clone(),
                rule: physical_rule(ctx, &c.rule),
                actions: Vec::new(),
            })
            .collect(),
        dashboard: cfg
            .dashboard
            .then(|| ("observability/dashboard/main".to_owned(), "main".to_owned())),
        queries: cfg
            .queries
            .iter()
            .map(|(n, q)| {
                let mut groups: Vec<String> = q
                    .log_groups
                    .iter()
                    .map(|g| log_group::name_of(ctx, g))
                    .collect();
                groups.sort();
                QuerySpec {
                    logical_id: format!("observability/query/{n}"),
                    name: n.clone(),
                    log_groups: groups,
                    query: q.query.clone(),
                }
            })
            .collect(),
    }
}

impl Layer for Observability {
    fn name(&self) -> &'static str {
        "observability"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["identity"]
    }

    fn run(
        &self,
        ctx: Context,
        inputs: Outputs,
        action: Action,
        _publish: Publisher,
    ) -> LayerFuture {
        let stack = self.stack.clone();
        Box::pin(async move {
            let kms = inputs.of::<IdentityOutputs>().map_or_else(
                || KNOWN_AFTER_APPLY.to_owned(),
                |id| id.kms_key_arn.or_placeholder(),
            );
            let spec = spec(&ctx, &stack, &kms);
            let mut result = LayerResult::default();
            match action {
                Action::Converge => {
                    let out = ensure_observability(&ctx, &spec).await?;
                    for c in out.plan {
                        result.plan.push(c);
                    }
                    result.outputs.extend(out.outputs);
                }
                Action::Destroy { .. } => {
                    for c in destroy_observability(&ctx, &spec).await? {
                        result.plan.push(c);
                    }
                }
            }
            Ok(result)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn composite_rules_are_rewritten_over_physical_names() {
        let ctx = Context::builder("shop", "prod")
            .region("us-east-1")
            .build()
            .await;
        assert_eq!(
            physical_rule(
                &ctx,
                r#"ALARM(api-errors) OR (ALARM("api-p99") AND NOT OK(db))"#
            ),
            r#"ALARM("shop-prod-api-errors") OR (ALARM("shop-prod-api-p99") AND NOT OK("shop-prod-db"))"#
        );
    }
}
