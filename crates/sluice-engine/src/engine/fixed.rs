//! State of tumbling, sliding and cumulative windows of one aggregation.
//!
//! Windows live in a slab; an index maps `(start, end)` to a slot, and two
//! ordered sets drive the life cycle: `pending` (not yet emitted, by end) and
//! `retained` (emitted, kept for late updates until `end + lateness`). Each
//! window interns its group keys into dense ids and keeps one
//! [`Columns`](crate::aggregate::Columns) of states. The last event's window
//! assignment is cached, so consecutive events in the same windows skip every
//! map lookup.

use std::collections::{BTreeSet, HashMap};

use super::{Emitter, WindowState};
use crate::aggregate::{Columns, Input};
use crate::hash::FastBuild;
use crate::keys::{decode_key, KeyTable};
use crate::window::Windowing;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Window {
    start: i64,
    end: i64,
    keys: KeyTable,
    cols: Columns,
    /// Emissions so far per group (empty until the window first fires).
    emitted: Vec<u32>,
    dirty: bool,
}

impl Window {
    fn emit_group(&mut self, g: u32, sink: &mut Emitter<'_>) {
        let gi = g as usize;
        if self.emitted.len() <= gi {
            self.emitted.resize(gi + 1, 0);
        }
        let rev = self.emitted[gi];
        self.emitted[gi] += 1;
        sink.emit(
            self.start,
            self.end,
            decode_key(self.keys.key(g)),
            &self.cols,
            gi,
            rev,
            false,
        );
    }

    fn sorted_groups(&self) -> Vec<(Vec<crate::KeyValue>, u32)> {
        let mut groups: Vec<_> = (0..self.keys.len() as u32)
            .map(|g| (decode_key(self.keys.key(g)), g))
            .collect();
        groups.sort();
        groups
    }
}

/// Windows of one aggregation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct FixedWindows {
    windowing: Windowing,
    lateness: i64,
    proto: Columns,
    slab: Vec<Option<Window>>,
    free: Vec<u32>,
    index: HashMap<(i64, i64), u32, FastBuild>,
    pending: BTreeSet<(i64, i64, u32)>,
    retained: BTreeSet<(i64, i64, u32)>,
    assign: Vec<(i64, i64)>,
    cache_key: Vec<(i64, i64)>,
    cache_idx: Vec<u32>,
    /// Smallest watermark at which `fire` has something to do (may be early).
    pub next_due: i64,
}

impl FixedWindows {
    pub(crate) fn new(windowing: Windowing, lateness: i64, proto: Columns) -> Self {
        Self {
            windowing,
            lateness,
            proto,
            slab: Vec::new(),
            free: Vec::new(),
            index: HashMap::with_hasher(FastBuild),
            pending: BTreeSet::new(),
            retained: BTreeSet::new(),
            assign: Vec::new(),
            cache_key: Vec::new(),
            cache_idx: Vec::new(),
            next_due: i64::MAX,
        }
    }

    fn get_or_create(&mut self, start: i64, end: i64, wm: i64) -> u32 {
        if let Some(&i) = self.index.get(&(start, end)) {
            return i;
        }
        let w = Window {
            start,
            end,
            keys: KeyTable::new(),
            cols: self.proto.empty_like(),
            emitted: Vec::new(),
            dirty: false,
        };
        let idx = super::slab_put(&mut self.slab, &mut self.free, w);
        self.index.insert((start, end), idx);
        if end <= wm {
            // Created by a late event: already past its emission point.
            self.retained.insert((end + self.lateness, start, idx));
            self.next_due = self.next_due.min(end + self.lateness);
        } else {
            self.pending.insert((end, start, idx));
            self.next_due = self.next_due.min(end);
        }
        idx
    }

    /// [`ingest`](Self::ingest) for the one window of a tumbling event.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn ingest_tumbling(
        &mut self,
        t: i64,
        size: i64,
        wm: i64,
        hash: u64,
        key: &[u8],
        input: Input<'_>,
        sink: &mut Emitter<'_>,
    ) -> bool {
        let (e, idx) = match (self.cache_key.first(), self.cache_idx.first()) {
            // Same window as the previous event: no division, no lookup.
            (Some(&(s, e)), Some(&i)) if s <= t && t < e && wm < e + self.lateness => (e, i),
            _ => {
                let (s, e) = crate::window::tumbling::assign(t, size);
                if wm >= e + self.lateness {
                    return false;
                }
                let i = self.get_or_create(s, e, wm);
                self.cache_key.clear();
                self.cache_key.push((s, e));
                self.cache_idx.clear();
                self.cache_idx.push(i);
                (e, i)
            }
        };
        let Some(Some(w)) = self.slab.get_mut(idx as usize) else {
            return false;
        };
        let (g, new) = w.keys.intern(hash, key);
        if new {
            w.cols.push_group();
        }
        w.cols.update(g as usize, input);
        if e <= wm {
            w.emit_group(g, sink);
        } else {
            w.dirty = true;
        }
        true
    }
}

impl WindowState for FixedWindows {
    #[inline(always)]
    fn next_due(&self) -> i64 {
        self.next_due
    }

    /// Whether an event at `t` (watermark `wm`) with this key would open no
    /// new group: every window it would update holds the key already.
    fn knows(&self, t: i64, wm: i64, hash: u64, key: &[u8]) -> bool {
        let mut ws = Vec::new();
        self.windowing.assign(t, &mut ws);
        ws.iter()
            .filter(|&&(_, e)| wm < e.saturating_add(self.lateness))
            .all(|w| {
                self.index
                    .get(w)
                    .and_then(|&i| self.slab.get(i as usize)?.as_ref())
                    .is_some_and(|w| w.keys.find(hash, key).is_some())
            })
    }

    /// Adds one event; returns false when every window of the event is
    /// beyond allowed lateness (the caller routes it to late output).
    #[inline]
    fn ingest(
        &mut self,
        t: i64,
        wm: i64,
        hash: u64,
        key: &[u8],
        input: Input<'_>,
        sink: &mut Emitter<'_>,
    ) -> bool {
        if let Windowing::Tumbling { size } = self.windowing {
            return self.ingest_tumbling(t, size, wm, hash, key, input, sink);
        }
        self.assign.clear();
        self.windowing.assign(t, &mut self.assign);
        if self.assign != self.cache_key {
            self.cache_idx.clear();
            for i in 0..self.assign.len() {
                let (s, e) = self.assign[i];
                let idx = if wm >= e + self.lateness {
                    u32::MAX
                } else {
                    self.get_or_create(s, e, wm)
                };
                self.cache_idx.push(idx);
            }
            self.cache_key.clone_from(&self.assign);
        }
        let mut applied = false;
        let mut skipped = 0u64;
        for (i, &(_, e)) in self.assign.iter().enumerate() {
            if wm >= e + self.lateness {
                skipped += 1;
                continue;
            }
            let Some(Some(w)) = self.slab.get_mut(self.cache_idx[i] as usize) else {
                continue;
            };
            let (g, new) = w.keys.intern(hash, key);
            if new {
                w.cols.push_group();
            }
            w.cols.update(g as usize, input);
            applied = true;
            if e <= wm {
                w.emit_group(g, sink);
            } else {
                w.dirty = true;
            }
        }
        if applied {
            sink.m.late_window_updates_skipped += skipped;
        }
        applied
    }

    /// Emits windows whose end the watermark reached and frees those past
    /// their lateness.
    fn fire(&mut self, wm: i64, sink: &mut Emitter<'_>) {
        while let Some(&(end, start, idx)) = self.pending.first() {
            if end > wm {
                break;
            }
            self.pending.pop_first();
            if let Some(Some(w)) = self.slab.get_mut(idx as usize) {
                for (key, g) in w.sorted_groups() {
                    let gi = g as usize;
                    sink.emit(w.start, w.end, key, &w.cols, gi, 0, false);
                }
                w.emitted = vec![1; w.keys.len()];
                w.dirty = false;
            }
            self.retained.insert((end + self.lateness, start, idx));
        }
        let mut freed = false;
        while let Some(&(until, start, idx)) = self.retained.first() {
            if until > wm {
                break;
            }
            self.retained.pop_first();
            if let Some(slot) = self.slab.get_mut(idx as usize) {
                if let Some(w) = slot.take() {
                    self.index.remove(&(start, w.end));
                }
                self.free.push(idx);
            }
            freed = true;
        }
        if freed {
            self.cache_key.clear();
            self.cache_idx.clear();
        }
        let p = self.pending.first().map_or(i64::MAX, |x| x.0);
        let r = self.retained.first().map_or(i64::MAX, |x| x.0);
        self.next_due = p.min(r);
    }

    /// Emits every changed open window as provisional results.
    fn emit_provisional(&mut self, _wm: i64, sink: &mut Emitter<'_>) {
        for &(_, _, idx) in &self.pending {
            if let Some(Some(w)) = self.slab.get_mut(idx as usize) {
                if !w.dirty {
                    continue;
                }
                w.dirty = false;
                for (key, g) in w.sorted_groups() {
                    sink.emit(w.start, w.end, key, &w.cols, g as usize, 0, true);
                }
            }
        }
    }

    /// Smallest start of a window still held (open or within lateness).
    fn retained_from(&self) -> Option<i64> {
        self.index.keys().map(|&(s, _)| s).min()
    }

    /// (windows, groups, approximate bytes).
    fn usage(&self) -> (u64, u64, u64) {
        let mut n = 0u64;
        let mut groups = 0u64;
        let mut bytes = (self.slab.capacity() * std::mem::size_of::<Option<Window>>()
            + self.index.capacity() * 24
            + (self.pending.len() + self.retained.len()) * 40) as u64;
        for w in self.slab.iter().flatten() {
            n += 1;
            groups += w.keys.len() as u64;
            bytes += (w.keys.heap_bytes() + w.cols.state_bytes() + w.emitted.capacity() * 4) as u64;
        }
        (n, groups, bytes)
    }
}
