//! Event time and watermarks (RFC 3339 parsing and formatting is in
//! `sluice-formats`).

/// Milliseconds since the Unix epoch (UTC), as carried by `event_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime(pub i64);

impl EventTime {
    /// The smallest representable time.
    pub const MIN: EventTime = EventTime(i64::MIN);
    /// The largest representable time; a watermark at `MAX` closes every window.
    pub const MAX: EventTime = EventTime(i64::MAX);

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms`, saturating.
    pub const fn saturating_add(self, ms: i64) -> Self {
        EventTime(self.0.saturating_add(ms))
    }

    /// This time minus `ms`, saturating.
    pub const fn saturating_sub(self, ms: i64) -> Self {
        EventTime(self.0.saturating_sub(ms))
    }
}

/// A watermark message flowing alongside data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watermark {
    /// No event with a time at or before this one is expected any more.
    EventTime(EventTime),
    /// The emitting partition is idle: it must not hold back the combined watermark.
    Idle,
}

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
