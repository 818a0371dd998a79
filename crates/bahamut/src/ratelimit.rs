//! A token-bucket rate limiter (a mutex and two numbers are enough here).

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Allows `per_second` requests a second on average, with bursts of `burst`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    state: Arc<Mutex<(f64, Instant)>>,
}

impl RateLimit {
    /// A limit of `per_second` requests a second, with bursts up to `burst` (at least 1).
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second: per_second.max(0.0),
            burst,
            state: Arc::new(Mutex::new((burst, Instant::now()))),
        }
    }

    /// Takes one token; false when the limit is exceeded.
    pub fn allow(&self) -> bool {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        let (tokens, last) = *state;
        let refilled =
            (tokens + now.duration_since(last).as_secs_f64() * self.per_second).min(self.burst);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused() {
        let limit = RateLimit::new(0.0, 2);
        assert!(limit.allow());
        assert!(limit.allow());
        assert!(!limit.allow());
    }
}
