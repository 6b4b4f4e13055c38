//! Timing spans: measure a stage and log how long it took at debug level.

use std::time::{Duration, Instant};

/// Logs the elapsed time of a named stage when dropped.
#[derive(Debug)]
pub struct Timed {
    name: &'static str,
    start: Instant,
}

impl Timed {
    /// Starts timing `name`.
    pub fn start(name: &'static str) -> Self {
        Self {
            name,
            start: Instant::now(),
        }
    }

    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        tracing::debug!(
            stage = self.name,
            elapsed_ms = self.start.elapsed().as_secs_f64() * 1e3,
            "stage finished"
        );
    }
}

/// Runs `f` inside a `tracing` span named `name`, timing it.
pub fn timed<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let span = tracing::debug_span!("stage", name);
    let _enter = span.enter();
    let _t = Timed::start(name);
    f()
}
