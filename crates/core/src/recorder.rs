//! The request recorder: an SDK interceptor counting operations per service, reads and
//! writes, and attempts (retries included). Tests use it to assert zero writes on a converged
//! re-run from the client's side; benchmarks report it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

use crate::ops::{classify, OperationClass};

/// Counts for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OperationCount {
    /// Read or write.
    pub class: OperationClass,
    /// Calls made (one per `send()`).
    pub calls: u64,
    /// HTTP attempts (calls plus retries).
    pub attempts: u64,
}

/// A snapshot of what was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecorderSummary {
    /// Calls that read.
    pub reads: u64,
    /// Calls that write.
    pub writes: u64,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Per `service:operation`.
    pub by_operation: BTreeMap<String, OperationCount>,
}

impl RecorderSummary {
    /// The write operations recorded, as `service:operation` (for assertion messages).
    #[must_use]
    pub fn write_operations(&self) -> Vec<&str> {
        self.by_operation
            .iter()
            .filter(|(_, c)| c.class == OperationClass::Write)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// The interceptor; clones share one set of counts.
#[derive(Debug, Clone, Default)]
pub struct RequestRecorder {
    counts: Arc<Mutex<BTreeMap<String, OperationCount>>>,
}

fn key(cfg: &ConfigBag) -> (String, OperationClass) {
    cfg.load::<Metadata>().map_or_else(
        || ("unknown:unknown".to_owned(), OperationClass::Write),
        |m| (format!("{}:{}", m.service(), m.name()), classify(m.name())),
    )
}

impl RequestRecorder {
    /// What was recorded so far.
    #[must_use]
    pub fn summary(&self) -> RecorderSummary {
        let counts = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        let mut s = RecorderSummary::default();
        for c in counts.values() {
            match c.class {
                OperationClass::Read => s.reads += c.calls,
                OperationClass::Write => s.writes += c.calls,
            }
            s.attempts += c.attempts;
        }
        s.by_operation = counts;
        s
    }

    /// Forgets everything recorded.
    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }

    fn bump(&self, cfg: &ConfigBag, calls: u64, attempts: u64) {
        let (key, class) = key(cfg);
        if let Ok(mut counts) = self.counts.lock() {
            let entry = counts.entry(key).or_insert(OperationCount {
                class,
                calls: 0,
                attempts: 0,
            });
            entry.calls += calls;
            entry.attempts += attempts;
        }
    }
}

impl Intercept for RequestRecorder {
    fn name(&self) -> &'static str {
        "IronbarkRequestRecorder"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, 1, 0);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, 0, 1);
        Ok(())
    }
}
