//! The database layer: after networking (subnets, security groups) and identity (the KMS key),
//! it generates the Redis AUTH token and the `bedrock_user` password into Secrets Manager
//! through the identity crate, then runs `ironbark_database::ensure_database`: PostgreSQL (an
//! RDS instance or an Aurora cluster, with the pgvector schema through the Data API), Redis
//! and the DynamoDB tables. Outputs are endpoints, names and ARNs, never a secret value.

use ironbark_core::config::{DatabaseConfig, StackConfig};
use ironbark_core::{Context, Plan};
use ironbark_database::{destroy_database, ensure_database, DatabaseInputs};
use ironbark_identity::secret::{destroy_secret, ensure_secret, Generator, SecretSpec};

use crate::{
    Action, IdentityOutputs, Layer, LayerFuture, LayerResult, NetworkingOutputs, Outputs, Publisher,
};

/// Logical id of the Redis AUTH token's secret.
const CACHE_TOKEN: &str = "database/cache/auth-token";
/// Logical id of the `bedrock_user` password's secret.
const VECTOR_USER: &str = "database/vector/bedrock-user";

/// The database layer of a stack.
pub struct Database {
    pub cfg: DatabaseConfig,
    /// Recovery window of destroyed secrets (identity's setting).
    pub secret_recovery_days: u8,
}

impl Database {
    /// The layer for `cfg`.
    pub fn new(cfg: &StackConfig) -> Self {
        let db = &cfg.database;
        Self {
            cfg: db.clone(),
            secret_recovery_days: cfg.identity.secret_recovery_days,
        }
    }
}

impl Layer for Database {
    fn name(&self) -> &'static str {
        "database"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["networking", "identity"]
    }

    fn run(
        &self,
        ctx: Context,
        inputs: Outputs,
        action: Action,
        _publish: Publisher,
    ) -> LayerFuture {
        let cfg = self.cfg.clone();
        let recovery = i64::from(self.secret_recovery_days);
        Box::pin(async move {
            match action {
                Action::Converge => converge(&ctx, &cfg, &inputs).await,
                Action::Destroy { allow_protected } => {
                    let mut plan = Plan::default();
                    for c in destroy_database(&ctx, &cfg, allow_protected).await? {
                        plan.push(c);
                    }
                    for id in [CACHE_TOKEN, VECTOR_USER] {
                        plan.push(destroy_secret(&ctx, id, recovery).await?);
                    }
                    Ok(LayerResult::new(plan, Default::default()))
                }
            }
        })
    }
}

async fn converge(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &Outputs,
) -> Result<LayerResult, crate::LayerError> {
    let mut result = LayerResult::default();
    let net = inputs
        .of::<NetworkingOutputs>()
        .cloned()
        .unwrap_or_default();
    let id = inputs.of::<IdentityOutputs>().cloned().unwrap_or_default();
    let kms_key_arn = id.kms_key_arn.into_value();
    let placeholder = |what: &str| vec![format!("({what}: known after apply)")];
    let subnet_ids = net
        .subnet_ids(&cfg.subnet_tier)
        .into_value()
        .unwrap_or_else(|| placeholder("subnets"));
    let group = |name: &str| {
        net.security_group(name)
            .into_value()
            .map_or_else(|| placeholder("security group"), |g| vec![g])
    };
    // Generated once into Secrets Manager (through identity), never read back here: the
    // database crate reads the token only when it creates the replication group.
    let secret = |id: &str, description: &str, generator: Generator| {
        let mut spec = SecretSpec::generated(id, generator);
        spec.description = Some(description.to_owned());
        spec.kms_key_id.clone_from(&kms_key_arn);
        spec
    };
    let mut cache_auth_secret_arn = None;
    if cfg.cache.enabled {
        // ElastiCache AUTH: 16-128 printable characters without spaces, `"`, `/` or `@`;
        // letters and digits only keeps it usable in every client's connection URL.
        let token = secret(
            CACHE_TOKEN,
            "Redis AUTH token",
            Generator {
                length: 64,
                symbols: false,
                ..Generator::default()
            },
        );
        let r = ensure_secret(ctx, &token).await?;
        result.plan.push(r.change);
        cache_auth_secret_arn = r.arn;
    }
    let mut vector_user_secret_arn = None;
    if cfg.enabled && cfg.vector.enabled {
        let password = secret(
            VECTOR_USER,
            "Password of the bedrock_user PostgreSQL role (Bedrock knowledge bases)",
            Generator::default(),
        );
        let r = ensure_secret(ctx, &password).await?;
        result.plan.push(r.change);
        vector_user_secret_arn = r.arn;
    }
    let db_inputs = DatabaseInputs {
        subnet_ids,
        security_group_ids: group(&cfg.security_group),
        kms_key_arn,
        cache_security_group_ids: group(&cfg.cache.security_group),
        cache_auth_secret_arn,
        vector_user_secret_arn: vector_user_secret_arn.clone(),
    };
    let out = ensure_database(ctx, cfg, &db_inputs).await?;
    result.plan.extend(out.plan);
    result.outputs.extend(out.outputs);
    if let Some(arn) = vector_user_secret_arn {
        result
            .outputs
            .insert("vector.bedrock_user_secret_arn".into(), arn);
    }
    Ok(result)
}
