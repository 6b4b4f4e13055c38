//! Writing generated records: Avro binary datums (our own encoder, following
//! the [`RecordLayout`] wire order) and JSON objects, both appended to reused
//! byte buffers, plus the deliberate corruptions used for dead-letter tests.
//!
//! Avro rules used: int/long/timestamp/enum index = zigzag varint; string and
//! bytes = zigzag varint length + bytes; double = 8 bytes little-endian;
//! boolean = one byte; optional = union branch 0 (null) or 1 (value); money
//! as `long` = minor units, as `decimal` = big-endian two's complement bytes.
//!
//! JSON: field names as in the schema, money as integer minor units,
//! `event_time` and timestamps as epoch milliseconds, enums as symbols.

use sluice_core::{FieldType, MoneyEncoding, RecordLayout};

use crate::faults::MalformedKind;
use crate::sim::{Scratch, Val};

/// Appends `src[i..i + len]`. When at least 16 bytes are readable from `i`
/// and `len <= 16`, copies a fixed 16 bytes and truncates: one vector move
/// instead of a call to `memcpy` (most strings here are short).
#[inline(always)]
pub fn copy_small(out: &mut Vec<u8>, src: &[u8], i: usize, len: usize) {
    let n = out.len();
    match src.get(i..i + 16) {
        Some(chunk) if len <= 16 => {
            out.extend_from_slice(chunk);
            out.truncate(n + len);
        }
        _ => out.extend_from_slice(src.get(i..i + len).unwrap_or_default()),
    }
}

pub use sluice_formats::avro::{write_bytes as put_str, write_long as put_long};

/// Appends an Avro double.
#[inline]
pub fn put_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends an Avro decimal (bytes): the minimal big-endian two's complement
/// of `v`.
#[inline]
pub fn put_decimal(out: &mut Vec<u8>, v: i64) {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (cur, next) = (b[start], b[start + 1]);
        let redundant = (cur == 0x00 && next & 0x80 == 0) || (cur == 0xFF && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    put_str(out, &b[start..]);
}

/// How a field travels on the wire, precomputed per layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// string
    Str,
    /// int, long, timestamp, money as long
    Long,
    /// double
    Double,
    /// boolean
    Bool,
    /// enum index
    Enum,
    /// money as decimal bytes
    Decimal,
}

/// Precomputed encoding facts of one record layout.
#[derive(Clone, Debug)]
pub struct Codec {
    /// Wire type and optionality per field.
    pub wire: Vec<(Wire, bool)>,
    /// `"name":` per field, with a leading `,` from the second field on.
    pub json_keys: Vec<Vec<u8>>,
    /// Per field, for enums: each symbol as a JSON string.
    pub json_symbols: Vec<Vec<Vec<u8>>>,
    /// Index of the last required field (for `MissingField`).
    pub last_required: usize,
    /// Index of the first non-envelope field, if any (for JSON `WrongType`).
    pub first_attr: Option<usize>,
}

impl Codec {
    /// Precomputes the codec of a layout.
    pub fn new(layout: &RecordLayout) -> Self {
        let wire = layout
            .fields
            .iter()
            .map(|f| {
                let w = match &f.ty {
                    FieldType::String => Wire::Str,
                    FieldType::Int | FieldType::Long | FieldType::Timestamp => Wire::Long,
                    FieldType::Double => Wire::Double,
                    FieldType::Boolean => Wire::Bool,
                    FieldType::Enum { .. } => Wire::Enum,
                    FieldType::Money { .. } => match layout.money {
                        MoneyEncoding::Long => Wire::Long,
                        MoneyEncoding::Decimal => Wire::Decimal,
                    },
                };
                (w, f.optional)
            })
            .collect();
        let json_keys = layout
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut k = Vec::new();
                if i > 0 {
                    k.push(b',');
                }
                json_string(&mut k, f.name.as_bytes());
                k.push(b':');
                k
            })
            .collect();
        let json_symbols = layout
            .fields
            .iter()
            .map(|f| match &f.ty {
                FieldType::Enum { symbols } => symbols
                    .iter()
                    .map(|s| {
                        let mut v = Vec::new();
                        json_string(&mut v, s.as_bytes());
                        v
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let last_required = layout.fields.iter().rposition(|f| !f.optional).unwrap_or(0);
        let first_attr =
            (layout.fields.len() > crate::plan::ENVELOPE).then_some(crate::plan::ENVELOPE);
        Self {
            wire,
            json_keys,
            json_symbols,
            last_required,
            first_attr,
        }
    }

    /// Appends the Avro datum of `s`; `bad` corrupts it on purpose.
    #[inline]
    pub fn avro(&self, s: &Scratch, out: &mut Vec<u8>, bad: Option<MalformedKind>) {
        let start = out.len();
        for (i, ((wire, optional), val)) in self.wire.iter().zip(&s.vals).enumerate() {
            if i == 0 && bad == Some(MalformedKind::WrongType) {
                put_long(out, -1);
                continue;
            }
            if i == self.last_required && bad == Some(MalformedKind::MissingField) {
                continue;
            }
            if *optional {
                if matches!(val, Val::Null) {
                    out.push(0);
                    continue;
                }
                out.push(2);
            }
            match (wire, *val) {
                (Wire::Str, Val::Str(a, b)) => {
                    put_long(out, (b - a) as i64);
                    copy_small(out, &s.bytes, a as usize, (b - a) as usize);
                }
                (Wire::Long, Val::Int(v)) => put_long(out, v),
                (Wire::Double, Val::Double(v)) => put_double(out, v),
                (Wire::Bool, Val::Bool(v)) => out.push(v as u8),
                (Wire::Enum, Val::Enum(v)) => put_long(out, v as i64),
                (Wire::Decimal, Val::Int(v)) => put_decimal(out, v),
                // A generator/layout mismatch cannot happen for compiled
                // plans; write the zero value of the wire type rather than panic.
                (Wire::Str, _) => put_str(out, b""),
                (Wire::Long | Wire::Enum, _) => put_long(out, 0),
                (Wire::Double, _) => put_double(out, 0.0),
                (Wire::Bool, _) => out.push(0),
                (Wire::Decimal, _) => put_decimal(out, 0),
            }
        }
        if bad == Some(MalformedKind::Truncated) {
            let len = out.len() - start;
            out.truncate(start + len / 2);
        }
    }

    /// Appends the JSON object of `s` and a newline; `bad` corrupts it.
    pub fn json(&self, s: &Scratch, out: &mut Vec<u8>, bad: Option<MalformedKind>) {
        let start = out.len();
        out.push(b'{');
        let wrong = match bad {
            Some(MalformedKind::WrongType) => Some(self.first_attr.unwrap_or(3)),
            _ => None,
        };
        let mut first = true;
        for (i, ((wire, _), val)) in self.wire.iter().zip(&s.vals).enumerate() {
            if i == self.last_required && bad == Some(MalformedKind::MissingField) {
                continue;
            }
            let key = &self.json_keys[i];
            // Drop the leading comma when an earlier key was skipped.
            if first && key.first() == Some(&b',') {
                out.extend_from_slice(&key[1..]);
            } else {
                out.extend_from_slice(key);
            }
            first = false;
            if wrong == Some(i) {
                match wire {
                    Wire::Str => out.extend_from_slice(b"12345"),
                    _ => out.extend_from_slice(b"\"not a number\""),
                }
                continue;
            }
            match *val {
                Val::Null => out.extend_from_slice(b"null"),
                Val::Str(a, b) => json_string(out, &s.bytes[a as usize..b as usize]),
                Val::Int(v) => crate::template::write_i64(out, v),
                Val::Double(v) => json_f64(out, v),
                Val::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
                Val::Enum(v) => match self.json_symbols[i].get(v as usize) {
                    Some(sym) => out.extend_from_slice(sym),
                    None => out.extend_from_slice(b"null"),
                },
            }
        }
        out.push(b'}');
        if bad == Some(MalformedKind::Truncated) {
            let len = out.len() - start;
            out.truncate(start + len / 2);
        }
        out.push(b'\n');
    }
}

/// Appends a finite double as a JSON number (shortest round-trip form).
pub fn json_f64(out: &mut Vec<u8>, v: f64) {
    use std::io::Write as _;
    if v.is_finite() {
        let start = out.len();
        // Writing into a Vec cannot fail; keep the output valid JSON anyway.
        if write!(out, "{v}").is_err() {
            out.truncate(start);
            out.extend_from_slice(b"null");
            return;
        }
        // Keep doubles recognisable as such: `45` → `45.0`.
        if !out[start..].iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
            out.extend_from_slice(b".0");
        }
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends a JSON string literal with escaping.
pub fn json_string(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[from..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        from = i + 1;
    }
    out.extend_from_slice(&b[from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_decimals() {
        let mut b = Vec::new();
        put_long(&mut b, 0);
        put_long(&mut b, -1);
        put_long(&mut b, 1);
        put_long(&mut b, 64);
        assert_eq!(b, [0x00, 0x01, 0x02, 0x80, 0x01]);
        let dec = |v| {
            let mut b = Vec::new();
            put_decimal(&mut b, v);
            b
        };
        assert_eq!(dec(0), [2, 0x00]);
        assert_eq!(dec(127), [2, 0x7F]);
        assert_eq!(dec(128), [4, 0x00, 0x80]);
        assert_eq!(dec(-1), [2, 0xFF]);
        assert_eq!(dec(-129), [4, 0xFF, 0x7F]);
    }

    #[test]
    fn json_escapes() {
        let mut b = Vec::new();
        json_string(&mut b, b"a\"b\\c\n\x01");
        assert_eq!(String::from_utf8(b).unwrap(), r#""a\"b\\c\n\u0001""#);
    }
}
