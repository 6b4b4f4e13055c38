//! Session windows: the proto-window of one event. Merging lives in the
//! engine's session state, which keeps the sessions of every key.

/// The proto-window `[t, t + gap)` of an event at `t`.
#[inline(always)]
pub fn proto(t: i64, gap: i64) -> (i64, i64) {
    (t, t + gap)
}

/// True when two half-open windows overlap (and so belong to one session).
#[inline(always)]
pub fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}
