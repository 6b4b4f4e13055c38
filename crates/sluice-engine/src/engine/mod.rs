//! The engine: decode once, feed every aggregation, move watermarks, emit.
//!
//! Per record: decode with the event type's compiled decoder (dead letter on
//! failure), reject outliers, then for each aggregation the event type feeds:
//! filter, build the canonical group key in a reused buffer, hash it once,
//! and hand key, hash and value to the aggregation's window state, which
//! decides on-time, late-but-allowed (immediate re-emission) or beyond
//! lateness (late output). Then the partition's maximum event time is
//! updated; if the frontier moved, aggregations whose watermark reached a
//! window end emit it. Nothing here allocates per record once buffers and
//! tables have grown, except for late events and dead letters (which copy
//! the record bytes).

mod compile;
mod fixed;
mod paned;
mod session;
mod snapshot;
mod state;

pub use snapshot::{plan_fingerprint, SnapshotError, SNAPSHOT_FORMAT};

/// Puts `value` in a free slot of `slab` (recycled from `free`) or at its
/// end, and returns the slot: the window and pane tables reuse memory this way.
fn slab_put<T>(slab: &mut Vec<Option<T>>, free: &mut Vec<u32>, value: T) -> u32 {
    match free.pop() {
        Some(i) => {
            slab[i as usize] = Some(value);
            i
        }
        None => {
            slab.push(Some(value));
            (slab.len() - 1) as u32
        }
    }
}

use sluice_core::EventTime;

use crate::batch::RawBatch;
use crate::decode::{CompiledDecoder, FieldVal};
use crate::error::{DecodeError, EncodeError, PlanError};
use crate::hash::hash_key;
use crate::late::{DeadLetter, LateEvent, LateReason};
use crate::metrics::EngineMetrics;
use crate::output::{KeyValue, Output, WindowResult};
use crate::plan::EnginePlan;
use crate::value::Value;
use crate::watermark::WatermarkTracker;
use crate::window::Windowing;

use compile::Feed;
use fixed::FixedWindows;
use paned::{PanedWindows, Shape};
use session::SessionWindows;
use state::WindowState;

/// Where a record comes from.
struct Located<'a> {
    partition: u32,
    offset: i64,
    /// The whole batch buffer; the record starts at `base`.
    data: &'a [u8],
    base: usize,
}

/// Where window states send results.
pub(crate) struct Emitter<'a> {
    agg: usize,
    out: &'a mut Output,
    pub(crate) m: &'a mut EngineMetrics,
    state: bool,
}

impl Emitter<'_> {
    /// Emits group `g` of `cols` as the result of window `[start, end)`.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        start: i64,
        end: i64,
        key: Vec<KeyValue>,
        cols: &crate::aggregate::Columns,
        g: usize,
        revision: u32,
        provisional: bool,
    ) {
        self.m.results += 1;
        if provisional {
            self.m.provisional += 1;
        } else if revision > 0 {
            self.m.revisions += 1;
        }
        self.out.results.push(WindowResult {
            aggregation: self.agg,
            window_start: EventTime(start),
            window_end: EventTime(end),
            key,
            value: cols.finish(g),
            revision,
            provisional,
            events: cols.events(g),
            state: if self.state { cols.export(g) } else { None },
        });
    }
}

/// One aggregation's window state: one variant per [`WindowState`]
/// implementation, dispatched statically by [`each_state!`] (the per-record
/// `ingest` stays inlinable).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum State {
    Fixed(FixedWindows),
    Paned(PanedWindows),
    Session(SessionWindows),
}

/// Runs `$body` with `$s` bound to the window state inside `$state`,
/// whatever its kind: the one place that lists the kinds.
macro_rules! each_state {
    ($state:expr, $s:ident => $body:expr) => {
        match $state {
            State::Fixed($s) => $body,
            State::Paned($s) => $body,
            State::Session($s) => $body,
        }
    };
}

#[derive(Clone, Debug)]
struct Agg {
    delay: i64,
    lateness: i64,
    windowing: Windowing,
    state: State,
}

impl Agg {
    #[inline(always)]
    fn watermark(&self, frontier: i64) -> i64 {
        if frontier == i64::MAX {
            i64::MAX
        } else {
            frontier.saturating_sub(self.delay)
        }
    }

    /// The frontier at which this aggregation's watermark reaches `next_due`.
    #[inline(always)]
    fn due_frontier(&self) -> i64 {
        self.next_due().saturating_add(self.delay)
    }

    #[inline(always)]
    fn next_due(&self) -> i64 {
        each_state!(&self.state, s => s.next_due())
    }

    fn fire(&mut self, wm: i64, sink: &mut Emitter<'_>) {
        each_state!(&mut self.state, s => s.fire(wm, sink))
    }
}

/// The streaming engine for one plan. Single-threaded and deterministic:
/// the same records in the same order give the same output, however they
/// are split into batches.
#[derive(Debug)]
pub struct Engine {
    plan: EnginePlan,
    decoders: Vec<CompiledDecoder>,
    feeds: Vec<Vec<Feed>>,
    aggs: Vec<Agg>,
    wm: WatermarkTracker,
    proc_now: i64,
    last_early: Option<i64>,
    vals: Vec<FieldVal>,
    keybuf: crate::keys::KeyBuf,
    m: EngineMetrics,
    /// No aggregation has anything to fire before the frontier reaches this
    /// (a lower bound: lowered on every ingest, recomputed on every fire), so
    /// a frontier moving by one event usually costs one comparison.
    due: i64,
    /// Per partition index: its first records, held until they can be
    /// judged (see [`PROBATION`]).
    probation: Vec<Probation>,
    /// Per aggregation: at its `max_groups` limit (as of the batch start).
    full: Vec<bool>,
    /// Partitions of a restored snapshot not yet bound to an id of this run:
    /// `(label, largest event time)`.
    restored: Vec<(String, i64)>,
}

/// How many first records of a partition are held before any of them is
/// aggregated. Their lower median is the reference against which each is
/// judged a far-future outlier, so a single broken clock among them (the
/// very first record included) cannot move the watermark.
pub const PROBATION: usize = 3;

/// Without an idle timeout, how long (processing time) a partition's first
/// records may be held before they are judged with fewer than
/// [`PROBATION`] of them.
pub const HOLD_AT_MOST_MS: i64 = 10_000;

/// A partition's first records, waiting for judgement.
#[derive(Clone, Debug, Default)]
struct Probation {
    held: Vec<Held>,
    settled: bool,
    /// Processing time when the first record was held.
    since: i64,
}

/// One held record: enough to process it later exactly as if it had just
/// arrived.
#[derive(Clone, Debug)]
struct Held {
    event_type: u32,
    partition: u32,
    offset: i64,
    t: i64,
    bytes: Vec<u8>,
}

impl Engine {
    /// Validates `plan` against its layouts and compiles decoders, filters
    /// and aggregate states.
    pub fn new(plan: EnginePlan) -> Result<Engine, PlanError> {
        let c = compile::compile(&plan)?;
        let aggs = c
            .aggs
            .into_iter()
            .map(|a| Agg {
                delay: a.delay,
                lateness: a.lateness,
                windowing: a.windowing,
                state: match a.windowing {
                    Windowing::Session { gap } => {
                        State::Session(SessionWindows::new(gap, a.lateness, a.columns))
                    }
                    Windowing::Sliding { size, slide } if size % slide == 0 && size > slide => {
                        State::Paned(PanedWindows::new(
                            Shape::Sliding { size },
                            slide,
                            a.lateness,
                            a.columns,
                        ))
                    }
                    Windowing::Cumulative { step, max } if max % step == 0 && max > step => {
                        State::Paned(PanedWindows::new(
                            Shape::Cumulative { max },
                            step,
                            a.lateness,
                            a.columns,
                        ))
                    }
                    w => State::Fixed(FixedWindows::new(w, a.lateness, a.columns)),
                },
            })
            .collect();
        Ok(Engine {
            wm: WatermarkTracker::new(plan.options.idle_timeout_ms),
            plan,
            decoders: c.decoders,
            feeds: c.feeds,
            aggs,
            proc_now: 0,
            last_early: None,
            vals: vec![FieldVal::Null; c.slots.max(1)],
            keybuf: crate::keys::KeyBuf::default(),
            m: EngineMetrics::default(),
            due: i64::MIN,
            probation: Vec::new(),
            full: Vec::new(),
            restored: Vec::new(),
        })
    }

    /// The plan the engine runs.
    pub fn plan(&self) -> &EnginePlan {
        &self.plan
    }

    /// Processes one batch, appending results, late events and dead letters
    /// to `out`.
    pub fn process(&mut self, batch: &RawBatch, out: &mut Output) {
        if batch.is_empty() {
            return;
        }
        self.check_limits();
        let pidx = self.wm.partition_index(batch.partition);
        if self.wm.touch(pidx, self.proc_now) {
            self.on_frontier(out);
        }
        for i in 0..batch.len() {
            let offset = batch.first_offset.saturating_add(i as i64);
            let start = if i == 0 {
                0
            } else {
                batch.ends[i - 1] as usize
            };
            let Some(rec) = batch.record(i) else {
                self.m.events_in += 1;
                self.m.dead_lettered += 1;
                out.dead_letters.push(DeadLetter {
                    partition: batch.partition,
                    offset,
                    reason: DecodeError::BadBounds {
                        start,
                        end: batch.ends[i] as usize,
                        len: batch.data.len(),
                    },
                    bytes: Vec::new(),
                });
                continue;
            };
            let at = Located {
                partition: batch.partition,
                offset,
                data: &batch.data,
                base: start,
            };
            self.process_record(batch.event_type_of(i), pidx, &at, rec, out);
        }
    }

    /// Encodes already-decoded records (values in layout order) and processes
    /// them exactly like Avro input.
    pub fn process_values(
        &mut self,
        event_type: u32,
        partition: u32,
        first_offset: i64,
        records: &[Vec<Value>],
        out: &mut Output,
    ) -> Result<(), EncodeError> {
        let batch = crate::batch::from_values(
            &self.plan.layouts,
            event_type,
            partition,
            first_offset,
            records,
        )?;
        self.process(&batch, out);
        Ok(())
    }

    #[inline]
    fn process_record(
        &mut self,
        et: u32,
        pidx: usize,
        at: &Located<'_>,
        rec: &[u8],
        out: &mut Output,
    ) {
        let (partition, offset) = (at.partition, at.offset);
        self.m.events_in += 1;
        let dead = |reason| DeadLetter {
            partition,
            offset,
            reason,
            bytes: rec.to_vec(),
        };
        let Some(dec) = self.decoders.get(et as usize) else {
            self.m.dead_lettered += 1;
            out.dead_letters
                .push(dead(DecodeError::UnknownEventType(et)));
            return;
        };
        let t = match dec.decode(rec, &mut self.vals) {
            Ok(t) => t,
            Err(e) => {
                self.m.dead_lettered += 1;
                out.dead_letters.push(dead(e));
                return;
            }
        };
        self.m.decoded += 1;
        if self.plan.options.max_future_skew_ms.is_some() && !self.settled(pidx) {
            self.hold(et, pidx, at, t, rec, out);
            return;
        }
        self.accept(et, t, pidx, at, rec, out);
    }

    /// Marks the aggregations at their open-group limit.
    fn check_limits(&mut self) {
        let Some(limit) = self.plan.options.max_groups else {
            return;
        };
        self.full = self
            .aggs
            .iter()
            .map(|a| {
                let groups = each_state!(&a.state, s => s.usage().1);
                groups >= limit
            })
            .collect();
    }

    fn settled(&self, pidx: usize) -> bool {
        self.probation.get(pidx).is_some_and(|p| p.settled)
    }

    /// Holds one of partition `pidx`'s first records; judges them all once
    /// [`PROBATION`] are held.
    fn hold(
        &mut self,
        et: u32,
        pidx: usize,
        at: &Located<'_>,
        t: i64,
        rec: &[u8],
        out: &mut Output,
    ) {
        if self.probation.len() <= pidx {
            self.probation.resize_with(pidx + 1, Probation::default);
        }
        let p = &mut self.probation[pidx];
        if p.held.is_empty() {
            p.since = self.proc_now;
        }
        p.held.push(Held {
            event_type: et,
            partition: at.partition,
            offset: at.offset,
            t,
            bytes: rec.to_vec(),
        });
        if p.held.len() >= PROBATION {
            self.release(pidx, out);
        }
    }

    /// Ends partition `pidx`'s probation: each held record more than
    /// `max_future_skew_ms` ahead of the held records' lower median is an
    /// outlier; the others are processed in arrival order.
    fn release(&mut self, pidx: usize, out: &mut Output) {
        let Some(p) = self.probation.get_mut(pidx) else {
            return;
        };
        p.settled = true;
        let held = std::mem::take(&mut p.held);
        if held.is_empty() {
            return;
        }
        let mut times: Vec<i64> = held.iter().map(|h| h.t).collect();
        times.sort_unstable();
        let reference = times[(times.len() - 1) / 2];
        let skew = self.plan.options.max_future_skew_ms.unwrap_or(i64::MAX);
        for h in held {
            if h.t > reference.saturating_add(skew) {
                self.m.outliers += 1;
                out.late.push(LateEvent {
                    aggregation: None,
                    partition: h.partition,
                    offset: h.offset,
                    event_time: EventTime(h.t),
                    reason: LateReason::TooFarInFuture {
                        max_seen: EventTime(reference),
                    },
                    bytes: h.bytes,
                });
                continue;
            }
            let Some(dec) = self.decoders.get(h.event_type as usize) else {
                continue; // decoded once already: cannot happen
            };
            let Ok(t) = dec.decode(&h.bytes, &mut self.vals) else {
                continue;
            };
            let at = Located {
                partition: h.partition,
                offset: h.offset,
                data: &h.bytes,
                base: 0,
            };
            self.accept(h.event_type, t, pidx, &at, &h.bytes, out);
        }
    }

    /// Releases every partition still on probation (`only_silent_at`: only
    /// those held for the idle timeout at that processing time).
    fn release_held(&mut self, only_silent_at: Option<i64>, out: &mut Output) {
        for pidx in 0..self.probation.len() {
            let p = &self.probation[pidx];
            if p.settled || p.held.is_empty() {
                continue;
            }
            if let Some(now) = only_silent_at {
                let wait = self.plan.options.idle_timeout_ms.unwrap_or(HOLD_AT_MOST_MS);
                if now.saturating_sub(p.since) < wait {
                    continue;
                }
            }
            self.release(pidx, out);
        }
    }

    /// Decides one decoded record (values in `self.vals`): outlier, late or
    /// aggregated; then moves the watermark.
    #[inline]
    fn accept(
        &mut self,
        et: u32,
        t: i64,
        pidx: usize,
        at: &Located<'_>,
        rec: &[u8],
        out: &mut Output,
    ) {
        let (partition, offset) = (at.partition, at.offset);
        if let (Some(skew), Some(max)) = (self.plan.options.max_future_skew_ms, self.wm.max_seen())
        {
            if t > max.saturating_add(skew) {
                self.m.outliers += 1;
                out.late.push(LateEvent {
                    aggregation: None,
                    partition,
                    offset,
                    event_time: EventTime(t),
                    reason: LateReason::TooFarInFuture {
                        max_seen: EventTime(max),
                    },
                    bytes: rec.to_vec(),
                });
                return;
            }
        }
        let frontier = self.wm.frontier();
        // the partition's own progress: an event late by it is late whatever
        // the other partitions' progress (so read order cannot matter)
        let own = self.wm.partition_max(pidx).unwrap_or(i64::MIN);
        let emit_state = self.plan.options.emit_state;
        let Self {
            feeds,
            aggs,
            vals,
            keybuf,
            m,
            due,
            full,
            plan,
            ..
        } = self;
        if let Some(feeds) = feeds.get(et as usize) {
            // the feed whose key `keybuf` and `hash` hold
            let mut built = usize::MAX;
            let mut hash = 0u64;
            for feed in feeds {
                if !feed.preds.iter().all(|p| p.eval(vals, rec)) {
                    m.filtered += 1;
                    continue;
                }
                if built != feed.key_of {
                    keybuf.clear();
                    for part in &feed.key {
                        part.push(vals, at.data, at.base, keybuf);
                    }
                    hash = hash_key(keybuf.as_slice());
                    built = feed.key_of;
                }
                let key = keybuf.as_slice();
                let mut scratch = [0u8; 8];
                let input = feed.value.input(vals, rec, &mut scratch);
                let agg = &mut aggs[feed.agg];
                let wm = agg.watermark(frontier);
                let own_wm = agg.watermark(own);
                if full.get(feed.agg).copied().unwrap_or(false) {
                    let known = each_state!(&agg.state, s => s.knows(t, wm, hash, key));
                    if !known {
                        m.over_limit += 1;
                        out.late.push(LateEvent {
                            aggregation: Some(feed.agg),
                            partition,
                            offset,
                            event_time: EventTime(t),
                            reason: LateReason::StateLimit {
                                limit: plan.options.max_groups.unwrap_or(0),
                            },
                            bytes: rec.to_vec(),
                        });
                        continue;
                    }
                }
                let (accepted, wm) = if own_wm > wm
                    && agg.windowing.last_end(t).saturating_add(agg.lateness) <= own_wm
                {
                    (false, own_wm)
                } else {
                    let mut sink = Emitter {
                        agg: feed.agg,
                        out,
                        m,
                        state: emit_state,
                    };
                    let accepted = each_state!(&mut agg.state, s => s.ingest(t, wm, hash, key, input, &mut sink));
                    *due = (*due).min(agg.due_frontier());
                    (accepted, wm)
                };
                if !accepted {
                    m.late += 1;
                    out.late.push(LateEvent {
                        aggregation: Some(feed.agg),
                        partition,
                        offset,
                        event_time: EventTime(t),
                        reason: LateReason::BeyondAllowedLateness {
                            watermark: EventTime(wm),
                        },
                        bytes: rec.to_vec(),
                    });
                }
            }
        }
        if self.wm.observe(pidx, t) && self.wm.frontier() >= self.due {
            self.on_frontier(out);
        }
    }

    fn on_frontier(&mut self, out: &mut Output) {
        let frontier = self.wm.frontier();
        self.due = i64::MAX;
        for (i, agg) in self.aggs.iter_mut().enumerate() {
            let wm = agg.watermark(frontier);
            if wm >= agg.next_due() {
                let mut sink = Emitter {
                    agg: i,
                    out,
                    m: &mut self.m,
                    state: self.plan.options.emit_state,
                };
                agg.fire(wm, &mut sink);
            }
            self.due = self.due.min(agg.due_frontier());
        }
    }

    /// Declares the source partitions that will deliver events (e.g. the
    /// Kafka partitions assigned to this instance) at processing time
    /// `now_ms`: each holds the watermark back until it delivers or stays
    /// silent for the idle timeout.
    pub fn declare_partitions(&mut self, partitions: &[u32], now_ms: i64) {
        // processing time is at least `now_ms` from here on: a batch processed
        // before the first `advance_processing_time` must not stamp its
        // partition as last active at time 0 (which the next advance would
        // take for 30 s of silence and mark idle)
        if now_ms > self.proc_now {
            self.proc_now = now_ms;
        }
        for p in partitions {
            self.wm.declare(*p, now_ms);
        }
    }

    /// Tells the engine the current processing time (ms): partitions silent
    /// for `idle_timeout_ms` become idle (which may move watermarks and close
    /// windows), and in update mode changed open windows are emitted as
    /// provisional results every `early_emit_interval_ms`. Processing time
    /// never goes back; an earlier `now` is ignored.
    pub fn advance_processing_time(&mut self, now_ms: i64, out: &mut Output) {
        if now_ms < self.proc_now {
            return;
        }
        self.proc_now = now_ms;
        self.release_held(Some(now_ms), out);
        if self.wm.mark_idle(now_ms) {
            self.on_frontier(out);
        }
        if let Some(iv) = self.plan.options.early_emit_interval_ms {
            match self.last_early {
                None => self.last_early = Some(now_ms),
                Some(last) if now_ms.saturating_sub(last) >= iv => {
                    self.last_early = Some(now_ms);
                    let frontier = self.wm.frontier();
                    for (i, agg) in self.aggs.iter_mut().enumerate() {
                        let wm = agg.watermark(frontier);
                        let mut sink = Emitter {
                            agg: i,
                            out,
                            m: &mut self.m,
                            state: self.plan.options.emit_state,
                        };
                        each_state!(&mut agg.state, s => s.emit_provisional(wm, &mut sink))
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Ends bounded input: the watermark jumps to +∞, every window is
    /// emitted and all state is freed. Records processed afterwards are late.
    pub fn finish(&mut self, out: &mut Output) {
        self.release_held(None, out);
        self.wm.finish();
        self.on_frontier(out);
    }

    /// Aggregation `agg`'s current watermark (`EventTime::MIN` before any
    /// event).
    pub fn watermark(&self, agg: usize) -> Option<EventTime> {
        self.aggs
            .get(agg)
            .map(|a| EventTime(a.watermark(self.wm.frontier())))
    }

    /// The watermark message for source partition `partition`.
    pub fn partition_watermark(&self, partition: u32) -> Option<sluice_core::Watermark> {
        self.wm.partition_watermark(partition)
    }

    /// The smallest event time any held window (open, or kept for allowed
    /// lateness) can contain; `None` when no state is held. An event older
    /// than this can no longer change any result, which is what makes a
    /// source offset safe to commit (see the runtime's checkpointing).
    pub fn retained_from(&self) -> Option<i64> {
        if self.holding() {
            // records on probation are not in any window yet, and the marks
            // of their batches may not show their times: hold everything
            return Some(i64::MIN);
        }
        self.aggs
            .iter()
            .filter_map(|a| each_state!(&a.state, s => s.retained_from()))
            .min()
    }

    /// Whether records are held on probation (their late output, when they
    /// are judged, names offsets of the batches they came in).
    pub fn holding(&self) -> bool {
        self.probation.iter().any(|p| !p.held.is_empty())
    }

    /// Each source partition's event-time progress (which holds the
    /// frontier back, which is idle), for a live view.
    pub fn partitions(&self) -> Vec<crate::watermark::PartitionProgress> {
        self.wm.partitions()
    }

    /// The largest event time accepted so far.
    pub fn max_event_time(&self) -> Option<i64> {
        self.wm.max_seen()
    }

    /// Approximate bytes of window state held.
    pub fn state_bytes(&self) -> usize {
        self.usage().2 as usize
    }

    fn usage(&self) -> (u64, u64, u64) {
        self.aggs.iter().fold((0, 0, 0), |(w, g, b), a| {
            let (w2, g2, b2) = each_state!(&a.state, s => s.usage());
            (w + w2, g + g2, b + b2)
        })
    }

    /// Counters and current gauges.
    pub fn metrics(&self) -> EngineMetrics {
        let (open_windows, open_groups, state_bytes) = self.usage();
        EngineMetrics {
            open_windows,
            open_groups,
            state_bytes,
            ..self.m.clone()
        }
    }

    /// Decodes every record of `batch` with the compiled decoders and
    /// discards the result: the decode-only cost, for benchmarks. Returns
    /// (decoded, failed).
    pub fn decode_only(&mut self, batch: &RawBatch) -> (usize, usize) {
        let mut ok = 0;
        let mut failed = 0;
        for i in 0..batch.len() {
            let dec = self.decoders.get(batch.event_type_of(i) as usize);
            match (dec, batch.record(i)) {
                (Some(d), Some(rec)) if d.decode(rec, &mut self.vals).is_ok() => ok += 1,
                _ => failed += 1,
            }
        }
        (ok, failed)
    }
}
