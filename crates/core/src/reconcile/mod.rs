//! One way to converge a resource. A resource kind implements [`Resource`]: how to read it
//! (`observe`, reads only), how it differs from its spec (`diff`, pure, returning a typed
//! [`Diff`]), and how to act on exactly that diff (`apply`). The driver, [`converge`], owns
//! what every resource does the same way: the per-service permit, the `Started`, `Waiting`,
//! `Done` and `Failed` events, the refusal of a resource of our name that is someone else's,
//! refusals never applied, the plan-mode gate, waiting for a transitional status to end, and
//! the [`ResourceChange`] with the resource's ids. [`Batch`] lets a kind read all of its
//! resources of the stack in one call ([`converge_all`]); [`Destroy`] adds deletion
//! ([`destroy`]).
//!
//! kube-rs's reconciler is the model: observe, decide, act, and a small outcome.
//!
//! ```no_run
//! # use ironbark_core::reconcile::{self, Resource};
//! # async fn example<R: Resource>(ctx: &ironbark_core::Context, r: &R) -> Result<(), R::Error> {
//! let converged = reconcile::converge(ctx, r).await?;
//! println!("{:?}: {}", converged.change.change, converged.output.as_ref().map(|_| "known"));
//! # Ok(()) }
//! ```
//!
//! Composite steps that are not one resource (NAT replacement with route repointing, a
//! cluster's writer before its readers) keep a hand-written ensure over these pieces.

mod error;
mod render;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use error::{AwsError, Fault, ResourceError};
pub use render::render;

use crate::known::Known;
use crate::plan::{Change, FieldDiff, ResourceChange};
use crate::report::Event;
use crate::tags::Tags;
use crate::wait::{self, Poll};
use crate::Context;

/// A typed difference between a resource's spec and what AWS has: knows whether it is
/// empty, and renders itself for the plan. `apply` acts on it and on nothing else, so the
/// plan and what is done cannot disagree.
pub trait Diff: Send + Sync {
    /// True when nothing is to change.
    fn is_empty(&self) -> bool;
    /// The plan's rendering: one [`FieldDiff`] per changed field.
    fn fields(&self) -> Vec<FieldDiff>;
    /// A change AWS can make only by replacement, refused: `(field, reason)`.
    fn refusal(&self) -> Option<(String, String)> {
        None
    }
}

/// A diff that is its rendered fields, for kinds whose write is one upsert of the whole
/// definition (`PutMetricAlarm`, `PutDashboard`): nothing needs to know more than "what
/// differs", since the write sends everything.
impl Diff for Vec<FieldDiff> {
    fn is_empty(&self) -> bool {
        <[FieldDiff]>::is_empty(self)
    }
    fn fields(&self) -> Vec<FieldDiff> {
        self.clone()
    }
}

/// Whether an observed resource is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Usable (`available`, `active`, or a kind that has no status).
    Ready,
    /// On its way (`creating`, `modifying`, `pending`): the status AWS reports.
    Pending(String),
    /// In a state it will not leave by itself (`failed`, `incompatible-parameters`).
    Failed(String),
}

/// One resource kind's reconciler. See the module docs.
///
/// The `impl Future + Send` methods may be written as `async fn` in an implementation.
pub trait Resource: Send + Sync {
    /// What `observe` finds.
    type Observed: Clone + Send + Sync;
    /// What differs; see [`Diff`].
    type Diff: Diff;
    /// What dependents need once the resource exists (its id, ARN, endpoint).
    type Output: Clone + Send + Sync;
    /// The domain's error; every domain error wraps [`ResourceError`].
    type Error: From<ResourceError> + std::error::Error + Send + Sync + 'static;

    /// The kind, as plans show it (`log group`).
    const KIND: &'static str;
    /// The service whose concurrency permit the calls take (`logs`, `ec2`).
    const SERVICE: &'static str;

    /// The logical id (`observability/log-group/api`).
    fn logical_id(&self) -> &str;

    /// The physical name errors and plans name (the deterministic AWS name, or the logical
    /// id for kinds AWS names itself).
    fn name(&self, ctx: &Context) -> String;

    /// The physical id a plan shows for an observed resource (`vpc-0abc`); by default its name.
    fn physical_id(&self, ctx: &Context, observed: Option<&Self::Observed>) -> Option<String> {
        let _ = observed;
        Some(self.name(ctx))
    }

    /// Reads the resource (read calls only); `None` when it does not exist.
    fn observe(
        &self,
        ctx: &Context,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Self::Error>> + Send;

    /// The observed resource's tags, for the ownership check: a resource of our name whose
    /// tags do not mark it as this logical id of this stack and env is refused, never
    /// adopted. `None` for kinds AWS cannot tag (dashboards, saved queries), whose name is
    /// their identity.
    fn tags<'a>(&self, observed: &'a Self::Observed) -> Option<&'a BTreeMap<String, String>>;

    /// The observed resource's status; kinds without one are always ready.
    fn status(&self, observed: &Self::Observed) -> Status {
        let _ = observed;
        Status::Ready
    }

    /// How long to wait for [`Status::Ready`] after apply, or to resume an interrupted
    /// wait; `None` for kinds that are usable as soon as the write returns.
    fn wait_timeout(&self) -> Option<Duration> {
        None
    }

    /// The difference between the spec (with its desired `tags`) and `observed`. Pure.
    fn diff(&self, tags: &Tags, observed: Option<&Self::Observed>) -> Self::Diff;

    /// Makes the writes `diff` says, and nothing else; `observed` is `None` for a create.
    /// Returns the resource's output.
    fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&Self::Observed>,
        diff: &Self::Diff,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// The output of an existing resource that needs no write.
    fn output(&self, ctx: &Context, observed: &Self::Observed) -> Self::Output;
}

/// A kind whose resources of a stack can all be read in one (paginated, tag- or
/// prefix-filtered) call, instead of one call each.
pub trait Batch: Resource + Sized {
    /// Reads every resource of `resources`, in their order.
    fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> impl Future<Output = Result<Vec<Option<Self::Observed>>, Self::Error>> + Send;
}

/// A kind that can be deleted.
pub trait Destroy: Resource {
    /// Deletes the resource; it exists and is ours. An answer that it is already gone is
    /// success.
    fn delete(
        &self,
        ctx: &Context,
        observed: &Self::Observed,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What [`converge`] did to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Converged<O> {
    /// The change (planned in plan mode, made in apply mode).
    pub change: ResourceChange,
    /// The output; after apply to the plan of a resource that does not exist yet.
    pub output: Known<O>,
}

/// The plan's change for a resource: pure, from whether it exists, its diff and its status.
#[must_use]
pub fn change_of(exists: bool, diff: &impl Diff, status: &Status) -> Change {
    if let Some((field, reason)) = diff.refusal() {
        return Change::refused(field, reason);
    }
    if !exists {
        return Change::Create {
            fields: diff.fields(),
        };
    }
    if !diff.is_empty() {
        return Change::Update {
            fields: diff.fields(),
        };
    }
    match status {
        Status::Ready => Change::NoOp,
        Status::Pending(s) => Change::InProgress { status: s.clone() },
        Status::Failed(s) => Change::refused(
            "status",
            format!("AWS reports it as `{s}`, a state it does not leave by itself: repair or delete it by hand, then run again"),
        ),
    }
}

/// Observes, diffs and (in apply mode) applies one resource, then waits for it when its
/// kind waits. See the module docs for what the driver owns.
///
/// # Idempotency
/// The resource is found by `observe` (its deterministic name or its `ironbark:id` tag),
/// so a converged resource costs its reads and no write, and one interrupted while
/// `creating` is waited for, not created again.
///
/// # Errors
/// The kind's error; [`ResourceError::Refused`] for a foreign resource, and in apply mode for
/// a refused change; [`ResourceError::Wait`] when a wait ends badly. Every error is also
/// reported as [`Event::Failed`].
pub async fn converge<R: Resource>(
    ctx: &Context,
    resource: &R,
) -> Result<Converged<R::Output>, R::Error> {
    report_started(ctx, resource);
    let observed = {
        let _permit = ctx.permit(R::SERVICE).await;
        resource.observe(ctx).await
    };
    match observed {
        Ok(observed) => converge_observed(ctx, resource, observed).await,
        Err(e) => Err(failed(ctx, resource, e)),
    }
}

/// [`converge`] for every resource of a [`Batch`] kind, with one read for all of them;
/// the resources are then converged concurrently, in their order in the result.
///
/// # Errors
/// As [`converge`]; the first error is returned after the others finish.
pub async fn converge_all<R: Batch>(
    ctx: &Context,
    resources: &[R],
) -> Result<Vec<Converged<R::Output>>, R::Error> {
    if resources.is_empty() {
        return Ok(Vec::new());
    }
    for r in resources {
        report_started(ctx, r);
    }
    let observed = {
        let _permit = ctx.permit(R::SERVICE).await;
        R::observe_all(ctx, resources).await
    };
    let observed = match observed {
        Ok(o) => o,
        Err(e) => return Err(failed(ctx, &resources[0], e)),
    };
    let all = futures::future::join_all(
        resources
            .iter()
            .zip(observed)
            .map(|(r, o)| converge_observed(ctx, r, o)),
    )
    .await;
    all.into_iter().collect()
}

fn report_started<R: Resource>(ctx: &Context, resource: &R) {
    ctx.report(Event::Started {
        resource: resource.logical_id().to_owned(),
    });
}

fn failed<R: Resource>(ctx: &Context, resource: &R, e: R::Error) -> R::Error {
    ctx.report(Event::Failed {
        resource: resource.logical_id().to_owned(),
        error: render(&e),
    });
    e
}

async fn converge_observed<R: Resource>(
    ctx: &Context,
    resource: &R,
    observed: Option<R::Observed>,
) -> Result<Converged<R::Output>, R::Error> {
    match converge_inner(ctx, resource, observed).await {
        Ok(c) => {
            ctx.report(Event::Done {
                resource: resource.logical_id().to_owned(),
                change: c.change.change.clone(),
            });
            Ok(c)
        }
        Err(e) => Err(failed(ctx, resource, e)),
    }
}

async fn converge_inner<R: Resource>(
    ctx: &Context,
    resource: &R,
    observed: Option<R::Observed>,
) -> Result<Converged<R::Output>, R::Error> {
    let tags = ctx.tags_for(resource.logical_id());
    let name = resource.name(ctx);
    if let Some(obs) = &observed {
        if let Some(found) = resource.tags(obs) {
            if !tags.marks(found) {
                return Err(ResourceError::foreign(R::KIND, &name, resource.logical_id()).into());
            }
        }
    }
    let diff = resource.diff(&tags, observed.as_ref());
    let status = observed
        .as_ref()
        .map_or(Status::Ready, |o| resource.status(o));
    let change = change_of(observed.is_some(), &diff, &status);
    let physical_id = resource.physical_id(ctx, observed.as_ref());
    let record =
        |change: Change, physical_id: Option<String>, output: Known<R::Output>| Converged {
            change: ResourceChange {
                id: resource.logical_id().to_owned(),
                kind: R::KIND.to_owned(),
                physical_id,
                change,
            },
            output,
        };
    if !ctx.is_apply() {
        let output = observed.as_ref().map(|o| resource.output(ctx, o)).into();
        return Ok(record(change, physical_id, output));
    }
    if let Change::Refused { field, reason } = &change {
        return Err(ResourceError::refused(R::KIND, &name, field, reason).into());
    }
    let waits = resource.wait_timeout();
    let (output, physical_id) =
        if change.is_change() && !matches!(change, Change::InProgress { .. }) {
            // A resource that is still on its way refuses most writes: let it settle first.
            if let (Some(timeout), Status::Pending(_)) = (waits, &status) {
                wait_ready(ctx, resource, timeout).await?;
            }
            let output = {
                let _permit = ctx.permit(R::SERVICE).await;
                resource.apply(ctx, &tags, observed.as_ref(), &diff).await?
            };
            match waits {
                Some(timeout) => {
                    let ready = wait_ready(ctx, resource, timeout).await?;
                    (
                        resource.output(ctx, &ready),
                        resource.physical_id(ctx, Some(&ready)),
                    )
                }
                None => (output, physical_id),
            }
        } else if let (Some(timeout), Status::Pending(_)) = (waits, &status) {
            // Nothing to write, but an interrupted run left it on its way: wait, never re-create.
            let ready = wait_ready(ctx, resource, timeout).await?;
            (
                resource.output(ctx, &ready),
                resource.physical_id(ctx, Some(&ready)),
            )
        } else {
            let obs = observed
                .as_ref()
                .ok_or_else(|| R::Error::from(missing::<R>(&name)))?;
            (resource.output(ctx, obs), physical_id)
        };
    Ok(record(change, physical_id, Known::Value(output)))
}

fn missing<R: Resource>(name: &str) -> ResourceError {
    ResourceError::Missing {
        kind: R::KIND,
        name: name.to_owned(),
        what: "resource after converging it",
    }
}

/// Polls `observe` until the resource is [`Status::Ready`], reporting each new status.
async fn wait_ready<R: Resource>(
    ctx: &Context,
    resource: &R,
    timeout: Duration,
) -> Result<R::Observed, R::Error> {
    let name = resource.name(ctx);
    let policy = ctx.wait_policy(timeout);
    wait::wait_for(
        ctx.reporter().as_ref(),
        resource.logical_id(),
        &policy,
        || async {
            match resource.observe(ctx).await {
                Ok(Some(obs)) => Ok(match resource.status(&obs) {
                    Status::Ready => Poll::Ready(obs),
                    Status::Pending(s) => Poll::Pending(s),
                    Status::Failed(s) => Poll::Failed(s),
                }),
                Ok(None) => Ok(Poll::Pending("not visible yet".to_owned())),
                Err(e) => Err(Box::new(ResourceError::InvalidSpec {
                    kind: R::KIND,
                    name: name.clone(),
                    reason: render(&e),
                })),
            }
        },
    )
    .await
    .map_err(|source| {
        R::Error::from(ResourceError::Wait {
            kind: R::KIND,
            name: name.clone(),
            source,
        })
    })
}

/// Deletes one resource if it exists and is ours (tags that mark it, or a kind without
/// tags); in plan mode only says so.
///
/// # Idempotency
/// An absent resource is a no-op; one of our name that is someone else's is left alone
/// (reported as a no-op, never deleted).
///
/// # Errors
/// The kind's error when a call fails.
pub async fn destroy<R: Destroy>(ctx: &Context, resource: &R) -> Result<ResourceChange, R::Error> {
    let observed = {
        let _permit = ctx.permit(R::SERVICE).await;
        resource.observe(ctx).await?
    };
    let tags = ctx.tags_for(resource.logical_id());
    let ours = observed
        .as_ref()
        .filter(|o| resource.tags(o).is_none_or(|found| tags.marks(found)));
    let change = if ours.is_some() {
        Change::Delete
    } else {
        Change::NoOp
    };
    if let (true, Some(obs)) = (ctx.is_apply(), ours) {
        ctx.report(Event::Started {
            resource: resource.logical_id().to_owned(),
        });
        let _permit = ctx.permit(R::SERVICE).await;
        if let Err(e) = resource.delete(ctx, obs).await {
            return Err(failed(ctx, resource, e));
        }
        ctx.report(Event::Done {
            resource: resource.logical_id().to_owned(),
            change: Change::Delete,
        });
    }
    Ok(ResourceChange {
        id: resource.logical_id().to_owned(),
        kind: R::KIND.to_owned(),
        physical_id: resource.physical_id(ctx, observed.as_ref()),
        change,
    })
}

#[cfg(test)]
mod tests;
