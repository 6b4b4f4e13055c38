//! Shared vocabulary of sluice.
//!
//! Every other crate speaks in these types: human durations, event time and
//! watermarks, window specifications, field and aggregate kinds, redacting
//! secrets, error classification and metric names. This crate does no I/O and
//! has no heavy dependencies, so the engine can depend on it alone.
#![forbid(missing_docs)]

pub mod batch;
pub mod duration;
pub mod error;
pub mod filter;
pub mod ident;
pub mod layout;
pub mod metrics;
pub mod retry;
pub mod secret;
pub mod time;
pub mod types;
pub mod window;

pub use batch::RawBatch;
pub use duration::{DurationParseError, HumanDuration};
pub use error::{Classify, ErrorDomain, RetryHint};
pub use filter::{CompareOp, Literal, Predicate};
pub use ident::{check_identifier, IdentError};
pub use layout::{FieldLayout, FieldRole, MoneyEncoding, RecordLayout};
pub use retry::{retry_async, retry_blocking, RetryPolicy, Retrying};
pub use secret::Secret;
pub use time::{EventTime, Watermark};
pub use types::{AggregateKind, FieldType, NumberMerge, StateShape};
pub use window::WindowSpec;
