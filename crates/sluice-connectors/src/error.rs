//! Connector errors, classified so the runtime decides retry, dead-letter or
//! stop in one place.

use sluice_core::{ErrorDomain, RetryHint};

/// What went wrong in a source or sink.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Reading input failed. The message already ends with the cause, so
    /// the cause is deliberately not also the error's `source()` (a chain
    /// printer such as `{:#}` would print it twice).
    #[error("cannot read `{path}`: {cause}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        cause: std::io::Error,
    },
    /// Writing output failed (cause in the message, as for `Read`).
    #[error("cannot write `{path}`: {cause}")]
    Write {
        /// The file.
        path: String,
        /// Cause.
        cause: std::io::Error,
    },
    /// Input that cannot be used at all (not a single record).
    #[error("bad input `{path}`: {message}")]
    BadInput {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The embedded database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A remote service (ClickHouse) failed or refused a request.
    #[error("{service}: {message}")]
    Remote {
        /// Service name.
        service: &'static str,
        /// What it said.
        message: String,
        /// Whether retrying may help (network errors, overload).
        retry: bool,
    },
    /// Bad connector options.
    #[error("bad {connector} options: {message}")]
    Config {
        /// Connector name.
        connector: &'static str,
        /// Why.
        message: String,
    },
}

impl sluice_core::Classify for ConnectorError {
    /// Whose fault it is.
    fn domain(&self) -> ErrorDomain {
        match self {
            ConnectorError::BadInput { .. } | ConnectorError::Config { .. } => ErrorDomain::User,
            ConnectorError::Read { .. }
            | ConnectorError::Write { .. }
            | ConnectorError::Database(_)
            | ConnectorError::Remote { .. } => ErrorDomain::External,
        }
    }

    /// Whether retrying may help.
    fn retry_hint(&self) -> RetryHint {
        match self {
            ConnectorError::Database(_) | ConnectorError::Write { .. } => RetryHint::Retry,
            ConnectorError::Remote { retry: true, .. } => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        }
    }
}
