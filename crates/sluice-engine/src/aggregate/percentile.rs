//! `percentile`: quantiles from a DDSketch, our own implementation.
//!
//! Relative accuracy α = 1%: with γ = (1+α)/(1−α), a positive value `x` is
//! counted in bucket `⌈log_γ x⌉`, and a bucket `i` reports `2γ^i/(γ+1)`,
//! which is within 1% (relative) of every value in it. Negative values use a
//! mirrored store; magnitudes below 1e-9 count as zero; NaN and infinities are
//! ignored. The quantile `q` of `n` values is the bucket of the value at rank
//! `⌊q·(n−1)⌋` of the sorted input, so the answer is within 1% of that exact
//! order statistic. Buckets are never collapsed: memory is proportional to
//! the log-range of the data (≈ 115 buckets per factor of 10).
//! Merging adds bucket counts, so the sketch is order-independent.

use super::{Input, Reducer};
use crate::output::AggValue;

/// Offset of bucket keys in [`AggState::Sketch`](crate::output::AggState):
/// positive bucket `i` is `KEY_OFFSET + i`, negative `-KEY_OFFSET - i`.
pub const KEY_OFFSET: i32 = 1 << 20;

/// Relative accuracy of reported quantiles.
pub const RELATIVE_ACCURACY: f64 = 0.01;
const MIN_MAGNITUDE: f64 = 1e-9;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Store {
    offset: i32,
    counts: Vec<u64>,
}

impl Store {
    fn add(&mut self, idx: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(n);
            return;
        }
        if idx < self.offset {
            let shift = (self.offset - idx) as usize;
            let mut c = vec![0u64; shift + self.counts.len()];
            c[shift..].copy_from_slice(&self.counts);
            self.counts = c;
            self.offset = idx;
        }
        let i = (idx - self.offset) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
    }

    fn merge(&mut self, other: &Store) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add(other.offset + i as i32, c);
            }
        }
    }
}

/// A DDSketch with 1% relative accuracy.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DdSketch {
    pos: Store,
    neg: Store,
    zero: u64,
    count: u64,
}

impl DdSketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn index(x: f64) -> i32 {
        (x.ln() / gamma().ln()).ceil() as i32
    }

    fn value(i: i32) -> f64 {
        let g = gamma();
        2.0 * (f64::from(i) * g.ln()).exp() / (g + 1.0)
    }

    /// Adds a value. Never inlined: LLVM would otherwise hoist the pure
    /// `ln` call out of the engine's per-kind `match`, running it for every
    /// aggregate kind.
    #[inline(never)]
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.count += 1;
        if x > MIN_MAGNITUDE {
            self.pos.add(Self::index(x), 1);
        } else if x < -MIN_MAGNITUDE {
            self.neg.add(Self::index(-x), 1);
        } else {
            self.zero += 1;
        }
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: &DdSketch) {
        self.pos.merge(&other.pos);
        self.neg.merge(&other.neg);
        self.zero += other.zero;
        self.count += other.count;
    }

    /// The approximate `q`-quantile, `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        for (i, &c) in self.neg.counts.iter().enumerate().rev() {
            seen += c;
            if seen > rank {
                return Some(-Self::value(self.neg.offset + i as i32));
            }
        }
        seen += self.zero;
        if seen > rank {
            return Some(0.0);
        }
        for (i, &c) in self.pos.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return Some(Self::value(self.pos.offset + i as i32));
            }
        }
        None
    }

    /// `(key, count)` pairs sorted by key, keys ordered like the values
    /// (see [`KEY_OFFSET`]).
    pub fn buckets(&self) -> Vec<(i32, u64)> {
        let mut out = Vec::new();
        for (i, &c) in self.neg.counts.iter().enumerate().rev() {
            if c > 0 {
                out.push((-KEY_OFFSET - (self.neg.offset + i as i32), c));
            }
        }
        if self.zero > 0 {
            out.push((0, self.zero));
        }
        for (i, &c) in self.pos.counts.iter().enumerate() {
            if c > 0 {
                out.push((KEY_OFFSET + self.pos.offset + i as i32, c));
            }
        }
        out
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.pos.counts.capacity() + self.neg.counts.capacity()) * 8
    }
}

/// The reducer over [`DdSketch`] states.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Percentile {
    /// Quantiles to report.
    pub quantiles: Vec<f64>,
}

impl Reducer for Percentile {
    type State = DdSketch;

    fn init(&self) -> DdSketch {
        DdSketch::new()
    }

    #[inline]
    fn update(&self, state: &mut DdSketch, input: Input<'_>) {
        match input {
            Input::Int(v) => state.add(v as f64),
            Input::Float(v) => state.add(v),
            Input::Null | Input::Bytes(_) => {}
        }
    }

    fn merge(&self, into: &mut DdSketch, from: DdSketch) {
        into.merge(&from);
    }

    fn finish(&self, state: &DdSketch) -> AggValue {
        if state.count() == 0 {
            return AggValue::Null;
        }
        AggValue::Quantiles(
            self.quantiles
                .iter()
                .map(|&q| (q, state.quantile(q).unwrap_or(f64::NAN)))
                .collect(),
        )
    }

    fn heap_bytes(&self, state: &DdSketch) -> usize {
        state.heap_bytes()
    }

    fn export(&self, state: &DdSketch) -> Option<crate::output::AggState> {
        Some(crate::output::AggState::Sketch(state.buckets()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_relative_accuracy() {
        let mut vals: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f64 * 0.37 - 500.0)
            .collect();
        let mut s = DdSketch::new();
        for &v in &vals {
            s.add(v);
        }
        vals.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0] {
            let exact = vals[(q * (vals.len() - 1) as f64).floor() as usize];
            let got = s.quantile(q).unwrap();
            assert!(
                (got - exact).abs() <= RELATIVE_ACCURACY * exact.abs() + 1e-9,
                "q={q} exact={exact} got={got}"
            );
        }
    }

    #[test]
    fn merge_equals_single_sketch() {
        let mut a = DdSketch::new();
        let mut b = DdSketch::new();
        let mut all = DdSketch::new();
        for i in 0..1000 {
            let v = (i as f64 - 300.0) * 1.5;
            all.add(v);
            if i % 3 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
        }
        b.merge(&a);
        for q in [0.1, 0.5, 0.95] {
            assert_eq!(b.quantile(q), all.quantile(q));
        }
    }
}
