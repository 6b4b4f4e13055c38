//! RowBinary encoding of result rows and dead letters, in the column order
//! of [`super::parts_columns`].
//!
//! RowBinary: integers and floats little-endian, strings as LEB128 length +
//! bytes, `Nullable` as one flag byte (1 = null) then the value, arrays as
//! LEB128 length + elements, `DateTime` as u32 seconds, `DateTime64(3)` as
//! i64 milliseconds.

use sluice_core::StateShape;
use sluice_engine::AggState;

use super::ddl::{integer_value, Dialect};
use crate::table::group_key;
use crate::{Cell, ConnectorError, DeadLetterRecord, ResultRow, SqlType, TableSpec};

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    leb128(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn time(out: &mut Vec<u8>, dialect: Dialect, ms: i64) {
    match dialect {
        Dialect::Legacy => {
            let secs = ms.div_euclid(1000).clamp(0, i64::from(u32::MAX)) as u32;
            out.extend_from_slice(&secs.to_le_bytes());
        }
        Dialect::Modern => out.extend_from_slice(&ms.to_le_bytes()),
    }
}

fn bad(spec: &TableSpec, message: String) -> ConnectorError {
    ConnectorError::Config {
        connector: "clickhouse",
        message: format!("table {}: {message}", spec.name),
    }
}

fn i64_of(spec: &TableSpec, v: i128) -> Result<i64, ConnectorError> {
    i64::try_from(v).map_err(|_| {
        bad(
            spec,
            format!("integer {v} does not fit ClickHouse Int64; the row is not written"),
        )
    })
}

fn nullable_num(
    out: &mut Vec<u8>,
    spec: &TableSpec,
    integer: bool,
    cell: Option<&Cell>,
) -> Result<(), ConnectorError> {
    let v = match cell {
        None | Some(Cell::Null) => {
            out.push(1);
            return Ok(());
        }
        Some(c) => c,
    };
    out.push(0);
    match (integer, v) {
        (true, Cell::Int(i)) => out.extend_from_slice(&i.to_le_bytes()),
        (true, Cell::HugeInt(i)) => out.extend_from_slice(&i64_of(spec, *i)?.to_le_bytes()),
        (false, Cell::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (false, Cell::Int(i)) => out.extend_from_slice(&(*i as f64).to_le_bytes()),
        (false, Cell::HugeInt(i)) => out.extend_from_slice(&(*i as f64).to_le_bytes()),
        (_, other) => return Err(bad(spec, format!("unexpected value {other:?}"))),
    }
    Ok(())
}

fn dim(out: &mut Vec<u8>, dialect: Dialect, ty: SqlType, cell: &Cell) {
    if *cell == Cell::Null {
        out.push(1);
        return;
    }
    out.push(0);
    match (ty, cell) {
        (SqlType::Timestamp, Cell::Timestamp(t) | Cell::Int(t)) => time(out, dialect, *t),
        (SqlType::Boolean, Cell::Bool(b)) => out.push(u8::from(*b)),
        (SqlType::BigInt | SqlType::HugeInt, Cell::Int(i)) => {
            out.extend_from_slice(&i.to_le_bytes())
        }
        (SqlType::Double, Cell::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (_, c) => string(out, c.canonical().as_bytes()),
    }
}

/// Appends one row of `<spec>_parts`.
pub(crate) fn encode_row(
    out: &mut Vec<u8>,
    spec: &TableSpec,
    dialect: Dialect,
    r: &ResultRow,
) -> Result<(), ConnectorError> {
    time(out, dialect, r.window_start);
    time(out, dialect, r.window_end);
    out.extend_from_slice(&r.window_start.to_le_bytes());
    out.extend_from_slice(&r.window_end.to_le_bytes());
    string(out, group_key(&r.dims).as_bytes());
    for (c, cell) in spec.dims.iter().zip(&r.dims) {
        dim(out, dialect, c.ty, cell);
    }
    let missing = || {
        bad(
            spec,
            "the engine did not attach the aggregate's state (emit_state is off)".into(),
        )
    };
    match spec.kind.state_shape() {
        StateShape::Counter => {
            let n = match r.values.first() {
                Some(Cell::Int(i)) => u64::try_from(*i).unwrap_or(0),
                Some(Cell::HugeInt(i)) => u64::try_from(*i).unwrap_or(0),
                _ => 0,
            };
            out.extend_from_slice(&n.to_le_bytes());
        }
        StateShape::Number(_) => {
            nullable_num(out, spec, integer_value(spec), r.values.first())?;
        }
        StateShape::Mean => match &r.state {
            Some(AggState::Avg {
                int_sum,
                float_sum,
                n,
            }) => {
                out.extend_from_slice(&i64_of(spec, *int_sum)?.to_le_bytes());
                out.extend_from_slice(&float_sum.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
            }
            _ => return Err(missing()),
        },
        StateShape::Set => match &r.state {
            Some(AggState::Distinct(values)) => {
                leb128(out, values.len() as u64);
                for v in values {
                    string(out, v);
                }
            }
            _ => return Err(missing()),
        },
        StateShape::Registers => match &r.state {
            Some(AggState::Hll(registers)) => {
                let nonzero = registers.iter().filter(|r| **r != 0).count();
                leb128(out, nonzero as u64);
                for (i, &r) in registers.iter().enumerate() {
                    if r != 0 {
                        out.extend_from_slice(&(((i as u32) << 8) | u32::from(r)).to_le_bytes());
                    }
                }
            }
            _ => return Err(missing()),
        },
        StateShape::Sketch => match &r.state {
            Some(AggState::Sketch(buckets)) => {
                leb128(out, buckets.len() as u64);
                for (k, _) in buckets {
                    out.extend_from_slice(&k.to_le_bytes());
                }
                leb128(out, buckets.len() as u64);
                for (_, c) in buckets {
                    out.extend_from_slice(&c.to_le_bytes());
                }
            }
            _ => return Err(missing()),
        },
    }
    out.extend_from_slice(&r.revision.to_le_bytes());
    out.push(u8::from(r.provisional));
    time(out, dialect, r.emitted_at);
    string(out, r.shard.as_bytes());
    out.extend_from_slice(&r.events.to_le_bytes());
    Ok(())
}

/// Appends one row of the dead-letter table.
pub(crate) fn encode_dead_letter(
    out: &mut Vec<u8>,
    dialect: Dialect,
    d: &DeadLetterRecord,
    now_ms: i64,
) {
    string(out, d.kind.as_str().as_bytes());
    string(out, d.reason.as_bytes());
    string(out, d.source.as_bytes());
    out.extend_from_slice(&d.partition.to_le_bytes());
    out.extend_from_slice(&d.offset.to_le_bytes());
    string(out, d.event_type.as_deref().unwrap_or("").as_bytes());
    string(out, d.aggregation.as_deref().unwrap_or("").as_bytes());
    match d.event_time {
        Some(t) => {
            out.push(0);
            out.extend_from_slice(&t.to_le_bytes());
        }
        None => out.push(1),
    }
    string(out, &d.payload);
    time(out, dialect, now_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_matches_the_spec() {
        let mut v = Vec::new();
        leb128(&mut v, 0);
        leb128(&mut v, 127);
        leb128(&mut v, 128);
        leb128(&mut v, 300);
        assert_eq!(v, vec![0, 127, 0x80, 1, 0xac, 2]);
    }
}
