//! The typed stack configuration. Every struct denies unknown keys: a typo is an error, never
//! a silently ignored setting.

use std::collections::BTreeMap;

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
    /// The identity layer.
    pub identity: IdentityConfig,
}

/// The identity section (`[<profile>.identity]`): the stack's KMS key and Cognito.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Whether the layer is deployed.
    pub enabled: bool,
    /// Waiting period (7-30 days) before a destroyed KMS key is deleted; until then
    /// `aws kms cancel-key-deletion` recovers it.
    pub kms_deletion_window_days: u8,
    /// Recovery window (7-30 days) of destroyed secrets.
    pub secret_recovery_days: u8,
    /// Cognito.
    pub cognito: CognitoConfig,
}

/// The Cognito section (`[<profile>.identity.cognito]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CognitoConfig {
    /// Whether the user pool and its clients are deployed.
    pub enabled: bool,
    /// `off`, `optional` or `on` (TOTP).
    pub mfa: String,
    /// Advanced security (threat protection) enforced; required in production.
    pub advanced_security: bool,
    /// Deletion protection of the user pool; required in production.
    pub deletion_protection: bool,
    /// What users sign in with: `email` or `username` (fixed once the pool exists).
    pub sign_in: String,
    /// Minimum password length (8-99).
    pub password_min_length: u8,
    /// The web client's allowed redirect URLs after sign-in (https, or http on localhost).
    pub callback_urls: Vec<String>,
    /// The web client's allowed redirect URLs after sign-out.
    pub logout_urls: Vec<String>,
    /// The resource server's identifier (prefix of its scopes).
    pub api_identifier: String,
    /// The resource server's scopes, granted to the M2M client.
    pub scopes: Vec<String>,
    /// User pool groups, in precedence order.
    pub groups: Vec<String>,
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
    /// Retention of the flow logs' log group in days (a value CloudWatch Logs accepts).
    pub flow_log_retention_days: u16,
    /// Subnet tiers by name (`public`, `private`, `database`, ...).
    pub tiers: BTreeMap<String, TierConfig>,
    /// Security groups by name, with their rules.
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroupConfig>,
    /// Gateway endpoints (`s3`, `dynamodb`) on every private and isolated route table.
    #[serde(default)]
    pub gateway_endpoints: Vec<String>,
    /// Interface endpoints (`secretsmanager`, `ecr.api`, `bedrock-runtime`, ...) in the first
    /// private tier's subnets, with private DNS.
    #[serde(default)]
    pub interface_endpoints: Vec<String>,
    /// Network ACLs by name, each attached to the subnets of some tiers.
    #[serde(default)]
    pub nacls: BTreeMap<String, NaclConfig>,
    /// The security group (by name) of the interface endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_security_group: Option<String>,
}

/// What kind of routing a tier's subnets get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierKind {
    /// Default route to the internet gateway.
    Public,
    /// Default route to the AZ's NAT gateway (or the single one), when there are NAT gateways.
    Private,
    /// No default route.
    Isolated,
}

/// One subnet tier (`[<profile>.networking.tiers.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Position of the tier's block in the VPC; never change it after a deploy.
    pub slot: u8,
    /// Prefix length of each subnet (`24` for /24).
    pub prefix: u8,
    /// Routing.
    pub kind: TierKind,
    /// Whether instances launched here get public IPs (public tiers only).
    #[serde(default)]
    pub map_public_ip: bool,
}

/// One security group (`[<profile>.networking.security_groups.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupConfig {
    /// The group's description (AWS cannot change it in place).
    pub description: String,
    /// Inbound rules.
    #[serde(default)]
    pub ingress: Vec<RuleConfig>,
    /// Outbound rules. None declared means no egress at all.
    #[serde(default)]
    pub egress: Vec<RuleConfig>,
}

/// One network ACL (`[<profile>.networking.nacls.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaclConfig {
    /// The tiers whose subnets use it.
    pub tiers: Vec<String>,
    /// Inbound entries, evaluated in `rule` order.
    #[serde(default)]
    pub ingress: Vec<NaclEntryConfig>,
    /// Outbound entries, evaluated in `rule` order.
    #[serde(default)]
    pub egress: Vec<NaclEntryConfig>,
}

/// One network ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaclEntryConfig {
    /// Rule number (1-32766), unique per direction; lower numbers are evaluated first.
    pub rule: u16,
    /// `allow` or `deny`.
    pub action: String,
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// `443`, `1024-65535`, or `all`.
    pub ports: String,
    /// The IPv4 CIDR it matches (`vpc` for the VPC's own CIDR).
    pub cidr: String,
}

/// One security group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// `443`, `8000-8100`, or `all`.
    pub ports: String,
    /// The other side: `sg:<group name>`, a CIDR (`10.0.0.0/16`, `0.0.0.0/0`), `vpc` (the
    /// VPC's CIDR) or `pl:<prefix list id>`.
    pub peer: String,
    /// What the rule is for.
    pub description: String,
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
