//! The networking layer: `ironbark_networking::ensure_networking` for deploy and plan,
//! `destroy_networking` for destroy.

use ironbark_core::config::NetworkingConfig;
use ironbark_core::Context;

use crate::{Action, Layer, LayerFuture, LayerResult, NetworkingOutputs, Outputs, Publisher};

/// The networking layer of a stack.
pub struct Networking {
    pub cfg: NetworkingConfig,
    pub az_count: u8,
}

impl Layer for Networking {
    fn name(&self) -> &'static str {
        "networking"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    fn run(
        &self,
        ctx: Context,
        _inputs: Outputs,
        action: Action,
        publish: Publisher,
    ) -> LayerFuture {
        let (cfg, az_count) = (self.cfg.clone(), self.az_count);
        Box::pin(async move {
            match action {
                Action::Converge => {
                    // Subnets and security groups go to dependents (the database) as soon
                    // as they exist, while NAT gateways and endpoints are still coming up.
                    let out = ironbark_networking::ensure_networking_with(
                        &ctx,
                        &cfg,
                        az_count,
                        |early| {
                            publish.publish_typed(
                                early.clone(),
                                NetworkingOutputs::from_values(early),
                            );
                        },
                    )
                    .await?;
                    let typed = NetworkingOutputs::from_values(&out.outputs);
                    Ok(LayerResult::new(out.plan, out.outputs).with_typed(typed))
                }
                // Nothing in networking is protected: it holds no data.
                Action::Destroy { .. } => {
                    let plan = ironbark_networking::destroy_networking(&ctx).await?;
                    Ok(LayerResult::new(plan, Default::default()))
                }
            }
        })
    }
}
