//! Sampling: weighted choices through alias tables (one random word per
//! draw), continuous distributions (uniform, normal, log-normal,
//! exponential) and Zipf ranks for popularity.
//!
//! Everything is precomputed at build time; sampling never allocates.

use crate::rng::Rand;

/// Walker/Vose alias table: O(1) weighted choice among `n` outcomes.
///
/// Each column is one `u64`: the alternative outcome in the high 32 bits and
/// the keep threshold (32-bit fixed point) in the low 32, so a draw touches
/// one cache line.
#[derive(Clone, Debug)]
pub struct Alias {
    cols: Vec<u64>,
}

impl Alias {
    /// A table for non-negative `weights` with a positive sum. Returns `None`
    /// for an empty list, a negative or non-finite weight or a zero sum.
    pub fn new(weights: &[f64]) -> Option<Self> {
        let n = weights.len();
        if n == 0 || n > u32::MAX as usize {
            return None;
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return None;
        }
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 || !sum.is_finite() {
            return None;
        }
        let mut prob: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut alias = vec![0u32; n];
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, p) in prob.iter().enumerate() {
            if *p < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s] = l as u32;
            prob[l] = (prob[l] + prob[s]) - 1.0;
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are (numerically) exactly 1.
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        // Keep threshold with 32 fractional bits, compared to the low 32 bits
        // of a draw; a column kept with certainty is its own alias.
        let cols = prob
            .iter()
            .zip(&alias)
            .enumerate()
            .map(|(i, (p, a))| {
                let t = (p.clamp(0.0, 1.0) * 4_294_967_296.0) as u64;
                if t >= 1 << 32 {
                    ((i as u64) << 32) | 0xFFFF_FFFF
                } else {
                    ((*a as u64) << 32) | t
                }
            })
            .collect();
        Some(Self { cols })
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    /// True when there are no outcomes (never, for a built table).
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// Draws an outcome index.
    #[inline]
    pub fn sample<R: Rand>(&self, rng: &mut R) -> usize {
        let x = rng.next_u64();
        let n = self.cols.len() as u64;
        let col = (((x >> 32) * n) >> 32) as usize;
        let c = self.cols[col];
        if (x & 0xFFFF_FFFF) < (c & 0xFFFF_FFFF) {
            col
        } else {
            (c >> 32) as usize
        }
    }
}

/// A continuous (or integer-rank) distribution over `f64`.
#[derive(Clone, Debug)]
pub enum Continuous {
    /// Always this value.
    Constant(f64),
    /// Uniform in `[min, max)`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        stddev: f64,
    },
    /// Log-normal: `exp(mu + sigma * N(0,1))`; the median is `exp(mu)`.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Zipf ranks `1..=n` with exponent `s` (rank 1 most popular).
    Zipf(Zipf),
}

impl Continuous {
    /// Draws a value.
    #[inline]
    pub fn sample<R: Rand>(&self, rng: &mut R) -> f64 {
        match self {
            Continuous::Constant(v) => *v,
            Continuous::Uniform { min, max } => min + (max - min) * rng.unit(),
            Continuous::Normal { mean, stddev } => mean + stddev * rng.std_normal(),
            Continuous::LogNormal { mu, sigma } => (mu + sigma * rng.std_normal()).exp(),
            Continuous::Exponential { mean } => -mean * rng.unit_open0().ln(),
            Continuous::Zipf(z) => z.sample(rng) as f64,
        }
    }

    /// The theoretical mean (for calibration and tests).
    pub fn mean(&self) -> f64 {
        match self {
            Continuous::Constant(v) => *v,
            Continuous::Uniform { min, max } => (min + max) / 2.0,
            Continuous::Normal { mean, .. } => *mean,
            Continuous::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Continuous::Exponential { mean } => *mean,
            Continuous::Zipf(z) => z.mean(),
        }
    }
}

/// Zipf ranks: an alias table up to 65 536 ranks, rejection-inversion
/// (Hörmann and Derflinger, 1996) above, so huge catalogues need no table.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    s: f64,
    table: Option<Alias>,
    h_x1: f64,
    h_n: f64,
    cut: f64,
}

const ZIPF_TABLE_MAX: u64 = 1 << 16;

impl Zipf {
    /// Ranks `1..=n` (n ≥ 1) with exponent `s` > 0.
    pub fn new(n: u64, s: f64) -> Option<Self> {
        if n == 0 || !(s > 0.0 && s.is_finite()) {
            return None;
        }
        let table = if n <= ZIPF_TABLE_MAX {
            let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
            Some(Alias::new(&w)?)
        } else {
            None
        };
        let mut z = Self {
            n,
            s,
            table,
            h_x1: 0.0,
            h_n: 0.0,
            cut: 0.0,
        };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(n as f64 + 0.5);
        z.cut = 2.0 - z.big_h_inv(z.big_h(2.5) - z.small_h(2.0));
        Some(z)
    }

    fn small_h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// Integral of x^-s (shifted so it is continuous at s = 1).
    fn big_h(&self, x: f64) -> f64 {
        let lx = x.ln();
        helper_expm1((1.0 - self.s) * lx) * lx
    }

    fn big_h_inv(&self, y: f64) -> f64 {
        let t = (y * (1.0 - self.s)).max(-1.0);
        (helper_log1p(t) * y).exp()
    }

    /// Draws a rank in `1..=n`.
    #[inline]
    pub fn sample<R: Rand>(&self, rng: &mut R) -> u64 {
        if let Some(t) = &self.table {
            return t.sample(rng) as u64 + 1;
        }
        loop {
            let u = self.h_n + rng.unit() * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n as f64);
            if k - x <= self.cut || u >= self.big_h(k + 0.5) - self.small_h(k) {
                return k as u64;
            }
        }
    }

    /// The mean rank (exact for tables, approximate otherwise).
    pub fn mean(&self) -> f64 {
        let n = self.n.min(1_000_000);
        let (mut num, mut den) = (0.0, 0.0);
        for k in 1..=n {
            let w = (k as f64).powf(-self.s);
            num += k as f64 * w;
            den += w;
        }
        num / den
    }

    /// Number of ranks.
    pub fn n(&self) -> u64 {
        self.n
    }
}

/// log1p(x)/x, continuous at 0.
fn helper_log1p(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x / 3.0)
    }
}

/// expm1(x)/x, continuous at 0.
fn helper_expm1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * (0.5 + x / 6.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix;

    #[test]
    fn alias_matches_weights() {
        let a = Alias::new(&[1.0, 2.0, 7.0]).unwrap();
        let mut r = SplitMix(3);
        let mut c = [0u32; 3];
        for _ in 0..100_000 {
            c[a.sample(&mut r)] += 1;
        }
        assert!((c[0] as f64 / 1e5 - 0.1).abs() < 0.01, "{c:?}");
        assert!((c[2] as f64 / 1e5 - 0.7).abs() < 0.01, "{c:?}");
        assert!(Alias::new(&[]).is_none());
        assert!(Alias::new(&[0.0]).is_none());
        assert!(Alias::new(&[-1.0, 2.0]).is_none());
    }

    #[test]
    fn zipf_large_matches_table_shape() {
        // Rejection-inversion for n > 65536: rank 1 frequency ≈ 1/H(n,s).
        let z = Zipf::new(1_000_000, 1.1).unwrap();
        let mut r = SplitMix(9);
        let draws = 200_000;
        let mut ones = 0;
        for _ in 0..draws {
            let k = z.sample(&mut r);
            assert!((1..=1_000_000).contains(&k));
            if k == 1 {
                ones += 1;
            }
        }
        let h: f64 = (1..=1_000_000u64).map(|k| (k as f64).powf(-1.1)).sum();
        let expected = 1.0 / h;
        let got = ones as f64 / draws as f64;
        assert!(
            (got - expected).abs() < 0.01,
            "got {got}, expected {expected}"
        );
    }

    #[test]
    fn continuous_means() {
        let mut r = SplitMix(11);
        for d in [
            Continuous::Normal {
                mean: 5.0,
                stddev: 2.0,
            },
            Continuous::Exponential { mean: 3.0 },
            Continuous::LogNormal {
                mu: 1.0,
                sigma: 0.5,
            },
            Continuous::Uniform { min: 2.0, max: 4.0 },
        ] {
            let n = 200_000;
            let m: f64 = (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64;
            assert!((m - d.mean()).abs() / d.mean() < 0.02, "{d:?}: {m}");
        }
    }
}
