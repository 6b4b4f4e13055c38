//! UTC timestamps as text: parsing `start_time` (RFC 3339 with `Z`, a date, or
//! epoch milliseconds) and formatting milliseconds for summaries. Pure; the
//! wall clock is read only by [`wall_clock_millis`], used in real-time mode.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(s: &str, lo: u32, hi: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (lo..=hi).contains(&v).then_some(v)
}

/// Parses `2024-01-01T00:00:00Z`, `2024-01-01T00:00:00.250Z`,
/// `2024-01-01 00:00:00Z`, `2024-01-01` (midnight UTC) or whole epoch
/// milliseconds. Offsets other than `Z` are rejected to keep runs reproducible
/// across machines.
pub fn parse_utc_millis(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let (date, time) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next().filter(|s| s.len() == 4)?.parse().ok()?;
    let m = num(dp.next()?, 1, 12)?;
    let d = num(dp.next()?, 1, 31)?;
    if dp.next().is_some() {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    let mut ms = days * 86_400_000;
    if let Some(time) = time {
        let time = time.strip_suffix('Z').or_else(|| time.strip_suffix('z'))?;
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (time, None),
        };
        let mut tp = hms.split(':');
        let h = num(tp.next()?, 0, 23)?;
        let mi = num(tp.next()?, 0, 59)?;
        let s = match tp.next() {
            Some(s) => num(s, 0, 59)?,
            None => 0,
        };
        if tp.next().is_some() {
            return None;
        }
        ms += (h as i64 * 3600 + mi as i64 * 60 + s as i64) * 1000;
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits: String = f.chars().chain("000".chars()).take(3).collect();
            ms += digits.parse::<i64>().ok()?;
        }
    }
    Some(ms)
}

/// Formats epoch milliseconds as `2024-01-01T00:00:00.000Z`.
pub fn format_utc_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
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
        assert_eq!(parse_utc_millis("2024-01-01T00:00:00+02:00"), None);
        assert_eq!(
            format_utc_millis(1_704_067_201_500),
            "2024-01-01T00:00:01.500Z"
        );
        assert_eq!(format_utc_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
