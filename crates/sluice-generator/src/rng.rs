//! Deterministic random numbers.
//!
//! The main stream of a generator is ChaCha8 (block-buffered by
//! `rand_chacha`), seeded from the user's seed. Values that must be stable
//! per entity or per session (a user's country, a session's device) are drawn
//! from a tiny SplitMix64 generator seeded by hashing `(seed, entity or
//! session, field name)`, so they can be recomputed on every event without
//! storing anything. Nothing here reads the clock or the OS entropy pool.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A source of uniformly distributed 64-bit words.
pub trait Rand {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A double uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A double uniform in `(0, 1]`: safe to take the logarithm of.
    #[inline]
    fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An integer uniform in `[0, n)` (Lemire's multiply-shift; the bias is
    /// below 2^-32 for the table sizes used here and the result is exact and
    /// deterministic). `n == 0` yields 0.
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal deviate from one 64-bit draw: the top 12 bits pick
    /// one of 4096 equal-probability segments of a precomputed quantile
    /// table, the next bits a point inside it (linear interpolation); the two
    /// outermost segments use the exact tail method (Marsaglia 1964). Each
    /// segment carries exactly 1/4096 of the probability; no trigonometry or
    /// logarithm on the common path.
    #[inline]
    fn std_normal(&mut self) -> f64 {
        let x = self.next_u64();
        let q = normal_table();
        let idx = (x >> (64 - NORMAL_BITS)) as usize;
        if idx == 0 || idx == NORMAL_SEGMENTS - 1 {
            let r = q[NORMAL_SEGMENTS - 1];
            let z = normal_tail(self, r);
            return if idx == 0 { -z } else { z };
        }
        let frac = ((x >> 11) & ((1 << (64 - NORMAL_BITS - 11)) - 1)) as f64
            * (1.0 / (1u64 << (64 - NORMAL_BITS - 11)) as f64);
        q[idx] + (q[idx + 1] - q[idx]) * frac
    }
}

const NORMAL_BITS: u32 = 12;
const NORMAL_SEGMENTS: usize = 1 << NORMAL_BITS;

/// A standard normal value beyond `r` (> 0): Marsaglia's tail algorithm.
fn normal_tail<R: Rand + ?Sized>(rng: &mut R, r: f64) -> f64 {
    loop {
        let x = (r * r - 2.0 * rng.unit_open0().ln()).sqrt();
        if rng.unit() * x < r {
            return x;
        }
    }
}

/// Quantiles `q[k] = Φ⁻¹(k / 4096)` for `k = 1..4095` (entries 0 and 4096
/// are unused sentinels), computed once by integrating the density with
/// Simpson's rule on a fine grid and inverting by interpolation. The same
/// arithmetic everywhere, so it is identical from run to run.
fn normal_table() -> &'static [f64; NORMAL_SEGMENTS + 1] {
    static TABLE: std::sync::OnceLock<Box<[f64; NORMAL_SEGMENTS + 1]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let (lo, hi) = (-10.0f64, 10.0f64);
        let steps = 1usize << 16;
        let h = (hi - lo) / steps as f64;
        let pdf = |x: f64| (-0.5 * x * x).exp();
        // Cumulative integral at each grid point (Simpson on half-steps).
        let mut cdf = vec![0.0f64; steps + 1];
        for i in 0..steps {
            let a = lo + i as f64 * h;
            let area = h / 6.0 * (pdf(a) + 4.0 * pdf(a + h / 2.0) + pdf(a + h));
            cdf[i + 1] = cdf[i] + area;
        }
        let total = cdf[steps];
        let mut q = Box::new([0.0f64; NORMAL_SEGMENTS + 1]);
        let mut i = 0;
        for (k, slot) in q.iter_mut().enumerate().take(NORMAL_SEGMENTS).skip(1) {
            let target = k as f64 / NORMAL_SEGMENTS as f64 * total;
            while cdf[i + 1] < target {
                i += 1;
            }
            let f = (target - cdf[i]) / (cdf[i + 1] - cdf[i]);
            *slot = lo + (i as f64 + f) * h;
        }
        q[0] = q[1];
        q[NORMAL_SEGMENTS] = -q[1];
        q
    })
}

/// The main generator: ChaCha8 with 8 rounds, seeded from a `u64`.
#[derive(Clone, Debug)]
pub struct MainRng(ChaCha8Rng);

impl MainRng {
    /// A generator for `seed` and a stream number (different streams of one
    /// seed are independent).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self(rng)
    }
}

impl Rand for MainRng {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// SplitMix64: a tiny, fast generator for values derived from a key.
#[derive(Clone, Copy, Debug)]
pub struct SplitMix(pub u64);

impl Rand for SplitMix {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
}

/// A bijective 64-bit finaliser (the SplitMix64 output function): distinct
/// inputs give distinct outputs, so ids made from counters stay unique.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combines two words into a well-mixed key.
#[inline]
pub fn combine(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b.wrapping_add(0x632B_E59B_D9B4_E019)))
}

/// A stable 64-bit hash of text (FNV-1a, then mixed): field names become
/// keys for scoped values, independent of any `HashMap` seed.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = MainRng::new(7, 1);
        let mut b = MainRng::new(7, 1);
        let mut c = MainRng::new(7, 2);
        let va: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn normal_moments_and_quantiles() {
        let mut r = SplitMix(5);
        let n = 400_000;
        let v: Vec<f64> = (0..n).map(|_| r.std_normal()).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
        let beyond = v.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
        assert!((beyond - 0.0027).abs() < 0.0005, "{beyond}");
        let q = normal_table();
        assert!((q[NORMAL_SEGMENTS / 2]).abs() < 1e-9);
        // Φ⁻¹(0.975) = 1.959964
        let x = 0.975 * NORMAL_SEGMENTS as f64;
        let k = x as usize;
        let z = q[k] + (q[k + 1] - q[k]) * (x - k as f64);
        assert!((z - 1.959964).abs() < 1e-4, "{z}");
    }

    #[test]
    fn unit_ranges() {
        let mut r = SplitMix(1);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            let v = r.unit_open0();
            assert!(v > 0.0 && v <= 1.0);
            assert!(r.below(10) < 10);
        }
    }
}
