//! Turning the engine's output into result rows and dead letters.

use std::sync::atomic::Ordering;

use sluice_connectors::{DeadLetterRecord, ResultRow, SourceOutput};
use sluice_core::metrics as M;
use sluice_core::time::now_ms;
use sluice_engine::Output;

use super::lane::Lane;
use super::metrics::BatchMetrics;
use super::Stats;
use crate::convert;

/// Turns the engine's output into result rows and dead letters (each
/// traced to its source record), keeping the live view's latest rows and
/// the counters.
pub(super) struct Collector<'a> {
    pub(super) tables: &'a [sluice_connectors::TableSpec],
    pub(super) event_types: &'a [String],
    pub(super) stats: &'a Stats,
    pub(super) batch_metrics: &'a BatchMetrics,
}

impl Collector<'_> {
    pub(super) fn collect(
        &self,
        out: &mut Output,
        src: Option<&SourceOutput>,
        lane: &Lane,
        rows: &mut Vec<ResultRow>,
        dead: &mut Vec<DeadLetterRecord>,
    ) {
        let shard = lane.shard.as_str();
        let now = now_ms();
        self.stats
            .results
            .fetch_add(out.results.len() as u64, Ordering::Relaxed);
        let first_new = rows.len();
        rows.extend(out.results.iter().map(|r| {
            let mut row = convert::row(self.tables, r, now);
            row.shard.push_str(shard);
            row
        }));
        if rows.len() > first_new {
            if let Ok(mut latest) = self.stats.latest.lock() {
                for row in &rows[first_new..] {
                    if let Some(l) = latest.get_mut(row.table) {
                        let mut shown = row.clone();
                        shown.state = None;
                        l.push(shown);
                        if l.len() > 8 {
                            l.remove(0);
                        }
                    }
                }
            }
        }
        self.batch_metrics.results(&out.results);
        // late output may come without a batch (records held on probation
        // are judged on a tick or at the end): never drop it
        {
            let at = |offset| convert::locate(src, &lane.kept, offset);
            self.batch_metrics.decode_errors(out.dead_letters.len());
            for d in &out.dead_letters {
                dead.push(convert::dead_letter(at(d.offset), self.event_types, d));
            }
            for l in &out.late {
                let rec = convert::late(at(l.offset), self.tables, self.event_types, l);
                if let sluice_engine::LateReason::StateLimit { .. } = l.reason {
                    self.stats.over_limit.fetch_add(1, Ordering::Relaxed);
                } else if let Some(a) = l.aggregation {
                    self.stats.late.fetch_add(1, Ordering::Relaxed);
                    if let Some(t) = self.tables.get(a) {
                        metrics::counter!(M::LATE_EVENTS_TOTAL, "aggregation" => t.aggregation.clone())
                        .increment(1);
                    }
                } else {
                    self.stats.outliers.fetch_add(1, Ordering::Relaxed);
                }
                dead.push(rec);
            }
            self.stats
                .malformed
                .fetch_add(out.dead_letters.len() as u64, Ordering::Relaxed);
        }
        out.clear();
    }
}
