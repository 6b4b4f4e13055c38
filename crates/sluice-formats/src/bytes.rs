//! Byte-slice helpers shared by the key tables and the JSON projector.

#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Byte equality with few data-dependent branches and no library call: keys
/// and names of 8 to 32 bytes (the common case) compare as four overlapping
/// words.
#[inline(always)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=32).contains(&n) {
        let o1 = 8.min(n - 8);
        let o2 = 16.min(n - 8);
        let o3 = n - 8;
        let d = (word(a, 0) ^ word(b, 0))
            | (word(a, o1) ^ word(b, o1))
            | (word(a, o2) ^ word(b, o2))
            | (word(a, o3) ^ word(b, o3));
        return d == 0;
    }
    if n < 8 {
        let mut d = 0u8;
        for i in 0..n {
            d |= a[i] ^ b[i];
        }
        return d == 0;
    }
    a == b
}
