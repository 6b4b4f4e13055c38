//! Event time and watermarks.

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

/// `YYYY-MM-DD HH:MM:SS.mmm` (UTC) for milliseconds since the epoch.
pub fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_utc(1_795_687_200_500), "2026-11-26 10:00:00.500");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59.999");
    }
}
