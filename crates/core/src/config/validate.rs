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
    validate_networking(cfg, &mut out);
    if ![0, 1, cfg.az_count].contains(&net.nat_gateways) {
        out.push(problem(
            "networking.nat_gateways",
            format!(
                "{} NAT gateways for az_count = {}: allowed are 0 (none), 1 (single, shared) or {} (one per AZ)",
                net.nat_gateways, cfg.az_count, cfg.az_count
            ),
        ));
    }

    validate_database(cfg, &mut out);
    validate_observability(cfg, &mut out);
    validate_identity(cfg, &mut out);
    out
}

fn validate_identity(cfg: &StackConfig, out: &mut Vec<Problem>) {
    let id = &cfg.identity;
    if !id.enabled {
        return;
    }
    for (path, days) in [
        (
            "identity.kms_deletion_window_days",
            id.kms_deletion_window_days,
        ),
        ("identity.secret_recovery_days", id.secret_recovery_days),
    ] {
        if !(7..=30).contains(&days) {
            out.push(problem(
                path,
                format!("{days} days is outside what AWS allows: 7 to 30"),
            ));
        }
    }
    let c = &id.cognito;
    if !c.enabled {
        return;
    }
    if !["off", "optional", "on"].contains(&c.mfa.as_str()) {
        out.push(problem(
            "identity.cognito.mfa",
            format!("`{}` must be off, optional or on", c.mfa),
        ));
    }
    if !["email", "username"].contains(&c.sign_in.as_str()) {
        out.push(problem(
            "identity.cognito.sign_in",
            format!("`{}` must be email or username", c.sign_in),
        ));
    }
    if !(8..=99).contains(&c.password_min_length) {
        out.push(problem(
            "identity.cognito.password_min_length",
            format!("{} is outside 8 to 99", c.password_min_length),
        ));
    }
    for (i, url) in c.callback_urls.iter().chain(&c.logout_urls).enumerate() {
        let local = url.starts_with("http://localhost") || url.starts_with("http://127.0.0.1");
        if !(url.starts_with("https://") || local) || url.contains('#') {
            let path = if i < c.callback_urls.len() {
                "identity.cognito.callback_urls"
            } else {
                "identity.cognito.logout_urls"
            };
            out.push(problem(
                path,
                format!(
                    "`{url}` must be an https URL without a fragment (http only for localhost)"
                ),
            ));
        }
    }
    if c.api_identifier.is_empty() || c.api_identifier.contains(char::is_whitespace) {
        out.push(problem(
            "identity.cognito.api_identifier",
            "must be a non-empty identifier without spaces (like https://api.example.com)",
        ));
    }
    let word = |s: &String| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
    };
    if c.scopes.is_empty() || !c.scopes.iter().all(word) {
        out.push(problem(
            "identity.cognito.scopes",
            "must list at least one scope of letters, digits, `_`, `-`, `.`",
        ));
    }
    if !c.groups.iter().all(word) {
        out.push(problem(
            "identity.cognito.groups",
            "group names are letters, digits, `_`, `-`, `.`",
        ));
    }
}

/// A security group rule's protocol and port range as AWS wants them
/// (`IpProtocol`, `FromPort`, `ToPort`; `-1` for all).
///
/// # Errors
/// A message naming what is allowed.
pub fn parse_ports(protocol: &str, ports: &str) -> Result<(String, i32, i32), String> {
    let proto = match protocol {
        "tcp" | "udp" | "icmp" => protocol.to_owned(),
        "all" => "-1".to_owned(),
        other => {
            return Err(format!(
                "protocol `{other}`: allowed are tcp, udp, icmp, all"
            ))
        }
    };
    if proto == "-1" {
        return Ok((proto, -1, -1));
    }
    if ports == "all" {
        return Ok((proto, 0, 65535));
    }
    let parse = |p: &str| {
        p.trim().parse::<u16>().map_err(|_| {
            format!("ports `{ports}`: expected a port (443), a range (8000-8100) or all")
        })
    };
    let (from, to) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(ports)?, parse(ports)?),
    };
    if from > to {
        return Err(format!("ports `{ports}`: the range is reversed"));
    }
    Ok((proto, i32::from(from), i32::from(to)))
}

/// The other side of a security group rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Another group of the stack, by name.
    Group(String),
    /// An IPv4 CIDR.
    Cidr(Ipv4Net),
    /// The VPC's own CIDR.
    Vpc,
    /// A managed prefix list.
    PrefixList(String),
}

/// Parses a rule's `peer`.
///
/// # Errors
/// A message naming what is allowed.
pub fn parse_peer(peer: &str) -> Result<Peer, String> {
    if let Some(name) = peer.strip_prefix("sg:") {
        return Ok(Peer::Group(name.to_owned()));
    }
    if let Some(id) = peer.strip_prefix("pl:") {
        return Ok(Peer::PrefixList(id.to_owned()));
    }
    if peer == "vpc" {
        return Ok(Peer::Vpc);
    }
    peer.parse::<Ipv4Net>()
        .map(|n| Peer::Cidr(n.trunc()))
        .map_err(|_| {
            format!("peer `{peer}`: expected sg:<group>, a CIDR, vpc, or pl:<prefix list id>")
        })
}

fn validate_networking(cfg: &StackConfig, out: &mut Vec<Problem>) {
    let net = &cfg.networking;
    let tiers: Vec<crate::cidr::TierLayout> = net
        .tiers
        .iter()
        .map(|(name, t)| crate::cidr::TierLayout {
            name: name.clone(),
            slot: t.slot,
            prefix: t.prefix,
        })
        .collect();
    if net.tiers.is_empty() {
        out.push(problem(
            "networking.tiers",
            "declare at least one subnet tier",
        ));
    }
    if let Ok(vpc) = parse_vpc_cidr(&net.vpc_cidr) {
        match crate::cidr::carve(vpc, &tiers) {
            Err(crate::cidr::CarveError::DuplicateSlot {
                first,
                second,
                slot,
            }) => {
                // Both keys: either may be the one just changed.
                for (tier, other) in [(&first, &second), (&second, &first)] {
                    out.push(problem(
                        &format!("networking.tiers.{tier}.slot"),
                        format!("slot {slot} is also tier {other}'s; each tier needs its own"),
                    ));
                }
            }
            Err(
                e @ (crate::cidr::CarveError::BadPrefix { .. }
                | crate::cidr::CarveError::NoRoom { .. }),
            ) => {
                let tier = match &e {
                    crate::cidr::CarveError::BadPrefix { tier, .. }
                    | crate::cidr::CarveError::NoRoom { tier, .. } => tier.clone(),
                    crate::cidr::CarveError::DuplicateSlot { .. } => String::new(),
                };
                out.push(problem(
                    &format!("networking.tiers.{tier}.prefix"),
                    e.to_string(),
                ));
            }
            Ok(_) => {}
        }
    }
    for (name, t) in &net.tiers {
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || name.is_empty()
        {
            out.push(problem(
                &format!("networking.tiers.{name}"),
                "tier names are a-z, 0-9 and -",
            ));
        }
        if t.map_public_ip && t.kind != super::model::TierKind::Public {
            out.push(problem(
                &format!("networking.tiers.{name}.map_public_ip"),
                "only public tiers may map public IPs",
            ));
        }
    }
    let has_public = net
        .tiers
        .values()
        .any(|t| t.kind == super::model::TierKind::Public);
    if net.nat_gateways > 0 && !has_public {
        out.push(problem(
            "networking.nat_gateways",
            "NAT gateways live in public subnets: declare a tier with kind = \"public\"",
        ));
    }
    for (name, sg) in &net.security_groups {
        let base = format!("networking.security_groups.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push(problem(&base, "group names are letters, digits, - and _"));
        }
        if sg.description.is_empty() || sg.description.len() > 255 {
            out.push(problem(
                &format!("{base}.description"),
                "must be 1-255 characters",
            ));
        }
        for (direction, rules) in [("ingress", &sg.ingress), ("egress", &sg.egress)] {
            for (i, rule) in rules.iter().enumerate() {
                let path = format!("{base}.{direction}[{i}]");
                if let Err(msg) = parse_ports(&rule.protocol, &rule.ports) {
                    out.push(problem(&format!("{path}.ports"), msg));
                }
                match parse_peer(&rule.peer) {
                    Err(msg) => out.push(problem(&format!("{path}.peer"), msg)),
                    Ok(Peer::Group(other)) if !net.security_groups.contains_key(&other) => out
                        .push(problem(
                            &format!("{path}.peer"),
                            format!(
                                "no security group `{other}`; declared: {}",
                                net.security_groups
                                    .keys()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )),
                    Ok(_) => {}
                }
                if rule.description.len() > 255 {
                    out.push(problem(
                        &format!("{path}.description"),
                        "at most 255 characters",
                    ));
                }
            }
        }
    }
    if net.enabled && net.flow_logs && !cfg.identity.enabled {
        out.push(problem(
            "networking.flow_logs",
            "flow logs are delivered with a role of the identity layer: set identity.enabled = true, or flow_logs = false",
        ));
    }
    const RETENTION: &[u16] = &[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];
    if !RETENTION.contains(&net.flow_log_retention_days) {
        out.push(problem(
            "networking.flow_log_retention_days",
            format!("{} days: CloudWatch Logs accepts 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653", net.flow_log_retention_days),
        ));
    }
    for (i, service) in net.interface_endpoints.iter().enumerate() {
        if service.is_empty()
            || !service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            out.push(problem(
                &format!("networking.interface_endpoints[{i}]"),
                format!(
                    "`{service}` is not a service name (like secretsmanager or bedrock-runtime)"
                ),
            ));
        }
    }
    if !net.interface_endpoints.is_empty() {
        match &net.endpoint_security_group {
            None => out.push(problem(
                "networking.endpoint_security_group",
                "interface endpoints need a security group: name one of networking.security_groups",
            )),
            Some(g) if !net.security_groups.contains_key(g) => {
                out.push(problem(
                    "networking.endpoint_security_group",
                    format!("no security group `{g}`"),
                ));
            }
            Some(_) => {}
        }
        if !net
            .tiers
            .values()
            .any(|t| t.kind == super::model::TierKind::Private)
        {
            out.push(problem(
                "networking.interface_endpoints",
                "interface endpoints live in a private tier: declare one",
            ));
        }
    }
    for (name, nacl) in &net.nacls {
        let base = format!("networking.nacls.{name}");
        for (i, tier) in nacl.tiers.iter().enumerate() {
            if !net.tiers.contains_key(tier) {
                out.push(problem(
                    &format!("{base}.tiers[{i}]"),
                    format!("no tier `{tier}`"),
                ));
            }
            if net
                .nacls
                .iter()
                .any(|(other, n)| other < name && n.tiers.contains(tier))
            {
                out.push(problem(
                    &format!("{base}.tiers[{i}]"),
                    format!("tier `{tier}` already has a network ACL: a subnet has exactly one"),
                ));
            }
        }
        for (direction, entries) in [("ingress", &nacl.ingress), ("egress", &nacl.egress)] {
            let mut seen = std::collections::BTreeSet::new();
            for (i, e) in entries.iter().enumerate() {
                let path = format!("{base}.{direction}[{i}]");
                if !(1..=32766).contains(&e.rule) || !seen.insert(e.rule) {
                    out.push(problem(
                        &format!("{path}.rule"),
                        format!(
                            "{}: rule numbers are 1-32766 and unique per direction",
                            e.rule
                        ),
                    ));
                }
                if !["allow", "deny"].contains(&e.action.as_str()) {
                    out.push(problem(
                        &format!("{path}.action"),
                        format!("`{}`: allowed are allow, deny", e.action),
                    ));
                }
                if let Err(msg) = parse_ports(&e.protocol, &e.ports) {
                    out.push(problem(&format!("{path}.ports"), msg));
                }
                if e.cidr != "vpc" && e.cidr.parse::<Ipv4Net>().is_err() {
                    out.push(problem(
                        &format!("{path}.cidr"),
                        format!("`{}` is not an IPv4 CIDR (or vpc)", e.cidr),
                    ));
                }
            }
        }
    }
    for (i, endpoint) in net.gateway_endpoints.iter().enumerate() {
        if !["s3", "dynamodb"].contains(&endpoint.as_str()) {
            out.push(problem(
                &format!("networking.gateway_endpoints[{i}]"),
                format!("`{endpoint}`: gateway endpoints exist for s3 and dynamodb"),
            ));
        }
    }
}

fn is_window(text: &str, with_day: bool) -> bool {
    let time = |t: &str| {
        let (h, m) = match t.split_once(':') {
            Some(p) => p,
            None => return false,
        };
        h.len() == 2
            && m.len() == 2
            && h.parse::<u8>().is_ok_and(|h| h < 24)
            && m.parse::<u8>().is_ok_and(|m| m < 60)
    };
    let point = |p: &str| {
        if with_day {
            match p.split_once(':') {
                Some((day, t)) => {
                    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].contains(&day) && time(t)
                }
                None => false,
            }
        } else {
            time(p)
        }
    };
    text.split_once('-')
        .is_some_and(|(a, b)| point(a) && point(b) && a != b)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_version(v: &str) -> bool {
    v.split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Parses a DynamoDB key written `name:type` (type S, N or B).
///
/// # Errors
/// A message saying what is allowed.
pub fn parse_key(text: &str) -> Result<(&str, &str), String> {
    match text.rsplit_once(':') {
        Some((name, ty))
            if !name.is_empty() && name.len() <= 255 && ["S", "N", "B"].contains(&ty) =>
        {
            Ok((name, ty))
        }
        _ => Err(format!(
            "`{text}` is not a key: write name:type with type S (string), N (number) or B (binary)"
        )),
    }
}

fn half_steps(x: f64) -> bool {
    (x * 2.0).fract() == 0.0
}

fn validate_database(cfg: &StackConfig, out: &mut Vec<Problem>) {
    use super::model::DbEngine;
    let db = &cfg.database;
    let net = &cfg.networking;
    let uses_network = db.enabled || db.cache.enabled;
    if uses_network && !net.enabled {
        out.push(problem(
            if db.enabled {
                "database.enabled"
            } else {
                "database.cache.enabled"
            },
            "the database and the cache live in the stack's subnets: set networking.enabled = true",
        ));
    }
    if uses_network && net.enabled {
        match net.tiers.get(&db.subnet_tier) {
            None => out.push(problem(
                "database.subnet_tier",
                format!(
                    "`{}` is not a tier of networking.tiers (there are: {})",
                    db.subnet_tier,
                    net.tiers.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            Some(_) if cfg.az_count < 2 => out.push(problem(
                "database.subnet_tier",
                "RDS and ElastiCache subnet groups need subnets in at least 2 AZs: set az_count to 2 or more",
            )),
            Some(_) => {}
        }
        let groups = |name: &str| net.security_groups.contains_key(name);
        if db.enabled && !groups(&db.security_group) {
            out.push(problem(
                "database.security_group",
                format!(
                    "`{}` is not a group of networking.security_groups",
                    db.security_group
                ),
            ));
        }
        if db.cache.enabled && !groups(&db.cache.security_group) {
            out.push(problem(
                "database.cache.security_group",
                format!(
                    "`{}` is not a group of networking.security_groups",
                    db.cache.security_group
                ),
            ));
        }
    }
    if db.enabled {
        let aurora = db.engine == DbEngine::AuroraPostgresql;
        let class_ok = db.instance_class.starts_with("db.")
            && (db.instance_class == "db.serverless" || db.instance_class.split('.').count() == 3);
        if !class_ok {
            out.push(problem(
                "database.instance_class",
                format!(
                    "`{}` is not an RDS instance class (like db.t3.micro, or db.serverless for Aurora Serverless v2)",
                    db.instance_class
                ),
            ));
        } else if !aurora && db.instance_class == "db.serverless" {
            out.push(problem(
                "database.instance_class",
                "db.serverless is for Aurora Serverless v2: set database.engine = \"aurora-postgresql\" or pick an instance class like db.t3.micro",
            ));
        }
        if !aurora && !(20..=65_536).contains(&db.allocated_storage_gb) {
            out.push(problem(
                "database.allocated_storage_gb",
                format!(
                    "{} GB is outside what gp3 storage allows for PostgreSQL: 20 to 65536",
                    db.allocated_storage_gb
                ),
            ));
        }
        if !is_version(&db.engine_version) {
            out.push(problem(
                "database.engine_version",
                format!(
                    "`{}` is not a PostgreSQL version (like 16.4)",
                    db.engine_version
                ),
            ));
        }
        let min_days = u8::from(aurora);
        if !(min_days..=35).contains(&db.backup_retention_days) {
            out.push(problem(
                "database.backup_retention_days",
                format!(
                    "{} days is outside {min_days} to 35",
                    db.backup_retention_days
                ),
            ));
        }
        if db.multi_az && cfg.az_count < 2 {
            out.push(problem(
                "database.multi_az",
                "Multi-AZ needs az_count of at least 2",
            ));
        }
        if aurora && db.multi_az && db.aurora.readers == 0 {
            out.push(problem(
                "database.multi_az",
                "Multi-AZ Aurora needs a reader in another AZ: set database.aurora.readers to 1 or more",
            ));
        }
        if !is_window(&db.backup_window, false) {
            out.push(problem(
                "database.backup_window",
                format!(
                    "`{}` is not a UTC window like 03:00-04:00",
                    db.backup_window
                ),
            ));
        }
        if !is_window(&db.maintenance_window, true) {
            out.push(problem(
                "database.maintenance_window",
                format!(
                    "`{}` is not a weekly UTC window like sun:04:30-sun:05:30",
                    db.maintenance_window
                ),
            ));
        }
        if !is_identifier(&db.database_name) {
            out.push(problem(
                "database.database_name",
                format!(
                    "`{}` must be 1-63 letters, digits and _, starting with a letter",
                    db.database_name
                ),
            ));
        }
        if !is_identifier(&db.master_username) || db.master_username == "rdsadmin" {
            out.push(problem(
                "database.master_username",
                format!(
                    "`{}` must be 1-63 letters, digits and _, starting with a letter, and not rdsadmin",
                    db.master_username
                ),
            ));
        }
        for name in db.parameters.keys() {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if !ok {
                out.push(problem(
                    &format!("database.parameters.{name}"),
                    "is not a PostgreSQL parameter name (lowercase letters, digits, _ and .)",
                ));
            }
        }
        validate_aurora(cfg, out);
    }
    if db.vector.enabled {
        if !db.enabled || db.engine != DbEngine::AuroraPostgresql || !db.aurora.data_api {
            out.push(problem(
                "database.vector.enabled",
                "the vector schema is applied through the RDS Data API: it needs database.enabled, database.engine = \"aurora-postgresql\" and database.aurora.data_api = true",
            ));
        }
        if !(1..=16_000).contains(&db.vector.dimension) {
            out.push(problem(
                "database.vector.dimension",
                format!("{} is outside 1 to 16000", db.vector.dimension),
            ));
        }
    }
    validate_cache(cfg, out);
    for (name, table) in &db.tables {
        validate_table(name, table, out);
    }
}

fn validate_aurora(cfg: &StackConfig, out: &mut Vec<Problem>) {
    use super::model::DbEngine;
    let db = &cfg.database;
    if db.engine != DbEngine::AuroraPostgresql {
        return;
    }
    let a = &db.aurora;
    if a.readers > 15 {
        out.push(problem(
            "database.aurora.readers",
            format!("{} is outside 0 to 15", a.readers),
        ));
    }
    if db.instance_class != "db.serverless" {
        return;
    }
    if !(0.0..=256.0).contains(&a.min_acu) || !half_steps(a.min_acu) {
        out.push(problem(
            "database.aurora.min_acu",
            format!("{} is not 0 to 256 in steps of 0.5", a.min_acu),
        ));
    }
    if !(1.0..=256.0).contains(&a.max_acu) || !half_steps(a.max_acu) {
        out.push(problem(
            "database.aurora.max_acu",
            format!("{} is not 1 to 256 in steps of 0.5", a.max_acu),
        ));
    }
    if a.min_acu > a.max_acu {
        out.push(problem(
            "database.aurora.min_acu",
            format!(
                "{} is above max_acu ({}): the range must be min <= max",
                a.min_acu, a.max_acu
            ),
        ));
    }
}

fn validate_cache(cfg: &StackConfig, out: &mut Vec<Problem>) {
    let cache = &cfg.database.cache;
    if !cache.enabled {
        return;
    }
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
    if cache.nodes > 1 && cfg.az_count < 2 {
        out.push(problem(
            "database.cache.nodes",
            "replicas with automatic failover and Multi-AZ need az_count of at least 2",
        ));
    }
    if !is_version(&cache.engine_version) {
        out.push(problem(
            "database.cache.engine_version",
            format!(
                "`{}` is not a Redis version (like 7.1)",
                cache.engine_version
            ),
        ));
    }
    if cache.snapshot_retention_days > 35 {
        out.push(problem(
            "database.cache.snapshot_retention_days",
            format!("{} days is outside 0 to 35", cache.snapshot_retention_days),
        ));
    }
}

fn validate_table(name: &str, t: &super::model::TableConfig, out: &mut Vec<Problem>) {
    let base = format!("database.tables.{name}");
    let name_ok = (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !name_ok {
        out.push(problem(
            &base,
            "a table name is 3-255 characters of a-z, A-Z, 0-9, _, - and .",
        ));
    }
    let mut key = |path: String, text: &str| {
        if let Err(msg) = parse_key(text) {
            out.push(problem(&path, msg));
        }
    };
    key(format!("{base}.partition_key"), &t.partition_key);
    if let Some(sort) = &t.sort_key {
        key(format!("{base}.sort_key"), sort);
    }
    for (index, i) in &t.indexes {
        key(
            format!("{base}.indexes.{index}.partition_key"),
            &i.partition_key,
        );
        if let Some(sort) = &i.sort_key {
            key(format!("{base}.indexes.{index}.sort_key"), sort);
        }
    }
    for (index, i) in &t.indexes {
        let p = &i.projection;
        let keyword = |w: &str| p.iter().any(|x| x == w);
        if p.is_empty() || ((keyword("all") || keyword("keys-only")) && p.len() > 1) {
            out.push(problem(
                &format!("{base}.indexes.{index}.projection"),
                "is [\"all\"], [\"keys-only\"], or a list of non-key attribute names",
            ));
        }
    }
    if t.indexes.len() > 20 {
        out.push(problem(
            &format!("{base}.indexes"),
            format!("{} indexes: a table has at most 20", t.indexes.len()),
        ));
    }
    match t.billing.as_str() {
        "on-demand" => {
            for (field, v) in [
                ("read_capacity", t.read_capacity),
                ("write_capacity", t.write_capacity),
            ] {
                if v != 0 {
                    out.push(problem(
                        &format!("{base}.{field}"),
                        "capacity applies only to billing = \"provisioned\"; remove read_capacity and write_capacity or switch billing",
                    ));
                }
            }
        }
        "provisioned" => {
            for (field, v) in [
                ("read_capacity", t.read_capacity),
                ("write_capacity", t.write_capacity),
            ] {
                if v == 0 {
                    out.push(problem(
                        &format!("{base}.{field}"),
                        "provisioned billing needs at least 1 capacity unit",
                    ));
                }
            }
        }
        other => out.push(problem(
            &format!("{base}.billing"),
            format!("`{other}` is not a billing mode: on-demand or provisioned"),
        )),
    }
    if let Some(ttl) = &t.ttl_attribute {
        if ttl.is_empty() || ttl.len() > 255 {
            out.push(problem(
                &format!("{base}.ttl_attribute"),
                "is an attribute name of 1-255 characters",
            ));
        }
    }
}

/// The retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: &[u16] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The alarms a composite alarm rule names: `(start, end, name)` for each `ALARM(x)`,
/// `OK(x)` or `INSUFFICIENT_DATA(x)`, where `start..end` spans the name (without quotes) in
/// `rule`. Names may be quoted (`ALARM("a")`) or bare (`ALARM(a)`).
///
/// # Errors
/// An unclosed call or an empty name, described.
pub fn alarm_rule_refs(rule: &str) -> Result<Vec<(usize, usize, String)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rule.len() {
        let rest = &rule[i..];
        let func = ["INSUFFICIENT_DATA(", "ALARM(", "OK("]
            .into_iter()
            .find(|f| rest.starts_with(f))
            .filter(|_| {
                rule[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
            });
        let Some(func) = func else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let open = i + func.len();
        let close = rule[open..]
            .find(')')
            .map(|c| open + c)
            .ok_or_else(|| format!("`{}` is not closed by `)`", &rule[i..]))?;
        let inner = &rule[open..close];
        let trimmed = inner.trim();
        let (name, offset) = match trimmed.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(n) => (n, inner.find('"').map_or(0, |q| q + 1)),
            None => (trimmed, inner.find(trimmed).unwrap_or(0)),
        };
        if name.is_empty() {
            return Err(format!("`{}` names no alarm", &rule[i..=close]));
        }
        let start = open + offset;
        out.push((start, start + name.len(), name.to_owned()));
        i = close + 1;
    }
    Ok(out)
}

fn is_short_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_observability(cfg: &StackConfig, out: &mut Vec<Problem>) {
    let obs = &cfg.observability;
    if !obs.enabled {
        return;
    }
    if !cfg.identity.enabled {
        out.push(problem(
            "observability.enabled",
            "log groups and the alert topic are encrypted with the identity layer's KMS key: set identity.enabled = true",
        ));
    }
    if !LOG_RETENTION_DAYS.contains(&obs.log_retention_days) {
        out.push(problem(
            "observability.log_retention_days",
            format!(
                "{} is not a retention CloudWatch Logs accepts; allowed: {}",
                obs.log_retention_days,
                LOG_RETENTION_DAYS
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for (i, g) in obs.log_groups.iter().enumerate() {
        if !is_short_name(g) {
            out.push(problem(
                &format!("observability.log_groups[{i}]"),
                format!("`{g}` must be 1-64 characters of letters, digits, - and _"),
            ));
        }
        if obs.log_groups[..i].contains(g) {
            out.push(problem(
                &format!("observability.log_groups[{i}]"),
                format!("`{g}` is listed twice"),
            ));
        }
    }
    for (i, e) in obs.alert_emails.iter().enumerate() {
        let ok = e.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.')
        }) && !e.contains(char::is_whitespace);
        if !ok {
            out.push(problem(
                &format!("observability.alert_emails[{i}]"),
                format!("`{e}` is not an email address"),
            ));
        }
    }
    for (name, a) in &obs.alarms {
        validate_alarm(cfg, name, a, out);
    }
    let mut names: Vec<&String> = obs.alarms.keys().collect();
    names.extend(obs.composite_alarms.keys());
    for (name, c) in &obs.composite_alarms {
        let base = format!("observability.composite_alarms.{name}");
        if !is_short_name(name) {
            out.push(problem(
                &base,
                format!("`{name}` must be 1-64 characters of letters, digits, - and _"),
            ));
        }
        if obs.alarms.contains_key(name) {
            out.push(problem(
                &base,
                format!("`{name}` is also the name of a metric alarm"),
            ));
        }
        match alarm_rule_refs(&c.rule) {
            Ok(refs) if refs.is_empty() => out.push(problem(
                &format!("{base}.rule"),
                "names no alarm: write ALARM(<name>), OK(<name>) or INSUFFICIENT_DATA(<name>) joined by AND, OR, NOT",
            )),
            Ok(refs) => {
                for (_, _, r) in refs {
                    if r == *name || !names.iter().any(|n| **n == r) {
                        out.push(problem(
                            &format!("{base}.rule"),
                            format!(
                                "`{r}` is not another alarm of this stack; known: {}",
                                names.iter().filter(|n| **n != name).map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            Err(msg) => out.push(problem(&format!("{base}.rule"), msg)),
        }
    }
    if obs.dashboard && obs.alarms.is_empty() {
        out.push(problem(
            "observability.dashboard",
            "the dashboard shows the metric alarms: declare at least one in observability.alarms",
        ));
    }
    for (name, q) in &obs.queries {
        let base = format!("observability.queries.{name}");
        if !is_short_name(name) {
            out.push(problem(
                &base,
                format!("`{name}` must be 1-64 characters of letters, digits, - and _"),
            ));
        }
        if q.query.trim().is_empty() {
            out.push(problem(&format!("{base}.query"), "is empty"));
        }
        if q.log_groups.is_empty() {
            out.push(problem(&format!("{base}.log_groups"), "names no log group"));
        }
        for g in &q.log_groups {
            if !obs.log_groups.contains(g) {
                out.push(problem(
                    &format!("{base}.log_groups"),
                    format!(
                        "`{g}` is not in observability.log_groups ({})",
                        obs.log_groups.join(", ")
                    ),
                ));
            }
        }
    }
}

/// The references a metric alarm's dimension value may hold, `${...}`, for the names of
/// resources the stack itself creates: `database.identifier` (the RDS instance or Aurora
/// cluster), `database.cache` (the Redis replication group), `database.table.<name>`.
/// Returns the reference's key, or an error naming what is allowed.
///
/// # Errors
/// An unclosed `${`, or a key this stack does not declare.
pub fn dimension_ref(cfg: &StackConfig, value: &str) -> Result<Option<String>, String> {
    let Some(start) = value.find("${") else {
        return Ok(None);
    };
    let end = value[start..]
        .find('}')
        .map(|e| start + e)
        .ok_or_else(|| format!("`{value}`: `${{` is not closed by `}}`"))?;
    if start != 0 || end != value.len() - 1 {
        return Err(format!(
            "`{value}`: a reference must be the whole value, like \"${{database.identifier}}\""
        ));
    }
    let key = &value[2..end];
    let db = &cfg.database;
    let mut allowed = Vec::new();
    if db.enabled {
        allowed.push("database.identifier".to_owned());
    }
    if db.cache.enabled {
        allowed.push("database.cache".to_owned());
    }
    allowed.extend(db.tables.keys().map(|t| format!("database.table.{t}")));
    if allowed.iter().any(|a| a == key) {
        Ok(Some(key.to_owned()))
    } else {
        Err(format!(
            "`${{{key}}}` names nothing this stack creates; allowed here: {}",
            if allowed.is_empty() {
                "(none)".to_owned()
            } else {
                allowed.join(", ")
            }
        ))
    }
}

fn validate_alarm(
    cfg: &StackConfig,
    name: &str,
    a: &super::model::AlarmConfig,
    out: &mut Vec<Problem>,
) {
    let base = format!("observability.alarms.{name}");
    for (dim, value) in &a.dimensions {
        if let Err(msg) = dimension_ref(cfg, value) {
            out.push(problem(&format!("{base}.dimensions.{dim}"), msg));
        }
    }
    if !is_short_name(name) {
        out.push(problem(
            &base,
            format!("`{name}` must be 1-64 characters of letters, digits, - and _"),
        ));
    }
    for (field, value, allowed) in [
        (
            "statistic",
            &a.statistic,
            &["SampleCount", "Average", "Sum", "Minimum", "Maximum"][..],
        ),
        (
            "comparison",
            &a.comparison,
            &[
                "GreaterThanThreshold",
                "GreaterThanOrEqualToThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ][..],
        ),
        (
            "treat_missing_data",
            &a.treat_missing_data,
            &["breaching", "notBreaching", "ignore", "missing"][..],
        ),
    ] {
        if !allowed.contains(&value.as_str()) {
            out.push(problem(
                &format!("{base}.{field}"),
                format!("`{value}` is not allowed; allowed: {}", allowed.join(", ")),
            ));
        }
    }
    if a.namespace.trim().is_empty() || a.metric.trim().is_empty() {
        out.push(problem(
            &format!("{base}.metric"),
            "namespace and metric must both be set",
        ));
    }
    if !(a.period_seconds == 10
        || a.period_seconds == 30
        || (a.period_seconds >= 60 && a.period_seconds.is_multiple_of(60)))
    {
        out.push(problem(
            &format!("{base}.period_seconds"),
            format!("{} is not 10, 30 or a multiple of 60", a.period_seconds),
        ));
    }
    // In u64: two u32 keys multiplied overflow u32 (86400 s x 50000 periods).
    let evaluated = u64::from(a.evaluation_periods) * u64::from(a.period_seconds);
    if a.evaluation_periods == 0 || evaluated > 7 * 86_400 {
        out.push(problem(
            &format!("{base}.evaluation_periods"),
            format!(
                "{} periods of {} s evaluate {evaluated} s: must be at least 1, and evaluate at most 7 days (604800 s)",
                a.evaluation_periods, a.period_seconds
            ),
        ));
    }
    if let Some(d) = a.datapoints_to_alarm {
        if d == 0 || d > a.evaluation_periods {
            out.push(problem(
                &format!("{base}.datapoints_to_alarm"),
                format!(
                    "{d} must be 1 to evaluation_periods ({})",
                    a.evaluation_periods
                ),
            ));
        }
    }
    if !a.threshold.is_finite() {
        out.push(problem(
            &format!("{base}.threshold"),
            "must be a finite number",
        ));
    }
}
