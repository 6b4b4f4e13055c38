//! The sluice runtime: turns a validated configuration into running work.
//!
//! Today it holds the cross-cutting helpers every stage uses: logging setup,
//! the one retry-with-back-off policy and timing spans. Pipeline wiring
//! (sources → engine → sinks, checkpoints, dead-letter queue, shutdown) grows
//! here, never in the CLI.

pub mod logging;
pub mod retry;
pub mod timing;
