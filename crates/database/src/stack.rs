//! The database section of a stack file, end to end: subnet group, parameter group, then an
//! RDS instance or an Aurora cluster with its instances. This is what the CLI's database
//! layer runs; a tool of your own can call it with its own inputs.

use std::collections::BTreeMap;

use ironbark_core::config::{DatabaseConfig, DbEngine};
use ironbark_core::plan::{Plan, ResourceChange};
use ironbark_core::Context;

use crate::cluster::{self, ClusterSpec};
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

/// What the database layer needs from the layers before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseInputs {
    /// Subnets of the database tier (one per AZ).
    pub subnet_ids: Vec<String>,
    /// Security groups of the database.
    pub security_group_ids: Vec<String>,
    /// The stack's KMS key ARN, for storage encryption; `None` for the AWS managed key.
    pub kms_key_arn: Option<String>,
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

/// Converges the PostgreSQL database of `cfg` (an RDS instance or an Aurora cluster) with its
/// subnet and parameter groups.
///
/// # Idempotency
/// Every resource is found by a deterministic name and only what differs is changed; a
/// converged database costs reads only. Refused changes are in the plan (plan mode) or an
/// error (apply mode), before anything is written to the refused resource.
///
/// # Errors
/// The first [`DatabaseError`] of any resource.
pub async fn ensure_database(
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
            return Err(DatabaseError::Refused {
                kind: "database",
                name: id,
                reason: format!("{field}: {reason}"),
            });
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

/// Destroys the PostgreSQL database of `cfg`, then its parameter and subnet groups.
///
/// # Idempotency
/// Absent resources are no-ops. Deletion protection is honoured unless `allow_protected`;
/// a final snapshot is taken when the profile says `final_snapshot = true`.
///
/// # Errors
/// [`DatabaseError::Refused`] for a protected database, other errors as they come.
pub async fn destroy_database(
    ctx: &Context,
    cfg: &DatabaseConfig,
    allow_protected: bool,
) -> Result<Vec<ResourceChange>, DatabaseError> {
    let opts = DestroyOptions {
        allow_protected,
        final_snapshot: cfg.final_snapshot,
    };
    let mut changes = Vec::new();
    // Both kinds are looked for: an engine switch in the file must not orphan the other.
    changes.push(instance::destroy_instance(ctx, INSTANCE, opts).await?);
    changes.extend(cluster::destroy_cluster(ctx, CLUSTER, opts).await?);
    let scope = match cfg.engine {
        DbEngine::Postgres => Scope::Instance,
        DbEngine::AuroraPostgresql => Scope::Cluster,
    };
    changes.push(parameter_group::destroy_parameter_group(ctx, PARAMETERS, scope).await?);
    changes.push(subnet_group::destroy_subnet_group(ctx, SUBNET_GROUP).await?);
    Ok(changes)
}
