//! The one civil-time module: RFC 3339 parsing and UTC formatting of
//! epoch milliseconds (no time zone database: fixed offsets only).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn split_ms(ms: i64) -> ((i64, u32, u32), i64) {
    (
        civil_from_days(ms.div_euclid(86_400_000)),
        ms.rem_euclid(86_400_000),
    )
}

/// `YYYY-MM-DD HH:MM:SS.mmm` (UTC) for milliseconds since the epoch.
pub fn format_utc(ms: i64) -> String {
    let ((y, m, d), rem) = split_ms(ms);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC) for milliseconds since the epoch.
pub fn format_rfc3339(ms: i64) -> String {
    let ((y, m, d), rem) = split_ms(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// A number of exactly `len` ASCII digits within `lo..=hi`.
fn digits(s: &str, len: usize, lo: u32, hi: u32) -> Option<u32> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (lo..=hi).contains(&v).then_some(v)
}

/// A calendar date `YYYY-MM-DD` as days since 1970-01-01; `None` unless the
/// day exists (no 30 February).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut p = s.split('-');
    let y = i64::from(digits(p.next()?, 4, 0, 9999)?);
    let m = digits(p.next()?, 2, 1, 12)?;
    let d = digits(p.next()?, 2, 1, 31)?;
    if p.next().is_some() {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Parses an RFC 3339 timestamp into epoch milliseconds:
/// `YYYY-MM-DD`, `T` (or `t` or a space), `HH:MM[:SS][.fraction]`, then `Z`
/// (or `z`) or a `±HH:MM` offset. The fraction has 1 to 9 digits (kept to
/// the millisecond, truncated); a leap second `:60` counts as the next
/// minute's `:00`. `None` for anything else, including dates that do not
/// exist.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let sep = s.find(['T', 't', ' '])?;
    let days = parse_date(&s[..sep])?;
    let rest = &s[sep + 1..];
    let (clock, offset_min) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else {
        let at = rest.len().checked_sub(6)?;
        let (c, off) = (rest.get(..at)?, rest.get(at..)?);
        let sign = match off.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        if off.as_bytes().get(3) != Some(&b':') {
            return None;
        }
        let h = i64::from(digits(&off[1..3], 2, 0, 23)?);
        let m = i64::from(digits(&off[4..6], 2, 0, 59)?);
        (c, sign * (h * 60 + m))
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let mut t = hms.split(':');
    let h = i64::from(digits(t.next()?, 2, 0, 23)?);
    let mi = i64::from(digits(t.next()?, 2, 0, 59)?);
    let se = match t.next() {
        Some(x) => i64::from(digits(x, 2, 0, 60)?),
        None => 0,
    };
    if t.next().is_some() {
        return None;
    }
    let mut ms = 0;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ms = f
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0i64, |a, b| a * 10 + i64::from(b - b'0'));
    }
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_utc(1_795_687_200_500), "2026-11-26 10:00:00.500");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59.999");
        assert_eq!(
            format_rfc3339(1_704_067_201_500),
            "2024-01-01T00:00:01.500Z"
        );
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_rfc3339_with_offsets_and_refuses_what_is_not() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T10:00:00.5Z"),
            Some(1_795_687_200_500)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26t10:00:00.123456789z"),
            Some(1_795_687_200_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26 11:00:00+01:00"),
            Some(1_795_687_200_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T09:30:00-00:30"),
            Some(1_795_687_200_000)
        );
        assert_eq!(parse_rfc3339("2026-11-26T10:00Z"), Some(1_795_687_200_000));
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            Some(1_483_228_800_000)
        );
        for bad in [
            "2026-11-26",
            "2026-13-26T10:00:00Z",
            "2024-02-30T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T10:00:00",
            "2026-11-26T10:00:00+0100",
            "2026-11-26T10:00:00.Z",
            "2026-11-26T10:00:00.1234567890Z",
            "26-11-26T10:00:00Z",
            "2026-11-26T10:00:00+01:00:00",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 59, 60, 10_957, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
    }
}
