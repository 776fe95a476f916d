//! What the RDS modules share: the client, tags as plan fields and their reconciliation, the
//! error predicates, and the waits' status classification.

use std::collections::BTreeMap;

use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::Tag;
use ironbark_core::plan::FieldDiff;
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

use ironbark_core::reconcile::{AwsError, ResourceError};

use crate::error::DatabaseError;

/// An RDS client with Ironbark's interceptors.
pub(crate) fn client(ctx: &Context) -> aws_sdk_rds::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_rds)
}

/// Tags in the RDS shape.
pub(crate) fn rds_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
}

/// Observed tags as a map.
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

/// The tag part of a diff, as plan fields (`tags.Env: staging -> prod`).
pub(crate) fn tag_fields(desired: &Tags, observed: &BTreeMap<String, String>) -> Vec<FieldDiff> {
    desired.field_diffs(observed)
}

/// Brings the tags of the resource `arn` to `desired`.
pub(crate) async fn apply_tags(
    rds: &aws_sdk_rds::Client,
    arn: &str,
    desired: &Tags,
    observed: &BTreeMap<String, String>,
    kind: &'static str,
    name: &str,
) -> Result<(), DatabaseError> {
    let diff = desired.diff(observed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    write_tags(rds, arn, &diff, kind, name).await
}

/// Makes the tag writes of `diff` on the resource `arn`.
pub(crate) async fn write_tags(
    rds: &aws_sdk_rds::Client,
    arn: &str,
    diff: &TagDiff,
    kind: &'static str,
    name: &str,
) -> Result<(), DatabaseError> {
    if !diff.set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&diff.to_set())))
            .send()
            .await
            .map_err(AwsError::map("tag", kind, name))?;
    }
    if !diff.remove.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(diff.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", kind, name))?;
    }
    Ok(())
}

/// RDS: the instance, cluster, subnet group, parameter group or snapshot does not exist.
pub(crate) fn is_not_found(e: &impl ProvideErrorMetadata) -> bool {
    e.code()
        .is_some_and(|c| c.ends_with("NotFound") || c.ends_with("NotFoundFault"))
}

/// RDS: a resource of that name exists already (a concurrent or interrupted run made it).
pub(crate) fn is_already_exists(e: &impl ProvideErrorMetadata) -> bool {
    e.code()
        .is_some_and(|c| c.ends_with("AlreadyExists") || c.ends_with("AlreadyExistsFault"))
}

/// Statuses from which an instance or cluster will not become available by waiting.
pub(crate) const TERMINAL: &[&str] = &[
    "failed",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "insufficient-capacity",
    "restore-error",
    "storage-full",
    "stopped",
    "stopping",
];

/// The wait classification of an instance or cluster status.
pub(crate) fn poll_status(status: &str) -> ironbark_core::wait::Poll<()> {
    use ironbark_core::wait::Poll;
    if status == "available" {
        Poll::Ready(())
    } else if TERMINAL.contains(&status) {
        Poll::Failed(status.to_owned())
    } else {
        Poll::Pending(status.to_owned())
    }
}

/// Whether the tags say the resource is this stack's `logical_id` (same stack, environment
/// and id).
pub(crate) fn owned_by(tags: &BTreeMap<String, String>, ctx: &Context, logical_id: &str) -> bool {
    ctx.tags_for(logical_id).marks(tags)
}

/// The refusal for a resource of our name that is not ours.
pub(crate) fn foreign(kind: &'static str, name: &str, logical_id: &str) -> DatabaseError {
    ResourceError::foreign(kind, name, logical_id).into()
}

/// The checks an `ensure_*` makes of the instance or cluster it found: it is this stack's,
/// and it is not being deleted.
pub(crate) fn check_found(
    ctx: &Context,
    kind: &'static str,
    id: &str,
    logical_id: &str,
    tags: &BTreeMap<String, String>,
    status: &str,
) -> Result<(), DatabaseError> {
    if !owned_by(tags, ctx, logical_id) {
        return Err(foreign(kind, id, logical_id));
    }
    if status == "deleting" {
        return Err(DatabaseError::refused(
            kind,
            id,
            "it is being deleted; wait for the deletion to finish, then deploy again",
        ));
    }
    Ok(())
}

/// A refused change is an error in apply mode (nothing has been written to the resource);
/// in plan mode it stays in the plan.
pub(crate) fn refuse_in_apply(
    ctx: &Context,
    kind: &'static str,
    id: &str,
    change: &ironbark_core::Change,
) -> Result<(), DatabaseError> {
    match change {
        ironbark_core::Change::Refused { field, reason } if ctx.is_apply() => {
            Err(ResourceError::refused(kind, id, field, reason).into())
        }
        _ => Ok(()),
    }
}
