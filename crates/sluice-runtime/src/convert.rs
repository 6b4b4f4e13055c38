//! Engine output → sink rows and dead-letter records.

use sluice_connectors::{
    Cell, DeadLetterKind, DeadLetterRecord, ResultRow, SourceOutput, SqlType, TableSpec,
};
use sluice_engine::{AggValue, DeadLetter, KeyValue, LateEvent, LateReason, WindowResult};

/// A window result as a row of its table.
pub fn row(tables: &[TableSpec], r: &WindowResult, emitted_at: i64) -> ResultRow {
    let t = &tables[r.aggregation];
    let dims = r
        .key
        .iter()
        .zip(&t.dims)
        .map(|(k, c)| match (k, c.ty) {
            (KeyValue::Null, _) => Cell::Null,
            (KeyValue::Bool(b), _) => Cell::Bool(*b),
            (KeyValue::Int(i), SqlType::Timestamp) => Cell::Timestamp(*i),
            (KeyValue::Int(i), _) => Cell::Int(*i),
            (KeyValue::Str(s), _) => Cell::Text(s.clone()),
        })
        .collect();
    let values = match &r.value {
        AggValue::Quantiles(qs) => qs.iter().map(|(_, v)| Cell::Float(*v)).collect(),
        AggValue::Null => vec![Cell::Null; t.values.len()],
        AggValue::Count(c) => vec![cell_int(i128::from(*c), t.values[0].ty)],
        AggValue::Int(i) => vec![cell_int(i128::from(*i), t.values[0].ty)],
        AggValue::BigInt(i) => vec![cell_int(*i, t.values[0].ty)],
        AggValue::Float(f) => vec![Cell::Float(*f)],
    };
    ResultRow {
        table: r.aggregation,
        window_start: r.window_start.millis(),
        window_end: r.window_end.millis(),
        dims,
        values,
        revision: r.revision,
        provisional: r.provisional,
        emitted_at,
        events: r.events,
        shard: String::new(),
        state: r.state.clone(),
    }
}

fn cell_int(v: i128, ty: SqlType) -> Cell {
    match ty {
        SqlType::HugeInt => Cell::HugeInt(v),
        SqlType::Double => Cell::Float(v as f64),
        _ => i64::try_from(v).map(Cell::Int).unwrap_or(Cell::HugeInt(v)),
    }
}

/// Source offset and event type of the engine's record index `i` of `src`.
fn origin_of(
    src: &SourceOutput,
    event_types: &[String],
    engine_offset: i64,
) -> (i64, Option<String>) {
    let i = engine_offset - src.batch.first_offset;
    let event_type = usize::try_from(i)
        .ok()
        .and_then(|i| event_types.get(src.batch.event_type_of(i) as usize))
        .cloned();
    (src.offset_of(i), event_type)
}

/// A record the engine could not decode.
pub fn dead_letter(src: &SourceOutput, event_types: &[String], d: &DeadLetter) -> DeadLetterRecord {
    let (offset, event_type) = origin_of(src, event_types, d.offset);
    DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason: d.reason.to_string(),
        source: src.origin.clone(),
        partition: d.partition,
        offset,
        event_type,
        aggregation: None,
        event_time: None,
        payload: d.bytes.clone(),
    }
}

/// A late event or outlier.
pub fn late(
    src: &SourceOutput,
    tables: &[TableSpec],
    event_types: &[String],
    l: &LateEvent,
) -> DeadLetterRecord {
    let (offset, event_type) = origin_of(src, event_types, l.offset);
    let (kind, reason) = match &l.reason {
        LateReason::BeyondAllowedLateness { watermark } => (
            DeadLetterKind::Late,
            format!(
                "event time {} is beyond allowed lateness (watermark {})",
                l.event_time.millis(),
                watermark.millis()
            ),
        ),
        LateReason::TooFarInFuture { max_seen } => (
            DeadLetterKind::FutureOutlier,
            format!(
                "event time {} is too far ahead of the largest event time seen ({})",
                l.event_time.millis(),
                max_seen.millis()
            ),
        ),
    };
    DeadLetterRecord {
        kind,
        reason,
        source: src.origin.clone(),
        partition: l.partition,
        offset,
        event_type,
        aggregation: l
            .aggregation
            .and_then(|a| tables.get(a))
            .map(|t| t.aggregation.clone()),
        event_time: Some(l.event_time.millis()),
        payload: l.bytes.clone(),
    }
}
