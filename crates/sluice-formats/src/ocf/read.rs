//! Avro object container files (the format `sluice generate --format
//! avro-ocf` writes) and splitting concatenated datums into records by
//! walking the layout. Codec `null` only; the writer schema must match the
//! event type's current layout field by field.
//!
//! **Several event types in one file.** The writer schema may be a union of
//! record schemas (what the generator writes for a whole domain). Each
//! branch must be one of the domain's event types — matched by the
//! `sluice.event_type` attribute, else by record name — with exactly the
//! current fields; each datum then starts with its branch index, which
//! selects the event type ([`match_schema`], [`Branches`]). A branch that is
//! not an event type of the domain (`"null"`, a named reference, an
//! unknown record) refuses the whole file, as a single mismatched schema does.
//!
//! **Damaged files** ([`next_block`]). A block is used only when it is
//! whole: its header (record count, byte length) parses, its 16-byte sync
//! marker follows exactly where the length says, and walking its datums
//! consumes exactly its bytes. Otherwise its records are lost, and reading
//! resumes at the next block:
//! - the count is *known* when the header parses plausibly (at least one
//!   record, no more records than bytes) and the block's end is confirmed:
//!   its sync marker is in place (the datums did not decode), or the
//!   16 bytes where the marker belongs are followed by a good block or the
//!   end of the file (a damaged marker), or the file ends inside the block
//!   with no sync marker after it and the block's length is no more than
//!   the file's (a cut file). Each lost record is then reported on its own
//!   ([`BlockRead::Lost`]) — never more of them than the file has bytes;
//! - otherwise the block's extent is unknown: the bytes up to the next
//!   occurrence of the file's sync marker (or the end of the file) are
//!   skipped and reported once ([`BlockRead::Unknown`]).
//!
//! With codec `null` there is no checksum: damage that keeps every length
//! and the sync markers intact (a changed character inside a string) is not
//! detectable here; the engine still rejects values its decoder refuses.

use serde_json::Value as Json;
use sluice_core::{FieldType, MoneyEncoding, RecordLayout};

/// The header of an object container file.
#[derive(Debug)]
pub struct OcfHeader {
    /// Writer schema JSON.
    pub schema: Json,
    /// Sync marker separating blocks.
    pub sync: [u8; 16],
    /// Bytes consumed by the header.
    pub len: usize,
}

/// Reads a zigzag varint at `*pos` (the shared codec, by position).
pub fn read_long(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut rest = b.get(*pos..)?;
    let v = crate::avro::read_long(&mut rest)?;
    *pos = b.len() - rest.len();
    Some(v)
}

fn read_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut rest = b.get(*pos..)?;
    let s = crate::avro::read_bytes(&mut rest)?;
    *pos = b.len() - rest.len();
    Some(s)
}

/// Parses the header; `Err` says why the file is not a usable container.
pub fn read_header(b: &[u8]) -> Result<OcfHeader, String> {
    if b.get(..4) != Some(b"Obj\x01") {
        return Err("not an Avro object container file (bad magic)".into());
    }
    let mut pos = 4;
    let mut schema = None;
    let mut codec = "null".to_string();
    loop {
        let count = read_long(b, &mut pos).ok_or("truncated header")?;
        if count == 0 {
            break;
        }
        let count = if count < 0 {
            read_long(b, &mut pos).ok_or("truncated header")?;
            -count
        } else {
            count
        };
        for _ in 0..count {
            let k = read_bytes(b, &mut pos).ok_or("truncated header")?;
            let v = read_bytes(b, &mut pos).ok_or("truncated header")?;
            match k {
                b"avro.schema" => {
                    schema = Some(
                        serde_json::from_slice::<Json>(v)
                            .map_err(|e| format!("bad schema in header: {e}"))?,
                    )
                }
                b"avro.codec" => codec = String::from_utf8_lossy(v).into_owned(),
                _ => {}
            }
        }
    }
    if codec != "null" {
        return Err(format!(
            "codec `{codec}` is not supported (write with codec `null`)"
        ));
    }
    let sync: [u8; 16] = b
        .get(pos..pos + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated header")?;
    Ok(OcfHeader {
        schema: schema.ok_or("header has no `avro.schema`")?,
        sync,
        len: pos + 16,
    })
}

/// A data block: record count, bytes, and where the next block starts.
pub type Block<'a> = (i64, &'a [u8], usize);

/// One data block: its record count and bytes, and where the next block starts.
pub fn read_block<'a>(
    b: &'a [u8],
    pos: usize,
    sync: &[u8; 16],
) -> Result<Option<Block<'a>>, String> {
    if pos >= b.len() {
        return Ok(None);
    }
    let mut p = pos;
    let count = read_long(b, &mut p).ok_or("truncated block")?;
    let data = read_bytes(b, &mut p).ok_or("truncated block")?;
    if b.get(p..p + 16) != Some(&sync[..]) {
        return Err(format!("bad sync marker after block at byte {pos}"));
    }
    Ok(Some((count, data, p + 16)))
}

/// Length of the datum at the start of `b` for `layout`, by walking its fields.
pub fn datum_len(layout: &RecordLayout, b: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for f in &layout.fields {
        if f.optional {
            match read_long(b, &mut pos)? {
                0 => continue,
                1 => {}
                _ => return None,
            }
        }
        match &f.ty {
            FieldType::String => {
                read_bytes(b, &mut pos)?;
            }
            FieldType::Money { .. } if layout.money == MoneyEncoding::Decimal => {
                read_bytes(b, &mut pos)?;
            }
            FieldType::Int
            | FieldType::Long
            | FieldType::Timestamp
            | FieldType::Enum { .. }
            | FieldType::Money { .. } => {
                read_long(b, &mut pos)?;
            }
            FieldType::Double => {
                pos = pos.checked_add(8).filter(|p| *p <= b.len())?;
            }
            FieldType::Boolean => {
                pos = pos.checked_add(1).filter(|p| *p <= b.len())?;
            }
        }
    }
    Some(pos)
}

/// Which event type each datum of a container file is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branches {
    /// True when the writer schema is a union: each datum starts with its
    /// branch index.
    pub union: bool,
    /// Layout index per branch (one entry when not a union).
    pub types: Vec<u32>,
}

/// The event types of a writer schema: one record, or a union of records.
pub fn match_schema(layouts: &[RecordLayout], schema: &Json) -> Result<Branches, String> {
    let Some(branches) = schema.as_array() else {
        return Ok(Branches {
            union: false,
            types: vec![match_layout(layouts, schema)?],
        });
    };
    if branches.is_empty() {
        return Err("writer schema is an empty union".into());
    }
    let types = branches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if !b.is_object() {
                return Err(format!(
                    "union branch {i} ({b}) is not a record schema of an event type"
                ));
            }
            match_layout(layouts, b).map_err(|m| format!("union branch {i}: {m}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Branches { union: true, types })
}

/// A validated record of a block: its event type and byte range in the file.
pub type Record = (u32, std::ops::Range<usize>);

/// What [`next_block`] found at a position.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockRead {
    /// The end of the file.
    End,
    /// A whole block; its records were appended. Next block at `next`.
    Records {
        /// Where the next block starts.
        next: usize,
    },
    /// A damaged block whose record count is known.
    Lost {
        /// Records lost.
        count: usize,
        /// Why.
        why: String,
        /// Where reading resumes.
        next: usize,
    },
    /// Damaged bytes of unknown record count, skipped to the next sync
    /// marker or the end of the file.
    Unknown {
        /// Why.
        why: String,
        /// Where reading resumes.
        next: usize,
    },
}

/// Reads the block at `pos` (see the module docs for the rules), appending
/// its records to `records` only when the whole block is good.
pub fn next_block(
    b: &[u8],
    pos: usize,
    sync: &[u8; 16],
    layouts: &[RecordLayout],
    branches: &Branches,
    records: &mut Vec<Record>,
) -> BlockRead {
    if pos >= b.len() {
        return BlockRead::End;
    }
    let mut p = pos;
    let header = read_long(b, &mut p).and_then(|count| {
        let len = read_long(b, &mut p)?;
        let plausible = (count >= 1 && count <= len) || (count == 0 && len == 0);
        let count = usize::try_from(count).ok().filter(|_| plausible)?;
        let len = usize::try_from(len).ok()?;
        Some((count, p, p.checked_add(len)?))
    });
    let marker_after = |at: usize| find_sync(b, at, sync);
    let Some((count, data_start, data_end)) = header else {
        return unknown(b, pos, "unreadable block header", marker_after(pos));
    };
    if b.get(data_end..data_end.saturating_add(16)) == Some(&sync[..]) {
        let mark = records.len();
        if walk(b, data_start, data_end, count, layouts, branches, records) {
            return BlockRead::Records {
                next: data_end + 16,
            };
        }
        records.truncate(mark);
        return BlockRead::Lost {
            count,
            why: "its records do not decode to its length".into(),
            next: data_end + 16,
        };
    }
    if data_end.saturating_add(16) > b.len() {
        // the file ends inside the block: a cut file, unless a sync marker
        // follows (then the header's length is wrong) or the block would be
        // longer than the whole file (a damaged header; this also bounds the
        // dead letters by the file's size)
        return match marker_after(pos) {
            None if data_end - data_start <= b.len() => BlockRead::Lost {
                count,
                why: "the file ends inside the block".into(),
                next: b.len(),
            },
            None => unknown(b, pos, "block length runs past the end of the file", None),
            found => unknown(b, pos, "block length runs past a sync marker", found),
        };
    }
    // the marker is not where the length says: a damaged marker when a good
    // block (or the end of the file) follows it, else an unknown extent
    let after = data_end + 16;
    let next_ok = after == b.len() || read_block(b, after, sync).is_ok_and(|n| n.is_some());
    if next_ok && marker_after(pos).is_none_or(|m| m >= data_end) {
        return BlockRead::Lost {
            count,
            why: "its sync marker is damaged".into(),
            next: after,
        };
    }
    unknown(
        b,
        pos,
        "no sync marker where the block length ends",
        marker_after(pos),
    )
}

fn unknown(b: &[u8], pos: usize, what: &str, marker: Option<usize>) -> BlockRead {
    let next = marker.map_or(b.len(), |m| m + 16);
    let to = match marker {
        Some(m) => format!("the next sync marker at byte {m}"),
        None => "the end of the file".into(),
    };
    BlockRead::Unknown {
        why: format!("{what}; skipped {} bytes to {to}", next - pos),
        next,
    }
}

/// The first position at or after `from` where the sync marker occurs.
pub fn find_sync(b: &[u8], from: usize, sync: &[u8; 16]) -> Option<usize> {
    let hay = b.get(from..)?;
    memchr::memmem::find(hay, sync).map(|k| from + k)
}

/// Splits `b[start..end]` into `count` datums; true when they use exactly
/// those bytes.
fn walk(
    b: &[u8],
    start: usize,
    end: usize,
    count: usize,
    layouts: &[RecordLayout],
    branches: &Branches,
    records: &mut Vec<Record>,
) -> bool {
    let data = &b[start..end];
    let mut pos = 0;
    for _ in 0..count {
        let et = if branches.union {
            let Some(i) = read_long(data, &mut pos) else {
                return false;
            };
            match usize::try_from(i).ok().and_then(|i| branches.types.get(i)) {
                Some(et) => *et,
                None => return false,
            }
        } else {
            match branches.types.first() {
                Some(et) => *et,
                None => return false,
            }
        };
        let Some(layout) = layouts.get(et as usize) else {
            return false;
        };
        let Some(n) = data.get(pos..).and_then(|rest| datum_len(layout, rest)) else {
            return false;
        };
        records.push((et, start + pos..start + pos + n));
        pos += n;
    }
    pos == data.len()
}

/// Which layout a writer schema is for, checking its fields match exactly.
pub fn match_layout(layouts: &[RecordLayout], schema: &Json) -> Result<u32, String> {
    let et = schema
        .get("sluice.event_type")
        .and_then(Json::as_str)
        .map(str::to_string)
        .or_else(|| {
            let name = schema.get("name")?.as_str()?;
            layouts
                .iter()
                .find(|l| sluice_core::layout::record_name(&l.event_type) == name)
                .map(|l| l.event_type.clone())
        })
        .ok_or("writer schema does not name a known event type")?;
    let idx = event_type_index(layouts, &et).ok_or_else(|| format!("unknown event type `{et}`"))?;
    let layout = &layouts[idx as usize];
    let fields = schema
        .get("fields")
        .and_then(Json::as_array)
        .ok_or("writer schema has no fields")?;
    let names: Vec<&str> = fields
        .iter()
        .filter_map(|f| f.get("name")?.as_str())
        .collect();
    let want: Vec<&str> = layout.fields.iter().map(|f| f.name.as_str()).collect();
    if names != want {
        return Err(format!(
            "writer schema of `{et}` has fields [{}] but the current config has [{}]; regenerate or replay through Kafka with a registry for schema evolution",
            names.join(", "),
            want.join(", ")
        ));
    }
    Ok(idx)
}

/// Index of an event type by name.
fn event_type_index(layouts: &[RecordLayout], name: &str) -> Option<u32> {
    layouts
        .iter()
        .position(|l| l.event_type == name)
        .and_then(|i| u32::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::write_long as put_long;

    /// Event type `e` with only its `event_time` (one long per datum).
    fn time_only() -> Vec<RecordLayout> {
        vec![RecordLayout::time_only("e")]
    }

    const SYNC: [u8; 16] = *b"0123456789abcdef";

    /// A block of `count` datums.
    fn block(out: &mut Vec<u8>, count: i64) {
        let mut data = Vec::new();
        for t in 0..count {
            put_long(&mut data, 1000 + t);
        }
        put_long(out, count);
        put_long(out, data.len() as i64);
        out.extend_from_slice(&data);
        out.extend_from_slice(&SYNC);
    }

    fn read(b: &[u8], pos: usize) -> (BlockRead, usize) {
        let one = Branches {
            union: false,
            types: vec![0],
        };
        let mut records = Vec::new();
        let r = next_block(b, pos, &SYNC, &time_only(), &one, &mut records);
        (r, records.len())
    }

    #[test]
    fn blocks_are_used_whole_or_counted_as_lost() {
        let mut b = Vec::new();
        block(&mut b, 3);
        let second = b.len();
        block(&mut b, 4);
        assert_eq!(read(&b, 0), (BlockRead::Records { next: second }, 3));
        assert_eq!(read(&b, b.len()), (BlockRead::End, 0));
        // a count that does not match the bytes: the block is lost whole
        let mut bad = Vec::new();
        block(&mut bad, 3);
        bad[0] = 4; // count 2
        let (r, n) = read(&bad, 0);
        assert!(matches!(r, BlockRead::Lost { count: 2, next, .. } if next == second));
        assert_eq!(n, 0, "no record of a lost block is kept");
        // a cut file: the header's count is reported
        let (r, _) = read(&b[..second + 4], second);
        assert!(matches!(r, BlockRead::Lost { count: 4, .. }), "{r:?}");
        // a header claiming more bytes than the file has, with no sync
        // marker after it: the count is not believed
        let mut huge = Vec::new();
        put_long(&mut huge, 1 << 40);
        put_long(&mut huge, 1 << 41);
        huge.resize(40, 2);
        let (r, _) = read(&huge, 0);
        assert!(matches!(r, BlockRead::Unknown { next: 40, .. }), "{r:?}");
        // an unreadable header: skipped to just past the next sync marker
        let mut junk = vec![0xFF; 12];
        let next = junk.len();
        junk.extend_from_slice(&b);
        let (r, _) = read(&junk, 0);
        let first_end = next + second;
        assert!(
            matches!(r, BlockRead::Unknown { next, .. } if next == first_end),
            "{r:?}"
        );
    }
}
