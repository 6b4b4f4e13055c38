//! The one retry policy: exponential back-off with jitter (from `backon`),
//! retrying only errors classified as retryable.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use sluice_core::RetryHint;

/// How to retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// First delay.
    pub min_delay: Duration,
    /// Largest delay.
    pub max_delay: Duration,
    /// Attempts after the first; `None` retries forever.
    pub max_retries: Option<usize>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retries: Some(8),
        }
    }
}

/// Errors that know whether retrying can help.
pub trait Retryability {
    /// Retry or not.
    fn retry_hint(&self) -> RetryHint;
}

/// Runs `op` until it succeeds, fails with a non-retryable error or the
/// policy gives up; each retry is logged with its delay.
pub async fn retry<T, E, F, Fut>(policy: RetryPolicy, what: &str, op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Retryability + std::fmt::Display,
{
    let mut b = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter();
    b = match policy.max_retries {
        Some(n) => b.with_max_times(n),
        None => b.without_max_times(),
    };
    op.retry(b)
        .sleep(tokio::time::sleep)
        .when(|e: &E| e.retry_hint() == RetryHint::Retry)
        .notify(|e: &E, d: Duration| tracing::warn!(operation = what, error = %e, delay_ms = d.as_millis() as u64, "retrying"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct E(RetryHint);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl Retryability for E {
        fn retry_hint(&self) -> RetryHint {
            self.0
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retries: Some(3),
        }
    }

    #[tokio::test]
    async fn retries_retryable_until_success() {
        let calls = AtomicUsize::new(0);
        let r: Result<u32, E> = retry(fast(), "t", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(E(RetryHint::Retry))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_and_skips_non_retryable() {
        let calls = AtomicUsize::new(0);
        let r: Result<u32, E> = retry(fast(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(E(RetryHint::Retry))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let calls = AtomicUsize::new(0);
        let r: Result<u32, E> = retry(fast(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(E(RetryHint::NoRetry))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
