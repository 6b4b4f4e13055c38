//! The one retry policy: exponential back-off (doubling from a first delay
//! up to a cap), retrying only errors whose [`RetryHint`] says so, for a
//! number of attempts and/or a time budget. Two drivers share it: one that
//! blocks its thread ([`retry_blocking`], the pipeline and Kafka threads)
//! and one for async callers with any sleep future ([`retry_async`], the
//! secret backends).

use std::future::Future;
use std::time::{Duration, Instant};

use crate::RetryHint;

/// How to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub first_delay: Duration,
    /// Largest delay.
    pub max_delay: Duration,
    /// Attempts in all (the first included).
    pub max_attempts: u32,
    /// Keep retrying at least this long after the first attempt, even past
    /// `max_attempts` (zero: attempts alone decide).
    pub retry_for: Duration,
}

impl RetryPolicy {
    /// `max_attempts` attempts, delays from `first_delay` doubling up to
    /// `max_delay`.
    pub const fn new(first_delay: Duration, max_delay: Duration, max_attempts: u32) -> Self {
        Self {
            first_delay,
            max_delay,
            max_attempts,
            retry_for: Duration::ZERO,
        }
    }

    /// The same policy, retrying for at least `d`.
    pub const fn retrying_for(mut self, d: Duration) -> Self {
        self.retry_for = d;
        self
    }

    /// Whether attempt `attempt` (1-based, just failed), `elapsed` after the
    /// first began, may be followed by another.
    pub fn allows(&self, attempt: u32, elapsed: Duration) -> bool {
        attempt < self.max_attempts || elapsed < self.retry_for
    }

    /// The delay after attempt `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// One failed attempt about to be retried.
#[derive(Debug)]
pub struct Retrying<'e, E> {
    /// Why it failed.
    pub error: &'e E,
    /// Attempts so far.
    pub attempt: u32,
    /// The wait before the next one.
    pub delay: Duration,
}

/// The wait before the next attempt after `error`, or `None` to give up.
fn wait<E>(
    policy: &RetryPolicy,
    attempt: u32,
    start: Instant,
    error: &E,
    hint: &impl Fn(&E) -> RetryHint,
    before_retry: &mut impl FnMut(Retrying<'_, E>) -> bool,
) -> Option<Duration> {
    let delay = policy.delay(attempt);
    let go = hint(error) == RetryHint::Retry
        && policy.allows(attempt, start.elapsed())
        && before_retry(Retrying {
            error,
            attempt,
            delay,
        });
    go.then_some(delay)
}

/// Runs `op` until it succeeds, fails with an error `hint` says not to
/// retry, `policy` gives up, or `before_retry` (told about each retry, e.g.
/// to log and count it) returns false. Sleeps on this thread in between.
pub fn retry_blocking<T, E>(
    policy: &RetryPolicy,
    mut op: impl FnMut() -> Result<T, E>,
    hint: impl Fn(&E) -> RetryHint,
    mut before_retry: impl FnMut(Retrying<'_, E>) -> bool,
) -> Result<T, E> {
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op() {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(delay) = wait(policy, attempt, start, &e, &hint, &mut before_retry) else {
                    return Err(e);
                };
                std::thread::sleep(delay);
            }
        }
    }
}

/// [`retry_blocking`] for async operations: `sleep` waits (e.g.
/// `tokio::time::sleep`).
pub async fn retry_async<T, E, Fut, S>(
    policy: &RetryPolicy,
    mut op: impl FnMut() -> Fut,
    hint: impl Fn(&E) -> RetryHint,
    mut before_retry: impl FnMut(Retrying<'_, E>) -> bool,
    sleep: impl Fn(Duration) -> S,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    S: Future<Output = ()>,
{
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(delay) = wait(policy, attempt, start, &e, &hint, &mut before_retry) else {
                    return Err(e);
                };
                sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: RetryPolicy =
        RetryPolicy::new(Duration::from_millis(1), Duration::from_millis(4), 4);

    #[test]
    fn delays_double_up_to_the_cap() {
        let d: Vec<u128> = (1..=5).map(|a| FAST.delay(a).as_millis()).collect();
        assert_eq!(d, [1, 2, 4, 4, 4]);
        let huge = RetryPolicy::new(Duration::from_secs(1), Duration::from_secs(5), 3);
        assert_eq!(huge.delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn retries_retryable_errors_until_attempts_run_out() {
        let mut calls = 0;
        let mut told = Vec::new();
        let r: Result<(), &str> = retry_blocking(
            &FAST,
            || {
                calls += 1;
                Err("down")
            },
            |_| RetryHint::Retry,
            |r| {
                told.push(r.attempt);
                true
            },
        );
        assert_eq!(r, Err("down"));
        assert_eq!(calls, 4);
        assert_eq!(told, [1, 2, 3]);
    }

    #[test]
    fn a_permanent_error_or_a_veto_stops_at_once_and_success_returns() {
        let mut calls = 0;
        let r: Result<(), &str> = retry_blocking(
            &FAST,
            || {
                calls += 1;
                Err("bad")
            },
            |_| RetryHint::NoRetry,
            |_| true,
        );
        assert_eq!((r, calls), (Err("bad"), 1));
        let mut calls = 0;
        let r: Result<(), &str> = retry_blocking(
            &FAST,
            || {
                calls += 1;
                Err("down")
            },
            |_| RetryHint::Retry,
            |_| false,
        );
        assert_eq!((r, calls), (Err("down"), 1));
        let mut calls = 0;
        let r = retry_blocking(
            &FAST,
            || {
                calls += 1;
                if calls < 3 {
                    Err("down")
                } else {
                    Ok(calls)
                }
            },
            |_| RetryHint::Retry,
            |_| true,
        );
        assert_eq!(r, Ok(3));
    }

    #[test]
    fn a_time_budget_keeps_retrying_past_the_attempts() {
        let p = RetryPolicy::new(Duration::from_millis(1), Duration::from_millis(2), 1)
            .retrying_for(Duration::from_millis(30));
        let mut calls = 0;
        let start = Instant::now();
        let r: Result<(), &str> = retry_blocking(
            &p,
            || {
                calls += 1;
                Err("down")
            },
            |_| RetryHint::Retry,
            |_| true,
        );
        assert_eq!(r, Err("down"));
        assert!(calls > 1, "one attempt allowed, but the budget is 30 ms");
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn the_async_driver_follows_the_same_policy() {
        let mut calls = 0;
        let fut = retry_async(
            &FAST,
            || {
                calls += 1;
                std::future::ready(Err::<(), _>("down"))
            },
            |_| RetryHint::Retry,
            |_| true,
            |_| std::future::ready(()),
        );
        // every future here is ready at once: poll once with a no-op waker
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let r = match std::pin::pin!(fut).as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => panic!("not ready"),
        };
        assert_eq!(r, Err("down"));
        assert_eq!(calls, 4);
    }
}
