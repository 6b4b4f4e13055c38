//! Tumbling windows: fixed, non-overlapping, epoch-aligned.

/// The window `[⌊t/size⌋·size, +size)` containing `t`.
#[inline(always)]
pub fn assign(t: i64, size: i64) -> (i64, i64) {
    let start = super::align(t, size);
    (start, start + size)
}

#[cfg(test)]
mod tests {
    #[test]
    fn boundaries_belong_to_the_next_window() {
        assert_eq!(super::assign(60_000, 60_000), (60_000, 120_000));
        assert_eq!(super::assign(59_999, 60_000), (0, 60_000));
        assert_eq!(super::assign(-1, 60_000), (-60_000, 0));
    }
}
