//! The engine thread's state between two messages: the lanes, the rows and
//! dead letters waiting for the next flush, and the clocks that decide when
//! gauges are read and a flush is due. `run` drives it message by message.

use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use sluice_connectors::{CommitPosition, DeadLetterRecord, ResultRow, SourceOutput};
use sluice_core::time::now_ms;
use sluice_engine::{EnginePlan, Output};

use super::collect::Collector;
use super::lane::{lane_for, Lane};
use super::metrics::{update_gauges, GAUGE_INTERVAL};
use super::{PipelineOptions, Stats, ToSink};
use crate::RuntimeError;

pub(super) struct EngineLoop<'a> {
    plan: EnginePlan,
    opts: &'a PipelineOptions,
    stats: &'a Stats,
    collector: Collector<'a>,
    pub(super) lanes: Vec<Lane>,
    out: Output,
    rows: Vec<ResultRow>,
    dead: Vec<DeadLetterRecord>,
    /// The source partitions last declared (a change is a rebalance).
    declared: Vec<u32>,
    last_flush: Instant,
    last_gauges: Instant,
    last_checkpoint: Instant,
}

impl<'a> EngineLoop<'a> {
    pub(super) fn new(
        plan: EnginePlan,
        opts: &'a PipelineOptions,
        stats: &'a Stats,
        collector: Collector<'a>,
    ) -> Result<Self, RuntimeError> {
        let mut lanes = Vec::new();
        if !opts.sharded {
            lanes.push(Lane::new(&plan, None)?);
        }
        Ok(Self {
            plan,
            opts,
            stats,
            collector,
            lanes,
            out: Output::new(),
            rows: Vec::new(),
            dead: Vec::new(),
            declared: Vec::new(),
            last_flush: Instant::now(),
            last_gauges: Instant::now(),
            last_checkpoint: Instant::now(),
        })
    }

    /// Processes one batch from the source, then hands the buffer back for
    /// reuse.
    pub(super) fn on_data(
        &mut self,
        mut o: Box<SourceOutput>,
        recycle: &SyncSender<Box<SourceOutput>>,
    ) -> Result<(), RuntimeError> {
        if !o.partitions.is_empty() && o.partitions != self.declared {
            if self.opts.sharded {
                // revoked partitions: their next owner rebuilds the open
                // windows from the committed offsets
                self.lanes
                    .retain(|l| l.dense.iter().all(|d| o.partitions.contains(d)));
                for (&d, &p) in o.partitions.iter().zip(&o.partition_numbers) {
                    // every topic of the shard holds its watermark back
                    // until it delivers or idles
                    lane_for(&mut self.lanes, &self.plan, Some(p), d)?;
                }
            } else if let Some(lane) = self.lanes.first_mut() {
                lane.engine.declare_partitions(&o.partitions, now_ms());
            }
            self.declared.clone_from(&o.partitions);
            // lanes resume when their partitions are assigned, not when
            // they next deliver: one that never does still holds windows
            self.resume_lanes()?;
        }
        let position = o.position.clone();
        let li = if self.opts.sharded {
            match position.as_ref() {
                Some(c) => lane_for(
                    &mut self.lanes,
                    &self.plan,
                    Some(c.partition),
                    o.batch.partition,
                )?,
                // a declaration without records: no lane to feed
                None if o.is_empty() => usize::MAX,
                None => lane_for(&mut self.lanes, &self.plan, None, o.batch.partition)?,
            }
        } else {
            0
        };
        let stats = self.stats;
        stats
            .records_in
            .fetch_add(o.len() as u64, Ordering::Relaxed);
        stats
            .malformed
            .fetch_add(o.rejects.len() as u64, Ordering::Relaxed);
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.collector
            .batch_metrics
            .batch(&o.batch, o.rejects.len());
        self.dead.append(&mut o.rejects);
        let Some(lane) = self.lanes.get_mut(li) else {
            return Ok(());
        };
        if let (Some(c), false) = (&self.opts.checkpoints, lane.resumed) {
            c.resume(lane)?;
        }
        if let Some(c) = &position {
            lane.name_partition(o.batch.partition, &c.topic, c.partition);
        }
        o.batch.first_offset = lane.seq;
        lane.seq = lane.seq.saturating_add(o.batch.len() as i64);
        lane.engine.process(&o.batch, &mut self.out);
        if let Some(c) = position {
            let first = o.offsets.first().copied().unwrap_or(c.next_offset);
            lane.note_batch((c.topic, c.partition), first, c.next_offset);
        }
        self.collector.collect(
            &mut self.out,
            Some(&o),
            lane,
            &mut self.rows,
            &mut self.dead,
        );
        if lane.engine.holding() {
            lane.kept.push_back((*o).clone());
        } else {
            lane.kept.clear();
        }
        recycle.try_send(o).ok();
        Ok(())
    }

    /// Restores every lane not yet resumed from its checkpoint (when the
    /// run checkpoints).
    fn resume_lanes(&mut self) -> Result<(), RuntimeError> {
        let Some(c) = &self.opts.checkpoints else {
            return Ok(());
        };
        for lane in self.lanes.iter_mut().filter(|l| !l.resumed) {
            c.resume(lane)?;
        }
        Ok(())
    }

    /// The input ended: every lane closes its windows.
    pub(super) fn on_end(&mut self) -> Result<(), RuntimeError> {
        // a lane assigned but never delivered to still closes its
        // restored windows
        self.resume_lanes()?;
        for lane in &mut self.lanes {
            lane.engine.finish(&mut self.out);
            self.collector
                .collect(&mut self.out, None, lane, &mut self.rows, &mut self.dead);
            lane.kept.clear();
        }
        Ok(())
    }

    /// After every message (or a quiet tick): processing time moves every
    /// lane, and the gauges are refreshed a few times a second (they walk
    /// every open window, so not once per batch).
    pub(super) fn tick(&mut self, tables: usize) {
        let now = now_ms();
        for lane in &mut self.lanes {
            lane.engine.advance_processing_time(now, &mut self.out);
            self.collector
                .collect(&mut self.out, None, lane, &mut self.rows, &mut self.dead);
            if !lane.engine.holding() {
                lane.kept.clear();
            }
        }
        if self.last_gauges.elapsed() >= GAUGE_INTERVAL {
            self.last_gauges = Instant::now();
            update_gauges(&self.lanes, tables, self.stats);
        }
    }

    /// Sends the pending rows and dead letters (with the safe commit
    /// positions when the run commits) once the trigger interval has passed
    /// or enough rows wait. `false`: the sink is gone (its error is
    /// reported by its thread).
    pub(super) fn flush_if_due(&mut self, sink: &SyncSender<ToSink>) -> bool {
        let opts = self.opts;
        let due = self.last_flush.elapsed() >= opts.trigger_interval;
        let pending = self.rows.len() + self.dead.len();
        if !(due || pending >= opts.max_pending_rows) || (pending == 0 && opts.on_durable.is_none())
        {
            return true;
        }
        let mut commit = Vec::new();
        let mut checkpoints = Vec::new();
        if opts.on_durable.is_some() {
            let checkpointing = opts
                .checkpoints
                .as_ref()
                .filter(|c| self.last_checkpoint.elapsed() >= c.interval);
            if checkpointing.is_some() {
                self.last_checkpoint = Instant::now();
            }
            for lane in &mut self.lanes {
                if let Some(cp) = checkpointing.and_then(|c| c.take(lane)) {
                    commit.extend(cp.positions.iter().cloned());
                    checkpoints.push(cp);
                } else if !lane.restored && opts.sharded {
                    // no checkpoint yet: the positions from which re-reading
                    // rebuilds every held window (sharded stores keep the
                    // row with the most inputs, so the replay's partial rows
                    // of closed windows lose)
                    lane.safe_positions(&mut commit);
                }
                // a lane whose state descends from a checkpoint commits
                // only checkpoint positions (committed when it was saved)
            }
        }
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let sent = sink
            .send(ToSink {
                rows: std::mem::take(&mut self.rows),
                dead: std::mem::take(&mut self.dead),
                checkpoints,
                commit,
            })
            .is_ok();
        self.last_flush = Instant::now();
        sent
    }

    /// Sends what is still pending, with no commit positions (the end of a
    /// run commits through `on_durable_end`).
    pub(super) fn flush_rest(&mut self, sink: &SyncSender<ToSink>) {
        if self.rows.is_empty() && self.dead.is_empty() {
            return;
        }
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        sink.send(ToSink {
            rows: std::mem::take(&mut self.rows),
            dead: std::mem::take(&mut self.dead),
            checkpoints: Vec::new(),
            commit: Vec::new(),
        })
        .ok();
    }

    /// Per partition, the next offset after everything processed.
    pub(super) fn positions(&self) -> Vec<CommitPosition> {
        let mut positions = Vec::new();
        for lane in &self.lanes {
            positions.extend(lane.next.iter().map(|((t, p), o)| CommitPosition {
                topic: t.clone(),
                partition: *p,
                next_offset: *o,
            }));
        }
        positions
    }
}
