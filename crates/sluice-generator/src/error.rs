//! Errors of the generator, classified for the runtime.

use sluice_config::Diagnostics;
use sluice_core::{ErrorDomain, RetryHint};

/// Why a generator could not be built or could not write.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// The domain's generator hints are invalid (every problem, with positions).
    #[error("invalid generator hints:\n{0}")]
    Hints(Diagnostics),
    /// No such domain in the configuration.
    #[error("unknown domain `{name}`{hint}")]
    UnknownDomain {
        /// The name asked for.
        name: String,
        /// `; did you mean ...?` or empty.
        hint: String,
    },
    /// No such event type in the domain.
    #[error("unknown event type `{name}`{hint}")]
    UnknownEventType {
        /// The name asked for.
        name: String,
        /// `; did you mean ...?` or empty.
        hint: String,
    },
    /// The event type is never produced by the journey.
    #[error("event type `{0}` never occurs in the domain's journey; add a transition to it")]
    Unreachable(String),
    /// Bad generator options.
    #[error("invalid generator options: {0}")]
    Options(String),
    /// Writing the output failed.
    #[error("cannot write generated events: {0}")]
    Io(#[from] std::io::Error),
}

impl sluice_core::Classify for GeneratorError {
    /// Whose fault it is.
    fn domain(&self) -> ErrorDomain {
        match self {
            GeneratorError::Io(_) => ErrorDomain::External,
            _ => ErrorDomain::User,
        }
    }

    /// Whether retrying can help.
    fn retry_hint(&self) -> RetryHint {
        match self {
            GeneratorError::Io(_) => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        }
    }
}
