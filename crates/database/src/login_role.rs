//! Login roles: the `bedrock_user` a Bedrock knowledge base connects as, with its password
//! from Secrets Manager and its grants on the vector schema.
//!
//! The password never leaves this process in the clear and never appears in an error, a plan
//! line or a log: it is hashed here into a SCRAM-SHA-256 verifier (random salt, 4096
//! iterations, what PostgreSQL itself stores) and only `PASSWORD 'SCRAM-SHA-256$...'` is sent.
//! A failed `CREATE ROLE` is reported without its SQL, and the server's message is withheld
//! if it quotes the credential.
//!
//! An existing role's password is not compared or changed: PostgreSQL only reveals stored
//! verifiers to superusers (not to RDS's `rds_superuser`), and a fresh verifier has a fresh
//! salt, so comparing would always say "changed". Rotating the password is a separate step.

use std::fmt;

use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::Context;
use secrecy::{ExposeSecret, SecretString};

use ironbark_core::reconcile::AwsError;

use crate::error::DatabaseError;
use crate::executor::Executor;

/// The role Bedrock knowledge bases on Aurora connect as, in AWS's guide.
pub const BEDROCK_USER: &str = "bedrock_user";

/// The privileges a table grant checks, one by one (`ALL` on PostgreSQL 16; `has_table_privilege`
/// with a list answers whether *any* is held, so each is asked alone).
const TABLE_PRIVILEGES: [&str; 7] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

/// Privileges on one schema: `USAGE` on the schema and `ALL` on every table in it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaGrant {
    /// The schema (it must exist: create it first with
    /// [`ensure_vector_schema`](crate::ensure_vector_schema)).
    pub schema: String,
}

impl SchemaGrant {
    /// `USAGE` on `schema` and `ALL` on its tables.
    #[must_use]
    pub fn usage_and_all_tables(schema: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
        }
    }
}

/// The grants AWS's Bedrock / Aurora guide gives `bedrock_user`: `USAGE` on
/// `bedrock_integration` and `ALL` on its tables (`bedrock_kb`).
#[must_use]
pub fn bedrock_user_grants() -> Vec<SchemaGrant> {
    vec![SchemaGrant::usage_and_all_tables("bedrock_integration")]
}

/// A role as found in `pg_roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservedRole {
    /// `rolcanlogin`.
    pub can_login: bool,
}

/// One schema's grants to the role as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedGrant {
    /// Whether the schema exists.
    pub schema_exists: bool,
    /// Whether the role has `USAGE` on it.
    pub usage: bool,
    /// The tables on which the role lacks at least one privilege of `ALL`.
    pub tables_missing: Vec<String>,
    /// How many tables the schema has.
    pub tables: usize,
}

/// The role and its grants as found: `None` for a role that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLoginRole {
    /// The role.
    pub role: Option<ObservedRole>,
    /// One entry per requested grant, in the same order.
    pub grants: Vec<ObservedGrant>,
}

/// Decides what to do to the role: create it (login, password), give it `LOGIN`, or nothing.
/// Pure.
#[must_use]
pub fn decide_role(observed: Option<ObservedRole>) -> Change {
    match observed {
        None => Change::Create {
            fields: vec![
                FieldDiff::set("login", true),
                FieldDiff::sensitive("password"),
            ],
        },
        Some(ObservedRole { can_login: false }) => Change::Update {
            fields: vec![FieldDiff::new("login", Some(false), Some(true))],
        },
        Some(ObservedRole { can_login: true }) => Change::NoOp,
    }
}

/// Decides what to grant on one schema. A missing schema is refused: granting on it would fail.
/// Pure.
#[must_use]
pub fn decide_grant(grant: &SchemaGrant, role_exists: bool, observed: &ObservedGrant) -> Change {
    if !observed.schema_exists {
        return Change::Refused {
            field: format!("schema ({} does not exist)", grant.schema),
            reason: "grants need the schema; create it first (ensure_vector_schema)".into(),
        };
    }
    if !role_exists || !observed.usage {
        return Change::Create {
            fields: vec![
                FieldDiff::set("usage", &grant.schema),
                FieldDiff::set("tables", format!("ALL on {} tables", observed.tables)),
            ],
        };
    }
    if observed.tables_missing.is_empty() {
        Change::NoOp
    } else {
        Change::Update {
            fields: vec![FieldDiff::new(
                "tables",
                Some(format!("missing on {}", observed.tables_missing.join(", "))),
                Some("ALL"),
            )],
        }
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the role and, when it exists, its grants on each schema. Catalog reads only.
///
/// # Errors
/// When a catalog query fails.
pub async fn observe_login_role<E: Executor>(
    exec: &E,
    name: &str,
    grants: &[SchemaGrant],
) -> Result<ObservedLoginRole, DatabaseError> {
    let role = exec
        .query(
            "SELECT rolcanlogin::text AS login FROM pg_catalog.pg_roles WHERE rolname = $1::name",
            &[name],
        )
        .await?
        .first()
        .map(|r| ObservedRole {
            can_login: r.get("login") == Some("true"),
        });
    let mut observed = Vec::with_capacity(grants.len());
    for grant in grants {
        let schema = exec
            .query(
                "SELECT nspname::text AS name FROM pg_catalog.pg_namespace WHERE nspname = $1::name",
                &[&grant.schema],
            )
            .await?;
        if schema.is_empty() {
            observed.push(ObservedGrant {
                schema_exists: false,
                usage: false,
                tables_missing: Vec::new(),
                tables: 0,
            });
            continue;
        }
        // The privilege functions fail on an unknown role: with no role, every table is missing.
        let (usage, held) = if role.is_some() {
            let usage = exec
                .query(
                    "SELECT pg_catalog.has_schema_privilege($1::name, $2::text, 'USAGE')::text \
                     AS usage",
                    &[name, &grant.schema],
                )
                .await?
                .first()
                .and_then(|r| r.get("usage").map(|v| v == "true"))
                .unwrap_or(false);
            let checks: Vec<String> = TABLE_PRIVILEGES
                .iter()
                .map(|p| format!("pg_catalog.has_table_privilege($1::name, c.oid, '{p}')"))
                .collect();
            (usage, Some(checks.join(" AND ")))
        } else {
            (false, None)
        };
        let held = held.unwrap_or_else(|| "false".into());
        let tables = exec
            .query(
                &format!(
                    "SELECT c.relname::text AS name, ({held})::text AS held \
                     FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $2::name AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
                     ORDER BY c.relname"
                ),
                &[name, &grant.schema],
            )
            .await?;
        observed.push(ObservedGrant {
            schema_exists: true,
            usage,
            tables: tables.len(),
            tables_missing: tables
                .iter()
                .filter(|r| r.get("held") != Some("true"))
                .map(|r| r.get("name").unwrap_or_default().to_owned())
                .collect(),
        });
    }
    Ok(ObservedLoginRole {
        role,
        grants: observed,
    })
}

/// The outcome of [`ensure_login_role`]: the role's change, then one per schema grant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LoginRoleOutcome {
    /// The changes made (or refused).
    pub changes: Vec<ResourceChange>,
}

impl LoginRoleOutcome {
    /// True when at least one change was refused.
    #[must_use]
    pub fn has_refusals(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c.change, Change::Refused { .. }))
    }
}

fn outcome(
    name: &str,
    grants: &[SchemaGrant],
    role: Change,
    each: Vec<Change>,
) -> LoginRoleOutcome {
    let mut changes = vec![ResourceChange {
        id: format!("database/role/{name}"),
        kind: "postgres_role".into(),
        physical_id: Some(name.to_owned()),
        change: role,
    }];
    for (grant, change) in grants.iter().zip(each) {
        changes.push(ResourceChange {
            id: format!("database/role/{name}/grant/{}", grant.schema),
            kind: "postgres_grant".into(),
            physical_id: Some(format!("{} -> {name}", grant.schema)),
            change,
        });
    }
    LoginRoleOutcome { changes }
}

fn decide_all(grants: &[SchemaGrant], observed: &ObservedLoginRole) -> (Change, Vec<Change>) {
    let role = decide_role(observed.role);
    let each = grants
        .iter()
        .zip(&observed.grants)
        .map(|(g, o)| decide_grant(g, observed.role.is_some(), o))
        .collect();
    (role, each)
}

/// Observes and decides without writing: what [`ensure_login_role`] would do.
///
/// # Errors
/// When a catalog query fails.
pub async fn plan_login_role<E: Executor>(
    exec: &E,
    name: &str,
    grants: &[SchemaGrant],
) -> Result<LoginRoleOutcome, DatabaseError> {
    let observed = observe_login_role(exec, name, grants).await?;
    let (role, each) = decide_all(grants, &observed);
    Ok(outcome(name, grants, role, each))
}

/// The server's message, withheld because it quoted the credential.
#[derive(Debug)]
struct Withheld;

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's message is withheld because it quotes the credential")
    }
}

impl std::error::Error for Withheld {}

/// Rebuilds an error of a statement carrying a credential: its SQL is never quoted (the `what`
/// is replaced), and its source is dropped when its text or debug form holds any of `secrets`.
fn redacted(e: DatabaseError, what: String, secrets: &[&str]) -> DatabaseError {
    let DatabaseError::Sql { source, .. } = e else {
        return e;
    };
    let mut text = format!("{source:?}");
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(c) = cause {
        text.push('\n');
        text.push_str(&c.to_string());
        cause = c.source();
    }
    let leaks = secrets.iter().any(|s| !s.is_empty() && text.contains(s))
        || text.contains("SCRAM-SHA-256$");
    DatabaseError::Sql {
        what,
        source: if leaks { Box::new(Withheld) } else { source },
    }
}

/// The SCRAM-SHA-256 verifier of a password, as PostgreSQL stores it
/// (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`): what `CREATE ROLE .. PASSWORD` is given
/// instead of the password.
#[must_use]
pub fn scram_verifier(password: &SecretString) -> String {
    postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes())
}

/// Makes sure the login role `name` exists with a password and holds `grants`.
///
/// # Idempotency
/// The role is identified by its name in `pg_roles`, its grants by `has_schema_privilege` and
/// `has_table_privilege` (each privilege of `ALL` checked on each table), all read first: a
/// second run issues catalog reads only. A missing role is created with `LOGIN` and the
/// password's SCRAM verifier; an existing role without `LOGIN` gets it; an existing role's
/// password is left alone (see the module docs). Grants are re-issued only where a privilege
/// is missing, so a table added to the schema later gets its grant on the next run. A crash
/// between `CREATE ROLE` and the grants leaves a role without grants, which the next run
/// completes. A grant on a schema that does not exist is refused, not attempted.
///
/// # Errors
/// When a catalog read or a statement fails. The error of the statement carrying the password
/// names the role, never the SQL, and withholds the server's message if it quotes the
/// credential.
///
/// # Example
/// ```no_run
/// # async fn example(ctx: &ironbark_core::Context, exec: &ironbark_database::PgExecutor) -> Result<(), ironbark_database::DatabaseError> {
/// use ironbark_database::login_role::{bedrock_user_grants, ensure_login_role, read_secret_string, BEDROCK_USER};
/// let password = read_secret_string(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:kb").await?;
/// let outcome = ensure_login_role(exec, BEDROCK_USER, &password, &bedrock_user_grants()).await?;
/// assert!(!outcome.has_refusals());
/// # Ok(()) }
/// ```
pub async fn ensure_login_role<E: Executor>(
    exec: &E,
    name: &str,
    password: &SecretString,
    grants: &[SchemaGrant],
) -> Result<LoginRoleOutcome, DatabaseError> {
    let observed = observe_login_role(exec, name, grants).await?;
    let (role, each) = decide_all(grants, &observed);
    let role_ident = quote_ident(name);
    match role {
        Change::Create { .. } => {
            if password.expose_secret().is_empty() {
                return Err(DatabaseError::invalid(
                    "postgres_role",
                    name.to_owned(),
                    "the password is empty",
                ));
            }
            let verifier = scram_verifier(password);
            // The verifier is base64 and `$:` only; no quote to escape.
            let sql = format!("CREATE ROLE {role_ident} WITH LOGIN PASSWORD '{verifier}'");
            exec.execute(&sql).await.map_err(|e| {
                redacted(
                    e,
                    format!("create role {name}"),
                    &[&verifier, password.expose_secret()],
                )
            })?;
        }
        Change::Update { .. } => {
            exec.execute(&format!("ALTER ROLE {role_ident} WITH LOGIN"))
                .await?;
        }
        _ => {}
    }
    for (grant, change) in grants.iter().zip(&each) {
        let schema = quote_ident(&grant.schema);
        match change {
            Change::Create { .. } => {
                exec.execute(&format!("GRANT USAGE ON SCHEMA {schema} TO {role_ident}"))
                    .await?;
                exec.execute(&format!(
                    "GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role_ident}"
                ))
                .await?;
            }
            Change::Update { .. } => {
                exec.execute(&format!(
                    "GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role_ident}"
                ))
                .await?;
            }
            _ => {}
        }
    }
    Ok(outcome(name, grants, role, each))
}

/// Reads a secret's value from Secrets Manager (`GetSecretValue`). A JSON object with a
/// `password` string (RDS-managed secrets, `{"username": .., "password": ..}`) gives that
/// field; any other secret string is the password as it is.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when the secret cannot be read, [`ResourceError::Missing`](ironbark_core::reconcile::ResourceError::Missing) when it
/// has no string value (a binary secret). No error holds the value.
pub async fn read_secret_string(
    ctx: &Context,
    secret_arn: &str,
) -> Result<SecretString, DatabaseError> {
    let sm = ironbark_core::sdk_client!(ctx, aws_sdk_secretsmanager);
    let out = sm
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .map_err(AwsError::map("read", "secret", secret_arn))?;
    let raw = out
        .secret_string()
        .ok_or_else(|| DatabaseError::missing("secret", secret_arn, "SecretString"))?;
    Ok(SecretString::from(password_of(raw)))
}

/// The `password` field of a JSON object secret, else the whole string.
fn password_of(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| {
            v.get("password")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbark_core::BoxedSdkError;

    #[test]
    fn role_is_created_given_login_or_left_alone() {
        let Change::Create { fields } = decide_role(None) else {
            panic!()
        };
        assert!(fields.iter().any(|f| f.field == "password" && f.sensitive));
        assert!(fields.iter().all(|f| f.new.as_deref() != Some("hunter2")));
        assert!(matches!(
            decide_role(Some(ObservedRole { can_login: false })),
            Change::Update { .. }
        ));
        assert_eq!(
            decide_role(Some(ObservedRole { can_login: true })),
            Change::NoOp
        );
    }

    #[test]
    fn grants_are_decided_from_what_is_held() {
        let g = SchemaGrant::usage_and_all_tables("bedrock_integration");
        let o = |exists, usage, missing: &[&str]| ObservedGrant {
            schema_exists: exists,
            usage,
            tables_missing: missing.iter().map(|s| (*s).to_owned()).collect(),
            tables: 1,
        };
        assert!(matches!(
            decide_grant(&g, false, &o(false, false, &[])),
            Change::Refused { .. }
        ));
        assert!(matches!(
            decide_grant(&g, false, &o(true, false, &["bedrock_kb"])),
            Change::Create { .. }
        ));
        assert!(matches!(
            decide_grant(&g, true, &o(true, true, &["bedrock_kb"])),
            Change::Update { .. }
        ));
        assert_eq!(decide_grant(&g, true, &o(true, true, &[])), Change::NoOp);
    }

    #[test]
    fn verifier_is_scram_and_not_the_password() {
        let v = scram_verifier(&SecretString::from("correct horse battery"));
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(!v.contains("correct horse"));
        assert!(!v.contains('\''));
    }

    #[test]
    fn secret_json_gives_its_password_field() {
        assert_eq!(
            password_of(r#"{"username":"postgres","password":"p@ss"}"#),
            "p@ss"
        );
        assert_eq!(password_of("plain-secret"), "plain-secret");
        assert_eq!(password_of(r#"{"user":"x"}"#), r#"{"user":"x"}"#);
    }

    #[derive(Debug)]
    struct Quoting(String);
    impl fmt::Display for Quoting {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Quoting {}

    #[test]
    fn errors_of_the_password_statement_never_quote_it() {
        let verifier = "SCRAM-SHA-256$4096:abc$def:ghi";
        let sql_error = |msg: &str| DatabaseError::Sql {
            what: format!("run `CREATE ROLE x WITH LOGIN PASSWORD '{verifier}'`"),
            source: Box::new(Quoting(msg.into())) as BoxedSdkError,
        };
        let e = redacted(
            sql_error("syntax error at or near \"SCRAM-SHA-256$4096:abc$def:ghi\""),
            "create role x".into(),
            &[verifier, "pw"],
        );
        let shown = format!("{e} {e:?} {}", std::error::Error::source(&e).unwrap());
        assert!(!shown.contains("SCRAM"), "{shown}");
        assert!(shown.contains("withheld"), "{shown}");
        // A message that quotes nothing is kept, the SQL still dropped.
        let e = redacted(
            sql_error("permission denied to create role"),
            "create role x".into(),
            &[verifier, "pw"],
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("SCRAM"), "{shown}");
        assert!(shown.contains("permission denied"), "{shown}");
    }
}
