//! Fast JSON lines: a projecting scanner that checks each line's JSON
//! structure, reads only the fields the aggregations need and writes them
//! straight into a *projected* Avro record (those fields only, in layout
//! order) — no intermediate document, no allocation per line.
//!
//! The engine is then planned over the projected layouts
//! ([`project_layout`]), so it decodes exactly what was written. Errors in
//! the fields read (wrong type, missing required field, unknown event type,
//! unknown enum symbol) and malformed JSON anywhere in the line reject the
//! line with its reason. Every string of the line — read or not, keys and
//! nested values included — is checked as a full parser would: no raw
//! control character (below 0x20), valid UTF-8 (no overlong forms,
//! surrogates or truncated sequences), only JSON's escapes, and `\u`
//! escapes that pair surrogates properly. A key that the projection reads
//! (`event_type` or a field of any projected layout) may appear only once in
//! the top-level object: a repeat rejects the line ("duplicate key `x`")
//! rather than silently taking one of the values; repeats of keys that are
//! not read are accepted (their values are only checked for syntax).
//! `tests/json_projector.rs` holds the scanner to a full `serde_json` parse.
//!
//! Cost: the string scan looks at eight bytes at a time for `"`, `\`, a
//! control character or a non-ASCII byte; only the last two leave the fast
//! path, so ASCII input pays nothing extra for the checks.

use crate::avro::{decimal_bytes, write_bytes, write_long};
use crate::bytes::same;
use sluice_core::layout::{EVENT_TIME, EVENT_TYPE};
use sluice_core::{FieldType, MoneyEncoding, RecordLayout};

/// The layout restricted to `needed` fields (plus `event_time`), in order.
pub fn project_layout(layout: &RecordLayout, needed: &[String]) -> RecordLayout {
    let mut l = layout.clone();
    l.fields
        .retain(|f| f.name == EVENT_TIME || needed.contains(&f.name));
    l
}

struct Slot {
    name: Vec<u8>,
}

/// Per event type: which slot feeds each projected field.
struct TypePlan {
    name: Vec<u8>,
    fields: Vec<(usize, FieldType, bool)>,
    money: MoneyEncoding,
}

/// Scans lines into projected Avro records.
pub struct Projector {
    slots: Vec<Slot>,
    type_slot: usize,
    types: Vec<TypePlan>,
    spans: Vec<Option<Span>>,
    scratch: Vec<u8>,
    shape: Shape,
    last_type: usize,
}

/// The keys seen at each position of a line, as raw `"key":` tokens with
/// their slots. Lines of one producer repeat their keys in the same order
/// (one order per event type), so the k-th key of a line is nearly always
/// one of the few tokens seen at position k: one or two word compares
/// instead of scanning the key and looking it up.
#[derive(Default)]
struct Shape {
    at: Vec<Vec<Token>>,
}

/// A known key token.
struct Token {
    bytes: Vec<u8>,
    head: u64,
    tail: u64,
    slot: Option<usize>,
}

/// Candidates kept per key position (one per event type is typical).
const SHAPES: usize = 16;

#[inline(always)]
fn word(b: &[u8], at: usize) -> Option<u64> {
    let w: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

impl Token {
    fn new(bytes: &[u8], slot: Option<usize>) -> Self {
        let n = bytes.len();
        Token {
            bytes: bytes.to_vec(),
            head: word(bytes, 0).unwrap_or(0),
            tail: n.checked_sub(8).and_then(|t| word(bytes, t)).unwrap_or(0),
            slot,
        }
    }

    /// Whether `b[i..]` starts with this token.
    #[inline(always)]
    fn matches(&self, b: &[u8], i: usize) -> bool {
        let n = self.bytes.len();
        if (8..=16).contains(&n) {
            word(b, i) == Some(self.head) && word(b, i + n - 8) == Some(self.tail)
        } else {
            b.get(i..i + n) == Some(self.bytes.as_slice())
        }
    }
}

impl Shape {
    /// The known key at position `k` that `b[i..]` starts with: (token
    /// length including the colon, slot).
    #[inline(always)]
    fn predict(&self, k: usize, b: &[u8], i: usize) -> Option<(usize, Option<usize>)> {
        self.at
            .get(k)?
            .iter()
            .find(|t| t.matches(b, i))
            .map(|t| (t.bytes.len(), t.slot))
    }

    fn learn(&mut self, k: usize, tok: &[u8], slot: Option<usize>) {
        if self.at.len() <= k {
            self.at.resize_with(k + 1, Vec::new);
        }
        let known = &mut self.at[k];
        if known.len() >= SHAPES {
            known.remove(0);
        }
        known.push(Token::new(tok, slot));
    }
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("slots", &self.slots.len())
            .finish()
    }
}

/// Why a line was rejected.
pub type Reject = (String, Option<String>);

impl Projector {
    /// A projector for the projected layouts (index = event type id).
    pub fn new(projected: &[RecordLayout]) -> Self {
        let mut slots: Vec<Slot> = vec![Slot {
            name: EVENT_TYPE.as_bytes().to_vec(),
        }];
        let slot_of = |name: &str, slots: &mut Vec<Slot>| -> usize {
            if let Some(i) = slots.iter().position(|s| s.name == name.as_bytes()) {
                return i;
            }
            slots.push(Slot {
                name: name.as_bytes().to_vec(),
            });
            slots.len() - 1
        };
        let types = projected
            .iter()
            .map(|l| TypePlan {
                name: l.event_type.as_bytes().to_vec(),
                fields: l
                    .fields
                    .iter()
                    .map(|f| (slot_of(&f.name, &mut slots), f.ty.clone(), f.optional))
                    .collect(),
                money: l.money,
            })
            .collect();
        let n = slots.len();
        Self {
            slots,
            type_slot: 0,
            types,
            spans: vec![None; n],
            scratch: Vec::new(),
            shape: Shape::default(),
            last_type: 0,
        }
    }

    /// Scans one line; on success appends the projected record to `out` and
    /// returns its event type id. On error `out` is unchanged.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<u32, Reject> {
        self.spans.iter_mut().for_each(|s| *s = None);
        scan_object(line, &self.slots, &mut self.spans, &mut self.shape).map_err(|m| (m, None))?;
        let Some((s, e, esc)) = self.spans[self.type_slot] else {
            return Err(("missing required field `event_type`".into(), None));
        };
        let et = string_bytes(&line[s..e], esc, &mut self.scratch)
            .ok_or_else(|| ("`event_type` must be a string".to_string(), None))?;
        let hit = self.types.get(self.last_type).filter(|t| same(&t.name, et));
        let Some(ti) = hit
            .map(|_| self.last_type)
            .or_else(|| self.types.iter().position(|t| same(&t.name, et)))
        else {
            return Err((
                format!("unknown event type `{}`", String::from_utf8_lossy(et)),
                Some(String::from_utf8_lossy(et).into_owned()),
            ));
        };
        self.last_type = ti;
        let mark = out.len();
        let tp = &self.types[ti];
        for (slot, ty, optional) in &tp.fields {
            let span = self.spans[*slot].filter(|(s, e, _)| &line[*s..*e] != b"null");
            let res = match (span, optional) {
                (None, true) => {
                    out.push(0);
                    Ok(())
                }
                (None, false) => Err(format!(
                    "missing required field `{}`",
                    String::from_utf8_lossy(&self.slots[*slot].name)
                )),
                (Some((s, e, esc)), opt) => {
                    if *opt {
                        out.push(2); // union branch 1, zigzag encoded
                    }
                    let v = Tok {
                        tok: &line[s..e],
                        esc,
                    };
                    encode(v, ty, tp.money, out, &mut self.scratch).map_err(|m| {
                        format!(
                            "field `{}`: {m}",
                            String::from_utf8_lossy(&self.slots[*slot].name)
                        )
                    })
                }
            };
            if let Err(m) = res {
                out.truncate(mark);
                return Err((m, Some(String::from_utf8_lossy(&tp.name).into_owned())));
            }
        }
        Ok(ti as u32)
    }
}

/// A value token and whether it is a string with escapes.
#[derive(Clone, Copy)]
struct Tok<'a> {
    tok: &'a [u8],
    esc: bool,
}

/// A value's byte span in its line and whether it is a string with escapes.
type Span = (usize, usize, bool);

fn encode(
    val: Tok<'_>,
    ty: &FieldType,
    money: MoneyEncoding,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(), String> {
    let v = val.tok;
    let shown = || String::from_utf8_lossy(v).into_owned();
    match ty {
        FieldType::String => {
            // the scan checked raw control characters and UTF-8; unescaping
            // only produces valid characters
            let s = string_bytes(v, val.esc, scratch)
                .ok_or_else(|| format!("expected a string, found {}", shown()))?;
            write_bytes(out, s);
        }
        FieldType::Int | FieldType::Long | FieldType::Money { .. } => {
            let i =
                parse_int(v).ok_or_else(|| format!("expected an integer, found {}", shown()))?;
            if matches!(ty, FieldType::Int) && i32::try_from(i).is_err() {
                return Err(format!("{i} does not fit an int"));
            }
            if matches!(ty, FieldType::Money { .. }) && money == MoneyEncoding::Decimal {
                write_bytes(out, &decimal_bytes(i));
            } else {
                write_long(out, i);
            }
        }
        FieldType::Timestamp => {
            let t = match parse_int(v) {
                Some(t) => t,
                None => {
                    let s = string_bytes(v, val.esc, scratch)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .ok_or_else(|| {
                            format!(
                                "expected epoch milliseconds or an RFC 3339 string, found {}",
                                shown()
                            )
                        })?;
                    crate::time::parse_rfc3339(s)
                        .ok_or_else(|| format!("`{s}` is not an RFC 3339 timestamp"))?
                }
            };
            write_long(out, t);
        }
        FieldType::Double => {
            let f: f64 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|_| v.first().is_some_and(|c| *c == b'-' || c.is_ascii_digit()))
                .ok_or_else(|| format!("expected a number, found {}", shown()))?;
            out.extend_from_slice(&f.to_le_bytes());
        }
        FieldType::Boolean => match v {
            b"true" => out.push(1),
            b"false" => out.push(0),
            _ => return Err(format!("expected true or false, found {}", shown())),
        },
        FieldType::Enum { symbols } => {
            let s = string_bytes(v, val.esc, scratch)
                .ok_or_else(|| format!("expected a symbol, found {}", shown()))?;
            let i = symbols
                .iter()
                .position(|x| same(x.as_bytes(), s))
                .ok_or_else(|| {
                    format!(
                        "`{}` is not one of {}",
                        String::from_utf8_lossy(s),
                        symbols.join(", ")
                    )
                })?;
            write_long(out, i as i64);
        }
    }
    Ok(())
}

/// The value of eight ASCII digits read as a little-endian word (first
/// digit in the lowest byte), or `None` if any byte is not a digit.
#[inline(always)]
fn eight_digits(w: u64) -> Option<u32> {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // every byte 0x30..=0x39: high nibble 3, and adding 6 keeps it 3
    let digits = (w & HIGH) | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4);
    if digits != 0x3333_3333_3333_3333 {
        return None;
    }
    let d = w - 0x3030_3030_3030_3030;
    // pairs: byte k of `p` (even k) = 10·digit[k] + digit[k+1]
    let p = d.wrapping_mul(10).wrapping_add(d >> 8);
    // quads in the low half of each 32-bit lane, then the whole number
    const LANES: u64 = 0x0000_00FF_0000_00FF;
    let q = ((p & LANES)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((p >> 16) & LANES).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    Some(q as u32)
}

fn parse_int(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v.first()? {
        b'-' => (true, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits.len() <= 18 {
        // 18 digits cannot overflow an i64: no checks per digit, and eight
        // digits at a time (an epoch-millisecond time has 13)
        let mut n: i64 = 0;
        let mut i = 0;
        while let Some(w) = word(digits, i) {
            n = n * 100_000_000 + i64::from(eight_digits(w)?);
            i += 8;
        }
        for &c in &digits[i..] {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + i64::from(d);
        }
        return Some(if neg { -n } else { n });
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        // down to i64::MIN, whose magnitude has no positive i64
        (n <= 1 << 63).then(|| (n as i64).wrapping_neg())
    } else {
        i64::try_from(n).ok()
    }
}

/// The content of a JSON string token (with quotes), unescaped into
/// `scratch` only when it has escapes (`esc`, known from the scan).
fn string_bytes<'a>(tok: &'a [u8], esc: bool, scratch: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    if tok.len() < 2 || tok[0] != b'"' || tok[tok.len() - 1] != b'"' {
        return None;
    }
    let inner = &tok[1..tok.len() - 1];
    if !esc {
        return Some(inner);
    }
    scratch.clear();
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c != b'\\' {
            scratch.push(c);
            i += 1;
            continue;
        }
        let e = *inner.get(i + 1)?;
        i += 2;
        match e {
            b'"' => scratch.push(b'"'),
            b'\\' => scratch.push(b'\\'),
            b'/' => scratch.push(b'/'),
            b'b' => scratch.push(8),
            b'f' => scratch.push(12),
            b'n' => scratch.push(b'\n'),
            b'r' => scratch.push(b'\r'),
            b't' => scratch.push(b'\t'),
            b'u' => {
                let hex = |s: &[u8]| {
                    std::str::from_utf8(s)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                };
                let mut cp = hex(inner.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) && inner.get(i..i + 2) == Some(b"\\u") {
                    let lo = hex(inner.get(i + 2..i + 6)?)?;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.checked_sub(0xDC00)?);
                    i += 6;
                }
                let ch = char::from_u32(cp)?;
                let mut buf = [0u8; 4];
                scratch.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(scratch)
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// Position of the first byte at or after `j` that a string scan must look
/// at: `"`, `\\`, a control character (< 0x20) or a non-ASCII byte (>= 0x80),
/// eight bytes at a time (the lowest flagged byte of each "has a byte
/// below" test is exact, so the lowest of their union is too).
#[inline]
fn find_special(b: &[u8], mut j: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    const SPACE: u64 = LO * 0x20;
    while let Some(chunk) = b.get(j..j + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let (x, y) = (w ^ QUOTE, w ^ BACKSLASH);
        let m = (x.wrapping_sub(LO) & !x & HI)
            | (y.wrapping_sub(LO) & !y & HI)
            | (w.wrapping_sub(SPACE) & !w & HI)
            | (w & HI);
        if m != 0 {
            return Some(j + (m.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    b.get(j..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .map(|k| j + k)
}

fn skip_string(b: &[u8], i: usize) -> Result<usize, String> {
    skip_string_esc(b, i).map(|(end, _)| end)
}

/// The end of the string token at `b[i] == '"'` and whether it has escapes.
/// Escapes, raw control characters and UTF-8 are checked (see the module
/// docs).
#[inline]
fn skip_string_esc(b: &[u8], i: usize) -> Result<(usize, bool), String> {
    let mut j = i + 1;
    let mut esc = false;
    while let Some(at) = find_special(b, j) {
        match b[at] {
            b'"' => return Ok((at + 1, esc)),
            b'\\' => {
                esc = true;
                j = escape_end(b, at)?;
            }
            c if c < 0x20 => return Err(raw_control()),
            _ => j = utf8_end(b, at)?,
        }
    }
    Err("malformed JSON: unterminated string".into())
}

#[cold]
fn raw_control() -> String {
    "raw control character in a string".into()
}

/// Where the UTF-8 sequence starting with the non-ASCII byte `b[at]` ends,
/// if it is a valid one.
#[cold]
fn utf8_end(b: &[u8], at: usize) -> Result<usize, String> {
    let width = match b[at] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    b.get(at..at + width)
        .filter(|s| width > 0 && std::str::from_utf8(s).is_ok())
        .map(|_| at + width)
        .ok_or_else(|| "invalid UTF-8 in a string".to_string())
}

/// The value of the four hex digits at `b[at..]`.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let h = b.get(at..at + 4)?;
    if !h.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
}

/// Where the escape at `b[at] == '\\'` ends, if it is one JSON allows; a
/// `\u` escape of a high surrogate must be followed by one of a low
/// surrogate, and a low surrogate may not stand alone.
#[cold]
fn escape_end(b: &[u8], at: usize) -> Result<usize, String> {
    let bad = || Err("malformed JSON: bad escape in a string".into());
    match b.get(at + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
        Some(b'u') => match hex4(b, at + 2) {
            Some(0xD800..=0xDBFF) => {
                let low = (b.get(at + 6..at + 8) == Some(b"\\u"))
                    .then(|| hex4(b, at + 8))
                    .flatten();
                match low {
                    Some(0xDC00..=0xDFFF) => Ok(at + 12),
                    _ => Err("malformed JSON: unpaired surrogate in a \\u escape".into()),
                }
            }
            Some(0xDC00..=0xDFFF) => {
                Err("malformed JSON: unpaired surrogate in a \\u escape".into())
            }
            Some(_) => Ok(at + 6),
            None => bad(),
        },
        _ => bad(),
    }
}

#[cold]
fn bad_number() -> Result<usize, String> {
    Err("malformed JSON: bad number".into())
}

/// The end of the JSON number at `b[i]`, by the grammar
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Integers take
/// the short path.
#[inline]
fn skip_number(b: &[u8], i: usize) -> Result<usize, String> {
    let start = i + usize::from(b.get(i) == Some(&b'-'));
    let mut j = start;
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    if j == start || (j > start + 1 && b[start] == b'0') {
        return bad_number();
    }
    match b.get(j) {
        Some(b'.' | b'e' | b'E') => number_tail(b, j),
        _ => Ok(j),
    }
}

/// The fraction and exponent of a number from `b[j]`.
#[cold]
fn number_tail(b: &[u8], mut j: usize) -> Result<usize, String> {
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    if b.get(j) == Some(&b'.') {
        let k = digits(j + 1);
        if k == j + 1 {
            return bad_number();
        }
        j = k;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let k = digits(j);
        if k == j {
            return bad_number();
        }
        j = k;
    }
    Ok(j)
}

fn skip_value(b: &[u8], i: usize, depth: u32) -> Result<usize, String> {
    let bad = || Err("malformed JSON: expected a value".to_string());
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            if depth > 64 {
                return Err("malformed JSON: nested too deeply".into());
            }
            let close = if b[i] == b'{' { b'}' } else { b']' };
            let mut j = ws(b, i + 1);
            if b.get(j) == Some(&close) {
                return Ok(j + 1);
            }
            loop {
                if close == b'}' {
                    if b.get(j) != Some(&b'"') {
                        return Err("malformed JSON: expected a key".into());
                    }
                    j = ws(b, skip_string(b, j)?);
                    if b.get(j) != Some(&b':') {
                        return Err("malformed JSON: expected `:`".into());
                    }
                    j = ws(b, j + 1);
                }
                j = ws(b, skip_value(b, j, depth + 1)?);
                match b.get(j) {
                    Some(b',') => j = ws(b, j + 1),
                    Some(c) if *c == close => return Ok(j + 1),
                    _ => return Err("malformed JSON: expected `,` or a closing bracket".into()),
                }
            }
        }
        Some(b't') if b[i..].starts_with(b"true") => Ok(i + 4),
        Some(b'f') if b[i..].starts_with(b"false") => Ok(i + 5),
        Some(b'n') if b[i..].starts_with(b"null") => Ok(i + 4),
        Some(c) if *c == b'-' || c.is_ascii_digit() => skip_number(b, i),
        _ => bad(),
    }
}

#[cold]
fn duplicate(name: &[u8]) -> String {
    format!("duplicate key `{}`", String::from_utf8_lossy(name))
}

/// Walks the top-level object, recording the value span of every key in
/// `slots` (each at most once).
fn scan_object(
    b: &[u8],
    slots: &[Slot],
    spans: &mut [Option<Span>],
    shape: &mut Shape,
) -> Result<(), String> {
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err("expected a JSON object per line".into());
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return if ws(b, i + 1) == b.len() {
            Ok(())
        } else {
            Err("malformed JSON: trailing characters".into())
        };
    }
    let mut k = 0usize;
    loop {
        let slot = match shape.predict(k, b, i) {
            Some((len, slot)) => {
                i = ws(b, i + len);
                slot
            }
            None => {
                if b.get(i) != Some(&b'"') {
                    return Err("malformed JSON: expected a key".into());
                }
                let key_start = i;
                let key_end = skip_string(b, i)?;
                let key = &b[i + 1..key_end - 1];
                i = ws(b, key_end);
                if b.get(i) != Some(&b':') {
                    return Err("malformed JSON: expected `:`".into());
                }
                let slot = if key.contains(&b'\\') {
                    // an escaped key names the field it decodes to
                    let mut scratch = Vec::new();
                    let key = string_bytes(&b[key_start..key_end], true, &mut scratch)
                        .ok_or_else(|| "malformed JSON: bad escape in a key".to_string())?;
                    slots.iter().position(|s| s.name == key)
                } else {
                    let slot = slots.iter().position(|s| s.name == key);
                    if i == key_end {
                        shape.learn(k, &b[key_start..=i], slot);
                    }
                    slot
                };
                i = ws(b, i + 1);
                slot
            }
        };
        k += 1;
        let (v_end, esc) = if b.get(i) == Some(&b'"') {
            skip_string_esc(b, i)?
        } else {
            (skip_value(b, i, 0)?, false)
        };
        if let Some(slot) = slot {
            if spans[slot].is_some() {
                return Err(duplicate(&slots[slot].name));
            }
            spans[slot] = Some((i, v_end, esc));
        }
        i = ws(b, v_end);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => {
                return if ws(b, i + 1) == b.len() {
                    Ok(())
                } else {
                    Err("malformed JSON: trailing characters".into())
                };
            }
            _ => return Err("malformed JSON: expected `,` or `}`".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::{FieldLayout, FieldRole};
    use sluice_engine::value::{decode_record, Value};

    fn layout() -> RecordLayout {
        let f = |name: &str, ty: FieldType, optional: bool| FieldLayout {
            name: name.into(),
            ty,
            optional,
            role: FieldRole::Attribute,
            doc: None,
        };
        let mut fields = RecordLayout::envelope("user_id");
        fields.push(f(
            "amount",
            FieldType::Money {
                currency: "USD".into(),
                scale: 2,
            },
            false,
        ));
        fields.push(f("note", FieldType::String, true));
        fields.push(f(
            "kind",
            FieldType::Enum {
                symbols: vec!["a".into(), "b".into()],
            },
            false,
        ));
        fields.push(f("ok", FieldType::Boolean, false));
        fields.push(f("x", FieldType::Double, false));
        RecordLayout {
            namespace: "n".into(),
            domain: "d".into(),
            event_type: "buy".into(),
            entity_key: "user_id".into(),
            money: MoneyEncoding::Long,
            fields,
        }
    }

    #[test]
    fn projects_only_needed_fields_and_matches_the_plain_decoder() {
        let full = layout();
        let needed: Vec<String> = ["amount", "note", "kind", "user_id", "x"]
            .map(String::from)
            .to_vec();
        let p = project_layout(&full, &needed);
        let mut pr = Projector::new(std::slice::from_ref(&p));
        let mut out = Vec::new();
        let line = br#"{"event_id":"e1","event_type":"buy","user_id":"u\u00e9\"1","event_time":1000,"skip":{"a":[1,2,{"b":null}]},"amount":1250,"kind":"b","ok":true,"x":-1.5e2}"#;
        assert_eq!(pr.line(line, &mut out).unwrap(), 0);
        let vals = decode_record(&p, &out).unwrap();
        assert_eq!(
            vals,
            vec![
                Value::Str("ué\"1".into()),
                Value::Int(1000),
                Value::Int(1250),
                Value::Null,
                Value::Str("b".into()),
                Value::Double(-150.0)
            ]
        );
    }

    #[test]
    fn integers_parse_like_the_standard_library() {
        let mut cases: Vec<String> = vec![
            "0".into(),
            "-0".into(),
            "7".into(),
            "12345678".into(),
            "1704067200008".into(),
            "-999999999999999999".into(),
            "999999999999999999".into(),
            "9223372036854775807".into(),
            "-9223372036854775808".into(),
            "9223372036854775808".into(),
            "".into(),
            "-".into(),
            "1e3".into(),
            "12.5".into(),
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 1..=19 {
            for _ in 0..50 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut d: String = (0..len)
                    .map(|k| char::from(b'0' + ((x >> (k * 3)) % 10) as u8))
                    .collect();
                cases.push(d.clone());
                // one non-digit at every position
                let at = (x as usize) % len;
                let bad = [b'/', b':', b'a', b' ', 0x80u8 as char as u8][(x >> 40) as usize % 5];
                d.replace_range(at..=at, &char::from(bad).to_string());
                cases.push(d);
            }
        }
        for c in cases {
            assert_eq!(parse_int(c.as_bytes()), c.parse::<i64>().ok(), "{c:?}");
        }
    }

    #[test]
    fn finds_special_bytes_at_every_offset() {
        let special = [b'"', b'\\', 0x00, 0x1F, 0x80, 0xFF, 0x0A];
        let plain = [b'a', 0x20, 0x7F, b'!', b'#', b'['];
        for len in 0..40usize {
            for at in 0..=len {
                let mut v = vec![plain[len % plain.len()]; len];
                if at < len {
                    v[at] = special[at % special.len()];
                    // a later special byte must not hide the first
                    if at + 3 < len {
                        v[at + 3] = special[(at + 1) % special.len()];
                    }
                }
                for start in 0..=len.min(9) {
                    let expect = (start..len).find(|&k| special.contains(&v[k]));
                    assert_eq!(
                        find_special(&v, start),
                        expect,
                        "len {len} at {at} start {start}"
                    );
                }
            }
        }
        assert_eq!(skip_string(br#""a\"b" x"#, 0), Ok(6));
        assert!(skip_string(br#""abc"#, 0).is_err());
    }

    #[test]
    fn rejects_with_reasons_and_leaves_output_untouched() {
        let full = layout();
        let p = project_layout(&full, &["amount".into(), "kind".into()]);
        let mut pr = Projector::new(std::slice::from_ref(&p));
        let mut out = vec![9];
        let cases: [(&[u8], &str); 7] = [
            (
                br#"{"event_type":"buy","event_time":1,"amount":1,"kind":"c"}"#,
                "`c` is not one of a, b",
            ),
            (
                br#"{"event_type":"buy","event_time":1,"kind":"a"}"#,
                "missing required field `amount`",
            ),
            (
                br#"{"event_type":"buy","event_time":"x","amount":1,"kind":"a"}"#,
                "not an RFC 3339",
            ),
            (
                br#"{"event_type":"sell","event_time":1}"#,
                "unknown event type `sell`",
            ),
            (
                br#"{"event_type":"buy","event_time":1,"amount":1,"kind":"a""#,
                "malformed JSON",
            ),
            (
                br#"{"event_type":"buy","event_time":1,"amount":1.5,"kind":"a"}"#,
                "expected an integer",
            ),
            (br#"[1]"#, "expected a JSON object"),
        ];
        for (line, want) in cases {
            let e = pr.line(line, &mut out).unwrap_err();
            assert!(
                e.0.contains(want),
                "{} → {}",
                String::from_utf8_lossy(line),
                e.0
            );
            assert_eq!(out, vec![9]);
        }
    }

    #[test]
    fn strings_are_checked_everywhere_and_read_keys_only_once() {
        let full = layout();
        let p = project_layout(&full, &["amount".into(), "kind".into()]);
        let mut pr = Projector::new(std::slice::from_ref(&p));
        let head = br#"{"event_type":"buy","event_time":1,"amount":1,"kind":"a","#;
        let with = |tail: &[u8]| [&head[..], tail, b"}"].concat();
        let mut out = vec![9];
        let bad: [(Vec<u8>, &str); 12] = [
            (with(b"\"note\":\"\xff\""), "invalid UTF-8"),
            (with(b"\"note\":\"a\xc3\""), "invalid UTF-8"),
            (with(b"\"note\":\"\xed\xa0\x80\""), "invalid UTF-8"),
            (with(b"\"skip\":[{\"k\":\"\xc0\xaf\"}]"), "invalid UTF-8"),
            (with(b"\"no\xfete\":1"), "invalid UTF-8"),
            (with(b"\"note\":\"a\x00b\""), "raw control character"),
            (with(b"\"skip\":{\"a\":\"\x1f\"}"), "raw control character"),
            (with(b"\"amount\":2"), "duplicate key `amount`"),
            (
                with(b"\"event_type\":\"buy\""),
                "duplicate key `event_type`",
            ),
            (with(br#""amo\u0075nt":2"#), "duplicate key `amount`"),
            (with(br#""note":"\ud800""#), "unpaired surrogate"),
            (with(br#""note":"\udc00\ud800""#), "unpaired surrogate"),
        ];
        for (line, want) in bad {
            let e = pr.line(&line, &mut out).unwrap_err();
            assert!(
                e.0.contains(want),
                "{} → {}",
                String::from_utf8_lossy(&line),
                e.0
            );
            assert_eq!(out, vec![9]);
        }
        // well-formed text, escaped control characters and repeated keys
        // the projection does not read are fine
        for tail in [
            "\"note\":\"é€😀\"".as_bytes(),
            br#""note":"\u0000\n""#,
            br#""pad":1,"pad":2"#,
            br#""skip":{"a":1,"a":2}"#,
            br#""note":"\ud83d\ude00""#,
        ] {
            let line = with(tail);
            assert!(
                pr.line(&line, &mut out).is_ok(),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }
}
