//! The source and sink threads: the source reads ahead into a bounded
//! channel; the sink writes each flush with the one retry policy, then
//! reports the flush's safe positions as durable.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_connectors::{Sink, Source, SourceOutput, SourceStatus};
use sluice_core::metrics as M;
use sluice_core::{retry_blocking, Classify, RetryPolicy};

use super::metrics::sink_label;
use super::{FromSource, PipelineOptions, Stats, ToSink};
use crate::RuntimeError;

pub(super) fn source_loop(
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
                // the last output may only declare partitions (assigned,
                // nothing left to read): their lanes still resume and close
                // restored windows
                let tell = !out.is_empty() || !out.partitions.is_empty();
                if tell && tx.send(FromSource::Data(out)).is_err() {
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

pub(super) fn sink_loop(
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
        if let (Some(c), false) = (&opts.checkpoints, msg.checkpoints.is_empty()) {
            // saved after the rows before them, before their positions
            // are committed
            if let Err(e) = retry_or_stop(&policy, &opts, "checkpoint save", || {
                c.save(&msg.checkpoints)
            }) {
                return Err(RuntimeError::Checkpoint(format!("save: {e}")));
            }
            for cp in &msg.checkpoints {
                metrics::counter!(M::CHECKPOINTS_TOTAL).increment(1);
                metrics::gauge!(M::CHECKPOINT_BYTES, "lane" => cp.lane.clone())
                    .set(cp.state.len() as f64);
            }
        }
        if let (Some(hook), false) = (&opts.on_durable, msg.commit.is_empty()) {
            if msg.checkpoints.is_empty() {
                if let Err(e) = hook(&msg.commit) {
                    // the next commit retries; a crash before it only means a
                    // longer replay
                    tracing::warn!(error = %e, "offset commit failed");
                }
            } else {
                // a store keeps a lane's few newest checkpoints: the one
                // the committed offsets name must not be pushed out by
                // uncommitted ones, so this commit is retried, then stops
                // the run (which resumes from the previous commit)
                retry_or_stop(&policy, &opts, "offset commit", || {
                    hook(&msg.commit).map_err(RuntimeError::Commit)
                })?;
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

/// Runs `op` under the sink's retry policy (logging each retry as `what`)
/// until it succeeds, fails for good or the run is stopping; a failure
/// stops the run.
fn retry_or_stop<T, E: std::fmt::Display + Classify>(
    policy: &RetryPolicy,
    opts: &PipelineOptions,
    what: &str,
    op: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let done = retry_blocking(
        policy,
        op,
        |e| e.retry_hint(),
        |r| {
            tracing::warn!(error = %r.error, attempt = r.attempt, "{what} failed; retrying");
            !opts.stop.load(Ordering::Relaxed)
        },
    );
    if done.is_err() {
        opts.stop.store(true, Ordering::Relaxed);
    }
    done
}
