//! Errors of the engine: plan validation, record decoding and encoding.
//!
//! Plan errors are the user's to fix (a bad configuration reached the
//! engine); decode errors describe one malformed record and become a
//! dead-letter reason, never a panic.

use sluice_core::{ErrorDomain, RetryHint};

/// Why a plan was rejected by [`Engine::new`](crate::Engine::new).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The plan declares no event type.
    #[error("plan has no record layouts")]
    NoLayouts,
    /// A layout cannot be decoded by the engine.
    #[error("layout of event type `{event_type}`: {reason}")]
    InvalidLayout {
        /// Event type of the layout.
        event_type: String,
        /// What is wrong.
        reason: String,
    },
    /// Two aggregations share a name.
    #[error("aggregation name `{0}` is used twice")]
    DuplicateAggregation(String),
    /// An aggregation reads an event type that has no layout.
    #[error("aggregation `{aggregation}`: unknown event type `{event_type}`")]
    UnknownEventType {
        /// Aggregation name.
        aggregation: String,
        /// The unknown event type.
        event_type: String,
    },
    /// A referenced field is missing from an event type the aggregation reads.
    #[error(
        "aggregation `{aggregation}`: field `{field}` does not exist in event type `{event_type}`"
    )]
    UnknownField {
        /// Aggregation name.
        aggregation: String,
        /// Field name.
        field: String,
        /// Event type lacking it.
        event_type: String,
    },
    /// The aggregate kind needs a field and none was given.
    #[error("aggregation `{aggregation}`: `{kind}` needs a field")]
    MissingField {
        /// Aggregation name.
        aggregation: String,
        /// Aggregate kind.
        kind: String,
    },
    /// A field has a type the aggregate cannot use.
    #[error("aggregation `{aggregation}`: `{kind}` cannot use field `{field}` of type `{ty}`")]
    UnsupportedFieldType {
        /// Aggregation name.
        aggregation: String,
        /// Aggregate kind (or `group_by`, `filter`).
        kind: String,
        /// Field name.
        field: String,
        /// The field's type.
        ty: String,
    },
    /// A field has incompatible types in two event types.
    #[error("aggregation `{aggregation}`: field `{field}` is `{first}` in one event type but `{second}` in `{event_type}`")]
    ConflictingFieldTypes {
        /// Aggregation name.
        aggregation: String,
        /// Field name.
        field: String,
        /// Type seen first.
        first: String,
        /// Conflicting type.
        second: String,
        /// Event type where the conflict shows.
        event_type: String,
    },
    /// The window specification is unusable.
    #[error("aggregation `{aggregation}`: invalid window: {reason}")]
    InvalidWindow {
        /// Aggregation name.
        aggregation: String,
        /// What is wrong.
        reason: String,
    },
    /// A filter predicate does not fit its field.
    #[error("aggregation `{aggregation}`: filter on `{field}`: {reason}")]
    InvalidFilter {
        /// Aggregation name.
        aggregation: String,
        /// Field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Percentile quantiles are missing or outside `[0, 1]`.
    #[error("aggregation `{aggregation}`: invalid quantiles: {reason}")]
    InvalidQuantiles {
        /// Aggregation name.
        aggregation: String,
        /// What is wrong.
        reason: String,
    },
    /// An engine option is out of range.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// Option name.
        option: String,
        /// What is wrong.
        reason: String,
    },
}

impl sluice_core::Classify for PlanError {
    /// Plan errors come from configuration: the user must fix them.
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }

    /// Retrying the same plan cannot help.
    fn retry_hint(&self) -> RetryHint {
        RetryHint::NoRetry
    }
}

/// Why one record could not be decoded; carried by a
/// [`DeadLetter`](crate::DeadLetter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record ended inside a field.
    #[error("record ends inside field `{field}` at byte {at}")]
    Truncated {
        /// Field being read.
        field: String,
        /// Byte offset in the record.
        at: usize,
    },
    /// A varint is longer than 10 bytes.
    #[error("malformed varint in field `{field}` at byte {at}")]
    BadVarint {
        /// Field being read.
        field: String,
        /// Byte offset in the record.
        at: usize,
    },
    /// A string or bytes length is negative or larger than the record.
    #[error("invalid length {len} in field `{field}` at byte {at}")]
    BadLength {
        /// Field being read.
        field: String,
        /// The decoded length.
        len: i64,
        /// Byte offset in the record.
        at: usize,
    },
    /// A string read by an aggregation is not UTF-8.
    #[error("field `{field}` is not valid utf-8")]
    InvalidUtf8 {
        /// Field being read.
        field: String,
    },
    /// A nullable field's union branch is neither 0 (null) nor 1.
    #[error("union branch {branch} of field `{field}` is not 0 (null) or 1")]
    BadUnionBranch {
        /// Field being read.
        field: String,
        /// The branch index found.
        branch: i64,
    },
    /// An enum index is outside the symbol list.
    #[error("enum index {index} of field `{field}` is out of range ({symbols} symbols)")]
    BadEnumIndex {
        /// Field being read.
        field: String,
        /// The index found.
        index: i64,
        /// Number of symbols.
        symbols: usize,
    },
    /// A boolean byte is neither 0 nor 1.
    #[error("boolean byte {value} in field `{field}` is not 0 or 1")]
    BadBoolean {
        /// Field being read.
        field: String,
        /// The byte found.
        value: u8,
    },
    /// An int field holds a value outside 32 bits.
    #[error("int field `{field}` holds {value}, outside 32 bits")]
    IntOutOfRange {
        /// Field being read.
        field: String,
        /// The value found.
        value: i64,
    },
    /// A decimal money value does not fit 64-bit minor units.
    #[error("decimal in field `{field}` does not fit 64-bit minor units ({len} bytes)")]
    DecimalTooLarge {
        /// Field being read.
        field: String,
        /// Byte length of the unscaled value.
        len: usize,
    },
    /// Bytes remain after the last field.
    #[error("{extra} trailing bytes after the last field")]
    TrailingBytes {
        /// Number of unread bytes.
        extra: usize,
    },
    /// The event time is outside ±2^53 ms, where window arithmetic stays exact.
    #[error("event time `{0}` is outside ±2^53 ms")]
    TimeOutOfRange(i64),
    /// The batch names an event type the plan has no layout for.
    #[error("unknown event type id {0}")]
    UnknownEventType(u32),
    /// The batch's record end offsets do not describe a slice of its data.
    #[error("record bounds {start}..{end} are outside the batch data ({len} bytes)")]
    BadBounds {
        /// Start offset.
        start: usize,
        /// End offset.
        end: usize,
        /// Data length.
        len: usize,
    },
}

impl sluice_core::Classify for DecodeError {
    /// Malformed data is the producer's fault.
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }

    /// Re-reading the same bytes cannot help.
    fn retry_hint(&self) -> RetryHint {
        RetryHint::NoRetry
    }
}

/// Why [`Value`](crate::Value)s could not be encoded for a layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Wrong number of values.
    #[error("layout `{event_type}` has {expected} fields but {got} values were given")]
    FieldCount {
        /// Event type.
        event_type: String,
        /// Fields in the layout.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value does not fit its field.
    #[error("field `{field}` of type `{ty}` cannot hold {value}")]
    Mismatch {
        /// Field name.
        field: String,
        /// Field type.
        ty: String,
        /// The value, debug-printed.
        value: String,
    },
    /// Unknown event type id.
    #[error("unknown event type id {0}")]
    UnknownEventType(u32),
}

impl sluice_core::Classify for EncodeError {
    /// Values that do not fit the layout are the caller's input.
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }
}
