//! The tags every Ironbark resource carries, and their conversion to each SDK's shape.
//!
//! Core does not depend on any service SDK beyond STS and S3, so conversions are generic:
//! a domain crate maps the pairs into its own type in one line, e.g.
//! `tags.to_sdk(|k, v| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tag key naming the project (cost allocation).
pub const PROJECT: &str = "Project";
/// Tag key naming the environment (dev, staging, prod, ...).
pub const ENV: &str = "Env";
/// Tag key naming the owning team.
pub const OWNER: &str = "Owner";
/// Tag key naming the cost center.
pub const COST_CENTER: &str = "CostCenter";
/// Tag key naming the Ironbark stack.
pub const STACK: &str = "ironbark:stack";
/// Tag key holding the logical id (`networking/subnet/private/us-east-1a`), by which resources
/// without a unique name are found again.
pub const ID: &str = "ironbark:id";
/// Tag key holding the environment as Ironbark knows it; with [`STACK`] it scopes `destroy`.
pub const ENVIRONMENT: &str = "ironbark:env";

/// An ordered set of tags. Ordered so that rendering and request bodies are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags(BTreeMap<String, String>);

/// What must change for observed tags to match desired ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagDiff {
    /// Tags missing or with another value: (key, observed value if any, desired value).
    pub set: Vec<(String, Option<String>, String)>,
    /// Keys present on the resource in Ironbark's namespace (`ironbark:*`) but not desired.
    pub remove: Vec<String>,
}

impl TagDiff {
    /// True when nothing needs to change.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// The tags to set (key and desired value), for a service's tag-resource call.
    #[must_use]
    pub fn to_set(&self) -> Tags {
        self.set
            .iter()
            .map(|(k, _, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Tags {
    /// The standard tags of a stack and environment.
    #[must_use]
    pub fn standard(project: &str, env: &str, owner: &str, cost_center: &str, stack: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert(PROJECT.to_owned(), project.to_owned());
        map.insert(ENV.to_owned(), env.to_owned());
        map.insert(OWNER.to_owned(), owner.to_owned());
        map.insert(COST_CENTER.to_owned(), cost_center.to_owned());
        map.insert(STACK.to_owned(), stack.to_owned());
        map.insert(ENVIRONMENT.to_owned(), env.to_owned());
        Self(map)
    }

    /// These tags plus `ironbark:id = logical_id`.
    #[must_use]
    pub fn with_id(&self, logical_id: &str) -> Self {
        self.with(ID, logical_id)
    }

    /// These tags plus one more (replacing a tag of the same key).
    #[must_use]
    pub fn with(&self, key: &str, value: &str) -> Self {
        let mut map = self.0.clone();
        map.insert(key.to_owned(), value.to_owned());
        Self(map)
    }

    /// The value of one tag.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Iterates over `(key, value)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of tags.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no tags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Converts into any SDK's tag type with `f(key, value)`.
    pub fn to_sdk<T>(&self, f: impl Fn(&str, &str) -> T) -> Vec<T> {
        self.iter().map(|(k, v)| f(k, v)).collect()
    }

    /// The tags as a plain map (S3, SQS, Lambda, Secrets Manager style `HashMap<String, String>`).
    #[must_use]
    pub fn to_map(&self) -> std::collections::HashMap<String, String> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The tags as an ordered map.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Compares desired tags (self) with tags observed on a resource.
    ///
    /// Tags outside Ironbark's namespace that the resource carries but we do not declare are
    /// left alone (other tools and AWS itself add tags); extra `ironbark:*` tags are removed.
    #[must_use]
    pub fn diff<'a>(&self, observed: impl IntoIterator<Item = (&'a str, &'a str)>) -> TagDiff {
        let observed: BTreeMap<&str, &str> = observed.into_iter().collect();
        let set = self
            .0
            .iter()
            .filter(|(k, v)| observed.get(k.as_str()) != Some(&v.as_str()))
            .map(|(k, v)| {
                (
                    k.clone(),
                    observed.get(k.as_str()).map(|s| (*s).to_owned()),
                    v.clone(),
                )
            })
            .collect();
        let remove = observed
            .keys()
            .filter(|k| k.starts_with("ironbark:") && !self.0.contains_key(**k))
            .map(|k| (*k).to_owned())
            .collect();
        TagDiff { set, remove }
    }
}

impl Tags {
    /// The plan's field diffs (`tags.<key>: old -> new`) that bring `observed` to these tags,
    /// by [`Tags::diff`]'s rules.
    #[must_use]
    pub fn field_diffs(&self, observed: &BTreeMap<String, String>) -> Vec<crate::FieldDiff> {
        let diff = self.diff(observed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut out: Vec<crate::FieldDiff> = diff
            .set
            .into_iter()
            .map(|(k, old, new)| crate::FieldDiff::new(format!("tags.{k}"), old, Some(new)))
            .collect();
        out.extend(diff.remove.into_iter().map(|k| {
            let old = observed.get(&k).cloned();
            crate::FieldDiff::new(format!("tags.{k}"), old, None::<String>)
        }));
        out
    }

    /// Whether `observed` tags mark a resource as the one these tags describe: the same
    /// stack, environment and logical id. A resource of our name that fails this is someone
    /// else's and is never adopted implicitly.
    #[must_use]
    pub fn marks(&self, observed: &BTreeMap<String, String>) -> bool {
        [STACK, ENVIRONMENT, ID]
            .iter()
            .all(|k| observed.get(*k).map(String::as_str) == self.get(k))
    }
}

impl FromIterator<(String, String)> for Tags {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_tags_and_id() {
        let tags =
            Tags::standard("shop", "prod", "platform", "cc-42", "shop").with_id("networking/vpc");
        assert_eq!(tags.get(PROJECT), Some("shop"));
        assert_eq!(tags.get(ID), Some("networking/vpc"));
        assert_eq!(tags.len(), 7);
        let pairs = tags.to_sdk(|k, v| format!("{k}={v}"));
        assert!(pairs.contains(&"Env=prod".to_owned()));
    }

    #[test]
    fn diff_sets_missing_and_removes_only_our_namespace() {
        let desired = Tags::standard("p", "dev", "o", "c", "s").with_id("x");
        let observed = [
            ("Project", "p"),
            ("Env", "staging"),
            ("ironbark:id", "x"),
            ("ironbark:stale", "1"),
            ("team-tag", "keep"),
        ];
        let diff = desired.diff(observed);
        assert!(diff
            .set
            .contains(&("Env".into(), Some("staging".into()), "dev".into())));
        assert!(diff
            .set
            .iter()
            .any(|(k, old, _)| k == "Owner" && old.is_none()));
        assert_eq!(diff.remove, vec!["ironbark:stale".to_owned()]);
        let converged: Vec<(String, String)> = desired
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(desired
            .diff(converged.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .is_empty());
    }
}
