//! The typed stack configuration. Every struct denies unknown keys: a typo is an error, never
//! a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A stack file's resolved profile: global settings plus one section per domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The observability layer (off when the stack file has no such section).
    #[serde(default)]
    pub observability: ObservabilityConfig,
}

/// The observability section (`[<profile>.observability]`): log groups, the alert topic and
/// its email subscriptions, metric and composite alarms, a dashboard over the alarms, and
/// saved Logs Insights queries. Everything is encrypted with the identity layer's KMS key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservabilityConfig {
    /// Whether the layer is deployed (needs `identity.enabled` for its KMS key).
    #[serde(default)]
    pub enabled: bool,
    /// Retention of every log group, in days (seed 002: 14 / 30 / 90); one of the values
    /// CloudWatch Logs accepts.
    #[serde(default = "default_log_retention")]
    pub log_retention_days: u16,
    /// Log groups, by short name: each is `/<stack>/<env>/<name>`.
    #[serde(default)]
    pub log_groups: Vec<String>,
    /// Email addresses subscribed to the alert topic every alarm notifies. Required in
    /// production when there are alarms: an alarm nobody receives is no alarm.
    #[serde(default)]
    pub alert_emails: Vec<String>,
    /// Metric alarms, by short name.
    #[serde(default)]
    pub alarms: BTreeMap<String, AlarmConfig>,
    /// Composite alarms, by short name.
    #[serde(default)]
    pub composite_alarms: BTreeMap<String, CompositeAlarmConfig>,
    /// Whether a dashboard over the metric alarms is deployed.
    #[serde(default)]
    pub dashboard: bool,
    /// Saved Logs Insights queries, by short name.
    #[serde(default)]
    pub queries: BTreeMap<String, QueryConfig>,
}

fn default_log_retention() -> u16 {
    14
}

/// A metric alarm (`[<profile>.observability.alarms.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmConfig {
    /// What the alarm means, for whoever it notifies.
    #[serde(default)]
    pub description: String,
    /// The metric's namespace (`AWS/Lambda`).
    pub namespace: String,
    /// The metric (`Errors`).
    pub metric: String,
    /// Its dimensions (`{ FunctionName = "api" }`).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `SampleCount`, `Average`, `Sum`, `Minimum` or `Maximum`.
    #[serde(default = "default_statistic")]
    pub statistic: String,
    /// The period in seconds: 10, 30 or a multiple of 60.
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    /// How many periods are evaluated.
    #[serde(default = "one")]
    pub evaluation_periods: u32,
    /// How many of them must breach (defaults to all).
    #[serde(default)]
    pub datapoints_to_alarm: Option<u32>,
    /// The threshold.
    pub threshold: f64,
    /// `GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold` or
    /// `LessThanOrEqualToThreshold`.
    #[serde(default = "default_comparison")]
    pub comparison: String,
    /// `breaching`, `notBreaching`, `ignore` or `missing`.
    #[serde(default = "default_missing")]
    pub treat_missing_data: String,
}

fn default_statistic() -> String {
    "Sum".to_owned()
}
fn default_period() -> u32 {
    300
}
fn one() -> u32 {
    1
}
fn default_comparison() -> String {
    "GreaterThanThreshold".to_owned()
}
fn default_missing() -> String {
    "notBreaching".to_owned()
}

/// A composite alarm (`[<profile>.observability.composite_alarms.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeAlarmConfig {
    /// What the alarm means.
    #[serde(default)]
    pub description: String,
    /// A rule over the stack's alarms by short name: `ALARM(api-errors) OR ALARM(api-p99)`.
    pub rule: String,
}

/// A saved Logs Insights query (`[<profile>.observability.queries.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// The log groups it runs over, by short name (from `log_groups`).
    pub log_groups: Vec<String>,
    /// The query text.
    pub query: String,
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

/// The database section (`[<profile>.database]`): one PostgreSQL database (an RDS instance or
/// an Aurora cluster), its vector schema, the Redis cache and the DynamoDB tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Whether the PostgreSQL database is deployed (the cache and tables have their own
    /// switches).
    pub enabled: bool,
    /// `postgres` (an RDS instance) or `aurora-postgresql` (an Aurora cluster).
    #[serde(default)]
    pub engine: DbEngine,
    /// The networking tier whose subnets hold the database and the cache.
    #[serde(default = "default_db_tier")]
    pub subnet_tier: String,
    /// The networking security group of the database (`sg` name in `networking`).
    #[serde(default = "default_db_group")]
    pub security_group: String,
    /// The PostgreSQL engine version (`16.4`).
    pub engine_version: String,
    /// The instance class (`db.t3.micro`; `db.serverless` for Aurora Serverless v2).
    pub instance_class: String,
    /// Allocated gp3 storage in GiB (20-65536; RDS instances only, Aurora storage grows by
    /// itself). Grows in place; shrinking is refused.
    pub allocated_storage_gb: u32,
    /// Multi-AZ: a standby for an instance; for Aurora, at least one reader in another AZ.
    pub multi_az: bool,
    /// Automated backup retention in days (1-35; 7 or more is required in production).
    pub backup_retention_days: u8,
    /// The daily backup window, UTC (`03:00-04:00`).
    #[serde(default = "default_backup_window")]
    pub backup_window: String,
    /// The weekly maintenance window, UTC (`sun:04:30-sun:05:30`).
    #[serde(default = "default_maintenance_window")]
    pub maintenance_window: String,
    /// Whether in-place modifications apply at once (true) or in the maintenance window.
    #[serde(default = "yes")]
    pub apply_immediately: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Storage encryption at rest (with the stack's KMS key when the identity layer runs).
    pub storage_encrypted: bool,
    /// Whether the instance gets a public address (never in production).
    pub publicly_accessible: bool,
    /// Performance Insights.
    #[serde(default = "yes")]
    pub performance_insights: bool,
    /// IAM database authentication.
    #[serde(default = "yes")]
    pub iam_auth: bool,
    /// Whether destroy takes a final snapshot first.
    #[serde(default = "yes")]
    pub final_snapshot: bool,
    /// The initial database's name.
    #[serde(default = "default_database_name")]
    pub database_name: String,
    /// The master user's name; its password is generated and kept by RDS in Secrets Manager.
    #[serde(default = "default_master_username")]
    pub master_username: String,
    /// PostgreSQL parameters of the stack's parameter group (for Aurora, the cluster parameter
    /// group), as text (`shared_preload_libraries = "pg_stat_statements"`).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Aurora settings (engine `aurora-postgresql`).
    #[serde(default)]
    pub aurora: AuroraConfig,
    /// The pgvector schema.
    #[serde(default)]
    pub vector: VectorConfig,
    /// The Redis cache.
    pub cache: CacheConfig,
    /// DynamoDB tables by name (`[<profile>.database.tables.jobs]`).
    #[serde(default)]
    pub tables: BTreeMap<String, TableConfig>,
}

fn default_db_tier() -> String {
    "database".into()
}

fn default_db_group() -> String {
    "db".into()
}

fn default_cache_group() -> String {
    "cache".into()
}

fn yes() -> bool {
    true
}

fn default_backup_window() -> String {
    "03:00-04:00".into()
}

fn default_maintenance_window() -> String {
    "sun:04:30-sun:05:30".into()
}

fn default_database_name() -> String {
    "app".into()
}

fn default_master_username() -> String {
    "ironbark".into()
}

/// The database engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DbEngine {
    /// An RDS for PostgreSQL instance.
    #[default]
    #[serde(rename = "postgres")]
    Postgres,
    /// An Aurora PostgreSQL cluster (provisioned or Serverless v2).
    #[serde(rename = "aurora-postgresql")]
    AuroraPostgresql,
}

impl DbEngine {
    /// The RDS engine name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::AuroraPostgresql => "aurora-postgresql",
        }
    }
}

/// Aurora settings (`[<profile>.database.aurora]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraConfig {
    /// Serverless v2 minimum capacity in ACUs (0 to 256 in steps of 0.5; 0 pauses when idle).
    /// Used when `instance_class` is `db.serverless`.
    pub min_acu: f64,
    /// Serverless v2 maximum capacity in ACUs (1 to 256 in steps of 0.5).
    pub max_acu: f64,
    /// Reader instances besides the writer (0-15).
    pub readers: u8,
    /// The RDS Data API (needed by Bedrock knowledge bases and by the vector schema step).
    pub data_api: bool,
}

impl Default for AuroraConfig {
    fn default() -> Self {
        Self {
            min_acu: 0.5,
            max_acu: 4.0,
            readers: 0,
            data_api: true,
        }
    }
}

/// The pgvector schema (`[<profile>.database.vector]`), reconciled through the Data API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorConfig {
    /// Whether the extension and the Bedrock knowledge-base schema are ensured.
    pub enabled: bool,
    /// The embedding dimension (1-16000; Titan Text Embeddings v2 gives 1024).
    pub dimension: u32,
}

impl Default for VectorConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dimension: 1024,
        }
    }
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
    /// The Redis engine version.
    #[serde(default = "default_redis_version")]
    pub engine_version: String,
    /// Days of automatic snapshots (0-35).
    #[serde(default = "default_snapshot_days")]
    pub snapshot_retention_days: u8,
    /// The networking security group of the cache.
    #[serde(default = "default_cache_group")]
    pub security_group: String,
}

fn default_redis_version() -> String {
    "7.1".into()
}

fn default_snapshot_days() -> u8 {
    1
}

/// A DynamoDB table (`[<profile>.database.tables.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The partition key as `name:type`, type S, N or B (`job_id:S`).
    pub partition_key: String,
    /// The sort key, same form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<String>,
    /// `on-demand` or `provisioned`.
    #[serde(default = "default_billing")]
    pub billing: String,
    /// Read capacity units when provisioned.
    #[serde(default)]
    pub read_capacity: u32,
    /// Write capacity units when provisioned.
    #[serde(default)]
    pub write_capacity: u32,
    /// The TTL attribute (epoch seconds), if items expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    /// Point-in-time recovery.
    #[serde(default = "yes")]
    pub point_in_time_recovery: bool,
    /// Deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Global secondary indexes by name.
    #[serde(default)]
    pub indexes: BTreeMap<String, IndexConfig>,
}

fn default_billing() -> String {
    "on-demand".into()
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// The index's partition key, `name:type`.
    pub partition_key: String,
    /// Its sort key, `name:type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<String>,
    /// `all`, `keys-only`, or the non-key attributes to project.
    #[serde(default = "default_projection")]
    pub projection: Vec<String>,
}

fn default_projection() -> Vec<String> {
    vec!["all".into()]
}

impl StackConfig {
    /// Whether security rules hard-fail for this profile.
    #[must_use]
    pub fn is_production(&self, profile: &str) -> bool {
        self.production.unwrap_or(profile == "prod")
    }
}
