//! State of session windows of one aggregation.
//!
//! Sessions of every key live in a slab whose index is also the group id in
//! one shared [`Columns`]; merging two sessions merges their column states.
//! A key table maps group keys to the key's open sessions. When an event's
//! proto-window `[t, t + gap)` overlaps sessions of its key they merge into
//! one; the merged session remembers the most emissions of its parts, so a
//! session re-emitted after growing carries the next revision.

use std::collections::BTreeSet;

use super::{Emitter, WindowState};
use crate::aggregate::{Columns, Input};
use crate::keys::{decode_key, KeyTable};
use crate::output::KeyValue;
use crate::window::session::overlaps;

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Session {
    key: u32,
    start: i64,
    end: i64,
    emissions: u32,
    live: bool,
    fired: bool,
    dirty: bool,
}

/// Sessions of one aggregation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionWindows {
    gap: i64,
    lateness: i64,
    keys: KeyTable,
    by_key: Vec<Vec<u32>>,
    live_keys: usize,
    sessions: Vec<Session>,
    free: Vec<u32>,
    cols: Columns,
    pending: BTreeSet<(i64, i64, u32)>,
    retained: BTreeSet<(i64, i64, u32)>,
    scratch: Vec<u32>,
    /// Smallest watermark at which `fire` has something to do (may be early).
    pub next_due: i64,
}

impl SessionWindows {
    pub(crate) fn new(gap: i64, lateness: i64, proto: Columns) -> Self {
        Self {
            gap,
            lateness,
            keys: KeyTable::new(),
            by_key: Vec::new(),
            live_keys: 0,
            sessions: Vec::new(),
            free: Vec::new(),
            cols: proto.empty_like(),
            pending: BTreeSet::new(),
            retained: BTreeSet::new(),
            scratch: Vec::new(),
            next_due: i64::MAX,
        }
    }

    fn unlink(&mut self, sid: u32) {
        let s = &self.sessions[sid as usize];
        if s.fired {
            self.retained.remove(&(s.end + self.lateness, s.start, sid));
        } else {
            self.pending.remove(&(s.end, s.start, sid));
        }
    }

    fn link(&mut self, sid: u32) {
        let s = &self.sessions[sid as usize];
        if s.fired {
            self.retained.insert((s.end + self.lateness, s.start, sid));
            self.next_due = self.next_due.min(s.end + self.lateness);
        } else {
            self.pending.insert((s.end, s.start, sid));
            self.next_due = self.next_due.min(s.end);
        }
    }

    fn emit(&mut self, sid: u32, provisional: bool, sink: &mut Emitter<'_>) {
        let s = &mut self.sessions[sid as usize];
        let rev = s.emissions;
        if !provisional {
            s.emissions += 1;
        }
        let key = decode_key(self.keys.key(s.key));
        sink.emit(
            s.start,
            s.end,
            key,
            &self.cols,
            sid as usize,
            rev,
            provisional,
        );
    }

    /// Rebuilds the key table when most interned keys have no session left,
    /// so memory follows the live keys, not every key ever seen.
    fn compact_keys(&mut self) {
        if self.keys.len() < 1024 || self.live_keys * 2 > self.keys.len() {
            return;
        }
        let mut keys = KeyTable::new();
        let mut by_key = Vec::with_capacity(self.live_keys);
        for old in 0..self.keys.len() as u32 {
            let list = std::mem::take(&mut self.by_key[old as usize]);
            if list.is_empty() {
                continue;
            }
            let bytes = self.keys.key(old);
            let (new, _) = keys.intern(crate::hash::hash_key(bytes), bytes);
            for &sid in &list {
                self.sessions[sid as usize].key = new;
            }
            by_key.push(list);
        }
        self.keys = keys;
        self.by_key = by_key;
        self.live_keys = self.by_key.len();
    }
}

impl WindowState for SessionWindows {
    #[inline(always)]
    fn next_due(&self) -> i64 {
        self.next_due
    }

    /// Adds one event; returns false when it joins no live session and its
    /// own session would be beyond allowed lateness.
    /// Whether an event at `t` with this key would open no new session: it
    /// falls into one of the key's open sessions.
    fn knows(&self, t: i64, _wm: i64, hash: u64, key: &[u8]) -> bool {
        let proto = (t, t.saturating_add(self.gap));
        self.keys.find(hash, key).is_some_and(|kid| {
            self.by_key.get(kid as usize).is_some_and(|ss| {
                ss.iter().any(|&sid| {
                    let s = &self.sessions[sid as usize];
                    overlaps((s.start, s.end), proto)
                })
            })
        })
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
        let proto = (t, t + self.gap);
        let (kid, new_key) = self.keys.intern(hash, key);
        if new_key {
            self.by_key.push(Vec::new());
        }
        let kidx = kid as usize;
        self.scratch.clear();
        for &sid in &self.by_key[kidx] {
            let s = &self.sessions[sid as usize];
            if overlaps((s.start, s.end), proto) {
                self.scratch.push(sid);
            }
        }
        if self.scratch.is_empty() && wm >= proto.1 + self.lateness {
            return false;
        }
        let target = if let Some(&first) = self.scratch.first() {
            first
        } else {
            let sid = match self.free.pop() {
                Some(sid) => {
                    self.cols.reset(sid as usize);
                    sid
                }
                None => {
                    self.sessions.push(Session::default());
                    self.cols.push_group();
                    (self.sessions.len() - 1) as u32
                }
            };
            self.sessions[sid as usize] = Session {
                key: kid,
                start: proto.0,
                end: proto.1,
                emissions: 0,
                live: true,
                fired: false,
                dirty: false,
            };
            if self.by_key[kidx].is_empty() {
                self.live_keys += 1;
            }
            self.by_key[kidx].push(sid);
            self.link(sid);
            sid
        };
        self.unlink(target);
        let (mut start, mut end) = proto;
        let mut emissions = 0;
        for i in 0..self.scratch.len() {
            let sid = self.scratch[i];
            let s = &self.sessions[sid as usize];
            start = start.min(s.start);
            end = end.max(s.end);
            emissions = emissions.max(s.emissions);
            if sid != target {
                self.unlink(sid);
                self.cols.merge(target as usize, sid as usize);
                self.sessions[sid as usize].live = false;
                self.by_key[kidx].retain(|&x| x != sid);
                self.free.push(sid);
            }
        }
        self.cols.update(target as usize, input);
        let s = &mut self.sessions[target as usize];
        s.start = start;
        s.end = end;
        s.emissions = emissions;
        if end <= wm {
            s.fired = true;
            self.emit(target, false, sink);
        } else {
            s.fired = false;
            s.dirty = true;
        }
        self.link(target);
        true
    }

    /// Emits sessions whose end the watermark reached, in (end, start, key)
    /// order, and frees those past their lateness.
    fn fire(&mut self, wm: i64, sink: &mut Emitter<'_>) {
        let mut due: Vec<(i64, i64, Vec<KeyValue>, u32)> = Vec::new();
        while let Some(&(end, start, sid)) = self.pending.first() {
            if end > wm {
                break;
            }
            self.pending.pop_first();
            due.push((
                end,
                start,
                decode_key(self.keys.key(self.sessions[sid as usize].key)),
                sid,
            ));
        }
        due.sort();
        for (_, _, _, sid) in due {
            self.sessions[sid as usize].fired = true;
            self.sessions[sid as usize].dirty = false;
            self.emit(sid, false, sink);
            self.link(sid);
        }
        while let Some(&(until, _, sid)) = self.retained.first() {
            if until > wm {
                break;
            }
            self.retained.pop_first();
            let kidx = self.sessions[sid as usize].key as usize;
            self.sessions[sid as usize].live = false;
            self.cols.reset(sid as usize);
            self.by_key[kidx].retain(|&x| x != sid);
            if self.by_key[kidx].is_empty() {
                self.live_keys -= 1;
            }
            self.free.push(sid);
        }
        self.compact_keys();
        let p = self.pending.first().map_or(i64::MAX, |x| x.0);
        let r = self.retained.first().map_or(i64::MAX, |x| x.0);
        self.next_due = p.min(r);
    }

    /// Emits every changed open session as provisional results.
    fn emit_provisional(&mut self, _wm: i64, sink: &mut Emitter<'_>) {
        let mut due: Vec<(i64, i64, Vec<KeyValue>, u32)> = Vec::new();
        for &(end, start, sid) in &self.pending {
            if self.sessions[sid as usize].dirty {
                due.push((
                    end,
                    start,
                    decode_key(self.keys.key(self.sessions[sid as usize].key)),
                    sid,
                ));
            }
        }
        due.sort();
        for (_, _, _, sid) in due {
            self.sessions[sid as usize].dirty = false;
            self.emit(sid, true, sink);
        }
    }

    /// (sessions, groups, approximate bytes).
    /// Smallest start of a session still held.
    fn retained_from(&self) -> Option<i64> {
        self.sessions
            .iter()
            .filter(|s| s.live)
            .map(|s| s.start)
            .min()
    }

    fn usage(&self) -> (u64, u64, u64) {
        let live = (self.pending.len() + self.retained.len()) as u64;
        let bytes = self.keys.heap_bytes()
            + self.by_key.capacity() * 24
            + self.sessions.capacity() * std::mem::size_of::<Session>()
            + self.cols.state_bytes()
            + (self.pending.len() + self.retained.len()) * 40;
        (live, live, bytes as u64)
    }
}
