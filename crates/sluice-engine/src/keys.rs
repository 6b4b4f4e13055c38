//! Group keys: a canonical byte encoding and an interning table that maps
//! key bytes to dense `u32` group ids without allocating per lookup.
//!
//! Encoding, per group field in `group_by` order: `0` for null; `1, b` for a
//! boolean; `2` + 8 bytes little-endian for integers, money (minor units) and
//! timestamps; `3` + 4-byte little-endian length + UTF-8 for strings and enum
//! symbols (so an enum and a string field with the same name and value group
//! together across event types). The encoding is self-delimiting, so
//! concatenation is unambiguous, and it decodes back to [`KeyValue`]s.

use crate::output::KeyValue;

const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_STR: u8 = 3;

/// Appends a null key part.
#[inline]
pub fn push_null(buf: &mut Vec<u8>) {
    buf.push(TAG_NULL);
}

/// Appends a boolean key part.
#[inline]
pub fn push_bool(buf: &mut Vec<u8>, b: bool) {
    buf.push(TAG_BOOL);
    buf.push(u8::from(b));
}

/// Appends an integer key part.
#[inline]
pub fn push_int(buf: &mut Vec<u8>, v: i64) {
    buf.push(TAG_INT);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Appends a string key part.
#[inline]
pub fn push_str(buf: &mut Vec<u8>, s: &[u8]) {
    let l = (s.len() as u32).to_le_bytes();
    buf.extend_from_slice(&[TAG_STR, l[0], l[1], l[2], l[3]]);
    buf.extend_from_slice(s);
}

/// Appends one key value.
pub fn push_value(buf: &mut Vec<u8>, v: &KeyValue) {
    match v {
        KeyValue::Null => push_null(buf),
        KeyValue::Bool(b) => push_bool(buf, *b),
        KeyValue::Int(i) => push_int(buf, *i),
        KeyValue::Str(s) => push_str(buf, s.as_bytes()),
    }
}

/// A reusable key buffer for the hot path: plain indexed writes into a
/// buffer that only grows, so building a key does no capacity bookkeeping
/// and no libc copies for short strings.
#[derive(Clone, Debug)]
pub struct KeyBuf {
    buf: Vec<u8>,
    len: usize,
}

impl Default for KeyBuf {
    fn default() -> Self {
        Self {
            buf: vec![0; 256],
            len: 0,
        }
    }
}

impl KeyBuf {
    /// Empties the key.
    #[inline(always)]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The key built so far.
    #[inline(always)]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[inline(always)]
    fn room(&mut self, extra: usize) {
        if self.len + extra > self.buf.len() {
            self.grow(self.len + extra);
        }
    }

    #[inline(never)]
    fn grow(&mut self, need: usize) {
        let n = need.max(self.buf.len() * 2);
        self.buf.resize(n, 0);
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends a null part.
    #[inline(always)]
    pub fn null(&mut self) {
        self.room(1);
        self.put(&[TAG_NULL]);
    }

    /// Appends a boolean part.
    #[inline(always)]
    pub fn bool(&mut self, b: bool) {
        self.room(2);
        self.put(&[TAG_BOOL, u8::from(b)]);
    }

    /// Appends an integer part.
    #[inline(always)]
    pub fn int(&mut self, v: i64) {
        self.room(9);
        let b = v.to_le_bytes();
        self.put(&[TAG_INT, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }

    /// Appends a string part whose bytes are `src[start..start + len]`.
    #[inline(always)]
    pub fn str_in(&mut self, src: &[u8], start: usize, len: usize) {
        if len <= 16 {
            if let Some(block) = src.get(start..start + 16) {
                // Header and a fixed 16-byte block in one copy; only `len`
                // bytes of the block count.
                self.room(21);
                let mut tmp = [0u8; 21];
                tmp[0] = TAG_STR;
                tmp[1..5].copy_from_slice(&(len as u32).to_le_bytes());
                tmp[5..].copy_from_slice(block);
                self.buf[self.len..self.len + 21].copy_from_slice(&tmp);
                self.len += 5 + len;
                return;
            }
        }
        let bytes = src.get(start..start + len).unwrap_or(&[]);
        self.room(5 + bytes.len());
        let l = (bytes.len() as u32).to_le_bytes();
        self.put(&[TAG_STR, l[0], l[1], l[2], l[3]]);
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends a string part.
    #[inline(always)]
    pub fn str(&mut self, s: &[u8]) {
        self.str_in(s, 0, s.len());
    }
}

/// Decodes a canonical key back into values. Keys are only ever built by the
/// engine, so a malformed one cannot occur; it would decode to the parts read
/// so far.
pub fn decode_key(mut bytes: &[u8]) -> Vec<KeyValue> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        bytes = rest;
        match tag {
            TAG_NULL => out.push(KeyValue::Null),
            TAG_BOOL => {
                let Some((&b, rest)) = bytes.split_first() else {
                    break;
                };
                bytes = rest;
                out.push(KeyValue::Bool(b != 0));
            }
            TAG_INT => {
                let Some(head) = bytes.get(..8) else { break };
                let mut a = [0u8; 8];
                a.copy_from_slice(head);
                bytes = &bytes[8..];
                out.push(KeyValue::Int(i64::from_le_bytes(a)));
            }
            TAG_STR => {
                let Some(head) = bytes.get(..4) else { break };
                let mut a = [0u8; 4];
                a.copy_from_slice(head);
                let len = u32::from_le_bytes(a) as usize;
                let Some(s) = bytes.get(4..4 + len) else {
                    break;
                };
                out.push(KeyValue::Str(String::from_utf8_lossy(s).into_owned()));
                bytes = &bytes[4 + len..];
            }
            _ => break,
        }
    }
    out
}

/// Interns key bytes into dense group ids `0..len()`, open addressing with
/// linear probing over precomputed hashes. Keys are never removed: a table
/// lives as long as its window.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyTable {
    /// `0` = empty, otherwise group id + 1.
    slots: Vec<u32>,
    hashes: Vec<u64>,
    spans: Vec<(u32, u32)>,
    arena: Vec<u8>,
}

pub use sluice_formats::bytes::same;

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bytes of key `id`.
    pub fn key(&self, id: u32) -> &[u8] {
        let (start, len) = self.spans.get(id as usize).copied().unwrap_or((0, 0));
        self.arena
            .get(start as usize..(start + len) as usize)
            .unwrap_or(&[])
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.hashes.capacity() * 8
            + self.spans.capacity() * 8
            + self.arena.capacity()
    }

    /// Stored hash of key `id`.
    pub fn hash_of(&self, id: u32) -> u64 {
        self.hashes.get(id as usize).copied().unwrap_or(0)
    }

    /// Finds `key` (whose hash is `hash`) without inserting.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            let id = s - 1;
            if self.hashes[id as usize] == hash && same(self.key(id), key) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Finds `key` (whose hash is `hash`) or inserts it; returns its id and
    /// whether it was inserted.
    #[inline(always)]
    pub fn intern(&mut self, hash: u64, key: &[u8]) -> (u32, bool) {
        if self.slots.is_empty() {
            self.slots = vec![0; 64];
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            let id = s - 1;
            if self.hashes[id as usize] == hash && same(self.key(id), key) {
                return (id, false);
            }
            i = (i + 1) & mask;
        }
        let id = self.hashes.len() as u32;
        self.hashes.push(hash);
        self.spans.push((self.arena.len() as u32, key.len() as u32));
        self.arena.extend_from_slice(key);
        self.slots[i] = id + 1;
        if self.hashes.len() * 2 > self.slots.len() {
            self.grow();
        }
        (id, true)
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let mask = n - 1;
        let mut slots = vec![0u32; n];
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut i = (h as usize) & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = id as u32 + 1;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_bytes;

    #[test]
    fn keys_round_trip_and_intern() {
        let vals = vec![
            KeyValue::Null,
            KeyValue::Bool(true),
            KeyValue::Int(-5),
            KeyValue::Str("é".into()),
        ];
        let mut buf = Vec::new();
        for v in &vals {
            push_value(&mut buf, v);
        }
        assert_eq!(decode_key(&buf), vals);

        let mut t = KeyTable::new();
        for round in 0..2 {
            for i in 0..1000u32 {
                let k = i.to_le_bytes();
                let (id, new) = t.intern(hash_bytes(&k, 0), &k);
                assert_eq!(id, i);
                assert_eq!(new, round == 0);
                assert_eq!(t.key(id), &k);
            }
        }
    }
}
