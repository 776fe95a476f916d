//! Errors of the observability crate: core's [`ResourceError`], which names the resource kind
//! and its name in every message (AWS failures as [`ironbark_core::reconcile::AwsError`], with
//! the error code and what it means). Log groups, topics, alarms, dashboards and queries need
//! no error of their own, so the crate's error is that type.

use ironbark_core::reconcile::ResourceError;

/// What can go wrong while reconciling log groups, topics, alarms, dashboards and queries.
pub type ObservabilityError = ResourceError;
