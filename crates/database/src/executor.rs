//! Where SQL runs: the [`Executor`] trait and its direct PostgreSQL implementation.
//!
//! Rows come back as [`Row`]s of text values, the lowest common denominator of a direct
//! connection and the RDS Data API: queries cast every selected column to `text` (or select
//! text-typed columns), and parameters are passed as text and cast in SQL (`$1::vector`).
//!
//! Two executors sit behind the trait:
//! - [`PgExecutor`]: a direct tokio-postgres connection, plain ([`PgExecutor::connect`], for
//!   the test harness's local PostgreSQL) or over TLS ([`PgExecutor::connect_tls`], for RDS
//!   with `rds.force_ssl`: rustls on the aws-lc-rs provider the AWS SDK already links, the
//!   platform's roots plus an optional CA bundle such as RDS's `global-bundle.pem`).
//! - [`DataApiExecutor`](crate::data_api::DataApiExecutor): the RDS Data API
//!   (`ExecuteStatement` with the cluster ARN and the secret ARN), so Aurora schemas can be
//!   reconciled with no network path into the VPC.
//!
//! Callers must not rely on a row count from [`Executor::execute`] for DDL: PostgreSQL reports
//! 0 and the Data API reports nothing at all (also 0).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::DatabaseError;

/// One result row: column name -> text value (`None` for SQL NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row(pub BTreeMap<String, Option<String>>);

impl Row {
    /// The text value of `column`; `None` when the column is absent or NULL.
    #[must_use]
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0.get(column).and_then(|v| v.as_deref())
    }
}

/// Runs SQL. Implementations: [`PgExecutor`] and
/// [`DataApiExecutor`](crate::data_api::DataApiExecutor).
pub trait Executor: Send + Sync {
    /// Runs a query with text parameters (`$1`, `$2`, ... typed `text`; cast them in SQL) and
    /// returns its rows. Every selected column must be text-typed (cast with `::text`).
    ///
    /// # Errors
    /// [`DatabaseError::Sql`] when the statement fails, [`DatabaseError::NotText`] when a
    /// column is not text.
    fn query(
        &self,
        sql: &str,
        params: &[&str],
    ) -> impl Future<Output = Result<Vec<Row>, DatabaseError>> + Send;

    /// Runs one statement with no parameters (DDL) and returns the number of rows affected
    /// (0 for DDL, whatever the executor).
    ///
    /// # Errors
    /// [`DatabaseError::Sql`] when the statement fails.
    fn execute(&self, sql: &str) -> impl Future<Output = Result<u64, DatabaseError>> + Send;
}

/// A direct connection to PostgreSQL through tokio-postgres, plain or over TLS.
pub struct PgExecutor {
    client: Client,
}

impl std::fmt::Debug for PgExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: it is never kept or printed.
        f.debug_struct("PgExecutor").finish_non_exhaustive()
    }
}

impl PgExecutor {
    /// Connects to `url` (`postgres://user@host:port/db`) without TLS and drives the
    /// connection on a spawned task.
    ///
    /// # Errors
    /// [`DatabaseError::Connect`] when the server cannot be reached or refuses the login.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| DatabaseError::Connect(Box::new(e)))?;
        tokio::spawn(connection);
        Ok(Self { client })
    }

    /// Connects with a parsed configuration (to pick another database than the URL's, say),
    /// without TLS.
    ///
    /// # Errors
    /// [`DatabaseError::Connect`] when the server cannot be reached or refuses the login.
    pub async fn connect_config(config: &tokio_postgres::Config) -> Result<Self, DatabaseError> {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| DatabaseError::Connect(Box::new(e)))?;
        tokio::spawn(connection);
        Ok(Self { client })
    }

    /// Connects to `url` over TLS, verifying the server's certificate chain and host name
    /// against `tls`'s roots, and drives the connection on a spawned task. TLS is required:
    /// a server that does not offer it is an error, whatever `sslmode` the URL names.
    ///
    /// # Errors
    /// [`ResourceError::InvalidSpec`](ironbark_core::reconcile::ResourceError::InvalidSpec) when the URL or the CA bundle cannot be parsed or no root
    /// is left to trust; [`DatabaseError::Connect`] when the server cannot be reached, offers
    /// no TLS, presents a certificate the roots do not vouch for (the source chain then says
    /// `invalid peer certificate: UnknownIssuer` or the like), or refuses the login.
    ///
    /// # Example
    /// ```no_run
    /// # async fn example() -> Result<(), ironbark_database::DatabaseError> {
    /// use ironbark_database::executor::{PgExecutor, TlsOptions};
    /// let rds_ca = std::fs::read("global-bundle.pem").unwrap();
    /// let tls = TlsOptions::new().with_ca_pem(rds_ca);
    /// let url = "postgres://app@db.abc.us-east-1.rds.amazonaws.com:5432/app";
    /// let exec = PgExecutor::connect_tls(url, &tls).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_tls(url: &str, tls: &TlsOptions) -> Result<Self, DatabaseError> {
        // The parse error of a URL may quote the URL, password included: it is not kept.
        let config: tokio_postgres::Config = url.parse().map_err(|_| {
            DatabaseError::invalid(
                "postgresql connection",
                "url",
                "not a valid postgres:// URL or key=value string",
            )
        })?;
        Self::connect_config_tls(&config, tls).await
    }

    /// [`PgExecutor::connect_tls`] with a parsed configuration.
    ///
    /// # Errors
    /// As [`PgExecutor::connect_tls`].
    pub async fn connect_config_tls(
        config: &tokio_postgres::Config,
        tls: &TlsOptions,
    ) -> Result<Self, DatabaseError> {
        let connector = MakeRustlsConnect::new(tls.client_config()?);
        let mut config = config.clone();
        config.ssl_mode(SslMode::Require);
        let (client, connection) = config
            .connect(connector)
            .await
            .map_err(|e| DatabaseError::Connect(Box::new(e)))?;
        tokio::spawn(connection);
        Ok(Self { client })
    }
}

/// Which certificate authorities a TLS connection trusts.
///
/// RDS and Aurora certificates chain to Amazon's RDS certificate authorities, which are not
/// in public root stores: pass AWS's `global-bundle.pem` (or the region's bundle) with
/// [`TlsOptions::with_ca_pem`]. The host name in the URL is always verified against the
/// certificate.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    native_roots: bool,
    extra_ca_pem: Vec<Vec<u8>>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsOptions {
    /// Trusts the platform's root certificates (`rustls-native-certs`) and nothing else.
    #[must_use]
    pub fn new() -> Self {
        Self {
            native_roots: true,
            extra_ca_pem: Vec::new(),
        }
    }

    /// Trusts nothing until a bundle is added with [`TlsOptions::with_ca_pem`]: only that
    /// bundle's authorities will be accepted.
    #[must_use]
    pub fn only_ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        Self {
            native_roots: false,
            extra_ca_pem: vec![pem.into()],
        }
    }

    /// Also trusts the certificates of a PEM bundle (one or more `BEGIN CERTIFICATE` blocks).
    #[must_use]
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem.push(pem.into());
        self
    }

    /// The rustls client configuration: the aws-lc-rs provider (the AWS SDK's), TLS 1.2 and
    /// 1.3, the roots chosen, no client certificate.
    ///
    /// # Errors
    /// [`ResourceError::InvalidSpec`](ironbark_core::reconcile::ResourceError::InvalidSpec) when a bundle holds no certificate or an unparsable one,
    /// or when no root is left to trust.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, DatabaseError> {
        let invalid = |reason: String| DatabaseError::invalid("TLS options", "postgresql", reason);
        let mut roots = rustls::RootCertStore::empty();
        if self.native_roots {
            // Unreadable entries of the platform store are skipped, as curl and browsers do.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
        for (i, pem) in self.extra_ca_pem.iter().enumerate() {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| invalid(format!("CA bundle {i}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("CA bundle {i}: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(invalid(format!("CA bundle {i} holds no PEM certificate")));
            }
        }
        if roots.is_empty() {
            return Err(invalid(
                "no root certificate to trust: the platform store is empty or unused and no \
                 CA bundle was given"
                    .into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

fn sql_error(sql: &str, e: tokio_postgres::Error) -> DatabaseError {
    let head: String = sql.chars().take(80).collect();
    DatabaseError::Sql {
        what: format!("run `{head}`"),
        source: Box::new(e),
    }
}

impl Executor for PgExecutor {
    async fn query(&self, sql: &str, params: &[&str]) -> Result<Vec<Row>, DatabaseError> {
        let types = vec![Type::TEXT; params.len()];
        let statement = self
            .client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| sql_error(sql, e))?;
        for column in statement.columns() {
            if !matches!(
                *column.type_(),
                Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR
            ) {
                return Err(DatabaseError::NotText {
                    column: column.name().to_owned(),
                    ty: column.type_().to_string(),
                });
            }
        }
        let args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = self
            .client
            .query(&statement, &args)
            .await
            .map_err(|e| sql_error(sql, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = BTreeMap::new();
            for (i, column) in row.columns().iter().enumerate() {
                let value: Option<String> = row.try_get(i).map_err(|e| sql_error(sql, e))?;
                values.insert(column.name().to_owned(), value);
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    async fn execute(&self, sql: &str) -> Result<u64, DatabaseError> {
        self.client
            .execute(sql, &[])
            .await
            .map_err(|e| sql_error(sql, e))
    }
}
