//! Retries with exponential backoff for the retryable errors.

use std::future::Future;
use std::time::Duration;

use crate::ManipulateError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 50 ms doubling up to 1 s.
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// Runs `operation` until it succeeds, fails with an error that is not retryable, or the
/// attempts are spent (then the last error is returned).
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    mut operation: F,
) -> Result<T, ManipulateError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ManipulateError>>,
{
    let mut backoff = policy.initial_backoff;
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(e) if e.is_retryable() && attempt < policy.attempts.max(1) => {
                tracing::debug!(error = %e, attempt, "retrying storage operation");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(policy.max_backoff);
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_only_retryable_errors() {
        let policy = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let result = with_retry(&policy, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(ManipulateError::CannotCommunicate("down".into()))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Ok(2), 3));

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retry(&policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ManipulateError::NotFound { id: "x".into() })
        })
        .await;
        assert_eq!((result.is_err(), calls.load(Ordering::SeqCst)), (true, 1));

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retry(&policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ManipulateError::Locked("busy".into()))
        })
        .await;
        assert_eq!(
            (result, calls.load(Ordering::SeqCst)),
            (Err(ManipulateError::Locked("busy".into())), 5)
        );
    }
}
