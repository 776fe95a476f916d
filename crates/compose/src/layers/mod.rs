//! The layers of the composition, one module per domain crate. Each module implements
//! [`crate::Layer`] for its domain: it turns the stack configuration into the
//! domain crate's specs, calls its `ensure_*` (or `destroy_*`) functions, and returns the
//! changes and outputs. Register a layer in [`all`].

use std::sync::Arc;

use ironbark_core::config::StackConfig;

use crate::Layer;

mod database;
mod flow_logs;
mod identity;
mod networking;
mod observability;

/// The enabled layers of a stack.
pub fn all(cfg: &StackConfig) -> Vec<Arc<dyn Layer>> {
    let mut layers: Vec<Arc<dyn Layer>> = Vec::new();
    if cfg.networking.enabled {
        layers.push(Arc::new(networking::Networking {
            cfg: cfg.networking.clone(),
            az_count: cfg.az_count,
        }));
    }
    if cfg.identity.enabled {
        layers.push(Arc::new(identity::Identity::new(cfg)));
    }
    if cfg.database.enabled || cfg.database.cache.enabled || !cfg.database.tables.is_empty() {
        layers.push(Arc::new(database::Database::new(cfg)));
    }
    // Validation guarantees identity is enabled when observability is.
    if cfg.observability.enabled && cfg.identity.enabled {
        layers.push(Arc::new(observability::Observability::new(cfg)));
    }
    // Validation guarantees identity is enabled when flow logs are.
    if cfg.networking.enabled && cfg.networking.flow_logs && cfg.identity.enabled {
        layers.push(Arc::new(flow_logs::FlowLogs {
            retention_days: cfg.networking.flow_log_retention_days,
        }));
    }
    layers
}
