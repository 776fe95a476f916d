//! The typed difference between an instance and its spec, split by concern: what AWS can
//! only do by replacement (refused, naming the field), the settings of a standalone instance,
//! the settings every instance has, and the tags. Pure; `modify` sends exactly its settings.

use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, Diff, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::Tags;

use super::{InstanceSpec, ObservedInstance, Placement, StandaloneSpec};

pub(crate) fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

pub(crate) fn version_parts(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Compares desired and observed engine versions: `Ok(true)` for an in-place minor upgrade,
/// `Ok(false)` when equal, `Err` for a major change or a downgrade.
pub(crate) fn version_change(observed: &str, desired: &str) -> Result<bool, String> {
    if observed == desired {
        return Ok(false);
    }
    if major(observed) != major(desired) {
        return Err(format!(
            "a major version upgrade ({observed} -> {desired}) changes the parameter group family and cannot be rolled back; Ironbark refuses it: take a snapshot, upgrade by hand (or restore into a new stack), then deploy"
        ));
    }
    if version_parts(desired) < version_parts(observed) {
        return Err(format!(
            "{desired} is older than the running {observed}; RDS cannot downgrade an engine"
        ));
    }
    Ok(true)
}

pub(crate) fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

/// The fields of a new instance, as shown in a plan.
fn create_fields(spec: &InstanceSpec) -> Vec<FieldDiff> {
    let mut fields = vec![
        FieldDiff::set("engine", &spec.engine),
        FieldDiff::set("instance_class", &spec.instance_class),
    ];
    match &spec.placement {
        Placement::Standalone(s) => {
            fields.extend([
                FieldDiff::set("engine_version", &s.engine_version),
                FieldDiff::set("allocated_storage_gb", s.allocated_storage_gb),
                FieldDiff::set("storage_type", "gp3"),
                FieldDiff::set("storage_encrypted", s.storage_encrypted),
                FieldDiff::set("multi_az", s.multi_az),
                FieldDiff::set("backup_retention_days", s.backup_retention_days),
                FieldDiff::set("iam_auth", s.iam_auth),
                FieldDiff::set("deletion_protection", s.deletion_protection),
                FieldDiff::set("master_username", &s.master_username),
                FieldDiff::set("master_password", "managed by RDS in Secrets Manager"),
            ]);
        }
        Placement::ClusterMember { cluster, .. } => {
            fields.push(FieldDiff::set("cluster", cluster));
        }
    }
    fields.extend([
        FieldDiff::set("performance_insights", spec.performance_insights),
        FieldDiff::set("publicly_accessible", spec.publicly_accessible),
    ]);
    fields
}

/// Fields whose modification waits for the maintenance window unless applied immediately.
const DEFERRABLE: &[&str] = &[
    "instance_class",
    "allocated_storage_gb",
    "multi_az",
    "engine_version",
    "backup_retention_days",
];

/// One setting to modify, with the value to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// A minor engine version upgrade.
    EngineVersion(String),
    /// Storage growth, in GiB.
    AllocatedStorageGb(u32),
    /// Multi-AZ.
    MultiAz(bool),
    /// Automated backup retention, in days.
    BackupRetentionDays(u8),
    /// The backup window.
    BackupWindow(String),
    /// IAM database authentication.
    IamAuth(bool),
    /// Deletion protection.
    DeletionProtection(bool),
    /// The VPC security groups.
    SecurityGroupIds(Vec<String>),
    /// The instance class.
    InstanceClass(String),
    /// The maintenance window.
    MaintenanceWindow(String),
    /// Performance Insights.
    PerformanceInsights(bool),
    /// Public accessibility.
    PubliclyAccessible(bool),
    /// The DB parameter group.
    ParameterGroup(String),
}

/// What differs between an instance and its spec; `ensure_instance` acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceDiff {
    /// The plan's fields of a create, when the instance does not exist.
    create: Option<Vec<FieldDiff>>,
    /// A change AWS can only make by replacement: (field, reason).
    refusal: Option<(String, String)>,
    /// The settings to modify, each with its plan rendering.
    pub settings: Vec<(FieldDiff, Setting)>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering.
    tag_fields: Vec<FieldDiff>,
}

impl Diff for InstanceDiff {
    fn is_empty(&self) -> bool {
        self.create.is_none()
            && self.refusal.is_none()
            && self.settings.is_empty()
            && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        if let Some(fields) = &self.create {
            return fields.clone();
        }
        let mut fields: Vec<FieldDiff> = self.settings.iter().map(|(f, _)| f.clone()).collect();
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// Collects settings whose (effective) observed value differs from the desired one.
struct Settings<'a> {
    obs: &'a ObservedInstance,
    deferred: bool,
    out: Vec<(FieldDiff, Setting)>,
}

impl Settings<'_> {
    /// The value to compare: a modification pending for the maintenance window counts as done.
    fn eff(&self, field: &str, current: String) -> String {
        self.obs.pending.get(field).cloned().unwrap_or(current)
    }

    fn push(&mut self, field: &str, old: String, new: String, setting: Setting) {
        if old == new {
            return;
        }
        let mut new = new;
        if self.deferred && DEFERRABLE.contains(&field) {
            new.push_str(" (in the maintenance window)");
        }
        self.out
            .push((FieldDiff::new(field, Some(old), Some(new)), setting));
    }
}

/// What AWS can only do by replacing the instance, refused naming the field. Pure.
fn refusal(spec: &InstanceSpec, obs: &ObservedInstance) -> Option<(String, String)> {
    let refuse = |field: String, reason: &str| Some((field, reason.to_owned()));
    if obs.engine != spec.engine {
        return refuse(
            format!("engine ({} -> {})", obs.engine, spec.engine),
            "changing the engine replaces the database and loses its data; migrate with a snapshot restore or dump into a new stack",
        );
    }
    match (&spec.placement, &obs.cluster) {
        (Placement::Standalone(s), None) => standalone_refusal(s, obs),
        (Placement::ClusterMember { cluster, .. }, Some(have)) if have == cluster => None,
        (Placement::ClusterMember { cluster, .. }, have) => refuse(
            format!(
                "cluster ({} -> {cluster})",
                have.as_deref().unwrap_or("(standalone)")
            ),
            "an instance cannot move into or between clusters",
        ),
        (Placement::Standalone(_), Some(have)) => refuse(
            format!("cluster ({have} -> (standalone))"),
            "an Aurora member cannot become a standalone instance",
        ),
    }
}

/// The replacements of a standalone instance: encryption, its key, storage shrink, master
/// user, initial database, subnet group, and major or backward engine versions.
fn standalone_refusal(s: &StandaloneSpec, obs: &ObservedInstance) -> Option<(String, String)> {
    let refuse = |field: String, reason: &str| Some((field, reason.to_owned()));
    if obs.storage_encrypted != s.storage_encrypted {
        return refuse(
            format!("storage_encrypted ({} -> {})", obs.storage_encrypted, s.storage_encrypted),
            "encryption can only be set when a database is created; restore an encrypted copy of a snapshot into a new instance",
        );
    }
    if let (Some(want), Some(have)) = (&s.kms_key_id, &obs.kms_key_id) {
        if want.starts_with("arn:") && have.starts_with("arn:") && want != have {
            return refuse(
                format!("kms_key_id ({have} -> {want})"),
                "the encryption key can only be set when a database is created; restore a snapshot copied under the new key",
            );
        }
    }
    let storage_now: u32 = obs
        .pending
        .get("allocated_storage_gb")
        .and_then(|v| v.parse().ok())
        .unwrap_or(obs.allocated_storage_gb);
    if s.allocated_storage_gb < storage_now {
        return refuse(
            format!(
                "allocated_storage_gb ({storage_now} -> {})",
                s.allocated_storage_gb
            ),
            "RDS storage cannot shrink; dump and restore into a smaller instance, or keep the size",
        );
    }
    if obs.master_username != s.master_username {
        return refuse(
            format!(
                "master_username ({} -> {})",
                obs.master_username, s.master_username
            ),
            "the master user is fixed at creation",
        );
    }
    if !obs.database_name.is_empty() && obs.database_name != s.database_name {
        return refuse(
            format!(
                "database_name ({} -> {})",
                obs.database_name, s.database_name
            ),
            "the initial database is named at creation; create other databases with SQL",
        );
    }
    if obs.subnet_group != s.subnet_group {
        return refuse(
            format!("subnet_group ({} -> {})", obs.subnet_group, s.subnet_group),
            "moving an instance to another DB subnet group is not done in place by Ironbark",
        );
    }
    let version = obs
        .pending
        .get("engine_version")
        .cloned()
        .unwrap_or_else(|| obs.engine_version.clone());
    match version_change(&version, &s.engine_version) {
        Err(reason) => Some((
            format!("engine_version ({version} -> {})", s.engine_version),
            reason,
        )),
        Ok(_) => None,
    }
}

/// The settings only a standalone instance has (a cluster member's come from its cluster).
fn standalone_settings(s: &StandaloneSpec, out: &mut Settings<'_>) {
    let obs = out.obs;
    let version = out.eff("engine_version", obs.engine_version.clone());
    if version_change(&version, &s.engine_version) == Ok(true) {
        let new = s.engine_version.clone();
        out.push(
            "engine_version",
            version,
            new.clone(),
            Setting::EngineVersion(new),
        );
    }
    let storage = out.eff("allocated_storage_gb", obs.allocated_storage_gb.to_string());
    out.push(
        "allocated_storage_gb",
        storage,
        s.allocated_storage_gb.to_string(),
        Setting::AllocatedStorageGb(s.allocated_storage_gb),
    );
    let multi_az = out.eff("multi_az", obs.multi_az.to_string());
    out.push(
        "multi_az",
        multi_az,
        s.multi_az.to_string(),
        Setting::MultiAz(s.multi_az),
    );
    let retention = out.eff(
        "backup_retention_days",
        obs.backup_retention_days.to_string(),
    );
    out.push(
        "backup_retention_days",
        retention,
        s.backup_retention_days.to_string(),
        Setting::BackupRetentionDays(s.backup_retention_days),
    );
    out.push(
        "backup_window",
        obs.backup_window.clone(),
        s.backup_window.clone(),
        Setting::BackupWindow(s.backup_window.clone()),
    );
    let iam = out.eff("iam_auth", obs.iam_auth.to_string());
    out.push(
        "iam_auth",
        iam,
        s.iam_auth.to_string(),
        Setting::IamAuth(s.iam_auth),
    );
    out.push(
        "deletion_protection",
        obs.deletion_protection.to_string(),
        s.deletion_protection.to_string(),
        Setting::DeletionProtection(s.deletion_protection),
    );
    let want = sorted(&s.security_group_ids);
    out.push(
        "security_group_ids",
        obs.security_group_ids.join(","),
        want.join(","),
        Setting::SecurityGroupIds(want),
    );
}

/// The settings every instance has: class, maintenance window, Performance Insights, public
/// access and parameter group.
fn common_settings(spec: &InstanceSpec, out: &mut Settings<'_>) {
    let obs = out.obs;
    let class = out.eff("instance_class", obs.instance_class.clone());
    out.push(
        "instance_class",
        class,
        spec.instance_class.clone(),
        Setting::InstanceClass(spec.instance_class.clone()),
    );
    out.push(
        "maintenance_window",
        obs.maintenance_window.clone(),
        spec.maintenance_window.clone(),
        Setting::MaintenanceWindow(spec.maintenance_window.clone()),
    );
    out.push(
        "performance_insights",
        obs.performance_insights.to_string(),
        spec.performance_insights.to_string(),
        Setting::PerformanceInsights(spec.performance_insights),
    );
    out.push(
        "publicly_accessible",
        obs.publicly_accessible.to_string(),
        spec.publicly_accessible.to_string(),
        Setting::PubliclyAccessible(spec.publicly_accessible),
    );
    if let Some(want) = &spec.parameter_group {
        let have = obs
            .parameter_group
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        out.push(
            "parameter_group",
            have,
            want.clone(),
            Setting::ParameterGroup(want.clone()),
        );
    }
}

/// The diff for an instance. Pure.
///
/// A modification already pending for the maintenance window counts as done: the value
/// compared is the pending one.
#[must_use]
pub fn diff(spec: &InstanceSpec, tags: &Tags, observed: Option<&ObservedInstance>) -> InstanceDiff {
    let Some(obs) = observed else {
        return InstanceDiff {
            create: Some(create_fields(spec)),
            ..InstanceDiff::default()
        };
    };
    if let Some(refusal) = refusal(spec, obs) {
        return InstanceDiff {
            refusal: Some(refusal),
            ..InstanceDiff::default()
        };
    }
    let mut settings = Settings {
        obs,
        deferred: !spec.apply_immediately,
        out: Vec::new(),
    };
    if let Placement::Standalone(s) = &spec.placement {
        standalone_settings(s, &mut settings);
    }
    common_settings(spec, &mut settings);
    InstanceDiff {
        settings: settings.out,
        tags: tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        tag_fields: tags.field_diffs(&obs.tags),
        ..InstanceDiff::default()
    }
}

/// The change for an instance. Pure.
///
/// A modification already pending for the maintenance window counts as done: the value
/// compared is the pending one.
#[must_use]
pub fn decide(spec: &InstanceSpec, tags: &Tags, observed: Option<&ObservedInstance>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}
