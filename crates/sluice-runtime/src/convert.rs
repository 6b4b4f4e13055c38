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

/// Where an engine record came from: the source output it arrived in
/// (the current one or one kept while the engine held records) and its
/// index there. Engine offsets are the pipeline's running record numbers
/// (each batch's `first_offset`).
pub fn locate<'a>(
    current: Option<&'a SourceOutput>,
    kept: &'a std::collections::VecDeque<SourceOutput>,
    engine_offset: i64,
) -> Option<(&'a SourceOutput, usize)> {
    let within = |s: &SourceOutput| {
        let i = engine_offset - s.batch.first_offset;
        usize::try_from(i).ok().filter(|&i| i < s.batch.len())
    };
    current
        .into_iter()
        .chain(kept.iter().rev())
        .find_map(|s| within(s).map(|i| (s, i)))
}

/// What a dead letter says about where its record came from.
struct Origin {
    source: String,
    partition: u32,
    offset: i64,
    event_type: Option<String>,
    payload: Vec<u8>,
    key: Option<Vec<u8>>,
    timestamp: Option<i64>,
}

fn origin(
    src: Option<(&SourceOutput, usize)>,
    event_types: &[String],
    partition: u32,
    engine_offset: i64,
    bytes: &[u8],
) -> Origin {
    let Some((src, i)) = src else {
        // cannot happen (the pipeline keeps every batch the engine may
        // name); never drop the record for it
        return Origin {
            source: "unknown".into(),
            partition,
            offset: engine_offset,
            event_type: None,
            payload: bytes.to_vec(),
            key: None,
            timestamp: None,
        };
    };
    let event_type = event_types
        .get(src.batch.event_type_of(i) as usize)
        .cloned();
    let envelope = src.envelopes.get(i, bytes);
    Origin {
        source: src.origin.clone(),
        // the source's own partition number (Kafka), not the engine's id
        partition: src
            .position
            .as_ref()
            .and_then(|p| u32::try_from(p.partition).ok())
            .unwrap_or(partition),
        offset: src.offset_of(i as i64),
        event_type,
        payload: envelope
            .as_ref()
            .map_or_else(|| bytes.to_vec(), |e| e.value.clone()),
        key: envelope.as_ref().and_then(|e| e.key.clone()),
        timestamp: envelope.and_then(|e| e.timestamp),
    }
}

/// A record the engine could not decode.
pub fn dead_letter(
    src: Option<(&SourceOutput, usize)>,
    event_types: &[String],
    d: &DeadLetter,
) -> DeadLetterRecord {
    let o = origin(src, event_types, d.partition, d.offset, &d.bytes);
    DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason: d.reason.to_string(),
        source: o.source,
        partition: o.partition,
        offset: o.offset,
        event_type: o.event_type,
        aggregation: None,
        event_time: None,
        payload: o.payload,
        key: o.key,
        timestamp: o.timestamp,
    }
}

/// A late event or outlier.
pub fn late(
    src: Option<(&SourceOutput, usize)>,
    tables: &[TableSpec],
    event_types: &[String],
    l: &LateEvent,
) -> DeadLetterRecord {
    let o = origin(src, event_types, l.partition, l.offset, &l.bytes);
    let (kind, reason) = match &l.reason {
        LateReason::BeyondAllowedLateness { watermark } => (
            DeadLetterKind::Late,
            format!(
                "event time {} is beyond allowed lateness (watermark {})",
                l.event_time.millis(),
                watermark.millis()
            ),
        ),
        LateReason::StateLimit { limit } => (
            DeadLetterKind::StateLimit,
            format!(
                "the aggregation holds {limit} open groups (`engine.max_open_groups`); this event would open another"
            ),
        ),
        LateReason::TooFarInFuture { max_seen } => (
            DeadLetterKind::FutureOutlier,
            format!(
                "event time {} is too far ahead of the other events' times ({})",
                l.event_time.millis(),
                max_seen.millis()
            ),
        ),
    };
    DeadLetterRecord {
        kind,
        reason,
        source: o.source,
        partition: o.partition,
        offset: o.offset,
        event_type: o.event_type,
        aggregation: l
            .aggregation
            .and_then(|a| tables.get(a))
            .map(|t| t.aggregation.clone()),
        event_time: Some(l.event_time.millis()),
        payload: o.payload,
        key: o.key,
        timestamp: o.timestamp,
    }
}
