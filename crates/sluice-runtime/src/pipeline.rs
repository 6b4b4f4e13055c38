//! Source → engine → sink, on three threads joined by bounded channels.
//!
//! * Back-pressure: the source blocks when the engine is behind, the engine
//!   blocks when the sink is behind; memory is bounded by the channel depths
//!   and the flush threshold, never by the input size.
//! * Results are flushed to the sink every trigger interval (or sooner when
//!   many rows are pending), so a window lands within one trigger interval of
//!   the watermark passing its end.
//! * Bounded input ends with a final watermark that closes every window.
//! * A stop request (Ctrl-C, SIGTERM) stops reading; what the engine already
//!   emitted is flushed; still-open windows are not emitted (they are not
//!   complete).
//! * A sink failure is retried with back-off; if it persists the run stops
//!   with an error.
//! * Checkpoints without state snapshots: after every durable write the
//!   runtime reports, per source partition, the smallest offset any held
//!   window still depends on ([`PipelineOptions::on_durable`]). Committing
//!   it means a restart re-reads exactly what rebuilds the open windows;
//!   re-emitted rows of already closed windows carry fewer inputs than the
//!   stored ones, so stores keeping the row with the most inputs ignore them.
//! * A source may let the engine thread do its work while the engine would
//!   wait for input ([`Source::assist`]): the parallel JSON reader then
//!   parses on it, so parsers and engine never compete for cores.
//! * Sharded mode ([`PipelineOptions::sharded`]): one engine per partition
//!   number (partition `p` of every topic: Kafka keys records by entity and
//!   the range assignor co-partitions, so one entity's events meet in one
//!   shard), each row tagged with its shard, so several instances sharing
//!   partitions write disjoint partial rows a store merges.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_connectors::{
    CommitPosition, ConnectorError, DeadLetterRecord, ResultRow, Sink, Source, SourceOutput,
    SourceStatus,
};
use sluice_core::{retry_blocking, RetryPolicy};
use sluice_engine::{Engine, Output};

use crate::convert;
use crate::plan::BuiltPlan;
use crate::RuntimeError;
use sluice_core::metrics as M;
use sluice_core::time::now_ms;
use sluice_core::Classify;

/// Tuning knobs.
#[derive(Clone)]
pub struct PipelineOptions {
    /// Records per source batch.
    pub batch_size: usize,
    /// Batches in flight between source and engine.
    pub channel_depth: usize,
    /// Flush results at least this often.
    pub trigger_interval: Duration,
    /// Flush early when this many rows are pending.
    pub max_pending_rows: usize,
    /// Set to stop reading (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Attempts per sink write before giving up (at least this many, and
    /// retrying for at least `sink_retry_for`).
    pub sink_attempts: u32,
    /// Keep retrying a failing sink write (retryable errors) this long.
    pub sink_retry_for: Duration,
    /// One engine per source partition, rows tagged with their shard.
    pub sharded: bool,
    /// Called on the sink thread after each durable write with the safe
    /// commit position `(topic, partition, next offset)` of every partition
    /// read so far (commits Kafka offsets mid-stream).
    pub on_durable: Option<CommitHook>,
    /// Called with every source position read once the input ended and every
    /// result is durably written (commits Kafka offsets). Not called when the
    /// run was interrupted: windows still open are not in the sink yet.
    pub on_durable_end: Option<CommitHook>,
    /// Called on the sink thread with each batch of dead letters before the
    /// sink writes them (the Kafka dead-letter topic).
    pub dead_letter_hook: Option<DeadLetterHook>,
}

/// See [`PipelineOptions::on_durable_end`].
pub type CommitHook = Arc<dyn Fn(&[CommitPosition]) -> Result<(), String> + Send + Sync>;
/// See [`PipelineOptions::dead_letter_hook`].
pub type DeadLetterHook = Arc<Mutex<dyn FnMut(&[DeadLetterRecord]) -> Result<(), String> + Send>>;

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            channel_depth: 4,
            trigger_interval: Duration::from_secs(1),
            max_pending_rows: 50_000,
            stop: Arc::new(AtomicBool::new(false)),
            sink_attempts: 5,
            sink_retry_for: Duration::from_secs(300),
            sharded: false,
            on_durable: None,
            on_durable_end: None,
            dead_letter_hook: None,
        }
    }
}

/// Live counters, readable while the pipeline runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records read by the source (good and rejected).
    pub records_in: AtomicU64,
    /// Records the source or the decoder rejected (dead-lettered as malformed).
    pub malformed: AtomicU64,
    /// Late events beyond allowed lateness (per aggregation).
    pub late: AtomicU64,
    /// Future outliers.
    pub outliers: AtomicU64,
    /// Events refused by an aggregation at its open-group limit.
    pub over_limit: AtomicU64,
    /// Window results emitted by the engine.
    pub results: AtomicU64,
    /// Rows durably written.
    pub rows_written: AtomicU64,
    /// Dead letters durably written.
    pub dead_written: AtomicU64,
    /// Open windows.
    pub open_windows: AtomicU64,
    /// Engine state, bytes.
    pub state_bytes: AtomicU64,
    /// Smallest aggregation watermark (ms), `i64::MIN` before any.
    pub watermark_ms: AtomicI64,
    /// Latest rows per table (for the live view).
    pub latest: Mutex<Vec<Vec<ResultRow>>>,
    /// Set when the run is over.
    pub done: AtomicBool,
    /// Sink write retries.
    pub sink_retries: AtomicU64,
    /// True while the last sink write failed.
    pub sink_down: AtomicBool,
    /// Set once the source delivered its first answer.
    pub source_ready: AtomicBool,
    /// Set once the sink prepared its tables.
    pub sink_ready: AtomicBool,
    /// Batches between the source and the sink.
    pub in_flight: AtomicI64,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Records read.
    pub records_in: u64,
    /// Malformed records dead-lettered.
    pub malformed: u64,
    /// Late events dead-lettered.
    pub late: u64,
    /// Future outliers dead-lettered.
    pub outliers: u64,
    /// Events dead-lettered by an aggregation at `engine.max_open_groups`.
    pub over_limit: u64,
    /// Window results emitted.
    pub results: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Dead letters written.
    pub dead_written: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// True when stopped by a stop request before the input ended.
    pub interrupted: bool,
    /// Engine state at the end, bytes.
    pub state_bytes: u64,
}

impl RunSummary {
    /// Records per second of wall time.
    pub fn records_per_sec(&self) -> f64 {
        self.records_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The index of the lane of partition number `number` (created when
/// missing), with the dense source partition `dense` declared to its engine.
fn lane_for(
    lanes: &mut Vec<Lane>,
    plan: &sluice_engine::EnginePlan,
    number: Option<i32>,
    dense: u32,
) -> Result<usize, RuntimeError> {
    let li = match lanes.iter().position(|l| l.number == number) {
        Some(i) => i,
        None => {
            lanes.push(Lane::new(plan, number)?);
            lanes.len() - 1
        }
    };
    let lane = &mut lanes[li];
    if !lane.dense.contains(&dense) {
        lane.dense.push(dense);
        lane.engine.declare_partitions(&[dense], now_ms());
    }
    Ok(li)
}

/// A short, bounded label for a sink or source description (its first word).
fn sink_label(describe: &str) -> String {
    describe
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_string()
}

/// How often the engine's gauges (open windows, state, watermark) are read.
const GAUGE_INTERVAL: Duration = Duration::from_millis(250);

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

fn update_gauges(lanes: &[Lane], aggregations: usize, stats: &Stats) {
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
    metrics::gauge!(M::OPEN_WINDOWS).set(open as f64);
    metrics::gauge!(M::STATE_BYTES).set(bytes as f64);
    metrics::gauge!(M::BATCHES_IN_FLIGHT)
        .set(stats.in_flight.load(Ordering::Relaxed).max(0) as f64);
}

enum FromSource {
    Data(Box<SourceOutput>),
    End,
    Failed(ConnectorError),
}

struct ToSink {
    rows: Vec<ResultRow>,
    dead: Vec<DeadLetterRecord>,
    /// Safe commit positions once this message is durable.
    commit: Vec<CommitPosition>,
}

type PartitionKey = (String, i32);

/// One engine and the bookkeeping that turns its state into safe offsets.
struct Lane {
    engine: Engine,
    /// The partition number in sharded mode (`None`: the whole input).
    number: Option<i32>,
    /// `number` as the rows' shard tag, empty for the whole input.
    shard: String,
    /// Dense ids of the source partitions this lane reads (sharded mode).
    dense: Vec<u32>,
    /// Per partition: `(first offset of a batch, largest event time seen
    /// once it was processed)`, oldest first.
    marks: std::collections::BTreeMap<PartitionKey, std::collections::VecDeque<(i64, i64)>>,
    /// Per partition: the next offset after everything processed.
    next: std::collections::BTreeMap<PartitionKey, i64>,
    /// Running record number: each batch's `first_offset`, so the engine
    /// names every record by a number unique in the lane.
    seq: i64,
    /// Source outputs kept while the engine holds records from them (its
    /// late output then names records of earlier batches).
    kept: std::collections::VecDeque<SourceOutput>,
}

impl Lane {
    fn new(plan: &sluice_engine::EnginePlan, number: Option<i32>) -> Result<Self, RuntimeError> {
        Ok(Self {
            engine: Engine::new(plan.clone()).map_err(RuntimeError::Plan)?,
            number,
            shard: number.map(|n| n.to_string()).unwrap_or_default(),
            dense: Vec::new(),
            marks: Default::default(),
            next: Default::default(),
            seq: 0,
            kept: Default::default(),
        })
    }

    fn note_batch(&mut self, key: PartitionKey, first: i64, next: i64) {
        let max = self.engine.max_event_time().unwrap_or(i64::MIN);
        self.marks
            .entry(key.clone())
            .or_default()
            .push_back((first, max));
        let e = self.next.entry(key).or_insert(next);
        *e = (*e).max(next);
    }

    /// Per partition, the smallest offset a held window may still need.
    fn safe_positions(&mut self, out: &mut Vec<CommitPosition>) {
        let held_from = self.engine.retained_from().unwrap_or(i64::MAX);
        for (key, next) in &self.next {
            let marks = self.marks.entry(key.clone()).or_default();
            while marks.front().is_some_and(|&(_, max)| max < held_from) {
                marks.pop_front();
            }
            let safe = marks.front().map(|&(first, _)| first).unwrap_or(*next);
            out.push(CommitPosition {
                topic: key.0.clone(),
                partition: key.1,
                next_offset: safe,
            });
        }
    }
}

fn source_loop(
    mut source: Box<dyn Source>,
    opts: PipelineOptions,
    stats: Arc<Stats>,
    tx: SyncSender<FromSource>,
    recycle: Receiver<Box<SourceOutput>>,
) {
    loop {
        if opts.stop.load(Ordering::Relaxed) {
            return; // dropping tx tells the engine the input was cut short
        }
        let mut out = recycle.try_recv().unwrap_or_default();
        let status = source.next_batch(opts.batch_size, &mut out);
        if status.is_ok() {
            stats.source_ready.store(true, Ordering::Relaxed);
        }
        if !out.is_empty() {
            stats.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        match status {
            Ok(SourceStatus::More) => {
                if tx.send(FromSource::Data(out)).is_err() {
                    return;
                }
            }
            Ok(SourceStatus::End) => {
                if !out.is_empty() && tx.send(FromSource::Data(out)).is_err() {
                    return;
                }
                tx.send(FromSource::End).ok();
                return;
            }
            Err(e) => {
                tx.send(FromSource::Failed(e)).ok();
                return;
            }
        }
    }
}

fn sink_loop(
    mut sink: Box<dyn Sink>,
    tables: Vec<sluice_connectors::TableSpec>,
    rx: Receiver<ToSink>,
    stats: Arc<Stats>,
    opts: PipelineOptions,
) -> Result<(), RuntimeError> {
    // created here, in parallel with the first reads
    if let Err(e) = sink.prepare(&tables) {
        opts.stop.store(true, Ordering::Relaxed);
        return Err(RuntimeError::Sink(e));
    }
    stats.sink_ready.store(true, Ordering::Relaxed);
    let sink_name = sink_label(&sink.describe());
    for msg in rx {
        if let (Some(hook), false) = (&opts.dead_letter_hook, msg.dead.is_empty()) {
            let result = hook
                .lock()
                .map_err(|_| "dead-letter hook poisoned".to_string())
                .and_then(|mut h| h(&msg.dead));
            if let Err(e) = result {
                opts.stop.store(true, Ordering::Relaxed);
                return Err(RuntimeError::DeadLetter(e));
            }
        }
        let policy = RetryPolicy::new(
            Duration::from_millis(100),
            Duration::from_secs(5),
            opts.sink_attempts,
        )
        .retrying_for(opts.sink_retry_for);
        let written = retry_blocking(
            &policy,
            || {
                let t = Instant::now();
                let written = sink.write(&msg.rows, &msg.dead);
                metrics::histogram!(M::SINK_WRITE_SECONDS, "sink" => sink_name.clone())
                    .record(t.elapsed().as_secs_f64());
                if written.is_err() {
                    metrics::counter!(M::SINK_ERRORS_TOTAL, "sink" => sink_name.clone())
                        .increment(1);
                    metrics::gauge!(M::SINK_DOWN, "sink" => sink_name.clone()).set(1.0);
                }
                written
            },
            |e| e.retry_hint(),
            |r| {
                if opts.stop.load(Ordering::Relaxed) {
                    return false;
                }
                tracing::warn!(error = %r.error, attempt = r.attempt, "sink write failed; retrying");
                stats.sink_retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(M::SINK_RETRIES_TOTAL, "sink" => sink_name.clone()).increment(1);
                stats.sink_down.store(true, Ordering::Relaxed);
                true
            },
        );
        if let Err(e) = written {
            opts.stop.store(true, Ordering::Relaxed);
            return Err(RuntimeError::Sink(e));
        }
        stats.sink_down.store(false, Ordering::Relaxed);
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(M::SINK_DOWN, "sink" => sink_name.clone()).set(0.0);
        metrics::counter!(M::ROWS_OUT_TOTAL, "sink" => sink_name.clone())
            .increment(msg.rows.len() as u64);
        for d in &msg.dead {
            metrics::counter!(M::DEAD_LETTER_TOTAL, "kind" => d.kind.as_str()).increment(1);
        }
        if let (Some(hook), false) = (&opts.on_durable, msg.commit.is_empty()) {
            if let Err(e) = hook(&msg.commit) {
                // the next commit retries; a crash before it only means a
                // longer replay
                tracing::warn!(error = %e, "offset commit failed");
            }
        }
        stats
            .rows_written
            .fetch_add(msg.rows.len() as u64, Ordering::Relaxed);
        stats
            .dead_written
            .fetch_add(msg.dead.len() as u64, Ordering::Relaxed);
    }
    sink.close().map_err(RuntimeError::Sink)
}

/// Turns the engine's output into result rows and dead letters (each
/// traced to its source record), keeping the live view's latest rows and
/// the counters.
struct Collector<'a> {
    tables: &'a [sluice_connectors::TableSpec],
    event_types: &'a [String],
    stats: &'a Stats,
    batch_metrics: &'a BatchMetrics,
}

impl Collector<'_> {
    fn collect(
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

/// Runs a pipeline to the end of its input (or a stop request).
pub fn run(
    built: BuiltPlan,
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    opts: PipelineOptions,
    stats: Arc<Stats>,
) -> Result<RunSummary, RuntimeError> {
    let started = Instant::now();
    let tables = built.tables.clone();
    let event_types: Vec<String> = built
        .plan
        .layouts
        .iter()
        .map(|l| l.event_type.clone())
        .collect();
    let mut plan = built.plan;
    plan.options.emit_state = plan.options.emit_state || opts.sharded;
    let mut lanes: Vec<Lane> = Vec::new();
    if !opts.sharded {
        lanes.push(Lane::new(&plan, None)?);
    }
    if let Ok(mut l) = stats.latest.lock() {
        *l = vec![Vec::new(); tables.len()];
    }
    stats.watermark_ms.store(i64::MIN, Ordering::Relaxed);

    let (src_tx, src_rx) = sync_channel::<FromSource>(opts.channel_depth);
    let (recycle_tx, recycle_rx) = sync_channel::<Box<SourceOutput>>(opts.channel_depth + 2);
    let (sink_tx, sink_rx) = sync_channel::<ToSink>(2);
    let source_name = source.describe();
    let assist = source.assist();
    let source_thread = {
        let opts = opts.clone();
        let stats = stats.clone();
        std::thread::Builder::new()
            .name("sluice-source".into())
            .spawn(move || source_loop(source, opts, stats, src_tx, recycle_rx))
            .map_err(RuntimeError::Thread)?
    };
    let sink_thread = {
        let stats = stats.clone();
        let tables_for_sink = tables.clone();
        let opts = opts.clone();
        std::thread::Builder::new()
            .name("sluice-sink".into())
            .spawn(move || sink_loop(sink, tables_for_sink, sink_rx, stats, opts))
            .map_err(RuntimeError::Thread)?
    };

    let mut out = Output::new();
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut dead: Vec<DeadLetterRecord> = Vec::new();
    let mut last_flush = Instant::now();
    let mut interrupted = false;
    let mut last_gauges = Instant::now();
    let mut declared: Vec<u32> = Vec::new();
    let mut failure: Option<RuntimeError> = None;
    let tick = opts.trigger_interval.min(Duration::from_millis(200));
    let batch_metrics = BatchMetrics::new(&sink_label(&source_name), &event_types, &tables);

    let collector = Collector {
        tables: &tables,
        event_types: &event_types,
        stats: &stats,
        batch_metrics: &batch_metrics,
    };
    let collect = |out: &mut Output,
                   src: Option<&SourceOutput>,
                   lane: &Lane,
                   rows: &mut Vec<ResultRow>,
                   dead: &mut Vec<DeadLetterRecord>| {
        collector.collect(out, src, lane, rows, dead)
    };

    loop {
        let msg = loop {
            match src_rx.try_recv() {
                Ok(m) => break Ok(m),
                Err(TryRecvError::Disconnected) => break Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            // nothing to process: do the source's work rather than wait
            if assist.as_ref().is_some_and(|a| a.assist()) {
                continue;
            }
            break src_rx.recv_timeout(tick);
        };
        match msg {
            Ok(FromSource::Data(mut o)) => {
                if !o.partitions.is_empty() && o.partitions != declared {
                    if opts.sharded {
                        // revoked partitions: their next owner rebuilds the
                        // open windows from the committed offsets
                        lanes.retain(|l| l.dense.iter().all(|d| o.partitions.contains(d)));
                        for (&d, &p) in o.partitions.iter().zip(&o.partition_numbers) {
                            // every topic of the shard holds its watermark
                            // back until it delivers or idles
                            lane_for(&mut lanes, &plan, Some(p), d)?;
                        }
                    } else {
                        lanes[0].engine.declare_partitions(&o.partitions, now_ms());
                    }
                    declared.clone_from(&o.partitions);
                }
                let position = o.position.clone();
                let li = if opts.sharded {
                    let number = position.as_ref().map(|c| c.partition);
                    lane_for(&mut lanes, &plan, number, o.batch.partition)?
                } else {
                    0
                };
                stats
                    .records_in
                    .fetch_add(o.len() as u64, Ordering::Relaxed);
                stats
                    .malformed
                    .fetch_add(o.rejects.len() as u64, Ordering::Relaxed);
                stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                batch_metrics.batch(&o.batch, o.rejects.len());
                dead.append(&mut o.rejects);
                let lane = &mut lanes[li];
                o.batch.first_offset = lane.seq;
                lane.seq = lane.seq.saturating_add(o.batch.len() as i64);
                lane.engine.process(&o.batch, &mut out);
                if let Some(c) = position {
                    let first = o.offsets.first().copied().unwrap_or(c.next_offset);
                    lane.note_batch((c.topic, c.partition), first, c.next_offset);
                }
                collect(&mut out, Some(&o), lane, &mut rows, &mut dead);
                if lane.engine.holding() {
                    lane.kept.push_back((*o).clone());
                } else {
                    lane.kept.clear();
                }
                recycle_tx.try_send(o).ok();
            }
            Ok(FromSource::End) => {
                for lane in &mut lanes {
                    lane.engine.finish(&mut out);
                    collect(&mut out, None, lane, &mut rows, &mut dead);
                    lane.kept.clear();
                }
                break;
            }
            Ok(FromSource::Failed(e)) => {
                failure = Some(RuntimeError::Source(e));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                interrupted = true;
                break;
            }
        }
        let now = now_ms();
        for lane in &mut lanes {
            lane.engine.advance_processing_time(now, &mut out);
            collect(&mut out, None, lane, &mut rows, &mut dead);
            if !lane.engine.holding() {
                lane.kept.clear();
            }
        }
        // gauges walk every open window: refresh them for the live view a few
        // times a second, not once per batch
        if last_gauges.elapsed() >= GAUGE_INTERVAL {
            last_gauges = Instant::now();
            update_gauges(&lanes, tables.len(), &stats);
        }
        let due = last_flush.elapsed() >= opts.trigger_interval;
        if (due || rows.len() + dead.len() >= opts.max_pending_rows)
            && (!rows.is_empty() || !dead.is_empty() || opts.on_durable.is_some())
        {
            let mut commit = Vec::new();
            if opts.on_durable.is_some() {
                for lane in &mut lanes {
                    lane.safe_positions(&mut commit);
                }
            }
            stats.in_flight.fetch_add(1, Ordering::Relaxed);
            if sink_tx
                .send(ToSink {
                    rows: std::mem::take(&mut rows),
                    dead: std::mem::take(&mut dead),
                    commit,
                })
                .is_err()
            {
                break; // the sink failed; its error is reported below
            }
            last_flush = Instant::now();
        }
    }
    let mut positions: Vec<CommitPosition> = Vec::new();
    for lane in &lanes {
        positions.extend(lane.next.iter().map(|((t, p), o)| CommitPosition {
            topic: t.clone(),
            partition: *p,
            next_offset: *o,
        }));
    }
    if failure.is_none() && (!rows.is_empty() || !dead.is_empty()) {
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        sink_tx
            .send(ToSink {
                rows,
                dead,
                commit: Vec::new(),
            })
            .ok();
    }
    drop(sink_tx);
    drop(src_rx);
    let sink_result = sink_thread
        .join()
        .map_err(|_| RuntimeError::Panic("sink"))?;
    if source_thread.join().is_err() {
        tracing::error!("the source thread panicked");
    }
    stats.done.store(true, Ordering::Relaxed);
    if let Some(f) = failure {
        return Err(f);
    }
    sink_result?;
    let interrupted = interrupted || opts.stop.load(Ordering::Relaxed);
    if let (Some(commit), false) = (&opts.on_durable_end, interrupted) {
        commit(&positions).map_err(RuntimeError::Commit)?;
    }
    update_gauges(&lanes, tables.len(), &stats);
    Ok(RunSummary {
        records_in: stats.records_in.load(Ordering::Relaxed),
        malformed: stats.malformed.load(Ordering::Relaxed),
        late: stats.late.load(Ordering::Relaxed),
        outliers: stats.outliers.load(Ordering::Relaxed),
        over_limit: stats.over_limit.load(Ordering::Relaxed),
        results: stats.results.load(Ordering::Relaxed),
        rows_written: stats.rows_written.load(Ordering::Relaxed),
        dead_written: stats.dead_written.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        interrupted,
        state_bytes: stats.state_bytes.load(Ordering::Relaxed),
    })
}

impl std::fmt::Debug for PipelineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineOptions")
            .field("batch_size", &self.batch_size)
            .field("channel_depth", &self.channel_depth)
            .field("trigger_interval", &self.trigger_interval)
            .field("max_pending_rows", &self.max_pending_rows)
            .finish_non_exhaustive()
    }
}
