//! The plan-mode write guard (DESIGN invariant 5): an SDK interceptor on every client that
//! rejects any operation that is not a read while the context is in plan mode. Plan mode's
//! promise of zero writes is enforced here, once, not by discipline in each crate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::ops::{classify, OperationClass};

/// Whether a run only looks (plan) or also changes things (apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Observe and decide only: every write is rejected by the guard.
    Plan,
    /// Observe, decide and act.
    Apply,
}

/// A mode shared by a context and every client built from it, switchable at run time (deploy
/// plans first, then applies with the same clients).
#[derive(Debug, Clone)]
pub struct ModeSwitch(Arc<AtomicBool>);

impl ModeSwitch {
    /// A switch starting in `mode`.
    #[must_use]
    pub fn new(mode: Mode) -> Self {
        Self(Arc::new(AtomicBool::new(mode == Mode::Apply)))
    }

    /// The current mode.
    #[must_use]
    pub fn get(&self) -> Mode {
        if self.0.load(Ordering::SeqCst) {
            Mode::Apply
        } else {
            Mode::Plan
        }
    }

    /// Changes the mode for every client sharing this switch.
    pub fn set(&self, mode: Mode) {
        self.0.store(mode == Mode::Apply, Ordering::SeqCst);
    }
}

/// The error a client returns for a write attempted in plan mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused {service}:{operation} in plan mode: plan performs no writes")]
pub struct PlanModeWrite {
    /// The service (`EC2`, `S3`).
    pub service: String,
    /// The operation (`CreateVpc`).
    pub operation: String,
}

/// True when `error`, or any error in its source chain, is a [`PlanModeWrite`].
#[must_use]
pub fn is_plan_mode_write(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<PlanModeWrite>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The interceptor; add it to every client (the `sdk_client!` macro does).
#[derive(Debug, Clone)]
pub struct WriteGuard {
    mode: ModeSwitch,
}

impl WriteGuard {
    /// A guard following `mode`.
    #[must_use]
    pub fn new(mode: ModeSwitch) -> Self {
        Self { mode }
    }
}

impl Intercept for WriteGuard {
    fn name(&self) -> &'static str {
        "IronbarkPlanModeWriteGuard"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.mode.get() == Mode::Apply {
            return Ok(());
        }
        // An operation we cannot name is treated as a write: the guard fails closed.
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("unknown", "unknown"), |m| (m.service(), m.name()));
        if classify(operation) == OperationClass::Read {
            Ok(())
        } else {
            Err(Box::new(PlanModeWrite {
                service: service.to_owned(),
                operation: operation.to_owned(),
            }))
        }
    }
}
