//! The cluster's diff (not its instances'): what changes in place and what is refused
//! naming the field. Pure.

use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::Tags;

use super::{ClusterSpec, ObservedCluster};
use crate::instance;
use crate::rds;

fn acu(range: Option<(f64, f64)>) -> String {
    range.map_or_else(|| "(none)".to_owned(), |(min, max)| format!("{min}-{max}"))
}

/// The change for a cluster (not its instances). Pure.
#[must_use]
pub fn decide(spec: &ClusterSpec, tags: &Tags, observed: Option<&ObservedCluster>) -> Change {
    let Some(obs) = observed else {
        let mut fields = vec![
            FieldDiff::set("engine", "aurora-postgresql"),
            FieldDiff::set("engine_version", &spec.engine_version),
            FieldDiff::set("storage_encrypted", spec.storage_encrypted),
            FieldDiff::set("backup_retention_days", spec.backup_retention_days),
            FieldDiff::set("iam_auth", spec.iam_auth),
            FieldDiff::set("deletion_protection", spec.deletion_protection),
            FieldDiff::set("data_api", spec.data_api),
            FieldDiff::set("master_username", &spec.master_username),
            FieldDiff::set("master_password", "managed by RDS in Secrets Manager"),
        ];
        if spec.serverless.is_some() {
            fields.push(FieldDiff::set("serverless_v2_acu", acu(spec.serverless)));
        }
        return Change::Create { fields };
    };
    if obs.engine != "aurora-postgresql" {
        return Change::refused(
            format!("engine ({} -> aurora-postgresql)", obs.engine),
            "changing the engine replaces the cluster and loses its data",
        );
    }
    if obs.storage_encrypted != spec.storage_encrypted {
        return Change::refused(
            format!(
                "storage_encrypted ({} -> {})",
                obs.storage_encrypted, spec.storage_encrypted
            ),
            "encryption is set when a cluster is created; restore an encrypted snapshot copy into a new cluster",
        );
    }
    if let (Some(want), Some(have)) = (&spec.kms_key_id, &obs.kms_key_id) {
        if want.starts_with("arn:") && have.starts_with("arn:") && want != have {
            return Change::refused(
                format!("kms_key_id ({have} -> {want})"),
                "the encryption key is set when a cluster is created",
            );
        }
    }
    if obs.master_username != spec.master_username {
        return Change::refused(
            format!(
                "master_username ({} -> {})",
                obs.master_username, spec.master_username
            ),
            "the master user is fixed at creation",
        );
    }
    if !obs.database_name.is_empty() && obs.database_name != spec.database_name {
        return Change::refused(
            format!(
                "database_name ({} -> {})",
                obs.database_name, spec.database_name
            ),
            "the initial database is named at creation; create other databases with SQL",
        );
    }
    if obs.subnet_group != spec.subnet_group {
        return Change::refused(
            format!(
                "subnet_group ({} -> {})",
                obs.subnet_group, spec.subnet_group
            ),
            "moving a cluster to another DB subnet group is not done in place by Ironbark",
        );
    }
    if let Err(reason) = instance::version_change(&obs.engine_version, &spec.engine_version) {
        return Change::refused(
            format!(
                "engine_version ({} -> {})",
                obs.engine_version, spec.engine_version
            ),
            reason,
        );
    }
    let mut fields = Vec::new();
    let mut diff = |field: &str, old: String, new: String| {
        if old != new {
            fields.push(FieldDiff::new(field, Some(old), Some(new)));
        }
    };
    diff(
        "engine_version",
        obs.engine_version.clone(),
        spec.engine_version.clone(),
    );
    diff(
        "serverless_v2_acu",
        acu(obs.serverless),
        acu(spec.serverless),
    );
    diff(
        "backup_retention_days",
        obs.backup_retention_days.to_string(),
        spec.backup_retention_days.to_string(),
    );
    diff(
        "backup_window",
        obs.backup_window.clone(),
        spec.backup_window.clone(),
    );
    diff(
        "maintenance_window",
        obs.maintenance_window.clone(),
        spec.maintenance_window.clone(),
    );
    diff(
        "iam_auth",
        obs.iam_auth.to_string(),
        spec.iam_auth.to_string(),
    );
    diff(
        "deletion_protection",
        obs.deletion_protection.to_string(),
        spec.deletion_protection.to_string(),
    );
    let mut sgs = spec.security_group_ids.clone();
    sgs.sort();
    diff(
        "security_group_ids",
        obs.security_group_ids.join(","),
        sgs.join(","),
    );
    if let Some(pg) = &spec.parameter_group {
        diff("parameter_group", obs.parameter_group.clone(), pg.clone());
    }
    diff(
        "data_api",
        obs.data_api.to_string(),
        spec.data_api.to_string(),
    );
    fields.extend(rds::tag_fields(tags, &obs.tags));
    Change::update_if_any(fields)
}
