//! The flow-logs layer: needs the VPC (networking) and the delivery role (identity), so it
//! runs after both instead of making either wait for the other. Its teardown is part of the
//! networking layer's.

use ironbark_core::Context;

use crate::compose::{Action, Layer, LayerFuture, LayerResult, Outputs, Publisher};

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
                let vpc = inputs
                    .get("networking.vpc_id")
                    .filter(|v| v.starts_with("vpc-"));
                let role = inputs
                    .get("identity.flow_logs_role_arn")
                    .filter(|r| r.starts_with("arn:"));
                let group =
                    ironbark_networking::flow_logs::ensure_log_group(&ctx, retention).await?;
                let log = ironbark_networking::flow_logs::ensure_flow_log(&ctx, vpc, role).await?;
                result
                    .outputs
                    .insert("log_group".into(), group.id_or_placeholder());
                result.outputs.insert("id".into(), log.id_or_placeholder());
                result.plan.push(group.change);
                result.plan.push(log.change);
            }
            Ok(result)
        })
    }
}
