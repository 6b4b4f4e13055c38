//! The schema-driven record decoder, compiled once per event type at
//! [`Engine::new`](crate::Engine::new).
//!
//! A [`CompiledDecoder`] is a flat list of instructions, one per field in
//! wire order (plus one for each union branch). Fields some aggregation needs are decoded into a slot of a
//! caller-owned scratch array of [`FieldVal`]s (strings as offsets into the
//! record, so nothing is allocated); all other fields are skipped by reading
//! only their lengths. Every length is checked before slicing and the whole
//! record must be consumed, so malformed bytes surface as a [`DecodeError`],
//! never a panic. Skipped strings are not checked for UTF-8.

use sluice_core::{FieldType, MoneyEncoding, RecordLayout};

use crate::error::{DecodeError, PlanError};

/// Event times must lie within ±`TIME_LIMIT` ms so window arithmetic
/// (start + size, end + lateness) can never overflow.
pub const TIME_LIMIT: i64 = 1 << 53;

/// Slot marker: the field is skipped.
pub(crate) const SKIP: u16 = u16::MAX;
/// Slot marker: the field is the event time.
pub(crate) const TIME: u16 = u16::MAX - 1;

/// One decoded field, without allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldVal {
    /// Null (optional field) or not decoded.
    Null,
    /// Int, long, timestamp or money (minor units).
    Int(i64),
    /// Double.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// String, as a byte range of the record (already checked to be UTF-8).
    Str {
        /// Start offset in the record.
        start: u32,
        /// Length in bytes.
        len: u32,
    },
    /// Enum symbol index.
    Enum(u32),
}

impl FieldVal {
    /// The bytes of a string value within its record.
    #[inline]
    pub fn str_bytes<'a>(&self, record: &'a [u8]) -> &'a [u8] {
        match *self {
            FieldVal::Str { start, len } => record
                .get(start as usize..(start + len) as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Str,
    Int32,
    Long,
    Double,
    Bool,
    Enum(u32),
    Decimal,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    wire: Wire,
    optional: bool,
    slot: u16,
}

/// One compiled instruction; a nullable field is a `Union` followed by the
/// instruction for its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Union branch of a nullable field: 0 writes null into the next
    /// instruction's slot (if any) and skips it; 1 runs it.
    Union,
    SkipBytes,
    SkipLong,
    SkipDouble,
    SkipBool,
    Time,
    Str(u16),
    Long(u16),
    Int32(u16),
    Double(u16),
    Bool(u16),
    Enum(u16, u32),
    Decimal(u16),
}

impl Op {
    fn slot(self) -> Option<u16> {
        match self {
            Op::Str(s)
            | Op::Long(s)
            | Op::Int32(s)
            | Op::Double(s)
            | Op::Bool(s)
            | Op::Enum(s, _)
            | Op::Decimal(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum FailKind {
    Truncated,
    BadVarint,
    BadLength(i64),
    Utf8,
    Union(i64),
    Enum(i64),
    Bool(u8),
    IntRange(i64),
    Decimal(usize),
    Trailing(usize),
    Time(i64),
}

#[derive(Clone, Copy, Debug)]
struct Fail {
    kind: FailKind,
    step: usize,
    at: usize,
}

/// A decoder for one event type that extracts only the requested fields.
#[derive(Clone, Debug)]
pub struct CompiledDecoder {
    ops: Vec<Op>,
    /// Field index of each op, for error messages.
    op_field: Vec<u16>,
    names: Vec<String>,
    symbols: Vec<Vec<String>>,
}

#[inline(always)]
fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, FailKind> {
    match buf.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            Ok(u64::from(b))
        }
        _ => varint_slow(buf, pos),
    }
}

#[inline(never)]
fn varint_slow(buf: &[u8], pos: &mut usize) -> Result<u64, FailKind> {
    let mut n: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(FailKind::Truncated);
        };
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(n);
        }
        shift += 7;
        if shift > 63 {
            return Err(FailKind::BadVarint);
        }
    }
}

#[inline(always)]
fn long(buf: &[u8], pos: &mut usize) -> Result<i64, FailKind> {
    let n = varint(buf, pos)?;
    Ok((n >> 1) as i64 ^ -((n & 1) as i64))
}

#[inline(always)]
fn length(buf: &[u8], pos: &mut usize) -> Result<(usize, usize), FailKind> {
    let len = long(buf, pos)?;
    let start = *pos;
    if len < 0 || len as u64 > (buf.len() - start) as u64 {
        return Err(FailKind::BadLength(len));
    }
    let end = start + len as usize;
    *pos = end;
    Ok((start, end))
}

impl CompiledDecoder {
    /// Compiles a decoder for `layout` that writes field `name` into
    /// `slots[slot]` for every `(name, slot)` in `wanted`, and returns the
    /// event time. Slots must be below `u16::MAX - 1`.
    pub fn new(layout: &RecordLayout, wanted: &[(&str, u16)]) -> Result<Self, PlanError> {
        let bad = |reason: String| PlanError::InvalidLayout {
            event_type: layout.event_type.clone(),
            reason,
        };
        let mut steps = Vec::with_capacity(layout.fields.len());
        let mut saw_time = false;
        for f in &layout.fields {
            let wire = match (&f.ty, layout.money) {
                (FieldType::String, _) => Wire::Str,
                (FieldType::Int, _) => Wire::Int32,
                (FieldType::Long | FieldType::Timestamp, _) => Wire::Long,
                (FieldType::Money { .. }, MoneyEncoding::Long) => Wire::Long,
                (FieldType::Money { .. }, MoneyEncoding::Decimal) => Wire::Decimal,
                (FieldType::Double, _) => Wire::Double,
                (FieldType::Boolean, _) => Wire::Bool,
                (FieldType::Enum { symbols }, _) => {
                    let n = u32::try_from(symbols.len())
                        .map_err(|_| bad(format!("enum `{}` has too many symbols", f.name)))?;
                    Wire::Enum(n)
                }
            };
            let slot = if f.name == sluice_core::layout::EVENT_TIME {
                if f.optional || !matches!(f.ty, FieldType::Timestamp | FieldType::Long) {
                    return Err(bad("`event_time` must be a required timestamp".to_string()));
                }
                saw_time = true;
                TIME
            } else {
                wanted
                    .iter()
                    .find(|(n, _)| *n == f.name)
                    .map(|(_, s)| *s)
                    .unwrap_or(SKIP)
            };
            steps.push(Step {
                wire,
                optional: f.optional,
                slot,
            });
        }
        if !saw_time {
            return Err(bad("no `event_time` field".to_string()));
        }
        if steps.len() >= usize::from(TIME) {
            return Err(bad("too many fields".to_string()));
        }
        let mut ops = Vec::with_capacity(steps.len() * 2);
        let mut op_field = Vec::with_capacity(steps.len() * 2);
        for (i, st) in steps.iter().enumerate() {
            if st.optional {
                ops.push(Op::Union);
                op_field.push(i as u16);
            }
            let skip = st.slot == SKIP;
            ops.push(match st.wire {
                _ if st.slot == TIME => Op::Time,
                Wire::Str | Wire::Decimal if skip => Op::SkipBytes,
                Wire::Long | Wire::Int32 | Wire::Enum(_) if skip => Op::SkipLong,
                Wire::Double if skip => Op::SkipDouble,
                Wire::Bool if skip => Op::SkipBool,
                Wire::Str => Op::Str(st.slot),
                Wire::Long => Op::Long(st.slot),
                Wire::Int32 => Op::Int32(st.slot),
                Wire::Double => Op::Double(st.slot),
                Wire::Bool => Op::Bool(st.slot),
                Wire::Enum(n) => Op::Enum(st.slot, n),
                Wire::Decimal => Op::Decimal(st.slot),
            });
            op_field.push(i as u16);
        }
        Ok(Self {
            ops,
            op_field,
            names: layout.fields.iter().map(|f| f.name.clone()).collect(),
            symbols: layout
                .fields
                .iter()
                .map(|f| match &f.ty {
                    FieldType::Enum { symbols } => symbols.clone(),
                    _ => Vec::new(),
                })
                .collect(),
        })
    }

    /// Symbols of the enum field named `name` (empty for other fields).
    pub fn enum_symbols(&self, name: &str) -> &[String] {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.symbols.get(i))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Decodes `rec`, writing wanted fields into `vals` (which must be long
    /// enough for every slot), and returns the event time.
    #[inline]
    pub fn decode(&self, rec: &[u8], vals: &mut [FieldVal]) -> Result<i64, DecodeError> {
        self.decode_fast(rec, vals).map_err(|f| self.describe(f))
    }

    #[inline(always)]
    fn decode_fast(&self, rec: &[u8], vals: &mut [FieldVal]) -> Result<i64, Fail> {
        let mut pos = 0usize;
        let mut time = 0i64;
        let ops = &self.ops[..];
        let mut i = 0;
        while i < ops.len() {
            let at = pos;
            let fail = |kind| Fail { kind, step: i, at };
            let (slot, v) = match ops[i] {
                Op::SkipBytes => {
                    length(rec, &mut pos).map_err(fail)?;
                    i += 1;
                    continue;
                }
                Op::SkipLong => {
                    varint(rec, &mut pos).map_err(fail)?;
                    i += 1;
                    continue;
                }
                Op::SkipDouble => {
                    if rec.len() - pos < 8 {
                        return Err(fail(FailKind::Truncated));
                    }
                    pos += 8;
                    i += 1;
                    continue;
                }
                Op::SkipBool => {
                    match rec.get(pos) {
                        Some(0 | 1) => pos += 1,
                        Some(&b) => return Err(fail(FailKind::Bool(b))),
                        None => return Err(fail(FailKind::Truncated)),
                    }
                    i += 1;
                    continue;
                }
                Op::Union => {
                    match long(rec, &mut pos).map_err(fail)? {
                        0 => {
                            if let Some(slot) = ops.get(i + 1).and_then(|o| o.slot()) {
                                if let Some(v) = vals.get_mut(usize::from(slot)) {
                                    *v = FieldVal::Null;
                                }
                            }
                            i += 2;
                        }
                        1 => i += 1,
                        b => return Err(fail(FailKind::Union(b))),
                    }
                    continue;
                }
                Op::Time => {
                    let v = long(rec, &mut pos).map_err(fail)?;
                    if !(-TIME_LIMIT..=TIME_LIMIT).contains(&v) {
                        return Err(fail(FailKind::Time(v)));
                    }
                    time = v;
                    i += 1;
                    continue;
                }
                Op::Str(slot) => {
                    let (start, end) = length(rec, &mut pos).map_err(fail)?;
                    let b = &rec[start..end];
                    if !b.is_ascii() && std::str::from_utf8(b).is_err() {
                        return Err(fail(FailKind::Utf8));
                    }
                    (
                        slot,
                        FieldVal::Str {
                            start: start as u32,
                            len: (end - start) as u32,
                        },
                    )
                }
                Op::Long(slot) => (slot, FieldVal::Int(long(rec, &mut pos).map_err(fail)?)),
                Op::Int32(slot) => {
                    let v = long(rec, &mut pos).map_err(fail)?;
                    if i32::try_from(v).is_err() {
                        return Err(fail(FailKind::IntRange(v)));
                    }
                    (slot, FieldVal::Int(v))
                }
                Op::Double(slot) => {
                    let Some(b) = rec.get(pos..pos + 8) else {
                        return Err(fail(FailKind::Truncated));
                    };
                    pos += 8;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    (slot, FieldVal::Float(f64::from_le_bytes(a)))
                }
                Op::Bool(slot) => {
                    let v = match rec.get(pos) {
                        Some(0) => false,
                        Some(1) => true,
                        Some(&b) => return Err(fail(FailKind::Bool(b))),
                        None => return Err(fail(FailKind::Truncated)),
                    };
                    pos += 1;
                    (slot, FieldVal::Bool(v))
                }
                Op::Enum(slot, n) => {
                    let v = long(rec, &mut pos).map_err(fail)?;
                    if v < 0 || v >= i64::from(n) {
                        return Err(fail(FailKind::Enum(v)));
                    }
                    (slot, FieldVal::Enum(v as u32))
                }
                Op::Decimal(slot) => {
                    let (start, end) = length(rec, &mut pos).map_err(fail)?;
                    let b = &rec[start..end];
                    if b.len() > 8 {
                        return Err(fail(FailKind::Decimal(b.len())));
                    }
                    let mut v: i64 = if b.first().is_some_and(|x| x & 0x80 != 0) {
                        -1
                    } else {
                        0
                    };
                    for &x in b {
                        v = (v << 8) | i64::from(x);
                    }
                    (slot, FieldVal::Int(v))
                }
            };
            if let Some(s) = vals.get_mut(usize::from(slot)) {
                *s = v;
            }
            i += 1;
        }
        if pos != rec.len() {
            return Err(Fail {
                kind: FailKind::Trailing(rec.len() - pos),
                step: usize::MAX,
                at: pos,
            });
        }
        Ok(time)
    }

    fn describe(&self, f: Fail) -> DecodeError {
        let field = self
            .op_field
            .get(f.step)
            .and_then(|&i| self.names.get(usize::from(i)))
            .cloned()
            .unwrap_or_default();
        let at = f.at;
        match f.kind {
            FailKind::Truncated => DecodeError::Truncated { field, at },
            FailKind::BadVarint => DecodeError::BadVarint { field, at },
            FailKind::BadLength(len) => DecodeError::BadLength { field, len, at },
            FailKind::Utf8 => DecodeError::InvalidUtf8 { field },
            FailKind::Union(branch) => DecodeError::BadUnionBranch { field, branch },
            FailKind::Enum(index) => DecodeError::BadEnumIndex {
                symbols: self.enum_symbols(&field).len(),
                field,
                index,
            },
            FailKind::Bool(value) => DecodeError::BadBoolean { field, value },
            FailKind::IntRange(value) => DecodeError::IntOutOfRange { field, value },
            FailKind::Decimal(len) => DecodeError::DecimalTooLarge { field, len },
            FailKind::Trailing(extra) => DecodeError::TrailingBytes { extra },
            FailKind::Time(t) => DecodeError::TimeOutOfRange(t),
        }
    }
}
