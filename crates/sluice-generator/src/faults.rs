//! Disorder and faults on demand, with exact counts.
//!
//! Each base event (before duplicates) has an index `i`. Indices are cut into
//! windows of [`WINDOW`] events (the last window of a `count`-limited run is
//! shortened to end exactly at `count`). In window `k` covering `[a, b)`, a
//! fault kind with share `r` gets exactly `c(b) - c(a)` events, where
//! `c(n) = floor(n * ppb / 10^9)` and `ppb = round(r * 10^9)` (integer
//! arithmetic, no float rounding surprises). Which positions of the window
//! are hit is a seeded shuffle of the window, and kinds never overlap (out of
//! order, late, duplicate and malformed take consecutive runs of the
//! shuffle). So after `n` events a kind has been injected exactly `c(n)`
//! times whenever `n` ends a window — in particular for the whole of a
//! `count`-limited run: **`floor(count × share)` events of each kind** (share
//! rounded to 9 decimals). Malformed events cycle through the requested
//! malformed kinds in order, so each gets its exact share of the malformed
//! count. [`FaultCounts`] always reports what was actually injected.

use crate::rng::{combine, Rand, SplitMix};

/// Events per selection window.
pub const WINDOW: u64 = 1_000;

/// One way a record can be malformed (for dead-letter tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MalformedKind {
    /// A field is written with the wrong type. Avro: `event_id` is written as
    /// the long `-1` (byte `0x01`), which a reader sees as a negative string
    /// length. JSON: the first non-envelope field has a value of the wrong
    /// JSON type (a number for text, a string otherwise).
    WrongType,
    /// The record is cut in half (Avro: the first `len / 2` bytes; JSON: the
    /// first half of the line, still ending in a newline).
    Truncated,
    /// The last required field is left out (Avro: its bytes are omitted —
    /// in every shipped domain it is the last field, so readers hit the end
    /// of the record; JSON: its key is omitted).
    MissingField,
}

impl MalformedKind {
    /// Every kind, in the order they are cycled through.
    pub const ALL: [MalformedKind; 3] = [
        MalformedKind::WrongType,
        MalformedKind::Truncated,
        MalformedKind::MissingField,
    ];

    /// Parses `wrong_type`, `truncated` or `missing_field`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wrong_type" => Some(Self::WrongType),
            "truncated" => Some(Self::Truncated),
            "missing_field" => Some(Self::MissingField),
            _ => None,
        }
    }
}

/// What to inject. Shares are fractions of base events in `[0, 1]` and must
/// add up to at most 1 (kinds never overlap).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultOptions {
    /// Share of events whose `event_time` is moved back by 1..=`max_disorder_ms`
    /// below the largest event time emitted before them.
    pub out_of_order: f64,
    /// Bound of the out-of-order jitter, in ms (≥ 1).
    pub max_disorder_ms: i64,
    /// Share of events moved back by more than `lateness_ms` below the largest
    /// event time emitted before them.
    pub late: f64,
    /// How far behind a late event is, at least (exclusive), in ms.
    pub lateness_ms: i64,
    /// Late events are up to this much further behind, in ms (≥ 1).
    pub late_extra_ms: i64,
    /// Share of events emitted twice in a row (same bytes, same `event_id`).
    pub duplicate: f64,
    /// Share of events written malformed.
    pub malformed: f64,
    /// Which malformed kinds to cycle through (empty = all).
    pub malformed_kinds: Vec<MalformedKind>,
}

impl Default for FaultOptions {
    fn default() -> Self {
        Self {
            out_of_order: 0.0,
            max_disorder_ms: 5_000,
            late: 0.0,
            lateness_ms: 60_000,
            late_extra_ms: 60_000,
            duplicate: 0.0,
            malformed: 0.0,
            malformed_kinds: Vec::new(),
        }
    }
}

impl FaultOptions {
    /// True when nothing is injected.
    pub fn is_none(&self) -> bool {
        self.out_of_order == 0.0
            && self.late == 0.0
            && self.duplicate == 0.0
            && self.malformed == 0.0
    }

    /// Checks ranges; the error text names the offending option.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("out_of_order", self.out_of_order),
            ("late", self.late),
            ("duplicate", self.duplicate),
            ("malformed", self.malformed),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("share `{name}` = {v} is not between 0 and 1"));
            }
        }
        let total: u64 = [self.out_of_order, self.late, self.duplicate, self.malformed]
            .iter()
            .map(|r| ppb(*r))
            .sum();
        if total > 1_000_000_000 {
            return Err(
                "fault shares add up to more than 1; each event gets at most one fault".into(),
            );
        }
        if self.max_disorder_ms < 1 || self.late_extra_ms < 1 || self.lateness_ms < 0 {
            return Err(
                "`max_disorder_ms` and `late_extra_ms` must be ≥ 1 and `lateness_ms` ≥ 0".into(),
            );
        }
        Ok(())
    }
}

/// What was injected, exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Events moved back within the disorder bound.
    pub out_of_order: u64,
    /// Events moved back beyond the lateness.
    pub late: u64,
    /// Extra copies emitted.
    pub duplicates: u64,
    /// Records with a wrong-typed field.
    pub wrong_type: u64,
    /// Truncated records.
    pub truncated: u64,
    /// Records missing a required field.
    pub missing_field: u64,
}

impl FaultCounts {
    /// All malformed records.
    pub fn malformed(&self) -> u64 {
        self.wrong_type + self.truncated + self.missing_field
    }
}

/// The fault assigned to one base event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Untouched.
    None,
    /// Out of order.
    OutOfOrder,
    /// Late.
    Late,
    /// Emitted twice.
    Duplicate,
    /// Malformed in this way.
    Malformed(MalformedKind),
}

/// `round(r * 10^9)`.
pub fn ppb(r: f64) -> u64 {
    (r.clamp(0.0, 1.0) * 1e9).round() as u64
}

/// `floor(n * ppb / 10^9)` exactly.
pub fn quota(n: u64, ppb: u64) -> u64 {
    ((n as u128 * ppb as u128) / 1_000_000_000) as u64
}

/// Assigns faults to event indices, window by window.
#[derive(Clone, Debug)]
pub struct Selector {
    ppb: [u64; 4],
    kinds: Vec<MalformedKind>,
    key: u64,
    limit: Option<u64>,
    window_start: u64,
    window_end: u64,
    assigned: Vec<u8>,
    order: Vec<u32>,
    malformed_seen: u64,
    active: bool,
}

impl Selector {
    /// A selector for `opts`, seeded by `seed`; `limit` is the number of base
    /// events when known (so the last window ends exactly there).
    pub fn new(opts: &FaultOptions, seed: u64, limit: Option<u64>) -> Self {
        let kinds = if opts.malformed_kinds.is_empty() {
            MalformedKind::ALL.to_vec()
        } else {
            opts.malformed_kinds.clone()
        };
        Self {
            ppb: [
                ppb(opts.out_of_order),
                ppb(opts.late),
                ppb(opts.duplicate),
                ppb(opts.malformed),
            ],
            kinds,
            key: combine(seed, 0xFA17),
            limit,
            window_start: 0,
            window_end: 0,
            assigned: Vec::new(),
            order: Vec::new(),
            malformed_seen: 0,
            active: !opts.is_none(),
        }
    }

    /// The fault of base event `i`; call with `i = 0, 1, 2, ...` in order.
    #[inline]
    pub fn fault(&mut self, i: u64) -> Fault {
        if !self.active {
            return Fault::None;
        }
        if i >= self.window_end {
            self.start_window(i);
        }
        match self.assigned[(i - self.window_start) as usize] {
            1 => Fault::OutOfOrder,
            2 => Fault::Late,
            3 => Fault::Duplicate,
            4 => {
                let k = self.kinds[(self.malformed_seen % self.kinds.len() as u64) as usize];
                self.malformed_seen += 1;
                Fault::Malformed(k)
            }
            _ => Fault::None,
        }
    }

    fn start_window(&mut self, i: u64) {
        let k = i / WINDOW;
        let a = k * WINDOW;
        let mut b = a + WINDOW;
        if let Some(l) = self.limit {
            if l > a && l < b {
                b = l;
            }
        }
        self.window_start = a;
        self.window_end = b;
        let size = (b - a) as usize;
        self.assigned.clear();
        self.assigned.resize(size, 0);
        // Positions 0..size shuffled (Fisher–Yates with the window's own generator).
        let order = &mut self.order;
        order.clear();
        order.extend(0..size as u32);
        let mut r = SplitMix(combine(self.key, k));
        for j in (1..size).rev() {
            let x = r.below(j as u64 + 1) as usize;
            order.swap(j, x);
        }
        let mut next = 0usize;
        for (kind, ppb) in self.ppb.iter().enumerate() {
            let c = (quota(b, *ppb) - quota(a, *ppb)) as usize;
            for pos in &order[next..(next + c).min(size)] {
                self.assigned[*pos as usize] = kind as u8 + 1;
            }
            next += c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exact_for_any_limit() {
        for n in [1u64, 999, 1000, 1001, 12_345, 100_000] {
            let opts = FaultOptions {
                out_of_order: 0.07,
                late: 0.29,
                duplicate: 0.001,
                malformed: 0.03,
                ..Default::default()
            };
            let mut s = Selector::new(&opts, 42, Some(n));
            let mut c = [0u64; 5];
            for i in 0..n {
                match s.fault(i) {
                    Fault::None => c[0] += 1,
                    Fault::OutOfOrder => c[1] += 1,
                    Fault::Late => c[2] += 1,
                    Fault::Duplicate => c[3] += 1,
                    Fault::Malformed(_) => c[4] += 1,
                }
            }
            assert_eq!(c[1], quota(n, ppb(0.07)), "n={n}");
            assert_eq!(c[2], n * 29 / 100, "n={n}");
            assert_eq!(c[3], n / 1000, "n={n}");
            assert_eq!(c[4], n * 3 / 100, "n={n}");
        }
    }

    #[test]
    fn rejects_overfull_shares() {
        let o = FaultOptions {
            late: 0.6,
            duplicate: 0.5,
            ..Default::default()
        };
        assert!(o.check().is_err());
        assert!(FaultOptions::default().check().is_ok());
    }
}
