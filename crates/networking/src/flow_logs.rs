//! VPC flow logs to a CloudWatch Logs group (`CKV2_AWS_11`), delivered with a role the identity
//! layer creates (this crate never creates IAM roles; see [`DELIVERY_POLICY`]).

use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::AwsError;
use ironbark_core::Context;

use crate::ec2::{self, Outcome, KNOWN_AFTER_APPLY};
use crate::error::NetworkingError;

/// The logical id of the VPC's flow log.
pub const LOGICAL_ID: &str = "networking/flow-log";
/// The logical id of its log group.
pub const LOG_GROUP_ID: &str = "networking/flow-log/log-group";

/// The permissions the delivery role needs (what AWS documents for flow logs publishing to
/// CloudWatch Logs), for the identity layer to grant. Its trust principal is
/// `vpc-flow-logs.amazonaws.com`.
pub const DELIVERY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents","logs:DescribeLogGroups","logs:DescribeLogStreams"],"Resource":"*"}]}"#;

/// The log group's name: `/<stack>/<env>/vpc-flow-logs`.
#[must_use]
pub fn log_group_name(ctx: &Context) -> String {
    format!(
        "/{}",
        ctx.physical_name("vpc-flow-logs", &NameRule::LOG_GROUP)
    )
}

/// The flow log as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedFlowLog {
    /// `fl-...`.
    pub id: String,
    /// Its log group.
    pub log_group: String,
    /// Its delivery role.
    pub role_arn: String,
    /// `ALL`, `ACCEPT` or `REJECT`.
    pub traffic: String,
}

/// Decides what to do with the flow log. Pure. AWS cannot modify a flow log's destination or
/// role: a difference is planned as an update made by replacing the flow log (it holds no
/// data; the log group keeps what was delivered).
#[must_use]
pub fn decide(
    log_group: &str,
    role_arn: Option<&str>,
    observed: Option<&ObservedFlowLog>,
) -> Change {
    let role = role_arn.unwrap_or(KNOWN_AFTER_APPLY);
    let Some(o) = observed else {
        return Change::Create {
            fields: vec![
                FieldDiff::set("log_group", log_group),
                FieldDiff::set("role", role),
                FieldDiff::set("traffic_type", "ALL"),
            ],
        };
    };
    let mut fields = Vec::new();
    for (field, old, new) in [
        ("log_group", o.log_group.as_str(), log_group),
        ("role", o.role_arn.as_str(), role),
        ("traffic_type", o.traffic.as_str(), "ALL"),
    ] {
        if old != new {
            fields.push(FieldDiff::new(
                format!("{field} (replaces the flow log)"),
                Some(old),
                Some(new),
            ));
        }
    }
    Change::update_if_any(fields)
}

fn logs(ctx: &Context) -> aws_sdk_cloudwatchlogs::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_cloudwatchlogs)
}

/// Ensures the flow logs' log group exists with `retention_days`.
///
/// # Idempotency
/// Found by its deterministic name; tags travel in `CreateLogGroup`; retention is set only
/// when it differs.
///
/// # Errors
/// AWS errors.
pub async fn ensure_log_group(
    ctx: &Context,
    retention_days: u16,
) -> Result<Outcome, NetworkingError> {
    ec2::reported(ctx, LOG_GROUP_ID, async {
        let name = log_group_name(ctx);
        let client = logs(ctx);
        let found = client
            .describe_log_groups()
            .log_group_name_prefix(&name)
            .send()
            .await
            .map_err(AwsError::map("find", "log group", &name))?;
        let existing = found
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()));
        let retention =
            existing.and_then(aws_sdk_cloudwatchlogs::types::LogGroup::retention_in_days);
        let change = match existing {
            None => Change::Create {
                fields: vec![
                    FieldDiff::set("name", &name),
                    FieldDiff::set("retention_days", retention_days),
                ],
            },
            Some(_) if retention != Some(i32::from(retention_days)) => Change::Update {
                fields: vec![FieldDiff::new(
                    "retention_days",
                    retention
                        .map_or_else(|| "never expire".to_owned(), |r| r.to_string())
                        .into(),
                    Some(retention_days),
                )],
            },
            Some(_) => Change::NoOp,
        };
        if ctx.is_apply() && change.is_change() {
            if existing.is_none() {
                client
                    .create_log_group()
                    .log_group_name(&name)
                    .set_tags(Some(ec2::desired_tags(ctx, LOG_GROUP_ID).to_map()))
                    .send()
                    .await
                    .map_err(AwsError::map("create", "log group", &name))?;
            }
            client
                .put_retention_policy()
                .log_group_name(&name)
                .retention_in_days(i32::from(retention_days))
                .send()
                .await
                .map_err(AwsError::map("set retention of", "log group", &name))?;
        }
        Ok(Outcome {
            change: ec2::resource_change(LOG_GROUP_ID, "log group", Some(&name), change),
            id: Some(name),
        })
    })
    .await
}

/// Finds the VPC's flow log by its tag.
///
/// # Errors
/// AWS errors, duplicates.
pub async fn observe(ctx: &Context) -> Result<Option<ObservedFlowLog>, NetworkingError> {
    let out = ec2::client(ctx)
        .describe_flow_logs()
        .set_filter(Some(ec2::by_id(ctx, LOGICAL_ID)))
        .send()
        .await
        .map_err(AwsError::map("find", "flow log", LOGICAL_ID))?;
    let found = out.flow_logs().to_vec();
    Ok(ec2::at_most_one(LOGICAL_ID, found, |f| {
        f.flow_log_id().unwrap_or_default().to_owned()
    })?
    .map(|f| ObservedFlowLog {
        id: f.flow_log_id().unwrap_or_default().to_owned(),
        log_group: f.log_group_name().unwrap_or_default().to_owned(),
        role_arn: f
            .deliver_logs_permission_arn()
            .unwrap_or_default()
            .to_owned(),
        traffic: f
            .traffic_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
    }))
}

/// Ensures the VPC has exactly one flow log of all traffic to the log group, delivered with
/// `role_arn` (from the identity layer; `None` in plans before it exists).
///
/// # Idempotency
/// Found by tag; `CreateFlowLogs` carries a `ClientToken` from (stack, env, logical id, spec).
/// A replacement creates the new flow log before deleting the old one, so no traffic goes
/// unlogged.
///
/// # Errors
/// AWS errors, duplicates, and AWS refusing to create the flow log (reported per resource).
pub async fn ensure_flow_log(
    ctx: &Context,
    vpc_id: Option<&str>,
    role_arn: Option<&str>,
) -> Result<Outcome, NetworkingError> {
    ec2::reported(ctx, LOGICAL_ID, async {
        let group = log_group_name(ctx);
        let observed = match vpc_id {
            Some(_) => observe(ctx).await?,
            None => None,
        };
        let change = decide(&group, role_arn, observed.as_ref());
        let mut id = observed.as_ref().map(|o| o.id.clone());
        if let (true, Some(vpc), Some(role), true) =
            (ctx.is_apply(), vpc_id, role_arn, change.is_change())
        {
            let ec2 = ec2::client(ctx);
            let token = ctx.client_token(LOGICAL_ID, &(vpc, &group, role));
            let out = ec2
                .create_flow_logs()
                .resource_ids(vpc)
                .resource_type(FlowLogsResourceType::Vpc)
                .traffic_type(TrafficType::All)
                .log_destination_type(LogDestinationType::CloudWatchLogs)
                .log_group_name(&group)
                .deliver_logs_permission_arn(role)
                .client_token(token)
                .tag_specifications(ec2::tag_spec(ctx, LOGICAL_ID, ResourceType::VpcFlowLog))
                .send()
                .await
                .map_err(AwsError::map("create", "flow log", LOGICAL_ID))?;
            if let Some(problem) = out.unsuccessful().first() {
                let message = problem
                    .error()
                    .and_then(|e| e.message())
                    .unwrap_or("refused")
                    .to_owned();
                return Err(NetworkingError::Blocked {
                    resource: LOGICAL_ID.into(),
                    message,
                });
            }
            if let Some(old) = &observed {
                ec2.delete_flow_logs()
                    .flow_log_ids(&old.id)
                    .send()
                    .await
                    .map_err(AwsError::map("delete replaced", "flow log", &old.id))?;
            }
            id = out.flow_log_ids().first().cloned();
        }
        Ok(Outcome {
            change: ec2::resource_change(LOGICAL_ID, "flow log", id.as_deref(), change),
            id,
        })
    })
    .await
}

/// Deletes the stack's flow logs and their log group (plan mode: lists them).
///
/// # Errors
/// AWS errors.
pub async fn destroy_flow_logs(
    ctx: &Context,
) -> Result<Vec<ironbark_core::ResourceChange>, NetworkingError> {
    let ec2 = ec2::client(ctx);
    let mut out = Vec::new();
    let found = ec2
        .describe_flow_logs()
        .set_filter(Some(ec2::stack_filters(ctx)))
        .send()
        .await
        .map_err(AwsError::map("list flow logs of", "stack", ctx.stack()))?;
    for f in found.flow_logs() {
        let id = f.flow_log_id().unwrap_or_default();
        if ctx.is_apply() {
            ec2.delete_flow_logs()
                .flow_log_ids(id)
                .send()
                .await
                .map_err(AwsError::map("delete", "flow log", id))?;
        }
        out.push(ec2::resource_change(
            LOGICAL_ID,
            "flow log",
            Some(id),
            Change::Delete,
        ));
    }
    let name = log_group_name(ctx);
    let client = logs(ctx);
    let groups = client
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .map_err(AwsError::map("find", "log group", &name))?;
    if groups
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(name.as_str()))
    {
        if ctx.is_apply() {
            client
                .delete_log_group()
                .log_group_name(&name)
                .send()
                .await
                .map_err(AwsError::map("delete", "log group", &name))?;
        }
        out.push(ec2::resource_change(
            LOG_GROUP_ID,
            "log group",
            Some(&name),
            Change::Delete,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        assert!(matches!(decide("/g", None, None), Change::Create { .. }));
        let o = ObservedFlowLog {
            id: "fl-1".into(),
            log_group: "/g".into(),
            role_arn: "arn:r".into(),
            traffic: "ALL".into(),
        };
        assert_eq!(decide("/g", Some("arn:r"), Some(&o)), Change::NoOp);
        let Change::Update { fields } = decide("/g", Some("arn:other"), Some(&o)) else {
            panic!()
        };
        assert_eq!(fields[0].field, "role (replaces the flow log)");
    }
}
