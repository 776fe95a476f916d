//! Progress events that every `ensure_*` emits, and the reporter trait that receives them.
//! The CLI renders them (indicatif bars, plain lines or JSON lines); tests collect them.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::plan::Change;

/// One progress event about one resource (`resource` is its logical id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Work on a resource began (observation included).
    Started {
        /// Logical id.
        resource: String,
    },
    /// Waiting for AWS, with the status AWS reports (`pending`, `creating`, ...).
    Waiting {
        /// Logical id.
        resource: String,
        /// The status last observed.
        status: String,
    },
    /// The resource is converged; `change` is what was done (or would be, in plan mode).
    Done {
        /// Logical id.
        resource: String,
        /// What was done.
        change: Change,
    },
    /// Work on the resource failed.
    Failed {
        /// Logical id.
        resource: String,
        /// The error, already free of secrets.
        error: String,
    },
    /// Something the user should know that does not stop the run.
    Warning {
        /// Logical id, when the warning is about one resource.
        #[serde(skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
        /// The message.
        message: String,
    },
}

impl Event {
    /// The logical id the event is about, if any.
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        match self {
            Self::Started { resource }
            | Self::Waiting { resource, .. }
            | Self::Done { resource, .. }
            | Self::Failed { resource, .. } => Some(resource),
            Self::Warning { resource, .. } => resource.as_deref(),
        }
    }
}

/// Receives progress events. Implementations must be cheap and must not block.
pub trait Reporter: Send + Sync + std::fmt::Debug {
    /// Handles one event.
    fn report(&self, event: Event);
}

/// A shared reporter.
pub type SharedReporter = Arc<dyn Reporter>;

/// A reporter that drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _event: Event) {}
}

/// A reporter that keeps every event, for tests and for `--json` summaries.
#[derive(Debug, Default)]
pub struct CollectingReporter {
    events: Mutex<Vec<Event>>,
}

impl CollectingReporter {
    /// The events received so far.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for CollectingReporter {
    fn report(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}
