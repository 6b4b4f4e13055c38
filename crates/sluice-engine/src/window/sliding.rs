//! Sliding (hopping) windows: `size` long, one starting every `slide`.

/// Appends every `[s, s + size)` with `s` a multiple of `slide` and
/// `s ≤ t < s + size`, in ascending start order.
#[inline]
pub fn assign(t: i64, size: i64, slide: i64, out: &mut Vec<(i64, i64)>) {
    let last = super::align(t, slide);
    // First start strictly greater than t - size.
    let mut s = last - ((last - (t - size) - 1) / slide) * slide;
    while s <= last {
        out.push((s, s + size));
        s += slide;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_and_bounds() {
        let mut v = Vec::new();
        super::assign(0, 300, 100, &mut v);
        assert_eq!(v, vec![(-200, 100), (-100, 200), (0, 300)]);
        v.clear();
        super::assign(250, 300, 100, &mut v);
        assert_eq!(v, vec![(0, 300), (100, 400), (200, 500)]);
        v.clear();
        super::assign(5, 100, 100, &mut v);
        assert_eq!(v, vec![(0, 100)]);
        v.clear();
        super::assign(10, 250, 100, &mut v);
        assert_eq!(v, vec![(-200, 50), (-100, 150), (0, 250)]);
    }
}
