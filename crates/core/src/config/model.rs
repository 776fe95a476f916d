//! The typed stack configuration. Every struct denies unknown keys: a typo is an error, never
//! a silently ignored setting.

use serde::{Deserialize, Serialize};

/// A stack file's resolved profile: global settings plus one section per domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// The stack's name: the first segment of every physical name and the `ironbark:stack` tag.
    pub stack: String,
    /// The `Project` tag.
    pub project: String,
    /// The `Owner` tag (the owning team).
    pub owner: String,
    /// The `CostCenter` tag.
    pub cost_center: String,
    /// The AWS region.
    pub region: String,
    /// When set, plan/deploy/destroy refuse to run against any other account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Whether this profile is production: security rules hard-fail instead of warning.
    /// Defaults to true for the profile named `prod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<bool>,
    /// How many availability zones the stack spans (1-6).
    pub az_count: u8,
    /// The networking layer.
    pub networking: NetworkingConfig,
    /// The database layer.
    pub database: DatabaseConfig,
}

/// The networking section (`[<profile>.networking]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkingConfig {
    /// Whether the layer is deployed.
    pub enabled: bool,
    /// The VPC's IPv4 CIDR block, /16 to /24.
    pub vpc_cidr: String,
    /// NAT gateways: 0 (none), 1 (single, shared) or `az_count` (one per AZ).
    pub nat_gateways: u8,
    /// VPC flow logs to CloudWatch Logs (`CKV2_AWS_11`).
    pub flow_logs: bool,
}

/// The database section (`[<profile>.database]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Whether the layer is deployed.
    pub enabled: bool,
    /// The PostgreSQL engine version (`16.4`).
    pub engine_version: String,
    /// The instance class (`db.t3.micro`).
    pub instance_class: String,
    /// Allocated gp3 storage in GiB (20-65536).
    pub allocated_storage_gb: u32,
    /// Multi-AZ deployment.
    pub multi_az: bool,
    /// Automated backup retention in days (0-35; 7 or more is required in production).
    pub backup_retention_days: u8,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Storage encryption at rest.
    pub storage_encrypted: bool,
    /// Whether the instance gets a public address (never in production).
    pub publicly_accessible: bool,
    /// The Redis cache.
    pub cache: CacheConfig,
}

/// The cache section (`[<profile>.database.cache]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether the cache is deployed.
    pub enabled: bool,
    /// The node type (`cache.t3.micro`).
    pub node_type: String,
    /// Number of nodes (1-6): one primary plus replicas.
    pub nodes: u8,
}

impl StackConfig {
    /// Whether security rules hard-fail for this profile.
    #[must_use]
    pub fn is_production(&self, profile: &str) -> bool {
        self.production.unwrap_or(profile == "prod")
    }
}
