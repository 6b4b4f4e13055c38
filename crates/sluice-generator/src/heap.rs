//! A 4-ary min-heap of `u128` keys for the session scheduler: half the depth
//! of a binary heap and the four children of a node side by side, so the
//! sift after each event touches about half as many cache lines.
//!
//! Only the operations the simulation needs: push, peek, replace the top.

/// A 4-ary min-heap.
#[derive(Clone, Debug, Default)]
pub struct Heap4 {
    v: Vec<u128>,
}

impl Heap4 {
    /// An empty heap with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            v: Vec::with_capacity(n),
        }
    }

    /// The smallest key.
    #[inline]
    pub fn peek(&self) -> Option<u128> {
        self.v.first().copied()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Adds a key.
    pub fn push(&mut self, k: u128) {
        let mut i = self.v.len();
        self.v.push(k);
        while i > 0 {
            let p = (i - 1) / 4;
            if self.v[p] <= k {
                break;
            }
            self.v[i] = self.v[p];
            i = p;
        }
        self.v[i] = k;
    }

    /// Replaces the smallest key by `k` and restores the heap order.
    #[inline]
    pub fn replace_top(&mut self, k: u128) {
        let n = self.v.len();
        if n == 0 {
            return;
        }
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            // Smallest child (branch-light: children are contiguous).
            let end = (c + 4).min(n);
            let mut m = c;
            let mut mk = self.v[c];
            for j in c + 1..end {
                let x = self.v[j];
                if x < mk {
                    mk = x;
                    m = j;
                }
            }
            if mk >= k {
                break;
            }
            self.v[i] = mk;
            i = m;
        }
        self.v[i] = k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Rand, SplitMix};

    #[test]
    fn pops_in_order() {
        let mut h = Heap4::with_capacity(100);
        let mut r = SplitMix(1);
        for _ in 0..1000 {
            h.push(r.below(1000) as u128);
        }
        let mut last = 0;
        for _ in 0..5000 {
            let top = h.peek().unwrap();
            assert!(top >= last);
            last = top;
            h.replace_top(top + r.below(500) as u128);
        }
        assert_eq!(h.len(), 1000);
    }
}
