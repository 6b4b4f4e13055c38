//! The Pipeline page's data: a snapshot of the run in this process (its
//! live counters), or, without one, what the store's progress table says
//! about the last run that wrote it.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::ConsoleState;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The live snapshot, `None` when no run was started by this process.
pub fn live(state: &ConsoleState) -> Option<Value> {
    let run = state
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()?;
    let started = (*state.started.lock().unwrap_or_else(|p| p.into_inner()))?;
    let s = &run.stats;
    let wm = s.watermark_ms.load(Ordering::Relaxed);
    // at the end of a bounded input every window is closed: the watermark
    // stands at the end of time
    let at_end = wm >= i64::MAX / 2;
    let wm = (wm != i64::MIN && !at_end).then_some(wm);
    let now = now_ms();
    let tables: Vec<Value> = run
        .tables
        .iter()
        .map(|t| json!({"name": t.name, "aggregation": t.aggregation, "kind": t.kind.to_string()}))
        .collect();
    Some(json!({
        "running": !s.done.load(Ordering::Relaxed),
        "source": run.source,
        "sink": run.sink,
        "limit": run.limit,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "now_ms": now,
        "records_in": s.records_in.load(Ordering::Relaxed),
        "malformed": s.malformed.load(Ordering::Relaxed),
        "late": s.late.load(Ordering::Relaxed),
        "outliers": s.outliers.load(Ordering::Relaxed),
        "over_limit": s.over_limit.load(Ordering::Relaxed),
        "results": s.results.load(Ordering::Relaxed),
        "rows_written": s.rows_written.load(Ordering::Relaxed),
        "dead_written": s.dead_written.load(Ordering::Relaxed),
        "open_windows": s.open_windows.load(Ordering::Relaxed),
        "state_bytes": s.state_bytes.load(Ordering::Relaxed),
        "watermark_ms": wm,
        "watermark_at_end": at_end,
        "watermark_lag_ms": wm.map(|w| now - w),
        "sink_down": s.sink_down.load(Ordering::Relaxed),
        "sink_retries": s.sink_retries.load(Ordering::Relaxed),
        "in_flight": s.in_flight.load(Ordering::Relaxed),
        "source_ready": s.source_ready.load(Ordering::Relaxed),
        "sink_ready": s.sink_ready.load(Ordering::Relaxed),
        "tables": tables,
        "partitions": sluice_kafka::factory::latest_lag()
            .into_iter()
            .map(|l| json!({
                "topic": l.topic,
                "partition": l.partition,
                "position": l.position,
                "high_watermark": l.high_watermark,
                "lag": l.lag.max(0),
            }))
            .collect::<Vec<_>>(),
    }))
}

/// What the Pipeline page shows: the live run, else the store's progress
/// table (DuckDB keeps one), else why there is nothing.
pub fn snapshot(state: &ConsoleState) -> Value {
    if let Some(v) = live(state) {
        return json!({"mode": "live", "run": v});
    }
    match state.query(
        "SELECT table_name, flushes, rows, updated_at FROM _sluice_progress ORDER BY table_name",
    ) {
        Ok(r) => json!({
            "mode": "store",
            "progress": crate::dead_letters::rows(&r),
        }),
        Err(e) => json!({
            "mode": "none",
            "reason": e,
        }),
    }
}
