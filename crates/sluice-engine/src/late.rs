//! Late-event and dead-letter routing: every event the engine does not
//! aggregate leaves it through one of these, with a reason; nothing is
//! dropped silently.

use sluice_core::EventTime;

use crate::error::DecodeError;

/// Why an event was not aggregated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LateReason {
    /// Every window of the event (for this aggregation) was closed and past
    /// its allowed lateness: `watermark >= window_end + allowed_lateness`.
    BeyondAllowedLateness {
        /// The aggregation's watermark when the event arrived.
        watermark: EventTime,
    },
    /// The aggregation held `limit` open groups ([`crate::EngineOptions`]'s
    /// `max_groups`) and the event would have opened another.
    StateLimit {
        /// The limit.
        limit: u64,
    },
    /// The event was more than `max_future_skew_ms` ahead of the largest event
    /// time seen; it did not move any watermark.
    TooFarInFuture {
        /// Largest event time seen before it.
        max_seen: EventTime,
    },
}

/// An event routed to late output. For [`LateReason::BeyondAllowedLateness`]
/// this happens once per aggregation the event was meant for (event type fed
/// the aggregation and its filter passed); outliers are routed once with
/// `aggregation: None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateEvent {
    /// The aggregation it was late for; `None` for outliers.
    pub aggregation: Option<usize>,
    /// Source partition.
    pub partition: u32,
    /// Source offset.
    pub offset: i64,
    /// Its event time.
    pub event_time: EventTime,
    /// Why.
    pub reason: LateReason,
    /// The raw record bytes.
    pub bytes: Vec<u8>,
}

/// A record that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Source partition.
    pub partition: u32,
    /// Source offset.
    pub offset: i64,
    /// Why decoding failed.
    pub reason: DecodeError,
    /// The raw record bytes (empty when the batch's bounds were invalid).
    pub bytes: Vec<u8>,
}
