//! The database section of a stack file, end to end: subnet group, parameter group, then an
//! RDS instance or an Aurora cluster with its instances. This is what the CLI's database
//! layer runs; a tool of your own can call it with its own inputs.

use std::collections::BTreeMap;

use ironbark_core::config::{parse_key, DatabaseConfig, DbEngine, TableConfig};
use ironbark_core::plan::{Change, FieldDiff, Plan, ResourceChange};
use ironbark_core::Context;
use secrecy::SecretString;

use crate::cache::{self, CacheDestroyOptions, CacheSubnetGroupSpec, RedisSpec};
use crate::data_api::DataApiExecutor;
use crate::dynamodb::{
    self, AttributeType, Billing, GsiSpec, KeyAttribute, Projection, TableDestroyOptions,
    TableSpec, Throughput,
};
use crate::login_role;
use crate::pgvector;

use crate::cluster::{self, ClusterSpec};
use ironbark_core::reconcile::ResourceError;

use crate::error::DatabaseError;
use crate::instance::{self, DestroyOptions, InstanceSpec, Placement, StandaloneSpec};
use crate::parameter_group::{self, ParameterGroupSpec, Scope};
use crate::subnet_group::{self, SubnetGroupSpec};

/// Logical id of the DB subnet group.
pub const SUBNET_GROUP: &str = "database/subnet-group";
/// Logical id of the parameter group (the cluster parameter group for Aurora).
pub const PARAMETERS: &str = "database/parameters";
/// Logical id of the RDS instance.
pub const INSTANCE: &str = "database/instance";
/// Logical id of the Aurora cluster.
pub const CLUSTER: &str = "database/cluster";
/// Logical id of the Redis replication group.
pub const CACHE: &str = "database/cache";
/// Logical id of the cache subnet group.
pub const CACHE_SUBNET_GROUP: &str = "database/cache/subnet-group";

/// The logical id of the DynamoDB table `name`.
#[must_use]
pub fn table_logical_id(name: &str) -> String {
    format!("database/table/{name}")
}

/// What the database layer needs from the layers before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseInputs {
    /// Subnets of the database tier (one per AZ).
    pub subnet_ids: Vec<String>,
    /// Security groups of the database.
    pub security_group_ids: Vec<String>,
    /// The stack's KMS key ARN, for storage encryption; `None` for the AWS managed key.
    pub kms_key_arn: Option<String>,
    /// Security groups of the cache.
    pub cache_security_group_ids: Vec<String>,
    /// The Secrets Manager secret holding the Redis AUTH token (read on creation only).
    pub cache_auth_secret_arn: Option<String>,
    /// The Secrets Manager secret holding the `bedrock_user` password (vector schema).
    pub vector_user_secret_arn: Option<String>,
}

/// What [`ensure_database`] did: the plan, and the outputs (`endpoint`, `port`,
/// `master_secret_arn`, ...). Outputs never hold a secret value, only ARNs.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct DatabaseOutcome {
    /// Every resource's change.
    pub plan: Plan,
    /// Output name -> value.
    pub outputs: BTreeMap<String, String>,
}

/// The parameter group family of an engine and version (`postgres16`, `aurora-postgresql16`).
#[must_use]
pub fn family(engine: DbEngine, version: &str) -> String {
    format!(
        "{}{}",
        engine.as_str(),
        version.split('.').next().unwrap_or(version)
    )
}

/// The instance spec of a standalone RDS for PostgreSQL database.
#[must_use]
pub fn instance_spec(
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
    subnet_group: &str,
    parameter_group: &str,
) -> InstanceSpec {
    InstanceSpec {
        logical_id: INSTANCE.into(),
        engine: "postgres".into(),
        instance_class: cfg.instance_class.clone(),
        placement: Placement::Standalone(Box::new(StandaloneSpec {
            engine_version: cfg.engine_version.clone(),
            allocated_storage_gb: cfg.allocated_storage_gb,
            storage_encrypted: cfg.storage_encrypted,
            kms_key_id: inputs.kms_key_arn.clone(),
            multi_az: cfg.multi_az,
            backup_retention_days: cfg.backup_retention_days,
            backup_window: cfg.backup_window.clone(),
            iam_auth: cfg.iam_auth,
            deletion_protection: cfg.deletion_protection,
            subnet_group: subnet_group.to_owned(),
            security_group_ids: inputs.security_group_ids.clone(),
            master_username: cfg.master_username.clone(),
            database_name: cfg.database_name.clone(),
        })),
        parameter_group: Some(parameter_group.to_owned()),
        performance_insights: cfg.performance_insights,
        maintenance_window: cfg.maintenance_window.clone(),
        publicly_accessible: cfg.publicly_accessible,
        apply_immediately: cfg.apply_immediately,
    }
}

/// The cluster spec of an Aurora PostgreSQL database.
#[must_use]
pub fn cluster_spec(
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
    subnet_group: &str,
    parameter_group: &str,
) -> ClusterSpec {
    let serverless = cfg.instance_class == "db.serverless";
    ClusterSpec {
        logical_id: CLUSTER.into(),
        engine_version: cfg.engine_version.clone(),
        instance_class: cfg.instance_class.clone(),
        serverless: serverless.then_some((cfg.aurora.min_acu, cfg.aurora.max_acu)),
        readers: cfg.aurora.readers,
        storage_encrypted: cfg.storage_encrypted,
        kms_key_id: inputs.kms_key_arn.clone(),
        backup_retention_days: cfg.backup_retention_days,
        backup_window: cfg.backup_window.clone(),
        maintenance_window: cfg.maintenance_window.clone(),
        iam_auth: cfg.iam_auth,
        deletion_protection: cfg.deletion_protection,
        subnet_group: subnet_group.to_owned(),
        security_group_ids: inputs.security_group_ids.clone(),
        parameter_group: Some(parameter_group.to_owned()),
        master_username: cfg.master_username.clone(),
        database_name: cfg.database_name.clone(),
        data_api: cfg.aurora.data_api,
        performance_insights: cfg.performance_insights,
        apply_immediately: cfg.apply_immediately,
    }
}

/// Converges the database section of `cfg`: the PostgreSQL database (an RDS instance or an
/// Aurora cluster with its subnet and parameter groups, then the pgvector schema through the
/// Data API), the Redis cache and the DynamoDB tables, the three concurrently.
///
/// # Idempotency
/// Every resource is found by a deterministic name and only what differs is changed; a
/// converged section costs reads only. Refused changes are in the plan (plan mode) or an
/// error (apply mode), before anything is written to the refused resource.
///
/// # Errors
/// The first [`DatabaseError`] of any resource.
pub async fn ensure_database(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
) -> Result<DatabaseOutcome, DatabaseError> {
    let (pg, redis, tables) = tokio::try_join!(
        ensure_postgres(ctx, cfg, inputs),
        ensure_cache(ctx, cfg, inputs),
        ensure_tables(ctx, cfg, inputs),
    )?;
    let mut out = pg;
    for part in [redis, tables] {
        out.plan.extend(part.plan);
        out.outputs.extend(part.outputs);
    }
    Ok(out)
}

/// The PostgreSQL database (and its vector schema) of `cfg`.
async fn ensure_postgres(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
) -> Result<DatabaseOutcome, DatabaseError> {
    let mut out = DatabaseOutcome::default();
    if !cfg.enabled {
        return Ok(out);
    }
    // An engine switch (RDS instance <-> Aurora cluster) would leave the old database running
    // beside a new, empty one: it is refused while the other kind exists.
    let other = match cfg.engine {
        DbEngine::Postgres => {
            let id = cluster::identifier_of(ctx, CLUSTER);
            cluster::find_cluster(ctx, &id)
                .await?
                .map(|_| (id, "aurora-postgresql", "DB cluster"))
        }
        DbEngine::AuroraPostgresql => {
            let id = instance::identifier_of(ctx, INSTANCE);
            instance::find_instance(ctx, &id)
                .await?
                .map(|_| (id, "postgres", "DB instance"))
        }
    };
    if let Some((id, engine, kind)) = other {
        let field = format!("engine ({engine} -> {})", cfg.engine.as_str());
        let reason = format!(
            "{kind} {id} holds the data; switching engines would create a second, empty database beside it. Migrate the data (snapshot restore or dump) into a new stack instead"
        );
        if ctx.is_apply() {
            return Err(ResourceError::refused("database", &id, &field, &reason).into());
        }
        out.plan.push(ResourceChange {
            id: match cfg.engine {
                DbEngine::Postgres => CLUSTER.into(),
                DbEngine::AuroraPostgresql => INSTANCE.into(),
            },
            kind: kind.into(),
            physical_id: Some(id),
            change: ironbark_core::Change::Refused { field, reason },
        });
        return Ok(out);
    }
    let subnet_spec = SubnetGroupSpec {
        logical_id: SUBNET_GROUP.into(),
        description: format!("{}-{} database subnets", ctx.stack(), ctx.env()),
        subnet_ids: inputs.subnet_ids.clone(),
    };
    let parameter_spec = ParameterGroupSpec {
        logical_id: PARAMETERS.into(),
        scope: match cfg.engine {
            DbEngine::Postgres => Scope::Instance,
            DbEngine::AuroraPostgresql => Scope::Cluster,
        },
        family: family(cfg.engine, &cfg.engine_version),
        description: format!("{}-{} database parameters", ctx.stack(), ctx.env()),
        parameters: cfg.parameters.clone(),
    };
    let (subnets, params) = tokio::try_join!(
        subnet_group::ensure_subnet_group(ctx, &subnet_spec),
        parameter_group::ensure_parameter_group(ctx, &parameter_spec),
    )?;
    out.plan.push(subnets.change);
    out.plan.push(params.change);
    if !params.reboot_required.is_empty() {
        out.outputs.insert(
            "reboot_required_for".into(),
            params.reboot_required.join(","),
        );
    }
    match cfg.engine {
        DbEngine::Postgres => {
            let spec = instance_spec(cfg, inputs, &subnets.name, &params.name);
            let r = instance::ensure_instance(ctx, &spec).await?;
            out.plan.push(r.change);
            out.outputs.insert("identifier".into(), r.identifier);
            if let Some(o) = r.observed {
                if let Some((host, port)) = o.endpoint {
                    out.outputs.insert("endpoint".into(), host);
                    out.outputs.insert("port".into(), port.to_string());
                }
                if let Some(arn) = o.master_secret_arn {
                    out.outputs.insert("master_secret_arn".into(), arn);
                }
                out.outputs.insert("arn".into(), o.arn);
            }
            if r.pending_reboot {
                out.outputs.insert("pending_reboot".into(), "true".into());
            }
        }
        DbEngine::AuroraPostgresql => {
            let spec = cluster_spec(cfg, inputs, &subnets.name, &params.name);
            let r = cluster::ensure_cluster(ctx, &spec).await?;
            for c in r.changes {
                out.plan.push(c);
            }
            out.outputs.insert("identifier".into(), r.identifier);
            if cfg.vector.enabled {
                let cluster = r
                    .observed
                    .as_ref()
                    .and_then(|o| Some((o.arn.clone(), o.master_secret_arn.clone()?)));
                for c in ensure_vector(ctx, cfg, inputs, cluster).await? {
                    out.plan.push(c);
                }
            }
            if let Some(o) = r.observed {
                if let Some(e) = o.endpoint {
                    out.outputs.insert("endpoint".into(), e);
                }
                if let Some(e) = o.reader_endpoint {
                    out.outputs.insert("reader_endpoint".into(), e);
                }
                out.outputs.insert("port".into(), o.port.to_string());
                if let Some(arn) = o.master_secret_arn {
                    out.outputs.insert("master_secret_arn".into(), arn);
                }
                out.outputs.insert("arn".into(), o.arn);
            }
        }
    }
    out.outputs
        .insert("database_name".into(), cfg.database_name.clone());
    Ok(out)
}

/// Destroys the section: the PostgreSQL database, its parameter and subnet groups, the
/// Redis cache and the tables named in `cfg` (a table dropped from the file is left alone:
/// it may hold data, and destroy only removes what the file names).
///
/// # Idempotency
/// Absent resources are no-ops. Deletion protection is honoured unless `allow_protected`;
/// a final snapshot is taken when the profile says `final_snapshot = true`.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a protected database, other errors as they come.
pub async fn destroy_database(
    ctx: &Context,
    cfg: &DatabaseConfig,
    allow_protected: bool,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    let opts = DestroyOptions {
        allow_protected,
        final_snapshot: cfg.final_snapshot,
    };
    if !allow_protected {
        refuse_protected(ctx, cfg).await?;
    }
    let postgres = async {
        let mut changes = Vec::new();
        // Both kinds are looked for: an engine switch in the file must not orphan the other.
        changes.extend(
            step(ctx, INSTANCE, async {
                instance::destroy_instance(ctx, INSTANCE, opts)
                    .await
                    .map(|c| vec![c])
            })
            .await?,
        );
        changes.extend(step(ctx, CLUSTER, cluster::destroy_cluster(ctx, CLUSTER, opts)).await?);
        let scope = match cfg.engine {
            DbEngine::Postgres => Scope::Instance,
            DbEngine::AuroraPostgresql => Scope::Cluster,
        };
        changes.extend(
            step(ctx, PARAMETERS, async {
                parameter_group::destroy_parameter_group(ctx, PARAMETERS, scope)
                    .await
                    .map(|c| vec![c])
            })
            .await?,
        );
        changes.extend(
            step(ctx, SUBNET_GROUP, async {
                subnet_group::destroy_subnet_group(ctx, SUBNET_GROUP)
                    .await
                    .map(|c| vec![c])
            })
            .await?,
        );
        Ok::<_, DatabaseError>(changes)
    };
    let redis = async {
        let mut changes = step(ctx, CACHE, async {
            cache::destroy_replication_group(
                ctx,
                CACHE,
                CacheDestroyOptions {
                    final_snapshot: cfg.final_snapshot,
                },
            )
            .await
            .map(|c| vec![c])
        })
        .await?;
        changes.extend(
            step(ctx, CACHE_SUBNET_GROUP, async {
                cache::destroy_cache_subnet_group(ctx, CACHE_SUBNET_GROUP)
                    .await
                    .map(|c| vec![c])
            })
            .await?,
        );
        Ok::<_, DatabaseError>(changes)
    };
    let tables = futures::future::try_join_all(cfg.tables.keys().map(|name| {
        let id = table_logical_id(name);
        async move {
            step(ctx, &id, async {
                dynamodb::destroy_table(ctx, &id, TableDestroyOptions { allow_protected })
                    .await
                    .map(|c| vec![c])
            })
            .await
        }
    }));
    // The three hold no references to each other: their deletions (minutes each for the
    // database and the cache) overlap.
    let (mut changes, redis, tables) = tokio::try_join!(postgres, redis, tables)?;
    changes.extend(redis);
    changes.extend(tables.into_iter().flatten());
    Ok(changes)
}

/// Runs one destroy step under progress events, so a deletion that takes minutes shows as a
/// line (or a spinner with AWS's status) from start to end: `Started` for `id`, `Done` for
/// every resource the step deleted (or would delete), `Failed` with the error.
async fn step(
    ctx: &Context,
    id: &str,
    work: impl std::future::Future<Output = Result<Vec<ResourceChange>, DatabaseError>>,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    use ironbark_core::Event;
    ctx.report(Event::Started {
        resource: id.to_owned(),
    });
    match work.await {
        Ok(changes) => {
            let mut closed = false;
            for c in &changes {
                if c.id == id {
                    closed = true;
                } else {
                    // Members (cluster instances) get their own line.
                    ctx.report(Event::Started {
                        resource: c.id.clone(),
                    });
                }
                ctx.report(Event::Done {
                    resource: c.id.clone(),
                    change: c.change.clone(),
                });
            }
            if !closed {
                ctx.report(Event::Done {
                    resource: id.to_owned(),
                    change: Change::NoOp,
                });
            }
            Ok(changes)
        }
        Err(e) => {
            ctx.report(Event::Failed {
                resource: id.to_owned(),
                error: e.to_string(),
            });
            Err(e)
        }
    }
}

/// Refuses a destroy, before anything is deleted, when the database or a table has deletion
/// protection: a destroy either runs whole or not at all.
async fn refuse_protected(ctx: &Context, cfg: &DatabaseConfig) -> Result<(), DatabaseError> {
    let reason = "deletion protection is on; destroy with --allow-protected to turn it off and delete (a final snapshot is taken unless the profile says final_snapshot = false)";
    let id = instance::identifier_of(ctx, INSTANCE);
    if instance::find_instance(ctx, &id)
        .await?
        .is_some_and(|o| o.deletion_protection)
    {
        return Err(DatabaseError::refused("DB instance", id, reason));
    }
    let id = cluster::identifier_of(ctx, CLUSTER);
    if cluster::find_cluster(ctx, &id)
        .await?
        .is_some_and(|o| o.deletion_protection)
    {
        return Err(DatabaseError::refused("DB cluster", id, reason));
    }
    for name in cfg.tables.keys() {
        let table = dynamodb::table_name_of(ctx, &table_logical_id(name));
        if dynamodb::find_table(ctx, &table)
            .await?
            .is_some_and(|t| t.deletion_protection)
        {
            return Err(DatabaseError::refused("DynamoDB table", table, "deletion protection is on; destroy with --allow-protected to turn it off and delete the table and its data"));
        }
    }
    Ok(())
}

/// The pgvector extension, the Bedrock knowledge-base schema and the `bedrock_user` role,
/// through the Data API with the cluster's master secret. Before the cluster (or the role's
/// secret) exists, in plan mode, the steps are shown as creates.
async fn ensure_vector(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
    cluster: Option<(String, String)>,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    let spec = pgvector::bedrock_knowledge_base(cfg.vector.dimension);
    let pending = |id: &str, kind: &str, field: &str, value: String| ResourceChange {
        id: id.to_owned(),
        kind: kind.to_owned(),
        physical_id: None,
        change: Change::Create {
            fields: vec![FieldDiff::set(field, value)],
        },
    };
    let Some((cluster_arn, secret_arn)) = cluster else {
        return Ok(vec![
            pending(
                "database/extension/vector",
                "postgres_extension",
                "extension",
                "vector".into(),
            ),
            pending(
                &spec.logical_id,
                "vector schema",
                "table",
                format!("{}.{}", spec.schema, spec.table),
            ),
            pending(
                "database/role/bedrock_user",
                "postgres_role",
                "role",
                login_role::BEDROCK_USER.into(),
            ),
        ]);
    };
    let exec = DataApiExecutor::new(ctx, cluster_arn, secret_arn, &cfg.database_name);
    let mut changes = Vec::new();
    if ctx.is_apply() {
        changes.push(pgvector::ensure_pgvector(&exec).await?);
        changes.extend(pgvector::ensure_vector_schema(&exec, &spec).await?.changes);
    } else {
        let observed = pgvector::observe_extension(&exec).await?;
        changes.push(ResourceChange {
            id: "database/extension/vector".into(),
            kind: "postgres_extension".into(),
            physical_id: Some("vector".into()),
            change: pgvector::decide_extension(observed.as_ref()),
        });
        changes.extend(pgvector::plan_vector_schema(&exec, &spec).await?.changes);
    }
    let grants = login_role::bedrock_user_grants();
    match (&inputs.vector_user_secret_arn, ctx.is_apply()) {
        (Some(arn), true) => {
            let password: SecretString = login_role::read_secret_string(ctx, arn).await?;
            changes.extend(
                login_role::ensure_login_role(&exec, login_role::BEDROCK_USER, &password, &grants)
                    .await?
                    .changes,
            );
        }
        (Some(_), false) => {
            changes.extend(
                login_role::plan_login_role(&exec, login_role::BEDROCK_USER, &grants)
                    .await?
                    .changes,
            );
        }
        (None, true) => {
            return Err(DatabaseError::invalid("postgres_role", login_role::BEDROCK_USER, "no Secrets Manager secret for its password was given (DatabaseInputs::vector_user_secret_arn)"))
        }
        (None, false) => changes.push(pending(
            "database/role/bedrock_user",
            "postgres_role",
            "role",
            login_role::BEDROCK_USER.into(),
        )),
    }
    Ok(changes)
}

/// The Redis replication group spec of `cfg`.
#[must_use]
pub fn redis_spec(cfg: &DatabaseConfig, inputs: &DatabaseInputs, ctx: &Context) -> RedisSpec {
    RedisSpec {
        logical_id: CACHE.into(),
        description: format!("{}-{} Redis", ctx.stack(), ctx.env()),
        subnet_group: CacheSubnetGroupSpec {
            logical_id: CACHE_SUBNET_GROUP.into(),
            description: format!("{}-{} cache subnets", ctx.stack(), ctx.env()),
            subnet_ids: inputs.subnet_ids.clone(),
        },
        node_type: cfg.cache.node_type.clone(),
        num_nodes: cfg.cache.nodes,
        engine_version: cfg.cache.engine_version.clone(),
        security_group_ids: inputs.cache_security_group_ids.clone(),
        at_rest_encryption: true,
        kms_key_id: inputs.kms_key_arn.clone(),
        transit_encryption: true,
        auth_token_secret_arn: inputs.cache_auth_secret_arn.clone(),
        snapshot_retention_days: cfg.cache.snapshot_retention_days,
        maintenance_window: Some(cfg.maintenance_window.clone()),
        apply_immediately: cfg.apply_immediately,
    }
}

async fn ensure_cache(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
) -> Result<DatabaseOutcome, DatabaseError> {
    let mut out = DatabaseOutcome::default();
    if !cfg.cache.enabled {
        return Ok(out);
    }
    let r = cache::ensure_redis(ctx, &redis_spec(cfg, inputs, ctx)).await?;
    for c in r.changes {
        out.plan.push(c);
    }
    out.outputs
        .insert("cache.replication_group_id".into(), r.replication_group_id);
    if let Some(e) = r.primary_endpoint {
        out.outputs.insert("cache.endpoint".into(), e.address);
        out.outputs.insert("cache.port".into(), e.port.to_string());
    }
    if let Some(e) = r.reader_endpoint {
        out.outputs
            .insert("cache.reader_endpoint".into(), e.address);
    }
    if let Some(arn) = &inputs.cache_auth_secret_arn {
        out.outputs
            .insert("cache.auth_secret_arn".into(), arn.clone());
    }
    Ok(out)
}

fn key(text: &str) -> KeyAttribute {
    // Validated at load time (`name:S|N|B`).
    let (name, ty) = parse_key(text).unwrap_or((text, "S"));
    let kind = match ty {
        "N" => AttributeType::N,
        "B" => AttributeType::B,
        _ => AttributeType::S,
    };
    KeyAttribute::new(name, kind)
}

/// The DynamoDB table spec of `tables.<name>`.
#[must_use]
pub fn table_spec(name: &str, t: &TableConfig, kms_key_arn: Option<&str>) -> TableSpec {
    let billing = if t.billing == "provisioned" {
        Billing::Provisioned(Throughput {
            read: i64::from(t.read_capacity),
            write: i64::from(t.write_capacity),
        })
    } else {
        Billing::OnDemand
    };
    TableSpec {
        logical_id: table_logical_id(name),
        partition_key: key(&t.partition_key),
        sort_key: t.sort_key.as_deref().map(key),
        global_secondary_indexes: t
            .indexes
            .iter()
            .map(|(index, i)| GsiSpec {
                name: index.clone(),
                partition_key: key(&i.partition_key),
                sort_key: i.sort_key.as_deref().map(key),
                projection: match i.projection.as_slice() {
                    [one] if one == "all" => Projection::All,
                    [one] if one == "keys-only" => Projection::KeysOnly,
                    attrs => Projection::Include(attrs.to_vec()),
                },
                throughput: None,
            })
            .collect(),
        billing,
        ttl_attribute: t.ttl_attribute.clone(),
        point_in_time_recovery: t.point_in_time_recovery,
        kms_key_arn: kms_key_arn.map(str::to_owned),
        deletion_protection: t.deletion_protection,
    }
}

async fn ensure_tables(
    ctx: &Context,
    cfg: &DatabaseConfig,
    inputs: &DatabaseInputs,
) -> Result<DatabaseOutcome, DatabaseError> {
    let mut out = DatabaseOutcome::default();
    let specs: Vec<(String, TableSpec)> = cfg
        .tables
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                table_spec(name, t, inputs.kms_key_arn.as_deref()),
            )
        })
        .collect();
    let results = futures::future::try_join_all(
        specs
            .iter()
            .map(|(_, spec)| dynamodb::ensure_table(ctx, spec)),
    )
    .await?;
    for ((name, _), r) in specs.iter().zip(results) {
        out.outputs.insert(format!("table.{name}"), r.table_name);
        if let Some(arn) = r.table_arn {
            out.outputs.insert(format!("table.{name}.arn"), arn);
        }
        out.plan.push(r.change);
    }
    Ok(out)
}
