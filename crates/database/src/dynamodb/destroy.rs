//! Deleting a table: refused while protected unless asked, protection turned off first
//! when asked, and waited for until it is gone. Hand-written rather than the kit's
//! `destroy`, which has no notion of a protected resource or of one already `DELETING`.

use aws_sdk_dynamodb::types::TableStatus;
use ironbark_core::plan::{Change, ResourceChange};
use ironbark_core::reconcile::{AwsError, ResourceError};
use ironbark_core::Context;

use super::apply::set_deletion_protection;
use super::sdk::{find, wait_active, wait_gone};
use super::{client, is_not_found, table_name_of, TableDestroyOptions, KIND};
use crate::error::DatabaseError;

/// Deletes the table of `logical_id` and waits until it is gone.
///
/// # Idempotency
/// An absent table is a no-op, one already `DELETING` is only waited for, and one carrying
/// another stack's tags is left alone. A protected table is refused (a refused change in plan
/// mode) unless `allow_protected`, which turns protection off first; a run killed between the
/// two calls leaves an unprotected table that the next destroy deletes.
///
/// # Errors
/// [`ResourceError::Refused`](ironbark_core::reconcile::ResourceError::Refused) for a protected table in apply mode, [`ResourceError::Aws`](ironbark_core::reconcile::ResourceError::Aws) and
/// [`ResourceError::Wait`](ironbark_core::reconcile::ResourceError::Wait) otherwise.
pub async fn destroy_table(
    ctx: &Context,
    logical_id: &str,
    opts: TableDestroyOptions,
) -> Result<ResourceChange, DatabaseError> {
    let ddb = client(ctx);
    let name = table_name_of(ctx, logical_id);
    let observed = find(&ddb, &name).await?;
    let deleting = observed
        .as_ref()
        .is_some_and(|o| o.status == TableStatus::Deleting.as_str());
    let change = match &observed {
        Some(_) if deleting => Change::Delete,
        Some(obs) if ctx.tags_for(logical_id).marks(&obs.tags) => {
            if obs.deletion_protection && !opts.allow_protected {
                Change::refused(
                    "deletion_protection",
                    "the table is protected; destroy with --allow-protected to turn protection off and delete it (its data is lost)",
                )
            } else {
                Change::Delete
            }
        }
        _ => Change::NoOp,
    };
    if let Change::Refused { field, reason } = &change {
        if ctx.is_apply() {
            return Err(ResourceError::refused(KIND, &name, field, reason).into());
        }
    } else if ctx.is_apply() {
        if let Some(obs) = observed.filter(|_| change.is_change()) {
            if !deleting {
                if obs.status != TableStatus::Active.as_str() {
                    wait_active(ctx, logical_id, &name).await?;
                }
                if obs.deletion_protection {
                    set_deletion_protection(&ddb, &name, false).await?;
                }
                match ddb.delete_table().table_name(&name).send().await {
                    Ok(_) => {}
                    Err(e) if e.as_service_error().is_some_and(is_not_found) => {}
                    Err(e) => {
                        return Err(DatabaseError::from(AwsError::new("delete", KIND, &name, e)))
                    }
                }
            }
            wait_gone(ctx, logical_id, &name).await?;
        }
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
}
