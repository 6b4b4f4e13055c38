//! Error classification shared by every library crate, so the runtime decides
//! retry, dead-letter or stop in one place.

/// Whose fault an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorDomain {
    /// Bad configuration or bad input data: fix the input.
    User,
    /// An external system failed (broker, database, secret store).
    External,
    /// A bug in sluice.
    Internal,
}

/// Whether retrying the same operation may succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryHint {
    /// Retrying with back-off may succeed.
    Retry,
    /// Retrying cannot help.
    NoRetry,
}
