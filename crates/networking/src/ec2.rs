//! Helpers shared by every EC2 resource module: the client, tags inside create calls, the
//! filters that find resources by `ironbark:id` (one resource, or every resource of the stack
//! for a kind's one read), tag reconciliation, progress reporting for hand-written ensures.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use ironbark_core::known::Known;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{AwsError, Converged};
use ironbark_core::retry::{retry, RetryPolicy};
use ironbark_core::tags::{self, TagDiff, Tags};
use ironbark_core::{Context, Event};

use crate::error::{is_not_yet_visible, NetworkingError};

/// The EC2 client of a context.
pub(crate) fn client(ctx: &Context) -> aws_sdk_ec2::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_ec2)
}

/// What an `ensure_*` returns: the resource's id (unknown in plan mode before creation) and
/// the change made or planned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Outcome {
    /// The AWS id (`vpc-...`), `None` when it does not exist yet (plan mode).
    pub id: Option<String>,
    /// The change.
    pub change: ResourceChange,
}

impl Outcome {
    /// The id, or a placeholder for plans (`(known after apply)`).
    #[must_use]
    pub fn id_or_placeholder(&self) -> String {
        Known::from(self.id.clone()).or_placeholder()
    }

    /// The outcome of a resource converged by the kit, whose output is its id.
    pub(crate) fn of(converged: Converged<String>) -> Self {
        Self {
            id: converged.output.into_value(),
            change: converged.change,
        }
    }
}

/// What plans show for ids that do not exist yet: core's one placeholder.
pub use ironbark_core::known::KNOWN_AFTER_APPLY;

/// The outcomes of resources converged together by the kit.
pub(crate) fn outcomes(converged: Vec<Converged<String>>) -> Vec<Outcome> {
    converged.into_iter().map(Outcome::of).collect()
}

/// A placeholder-rendered optional id (`vpc-...` or `(known after apply)`).
pub(crate) fn or_placeholder(id: Option<&String>) -> String {
    Known::from(id.cloned()).or_placeholder()
}

/// The `Name` tag of a resource: its deterministic physical name.
pub(crate) fn name_tag(ctx: &Context, logical_id: &str) -> String {
    ctx.physical_name(logical_id, &ironbark_core::naming::NameRule::GENERIC)
}

/// The desired tags of a resource: the stack's, `ironbark:id`, and `Name`.
pub(crate) fn desired_tags(ctx: &Context, logical_id: &str) -> Tags {
    ctx.tags_for(logical_id)
        .with("Name", &name_tag(ctx, logical_id))
}

/// The VPC to create a resource in; in apply mode it exists, since the VPC converges first.
pub(crate) fn vpc_or_missing<'a>(
    kind: &'static str,
    logical_id: &str,
    vpc_id: Option<&'a str>,
) -> Result<&'a str, NetworkingError> {
    vpc_id.ok_or_else(|| {
        ironbark_core::reconcile::ResourceError::InvalidSpec {
            kind,
            name: logical_id.to_owned(),
            reason: "no VPC to create it in: the VPC converges first".to_owned(),
        }
        .into()
    })
}

/// Tags for a create call (tags travel inside the create call, never added afterwards).
pub(crate) fn tag_spec(ctx: &Context, logical_id: &str, kind: ResourceType) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            desired_tags(ctx, logical_id).to_sdk(|k, v| Tag::builder().key(k).value(v).build()),
        ))
        .build()
}

/// Filters selecting the resource tagged with `logical_id` in this stack and environment.
pub(crate) fn by_id(ctx: &Context, logical_id: &str) -> Vec<Filter> {
    let mut filters = stack_filters(ctx);
    filters.push(
        Filter::builder()
            .name(format!("tag:{}", tags::ID))
            .values(logical_id)
            .build(),
    );
    filters
}

/// Filters selecting everything of this stack and environment (and, for a kind's one read,
/// only what carries an `ironbark:id`).
pub(crate) fn stack_filters(ctx: &Context) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{}", tags::STACK))
            .values(ctx.stack())
            .build(),
        Filter::builder()
            .name(format!("tag:{}", tags::ENVIRONMENT))
            .values(ctx.env())
            .build(),
    ]
}

/// A filter on one field.
pub(crate) fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
}

/// An SDK tag list as a map.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The value of the `ironbark:id` tag.
pub(crate) fn logical_id_of(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(tags::ID))
        .and_then(|t| t.value().map(str::to_owned))
}

/// At most one resource per logical id; more is an error naming them all.
pub(crate) fn at_most_one<T>(
    logical_id: &str,
    mut found: Vec<T>,
    id: impl Fn(&T) -> String,
) -> Result<Option<T>, NetworkingError> {
    if found.len() > 1 {
        return Err(NetworkingError::Duplicate {
            resource: logical_id.to_owned(),
            count: found.len(),
            ids: found.iter().map(id).collect::<Vec<_>>().join(", "),
        });
    }
    Ok(found.pop())
}

/// Resources of one kind found by one read of the whole stack, by their `ironbark:id`.
pub(crate) struct ByLogicalId<T>(BTreeMap<String, Vec<T>>);

impl<T> ByLogicalId<T> {
    /// Groups `found` by the `ironbark:id` of its tags (untagged ones are dropped).
    pub(crate) fn new(found: Vec<T>, tags: impl Fn(&T) -> &[Tag]) -> Self {
        let mut out: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for item in found {
            if let Some(id) = logical_id_of(tags(&item)) {
                out.entry(id).or_default().push(item);
            }
        }
        Self(out)
    }

    /// The one resource of `logical_id`, if any; more than one is an error naming them.
    pub(crate) fn take(
        &mut self,
        logical_id: &str,
        id: impl Fn(&T) -> String,
    ) -> Result<Option<T>, NetworkingError> {
        at_most_one(
            logical_id,
            self.0.remove(logical_id).unwrap_or_default(),
            id,
        )
    }
}

/// The tag part of a diff, as plan fields (`tags.Env: staging -> prod`).
pub(crate) fn tag_fields(diff: &TagDiff) -> Vec<FieldDiff> {
    let set = diff
        .set
        .iter()
        .map(|(k, old, new)| FieldDiff::new(format!("tags.{k}"), old.clone(), Some(new.clone())));
    let remove = diff
        .remove
        .iter()
        .map(|k| FieldDiff::new(format!("tags.{k}"), Some("(set)"), None::<String>));
    set.chain(remove).collect()
}

/// Applies a tag diff to one resource.
pub(crate) async fn apply_tags(
    ec2: &aws_sdk_ec2::Client,
    ctx: &Context,
    resource: &str,
    diff: &TagDiff,
) -> Result<(), NetworkingError> {
    if !diff.set.is_empty() {
        let tags = diff
            .set
            .iter()
            .map(|(k, _, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let _permit = ctx.permit("ec2").await;
        ec2.create_tags()
            .resources(resource)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::map("tag", "resource", resource))?;
    }
    if !diff.remove.is_empty() {
        let tags = diff
            .remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        let _permit = ctx.permit("ec2").await;
        ec2.delete_tags()
            .resources(resource)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::map("untag", "resource", resource))?;
    }
    Ok(())
}

/// How long a freshly created id may stay invisible to other calls.
pub(crate) const VISIBILITY: RetryPolicy =
    RetryPolicy::new("EC2 id propagation", Duration::from_secs(60));

/// Runs an EC2 call that refers to an id created moments ago, retrying while the id is not
/// visible yet (`*.NotFound`), for at most [`VISIBILITY`].
pub(crate) async fn when_visible<T, E, F, Fut>(op: F) -> Result<T, aws_sdk_ec2::error::SdkError<E>>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E>>>,
{
    retry(&VISIBILITY, is_not_yet_visible, op).await
}

/// Reports started/done/failed around one resource's convergence, for the hand-written
/// ensures (the kit's driver reports for the others).
pub(crate) async fn reported<F>(
    ctx: &Context,
    logical_id: &str,
    work: F,
) -> Result<Outcome, NetworkingError>
where
    F: Future<Output = Result<Outcome, NetworkingError>>,
{
    ctx.report(Event::Started {
        resource: logical_id.to_owned(),
    });
    match work.await {
        Ok(outcome) => {
            ctx.report(Event::Done {
                resource: logical_id.to_owned(),
                change: outcome.change.change.clone(),
            });
            Ok(outcome)
        }
        Err(e) => {
            ctx.report(Event::Failed {
                resource: logical_id.to_owned(),
                error: ironbark_core::reconcile::render(&e),
            });
            Err(e)
        }
    }
}

/// A [`ResourceChange`] for one resource.
pub(crate) fn resource_change(
    logical_id: &str,
    kind: &str,
    physical: Option<&str>,
    change: Change,
) -> ResourceChange {
    ResourceChange {
        id: logical_id.to_owned(),
        kind: kind.to_owned(),
        physical_id: physical.map(str::to_owned),
        change,
    }
}

/// How long a deletion may wait for dependents that AWS is still removing (a NAT gateway's
/// network interface, an endpoint's route).
pub(crate) const DEPENDENTS_GONE: RetryPolicy =
    RetryPolicy::new("dependents being deleted", Duration::from_secs(300));

/// Runs a deletion, retrying while AWS reports `DependencyViolation` (dependents still being
/// deleted), for at most [`DEPENDENTS_GONE`].
pub(crate) async fn retry_dependency<T, E, F, Fut>(
    op: F,
) -> Result<T, aws_sdk_ec2::error::SdkError<E>>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E>>>,
{
    retry(&DEPENDENTS_GONE, crate::error::is_dependency_violation, op).await
}
