//! The deploy lock (DESIGN invariant 12): two deploys or destroys of one stack and environment
//! never run at once, from any number of machines.
//!
//! The lock is one small JSON object, `locks/<stack>/<env>.json`, in a per-account, per-region
//! bootstrap bucket (`ironbark-bootstrap-<account>-<region>`, created and hardened on first
//! use). It is taken with an S3 conditional write (`If-None-Match: *`), so of any number of
//! concurrent runs exactly one wins; every later write of the holder (heartbeat, release) is
//! conditional on the `ETag` it last wrote (`If-Match`), so a holder that lost its lock can never
//! overwrite or delete somebody else's.
//!
//! Nobody ever needs a manual unlock:
//! - the holder rewrites the object every [`LockOptions::heartbeat`]; a lock whose object has
//!   not changed for [`LockOptions::stale_after`] (a crashed or killed run elsewhere) is taken
//!   over, with a warning naming whose it was;
//! - a lock held by a process of this same host that no longer exists (Ctrl-C, SIGKILL, a
//!   crash) is taken over at once, and removed ([`remove_dead_holder`]) by a run that takes
//!   no lock (a plan, a deploy or destroy with nothing to change);
//! - a holder whose heartbeat finds the lock taken over learns it through
//!   [`DeployLock::lost`] and must stop.
//!
//! `cargo xtask unlock` ([`force_unlock`]) exists for the rare case of a live holder that must
//! be evicted. The lock is the only thing Ironbark stores: resource state is read from AWS.
//!
//! The lock's own S3 calls are not stack resources: they are not recorded by the context's
//! request recorder and not stopped by the plan-mode guard (a deploy takes the lock before it
//! plans, so that what it applies is what it planned). This is the one writer exempt from the
//! guard, and it lives here, private to core.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::context::Context;
use crate::error::BoxedSdkError;
use crate::report::Event;
use crate::retry::Backoff;
use crate::wait::{wait_for, Poll, WaitError, WaitPolicy};

/// The logical id lock events are reported under.
pub const LOCK_RESOURCE: &str = "deploy-lock";

/// How the lock behaves.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// Who is taking the lock (owner, host, process, command).
    pub identity: LockIdentity,
    /// How often the holder rewrites the lock object.
    pub heartbeat: Duration,
    /// A lock object unchanged for this long belongs to a dead run and is taken over.
    pub stale_after: Duration,
    /// How long to wait for a live holder before giving up (zero: fail at once).
    pub wait: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
}

impl LockOptions {
    /// Defaults: heartbeat every 30 s, stale after 5 min (ten missed heartbeats, far beyond
    /// usual clock skew), no waiting.
    #[must_use]
    pub fn new(identity: LockIdentity) -> Self {
        Self {
            identity,
            heartbeat: Duration::from_secs(30),
            stale_after: Duration::from_secs(300),
            wait: Duration::ZERO,
            poll: Duration::from_secs(5),
        }
    }
}

/// Who holds (or wants) a lock. Stored in the lock object; never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockIdentity {
    /// The caller's ARN (`sts:GetCallerIdentity`), or a name given by the caller.
    pub owner: String,
    /// The host name.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
    /// The command (`deploy --env prod`).
    pub command: String,
}

impl LockIdentity {
    /// This process on this host, running `command` as `owner`.
    #[must_use]
    pub fn current(owner: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            host: hostname::get().map_or_else(
                |_| "unknown-host".to_owned(),
                |h| h.to_string_lossy().into_owned(),
            ),
            pid: std::process::id(),
            command: command.into(),
        }
    }
}

/// The content of a lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// A random id of this acquisition.
    pub id: String,
    /// The stack.
    pub stack: String,
    /// The environment.
    pub env: String,
    /// Who holds it.
    #[serde(flatten)]
    pub holder: LockIdentity,
    /// When it was taken (RFC 3339, the holder's clock).
    pub acquired_at: String,
    /// The holder's last heartbeat (RFC 3339, the holder's clock).
    pub heartbeat_at: String,
}

impl std::fmt::Display for LockRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` by {} on host {} (pid {}) since {}",
            self.holder.command,
            self.holder.owner,
            self.holder.host,
            self.holder.pid,
            self.acquired_at
        )
    }
}

/// A lock object as observed: its record, its `ETag` and how long ago S3 last saw it written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The record (`None` when the object is not Ironbark's JSON: it is then treated as held).
    pub record: Option<LockRecord>,
    /// The object's `ETag` (what a takeover is conditional on).
    pub etag: String,
    /// Time since the object's `Last-Modified`.
    pub age: Duration,
}

/// What to do about a lock held by somebody else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Its holder is dead: take it over (conditional on its `ETag`).
    TakeOver {
        /// Why the holder is considered dead.
        reason: String,
    },
    /// Its holder is alive: wait (up to [`LockOptions::wait`]) and look again, or give up.
    Held,
}

/// Decides about a lock held by somebody else (pure). `alive` says whether a process id of
/// this host still exists.
#[must_use]
pub fn decide(
    observed: &Observed,
    me: &LockIdentity,
    opts: &LockOptions,
    alive: impl Fn(u32) -> bool,
) -> Decision {
    if observed.age >= opts.stale_after {
        return Decision::TakeOver {
            reason: format!(
                "no heartbeat for {} s (stale after {} s)",
                observed.age.as_secs(),
                opts.stale_after.as_secs()
            ),
        };
    }
    match dead_holder(observed, me, alive) {
        Some(reason) => Decision::TakeOver { reason },
        None => Decision::Held,
    }
}

/// Why the lock observed as `observed` is held by a process of this host that no longer
/// exists (pure), or `None` when it is not (another host's, this process's, a live one's, or
/// not Ironbark's). `alive` says whether a process id of this host still exists.
#[must_use]
pub fn dead_holder(
    observed: &Observed,
    me: &LockIdentity,
    alive: impl Fn(u32) -> bool,
) -> Option<String> {
    let record = observed.record.as_ref()?;
    let dead =
        record.holder.host == me.host && record.holder.pid != me.pid && !alive(record.holder.pid);
    dead.then(|| {
        format!(
            "its process {} no longer runs on this host",
            record.holder.pid
        )
    })
}

/// Whether process `pid` runs on this host (a zombie, killed but not yet reaped, does not).
/// Where that cannot be told (not Linux), it is assumed alive, so only staleness frees its
/// locks.
#[must_use]
pub fn process_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last ')' (comm may hold anything).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| !matches!(state, 'Z' | 'X' | 'x')),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Errors of the deploy lock. None of them holds a secret (the lock holds none).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Somebody else holds the lock.
    #[error("stack {stack} env {env} is locked: {holder} is running (last heartbeat {age_secs} s ago). It is taken over automatically {stale_secs} s after its last heartbeat; pass --lock-timeout to wait, or run `cargo xtask unlock` if you know that run is gone")]
    Held {
        /// The stack.
        stack: String,
        /// The environment.
        env: String,
        /// Who holds it.
        holder: Box<LockRecord>,
        /// Seconds since its last write.
        age_secs: u64,
        /// After how many seconds it is stale.
        stale_secs: u64,
    },
    /// The lock changed hands too often to be taken (released and re-taken between reads).
    #[error("the deploy lock of stack {stack} env {env} kept changing hands while this run tried to take it; try again")]
    Contended {
        /// The stack.
        stack: String,
        /// The environment.
        env: String,
    },
    /// The lock object exists but is not Ironbark's.
    #[error("the lock object s3://{bucket}/{key} is not an Ironbark lock; remove it by hand")]
    Foreign {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The lock was taken over while this run held it.
    #[error("lost the deploy lock of stack {stack} env {env}: {reason}; stopped. Everything done so far is kept; re-run to finish")]
    Lost {
        /// The stack.
        stack: String,
        /// The environment.
        env: String,
        /// What happened.
        reason: String,
    },
    /// The bootstrap bucket's name is taken by another account.
    #[error("the bootstrap bucket {bucket} belongs to another account; Ironbark cannot keep its lock there")]
    BucketTaken {
        /// The bucket.
        bucket: String,
    },
    /// An S3 call failed.
    #[error("deploy lock: s3:{operation} on s3://{bucket}/{key} failed")]
    S3 {
        /// The operation.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key (empty for bucket operations).
        key: String,
        /// The SDK error.
        #[source]
        source: BoxedSdkError,
    },
}

/// The bootstrap bucket of `account` in `region`.
#[must_use]
pub fn bootstrap_bucket(account: &str, region: &str) -> String {
    format!("ironbark-bootstrap-{account}-{region}")
}

/// The key of the lock of `stack` / `env`.
#[must_use]
pub fn lock_key(stack: &str, env: &str) -> String {
    format!("locks/{stack}/{env}.json")
}

fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn random_id() -> String {
    use rand::Rng;
    let n: u128 = rand::rng().random();
    format!("{n:032x}")
}

/// (HTTP status, error code) of a failed S3 call.
fn status_code<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> (Option<u16>, Option<String>) {
    match err {
        SdkError::ServiceError(e) => (
            Some(e.raw().status().as_u16()),
            e.err().code().map(str::to_owned),
        ),
        SdkError::ResponseError(e) => (Some(e.raw().status().as_u16()), None),
        _ => (None, None),
    }
}

/// A failed conditional write: somebody else wrote first.
fn is_precondition_failed<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    let (status, code) = status_code(err);
    // 409 ConditionalRequestConflict: a concurrent conditional write is in flight.
    matches!(status, Some(412 | 409))
        || matches!(
            code.as_deref(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
}

fn is_not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    let (status, code) = status_code(err);
    status == Some(404) || matches!(code.as_deref(), Some("NoSuchKey" | "NotFound"))
}

/// Where one stack+env's lock lives and the client to reach it.
#[derive(Debug, Clone)]
struct Place {
    s3: aws_sdk_s3::Client,
    account: String,
    bucket: String,
    key: String,
    stack: String,
    env: String,
}

impl Place {
    fn new(ctx: &Context, account: &str) -> Self {
        Self {
            s3: ctx.s3_unguarded(),
            account: account.to_owned(),
            bucket: bootstrap_bucket(account, ctx.region()),
            key: lock_key(ctx.stack(), ctx.env()),
            stack: ctx.stack().to_owned(),
            env: ctx.env().to_owned(),
        }
    }

    fn err<E>(&self, operation: &'static str, key: bool, source: E) -> LockError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        LockError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: if key { self.key.clone() } else { String::new() },
            source: Box::new(source),
        }
    }

    /// Reads the lock object, `None` when there is none.
    async fn observe(&self) -> Result<Option<Observed>, LockError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .expected_bucket_owner(&self.account)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.err("GetObject", true, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let age = out
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.err("GetObject", true, e))?
            .into_bytes();
        Ok(Some(Observed {
            record: serde_json::from_slice(&bytes).ok(),
            etag,
            age,
        }))
    }

    /// Writes `record`, conditional on `condition`; the new `ETag`, or `None` when the
    /// condition failed.
    async fn write(
        &self,
        record: &LockRecord,
        condition: Condition<'_>,
    ) -> Result<Option<String>, LockError> {
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .expected_bucket_owner(&self.account)
            .content_type("application/json")
            .body(ByteStream::from(body));
        req = match condition {
            Condition::Absent => req.if_none_match("*"),
            Condition::Etag(etag) => req.if_match(etag),
        };
        let conditional_on_etag = matches!(condition, Condition::Etag(_));
        match req.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_owned())),
            Err(e) if is_precondition_failed(&e) => Ok(None),
            // If-Match on an object that was deleted meanwhile (S3 answers 404 NoSuchKey).
            Err(e) if conditional_on_etag && is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err("PutObject", true, e)),
        }
    }

    /// Deletes the lock object if its `ETag` is still `etag`; false when it was not.
    async fn delete(&self, etag: &str) -> Result<bool, LockError> {
        match self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .expected_bucket_owner(&self.account)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) if is_precondition_failed(&e) => Ok(false),
            Err(e) => Err(self.err("DeleteObject", true, e)),
        }
    }

    /// Makes sure the bootstrap bucket exists, is private and encrypted.
    ///
    /// # Idempotency
    /// Reads the bucket, its public access block and its encryption; writes only what is
    /// missing (nothing on every run after the first).
    async fn ensure_bucket(&self, region: &str) -> Result<(), LockError> {
        let head = self
            .s3
            .head_bucket()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await;
        match head {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => self.create_bucket(region).await?,
            Err(e) if status_code(&e).0 == Some(403) => {
                return Err(LockError::BucketTaken {
                    bucket: self.bucket.clone(),
                })
            }
            Err(e) => return Err(self.err("HeadBucket", false, e)),
        }
        let blocked = self
            .s3
            .get_public_access_block()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await
            .ok()
            .and_then(|o| o.public_access_block_configuration().cloned())
            .is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
        if !blocked {
            self.s3
                .put_public_access_block()
                .bucket(&self.bucket)
                .expected_bucket_owner(&self.account)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.err("PutPublicAccessBlock", false, e))?;
        }
        let encrypted = self
            .s3
            .get_bucket_encryption()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .send()
            .await
            .ok()
            .and_then(|o| o.server_side_encryption_configuration().cloned())
            .is_some_and(|c| {
                c.rules().iter().any(|r| {
                    r.apply_server_side_encryption_by_default()
                        .is_some_and(|d| d.sse_algorithm() == &ServerSideEncryption::AwsKms)
                })
            });
        if !encrypted {
            // The AWS-managed key (aws/s3) rotates yearly; the lock holds no secret.
            self.s3
                .put_bucket_encryption()
                .bucket(&self.bucket)
                .expected_bucket_owner(&self.account)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(ServerSideEncryption::AwsKms)
                                        .build()
                                        .map_err(|e| self.err("PutBucketEncryption", false, e))?,
                                )
                                .bucket_key_enabled(true)
                                .build(),
                        )
                        .build()
                        .map_err(|e| self.err("PutBucketEncryption", false, e))?,
                )
                .send()
                .await
                .map_err(|e| self.err("PutBucketEncryption", false, e))?;
        }
        Ok(())
    }

    async fn create_bucket(&self, region: &str) -> Result<(), LockError> {
        let mut req = self.s3.create_bucket().bucket(&self.bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) => {
                let code = status_code(&e).1;
                match code.as_deref() {
                    // Another run created it a moment ago.
                    Some("BucketAlreadyOwnedByYou") => {}
                    Some("BucketAlreadyExists") => {
                        // Ours (a concurrent first run) or somebody else's: ask with our
                        // account as the expected owner.
                        let ours = self
                            .s3
                            .head_bucket()
                            .bucket(&self.bucket)
                            .expected_bucket_owner(&self.account)
                            .send()
                            .await
                            .is_ok();
                        if !ours {
                            return Err(LockError::BucketTaken {
                                bucket: self.bucket.clone(),
                            });
                        }
                    }
                    _ => return Err(self.err("CreateBucket", false, e)),
                }
            }
        }
        let tagging = Tagging::builder()
            .tag_set(
                Tag::builder()
                    .key("ironbark:bootstrap")
                    .value("deploy-locks")
                    .build()
                    .map_err(|e| self.err("PutBucketTagging", false, e))?,
            )
            .build()
            .map_err(|e| self.err("PutBucketTagging", false, e))?;
        self.s3
            .put_bucket_tagging()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.account)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| self.err("PutBucketTagging", false, e))?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Condition<'a> {
    Absent,
    Etag(&'a str),
}

/// A held deploy lock. Heartbeats run in the background until [`DeployLock::release`]; if the
/// lock is lost, [`DeployLock::lost`] resolves and the run must stop.
#[derive(Debug)]
pub struct DeployLock {
    place: Place,
    etag: Arc<Mutex<String>>,
    heartbeat: tokio::task::JoinHandle<()>,
    lost: watch::Receiver<Option<String>>,
    record: LockRecord,
}

impl DeployLock {
    /// Takes the lock of the context's stack and environment in `account`, creating the
    /// bootstrap bucket on first use; takes over a dead holder's lock (reporting a warning
    /// naming it); waits up to `opts.wait` for a live one.
    ///
    /// # Idempotency
    /// Exactly one of any number of concurrent callers gets the lock. A caller that fails
    /// leaves nothing behind but the bootstrap bucket.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the holder when it is alive and the wait is over;
    /// [`LockError::Contended`] when the lock kept changing hands under every attempt;
    /// [`LockError::Foreign`] when the object is not Ironbark's; S3 errors.
    pub async fn acquire(
        ctx: &Context,
        account: &str,
        opts: &LockOptions,
    ) -> Result<Self, LockError> {
        let place = Place::new(ctx, account);
        place.ensure_bucket(ctx.region()).await?;
        let now = now_rfc3339();
        let record = LockRecord {
            id: random_id(),
            stack: place.stack.clone(),
            env: place.env.clone(),
            holder: opts.identity.clone(),
            acquired_at: now.clone(),
            heartbeat_at: now,
        };
        // Polled by the core waiter: each poll is one attempt; a live holder is waited for up
        // to `opts.wait` (zero: one attempt), reported as a waiting status naming it.
        let policy = WaitPolicy {
            backoff: Backoff {
                initial: opts.poll,
                max: opts.poll,
            },
            timeout: opts.wait,
        };
        let last_held = Mutex::new(None::<(LockRecord, Duration)>);
        let waited = AtomicBool::new(false);
        let acquired = wait_for(ctx.reporter().as_ref(), LOCK_RESOURCE, &policy, || async {
            Ok::<_, LockError>(match attempt(ctx, &place, &record, opts).await? {
                Attempt::Acquired(etag) => Poll::Ready(etag),
                Attempt::Held(holder, age) => {
                    waited.store(true, Ordering::Relaxed);
                    let status = format!("held by {holder}");
                    *last_held
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((holder, age));
                    Poll::Pending(status)
                }
            })
        })
        .await;
        let etag = match acquired {
            Ok(etag) => etag,
            Err(WaitError::Poll { source, .. }) => return Err(source),
            Err(WaitError::TimedOut { .. } | WaitError::Failed { .. }) => {
                let held = last_held
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                return Err(match held {
                    Some((holder, age)) => LockError::Held {
                        stack: place.stack.clone(),
                        env: place.env.clone(),
                        holder: Box::new(holder),
                        age_secs: age.as_secs(),
                        stale_secs: opts.stale_after.as_secs(),
                    },
                    None => LockError::Contended {
                        stack: place.stack.clone(),
                        env: place.env.clone(),
                    },
                });
            }
        };
        if waited.load(Ordering::Relaxed) {
            // Close the waiting line the renderer opened.
            ctx.report(Event::Done {
                resource: LOCK_RESOURCE.to_owned(),
                change: crate::plan::Change::NoOp,
            });
        }
        let etag = Arc::new(Mutex::new(etag));
        let (tx, lost) = watch::channel(None);
        let heartbeat = tokio::spawn(heartbeat_loop(
            place.clone(),
            record.clone(),
            etag.clone(),
            opts.heartbeat,
            opts.stale_after,
            tx,
        ));
        Ok(Self {
            place,
            etag,
            heartbeat,
            lost,
            record,
        })
    }

    /// What this lock's object says.
    #[must_use]
    pub fn record(&self) -> &LockRecord {
        &self.record
    }

    /// The bootstrap bucket and key of this lock.
    #[must_use]
    pub fn location(&self) -> (&str, &str) {
        (&self.place.bucket, &self.place.key)
    }

    /// Resolves when the lock has been lost (taken over, or no heartbeat got through for
    /// `stale_after`); never resolves while it is held.
    pub async fn lost(&self) -> LockError {
        let mut rx = self.lost.clone();
        let reason = loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                break reason;
            }
            if rx.changed().await.is_err() {
                // The heartbeat task ended without losing the lock: wait forever.
                std::future::pending::<()>().await;
            }
        };
        LockError::Lost {
            stack: self.place.stack.clone(),
            env: self.place.env.clone(),
            reason,
        }
    }

    /// Stops the heartbeat and deletes the lock object, if it is still ours.
    ///
    /// # Idempotency
    /// The delete is conditional on the `ETag` this holder last wrote: a lock taken over by
    /// another run is left alone (and reported as false).
    ///
    /// # Errors
    /// S3 errors; the lock then expires after `stale_after`.
    pub async fn release(self) -> Result<bool, LockError> {
        self.heartbeat.abort();
        let _ = self.heartbeat.await;
        let etag = self
            .etag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.place.delete(&etag).await
    }
}

/// The outcome of one attempt to take a lock.
enum Attempt {
    /// Taken (or taken over): the object's `ETag`.
    Acquired(String),
    /// A live holder has it, last written this long ago (a lock that keeps changing hands is
    /// reported as held by its last holder).
    Held(LockRecord, Duration),
}

/// One attempt: a conditional create; if the object exists, read it and take it over when its
/// holder is dead (conditional on its `ETag`). A lock released or taken over between our
/// write and our read is tried again, a bounded number of times.
async fn attempt(
    ctx: &Context,
    place: &Place,
    record: &LockRecord,
    opts: &LockOptions,
) -> Result<Attempt, LockError> {
    let mut last = None;
    for _ in 0..3 {
        if let Some(etag) = place.write(record, Condition::Absent).await? {
            return Ok(Attempt::Acquired(etag));
        }
        let Some(observed) = place.observe().await? else {
            continue; // released between our write and our read
        };
        let Some(holder) = observed.record.clone() else {
            return Err(LockError::Foreign {
                bucket: place.bucket.clone(),
                key: place.key.clone(),
            });
        };
        if holder.id == record.id {
            // Our own write got through but its response was lost, and the SDK's retry met
            // our own object: the lock is ours.
            return Ok(Attempt::Acquired(observed.etag));
        }
        match decide(&observed, &opts.identity, opts, process_alive) {
            Decision::TakeOver { reason } => {
                if let Some(etag) = place.write(record, Condition::Etag(&observed.etag)).await? {
                    ctx.report(Event::Warning {
                        resource: Some(LOCK_RESOURCE.to_owned()),
                        message: format!("took over the lock held by {holder}: {reason}"),
                    });
                    return Ok(Attempt::Acquired(etag));
                }
                // Somebody else took it over first: look again.
                last = Some((holder, observed.age));
            }
            Decision::Held => return Ok(Attempt::Held(holder, observed.age)),
        }
    }
    match last {
        Some((holder, age)) => Ok(Attempt::Held(holder, age)),
        None => Err(LockError::Contended {
            stack: place.stack.clone(),
            env: place.env.clone(),
        }),
    }
}

async fn heartbeat_loop(
    place: Place,
    mut record: LockRecord,
    etag: Arc<Mutex<String>>,
    every: Duration,
    stale_after: Duration,
    lost: watch::Sender<Option<String>>,
) {
    let mut last_ok = tokio::time::Instant::now();
    // A periodic beat, not a wait: the first tick (at once) is skipped.
    let mut beat = tokio::time::interval(every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        beat.tick().await;
        record.heartbeat_at = now_rfc3339();
        let current = etag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match place.write(&record, Condition::Etag(&current)).await {
            Ok(Some(new)) => {
                *etag
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
                last_ok = tokio::time::Instant::now();
            }
            Ok(None) => {
                let by = match place.observe().await {
                    Ok(Some(Observed {
                        record: Some(r),
                        etag: current,
                        ..
                    })) if r.id == record.id => {
                        // Our previous beat got through but its response was lost: still ours.
                        *etag
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = current;
                        last_ok = tokio::time::Instant::now();
                        continue;
                    }
                    Ok(Some(Observed {
                        record: Some(r), ..
                    })) => format!("taken over by {r}"),
                    Ok(None) => "its object was deleted (cargo xtask unlock?)".to_owned(),
                    _ => "its object was changed by somebody else".to_owned(),
                };
                let _ = lost.send(Some(by));
                return;
            }
            Err(_) if last_ok.elapsed() >= stale_after => {
                let _ = lost.send(Some(format!(
                    "no heartbeat got through for {} s, so others may have taken it over",
                    stale_after.as_secs()
                )));
                return;
            }
            Err(_) => {} // transient: try again at the next beat
        }
    }
}

/// Who holds the lock of the context's stack and environment, if anybody.
///
/// # Errors
/// S3 errors other than "no such bucket/key".
pub async fn holder(ctx: &Context, account: &str) -> Result<Option<Observed>, LockError> {
    Place::new(ctx, account).observe().await
}

/// Removes the lock of the context's stack and environment when it is held by a process of
/// this host (`me.host`) that no longer exists: a run killed (SIGKILL) or crashed while holding
/// it. Runs that take no lock (a plan, or a deploy or destroy that finds nothing to change)
/// call this, so such a lock does not outlive its run until a later run happens to take the
/// lock. Reports a warning naming the removed lock's holder, and returns its record.
///
/// # Idempotency
/// The delete is conditional on the `ETag` observed: a lock taken meanwhile by a new run is
/// left alone (`Ok(None)`). A lock of a live process, of another host (whose pids mean nothing
/// here) or not Ironbark's is never touched.
///
/// # Errors
/// S3 errors other than "no such bucket/key".
pub async fn remove_dead_holder(
    ctx: &Context,
    account: &str,
    me: &LockIdentity,
) -> Result<Option<LockRecord>, LockError> {
    let place = Place::new(ctx, account);
    let Some(observed) = place.observe().await? else {
        return Ok(None);
    };
    let (Some(reason), Some(record)) = (
        dead_holder(&observed, me, process_alive),
        observed.record.clone(),
    ) else {
        return Ok(None);
    };
    if !place.delete(&observed.etag).await? {
        return Ok(None);
    }
    ctx.report(Event::Warning {
        resource: Some(LOCK_RESOURCE.to_owned()),
        message: format!("removed the deploy lock left by {record}: {reason}"),
    });
    Ok(Some(record))
}

/// Deletes the lock of the context's stack and environment whoever holds it, if it is still
/// the one observed as `observed` (so a lock taken meanwhile by a new run is not removed).
/// The evicted holder learns it at its next heartbeat and stops.
///
/// # Idempotency
/// Deleting a lock that is gone is a no-op.
///
/// # Errors
/// S3 errors; `Ok(false)` when the lock changed since it was observed.
pub async fn force_unlock(
    ctx: &Context,
    account: &str,
    observed: &Observed,
) -> Result<bool, LockError> {
    Place::new(ctx, account).delete(&observed.etag).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn me() -> LockIdentity {
        LockIdentity {
            owner: "arn:aws:iam::123456789012:user/me".into(),
            host: "laptop".into(),
            pid: 100,
            command: "deploy --env prod".into(),
        }
    }

    fn held_by(host: &str, pid: u32, age: Duration) -> Observed {
        Observed {
            record: Some(LockRecord {
                id: "x".into(),
                stack: "shop".into(),
                env: "prod".into(),
                holder: LockIdentity {
                    host: host.into(),
                    pid,
                    ..me()
                },
                acquired_at: "2026-12-02T10:00:00Z".into(),
                heartbeat_at: "2026-12-02T10:00:00Z".into(),
            }),
            etag: "\"e\"".into(),
            age,
        }
    }

    #[test]
    fn a_live_holder_elsewhere_is_held_whatever_its_pid() {
        let opts = LockOptions::new(me());
        let o = held_by("ci-runner", 7, Duration::from_secs(10));
        assert_eq!(decide(&o, &me(), &opts, |_| true), Decision::Held);
        // The other host's pid is never checked here: it means nothing on this host.
        assert_eq!(decide(&o, &me(), &opts, |_| false), Decision::Held);
    }

    #[test]
    fn a_stale_lock_is_taken_over_whoever_holds_it() {
        let opts = LockOptions::new(me());
        let o = held_by("ci-runner", 7, Duration::from_secs(301));
        let d = decide(&o, &me(), &opts, |_| true);
        assert!(
            matches!(&d, Decision::TakeOver { reason } if reason.contains("no heartbeat for 301 s")),
            "{d:?}"
        );
    }

    #[test]
    fn a_dead_process_of_this_host_is_taken_over_at_once() {
        let opts = LockOptions::new(me());
        let o = held_by("laptop", 7, Duration::from_secs(1));
        let d = decide(&o, &me(), &opts, |pid| pid != 7);
        assert!(
            matches!(&d, Decision::TakeOver { reason } if reason.contains("process 7")),
            "{d:?}"
        );
        // Alive: not taken over.
        assert_eq!(decide(&o, &me(), &opts, |_| true), Decision::Held);
    }

    #[test]
    fn only_a_dead_process_of_this_host_is_a_dead_holder() {
        let dead = |pid| pid != 7;
        let here = held_by("laptop", 7, Duration::from_secs(1));
        let reason = dead_holder(&here, &me(), dead).expect("dead here");
        assert!(reason.contains("process 7"), "{reason}");
        // Alive, another host's, or this very process: never.
        assert_eq!(dead_holder(&here, &me(), |_| true), None);
        let elsewhere = held_by("ci-runner", 7, Duration::from_secs(1));
        assert_eq!(dead_holder(&elsewhere, &me(), dead), None);
        let mine = held_by("laptop", me().pid, Duration::from_secs(1));
        assert_eq!(dead_holder(&mine, &me(), |_| false), None);
        // Not Ironbark's JSON: nobody to name, left alone.
        let foreign = Observed {
            record: None,
            ..here
        };
        assert_eq!(dead_holder(&foreign, &me(), dead), None);
    }

    #[test]
    fn this_process_is_alive_and_an_unused_pid_or_a_zombie_is_not() {
        assert!(process_alive(std::process::id()));
        if cfg!(target_os = "linux") {
            assert!(!process_alive(u32::MAX));
            // A child that exited and was not reaped yet is a zombie: dead for the lock.
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let pid = child.id();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while process_alive(pid) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "pid {pid} still alive"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(
                std::fs::metadata(format!("/proc/{pid}")).is_ok(),
                "still a zombie"
            );
            child.wait().unwrap();
            assert!(!process_alive(pid));
        }
    }

    #[test]
    fn the_record_round_trips_and_its_display_names_the_holder() {
        let o = held_by("ci-runner-7", 42, Duration::ZERO);
        let record = o.record.unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"host\":\"ci-runner-7\""), "{json}");
        assert_eq!(serde_json::from_str::<LockRecord>(&json).unwrap(), record);
        let shown = record.to_string();
        for part in ["deploy --env prod", "ci-runner-7", "pid 42", "user/me"] {
            assert!(shown.contains(part), "{shown}");
        }
    }

    #[test]
    fn names_fit_s3_rules() {
        let b = bootstrap_bucket("123456789012", "ap-southeast-2");
        assert!(b.len() <= 63, "{b}");
        assert!(b
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(lock_key("shop", "prod"), "locks/shop/prod.json");
    }

    proptest! {
        /// Whatever is observed, a lock is taken over exactly when stale or when its holder
        /// is a dead process of this host.
        #[test]
        fn decisions_are_safe(
            age in 0u64..1000, stale in 1u64..600,
            same_host: bool, alive: bool, pid in 1u32..10,
        ) {
            let mut opts = LockOptions::new(me());
            opts.stale_after = Duration::from_secs(stale);
            let o = held_by(if same_host { "laptop" } else { "other" }, pid, Duration::from_secs(age));
            let d = decide(&o, &me(), &opts, |_| alive);
            let dead_here = same_host && !alive && pid != me().pid;
            match d {
                Decision::TakeOver { .. } => prop_assert!(age >= stale || dead_here),
                Decision::Held => prop_assert!(age < stale && !dead_here),
            }
        }
    }
}
