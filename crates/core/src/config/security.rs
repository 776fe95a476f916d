//! Security rules checked at validate time. In a production profile a violation is an error;
//! elsewhere a warning. Each rule carries the Checkov id it corresponds to.

use super::model::StackConfig;

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The Checkov id (`CKV_AWS_16`).
    pub rule: &'static str,
    /// The key path that violates it.
    pub path: &'static str,
    /// What the rule requires.
    pub message: &'static str,
}

/// Checks the rules that apply to the configured layers.
#[must_use]
pub fn check(cfg: &StackConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut rule = |violated: bool, rule, path, message| {
        if violated {
            out.push(Finding {
                rule,
                path,
                message,
            });
        }
    };
    let net = &cfg.networking;
    rule(
        net.enabled && !net.flow_logs,
        "CKV2_AWS_11",
        "networking.flow_logs",
        "every VPC must have flow logs",
    );
    // Every log group Ironbark creates (flow logs, observability's) is encrypted with the
    // stack's KMS key, which the identity layer owns.
    let obs = &cfg.observability;
    let log_groups = (net.enabled && net.flow_logs) || (obs.enabled && !obs.log_groups.is_empty());
    rule(
        log_groups && !cfg.identity.enabled,
        "CKV_AWS_158",
        "identity.enabled",
        "CloudWatch log groups must be encrypted with a KMS key: the stack's key comes from the identity layer",
    );
    let db = &cfg.database;
    if db.enabled {
        rule(
            !db.storage_encrypted,
            "CKV_AWS_16",
            "database.storage_encrypted",
            "RDS storage must be encrypted",
        );
        rule(
            db.publicly_accessible,
            "CKV_AWS_17",
            "database.publicly_accessible",
            "RDS must not be publicly accessible",
        );
        rule(
            !db.deletion_protection,
            "CKV_AWS_293",
            "database.deletion_protection",
            "RDS must have deletion protection",
        );
        rule(
            !db.multi_az,
            "CKV_AWS_157",
            "database.multi_az",
            "RDS must be Multi-AZ",
        );
        rule(
            db.backup_retention_days < 7,
            "CKV_AWS_133",
            "database.backup_retention_days",
            "RDS backups must be kept at least 7 days",
        );
        rule(
            !db.performance_insights,
            "CKV_AWS_353",
            "database.performance_insights",
            "RDS must have Performance Insights enabled",
        );
        rule(
            !db.iam_auth,
            "CKV_AWS_161",
            "database.iam_auth",
            "RDS must have IAM authentication enabled",
        );
    }
    rule(
        db.tables.values().any(|t| !t.point_in_time_recovery),
        "CKV_AWS_28",
        "database.tables.*.point_in_time_recovery",
        "DynamoDB tables must have point-in-time recovery",
    );
    rule(
        obs.enabled && !obs.alarms.is_empty() && obs.alert_emails.is_empty(),
        "IRONBARK_OBS_1",
        "observability.alert_emails",
        "alarms must notify somebody: subscribe at least one address to the alert topic",
    );
    let cognito = &cfg.identity.cognito;
    if cfg.identity.enabled && cognito.enabled {
        // Checkov has no Cognito rule; these are Ironbark's own ids.
        rule(
            !cognito.advanced_security,
            "IRONBARK_COGNITO_1",
            "identity.cognito.advanced_security",
            "Cognito user pools must enforce advanced security",
        );
        rule(
            !cognito.deletion_protection,
            "IRONBARK_COGNITO_2",
            "identity.cognito.deletion_protection",
            "Cognito user pools must have deletion protection",
        );
    }
    out
}
