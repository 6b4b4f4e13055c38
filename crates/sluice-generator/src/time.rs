//! UTC timestamps as text: parsing `start_time` (RFC 3339, a date, or epoch
//! milliseconds) and formatting milliseconds for summaries, on top of
//! `sluice_core::time`. Pure; the wall clock is read only by
//! [`wall_clock_millis`], used in real-time mode.

/// Parses `2024-01-01T00:00:00Z`, `2024-01-01T00:00:00.250Z`,
/// `2024-01-01 00:00:00+01:00` (any RFC 3339 timestamp, see
/// [`sluice_formats::time::parse_rfc3339`]), `2024-01-01` (midnight UTC) or
/// whole epoch milliseconds.
pub fn parse_utc_millis(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    if let Some(days) = sluice_formats::time::parse_date(t) {
        return Some(days * 86_400_000);
    }
    sluice_formats::time::parse_rfc3339(t)
}

/// Formats epoch milliseconds as `2024-01-01T00:00:00.000Z`.
pub fn format_utc_millis(ms: i64) -> String {
    sluice_formats::time::format_rfc3339(ms)
}

/// Milliseconds since the epoch now. Only real-time mode calls this.
pub fn wall_clock_millis() -> i64 {
    sluice_core::time::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_utc_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc_millis("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(
            parse_utc_millis("2024-01-01T00:00:01.5Z"),
            Some(1_704_067_201_500)
        );
        assert_eq!(parse_utc_millis("1704067200000"), Some(1_704_067_200_000));
        assert_eq!(parse_utc_millis("2024-02-30"), None);
        // offsets are fixed, so a run stays reproducible: accepted
        assert_eq!(
            parse_utc_millis("2024-01-01T02:00:00+02:00"),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_utc_millis("2024-01-01T00:00:00"), None);
        assert_eq!(
            format_utc_millis(1_704_067_201_500),
            "2024-01-01T00:00:01.500Z"
        );
        assert_eq!(format_utc_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
