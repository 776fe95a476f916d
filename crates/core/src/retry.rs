//! Bounded retries for eventual consistency, and the jittered backoff shared with waiters.
//!
//! AWS control planes are eventually consistent: a role is not assumable for seconds after
//! `CreateRole`, a NAT gateway id is not visible to `CreateRoute` at once. Ironbark retries
//! exactly the errors a named predicate recognises, until a deadline, and never sleeps blindly.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// Backoff suited to eventual-consistency retries against AWS: 250 ms doubling to 5 s.
    pub const AWS: Self = Self {
        initial: Duration::from_millis(250),
        max: Duration::from_secs(5),
    };

    /// The delay before attempt `attempt` (0-based): uniformly random in
    /// `[delay/2, delay]` where `delay = min(initial * 2^attempt, max)`.
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.max);
        let half = base / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }
}

/// A named retry budget: what is being retried, and for how long at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Shown in errors and warnings (`wait for IAM role propagation`).
    pub name: &'static str,
    /// The total time allowed, after which the last error is returned.
    pub deadline: Duration,
    /// The delays between attempts.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// A policy with [`Backoff::AWS`].
    #[must_use]
    pub const fn new(name: &'static str, deadline: Duration) -> Self {
        Self {
            name,
            deadline,
            backoff: Backoff::AWS,
        }
    }
}

/// Runs `op` until it succeeds, fails with an error `retryable` does not accept, or the
/// policy's deadline passes (then the last error is returned).
///
/// # Errors
/// The first non-retryable error, or the last retryable one once the deadline has passed.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && start.elapsed() < policy.deadline => {
                let remaining = policy.deadline.saturating_sub(start.elapsed());
                tokio::time::sleep(policy.backoff.delay(attempt).min(remaining)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..30 {
            let d = b.delay(attempt);
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
        assert!(b.delay(0) >= Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_what_the_predicate_accepts() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::new("test", Duration::from_secs(60));
        let r: Result<u32, &str> = retry(
            &policy,
            |e| *e == "not yet",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err("not yet")
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(r, Ok(3));

        calls.store(0, Ordering::SeqCst);
        let r: Result<u32, &str> = retry(
            &policy,
            |e| *e == "not yet",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("access denied")
            },
        )
        .await;
        assert_eq!(r, Err("access denied"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_with_the_last_error() {
        let policy = RetryPolicy::new("test", Duration::from_secs(10));
        let start = tokio::time::Instant::now();
        let r: Result<(), &str> = retry(&policy, |_| true, || async { Err("not yet") }).await;
        assert_eq!(r, Err("not yet"));
        assert!(
            start.elapsed() >= Duration::from_secs(10) && start.elapsed() < Duration::from_secs(16)
        );
    }
}
