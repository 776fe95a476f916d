//! Layered configuration (DESIGN invariant 11): built-in defaults < the stack file's
//! `[default]` table < its profile table (`[dev]`, `[staging]`, `[prod]`) < `IRONBARK_*`
//! environment variables < CLI flags. Validated into typed structs before any AWS call; every
//! error names the key path and the file (and profile table) the value came from.

mod model;
pub mod security;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use figment::Figment;

pub use model::{
    AlarmConfig, AuroraConfig, CacheConfig, CognitoConfig, CompositeAlarmConfig, DatabaseConfig,
    DbEngine, IdentityConfig, IndexConfig, NaclConfig, NaclEntryConfig, NetworkingConfig,
    ObservabilityConfig, QueryConfig, RuleConfig, SecurityGroupConfig, StackConfig, TableConfig,
    TierConfig, TierKind, VectorConfig,
};
pub use security::Finding;
pub use validate::{
    alarm_rule_refs, dimension_ref, parse_key, parse_peer, parse_ports, parse_vpc_cidr, validate,
    Peer, Problem, LOG_RETENTION_DAYS,
};

/// Environment variables with the `IRONBARK_` prefix that are not configuration keys (the
/// CLI's own flags, the harness's Python and endpoints). `IRONBARK_STACK` is the `stack` key.
const RESERVED_ENV: &[&str] = &["env", "stack_file", "endpoint_url", "python", "root"];

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The stack file.
    pub file: PathBuf,
    /// The profile to select (`--env`).
    pub profile: String,
    /// `IRONBARK_*` environment variables are read unless this is false.
    pub use_env: bool,
    /// CLI overrides, `key.path = value` (highest precedence).
    pub overrides: Vec<(String, Value)>,
}

impl LoadOptions {
    /// Loads `file` for `profile`, reading the environment, without overrides.
    pub fn new(file: impl Into<PathBuf>, profile: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            profile: profile.into(),
            use_env: true,
            overrides: Vec::new(),
        }
    }

    /// Adds a `--set key.path=value` override; the value is parsed as TOML, else taken as a string.
    #[must_use]
    pub fn set(mut self, key: &str, raw: &str) -> Self {
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .and_then(|v| Value::serialize(v).ok())
            .unwrap_or_else(|| Value::from(raw.to_owned()));
        self.overrides.push((key.to_owned(), value));
        self
    }

    /// Adds one `--set` argument as typed on the command line, `KEY=VALUE` (both trimmed).
    ///
    /// # Errors
    /// When `arg` has no `=`, or its key is empty or has an empty segment (`=3`, `a..b=1`):
    /// one error on `--set`, quoting the argument.
    pub fn set_arg(self, arg: &str) -> Result<Self, ConfigErrors> {
        let fail = |why: &str| {
            let mut errors = ConfigErrors::one(
                &self,
                "--set",
                format!("`{arg}`: {why}; expected KEY=VALUE, e.g. --set networking.az_count=3"),
            );
            for e in &mut errors.errors {
                e.origin = Some(COMMAND_LINE.to_owned());
            }
            errors
        };
        let Some((key, value)) = arg.split_once('=') else {
            return Err(fail("no `=`"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(fail("the key is empty"));
        }
        if key.split('.').any(|part| part.trim().is_empty()) {
            return Err(fail("the key has an empty part"));
        }
        Ok(self.set(key, value.trim()))
    }
}

/// The origin of `--set` values, as errors name it.
const COMMAND_LINE: &str = "the command line (--set)";

/// One configuration error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path within the profile (`networking.vpc_cidr`); empty for file-level errors.
    pub path: String,
    /// Where the offending value came from (`ironbark.toml [prod]`, `environment variable`).
    pub origin: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// All errors of one load, with the file and profile they concern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The stack file.
    pub file: PathBuf,
    /// The selected profile.
    pub profile: String,
    /// The errors, at least one.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    fn one(opts: &LoadOptions, path: &str, message: impl Into<String>) -> Self {
        Self {
            file: opts.file.clone(),
            profile: opts.profile.clone(),
            errors: vec![ConfigError {
                path: path.to_owned(),
                origin: None,
                message: message.into(),
            }],
        }
    }

    /// True when some error concerns `path`.
    #[must_use]
    pub fn mentions(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration: profile `{}` of {}",
            self.profile,
            self.file.display()
        )?;
        for e in &self.errors {
            let key = if e.path.is_empty() { "(file)" } else { &e.path };
            match &e.origin {
                Some(origin) => writeln!(f, "  {key} (from {origin}): {}", e.message)?,
                None => writeln!(f, "  {key}: {}", e.message)?,
            }
        }
        Ok(())
    }
}

/// A loaded, validated profile.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: StackConfig,
    /// The selected profile.
    pub profile: String,
    /// The stack file.
    pub file: PathBuf,
    /// Whether security rules hard-fail for this profile.
    pub production: bool,
    /// Security findings that did not fail the load (non-production profiles).
    pub warnings: Vec<Finding>,
}

/// The profiles a stack file declares (its top-level tables other than `default`).
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn profiles(file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{} is not valid TOML: {e}", file.display()))?;
    Ok(table
        .into_iter()
        .filter(|(k, v)| k != "default" && k != "global" && v.is_table())
        .map(|(k, _)| k)
        .collect())
}

fn figment(opts: &LoadOptions) -> Figment {
    let mut fig = Figment::new()
        .merge(Toml::file_exact(&opts.file).nested())
        .select(opts.profile.as_str());
    if opts.use_env {
        fig = fig.merge(
            Env::prefixed("IRONBARK_")
                .split("__")
                .filter(|k| {
                    // Keys keep the environment's case: compare lower-cased.
                    let key = k.as_str().to_ascii_lowercase();
                    !RESERVED_ENV.contains(&key.as_str()) && !key.starts_with("testkit")
                })
                .global(),
        );
    }
    for (key, value) in &opts.overrides {
        fig = fig.merge(Serialized::global(key, value.clone()));
    }
    fig
}

/// Steps one level down a stack file's tree: a table key, or an array index.
fn child<'a>(node: &'a toml::Value, part: &str) -> Option<&'a toml::Value> {
    match (node, part.parse::<usize>()) {
        (toml::Value::Array(items), Ok(i)) => items.get(i),
        _ => node.get(part),
    }
}

/// Which table of the stack file holds `path` (figment's dotted form) for `profile`:
/// `[profile]` or `[default]`.
fn table_of(file: &Path, profile: &str, path: &str) -> Option<&'static str> {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let has = |root: &str| {
        let mut node = table.get(root);
        for part in path.split('.') {
            node = node.and_then(|n| child(n, part));
        }
        node.is_some()
    };
    if has(profile) {
        Some("profile")
    } else if has("default") {
        Some("default")
    } else {
        None
    }
}

/// A figment key path as validation writes paths: array elements as `[i]`
/// (`networking.nacls.db.ingress[0].rule`, where figment says `ingress.0.rule`). A segment is
/// an index when the stack file holds an array there, under `[profile]` or `[default]`.
fn display_path(file: &Path, profile: &str, path: &[String]) -> String {
    let table: Option<toml::Table> = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| toml::from_str(&text).ok());
    let is_array = |prefix: &[String]| {
        let Some(table) = &table else {
            return false;
        };
        [profile, "default"].into_iter().any(|root| {
            let mut node = table.get(root);
            for part in prefix {
                node = node.and_then(|n| child(n, part));
            }
            node.is_some_and(toml::Value::is_array)
        })
    };
    let mut out = String::new();
    for (i, part) in path.iter().enumerate() {
        if i > 0 && part.parse::<usize>().is_ok() && is_array(&path[..i]) {
            out.push('[');
            out.push_str(part);
            out.push(']');
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn origin(fig: &Figment, opts: &LoadOptions, path: &str) -> Option<String> {
    let value = fig.find_value(path).ok()?;
    let metadata = fig.get_metadata(value.tag())?;
    Some(describe_source(metadata, opts, path))
}

/// A value's origin for users, from figment's metadata: a file by name and table, the
/// environment, or the command line. Never a source-code location (figment records where the
/// `--set` provider was built in this crate; that means nothing to a user). `path` is the key
/// in figment's dotted form (array indices as `.0`).
fn describe_source(metadata: &figment::Metadata, opts: &LoadOptions, path: &str) -> String {
    match &metadata.source {
        Some(figment::Source::File(p)) => {
            let name = p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            match table_of(p, &opts.profile, path) {
                Some("profile") => format!("{name} [{}]", opts.profile),
                Some(_) => format!("{name} [default]"),
                None => name,
            }
        }
        Some(figment::Source::Code(_)) => COMMAND_LINE.to_owned(),
        Some(figment::Source::Custom(c)) => c.clone(),
        // `Source` is non-exhaustive: whatever comes, its metadata's name says what it is.
        Some(_) | None => metadata.name.to_string(),
    }
}

fn from_figment_error(fig: &Figment, opts: &LoadOptions, err: figment::Error) -> ConfigErrors {
    let errors = err
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let message = match &e.kind {
                figment::error::Kind::UnknownField(field, allowed) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!(
                        "unknown key `{field}`; allowed here: {}",
                        allowed.join(", ")
                    )
                }
                figment::error::Kind::MissingField(field) => {
                    if path.last().map(String::as_str) != Some(field.as_ref()) {
                        path.push(field.to_string());
                    }
                    format!(
                        "missing key `{field}`: set it in [default] or in [{}]",
                        opts.profile
                    )
                }
                kind => kind.to_string(),
            };
            let dotted = path.join(".");
            let origin = origin(fig, opts, &dotted).or_else(|| {
                e.metadata
                    .as_ref()
                    .map(|m| describe_source(m, opts, &dotted))
            });
            ConfigError {
                path: display_path(&opts.file, &opts.profile, &path),
                origin,
                message,
            }
        })
        .collect();
    ConfigErrors {
        file: opts.file.clone(),
        profile: opts.profile.clone(),
        errors,
    }
}

/// Loads, layers and validates one profile of a stack file. Makes no network call.
///
/// # Errors
/// Every problem found: a missing file, an unknown profile, unknown or missing keys, values of
/// the wrong type or out of range, and (in production profiles) violated security rules.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigErrors> {
    if !opts.file.is_file() {
        return Err(ConfigErrors::one(
            opts,
            "",
            format!("stack file {} not found", opts.file.display()),
        ));
    }
    let known = profiles(&opts.file).map_err(|e| ConfigErrors::one(opts, "", e))?;
    if !known.contains(&opts.profile) {
        return Err(ConfigErrors::one(
            opts,
            "--env",
            format!(
                "unknown profile `{}`; {} declares: {}",
                opts.profile,
                opts.file.display(),
                known.join(", ")
            ),
        ));
    }
    let fig = figment(opts);
    let config: StackConfig = fig
        .extract()
        .map_err(|e| from_figment_error(&fig, opts, e))?;
    let production = config.is_production(&opts.profile);
    let mut errors: Vec<ConfigError> = validate(&config)
        .into_iter()
        .map(|p| ConfigError {
            origin: origin(&fig, opts, &p.path),
            path: p.path,
            message: p.message,
        })
        .collect();
    let findings = security::check(&config);
    let warnings = if production {
        errors.extend(findings.iter().map(|f| ConfigError {
            path: f.path.to_owned(),
            origin: origin(&fig, opts, f.path),
            message: format!(
                "{} (security rule {}, required in production)",
                f.message, f.rule
            ),
        }));
        Vec::new()
    } else {
        findings
    };
    if !errors.is_empty() {
        return Err(ConfigErrors {
            file: opts.file.clone(),
            profile: opts.profile.clone(),
            errors,
        });
    }
    Ok(Loaded {
        config,
        profile: opts.profile.clone(),
        file: opts.file.clone(),
        production,
        warnings,
    })
}

/// Finds `name` in `start` or the nearest parent directory.
#[must_use]
pub fn find_upwards(start: &Path, name: &str) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests;
