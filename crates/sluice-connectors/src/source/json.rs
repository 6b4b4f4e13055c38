//! JSON lines → Avro datums in layout order. Field names are those of the
//! schema; `event_time` is epoch milliseconds or an RFC 3339 timestamp
//! (`2026-11-26T10:00:00Z`, `+01:00` offsets allowed); money is an integer in
//! minor units; enums are symbols. Anything else is rejected with a reason.

use serde_json::Value as Json;
use sluice_core::{FieldType, RecordLayout};
use sluice_engine::value::{encode_record, Value};

/// Turns one JSON object into an Avro datum appended to `out`; returns the
/// event type index. On error `out` is unchanged.
pub fn encode_line(
    layouts: &[RecordLayout],
    line: &[u8],
    out: &mut Vec<u8>,
) -> Result<u32, (String, Option<String>)> {
    let doc: Json =
        serde_json::from_slice(line).map_err(|e| (format!("malformed JSON: {e}"), None))?;
    let Json::Object(map) = doc else {
        return Err(("expected a JSON object per line".into(), None));
    };
    let et = match map.get(sluice_core::layout::EVENT_TYPE) {
        Some(Json::String(s)) => s.clone(),
        Some(_) => return Err(("`event_type` must be a string".into(), None)),
        None => return Err(("missing required field `event_type`".into(), None)),
    };
    let Some(idx) = super::event_type_index(layouts, &et) else {
        return Err((format!("unknown event type `{et}`"), Some(et)));
    };
    let layout = &layouts[idx as usize];
    let mut values = Vec::with_capacity(layout.fields.len());
    for f in &layout.fields {
        let v = match map.get(&f.name) {
            None | Some(Json::Null) if f.optional => Value::Null,
            None | Some(Json::Null) => {
                return Err((format!("missing required field `{}`", f.name), Some(et)))
            }
            Some(j) => convert(&f.ty, j)
                .map_err(|m| (format!("field `{}`: {m}", f.name), Some(et.clone())))?,
        };
        values.push(v);
    }
    let mark = out.len();
    if let Err(e) = encode_record(layout, &values, out) {
        out.truncate(mark);
        return Err((e.to_string(), Some(et)));
    }
    Ok(idx)
}

fn convert(ty: &FieldType, j: &Json) -> Result<Value, String> {
    let int = |j: &Json| {
        j.as_i64()
            .ok_or_else(|| format!("expected an integer, found {j}"))
    };
    Ok(match ty {
        FieldType::String => Value::Str(
            j.as_str()
                .ok_or_else(|| format!("expected a string, found {j}"))?
                .to_string(),
        ),
        FieldType::Int => {
            let v = int(j)?;
            i32::try_from(v).map_err(|_| format!("{v} does not fit an int"))?;
            Value::Int(v)
        }
        FieldType::Long => Value::Int(int(j)?),
        FieldType::Money { .. } => Value::Int(int(j)?),
        FieldType::Double => Value::Double(
            j.as_f64()
                .ok_or_else(|| format!("expected a number, found {j}"))?,
        ),
        FieldType::Boolean => Value::Bool(
            j.as_bool()
                .ok_or_else(|| format!("expected true or false, found {j}"))?,
        ),
        FieldType::Timestamp => match j {
            Json::String(s) => Value::Int(
                parse_rfc3339(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 timestamp"))?,
            ),
            _ => Value::Int(int(j)?),
        },
        FieldType::Enum { symbols } => {
            let s = j
                .as_str()
                .ok_or_else(|| format!("expected a symbol, found {j}"))?;
            if !symbols.iter().any(|x| x == s) {
                return Err(format!("`{s}` is not one of {}", symbols.join(", ")));
            }
            Value::Str(s.to_string())
        }
    })
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` into epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 {
            return None;
        }
        let mut f = frac[..digits.min(3)].to_string();
        while f.len() < 3 {
            f.push('0');
        }
        ms = f.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T10:00:00.5Z"),
            Some(1_795_687_200_500)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T11:00:00+01:00"),
            Some(1_795_687_200_000)
        );
        assert_eq!(parse_rfc3339("2026-11-26"), None);
        assert_eq!(parse_rfc3339("2026-13-26T10:00:00Z"), None);
    }
}
