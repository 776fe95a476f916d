//! Ironbark's observability domain: CloudWatch Logs log groups (retention, KMS), the SNS alert
//! topic with its subscriptions, metric and composite alarms, a dashboard generated from the
//! alarms, and saved Logs Insights queries. One module per resource kind, each with an
//! idempotent `ensure_*` (observe, a pure `decide`, act) and a `destroy_*`;
//! [`stack::ensure_observability`] runs them in dependency order.
//!
//! Like every domain crate it depends on `ironbark-core` and its own SDK crates only: the KMS
//! key ARN comes in as a plain string from the identity layer.

pub mod alarm;
pub mod dashboard;
pub mod error;
pub mod log_group;
pub mod query;
pub mod stack;
pub mod topic;

pub use error::ObservabilityError;
pub use stack::{destroy_observability, ensure_observability, ObservabilitySpec};
