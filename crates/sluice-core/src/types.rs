//! Field types of event schemas and the kinds of aggregate sluice computes.

use std::fmt;

/// The type of an event field, as declared in a domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// 32-bit signed integer.
    Int,
    /// 64-bit signed integer.
    Long,
    /// 64-bit float.
    Double,
    /// true / false.
    Boolean,
    /// Milliseconds since the epoch (Avro `timestamp-millis`).
    Timestamp,
    /// One of a fixed set of symbols.
    Enum {
        /// Allowed symbols, in declaration order.
        symbols: Vec<String>,
    },
    /// An exact amount of money in minor units.
    Money {
        /// ISO 4217 currency code, e.g. `USD`.
        currency: String,
        /// Digits after the decimal point (2 for cents).
        scale: u32,
    },
}

impl FieldType {
    /// True for types that sum, average, min/max and percentiles accept.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            FieldType::Int | FieldType::Long | FieldType::Double | FieldType::Money { .. }
        )
    }

    /// The short name used in YAML (`string`, `money`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::Long => "long",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamp",
            FieldType::Enum { .. } => "enum",
            FieldType::Money { .. } => "money",
        }
    }

    /// Every type name accepted in YAML.
    pub const NAMES: &'static [&'static str] = &[
        "string",
        "int",
        "long",
        "double",
        "boolean",
        "timestamp",
        "enum",
        "money",
    ];
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of an aggregation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateKind {
    /// Number of events.
    Count,
    /// Sum of a numeric field (exact for integers and money).
    Sum,
    /// Mean of a numeric field.
    Avg,
    /// Smallest value of a numeric field.
    Min,
    /// Largest value of a numeric field.
    Max,
    /// Exact number of distinct values.
    CountDistinct,
    /// HyperLogLog estimate of the number of distinct values.
    ApproxCountDistinct,
    /// Quantiles of a numeric field from a mergeable sketch.
    Percentile,
}

impl AggregateKind {
    /// Every kind with its YAML name.
    pub const ALL: &'static [(&'static str, AggregateKind)] = &[
        ("count", AggregateKind::Count),
        ("sum", AggregateKind::Sum),
        ("avg", AggregateKind::Avg),
        ("min", AggregateKind::Min),
        ("max", AggregateKind::Max),
        ("count_distinct", AggregateKind::CountDistinct),
        ("approx_count_distinct", AggregateKind::ApproxCountDistinct),
        ("percentile", AggregateKind::Percentile),
    ];

    /// Looks a kind up by its YAML name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// The YAML name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("count")
    }

    /// True when the aggregate reads a field.
    pub fn needs_field(self) -> bool {
        !matches!(self, AggregateKind::Count)
    }

    /// True when the field it reads must be numeric or money.
    pub fn needs_numeric_field(self) -> bool {
        matches!(
            self,
            AggregateKind::Sum
                | AggregateKind::Avg
                | AggregateKind::Min
                | AggregateKind::Max
                | AggregateKind::Percentile
        )
    }
}

impl AggregateKind {
    /// The shape of its mergeable partial state: what a store that merges
    /// partial rows (ClickHouse) keys its columns, merge and finish on. A new
    /// aggregate whose state has an existing shape needs nothing in the stores.
    pub fn state_shape(self) -> StateShape {
        match self {
            AggregateKind::Count => StateShape::Counter,
            AggregateKind::Sum => StateShape::Number(NumberMerge::Sum),
            AggregateKind::Min => StateShape::Number(NumberMerge::Min),
            AggregateKind::Max => StateShape::Number(NumberMerge::Max),
            AggregateKind::Avg => StateShape::Mean,
            AggregateKind::CountDistinct => StateShape::Set,
            AggregateKind::ApproxCountDistinct => StateShape::Registers,
            AggregateKind::Percentile => StateShape::Sketch,
        }
    }
}

/// How partial states of one aggregate are stored and merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateShape {
    /// A non-negative count: partial rows add up; the result is the count.
    Counter,
    /// One nullable number (integer or float, as the result column):
    /// partial rows merge with the given function; the result is the number.
    Number(NumberMerge),
    /// A mean: exact integer sum, float sum and count, added up; the result
    /// is their quotient (null when the count is zero).
    Mean,
    /// The exact set of distinct values (as text): the union; the result is
    /// its size.
    Set,
    /// HyperLogLog registers: the maximum per register; the result is the
    /// engine's estimate.
    Registers,
    /// A DDSketch (bucket keys and counts): counts added per key; the results
    /// are the requested quantiles.
    Sketch,
}

/// How [`StateShape::Number`] partial values merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumberMerge {
    /// Added up.
    Sum,
    /// The smallest.
    Min,
    /// The largest.
    Max,
}

impl fmt::Display for AggregateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
