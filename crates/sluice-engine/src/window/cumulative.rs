//! Cumulative windows: within each `max`-aligned period, windows that share
//! the period start and grow by `step` up to `max`.

/// Appends `[P, P + k·step)` for every `k` with `P + k·step > t`, ascending.
#[inline]
pub fn assign(t: i64, step: i64, max: i64, out: &mut Vec<(i64, i64)>) {
    let p = super::align(t, max);
    let first_k = (t - p) / step + 1;
    for k in first_k..=max / step {
        out.push((p, p + k * step));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows_grow_within_the_period() {
        let mut v = Vec::new();
        super::assign(150, 100, 400, &mut v);
        assert_eq!(v, vec![(0, 200), (0, 300), (0, 400)]);
        v.clear();
        super::assign(400, 100, 400, &mut v);
        assert_eq!(v, vec![(400, 500), (400, 600), (400, 700), (400, 800)]);
    }
}
