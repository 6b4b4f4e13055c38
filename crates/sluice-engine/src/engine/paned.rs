//! Sliding windows stored as panes.
//!
//! When `slide` divides `size`, every window is the union of `size/slide`
//! consecutive panes of length `slide`. Each event then updates one pane
//! (one key lookup) instead of `size/slide` windows; a window's groups are
//! merged from its panes when it is emitted. Results equal direct
//! assignment for every aggregate (all are mergeable); double sums may
//! differ in the last bits because addition is regrouped.
//!
//! Life cycle: a window `[e - size, e)` is emitted when the watermark reaches
//! `e`, if any of its panes holds data. Emitted windows keep a small record
//! (keys and emission counts) until `e + lateness`, so late events re-emit
//! the affected group with the next revision. A pane is freed once every
//! window containing it is past its lateness (`pane_start + size + lateness`).

use std::collections::BTreeMap;

use super::Sink;
use crate::aggregate::{Columns, Input};
use crate::keys::{decode_key, KeyTable};
use crate::output::KeyValue;
use crate::window::align;

#[derive(Clone, Debug)]
struct Pane {
    keys: KeyTable,
    cols: Columns,
    dirty: bool,
}

#[derive(Clone, Debug, Default)]
struct Emitted {
    keys: KeyTable,
    counts: Vec<u32>,
}

/// Paned sliding windows of one aggregation.
#[derive(Clone, Debug)]
pub(crate) struct PanedWindows {
    size: i64,
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
    /// Smallest watermark at which `fire` has something to do (may be early).
    pub next_due: i64,
}

/// Window ends are never searched below this (times are within ±2^53).
const FLOOR: i64 = -(1 << 60);

impl PanedWindows {
    pub(crate) fn new(size: i64, slide: i64, lateness: i64, proto: Columns) -> Self {
        Self {
            size,
            slide,
            lateness,
            proto,
            slab: Vec::new(),
            free: Vec::new(),
            panes: BTreeMap::new(),
            emitted: BTreeMap::new(),
            fired_upto: FLOOR,
            cache: None,
            next_due: i64::MAX,
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

    /// All groups of window `[s, e)`, merged from its panes, sorted by key.
    fn merged_window(&self, s: i64, e: i64) -> (KeyTable, Columns, Vec<(Vec<KeyValue>, u32)>) {
        let mut keys = KeyTable::new();
        let mut cols = self.proto.empty_like();
        for (_, &idx) in self.panes.range(s..e) {
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
        let mut groups: Vec<_> = (0..keys.len() as u32)
            .map(|g| (decode_key(keys.key(g)), g))
            .collect();
        groups.sort();
        (keys, cols, groups)
    }

    /// Adds one event; returns false when every window of the event is
    /// beyond allowed lateness.
    #[inline]
    /// Whether an event at `t` with this key would open no new group: its
    /// pane holds the key already.
    pub(crate) fn knows(&self, t: i64, hash: u64, key: &[u8]) -> bool {
        self.panes
            .get(&align(t, self.slide))
            .and_then(|&i| self.slab.get(i as usize)?.as_ref())
            .is_some_and(|p| p.keys.find(hash, key).is_some())
    }

    pub(crate) fn ingest(
        &mut self,
        t: i64,
        wm: i64,
        hash: u64,
        key: &[u8],
        input: Input<'_>,
        sink: &mut Sink<'_>,
    ) -> bool {
        let ps = align(t, self.slide);
        if wm >= ps + self.size + self.lateness {
            return false;
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
            while e <= ps + self.size && e <= wm {
                if wm >= e + self.lateness {
                    sink.m.late_window_updates_skipped += 1;
                } else {
                    let value = self.merged_value(e - self.size, e, hash, key);
                    let rec = self.emitted.entry(e).or_default();
                    let (fg, _) = rec.keys.intern(hash, key);
                    let fg = fg as usize;
                    if rec.counts.len() <= fg {
                        rec.counts.resize(fg + 1, 0);
                    }
                    let rev = rec.counts[fg];
                    rec.counts[fg] += 1;
                    self.next_due = self.next_due.min(e + self.lateness);
                    sink.emit(e - self.size, e, decode_key(key), &value, 0, rev, false);
                }
                e += self.slide;
            }
        }
        true
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
        let (&ps, _) = self.panes.range(e - self.size..).next()?;
        Some(e.max(ps + self.slide))
    }

    /// Emits windows whose end the watermark reached and frees state past
    /// its lateness.
    pub(crate) fn fire(&mut self, wm: i64, sink: &mut Sink<'_>) {
        if wm > self.fired_upto {
            let mut cursor = self.fired_upto;
            while let Some(end) = self.next_window_end(cursor) {
                if end > wm {
                    break;
                }
                let (keys, cols, groups) = self.merged_window(end - self.size, end);
                for (k, g) in &groups {
                    sink.emit(
                        end - self.size,
                        end,
                        k.clone(),
                        &cols,
                        *g as usize,
                        0,
                        false,
                    );
                }
                let n = keys.len();
                self.emitted.insert(
                    end,
                    Emitted {
                        keys,
                        counts: vec![1; n],
                    },
                );
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
            if wm < ps + self.size + self.lateness {
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
        }
        let r = self
            .emitted
            .first_key_value()
            .map_or(i64::MAX, |(&e, _)| e + self.lateness);
        let p = self
            .panes
            .first_key_value()
            .map_or(i64::MAX, |(&ps, _)| ps + self.size + self.lateness);
        self.next_due = next_end.min(r).min(p);
    }

    /// Emits open windows containing a changed pane as provisional results.
    pub(crate) fn emit_provisional(&mut self, wm: i64, sink: &mut Sink<'_>) {
        let mut ends: Vec<i64> = Vec::new();
        for (&ps, &idx) in &self.panes {
            if let Some(Some(p)) = self.slab.get_mut(idx as usize) {
                if p.dirty {
                    p.dirty = false;
                    let mut e = ps + self.slide;
                    while e <= ps + self.size {
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
        for e in ends {
            let (_, cols, groups) = self.merged_window(e - self.size, e);
            for (k, g) in groups {
                sink.emit(e - self.size, e, k, &cols, g as usize, 0, true);
            }
        }
    }

    /// Start of the oldest pane still held.
    pub(crate) fn retained_from(&self) -> Option<i64> {
        self.panes.keys().next().copied()
    }

    /// (panes, groups, approximate bytes).
    pub(crate) fn usage(&self) -> (u64, u64, u64) {
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
        (n, groups, bytes)
    }
}
