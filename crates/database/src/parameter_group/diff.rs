//! The typed difference between a parameter group and its spec: the parameters to set and
//! to reset, each with how AWS applies it, the refused family change, and the tags. Pure.

use ironbark_core::plan::{Change, FieldDiff};
use ironbark_core::reconcile::{self, Diff, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::Tags;

use super::{is_static, ObservedParameterGroup, ParameterGroupSpec};

/// One parameter to set (or reset to the engine default), with how AWS applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterChange {
    /// The parameter name.
    pub name: String,
    /// The value found, when set.
    pub observed: Option<String>,
    /// The value to set; `None` resets it to the engine default.
    pub desired: Option<String>,
    /// Static: applied `pending-reboot` (takes effect at the next reboot); otherwise
    /// `immediate`.
    pub is_static: bool,
}

/// What differs between a parameter group and its spec; the ensure acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParameterGroupDiff {
    /// The group does not exist: the create call, then every parameter of the spec.
    pub create: bool,
    /// A family change, refused: (field, reason).
    refusal: Option<(String, String)>,
    /// The family of a group to create.
    family: String,
    /// The parameters to set (the spec's, in name order) and then to reset (set by hand,
    /// no longer in the spec).
    pub parameters: Vec<ParameterChange>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    /// The tags' plan rendering.
    tag_fields: Vec<FieldDiff>,
}

impl ParameterGroupDiff {
    /// The static parameters the diff sets: they wait for a reboot.
    #[must_use]
    pub fn reboot_required(&self) -> Vec<String> {
        self.parameters
            .iter()
            .filter(|p| p.is_static && p.desired.is_some())
            .map(|p| p.name.clone())
            .collect()
    }
}

impl Diff for ParameterGroupDiff {
    fn is_empty(&self) -> bool {
        !self.create && self.refusal.is_none() && self.parameters.is_empty() && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        let shown = |p: &ParameterChange| match &p.desired {
            Some(v) if p.is_static => format!("{v} (pending-reboot)"),
            Some(v) => v.clone(),
            None => "(engine default)".to_owned(),
        };
        if self.create {
            let mut fields = vec![FieldDiff::set("family", &self.family)];
            fields.extend(
                self.parameters
                    .iter()
                    .map(|p| FieldDiff::set(format!("parameters.{}", p.name), shown(p))),
            );
            return fields;
        }
        let mut fields: Vec<FieldDiff> = self
            .parameters
            .iter()
            .map(|p| {
                FieldDiff::new(
                    format!("parameters.{}", p.name),
                    p.observed.clone(),
                    Some(shown(p)),
                )
            })
            .collect();
        fields.extend(self.tag_fields.iter().cloned());
        fields
    }

    fn refusal(&self) -> Option<(String, String)> {
        self.refusal.clone()
    }
}

/// The diff for a parameter group. Pure. The description cannot change in place and is
/// informative only: its drift is ignored.
#[must_use]
pub fn diff(
    spec: &ParameterGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedParameterGroup>,
) -> ParameterGroupDiff {
    let Some(obs) = observed else {
        return ParameterGroupDiff {
            create: true,
            family: spec.family.clone(),
            parameters: spec
                .parameters
                .iter()
                .map(|(k, v)| ParameterChange {
                    name: k.clone(),
                    observed: None,
                    desired: Some(v.clone()),
                    is_static: is_static(k, None),
                })
                .collect(),
            ..ParameterGroupDiff::default()
        };
    };
    if obs.family != spec.family {
        return ParameterGroupDiff {
            refusal: Some((
                format!("family ({} -> {})", obs.family, spec.family),
                "a parameter group's family cannot change; it follows the engine's major version, and major upgrades are refused (upgrade by hand after testing, then deploy)".into(),
            )),
            ..ParameterGroupDiff::default()
        };
    }
    let mut parameters: Vec<ParameterChange> = spec
        .parameters
        .iter()
        .filter_map(|(k, v)| {
            let o = obs.parameters.get(k);
            (o.map(|o| o.value.as_str()) != Some(v.as_str())).then(|| ParameterChange {
                name: k.clone(),
                observed: o.map(|o| o.value.clone()),
                desired: Some(v.clone()),
                is_static: is_static(k, o),
            })
        })
        .collect();
    parameters.extend(
        obs.parameters
            .iter()
            .filter(|(k, _)| !spec.parameters.contains_key(*k))
            .map(|(k, o)| ParameterChange {
                name: k.clone(),
                observed: Some(o.value.clone()),
                desired: None,
                is_static: is_static(k, Some(o)),
            }),
    );
    ParameterGroupDiff {
        parameters,
        tags: tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        tag_fields: tags.field_diffs(&obs.tags),
        ..ParameterGroupDiff::default()
    }
}

/// The change for a parameter group. Pure.
#[must_use]
pub fn decide(
    spec: &ParameterGroupSpec,
    tags: &Tags,
    observed: Option<&ObservedParameterGroup>,
) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}
