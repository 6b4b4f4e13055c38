//! The sluice runtime: turns a validated configuration into running work.
//!
//! [`plan`] builds the engine plan and result tables from configuration;
//! [`topology`] builds the source and sink a run names from registries and
//! runs it; [`pipeline`] runs source → engine → sink on threads joined by bounded
//! channels; [`live`] draws the terminal view. Also the cross-cutting helpers
//! every stage uses: logging setup and shutdown signals (the one retry policy
//! is `sluice_core::retry`).

pub mod convert;
pub mod live;
pub mod logging;
pub mod monitor;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod shutdown;
pub mod topology;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration cannot be turned into a plan.
    #[error("{0}")]
    Usage(String),
    /// The engine rejected the plan (a bug if validation passed).
    #[error("engine plan: {0}")]
    Plan(sluice_engine::PlanError),
    /// The source failed.
    #[error("source: {0}")]
    Source(sluice_connectors::ConnectorError),
    /// The sink failed (after retries).
    #[error("sink: {0}")]
    Sink(sluice_connectors::ConnectorError),
    /// The dead-letter output failed.
    #[error("dead-letter output: {0}")]
    DeadLetter(String),
    /// Committing source positions failed (results are durable; the next
    /// run re-reads from the previous commit and rewrites the same rows).
    #[error("commit: {0}")]
    Commit(String),
    /// A checkpoint of open windows could not be read, restored or saved.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A thread could not be started.
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
    /// A pipeline thread panicked.
    #[error("the {0} thread panicked")]
    Panic(&'static str),
    /// The metrics recorder or endpoint could not be set up.
    #[error("metrics: {0}")]
    Metrics(String),
    /// A store could not be reached.
    #[error("cannot connect to {what} (is it running? {hint}): {cause}")]
    Connect {
        /// The store.
        what: &'static str,
        /// How to start it.
        hint: &'static str,
        /// Why.
        cause: sluice_connectors::ConnectorError,
    },
    /// Secrets the run needs could not be resolved (the caller has
    /// reported each problem).
    #[error("secrets: {0}")]
    Secrets(String),
    /// A service beside the connectors could not be set up (Kafka).
    #[error("{what}: {cause}")]
    Service {
        /// The service.
        what: &'static str,
        /// Why.
        cause: Box<dyn sluice_connectors::factory::ClassifiedError>,
    },
}

impl From<sluice_connectors::BuildError> for RuntimeError {
    fn from(e: sluice_connectors::BuildError) -> Self {
        use sluice_connectors::BuildError as B;
        match e {
            B::Usage(m) => RuntimeError::Usage(m),
            B::Secrets(m) => RuntimeError::Secrets(m),
            B::Source(e) => RuntimeError::Source(e),
            B::Sink(e) => RuntimeError::Sink(e),
            B::Connect { what, hint, cause } => RuntimeError::Connect { what, hint, cause },
            B::Service { what, cause } => RuntimeError::Service { what, cause },
        }
    }
}

impl sluice_core::Classify for RuntimeError {
    /// The inner error's class where there is one; otherwise: a bad
    /// configuration or bad secrets are the user's, a store that cannot be
    /// reached or a failed commit an external system's, a panic ours.
    fn domain(&self) -> sluice_core::ErrorDomain {
        use sluice_core::ErrorDomain as D;
        match self {
            RuntimeError::Usage(_) | RuntimeError::Secrets(_) => D::User,
            RuntimeError::Plan(e) => e.domain(),
            RuntimeError::Source(e) | RuntimeError::Sink(e) => e.domain(),
            RuntimeError::Connect { cause, .. } => cause.domain(),
            RuntimeError::Service { cause, .. } => cause.domain(),
            RuntimeError::DeadLetter(_) | RuntimeError::Commit(_) | RuntimeError::Checkpoint(_) => {
                D::External
            }
            RuntimeError::Thread(_) | RuntimeError::Metrics(_) => D::External,
            RuntimeError::Panic(_) => D::Internal,
        }
    }

    fn retry_hint(&self) -> sluice_core::RetryHint {
        match self {
            RuntimeError::Source(e) | RuntimeError::Sink(e) => e.retry_hint(),
            RuntimeError::Connect { cause, .. } => cause.retry_hint(),
            RuntimeError::Service { cause, .. } => cause.retry_hint(),
            _ if self.domain() == sluice_core::ErrorDomain::External => {
                sluice_core::RetryHint::Retry
            }
            _ => sluice_core::RetryHint::NoRetry,
        }
    }
}
