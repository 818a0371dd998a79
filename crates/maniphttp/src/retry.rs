//! When a failed call is sent again: exponential backoff with jitter, bounded by a number of
//! attempts and by the call's deadline, the server's `Retry-After` honoured.

use std::time::Duration;

/// How failed calls are retried. Only retryable errors are retried (connection errors, 429,
/// 502, 503, 504), and only for requests that are safe to send twice: GET, HEAD, PUT, DELETE,
/// and any request carrying an `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry). Default 5.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles at each retry. Default 100 ms.
    pub first_backoff: Duration,
    /// The longest wait between two attempts, `Retry-After` included. Default 10 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` (`attempt` from 1): the server's `Retry-After`
    /// when it sent one, else `first_backoff * 2^(attempt-1)` with full jitter (a random wait
    /// between half of it and all of it), at most `max_backoff` either way.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max_backoff);
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .first_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = full / 2;
        half + full.saturating_sub(half).mul_f64(fastrand::f64())
    }
}

/// The seconds of a `Retry-After` header (the HTTP-date form is not read: the client falls back
/// to its own backoff).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
        };
        for _ in 0..100 {
            let first = policy.backoff(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.backoff(3, None);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let late = policy.backoff(9, None);
            assert!((350..=700).contains(&late.as_millis()), "{late:?}");
        }
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(2))),
            Duration::from_millis(700)
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
