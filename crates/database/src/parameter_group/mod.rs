//! DB parameter groups (for an instance) and DB cluster parameter groups (for Aurora).
//!
//! Parameters are reconciled one by one with the apply method each needs: `immediate` for a
//! dynamic parameter, `pending-reboot` for a static one (`shared_preload_libraries`,
//! `max_connections`, ...). A static change is reported in the plan as needing a reboot and
//! in the outcome's [`ParameterGroupOutcome::reboot_required`]; Ironbark never reboots a
//! database on its own. Parameters set by hand and no longer in the spec are reset to the
//! engine default. The family (`postgres16`) cannot change: a major version upgrade needs a
//! new group, which is refused here like the upgrade itself.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{ApplyMethod, Parameter};
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::{Context, Event, Tags};

use ironbark_core::reconcile::{self, AwsError, Status};

use crate::error::DatabaseError;
use crate::rds;

mod diff;
#[cfg(test)]
mod tests;

pub use diff::{decide, diff, ParameterChange, ParameterGroupDiff};

/// Whether the group is for instances or for Aurora clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A DB parameter group (`postgres16`, or the instance-level group of Aurora members).
    Instance,
    /// A DB cluster parameter group (`aurora-postgresql16`).
    Cluster,
}

impl Scope {
    fn kind(self) -> &'static str {
        match self {
            Self::Instance => "DB parameter group",
            Self::Cluster => "DB cluster parameter group",
        }
    }
}

/// The desired parameter group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterGroupSpec {
    /// Logical id (`database/parameters`).
    pub logical_id: String,
    /// Instance or cluster group.
    pub scope: Scope,
    /// The family (`postgres16`, `aurora-postgresql16`).
    pub family: String,
    /// Description.
    pub description: String,
    /// Parameter values by name.
    pub parameters: BTreeMap<String, String>,
}

/// One parameter as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedParameter {
    /// Its value.
    pub value: String,
    /// `static` or `dynamic`, when AWS says.
    pub apply_type: Option<String>,
}

/// A parameter group as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedParameterGroup {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The family.
    pub family: String,
    /// Description.
    pub description: String,
    /// The parameters set by the user (source `user`).
    pub parameters: BTreeMap<String, ObservedParameter>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// What [`ensure_parameter_group`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ParameterGroupOutcome {
    /// The group's name.
    pub name: String,
    /// The change.
    pub change: ResourceChange,
    /// Static parameters changed by this run: they take effect at the next reboot.
    pub reboot_required: Vec<String>,
}

/// PostgreSQL parameters that only take effect after a restart (the `postmaster` context),
/// for when AWS does not say (a parameter never set before has no `user` row to read).
pub const STATIC_PARAMETERS: &[&str] = &[
    "archive_mode",
    "autovacuum_freeze_max_age",
    "autovacuum_max_workers",
    "huge_pages",
    "max_connections",
    "max_locks_per_transaction",
    "max_prepared_transactions",
    "max_replication_slots",
    "max_wal_senders",
    "max_worker_processes",
    "rds.logical_replication",
    "shared_buffers",
    "shared_preload_libraries",
    "track_activity_query_size",
    "wal_buffers",
    "wal_level",
];

/// Whether changing `name` needs a reboot, by what AWS reported or else the known list.
#[must_use]
pub fn is_static(name: &str, observed: Option<&ObservedParameter>) -> bool {
    match observed.and_then(|o| o.apply_type.as_deref()) {
        Some(t) => t == "static",
        None => STATIC_PARAMETERS.contains(&name),
    }
}

/// The physical name of the group `logical_id`.
#[must_use]
pub fn name_of(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &NameRule::RDS_IDENTIFIER)
        .to_ascii_lowercase()
}

async fn find(
    client: &aws_sdk_rds::Client,
    scope: Scope,
    name: &str,
) -> Result<Option<ObservedParameterGroup>, DatabaseError> {
    let kind = scope.kind();
    let (arn, family, description) = match scope {
        Scope::Instance => match client
            .describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await
        {
            Ok(out) => match out.db_parameter_groups().first() {
                Some(g) => (
                    g.db_parameter_group_arn().unwrap_or_default().to_owned(),
                    g.db_parameter_group_family().unwrap_or_default().to_owned(),
                    g.description().unwrap_or_default().to_owned(),
                ),
                None => return Ok(None),
            },
            Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => return Ok(None),
            Err(e) => return Err(DatabaseError::from(AwsError::new("read", kind, name, e))),
        },
        Scope::Cluster => match client
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
        {
            Ok(out) => match out.db_cluster_parameter_groups().first() {
                Some(g) => (
                    g.db_cluster_parameter_group_arn()
                        .unwrap_or_default()
                        .to_owned(),
                    g.db_parameter_group_family().unwrap_or_default().to_owned(),
                    g.description().unwrap_or_default().to_owned(),
                ),
                None => return Ok(None),
            },
            Err(e) if e.as_service_error().is_some_and(rds::is_not_found) => return Ok(None),
            Err(e) => return Err(DatabaseError::from(AwsError::new("read", kind, name, e))),
        },
    };
    let mut parameters = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page: Vec<Parameter> = match scope {
            Scope::Instance => {
                let out = client
                    .describe_db_parameters()
                    .db_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(AwsError::map("read the parameters of", kind, name))?;
                marker = out.marker().map(str::to_owned);
                out.parameters().to_vec()
            }
            Scope::Cluster => {
                let out = client
                    .describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(AwsError::map("read the parameters of", kind, name))?;
                marker = out.marker().map(str::to_owned);
                out.parameters().to_vec()
            }
        };
        for p in page {
            // Some implementations ignore the source filter: keep only user-set values.
            if p.source().is_some_and(|s| s != "user") {
                continue;
            }
            if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                parameters.insert(
                    k.to_owned(),
                    ObservedParameter {
                        value: v.to_owned(),
                        apply_type: p.apply_type().map(str::to_owned),
                    },
                );
            }
        }
        if marker.is_none() {
            break;
        }
    }
    let tags = client
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", kind, name))?;
    Ok(Some(ObservedParameterGroup {
        name: name.to_owned(),
        arn,
        family,
        description,
        parameters,
        tags: rds::tag_map(tags.tag_list()),
    }))
}

/// Creates the parameter group, or brings its parameters and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name; only parameters whose value differs are modified (20 per
/// call, AWS's limit), with `pending-reboot` for static ones and `immediate` otherwise.
/// A converged group costs three reads and no write.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails; [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a family change
/// or a group of another stack.
pub async fn ensure_parameter_group(
    ctx: &Context,
    spec: &ParameterGroupSpec,
) -> Result<ParameterGroupOutcome, DatabaseError> {
    let client = rds::client(ctx);
    let kind = spec.scope.kind();
    let name = name_of(ctx, &spec.logical_id);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("rds").await;
    let observed = find(&client, spec.scope, &name).await?;
    if let Some(obs) = &observed {
        if !rds::owned_by(&obs.tags, ctx, &spec.logical_id) {
            return Err(rds::foreign(kind, &name, &spec.logical_id));
        }
    }
    let tags = ctx.tags_for(&spec.logical_id);
    let diff = diff(spec, &tags, observed.as_ref());
    let change = reconcile::change_of(observed.is_some(), &diff, &Status::Ready);
    rds::refuse_in_apply(ctx, kind, &name, &change)?;
    let reboot_required = diff.reboot_required();
    if ctx.is_apply() && change.is_change() {
        if diff.create {
            create(&client, spec, &name, &tags).await?;
        }
        let method = |p: &ParameterChange| {
            if p.is_static {
                ApplyMethod::PendingReboot
            } else {
                ApplyMethod::Immediate
            }
        };
        let (set, stale): (Vec<&ParameterChange>, Vec<&ParameterChange>) =
            diff.parameters.iter().partition(|p| p.desired.is_some());
        let set: Vec<Parameter> = set
            .into_iter()
            .map(|p| {
                Parameter::builder()
                    .parameter_name(&p.name)
                    .set_parameter_value(p.desired.clone())
                    .apply_method(method(p))
                    .build()
            })
            .collect();
        for chunk in set.chunks(20) {
            modify(&client, spec.scope, &name, chunk.to_vec()).await?;
        }
        let stale: Vec<Parameter> = stale
            .into_iter()
            .map(|p| {
                Parameter::builder()
                    .parameter_name(&p.name)
                    .apply_method(method(p))
                    .build()
            })
            .collect();
        for chunk in stale.chunks(20) {
            reset(&client, spec.scope, &name, chunk.to_vec()).await?;
        }
        if let Some(obs) = &observed {
            rds::write_tags(&client, &obs.arn, &diff.tags, kind, &name).await?;
        }
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(ParameterGroupOutcome {
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: kind.to_owned(),
            physical_id: Some(name.clone()),
            change,
        },
        name,
        reboot_required,
    })
}

async fn create(
    client: &aws_sdk_rds::Client,
    spec: &ParameterGroupSpec,
    name: &str,
    tags: &Tags,
) -> Result<(), DatabaseError> {
    let kind = spec.scope.kind();
    let result: Result<(), (bool, DatabaseError)> = match spec.scope {
        Scope::Instance => client
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(&spec.family)
            .description(&spec.description)
            .set_tags(Some(rds::rds_tags(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                (
                    e.as_service_error().is_some_and(rds::is_already_exists),
                    AwsError::new("create", kind, name, e).into(),
                )
            }),
        Scope::Cluster => client
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .db_parameter_group_family(&spec.family)
            .description(&spec.description)
            .set_tags(Some(rds::rds_tags(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                (
                    e.as_service_error().is_some_and(rds::is_already_exists),
                    AwsError::new("create", kind, name, e).into(),
                )
            }),
    };
    match result {
        // An interrupted run created it: the parameters are reconciled next.
        Ok(()) | Err((true, _)) => Ok(()),
        Err((false, source)) => Err(source),
    }
}

async fn modify(
    client: &aws_sdk_rds::Client,
    scope: Scope,
    name: &str,
    params: Vec<Parameter>,
) -> Result<(), DatabaseError> {
    let kind = scope.kind();
    match scope {
        Scope::Instance => client
            .modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(params))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new("modify the parameters of", kind, name, e).into()),
        Scope::Cluster => client
            .modify_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .set_parameters(Some(params))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new("modify the parameters of", kind, name, e).into()),
    }
}

async fn reset(
    client: &aws_sdk_rds::Client,
    scope: Scope,
    name: &str,
    params: Vec<Parameter>,
) -> Result<(), DatabaseError> {
    let kind = scope.kind();
    match scope {
        Scope::Instance => client
            .reset_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(params))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new("reset parameters of", kind, name, e).into()),
        Scope::Cluster => client
            .reset_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .set_parameters(Some(params))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new("reset parameters of", kind, name, e).into()),
    }
}

/// Deletes the parameter group of `logical_id` (after the databases that use it).
///
/// # Idempotency
/// An absent group is a no-op; a group of another stack is left alone.
///
/// # Errors
/// [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) when a call fails.
pub async fn destroy_parameter_group(
    ctx: &Context,
    logical_id: &str,
    scope: Scope,
) -> Result<ResourceChange, DatabaseError> {
    let client = rds::client(ctx);
    let kind = scope.kind();
    let name = name_of(ctx, logical_id);
    let observed = find(&client, scope, &name).await?;
    let change = match &observed {
        Some(obs) if rds::owned_by(&obs.tags, ctx, logical_id) => Change::Delete,
        _ => Change::NoOp,
    };
    if ctx.is_apply() && change.is_change() {
        let result = match scope {
            Scope::Instance => client
                .delete_db_parameter_group()
                .db_parameter_group_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.as_service_error().is_some_and(rds::is_not_found),
                        DatabaseError::from(AwsError::new("delete", kind, &name, e)),
                    )
                }),
            Scope::Cluster => client
                .delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.as_service_error().is_some_and(rds::is_not_found),
                        DatabaseError::from(AwsError::new("delete", kind, &name, e)),
                    )
                }),
        };
        match result {
            Ok(()) | Err((true, _)) => {}
            Err((false, source)) => return Err(source),
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: kind.to_owned(),
        physical_id: Some(name),
        change,
    })
}
