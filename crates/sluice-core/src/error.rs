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

/// Implemented by every library error type: the runtime decides retry,
/// dead-letter or stop, and the CLI its exit code, from these two answers
/// alone, whichever crate the error comes from.
pub trait Classify {
    /// Whose fault it is.
    fn domain(&self) -> ErrorDomain;

    /// Whether retrying the same operation may succeed (by default: only
    /// when an external system failed).
    fn retry_hint(&self) -> RetryHint {
        if self.domain() == ErrorDomain::External {
            RetryHint::Retry
        } else {
            RetryHint::NoRetry
        }
    }
}

impl Classify for crate::ident::IdentError {
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }
}

impl Classify for crate::duration::DurationParseError {
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broker;
    impl Classify for Broker {
        fn domain(&self) -> ErrorDomain {
            ErrorDomain::External
        }
    }

    #[test]
    fn only_external_failures_are_retried_by_default() {
        assert_eq!(Broker.retry_hint(), RetryHint::Retry);
        let bad = crate::HumanDuration::parse("ten minutes").unwrap_err();
        assert_eq!(bad.domain(), ErrorDomain::User);
        assert_eq!(bad.retry_hint(), RetryHint::NoRetry);
    }
}
