//! Avro object container files (the format `sluice generate --format
//! avro-ocf` writes) and splitting concatenated datums into records by
//! walking the layout. Codec `null` only; the writer schema must match the
//! event type's current layout field by field.

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

/// Reads a zigzag varint at `*pos`.
pub fn read_long(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut n: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Some(((n >> 1) as i64) ^ -((n & 1) as i64))
}

fn read_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(read_long(b, pos)?).ok()?;
    let s = b.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
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
    let idx = super::event_type_index(layouts, &et)
        .ok_or_else(|| format!("unknown event type `{et}`"))?;
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
