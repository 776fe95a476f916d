//! The plan model: what Ironbark would change, field by field, rendered like Terraform's plan
//! for people and as JSON for machines. Sensitive fields never hold their values.

use std::fmt::Write as _;

use serde::Serialize;

/// One field that differs between the observed and the desired resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// The field's name as users write it in the stack file (`cidr_block`, `tags.Env`).
    pub field: String,
    /// The observed value; `None` when absent. Always `None` for sensitive fields.
    pub old: Option<String>,
    /// The desired value; `None` when it is to be removed. Always `None` for sensitive fields.
    pub new: Option<String>,
    /// Whether the values are secret: rendered as `(sensitive)`, never stored.
    pub sensitive: bool,
}

impl FieldDiff {
    /// A change of a plain field.
    pub fn new(
        field: impl Into<String>,
        old: Option<impl ToString>,
        new: Option<impl ToString>,
    ) -> Self {
        Self {
            field: field.into(),
            old: old.map(|v| v.to_string()),
            new: new.map(|v| v.to_string()),
            sensitive: false,
        }
    }

    /// A field set on create.
    pub fn set(field: impl Into<String>, new: impl ToString) -> Self {
        Self::new(field, None::<String>, Some(new))
    }

    /// A change of a secret field: which field changes is shown, its values never are.
    pub fn sensitive(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            old: None,
            new: None,
            sensitive: true,
        }
    }

    fn render(&self) -> String {
        if self.sensitive {
            return format!("{}: (sensitive)", self.field);
        }
        match (&self.old, &self.new) {
            (None, Some(new)) => format!("{}: {new}", self.field),
            (Some(old), None) => format!("{}: {old} -> (removed)", self.field),
            (Some(old), Some(new)) => format!("{}: {old} -> {new}", self.field),
            (None, None) => format!("{}: (unset)", self.field),
        }
    }
}

/// What Ironbark will do (or would do, in plan mode) to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// Nothing to do: the resource matches its spec.
    NoOp,
    /// Create the resource with these fields.
    Create {
        /// The notable fields of the new resource.
        fields: Vec<FieldDiff>,
    },
    /// Change these fields in place.
    Update {
        /// The fields that differ, old -> new.
        fields: Vec<FieldDiff>,
    },
    /// A change AWS can only make by replacing the resource, refused because the resource is
    /// stateful or replacement was not allowed.
    Refused {
        /// The field whose change would need a replacement.
        field: String,
        /// Why it is refused and what the user can do.
        reason: String,
    },
    /// Delete the resource.
    Delete,
    /// Nothing to change, but the resource is not usable yet: AWS reports a transitional
    /// status (`creating`, `modifying`, `pending`, ...), e.g. after an interrupted run. A
    /// deploy waits for it; a plan lists it and exits 2, so no run reports a stack "up to
    /// date" while a resource of it is still on its way.
    InProgress {
        /// The status AWS reports.
        status: String,
    },
}

impl Change {
    /// True for every change that writes.
    #[must_use]
    pub fn is_change(&self) -> bool {
        !matches!(self, Self::NoOp)
    }

    /// True for the changes that make write calls (create, update, delete); a resource in
    /// progress is only waited for.
    #[must_use]
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Create { .. } | Self::Update { .. } | Self::Delete
        )
    }

    /// This change, or [`Change::InProgress`] when there is nothing to change but AWS reports
    /// the resource in the transitional `status` (`None`: it is usable). For kinds with a
    /// hand-written ensure; the reconcile driver does this for every [`crate::reconcile::Resource`].
    #[must_use]
    pub fn or_in_progress(self, status: Option<&str>) -> Self {
        match (self, status) {
            (Self::NoOp, Some(status)) => Self::InProgress {
                status: status.to_owned(),
            },
            (change, _) => change,
        }
    }

    /// The one-character symbol of the change in the human rendering.
    #[must_use]
    pub fn symbol(&self) -> char {
        match self {
            Self::NoOp => ' ',
            Self::Create { .. } => '+',
            Self::Update { .. } => '~',
            Self::Refused { .. } => '!',
            Self::Delete => '-',
            Self::InProgress { .. } => '*',
        }
    }

    /// A refusal of a change to `field`, with why and what the user can do.
    #[must_use]
    pub fn refused(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Refused {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An update when `fields` is not empty, no-op otherwise.
    #[must_use]
    pub fn update_if_any(fields: Vec<FieldDiff>) -> Self {
        if fields.is_empty() {
            Self::NoOp
        } else {
            Self::Update { fields }
        }
    }
}

/// The change planned for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    /// The resource's logical id (`networking/subnet/private/us-east-1a`).
    pub id: String,
    /// The resource's kind (`subnet`).
    pub kind: String,
    /// The physical id or name when known (`subnet-0abc`, `shop-prod-main`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    /// What is to be done.
    #[serde(flatten)]
    pub change: Change,
}

/// Counts of a plan's changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Changes refused (replacement of a stateful resource).
    pub refused: usize,
    /// Resources with nothing to change that AWS reports as still in progress.
    pub in_progress: usize,
    /// Resources already converged.
    pub unchanged: usize,
}

/// All planned changes of a run, in the order they were observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// One entry per resource observed.
    pub resources: Vec<ResourceChange>,
}

impl Plan {
    /// Adds one resource's change.
    pub fn push(&mut self, change: ResourceChange) {
        self.resources.push(change);
    }

    /// Appends another plan's changes.
    pub fn extend(&mut self, other: Plan) {
        self.resources.extend(other.resources);
    }

    /// Counts the changes by kind.
    #[must_use]
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for r in &self.resources {
            match r.change {
                Change::NoOp => s.unchanged += 1,
                Change::Create { .. } => s.create += 1,
                Change::Update { .. } => s.update += 1,
                Change::Delete => s.delete += 1,
                Change::Refused { .. } => s.refused += 1,
                Change::InProgress { .. } => s.in_progress += 1,
            }
        }
        s
    }

    /// True when at least one resource would change (refusals included) or is still in
    /// progress in AWS (a deploy has to wait for it).
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.change.is_change())
    }

    /// True when at least one change is refused.
    #[must_use]
    pub fn has_refusals(&self) -> bool {
        self.resources
            .iter()
            .any(|r| matches!(r.change, Change::Refused { .. }))
    }

    /// The Terraform-like rendering: `+ create`, `~ update (field: old -> new)`, `- delete`,
    /// `! refuse`, then a summary line. Unchanged resources are not listed.
    #[must_use]
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for r in self.resources.iter().filter(|r| r.change.is_change()) {
            let physical = r
                .physical_id
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            let _ = writeln!(out, "{} {} {}{physical}", r.change.symbol(), r.kind, r.id);
            match &r.change {
                Change::Create { fields } | Change::Update { fields } => {
                    for f in fields {
                        let _ = writeln!(out, "    {}", f.render());
                    }
                }
                Change::Refused { field, reason } => {
                    let _ = writeln!(out, "    {field}: refused: {reason}");
                }
                Change::InProgress { status } => {
                    let _ = writeln!(
                        out,
                        "    status: {status} (in progress: deploy waits for it)"
                    );
                }
                Change::NoOp | Change::Delete => {}
            }
        }
        let s = self.summary();
        if self.has_changes() {
            let in_progress = if s.in_progress > 0 {
                format!(", {} in progress", s.in_progress)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "Plan: {} to create, {} to update, {} to delete, {} refused{in_progress} ({} unchanged).",
                s.create, s.update, s.delete, s.refused, s.unchanged
            );
        } else {
            let _ = writeln!(out, "No changes. {} resources are up to date.", s.unchanged);
        }
        out
    }

    /// The JSON rendering: `{"summary": {...}, "resources": [...]}`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "summary": self.summary(), "resources": self.resources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(id: &str, change: Change) -> ResourceChange {
        ResourceChange {
            id: id.into(),
            kind: "subnet".into(),
            physical_id: None,
            change,
        }
    }

    #[test]
    fn renders_like_terraform() {
        let mut plan = Plan::default();
        plan.push(rc(
            "a",
            Change::Create {
                fields: vec![FieldDiff::set("cidr_block", "10.0.0.0/24")],
            },
        ));
        plan.push(rc(
            "b",
            Change::Update {
                fields: vec![FieldDiff::new("map_public_ip", Some(false), Some(true))],
            },
        ));
        plan.push(rc("c", Change::Delete));
        plan.push(rc(
            "d",
            Change::Refused {
                field: "engine".into(),
                reason: "needs replacement".into(),
            },
        ));
        plan.push(rc("e", Change::NoOp));
        let text = plan.render_human();
        assert!(
            text.contains("+ subnet a\n    cidr_block: 10.0.0.0/24"),
            "{text}"
        );
        assert!(
            text.contains("~ subnet b\n    map_public_ip: false -> true"),
            "{text}"
        );
        assert!(text.contains("- subnet c"));
        assert!(text.contains("! subnet d\n    engine: refused: needs replacement"));
        assert!(!text.contains("subnet e"));
        assert!(
            text.contains("Plan: 1 to create, 1 to update, 1 to delete, 1 refused (1 unchanged).")
        );
        let json = plan.to_json();
        assert_eq!(json["summary"]["create"], 1);
        assert_eq!(json["resources"][1]["action"], "update");
        assert_eq!(json["resources"][1]["fields"][0]["new"], "true");
    }

    #[test]
    fn sensitive_values_are_never_rendered() {
        let mut plan = Plan::default();
        plan.push(rc(
            "s",
            Change::Update {
                fields: vec![FieldDiff::sensitive("auth_token")],
            },
        ));
        let text = plan.render_human();
        assert!(text.contains("auth_token: (sensitive)"));
        assert_eq!(
            plan.to_json()["resources"][0]["fields"][0]["old"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_resource_in_progress_is_a_change_with_its_own_line() {
        let mut plan = Plan::default();
        plan.push(rc("a", Change::NoOp));
        plan.push(rc(
            "db",
            Change::InProgress {
                status: "creating".into(),
            },
        ));
        assert!(plan.has_changes());
        assert_eq!(plan.summary().in_progress, 1);
        let text = plan.render_human();
        assert!(
            text.contains("* subnet db\n    status: creating (in progress: deploy waits for it)"),
            "{text}"
        );
        assert!(
            text.contains("Plan: 0 to create, 0 to update, 0 to delete, 0 refused, 1 in progress (1 unchanged)."),
            "{text}"
        );
        assert_eq!(plan.to_json()["resources"][1]["action"], "in_progress");
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let mut plan = Plan::default();
        plan.push(rc("a", Change::NoOp));
        assert!(!plan.has_changes());
        assert_eq!(
            plan.render_human(),
            "No changes. 1 resources are up to date.\n"
        );
    }
}
