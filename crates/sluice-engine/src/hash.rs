//! A small, fast, portable 64-bit hash used for group keys, exact distinct
//! sets and HyperLogLog.
//!
//! It is our own (multiply-fold construction in the style of wyhash), fixed
//! across platforms and releases, so HyperLogLog estimates are reproducible
//! everywhere. Not for untrusted-input hash-flooding resistance: keys are
//! bounded per window and the tables use linear probing with a 50% load cap.

use std::hash::{BuildHasher, Hasher};

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
const P3: u64 = 0x5899_65cc_7537_4cc3;

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline(always)]
fn read_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn read_u32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[..4]);
    u32::from_le_bytes(w)
}

/// Hashes `bytes` with `seed`. Lengths of 17 to 32 bytes (typical group
/// keys) take one fixed path.
#[inline]
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let len = bytes.len();
    if (16..=32).contains(&len) {
        // Two independent lanes over the first and last 16 bytes (they
        // overlap below 32): a short multiply chain for typical group keys.
        let x = fold_mul(read_u64(bytes) ^ P1 ^ seed, read_u64(&bytes[8..]) ^ P2);
        let y = fold_mul(
            read_u64(&bytes[len - 16..]) ^ P3 ^ len as u64,
            read_u64(&bytes[len - 8..]) ^ P0 ^ seed,
        );
        return fold_mul(x ^ P0 ^ y.rotate_left(29), y ^ P3 ^ len as u64);
    }
    let mut h = seed ^ P0 ^ fold_mul(len as u64 ^ P1, P2);
    // Overlapping fixed-size reads cover every byte without variable-length
    // copies (the length is mixed in, so overlaps are unambiguous).
    let (a, b) = if len >= 16 {
        let mut i = 0;
        while len - i > 16 {
            h = fold_mul(
                read_u64(&bytes[i..]) ^ P1 ^ h,
                read_u64(&bytes[i + 8..]) ^ P2,
            );
            i += 16;
        }
        (read_u64(&bytes[len - 16..]), read_u64(&bytes[len - 8..]))
    } else if len >= 8 {
        (read_u64(bytes), read_u64(&bytes[len - 8..]))
    } else if len >= 4 {
        (
            (u64::from(read_u32(bytes)) << 32) | u64::from(read_u32(&bytes[len - 4..])),
            0,
        )
    } else if len > 0 {
        (
            (u64::from(bytes[0]) << 16)
                | (u64::from(bytes[len / 2]) << 8)
                | u64::from(bytes[len - 1]),
            0,
        )
    } else {
        (0, 0)
    };
    h = fold_mul(a ^ P1 ^ h, b ^ P3);
    fold_mul(h ^ P0, len as u64 ^ P3)
}

/// Hashes a group key for the engine's key tables. Keys of 8 to 32 bytes
/// take one multiply over overlapping words (tables compare the bytes on
/// every hit, so this hash needs spread, not collision resistance); others
/// use [`hash_bytes`].
#[inline(always)]
pub fn hash_key(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if (8..=32).contains(&len) {
        let a = read_u64(bytes);
        let b = read_u64(&bytes[(len / 2).min(len - 8)..]);
        let c = read_u64(&bytes[len - 8..]);
        let d = read_u64(&bytes[len.saturating_sub(16)..]);
        return fold_mul(
            a ^ P1 ^ c.rotate_left(23),
            b ^ P2 ^ d.rotate_left(41) ^ len as u64,
        );
    }
    hash_bytes(bytes, 0)
}

/// Hashes one integer (for window ids and group ids).
#[inline(always)]
pub fn hash_u64(x: u64, seed: u64) -> u64 {
    fold_mul(fold_mul(x ^ P0 ^ seed, P1) ^ P2, P3)
}

/// A [`Hasher`] over [`hash_u64`]/[`hash_bytes`] for std collections.
#[derive(Debug, Default, Clone)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes, self.0);
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = hash_u64(i, self.0);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// Builds [`FastHasher`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastBuild;

impl BuildHasher for FastBuild {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_contents_matter() {
        let mut seen = std::collections::HashSet::new();
        for len in 0..40 {
            let v = vec![0u8; len];
            assert!(seen.insert(hash_bytes(&v, 0)), "zero run of {len}");
        }
        assert_ne!(hash_bytes(b"ab", 0), hash_bytes(b"ba", 0));
        assert_ne!(hash_bytes(b"ab", 0), hash_bytes(b"ab", 1));
        assert_eq!(hash_bytes(b"stable", 7), hash_bytes(b"stable", 7));
    }

    #[test]
    fn top_bits_are_uniform() {
        // HyperLogLog uses the top 14 bits as a bucket index.
        let mut buckets = vec![0u32; 64];
        for i in 0..64_000u32 {
            let h = hash_bytes(format!("user-{i}").as_bytes(), 0);
            buckets[(h >> 58) as usize] += 1;
        }
        for b in buckets {
            assert!((800..1200).contains(&b), "bucket count {b}");
        }
    }
}
