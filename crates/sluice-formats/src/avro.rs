//! The Avro binary primitives every crate shares: zigzag varint `long`s and
//! length-prefixed `bytes`/`string`s (Avro 1.11 specification, "Binary
//! encoding"). The engine's decoder keeps its own specialised fast path for
//! the hot loop; everything else reads and writes through here.

/// Appends `v` as a zigzag varint.
#[inline]
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends `bytes` as Avro `bytes`/`string` (length, then content).
#[inline]
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

/// Reads a zigzag varint from the front of `b`, advancing it; `None` when
/// `b` ends first or the varint is longer than 64 bits.
#[inline]
pub fn read_long(b: &mut &[u8]) -> Option<i64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Reads Avro `bytes`/`string` from the front of `b`, advancing it.
#[inline]
pub fn read_bytes<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(read_long(b)?).ok()?;
    if len > b.len() {
        return None;
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    Some(s)
}

/// Minimal big-endian two's complement bytes of `v` (Avro decimal).
pub fn decimal_bytes(v: i64) -> Vec<u8> {
    let full = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let b = full[start];
        let next_high = full[start + 1] & 0x80;
        if (b == 0 && next_high == 0) || (b == 0xff && next_high != 0) {
            start += 1;
        } else {
            break;
        }
    }
    full[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_avro_spec_and_round_trip() {
        let mut out = Vec::new();
        for (v, expect) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 1]),
        ] {
            out.clear();
            write_long(&mut out, v);
            assert_eq!(out, expect, "{v}");
        }
        for v in [i64::MIN, -1_000_000_007, -1, 0, 1, 300, i64::MAX] {
            out.clear();
            write_long(&mut out, v);
            write_bytes(&mut out, b"tail");
            let mut b = out.as_slice();
            assert_eq!(read_long(&mut b), Some(v));
            assert_eq!(read_bytes(&mut b), Some(&b"tail"[..]));
            assert!(b.is_empty());
        }
    }

    #[test]
    fn truncated_or_overlong_input_is_none() {
        assert_eq!(read_long(&mut &[0x80u8][..]), None);
        assert_eq!(read_long(&mut &[0xffu8; 11][..]), None);
        // a length beyond the input
        assert_eq!(read_bytes(&mut &[0x08u8, b'a'][..]), None);
        // a negative length
        assert_eq!(read_bytes(&mut &[0x01u8][..]), None);
    }

    #[test]
    fn decimal_bytes_are_minimal_twos_complement() {
        assert_eq!(decimal_bytes(0), vec![0]);
        assert_eq!(decimal_bytes(127), vec![0x7f]);
        assert_eq!(decimal_bytes(128), vec![0, 0x80]);
        assert_eq!(decimal_bytes(-1), vec![0xff]);
        assert_eq!(decimal_bytes(-129), vec![0xff, 0x7f]);
        assert_eq!(decimal_bytes(i64::MIN).len(), 8);
    }
}
