//! Tests of loading and validation: precedence with `figment::Jail`, and properties over
//! generated configurations.

use std::collections::BTreeMap;

use figment::Jail;
use proptest::prelude::*;

use super::*;

fn base() -> StackConfig {
    StackConfig {
        stack: "shop".into(),
        project: "shop".into(),
        owner: "platform".into(),
        cost_center: "cc-1".into(),
        region: "eu-west-1".into(),
        account_id: None,
        production: None,
        az_count: 3,
        networking: NetworkingConfig {
            enabled: true,
            vpc_cidr: "10.2.0.0/16".into(),
            nat_gateways: 3,
            flow_logs: true,
            flow_log_retention_days: 30,
            tiers: [
                (
                    "public".to_owned(),
                    TierConfig {
                        slot: 0,
                        prefix: 24,
                        kind: TierKind::Public,
                        map_public_ip: false,
                    },
                ),
                (
                    "private".to_owned(),
                    TierConfig {
                        slot: 1,
                        prefix: 20,
                        kind: TierKind::Private,
                        map_public_ip: false,
                    },
                ),
            ]
            .into(),
            security_groups: [
                (
                    "app".to_owned(),
                    SecurityGroupConfig {
                        description: "app".into(),
                        ingress: vec![],
                        egress: vec![],
                    },
                ),
                (
                    "db".to_owned(),
                    SecurityGroupConfig {
                        description: "db".into(),
                        ingress: vec![RuleConfig {
                            protocol: "tcp".into(),
                            ports: "5432".into(),
                            peer: "sg:app".into(),
                            description: "pg".into(),
                        }],
                        egress: vec![],
                    },
                ),
            ]
            .into(),
            gateway_endpoints: vec!["s3".into()],
            interface_endpoints: vec![],
            nacls: BTreeMap::new(),
            endpoint_security_group: None,
        },
        database: DatabaseConfig {
            enabled: true,
            engine_version: "16.4".into(),
            instance_class: "db.t3.medium".into(),
            allocated_storage_gb: 100,
            multi_az: true,
            backup_retention_days: 7,
            deletion_protection: true,
            storage_encrypted: true,
            publicly_accessible: false,
            engine: DbEngine::Postgres,
            subnet_tier: "private".into(),
            security_group: "db".into(),
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            apply_immediately: true,
            performance_insights: true,
            iam_auth: true,
            final_snapshot: true,
            database_name: "app".into(),
            master_username: "ironbark".into(),
            parameters: BTreeMap::new(),
            aurora: AuroraConfig::default(),
            vector: VectorConfig::default(),
            tables: BTreeMap::new(),
            cache: CacheConfig {
                enabled: true,
                node_type: "cache.t3.medium".into(),
                nodes: 3,
                engine_version: "7.1".into(),
                snapshot_retention_days: 1,
                security_group: "db".into(),
            },
        },
        identity: IdentityConfig {
            enabled: true,
            kms_deletion_window_days: 30,
            secret_recovery_days: 7,
            cognito: CognitoConfig {
                enabled: true,
                mfa: "optional".into(),
                advanced_security: true,
                deletion_protection: true,
                sign_in: "email".into(),
                password_min_length: 12,
                callback_urls: vec!["https://app.example.com/callback".into()],
                logout_urls: vec!["https://app.example.com/".into()],
                api_identifier: "https://api.example.com".into(),
                scopes: vec!["read".into(), "write".into()],
                groups: vec!["admins".into()],
            },
        },
        observability: ObservabilityConfig::default(),
    }
}

/// A stack file with `cfg` as `[default]` and the given profile tables (TOML fragments).
fn stack_file(cfg: &StackConfig, profiles: &[(&str, &str)]) -> String {
    let mut root = toml::Table::new();
    root.insert("default".into(), toml::Value::try_from(cfg).unwrap());
    for (name, body) in profiles {
        root.insert(
            (*name).into(),
            toml::Value::Table(toml::from_str(body).unwrap()),
        );
    }
    toml::to_string(&root).unwrap()
}

#[allow(clippy::result_large_err)] // figment::Error is large; this is test code.
fn load_in_jail(
    file: &str,
    profile: &str,
    env: &[(&str, &str)],
    sets: &[(&str, &str)],
) -> Result<Loaded, ConfigErrors> {
    let mut out = None;
    Jail::expect_with(|jail| {
        jail.create_file("ironbark.toml", file)?;
        for (k, v) in env {
            jail.set_env(k, v);
        }
        let mut opts = LoadOptions::new(jail.directory().join("ironbark.toml"), profile);
        for (k, v) in sets {
            opts = opts.set(k, v);
        }
        out = Some(load(&opts));
        Ok(())
    });
    out.unwrap()
}

#[test]
fn precedence_default_profile_env_flags() {
    let file = stack_file(
        &base(),
        &[
            ("dev", "az_count = 2\nnetworking.nat_gateways = 1"),
            ("prod", ""),
        ],
    );
    let dev = load_in_jail(&file, "dev", &[], &[]).unwrap();
    assert_eq!(
        dev.config.az_count, 2,
        "the profile table overrides [default]"
    );
    assert_eq!(
        dev.config.networking.vpc_cidr, "10.2.0.0/16",
        "unset keys come from [default]"
    );
    assert!(!dev.production);

    let env = load_in_jail(
        &file,
        "dev",
        &[
            ("IRONBARK_NETWORKING__NAT_GATEWAYS", "2"),
            ("IRONBARK_AZ_COUNT", "2"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        env.config.networking.nat_gateways, 2,
        "environment overrides the profile"
    );

    let flags = load_in_jail(
        &file,
        "dev",
        &[("IRONBARK_AZ_COUNT", "2")],
        &[
            ("az_count", "1"),
            ("networking.nat_gateways", "1"),
            ("database.multi_az", "false"),
            ("database.cache.nodes", "1"),
            ("database.enabled", "false"),
            ("database.cache.enabled", "false"),
        ],
    )
    .unwrap();
    assert_eq!(flags.config.az_count, 1, "--set overrides the environment");

    let prod = load_in_jail(&file, "prod", &[], &[]).unwrap();
    assert!(prod.production, "the profile named prod is production");
}

#[test]
fn reserved_environment_variables_are_not_config_keys() {
    let file = stack_file(&base(), &[("dev", "")]);
    let env = [
        ("IRONBARK_ENV", "dev"),
        ("IRONBARK_TESTKIT_EMULATOR_URL", "http://x"),
        ("IRONBARK_STACK_FILE", "f.toml"),
        ("IRONBARK_PYTHON", "python3"),
    ];
    if let Err(e) = load_in_jail(&file, "dev", &env, &[]) {
        panic!("{e}");
    }
}

#[test]
fn errors_name_key_file_and_table() {
    let file = stack_file(
        &base(),
        &[(
            "prod",
            "networking.vpc_cidr = \"10.0.0.0/33\"\ndatabase.allocated_storage_gb = 5",
        )],
    );
    let err = load_in_jail(&file, "prod", &[], &[]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("networking.vpc_cidr (from ironbark.toml [prod])"),
        "{text}"
    );
    assert!(
        text.contains("database.allocated_storage_gb (from ironbark.toml [prod]): 5 GB"),
        "{text}"
    );
    assert!(text.lines().count() <= 24, "more than a screen: {text}");
}

#[test]
fn unknown_profile_lists_the_known_ones() {
    let file = stack_file(&base(), &[("dev", ""), ("prod", "")]);
    let err = load_in_jail(&file, "nope", &[], &[]).unwrap_err();
    assert!(err.mentions("--env"));
    assert!(err.to_string().contains("declares: dev, prod"), "{err}");
}

#[test]
fn security_rules_fail_prod_and_warn_elsewhere() {
    let mut cfg = base();
    cfg.database.storage_encrypted = false;
    let file = stack_file(&cfg, &[("dev", ""), ("prod", "")]);
    let dev = load_in_jail(&file, "dev", &[], &[]).unwrap();
    assert!(dev.warnings.iter().any(|w| w.rule == "CKV_AWS_16"));
    let err = load_in_jail(&file, "prod", &[], &[]).unwrap_err();
    assert!(err.to_string().contains("CKV_AWS_16"), "{err}");
}

#[test]
fn unencrypted_log_groups_are_refused_as_ckv_aws_158() {
    let mut cfg = base();
    cfg.networking.enabled = true;
    cfg.networking.flow_logs = true;
    cfg.identity.enabled = false;
    let found = crate::config::security::check(&cfg);
    assert!(
        found
            .iter()
            .any(|f| f.rule == "CKV_AWS_158" && f.path == "identity.enabled"),
        "{found:?}"
    );
    cfg.identity.enabled = true;
    assert!(!crate::config::security::check(&cfg)
        .iter()
        .any(|f| f.rule == "CKV_AWS_158"));
}

#[test]
fn the_shipped_stack_file_has_seed_001s_numbers() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ironbark.toml");
    let get = |profile: &str| {
        let mut opts = LoadOptions::new(&file, profile);
        opts.use_env = false;
        load(&opts).unwrap_or_else(|e| panic!("{e}")).config
    };
    let (dev, staging, prod) = (get("dev"), get("staging"), get("prod"));
    let row = |c: &StackConfig| {
        (
            c.networking.vpc_cidr.clone(),
            c.az_count,
            c.networking.nat_gateways,
            c.database.instance_class.clone(),
            c.database.allocated_storage_gb,
            c.database.multi_az,
            c.database.cache.node_type.clone(),
            c.database.cache.nodes,
        )
    };
    assert_eq!(
        row(&dev),
        (
            "10.0.0.0/16".into(),
            2,
            1,
            "db.t3.micro".into(),
            20,
            false,
            "cache.t3.micro".into(),
            1
        )
    );
    assert_eq!(
        row(&staging),
        (
            "10.1.0.0/16".into(),
            3,
            3,
            "db.t3.small".into(),
            50,
            false,
            "cache.t3.small".into(),
            2
        )
    );
    assert_eq!(
        row(&prod),
        (
            "10.2.0.0/16".into(),
            3,
            3,
            "db.t3.medium".into(),
            100,
            true,
            "cache.t3.medium".into(),
            3
        )
    );
}

/// Valid configurations (production-safe, so they load in any profile).
fn valid_config() -> impl Strategy<Value = StackConfig> {
    (
        1u8..=6,
        0u8..3,
        0u8..=255,
        16u8..=20,
        20u32..=65_536,
        7u8..=35,
        1u8..=6,
        "[a-z][a-z0-9-]{0,20}",
    )
        .prop_map(
            |(az, nat_kind, second_octet, prefix, storage, backups, nodes, stack)| {
                let mut cfg = base();
                cfg.stack = stack;
                cfg.az_count = az.max(2);
                cfg.networking.nat_gateways = [0, 1, cfg.az_count][usize::from(nat_kind)];
                let net =
                    ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, second_octet, 0, 0), prefix)
                        .unwrap()
                        .trunc();
                cfg.networking.vpc_cidr = net.to_string();
                // Tiers sized to the VPC: public blocks take 1/32, private ones half of it.
                for (tier, extra) in [("public", 8), ("private", 4)] {
                    if let Some(t) = cfg.networking.tiers.get_mut(tier) {
                        t.prefix = prefix + extra;
                    }
                }
                cfg.database.allocated_storage_gb = storage;
                cfg.database.backup_retention_days = backups;
                cfg.database.cache.nodes = nodes;
                cfg
            },
        )
}

/// One kind of invalid change, and the key path its error must name.
#[derive(Debug, Clone)]
enum Breakage {
    CidrPrefix(u8),
    CidrHostBits,
    CidrPublic,
    NatMismatch,
    StorageTooSmall(u32),
    AzCount(u8),
    UnknownKey,
    InstanceClass,
    CacheNodes(u8),
    TierTooBig,
    UnknownPeerGroup,
    BadPorts,
    AcuInverted(u8),
    TableKey,
    VectorOnInstance,
    MaintenanceWindow,
    ProvisionedWithoutCapacity,
}

fn breakage() -> impl Strategy<Value = Breakage> {
    prop_oneof![
        prop_oneof![0u8..16, 25u8..=40].prop_map(Breakage::CidrPrefix),
        Just(Breakage::CidrHostBits),
        Just(Breakage::CidrPublic),
        Just(Breakage::NatMismatch),
        (0u32..20).prop_map(Breakage::StorageTooSmall),
        prop_oneof![Just(0u8), 7u8..=255].prop_map(Breakage::AzCount),
        Just(Breakage::UnknownKey),
        Just(Breakage::InstanceClass),
        prop_oneof![Just(0u8), 7u8..=255].prop_map(Breakage::CacheNodes),
        Just(Breakage::TierTooBig),
        Just(Breakage::UnknownPeerGroup),
        Just(Breakage::BadPorts),
        (1u8..=8).prop_map(Breakage::AcuInverted),
        Just(Breakage::TableKey),
        Just(Breakage::VectorOnInstance),
        Just(Breakage::MaintenanceWindow),
        Just(Breakage::ProvisionedWithoutCapacity),
    ]
}

/// The profile table that breaks a config, and the key path the error must name.
fn break_it(cfg: &StackConfig, b: &Breakage) -> (String, &'static str) {
    match b {
        Breakage::CidrPrefix(p) => (
            format!("networking.vpc_cidr = \"10.0.0.0/{p}\""),
            "networking.vpc_cidr",
        ),
        Breakage::CidrHostBits => (
            "networking.vpc_cidr = \"10.0.0.1/16\"".into(),
            "networking.vpc_cidr",
        ),
        Breakage::CidrPublic => (
            "networking.vpc_cidr = \"8.8.0.0/16\"".into(),
            "networking.vpc_cidr",
        ),
        Breakage::NatMismatch => {
            let n = if cfg.az_count == 2 { 3 } else { 2 };
            (
                format!(
                    "networking.nat_gateways = {n}\naz_count = {}",
                    cfg.az_count.max(3) + u8::from(cfg.az_count == 2)
                ),
                "networking.nat_gateways",
            )
        }
        Breakage::StorageTooSmall(gb) => (
            format!("database.allocated_storage_gb = {gb}"),
            "database.allocated_storage_gb",
        ),
        Breakage::AzCount(n) => (format!("az_count = {n}"), "az_count"),
        Breakage::UnknownKey => (
            "networking.vpc_cidrr = \"10.0.0.0/16\"".into(),
            "networking.vpc_cidrr",
        ),
        Breakage::InstanceClass => (
            "database.instance_class = \"t3.micro\"".into(),
            "database.instance_class",
        ),
        Breakage::CacheNodes(n) => (
            format!("database.cache.nodes = {n}"),
            "database.cache.nodes",
        ),
        Breakage::TierTooBig => ("networking.tiers.private = { slot = 1, prefix = 8, kind = \"private\" }".into(), "networking.tiers.private.prefix"),
        Breakage::UnknownPeerGroup => (
            "networking.security_groups.db = { description = \"d\", ingress = [{ protocol = \"tcp\", ports = \"5432\", peer = \"sg:nope\", description = \"x\" }] }".into(),
            "networking.security_groups.db.ingress[0].peer",
        ),
        Breakage::BadPorts => (
            "networking.security_groups.db = { description = \"d\", ingress = [{ protocol = \"tcp\", ports = \"99999\", peer = \"sg:app\", description = \"x\" }] }".into(),
            "networking.security_groups.db.ingress[0].ports",
        ),
        Breakage::AcuInverted(n) => (
            format!(
                "database.engine = \"aurora-postgresql\"\ndatabase.instance_class = \"db.serverless\"\ndatabase.aurora = {{ min_acu = {}.5, max_acu = {n}.0, readers = 1, data_api = true }}",
                n + 1
            ),
            "database.aurora.min_acu",
        ),
        Breakage::TableKey => (
            "database.tables.jobs = { partition_key = \"job_id:X\" }".into(),
            "database.tables.jobs.partition_key",
        ),
        Breakage::VectorOnInstance => (
            "database.engine = \"postgres\"\ndatabase.vector = { enabled = true, dimension = 1024 }".into(),
            "database.vector.enabled",
        ),
        Breakage::MaintenanceWindow => (
            "database.maintenance_window = \"sunday 4am\"".into(),
            "database.maintenance_window",
        ),
        Breakage::ProvisionedWithoutCapacity => (
            "database.tables.jobs = { partition_key = \"job_id:S\", billing = \"provisioned\" }".into(),
            "database.tables.jobs.read_capacity",
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_valid_configs_are_accepted(cfg in valid_config(), prod in any::<bool>()) {
        let profile = if prod { "prod" } else { "dev" };
        let loaded = load_in_jail(&stack_file(&cfg, &[(profile, "")]), profile, &[], &[]);
        let loaded = loaded.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(loaded.config, cfg);
    }

    #[test]
    fn prop_invalid_configs_are_rejected_with_their_key_path(cfg in valid_config(), b in breakage()) {
        let (table, path) = break_it(&cfg, &b);
        let err = load_in_jail(&stack_file(&cfg, &[("dev", &table)]), "dev", &[], &[]);
        let err = err.err().ok_or_else(|| TestCaseError::fail(format!("{b:?} was accepted")))?;
        prop_assert!(err.mentions(path), "{:?} should name {}: {}", b, path, err);
        let text = err.to_string();
        prop_assert!(text.contains("ironbark.toml"), "no file in {}", text);
    }

    #[test]
    fn prop_toml_round_trip(cfg in valid_config()) {
        let text = toml::to_string(&cfg).unwrap();
        let back: StackConfig = toml::from_str(&text).unwrap();
        prop_assert_eq!(back, cfg);
    }

    #[test]
    fn prop_profile_selection_takes_the_profiles_values(a in valid_config(), b in valid_config()) {
        let table = |c: &StackConfig| format!(
            "az_count = {}\nnetworking.nat_gateways = {}\nnetworking.vpc_cidr = \"{}\"\n\
             networking.tiers.public.prefix = {}\nnetworking.tiers.private.prefix = {}",
            c.az_count, c.networking.nat_gateways, c.networking.vpc_cidr,
            c.networking.tiers["public"].prefix, c.networking.tiers["private"].prefix
        );
        let file = stack_file(&base(), &[("one", &table(&a)), ("two", &table(&b))]);
        for (profile, want) in [("one", &a), ("two", &b)] {
            let got = load_in_jail(&file, profile, &[], &[]).map_err(|e| TestCaseError::fail(e.to_string()))?.config;
            prop_assert_eq!(got.az_count, want.az_count);
            prop_assert_eq!(&got.networking.vpc_cidr, &want.networking.vpc_cidr);
            prop_assert_eq!(got.networking.nat_gateways, want.networking.nat_gateways);
            prop_assert_eq!(got.database, base().database, "unset keys come from [default]");
        }
    }
}

#[test]
fn identity_errors_name_their_key_paths() {
    let mut cfg = base();
    cfg.identity.kms_deletion_window_days = 3;
    cfg.identity.cognito.mfa = "sometimes".into();
    cfg.identity.cognito.callback_urls = vec!["http://app.example.com/cb".into()];
    cfg.identity.cognito.scopes = vec![];
    let paths: Vec<String> = validate(&cfg).into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            "identity.kms_deletion_window_days",
            "identity.cognito.mfa",
            "identity.cognito.callback_urls",
            "identity.cognito.scopes"
        ]
    );
    cfg.identity.cognito.advanced_security = false;
    let rules: Vec<_> = security::check(&cfg).into_iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["IRONBARK_COGNITO_1"]);
    cfg.identity.enabled = false;
    assert!(validate(&cfg)
        .iter()
        .all(|p| !p.path.starts_with("identity")));
}

#[test]
fn observability_errors_name_their_key() {
    let mut cfg = base();
    cfg.observability = ObservabilityConfig {
        enabled: true,
        log_retention_days: 15,
        log_groups: vec!["api".into(), "api".into()],
        alert_emails: vec!["not-an-address".into()],
        alarms: BTreeMap::from([(
            "api-errors".into(),
            AlarmConfig {
                description: String::new(),
                namespace: "AWS/Lambda".into(),
                metric: "Errors".into(),
                dimensions: BTreeMap::new(),
                statistic: "Median".into(),
                period_seconds: 90,
                evaluation_periods: 2,
                datapoints_to_alarm: Some(3),
                threshold: 1.0,
                comparison: "GreaterThanThreshold".into(),
                treat_missing_data: "notBreaching".into(),
            },
        )]),
        composite_alarms: BTreeMap::from([(
            "api-down".into(),
            CompositeAlarmConfig {
                description: String::new(),
                rule: "ALARM(api-errors) OR ALARM(\"api-p99\")".into(),
            },
        )]),
        dashboard: true,
        queries: BTreeMap::from([(
            "errors".into(),
            QueryConfig {
                log_groups: vec!["web".into()],
                query: "fields @message".into(),
            },
        )]),
    };
    let mut paths: Vec<String> = validate(&cfg).into_iter().map(|p| p.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "observability.alarms.api-errors.datapoints_to_alarm",
            "observability.alarms.api-errors.period_seconds",
            "observability.alarms.api-errors.statistic",
            "observability.alert_emails[0]",
            "observability.composite_alarms.api-down.rule",
            "observability.log_groups[1]",
            "observability.log_retention_days",
            "observability.queries.errors.log_groups",
        ]
    );
    cfg.observability.alert_emails.clear();
    assert!(security::check(&cfg)
        .iter()
        .any(|f| f.rule == "IRONBARK_OBS_1" && f.path == "observability.alert_emails"));
    assert_eq!(
        alarm_rule_refs(r#"ALARM(a) AND NOT OK( "b c" ) OR XALARM(z)"#).unwrap(),
        vec![(6, 7, "a".to_owned()), (22, 25, "b c".to_owned())]
    );
    assert!(alarm_rule_refs("ALARM(a").is_err());
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A key path as validation and the loader write it: `networking.nacls.db.ingress[0].rule`.
fn dotted(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Every numeric key of `value` (and every unset optional one: serialized as null, it may be
/// numeric), with its path.
fn numeric_keys(value: &serde_json::Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        serde_json::Value::Number(_) | serde_json::Value::Null => out.push(path.clone()),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                numeric_keys(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                numeric_keys(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::Bool(_) | serde_json::Value::String(_) => {}
    }
}

/// The shipped stack file's profiles, resolved (offline, without the environment).
fn shipped_profiles() -> Vec<(String, StackConfig)> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ironbark.toml");
    ["dev", "prod"]
        .into_iter()
        .map(|profile| {
            let mut opts = LoadOptions::new(&file, profile);
            opts.use_env = false;
            let cfg = load(&opts).unwrap_or_else(|e| panic!("{e}")).config;
            (profile.to_owned(), cfg)
        })
        .collect()
}

/// Every numeric key of the schema, found by walking the shipped stack's resolved profiles
/// (so a key added to the model and the stack file is covered without touching this test).
fn schema_numeric_keys() -> Vec<Vec<Step>> {
    let mut keys = Vec::new();
    for (_, cfg) in shipped_profiles() {
        let json = serde_json::to_value(&cfg).unwrap();
        numeric_keys(&json, &mut Vec::new(), &mut keys);
    }
    let mut unique: Vec<Vec<Step>> = Vec::new();
    for k in keys {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    unique
}

/// Sets `path` in a TOML table to `value`, creating the last key if it is absent.
fn set_at(root: &mut toml::Value, path: &[Step], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for step in parents {
        node = match step {
            Step::Key(k) => node.get_mut(k.as_str()).unwrap(),
            Step::Index(i) => node.get_mut(*i).unwrap(),
        };
    }
    match last {
        Step::Key(k) => {
            node.as_table_mut().unwrap().insert(k.clone(), value);
        }
        Step::Index(i) => {
            *node.get_mut(*i).unwrap() = value;
        }
    }
}

/// Extreme values a user (or a hostile tester) can write for a number: zero, one, negative,
/// the limits of every integer type the model uses and of TOML itself, and non-finite floats.
fn extreme_values() -> Vec<toml::Value> {
    let ints = [
        0,
        1,
        -1,
        2,
        255,
        256,
        65_535,
        65_536,
        86_400,
        50_000,
        i64::from(u32::MAX),
        i64::from(u32::MAX) + 1,
        i64::from(i32::MAX),
        i64::MAX,
        i64::MIN,
    ];
    let floats = [
        0.5,
        -0.5,
        1e308,
        -1e308,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    ints.into_iter()
        .map(toml::Value::Integer)
        .chain(floats.into_iter().map(toml::Value::Float))
        .collect()
}

/// What a rejection must do: name the key it is about, as its key path or in its message.
fn names_key(err: &ConfigErrors, key: &str) -> bool {
    err.errors.iter().all(|e| !e.path.is_empty())
        && err.errors.iter().any(|e| {
            e.path == key || e.path.starts_with(&format!("{key}.")) || e.message.contains(key)
        })
}

/// Loads `profile` of the shipped stack with `assignments` written into its profile's values
/// (through the stack file, in a figment Jail); panics are caught and reported as failures.
fn load_with(
    profile: &str,
    cfg: &StackConfig,
    assignments: &[(Vec<Step>, toml::Value)],
) -> Result<Result<Loaded, ConfigErrors>, String> {
    let mut table = toml::Value::try_from(cfg).unwrap();
    for (path, value) in assignments {
        set_at(&mut table, path, value.clone());
    }
    let mut root = toml::Table::new();
    root.insert("default".into(), table);
    root.insert(profile.into(), toml::Value::Table(toml::Table::new()));
    let file = toml::to_string(&root).unwrap();
    std::panic::catch_unwind(|| load_in_jail(&file, profile, &[], &[])).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

#[test]
fn the_numeric_keys_are_found_by_walking_the_schema() {
    let keys: Vec<String> = schema_numeric_keys().iter().map(|k| dotted(k)).collect();
    for must in [
        "az_count",
        "networking.nat_gateways",
        "networking.tiers.public.slot",
        "networking.nacls.database.ingress[0].rule",
        "database.allocated_storage_gb",
        "database.aurora.min_acu",
        "database.vector.dimension",
        "database.cache.nodes",
        "database.tables.jobs.read_capacity",
        "identity.cognito.password_min_length",
        "observability.alarms.db-cpu.period_seconds",
        "observability.alarms.db-cpu.evaluation_periods",
        "observability.alarms.db-cpu.datapoints_to_alarm",
        "observability.alarms.db-cpu.threshold",
    ] {
        assert!(keys.iter().any(|k| k == must), "{must} not in {keys:?}");
    }
}

#[test]
fn every_numeric_key_takes_every_extreme_value_without_panic_and_names_itself() {
    let keys = schema_numeric_keys();
    let mut failures = Vec::new();
    for (profile, cfg) in shipped_profiles() {
        for key in &keys {
            let name = dotted(key);
            for value in extreme_values() {
                match load_with(&profile, &cfg, &[(key.clone(), value.clone())]) {
                    Err(panic) => {
                        failures.push(format!("{profile} {name} = {value}: panicked: {panic}"));
                    }
                    Ok(Err(err)) if !names_key(&err, &name) => {
                        failures.push(format!(
                            "{profile} {name} = {value}: rejected without naming it: {err}"
                        ));
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_reported_alarm_overflow_is_an_error_on_its_key() {
    let (profile, cfg) = shipped_profiles().swap_remove(0);
    let alarm = |field: &str| {
        vec![
            Step::Key("observability".into()),
            Step::Key("alarms".into()),
            Step::Key("db-cpu".into()),
            Step::Key(field.into()),
        ]
    };
    let err = load_with(
        &profile,
        &cfg,
        &[
            (alarm("period_seconds"), toml::Value::Integer(86_400)),
            (alarm("evaluation_periods"), toml::Value::Integer(50_000)),
        ],
    )
    .expect("no panic")
    .expect_err("rejected");
    assert!(
        err.mentions("observability.alarms.db-cpu.evaluation_periods"),
        "{err}"
    );
}

/// Loads `profile` of `file` (in a figment Jail) with one `--set` argument, as the CLI does.
#[allow(clippy::result_large_err)] // figment::Error is large; this is test code.
fn load_with_set_arg(file: &str, profile: &str, arg: &str) -> Result<Loaded, ConfigErrors> {
    let mut out = None;
    Jail::expect_with(|jail| {
        jail.create_file("ironbark.toml", file)?;
        let opts = LoadOptions::new(jail.directory().join("ironbark.toml"), profile);
        out = Some(opts.set_arg(arg).and_then(|o| load(&o)));
        Ok(())
    });
    out.unwrap()
}

/// Keys not inside an array can be set on the command line too: there, any text is allowed.
fn settable(key: &[Step]) -> bool {
    key.iter().all(|s| matches!(s, Step::Key(_)))
}

fn extreme_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("1e999".to_owned()),
        Just(String::new()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Several numeric keys at once, extreme values, through the stack file: never a panic,
    /// and a rejection names at least one of the keys changed (each error names its own key).
    #[test]
    fn prop_extreme_numbers_in_several_keys_never_panic(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..=3),
        prod in any::<bool>(),
    ) {
        let keys = schema_numeric_keys();
        let values = extreme_values();
        let assignments: Vec<(Vec<Step>, toml::Value)> = picks
            .iter()
            .map(|(k, v)| (k.get(&keys).clone(), v.get(&values).clone()))
            .collect();
        let (profile, cfg) = shipped_profiles().swap_remove(usize::from(prod));
        match load_with(&profile, &cfg, &assignments) {
            Err(panic) => prop_assert!(false, "{:?}: panicked: {}", assignments, panic),
            Ok(Err(err)) => prop_assert!(
                assignments.iter().any(|(k, _)| names_key(&err, &dotted(k))),
                "{:?}: rejected without naming a key changed: {}", assignments, err
            ),
            Ok(Ok(_)) => {}
        }
    }

    /// Any text for any numeric key through `--set`: never a panic; a rejection names the key
    /// and says it came from the command line.
    #[test]
    fn prop_extreme_numbers_on_the_command_line_never_panic(
        pick in any::<prop::sample::Index>(),
        text in extreme_text(),
    ) {
        let keys: Vec<Vec<Step>> = schema_numeric_keys().into_iter().filter(|k| settable(k)).collect();
        let key = dotted(pick.get::<Vec<Step>>(&keys));
        let (profile, cfg) = shipped_profiles().swap_remove(0);
        let file = stack_file(&cfg, &[(&profile, "")]);
        let arg = format!("{key}={text}");
        let result = std::panic::catch_unwind(|| load_with_set_arg(&file, &profile, &arg));
        match result {
            Err(_) => prop_assert!(false, "--set {}: panicked", arg),
            Ok(Err(err)) => {
                prop_assert!(names_key(&err, &key), "--set {}: rejected without naming it: {}", arg, err);
                let text = err.to_string();
                prop_assert!(!text.contains(".rs:"), "--set {}: a source location as origin: {}", arg, text);
            }
            Ok(Ok(_)) => {}
        }
    }
}

#[test]
fn set_arguments_without_a_key_are_rejected_naming_the_argument() {
    let file = stack_file(&base(), &[("dev", "")]);
    for arg in [
        "=3",
        "az_count",
        " =3",
        "networking..nat_gateways=1",
        ".az_count=1",
    ] {
        let err = load_with_set_arg(&file, "dev", arg).expect_err(arg);
        assert!(err.mentions("--set"), "{arg}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{arg}`")) && text.contains("KEY=VALUE"),
            "{arg}: {text}"
        );
        assert!(text.contains("(from the command line (--set))"), "{text}");
    }
}

#[test]
fn values_from_set_have_the_command_line_as_origin_never_a_source_location() {
    let file = stack_file(&base(), &[("dev", "")]);
    // An empty key slips past the CLI's parsing only through the library's raw `set`; the
    // value still comes from the command line, and the error must say so.
    for (key, value) in [("", "3"), ("az_count", "many"), ("az_count", "300")] {
        let err = load_in_jail(&file, "dev", &[], &[(key, value)]).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(".rs:"), "{key}={value}: {text}");
        assert!(
            err.errors
                .iter()
                .all(|e| e.origin.as_deref() == Some("the command line (--set)")),
            "{key}={value}: {err:?}"
        );
    }
}
