//! Already-decoded field values, for tests and for sources without Avro, and
//! a plain (slow, obviously correct) Avro encoder and decoder over them.
//!
//! The engine's hot path never uses these: values given to
//! [`Engine::process_values`](crate::Engine::process_values) are encoded to
//! Avro once and go through the same compiled decoder as everything else, so
//! both inputs have exactly the same semantics.

use sluice_core::{FieldLayout, FieldType, MoneyEncoding, RecordLayout};

use crate::error::{DecodeError, EncodeError};

/// One field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Null, for optional fields.
    Null,
    /// A boolean.
    Bool(bool),
    /// An int, long, timestamp (epoch ms) or money amount (minor units).
    Int(i64),
    /// A double.
    Double(f64),
    /// A string, or an enum symbol.
    Str(String),
}

pub use sluice_formats::avro::{decimal_bytes, write_bytes, write_long};

fn mismatch(f: &FieldLayout, v: &Value) -> EncodeError {
    EncodeError::Mismatch {
        field: f.name.clone(),
        ty: f.ty.name().to_string(),
        value: format!("{v:?}"),
    }
}

/// Encodes one record, values in layout order, as plain Avro binary.
pub fn encode_record(
    layout: &RecordLayout,
    values: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if values.len() != layout.fields.len() {
        return Err(EncodeError::FieldCount {
            event_type: layout.event_type.clone(),
            expected: layout.fields.len(),
            got: values.len(),
        });
    }
    for (f, v) in layout.fields.iter().zip(values) {
        if f.optional {
            if matches!(v, Value::Null) {
                write_long(out, 0);
                continue;
            }
            write_long(out, 1);
        }
        match (&f.ty, v) {
            (FieldType::String, Value::Str(s)) => write_bytes(out, s.as_bytes()),
            (FieldType::Int, Value::Int(i)) if i32::try_from(*i).is_ok() => write_long(out, *i),
            (FieldType::Long | FieldType::Timestamp, Value::Int(i)) => write_long(out, *i),
            (FieldType::Double, Value::Double(d)) => out.extend_from_slice(&d.to_le_bytes()),
            (FieldType::Boolean, Value::Bool(b)) => out.push(u8::from(*b)),
            (FieldType::Enum { symbols }, Value::Str(s)) => {
                let idx = symbols
                    .iter()
                    .position(|x| x == s)
                    .ok_or_else(|| mismatch(f, v))?;
                write_long(out, idx as i64);
            }
            (FieldType::Money { .. }, Value::Int(i)) => match layout.money {
                MoneyEncoding::Long => write_long(out, *i),
                MoneyEncoding::Decimal => write_bytes(out, &decimal_bytes(*i)),
            },
            _ => return Err(mismatch(f, v)),
        }
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn long(&mut self, field: &str) -> Result<i64, DecodeError> {
        let start = self.pos;
        let mut n: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(DecodeError::Truncated {
                    field: field.to_string(),
                    at: self.pos,
                });
            };
            self.pos += 1;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((n >> 1) as i64 ^ -((n & 1) as i64));
            }
        }
        Err(DecodeError::BadVarint {
            field: field.to_string(),
            at: start,
        })
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&[u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(DecodeError::Truncated {
                field: field.to_string(),
                at: self.pos,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn bytes(&mut self, field: &str) -> Result<&[u8], DecodeError> {
        let at = self.pos;
        let len = self.long(field)?;
        if len < 0 || len as u64 > (self.buf.len() - self.pos) as u64 {
            return Err(DecodeError::BadLength {
                field: field.to_string(),
                len,
                at,
            });
        }
        self.take(len as usize, field)
    }
}

/// Decodes one plain Avro record into values, checking everything (every
/// string is UTF-8, no trailing bytes). Slow and simple: the reference model
/// uses it to check the engine's compiled decoder.
pub fn decode_record(layout: &RecordLayout, bytes: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let mut out = Vec::with_capacity(layout.fields.len());
    for f in &layout.fields {
        let name = f.name.as_str();
        if f.optional {
            match r.long(name)? {
                0 => {
                    out.push(Value::Null);
                    continue;
                }
                1 => {}
                branch => {
                    return Err(DecodeError::BadUnionBranch {
                        field: name.to_string(),
                        branch,
                    })
                }
            }
        }
        let v = match &f.ty {
            FieldType::String => {
                let b = r.bytes(name)?;
                let s = std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 {
                    field: name.to_string(),
                })?;
                Value::Str(s.to_string())
            }
            FieldType::Int => {
                let v = r.long(name)?;
                if i32::try_from(v).is_err() {
                    return Err(DecodeError::IntOutOfRange {
                        field: name.to_string(),
                        value: v,
                    });
                }
                Value::Int(v)
            }
            FieldType::Long | FieldType::Timestamp => Value::Int(r.long(name)?),
            FieldType::Double => {
                let b = r.take(8, name)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Double(f64::from_le_bytes(a))
            }
            FieldType::Boolean => match r.take(1, name)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                value => {
                    return Err(DecodeError::BadBoolean {
                        field: name.to_string(),
                        value,
                    })
                }
            },
            FieldType::Enum { symbols } => {
                let index = r.long(name)?;
                match usize::try_from(index).ok().and_then(|i| symbols.get(i)) {
                    Some(s) => Value::Str(s.clone()),
                    None => {
                        return Err(DecodeError::BadEnumIndex {
                            field: name.to_string(),
                            index,
                            symbols: symbols.len(),
                        })
                    }
                }
            }
            FieldType::Money { .. } => match layout.money {
                MoneyEncoding::Long => Value::Int(r.long(name)?),
                MoneyEncoding::Decimal => {
                    let b = r.bytes(name)?;
                    if b.len() > 8 {
                        return Err(DecodeError::DecimalTooLarge {
                            field: name.to_string(),
                            len: b.len(),
                        });
                    }
                    let mut v: i64 = if b.first().is_some_and(|x| x & 0x80 != 0) {
                        -1
                    } else {
                        0
                    };
                    for &x in b {
                        v = (v << 8) | i64::from(x);
                    }
                    Value::Int(v)
                }
            },
        };
        out.push(v);
    }
    if r.pos != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - r.pos,
        });
    }
    Ok(out)
}
