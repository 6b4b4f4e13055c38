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
//! * Checkpoints ([`PipelineOptions::checkpoints`], `checkpoint.rs`): every
//!   interval each lane's engine state is saved with the positions it
//!   covers, after the rows before it are durable, and exactly those
//!   positions are committed; a lane resumes from the checkpoint matching
//!   the committed offsets. Before a lane's first checkpoint (or without
//!   checkpoints) the runtime reports after every durable write, per source
//!   partition, the smallest offset any held window still depends on
//!   ([`PipelineOptions::on_durable`]): a restart then re-reads exactly what
//!   rebuilds the open windows; re-emitted rows of already closed windows
//!   carry fewer inputs than the stored ones, so stores keeping the row with
//!   the most inputs ignore them.
//! * A source may let the engine thread do its work while the engine would
//!   wait for input ([`Source::assist`]): the parallel JSON reader then
//!   parses on it, so parsers and engine never compete for cores.
//! * Sharded mode ([`PipelineOptions::sharded`]): one engine per partition
//!   number (partition `p` of every topic: Kafka keys records by entity and
//!   the range assignor co-partitions, so one entity's events meet in one
//!   shard), each row tagged with its shard, so several instances sharing
//!   partitions write disjoint partial rows a store merges.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_connectors::{
    CommitPosition, ConnectorError, DeadLetterRecord, ResultRow, Sink, Source, SourceOutput,
};

use crate::plan::BuiltPlan;
use crate::RuntimeError;

mod checkpoint;
mod collect;
mod engine_loop;
mod lane;
mod metrics;
mod threads;

pub use checkpoint::Checkpointing;
use collect::Collector;
use engine_loop::EngineLoop;
pub use metrics::BatchMetrics;
use metrics::{sink_label, update_gauges};

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
    /// Checkpoints of open windows (with `on_durable`): commits move every
    /// interval whatever the longest window.
    pub checkpoints: Option<Checkpointing>,
}

pub use sluice_connectors::{CommitHook, DeadLetterHook};

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
            checkpoints: None,
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
    /// Each source partition's event-time progress (refreshed with the
    /// gauges).
    pub partitions: Mutex<Vec<PartitionWatermark>>,
}

/// One source partition's event-time progress in a live run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionWatermark {
    /// `topic:partition` for Kafka, else `partition N`.
    pub label: String,
    /// The largest event time it delivered (epoch ms).
    pub max_ms: Option<i64>,
    /// Its part in the watermark.
    pub role: sluice_engine::watermark::PartitionRole,
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

enum FromSource {
    Data(Box<SourceOutput>),
    End,
    Failed(ConnectorError),
}

struct ToSink {
    rows: Vec<ResultRow>,
    dead: Vec<DeadLetterRecord>,
    /// Checkpoints to save once the rows and dead letters are durable.
    checkpoints: Vec<sluice_connectors::Checkpoint>,
    /// Safe commit positions once this message (and its checkpoints) is
    /// durable.
    commit: Vec<CommitPosition>,
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
    if let Ok(mut l) = stats.latest.lock() {
        *l = vec![Vec::new(); tables.len()];
    }
    stats.watermark_ms.store(i64::MIN, Ordering::Relaxed);

    let (src_tx, src_rx) = sync_channel::<FromSource>(opts.channel_depth);
    let (recycle_tx, recycle_rx) = sync_channel::<Box<SourceOutput>>(opts.channel_depth + 2);
    let (sink_tx, sink_rx) = sync_channel::<ToSink>(2);
    let source_name = source.describe();
    let assist = source.assist();
    let batch_metrics = BatchMetrics::new(&sink_label(&source_name), &event_types, &tables);
    let collector = Collector {
        tables: &tables,
        event_types: &event_types,
        stats: &stats,
        batch_metrics: &batch_metrics,
    };
    let mut engine = EngineLoop::new(plan, &opts, &stats, collector)?;
    let source_thread = {
        let opts = opts.clone();
        let stats = stats.clone();
        std::thread::Builder::new()
            .name("sluice-source".into())
            .spawn(move || threads::source_loop(source, opts, stats, src_tx, recycle_rx))
            .map_err(RuntimeError::Thread)?
    };
    let sink_thread = {
        let stats = stats.clone();
        let tables_for_sink = tables.clone();
        let opts = opts.clone();
        std::thread::Builder::new()
            .name("sluice-sink".into())
            .spawn(move || threads::sink_loop(sink, tables_for_sink, sink_rx, stats, opts))
            .map_err(RuntimeError::Thread)?
    };

    let mut interrupted = false;
    let mut failure: Option<RuntimeError> = None;
    let tick = opts.trigger_interval.min(Duration::from_millis(200));
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
            Ok(FromSource::Data(o)) => engine.on_data(o, &recycle_tx)?,
            Ok(FromSource::End) => {
                if let Err(e) = engine.on_end() {
                    failure = Some(e);
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
        engine.tick(tables.len());
        if !engine.flush_if_due(&sink_tx) {
            break; // the sink failed; its error is reported below
        }
    }
    let positions = engine.positions();
    if failure.is_none() {
        engine.flush_rest(&sink_tx);
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
    update_gauges(&engine.lanes, tables.len(), &stats);
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
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}
