//! Sliding and cumulative windows stored as panes.
//!
//! When `slide` divides `size` (sliding) or `step` divides `max_size`
//! (cumulative), every window is the union of consecutive panes of length
//! `slide` (`step`): `[e - size, e)` for sliding, `[P, e)` from the period
//! start `P` for cumulative. Each event then updates one pane (one key
//! lookup) instead of every window it falls in (up to 1 440 for a day of
//! minutes); a window's groups are merged from its panes when it is
//! emitted. Successive cumulative windows of one period share a running
//! merge, so firing the next one merges one new pane, not the whole period.
//! Results equal direct assignment for every aggregate (all are
//! mergeable); double sums may differ in the last bits because addition is
//! regrouped.
//!
//! Life cycle: a window ending at `e` is emitted when the watermark reaches
//! `e`, if any of its panes holds data. Emitted windows keep a small record
//! (keys and emission counts) until `e + lateness`, so late events re-emit
//! the affected group with the next revision. A pane is freed once every
//! window containing it is past its lateness (`last_end(pane) + lateness`).

use std::collections::BTreeMap;

use super::{Emitter, WindowState};
use crate::aggregate::{Columns, Input};
use crate::keys::{decode_key, KeyTable};
use crate::output::KeyValue;
use crate::window::align;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Pane {
    keys: KeyTable,
    cols: Columns,
    dirty: bool,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Emitted {
    keys: KeyTable,
    counts: Vec<u32>,
}

/// Which windows the panes make up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Shape {
    /// `[e - size, e)` for every pane end `e`.
    Sliding {
        /// Window length.
        size: i64,
    },
    /// `[P, e)` for every pane end `e` of the `max`-aligned period `P`.
    Cumulative {
        /// Period length (the largest window).
        max: i64,
    },
}

/// The merged groups of the last window fired, kept so the next window of
/// the same cumulative period merges only the panes in between.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Running {
    start: i64,
    end: i64,
    keys: KeyTable,
    cols: Columns,
}

/// Paned sliding or cumulative windows of one aggregation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct PanedWindows {
    shape: Shape,
    /// Pane length: the slide or the step.
    slide: i64,
    lateness: i64,
    proto: Columns,
    slab: Vec<Option<Pane>>,
    free: Vec<u32>,
    /// Pane start → slab index.
    panes: BTreeMap<i64, u32>,
    /// Window end → emission record, for emitted windows within lateness.
    emitted: BTreeMap<i64, Emitted>,
    /// Every window with `end <= fired_upto` has been handled.
    fired_upto: i64,
    cache: Option<(i64, u32)>,
    running: Option<Running>,
    /// Smallest watermark at which `fire` has something to do (may be early).
    pub next_due: i64,
}

/// Window ends are never searched below this (times are within ±2^53).
const FLOOR: i64 = -(1 << 60);

impl PanedWindows {
    pub(crate) fn new(shape: Shape, slide: i64, lateness: i64, proto: Columns) -> Self {
        Self {
            shape,
            slide,
            lateness,
            proto,
            slab: Vec::new(),
            free: Vec::new(),
            panes: BTreeMap::new(),
            emitted: BTreeMap::new(),
            fired_upto: FLOOR,
            cache: None,
            running: None,
            next_due: i64::MAX,
        }
    }

    /// Start of the window ending at `e` (a pane boundary).
    fn start_of(&self, e: i64) -> i64 {
        match self.shape {
            Shape::Sliding { size } => e - size,
            Shape::Cumulative { max } => align(e - self.slide, max),
        }
    }

    /// End of the last window containing the pane starting at `ps`.
    fn last_end(&self, ps: i64) -> i64 {
        match self.shape {
            Shape::Sliding { size } => ps + size,
            Shape::Cumulative { max } => align(ps, max) + max,
        }
    }

    /// Merges the groups of the panes in `[from, to)` into `keys`/`cols`.
    fn merge_panes(&self, from: i64, to: i64, keys: &mut KeyTable, cols: &mut Columns) {
        for (_, &idx) in self.panes.range(from..to) {
            if let Some(Some(p)) = self.slab.get(idx as usize) {
                for g in 0..p.keys.len() as u32 {
                    let (tg, new) = keys.intern(p.keys.hash_of(g), p.keys.key(g));
                    if new {
                        cols.push_group();
                    }
                    cols.merge_from(tg as usize, &p.cols, g as usize);
                }
            }
        }
    }

    /// The window `[s, e)` merged, continuing from `prev` when it is the
    /// window before in the same cumulative period (then only the panes in
    /// between are merged).
    fn extend(&self, prev: Option<Running>, s: i64, e: i64) -> Running {
        let (from, mut keys, mut cols) = match prev {
            Some(r) if r.start == s && r.end <= e => (r.end, r.keys, r.cols),
            _ => (s, KeyTable::new(), self.proto.empty_like()),
        };
        self.merge_panes(from, e, &mut keys, &mut cols);
        Running {
            start: s,
            end: e,
            keys,
            cols,
        }
    }

    fn pane_index(&mut self, ps: i64) -> u32 {
        if let Some((s, i)) = self.cache {
            if s == ps {
                return i;
            }
        }
        let idx = match self.panes.get(&ps) {
            Some(&i) => i,
            None => {
                let p = Pane {
                    keys: KeyTable::new(),
                    cols: self.proto.empty_like(),
                    dirty: false,
                };
                let i = super::slab_put(&mut self.slab, &mut self.free, p);
                self.panes.insert(ps, i);
                self.next_due = self.next_due.min(ps + self.slide);
                i
            }
        };
        self.cache = Some((ps, idx));
        idx
    }

    /// Merged state of one key over the panes of window `[s, e)` (group 0).
    fn merged_value(&self, s: i64, e: i64, hash: u64, key: &[u8]) -> Columns {
        let mut tmp = self.proto.empty_like();
        tmp.push_group();
        for (_, &idx) in self.panes.range(s..e) {
            if let Some(Some(p)) = self.slab.get(idx as usize) {
                if let Some(g) = p.keys.find(hash, key) {
                    tmp.merge_from(0, &p.cols, g as usize);
                }
            }
        }
        tmp
    }

    /// The groups of `keys`, sorted by key.
    fn sorted(keys: &KeyTable) -> Vec<(Vec<KeyValue>, u32)> {
        let mut groups: Vec<_> = (0..keys.len() as u32)
            .map(|g| (decode_key(keys.key(g)), g))
            .collect();
        groups.sort();
        groups
    }

    /// End of the first window ending after `after` that holds data.
    fn next_window_end(&self, after: i64) -> Option<i64> {
        if after >= -FLOOR {
            return None;
        }
        let e = if after <= FLOOR {
            FLOOR
        } else {
            align(after, self.slide) + self.slide
        };
        let (&ps, _) = self.panes.range(self.start_of(e)..).next()?;
        Some(e.max(ps + self.slide))
    }
}

impl WindowState for PanedWindows {
    #[inline(always)]
    fn next_due(&self) -> i64 {
        self.next_due
    }

    /// Adds one event; returns false when every window of the event is
    /// beyond allowed lateness.
    #[inline]
    /// Whether an event at `t` with this key would open no new group: its
    /// pane holds the key already.
    fn knows(&self, t: i64, _wm: i64, hash: u64, key: &[u8]) -> bool {
        self.panes
            .get(&align(t, self.slide))
            .and_then(|&i| self.slab.get(i as usize)?.as_ref())
            .is_some_and(|p| p.keys.find(hash, key).is_some())
    }

    fn ingest(
        &mut self,
        t: i64,
        wm: i64,
        hash: u64,
        key: &[u8],
        input: Input<'_>,
        sink: &mut Emitter<'_>,
    ) -> bool {
        let ps = align(t, self.slide);
        let last_end = self.last_end(ps);
        if wm >= last_end + self.lateness {
            return false;
        }
        if self.running.as_ref().is_some_and(|r| ps < r.end) {
            // a pane the running merge already holds changes
            self.running = None;
        }
        // `fire` runs whenever the watermark reaches `next_due`, a lower bound
        // of the next window end holding data, so every window ending at or
        // before `wm` that held data is emitted: the rest were empty, and an
        // update to them below is a late (re-)emission, not a first firing.
        if wm > self.fired_upto {
            self.fired_upto = wm;
        }
        let idx = self.pane_index(ps);
        let Some(Some(p)) = self.slab.get_mut(idx as usize) else {
            return false;
        };
        let (g, new) = p.keys.intern(hash, key);
        if new {
            p.cols.push_group();
        }
        p.cols.update(g as usize, input);
        p.dirty = true;
        if ps + self.slide <= wm {
            // Some windows of this event were already emitted.
            let mut e = ps + self.slide;
            while e <= last_end && e <= wm {
                if wm >= e + self.lateness {
                    sink.m.late_window_updates_skipped += 1;
                } else {
                    let start = self.start_of(e);
                    let value = self.merged_value(start, e, hash, key);
                    let rec = self.emitted.entry(e).or_default();
                    let (fg, _) = rec.keys.intern(hash, key);
                    let fg = fg as usize;
                    if rec.counts.len() <= fg {
                        rec.counts.resize(fg + 1, 0);
                    }
                    let rev = rec.counts[fg];
                    rec.counts[fg] += 1;
                    self.next_due = self.next_due.min(e + self.lateness);
                    sink.emit(start, e, decode_key(key), &value, 0, rev, false);
                }
                e += self.slide;
            }
        }
        true
    }

    /// Emits windows whose end the watermark reached and frees state past
    /// its lateness.
    fn fire(&mut self, wm: i64, sink: &mut Emitter<'_>) {
        if wm > self.fired_upto {
            let mut cursor = self.fired_upto;
            while let Some(end) = self.next_window_end(cursor) {
                if end > wm {
                    break;
                }
                let start = self.start_of(end);
                let prev = self.running.take();
                let r = self.extend(prev, start, end);
                for (k, g) in Self::sorted(&r.keys) {
                    sink.emit(start, end, k, &r.cols, g as usize, 0, false);
                }
                let n = r.keys.len();
                self.emitted.insert(
                    end,
                    Emitted {
                        keys: r.keys.clone(),
                        counts: vec![1; n],
                    },
                );
                self.running = Some(r);
                cursor = end;
            }
            self.fired_upto = wm;
        }
        let next_end = self.next_window_end(self.fired_upto).unwrap_or(i64::MAX);
        // Free emission records and panes past lateness.
        while let Some((&e, _)) = self.emitted.first_key_value() {
            if wm < e + self.lateness {
                break;
            }
            self.emitted.pop_first();
        }
        let mut freed = false;
        while let Some((&ps, &idx)) = self.panes.first_key_value() {
            if wm < self.last_end(ps) + self.lateness {
                break;
            }
            self.panes.pop_first();
            if let Some(slot) = self.slab.get_mut(idx as usize) {
                *slot = None;
            }
            self.free.push(idx);
            freed = true;
        }
        if freed {
            self.cache = None;
            let oldest = self.panes.keys().next().copied().unwrap_or(i64::MAX);
            if self.running.as_ref().is_some_and(|r| r.start < oldest) {
                self.running = None;
            }
        }
        let r = self
            .emitted
            .first_key_value()
            .map_or(i64::MAX, |(&e, _)| e + self.lateness);
        let p = self
            .panes
            .first_key_value()
            .map_or(i64::MAX, |(&ps, _)| self.last_end(ps) + self.lateness);
        self.next_due = next_end.min(r).min(p);
    }

    /// Emits open windows containing a changed pane as provisional results.
    fn emit_provisional(&mut self, wm: i64, sink: &mut Emitter<'_>) {
        let mut ends: Vec<i64> = Vec::new();
        for (&ps, &idx) in &self.panes {
            if let Some(Some(p)) = self.slab.get_mut(idx as usize) {
                if p.dirty {
                    p.dirty = false;
                    let last = self.last_end(ps);
                    let mut e = ps + self.slide;
                    while e <= last {
                        if e > wm {
                            ends.push(e);
                        }
                        e += self.slide;
                    }
                }
            }
        }
        ends.sort_unstable();
        ends.dedup();
        // ascending ends: a cumulative period's windows extend one another
        let mut r: Option<Running> = None;
        for e in ends {
            let start = self.start_of(e);
            let next = self.extend(r.take(), start, e);
            for (k, g) in Self::sorted(&next.keys) {
                sink.emit(start, e, k, &next.cols, g as usize, 0, true);
            }
            r = Some(next);
        }
    }

    /// Start of the oldest pane still held.
    fn retained_from(&self) -> Option<i64> {
        self.panes.keys().next().copied()
    }

    /// (panes, groups, approximate bytes).
    fn usage(&self) -> (u64, u64, u64) {
        let mut n = 0u64;
        let mut groups = 0u64;
        let mut bytes = (self.slab.capacity() * std::mem::size_of::<Option<Pane>>()
            + self.panes.len() * 32) as u64;
        for p in self.slab.iter().flatten() {
            n += 1;
            groups += p.keys.len() as u64;
            bytes += (p.keys.heap_bytes() + p.cols.state_bytes()) as u64;
        }
        for r in self.emitted.values() {
            bytes += (r.keys.heap_bytes() + r.counts.capacity() * 4 + 48) as u64;
        }
        if let Some(r) = &self.running {
            bytes += (r.keys.heap_bytes() + r.cols.state_bytes()) as u64;
        }
        (n, groups, bytes)
    }
}
