//! Waiting for a resource to reach a state, for resources the SDK has no waiter for (and for
//! those it has, when progress must be reported): poll, report the AWS status when it
//! changes, back off with jitter, give up at a deadline with the last status.

use std::future::Future;
use std::time::Duration;

use crate::report::{Event, Reporter};
use crate::retry::Backoff;

/// The result of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// The resource reached the wanted state.
    Ready(T),
    /// Not yet; the status AWS reports.
    Pending(String),
    /// The resource reached a state it will not leave (`failed`, `deleted`): stop waiting.
    Failed(String),
}

/// How long to wait and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Delays between polls.
    pub backoff: Backoff,
    /// The longest total wait.
    pub timeout: Duration,
}

impl WaitPolicy {
    /// Polls every 2 s growing to 30 s, for at most `timeout` (AWS control planes).
    #[must_use]
    pub const fn aws(timeout: Duration) -> Self {
        Self {
            backoff: Backoff {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(30),
            },
            timeout,
        }
    }

    /// Polls every 50 ms growing to 1 s (the local emulator at a small time scale).
    #[must_use]
    pub const fn fast(timeout: Duration) -> Self {
        Self {
            backoff: Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_secs(1),
            },
            timeout,
        }
    }
}

/// Why a wait ended without the resource becoming ready.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    /// The deadline passed.
    #[error("timed out after {waited:?} waiting for {resource} (last status: {last_status})")]
    TimedOut {
        /// Logical id.
        resource: String,
        /// The status last seen.
        last_status: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The resource reached a terminal state.
    #[error("{resource} reached status {status} while waiting")]
    Failed {
        /// Logical id.
        resource: String,
        /// The terminal status.
        status: String,
    },
    /// The poll itself failed.
    #[error("failed to poll {resource}")]
    Poll {
        /// Logical id.
        resource: String,
        /// The error of the poll.
        #[source]
        source: E,
    },
}

/// Polls until `poll` returns [`Poll::Ready`], reporting [`Event::Waiting`] each time the
/// status changes.
///
/// # Errors
/// [`WaitError::TimedOut`] at the policy's deadline, [`WaitError::Failed`] on a terminal
/// status, [`WaitError::Poll`] when a poll fails.
pub async fn wait_for<T, E, F, Fut>(
    reporter: &dyn Reporter,
    resource: &str,
    policy: &WaitPolicy,
    mut poll: F,
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let start = tokio::time::Instant::now();
    let mut last_status = String::new();
    let mut attempt = 0;
    loop {
        match poll().await.map_err(|source| WaitError::Poll {
            resource: resource.to_owned(),
            source,
        })? {
            Poll::Ready(v) => return Ok(v),
            Poll::Failed(status) => {
                return Err(WaitError::Failed {
                    resource: resource.to_owned(),
                    status,
                })
            }
            Poll::Pending(status) => {
                if status != last_status {
                    reporter.report(Event::Waiting {
                        resource: resource.to_owned(),
                        status: status.clone(),
                    });
                    last_status = status;
                }
            }
        }
        let waited = start.elapsed();
        if waited >= policy.timeout {
            return Err(WaitError::TimedOut {
                resource: resource.to_owned(),
                last_status,
                waited,
            });
        }
        let pause = policy.backoff.delay(attempt).min(policy.timeout - waited);
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CollectingReporter;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn reports_each_status_once_and_returns_ready() {
        let reporter = CollectingReporter::default();
        let n = AtomicU32::new(0);
        let out: Result<&str, WaitError<()>> = wait_for(
            &reporter,
            "nat/a",
            &WaitPolicy::aws(Duration::from_secs(600)),
            || async {
                Ok(match n.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Poll::Pending("pending".into()),
                    2 => Poll::Pending("provisioning".into()),
                    _ => Poll::Ready("nat-1"),
                })
            },
        )
        .await;
        assert_eq!(out.unwrap(), "nat-1");
        let statuses: Vec<_> = reporter
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Waiting { status, .. } => Some(status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, ["pending", "provisioning"]);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_last_status() {
        let reporter = CollectingReporter::default();
        let out: Result<(), WaitError<()>> = wait_for(
            &reporter,
            "db",
            &WaitPolicy::aws(Duration::from_secs(60)),
            || async { Ok(Poll::Pending("creating".into())) },
        )
        .await;
        match out {
            Err(WaitError::TimedOut {
                last_status,
                waited,
                ..
            }) => {
                assert_eq!(last_status, "creating");
                assert!(waited >= Duration::from_secs(60));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stops_on_a_terminal_status() {
        let reporter = CollectingReporter::default();
        let out: Result<(), WaitError<()>> = wait_for(
            &reporter,
            "nat/a",
            &WaitPolicy::aws(Duration::from_secs(60)),
            || async { Ok(Poll::Failed("failed".into())) },
        )
        .await;
        assert!(matches!(out, Err(WaitError::Failed { status, .. }) if status == "failed"));
    }
}
