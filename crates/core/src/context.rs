//! The context every `ensure_*` takes: one `SdkConfig` (region, credentials, endpoint,
//! retries, timeouts), the stack and environment, the tags, the mode, the reporter, the
//! request recorder and per-service concurrency caps (DESIGN invariant 7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::guard::{Mode, ModeSwitch, WriteGuard};
use crate::naming::{self, NameRule};
use crate::recorder::RequestRecorder;
use crate::report::{Event, NullReporter, SharedReporter};
use crate::tags::Tags;
use crate::wait::WaitPolicy;

/// Builds an SDK client from a [`Context`], with the plan-mode guard and the request recorder
/// installed: `let ec2 = ironbark_core::sdk_client!(ctx, aws_sdk_ec2);`.
///
/// Every client in Ironbark is made this way, so every client shares the context's
/// `SdkConfig` and no client can write in plan mode.
#[macro_export]
macro_rules! sdk_client {
    ($ctx:expr, $sdk:ident) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($ctx.sdk_config())
                .interceptor($ctx.write_guard())
                .interceptor($ctx.recorder().clone())
                .build(),
        )
    };
}

/// How many calls may be in flight per service at once, by default. Control planes throttle
/// per account and region; Ironbark stays under the limits instead of retrying into them.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The context of one run.
#[derive(Debug, Clone)]
pub struct Context {
    sdk: SdkConfig,
    stack: String,
    env: String,
    tags: Tags,
    mode: ModeSwitch,
    reporter: SharedReporter,
    recorder: RequestRecorder,
    limits: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    concurrency: usize,
    wait: WaitPolicy,
    local: bool,
}

impl Context {
    /// Starts building a context for `stack` and `env`.
    #[must_use]
    pub fn builder(stack: impl Into<String>, env: impl Into<String>) -> ContextBuilder {
        ContextBuilder {
            stack: stack.into(),
            env: env.into(),
            region: None,
            endpoint_url: None,
            tags: None,
            mode: Mode::Plan,
            reporter: Arc::new(NullReporter),
            concurrency: DEFAULT_CONCURRENCY,
            max_attempts: 8,
            static_credentials: None,
            profile: None,
        }
    }

    /// The one `SdkConfig` every client is built from.
    #[must_use]
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// A plan-mode guard sharing this context's mode, for a client's interceptors.
    #[must_use]
    pub fn write_guard(&self) -> WriteGuard {
        WriteGuard::new(self.mode.clone())
    }

    /// The recorder shared by every client of this context.
    #[must_use]
    pub fn recorder(&self) -> &RequestRecorder {
        &self.recorder
    }

    /// The stack name.
    #[must_use]
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The environment (profile) name.
    #[must_use]
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &str {
        self.sdk.region().map_or("us-east-1", Region::as_ref)
    }

    /// The standard tags of this stack and environment.
    #[must_use]
    pub fn tags(&self) -> &Tags {
        &self.tags
    }

    /// The standard tags plus `ironbark:id = logical_id`.
    #[must_use]
    pub fn tags_for(&self, logical_id: &str) -> Tags {
        self.tags.with_id(logical_id)
    }

    /// The current mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode.get()
    }

    /// Switches every client of this context to `mode`.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.set(mode);
    }

    /// True when writes are allowed.
    #[must_use]
    pub fn is_apply(&self) -> bool {
        self.mode.get() == Mode::Apply
    }

    /// Whether the context points at the local emulator.
    #[must_use]
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// The reporter.
    #[must_use]
    pub fn reporter(&self) -> &SharedReporter {
        &self.reporter
    }

    /// Reports one event.
    pub fn report(&self, event: Event) {
        self.reporter.report(event);
    }

    /// How to wait for slow resources: fast polls against the emulator, AWS-paced otherwise.
    #[must_use]
    pub fn wait_policy(&self, timeout: Duration) -> WaitPolicy {
        WaitPolicy {
            timeout,
            ..self.wait
        }
    }

    /// The physical name of `logical_id` under `rule` (see [`naming::physical_name`]).
    #[must_use]
    pub fn physical_name(&self, logical_id: &str, rule: &NameRule) -> String {
        naming::physical_name(&self.stack, &self.env, logical_id, rule)
    }

    /// The idempotency token for creating `logical_id` with `spec` (see [`naming::client_token`]).
    #[must_use]
    pub fn client_token(&self, logical_id: &str, spec: &impl Serialize) -> String {
        naming::client_token(&self.stack, &self.env, logical_id, spec)
    }

    /// Waits for a slot under `service`'s concurrency cap; hold the permit for the call.
    pub async fn permit(&self, service: &str) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut limits = self
                .limits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            limits
                .entry(service.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.concurrency)))
                .clone()
        };
        // The semaphore is never closed, so acquiring cannot fail.
        semaphore
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("semaphores are never closed"))
    }

    /// An STS client of this context.
    #[must_use]
    pub fn sts(&self) -> aws_sdk_sts::Client {
        sdk_client!(self, aws_sdk_sts)
    }

    /// An S3 client of this context (path-style addressing against a custom endpoint).
    #[must_use]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::config::Builder::from(&self.sdk)
            .interceptor(self.write_guard())
            .interceptor(self.recorder.clone());
        if self.local {
            builder = builder.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}

impl Context {
    /// An S3 client of this context without the plan-mode guard or the request recorder, for
    /// the deploy lock only (see [`crate::lock`]): the lock is taken before a deploy plans, and
    /// its calls are not stack resources. Private to core so no domain crate can use it.
    pub(crate) fn s3_unguarded(&self) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::config::Builder::from(&self.sdk);
        if self.local {
            builder = builder.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}

/// Builder of a [`Context`].
#[derive(Debug)]
pub struct ContextBuilder {
    stack: String,
    env: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    tags: Option<Tags>,
    mode: Mode,
    reporter: SharedReporter,
    concurrency: usize,
    max_attempts: u32,
    static_credentials: Option<(String, String)>,
    profile: Option<String>,
}

impl ContextBuilder {
    /// The region (otherwise the default chain's: `AWS_REGION`, profile, ...).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Points every client at `url` (the local emulator) with static test credentials.
    #[must_use]
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses these static credentials instead of the default chain (tests give each test its
    /// own access key id so the emulator's log can be filtered per test).
    #[must_use]
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.static_credentials = Some((access_key_id.into(), secret.into()));
        self
    }

    /// Uses a named profile of the shared config files (like `AWS_PROFILE`).
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// The tags (default: the standard tags with project = stack and empty owner fields).
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = Some(tags);
        self
    }

    /// The starting mode (default: plan).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The reporter (default: none).
    #[must_use]
    pub fn reporter(mut self, reporter: SharedReporter) -> Self {
        self.reporter = reporter;
        self
    }

    /// Calls in flight per service at most (default [`DEFAULT_CONCURRENCY`]).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Attempts per call, retries included (default 8; the SDK's own default is 3).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Loads the `SdkConfig` and builds the context.
    ///
    /// Retries: adaptive mode (client-side rate limiting once throttled, so a throttled run
    /// slows down instead of hammering), 8 attempts, backoff up to 20 s. Timeouts: 5 s to
    /// connect, 60 s per attempt, 5 min per call.
    pub async fn build(self) -> Context {
        let local = self.endpoint_url.is_some();
        let retry = RetryConfig::adaptive()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(if local { 20 } else { 500 }))
            .with_max_backoff(Duration::from_secs(if local { 1 } else { 20 }));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(60))
            .operation_timeout(Duration::from_secs(300))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = self.region {
            loader = loader.region(Region::new(region));
        }
        if let Some(profile) = self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let creds = self
            .static_credentials
            .or_else(|| local.then(|| ("testing".to_owned(), "testing".to_owned())));
        if let Some((id, secret)) = creds {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                None,
                None,
                "ironbark-static",
            ));
        }
        let mut sdk = loader.load().await;
        if sdk.region().is_none() {
            sdk = sdk.into_builder().region(Region::new("us-east-1")).build();
        }
        let tags = self
            .tags
            .unwrap_or_else(|| Tags::standard(&self.stack, &self.env, "", "", &self.stack));
        Context {
            sdk,
            stack: self.stack,
            env: self.env,
            tags,
            mode: ModeSwitch::new(self.mode),
            reporter: self.reporter,
            recorder: RequestRecorder::default(),
            limits: Arc::default(),
            concurrency: self.concurrency,
            wait: if local {
                WaitPolicy::fast(Duration::ZERO)
            } else {
                WaitPolicy::aws(Duration::ZERO)
            },
            local,
        }
    }
}
