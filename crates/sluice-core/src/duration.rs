//! Human-readable durations such as `10 seconds`, `1 minute`, `10m`, `500ms`
//! or `1h 30m`, as written in YAML.

use std::fmt;
use std::time::Duration;

/// A duration parsed from human-readable text; displays in the shortest
/// exact form (`90s`, `1m`, `500ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

/// Why a duration string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationParseError {
    /// The text was empty.
    #[error("empty duration")]
    Empty,
    /// A number was expected at this part of the text.
    #[error("expected a number in `{0}`")]
    MissingNumber(String),
    /// The unit is not one we know.
    #[error("unknown unit `{unit}` (expected one of ms, s, m, h, d, w or their long forms such as `seconds`)")]
    UnknownUnit {
        /// The offending unit.
        unit: String,
    },
    /// The value does not fit in 64-bit milliseconds.
    #[error("duration `{0}` is too large")]
    Overflow(String),
}

const UNITS: &[(&[&str], u64)] = &[
    (
        &[
            "ms",
            "msec",
            "msecs",
            "millis",
            "millisecond",
            "milliseconds",
        ],
        1,
    ),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
    (&["w", "week", "weeks"], 604_800_000),
];

impl HumanDuration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// Whole milliseconds (saturating at `i64::MAX`).
    pub fn as_millis_i64(&self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    /// Parses text such as `10 seconds`, `1 minute`, `10m`, `500ms`, `1h 30m`.
    /// A bare number is not accepted: the unit must be explicit.
    pub fn parse(text: &str) -> Result<Self, DurationParseError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationParseError::Empty);
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(DurationParseError::MissingNumber(text.to_string()));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| DurationParseError::Overflow(text.to_string()))?;
            rest = rest[digits..].trim_start();
            let unit_len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            if unit.is_empty() {
                return Err(DurationParseError::UnknownUnit {
                    unit: String::new(),
                });
            }
            let lower = unit.to_ascii_lowercase();
            let factor = UNITS
                .iter()
                .find(|(names, _)| names.contains(&lower.as_str()))
                .map(|(_, f)| *f)
                .ok_or_else(|| DurationParseError::UnknownUnit {
                    unit: unit.to_string(),
                })?;
            let part = n
                .checked_mul(factor)
                .ok_or_else(|| DurationParseError::Overflow(text.to_string()))?;
            total = total
                .checked_add(part)
                .filter(|t| *t <= i64::MAX as u64)
                .ok_or_else(|| DurationParseError::Overflow(text.to_string()))?;
            rest = rest[unit_len..].trim_start_matches([' ', ',']);
            rest = rest.strip_prefix("and ").unwrap_or(rest);
        }
        Ok(Self(Duration::from_millis(total)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (suffix, unit) in [
            ("w", 604_800_000u128),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms % unit == 0 {
                return write!(f, "{}{}", ms / unit, suffix);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u64 {
        HumanDuration::parse(s).unwrap().0.as_millis() as u64
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(ms("10 seconds"), 10_000);
        assert_eq!(ms("1 minute"), 60_000);
        assert_eq!(ms("10m"), 600_000);
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1h 30m"), 5_400_000);
        assert_eq!(ms("2 Hours"), 7_200_000);
        assert_eq!(ms("1 day"), 86_400_000);
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(matches!(
            HumanDuration::parse("10 parsecs"),
            Err(DurationParseError::UnknownUnit { .. })
        ));
        assert!(matches!(
            HumanDuration::parse("ten seconds"),
            Err(DurationParseError::MissingNumber(_))
        ));
        assert!(matches!(
            HumanDuration::parse("10"),
            Err(DurationParseError::UnknownUnit { .. })
        ));
        assert_eq!(HumanDuration::parse("  "), Err(DurationParseError::Empty));
        assert!(matches!(
            HumanDuration::parse("99999999999999999999 w"),
            Err(DurationParseError::Overflow(_))
        ));
    }

    #[test]
    fn displays_shortest_exact_form() {
        assert_eq!(HumanDuration::from_millis(90_000).to_string(), "90s");
        assert_eq!(HumanDuration::from_millis(60_000).to_string(), "1m");
        assert_eq!(HumanDuration::from_millis(1_500).to_string(), "1500ms");
    }
}
