//! Validation of a resolved profile: value ranges and cross-field rules. Pure: it reports
//! key paths, and the loader adds the file and profile each value came from.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::model::StackConfig;

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path within the profile (`networking.vpc_cidr`).
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn problem(path: &str, message: impl Into<String>) -> Problem {
    Problem {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Parses a VPC CIDR: IPv4, prefix /16 to /24, no host bits set.
///
/// # Errors
/// A message saying what is wrong and what is allowed.
pub fn parse_vpc_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        format!("`{text}` is not an IPv4 CIDR block (a.b.c.d/n with n from 16 to 24)")
    })?;
    if !(16..=24).contains(&net.prefix_len()) {
        return Err(format!(
            "prefix /{} is outside what a VPC allows: /16 to /24",
            net.prefix_len()
        ));
    }
    if net.addr() != net.network() {
        return Err(format!(
            "`{text}` has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    let private = [
        Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 8),
        Ipv4Net::new(Ipv4Addr::new(172, 16, 0, 0), 12),
        Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16),
    ];
    if !private.into_iter().flatten().any(|p| p.contains(&net)) {
        return Err(format!(
            "`{text}` is not in a private range (RFC 1918: 10/8, 172.16/12, 192.168/16)"
        ));
    }
    Ok(net)
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks every rule and returns all problems found (not just the first).
#[must_use]
pub fn validate(cfg: &StackConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    if !is_name(&cfg.stack) {
        out.push(problem(
            "stack",
            format!(
                "`{}` must be 1-32 characters of a-z, 0-9 and -, starting with a letter",
                cfg.stack
            ),
        ));
    }
    for (path, value) in [
        ("project", &cfg.project),
        ("owner", &cfg.owner),
        ("cost_center", &cfg.cost_center),
    ] {
        if value.trim().is_empty() || value.len() > 256 {
            out.push(problem(
                path,
                "must be a non-empty tag value of at most 256 characters",
            ));
        }
    }
    let region_ok = cfg.region.split('-').count() >= 3
        && cfg
            .region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        out.push(problem(
            "region",
            format!(
                "`{}` is not an AWS region name (like us-east-1)",
                cfg.region
            ),
        ));
    }
    if let Some(id) = &cfg.account_id {
        if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
            out.push(problem(
                "account_id",
                format!("`{id}` must be a 12-digit AWS account id"),
            ));
        }
    }
    if !(1..=6).contains(&cfg.az_count) {
        out.push(problem(
            "az_count",
            format!("{} is outside 1 to 6", cfg.az_count),
        ));
    }

    let net = &cfg.networking;
    if let Err(msg) = parse_vpc_cidr(&net.vpc_cidr) {
        out.push(problem("networking.vpc_cidr", msg));
    }
    if ![0, 1, cfg.az_count].contains(&net.nat_gateways) {
        out.push(problem(
            "networking.nat_gateways",
            format!(
                "{} NAT gateways for {} AZs: allowed are 0 (none), 1 (single, shared) or {} (one per AZ)",
                net.nat_gateways, cfg.az_count, cfg.az_count
            ),
        ));
    }

    let db = &cfg.database;
    if db.enabled {
        if !(20..=65_536).contains(&db.allocated_storage_gb) {
            out.push(problem(
                "database.allocated_storage_gb",
                format!(
                    "{} GB is outside what gp3 storage allows for PostgreSQL: 20 to 65536",
                    db.allocated_storage_gb
                ),
            ));
        }
        if !db.instance_class.starts_with("db.") || db.instance_class.split('.').count() != 3 {
            out.push(problem(
                "database.instance_class",
                format!(
                    "`{}` is not an RDS instance class (like db.t3.micro)",
                    db.instance_class
                ),
            ));
        }
        let version_ok = db
            .engine_version
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !version_ok {
            out.push(problem(
                "database.engine_version",
                format!(
                    "`{}` is not a PostgreSQL version (like 16.4)",
                    db.engine_version
                ),
            ));
        }
        if db.backup_retention_days > 35 {
            out.push(problem(
                "database.backup_retention_days",
                format!("{} days is outside 0 to 35", db.backup_retention_days),
            ));
        }
        if db.multi_az && cfg.az_count < 2 {
            out.push(problem(
                "database.multi_az",
                "Multi-AZ needs az_count of at least 2",
            ));
        }
    }
    let cache = &db.cache;
    if cache.enabled {
        if !cache.node_type.starts_with("cache.") {
            out.push(problem(
                "database.cache.node_type",
                format!(
                    "`{}` is not an ElastiCache node type (like cache.t3.micro)",
                    cache.node_type
                ),
            ));
        }
        if !(1..=6).contains(&cache.nodes) {
            out.push(problem(
                "database.cache.nodes",
                format!(
                    "{} is outside 1 to 6 (one primary plus up to 5 replicas)",
                    cache.nodes
                ),
            ));
        }
    }
    out
}
