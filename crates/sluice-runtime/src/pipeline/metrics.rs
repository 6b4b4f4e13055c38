//! The pipeline's metrics: per-batch counters registered once, and the
//! engine's gauges (open windows, state, watermark) read a few times a second.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sluice_core::metrics as M;
use sluice_core::time::now_ms;

use super::lane::Lane;
use super::Stats;

/// A short, bounded label for a sink or source description (its first word).
pub(super) fn sink_label(describe: &str) -> String {
    describe
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_string()
}

/// How often the engine's gauges (open windows, state, watermark) are read.
pub(super) const GAUGE_INTERVAL: Duration = Duration::from_millis(250);

/// The per-batch counters of a run, registered once (handles bound to the
/// recorder installed at creation): recording a batch is a few atomic adds,
/// no label hashing. What the pipeline records per batch; the metrics
/// benchmark measures exactly this.
#[derive(Debug)]
pub struct BatchMetrics {
    events: Vec<metrics::Counter>,
    unknown: metrics::Counter,
    decode_errors: metrics::Counter,
    results: Vec<metrics::Counter>,
    per_type: std::cell::RefCell<Vec<u64>>,
    per_agg: std::cell::RefCell<Vec<u64>>,
}

impl BatchMetrics {
    /// Counters for `source` reading `event_types` into `tables`.
    pub fn new(
        source: &str,
        event_types: &[String],
        tables: &[sluice_connectors::TableSpec],
    ) -> Self {
        let src = source.to_string();
        Self {
            events: event_types
                .iter()
                .map(|et| {
                    metrics::counter!(M::EVENTS_IN_TOTAL, "source" => src.clone(), "event_type" => et.clone())
                })
                .collect(),
            unknown: metrics::counter!(M::EVENTS_IN_TOTAL, "source" => src.clone(), "event_type" => "unknown"),
            decode_errors: metrics::counter!(M::DECODE_ERRORS_TOTAL, "source" => src),
            results: tables
                .iter()
                .map(|t| metrics::counter!(M::RESULTS_TOTAL, "aggregation" => t.aggregation.clone()))
                .collect(),
            per_type: std::cell::RefCell::new(vec![0; event_types.len()]),
            per_agg: std::cell::RefCell::new(vec![0; tables.len()]),
        }
    }

    /// Counts a batch's records per event type (and its `rejects`).
    pub fn batch(&self, batch: &sluice_core::batch::RawBatch, rejects: usize) {
        if batch.event_types.is_empty() {
            if let Some(c) = self.events.get(batch.event_type as usize) {
                c.increment(batch.len() as u64);
            }
        } else {
            let mut per_type = self.per_type.borrow_mut();
            for &et in &batch.event_types {
                if let Some(c) = per_type.get_mut(et as usize) {
                    *c += 1;
                }
            }
            for (c, n) in self.events.iter().zip(per_type.iter_mut()) {
                if *n > 0 {
                    c.increment(*n);
                    *n = 0;
                }
            }
        }
        if rejects > 0 {
            self.unknown.increment(rejects as u64);
            self.decode_errors.increment(rejects as u64);
        }
    }

    /// Records that the engine could not decode.
    pub fn decode_errors(&self, n: usize) {
        if n > 0 {
            self.decode_errors.increment(n as u64);
        }
    }

    /// Counts window results per aggregation.
    pub fn results(&self, results: &[sluice_engine::WindowResult]) {
        if results.is_empty() {
            return;
        }
        let mut per_agg = self.per_agg.borrow_mut();
        for r in results {
            if let Some(n) = per_agg.get_mut(r.aggregation) {
                *n += 1;
            }
        }
        for (c, n) in self.results.iter().zip(per_agg.iter_mut()) {
            if *n > 0 {
                c.increment(*n);
                *n = 0;
            }
        }
    }
}

pub(super) fn update_gauges(lanes: &[Lane], aggregations: usize, stats: &Stats) {
    let (mut open, mut bytes) = (0, 0);
    for lane in lanes {
        let m = lane.engine.metrics();
        open += m.open_windows;
        bytes += m.state_bytes;
    }
    stats.open_windows.store(open, Ordering::Relaxed);
    stats.state_bytes.store(bytes, Ordering::Relaxed);
    let wm = lanes
        .iter()
        .flat_map(|l| (0..aggregations).filter_map(|a| l.engine.watermark(a)))
        .map(|w| w.millis())
        .min();
    if let Some(wm) = wm {
        stats.watermark_ms.store(wm, Ordering::Relaxed);
        if wm > i64::MIN && wm < i64::MAX {
            metrics::gauge!(M::WATERMARK_LAG_SECONDS).set((now_ms() - wm) as f64 / 1000.0);
        }
    }
    let mut parts = Vec::new();
    for lane in lanes {
        for p in lane.engine.partitions() {
            parts.push(super::PartitionWatermark {
                label: lane
                    .names
                    .get(&p.id)
                    .cloned()
                    .unwrap_or_else(|| format!("partition {}", p.id)),
                max_ms: p.max,
                role: p.role,
            });
        }
    }
    if let Ok(mut shown) = stats.partitions.lock() {
        *shown = parts;
    }
    metrics::gauge!(M::OPEN_WINDOWS).set(open as f64);
    metrics::gauge!(M::STATE_BYTES).set(bytes as f64);
    metrics::gauge!(M::BATCHES_IN_FLIGHT)
        .set(stats.in_flight.load(Ordering::Relaxed).max(0) as f64);
}
