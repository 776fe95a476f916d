//! The flow-logs layer: needs the VPC (networking) and the delivery role and KMS key
//! (identity), so it runs after both instead of making either wait for the other. The log
//! group is observability's log-group kind (retention, the stack's KMS key as every log group
//! Ironbark creates, `CKV_AWS_158`; tags and ownership), so networking does not keep a second
//! copy of it. Its teardown is part of the networking layer's.

use ironbark_core::{Context, Known};
use ironbark_networking::flow_logs::LOG_GROUP_ID;
use ironbark_observability::log_group::{ensure_log_group, LogGroupSpec};

use crate::{
    Action, IdentityOutputs, Layer, LayerFuture, LayerResult, NetworkingOutputs, Outputs, Publisher,
};

/// The flow logs' log group: `/<stack>/<env>/vpc-flow-logs`, encrypted with the stack's key.
pub fn spec(retention_days: u16, kms_key: &Known<String>) -> LogGroupSpec {
    LogGroupSpec {
        logical_id: LOG_GROUP_ID.to_owned(),
        name: "vpc-flow-logs".to_owned(),
        retention_days: i32::from(retention_days),
        kms_key_arn: Some(kms_key.or_placeholder()),
    }
}

/// VPC flow logs of a stack.
pub struct FlowLogs {
    pub retention_days: u16,
}

impl Layer for FlowLogs {
    fn name(&self) -> &'static str {
        "flow-logs"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["networking", "identity"]
    }

    fn run(
        &self,
        ctx: Context,
        inputs: Outputs,
        action: Action,
        _publish: Publisher,
    ) -> LayerFuture {
        let retention = self.retention_days;
        Box::pin(async move {
            let mut result = LayerResult::default();
            if let Action::Converge = action {
                let net = inputs
                    .of::<NetworkingOutputs>()
                    .cloned()
                    .unwrap_or_default();
                let id = inputs.of::<IdentityOutputs>().cloned().unwrap_or_default();
                let vpc = net.vpc_id.value().map(String::as_str);
                let role = id.flow_logs_role_arn.value().map(String::as_str);
                let kms = id.kms_key_arn.clone();
                let group = ensure_log_group(&ctx, &spec(retention, &kms)).await?;
                let log = ironbark_networking::flow_logs::ensure_flow_log(&ctx, vpc, role).await?;
                result.outputs.insert("log_group".into(), group.name);
                result.outputs.insert("id".into(), log.id_or_placeholder());
                result.plan.push(group.change);
                result.plan.push(log.change);
            }
            Ok(result)
        })
    }
}
