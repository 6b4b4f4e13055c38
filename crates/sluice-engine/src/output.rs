//! What the engine emits: window results, and the buffer that collects them
//! with late events and dead letters.

use sluice_core::EventTime;

use crate::late::{DeadLetter, LateEvent};

/// One part of a group key. Ordered `Null < Bool < Int < Str`, which fixes
/// the emission order of groups within a window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum KeyValue {
    /// Null (an optional field without value).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer, timestamp or money amount in minor units.
    Int(i64),
    /// A string or enum symbol.
    Str(String),
}

/// The value of one aggregate for one group and window.
///
/// Money is always in minor units (cents): sums, min and max are exact
/// integers, averages and quantiles floats.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum AggValue {
    /// No non-null input (sum, avg, min, max, percentile over only nulls).
    Null,
    /// A count: `count`, `count_distinct`, `approx_count_distinct` (rounded).
    Count(u64),
    /// An exact integer: sum, min, max of int, long and money fields.
    Int(i64),
    /// An integer sum that does not fit 64 bits.
    BigInt(i128),
    /// A float: avg, and sum, min, max of doubles.
    Float(f64),
    /// `(quantile, value)` pairs of a percentile aggregate.
    Quantiles(Vec<(f64, f64)>),
}

/// An aggregate's state in a form another store can merge: rows of the same
/// window and group from different source partitions combine into the
/// single-instance answer (see `docs/ARCHITECTURE.md`, "Several instances").
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum AggState {
    /// `avg`: exact integer sum, float sum, number of non-null inputs.
    Avg {
        /// Sum of integer inputs.
        int_sum: i128,
        /// Sum of double inputs.
        float_sum: f64,
        /// Non-null inputs.
        n: u64,
    },
    /// `count_distinct`: every distinct value's canonical bytes, sorted.
    Distinct(Vec<Vec<u8>>),
    /// `approx_count_distinct`: the dense HyperLogLog registers.
    Hll(Vec<u8>),
    /// `percentile`: the DDSketch buckets as `(key, count)` pairs sorted by
    /// key, where the key order is the value order: zero is `0`, positive
    /// bucket `i` is `KEY_OFFSET + i`, negative bucket `i` is `-KEY_OFFSET - i`.
    Sketch(Vec<(i32, u64)>),
}

/// The aggregate of one group in one window.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowResult {
    /// Index of the aggregation in the plan.
    pub aggregation: usize,
    /// Window start (inclusive).
    pub window_start: EventTime,
    /// Window end (exclusive).
    pub window_end: EventTime,
    /// Group key, one value per `group_by` field.
    pub key: Vec<KeyValue>,
    /// The aggregate.
    pub value: AggValue,
    /// 0 for the first emission of this group and window, +1 for each
    /// re-emission caused by late data. For session windows a re-emission may
    /// have a different start or end (the session grew) and supersedes the
    /// earlier emissions of the same key that it overlaps.
    pub revision: u32,
    /// True for early (update-mode) results of a window that is still open;
    /// these do not count as revisions.
    pub provisional: bool,
    /// Inputs folded into this result. Within one source partition it only
    /// grows as input is replayed in order, so a store keeping the row with
    /// the most events per key converges on the complete row.
    pub events: u64,
    /// The mergeable state, when `EngineOptions::emit_state` is on and the
    /// value itself is not mergeable.
    pub state: Option<AggState>,
}

/// The buffer `process`, `advance_processing_time` and `finish` append to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Window results in emission order.
    pub results: Vec<WindowResult>,
    /// Late and outlier events, in arrival order.
    pub late: Vec<LateEvent>,
    /// Records that could not be decoded, in arrival order.
    pub dead_letters: Vec<DeadLetter>,
}

impl Output {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.results.clear();
        self.late.clear();
        self.dead_letters.clear();
    }

    /// True when nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.late.is_empty() && self.dead_letters.is_empty()
    }

    /// Moves everything from `other` to the end of `self`.
    pub fn append(&mut self, other: &mut Output) {
        self.results.append(&mut other.results);
        self.late.append(&mut other.late);
        self.dead_letters.append(&mut other.dead_letters);
    }
}
