//! The `file` source: replays JSON lines (`.jsonl`, `.ndjson`, `.json`) and
//! Avro object container files (`.avro`), from one file, a directory (files
//! in name order) or a `*`/`?` pattern in the last path component. All files
//! form partition 0, read in order; offsets are line numbers (1-based) for
//! JSON lines and record indexes for Avro.

use std::path::{Path, PathBuf};

use sluice_core::RecordLayout;

use super::json_fast::Projector;
use super::{avro, Source, SourceOutput, SourceStatus};
use crate::{ConnectorError, DeadLetterKind, DeadLetterRecord};

/// Expands a path, directory or pattern into files, in order.
pub fn expand(spec: &str) -> Result<Vec<PathBuf>, ConnectorError> {
    let p = Path::new(spec);
    let err = |m: &str| ConnectorError::BadInput {
        path: spec.to_string(),
        message: m.to_string(),
    };
    let mut files = if p.is_file() {
        vec![p.to_path_buf()]
    } else if p.is_dir() {
        list(p, |_| true)?
    } else {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| err("no such file"))?;
        if !name.contains(['*', '?']) {
            return Err(err("no such file or directory"));
        }
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        list(dir, |f| glob_match(name.as_bytes(), f.as_bytes()))?
    };
    files.retain(|f| format_of(f).is_some());
    if files.is_empty() {
        return Err(err("no .jsonl, .ndjson, .json or .avro files found"));
    }
    Ok(files)
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ConnectorError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ConnectorError::Read {
        path: dir.display().to_string(),
        source: e,
    })?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    v.sort();
    Ok(v)
}

/// `*` and `?` wildcard match.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&pat[1..], s) || (!s.is_empty() && glob_match(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&pat[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&pat[1..], &s[1..]),
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    JsonLines,
    AvroOcf,
}

fn format_of(p: &Path) -> Option<Format> {
    match p.extension()?.to_str()? {
        "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
        "avro" => Some(Format::AvroOcf),
        _ => None,
    }
}

/// Reads files in order.
#[derive(Debug)]
pub struct FileSource {
    layouts: Vec<RecordLayout>,
    /// JSON lines go through the same scanner as the parallel source, over
    /// the full layouts.
    projector: Projector,
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    path: String,
    format: Format,
    bytes: Vec<u8>,
    pos: usize,
    /// JSON: line number of the next line; Avro: index of the next record.
    offset: i64,
    /// Avro: the event type, sync marker and the records left in the current block.
    ocf: Option<(u32, [u8; 16], usize, usize)>,
}

impl FileSource {
    /// A source over `spec` (file, directory or pattern).
    pub fn new(spec: &str, layouts: Vec<RecordLayout>) -> Result<Self, ConnectorError> {
        Ok(Self {
            projector: Projector::new(&layouts),
            layouts,
            files: expand(spec)?,
            next_file: 0,
            current: None,
        })
    }

    /// The files that will be read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn open_next(&mut self) -> Result<bool, ConnectorError> {
        let Some(path) = self.files.get(self.next_file) else {
            return Ok(false);
        };
        self.next_file += 1;
        let bytes = std::fs::read(path).map_err(|e| ConnectorError::Read {
            path: path.display().to_string(),
            source: e,
        })?;
        let format = format_of(path).unwrap_or(Format::JsonLines);
        let mut cur = Current {
            path: path.display().to_string(),
            format,
            bytes,
            pos: 0,
            offset: if format == Format::JsonLines { 1 } else { 0 },
            ocf: None,
        };
        if format == Format::AvroOcf {
            let bad = |m: String| ConnectorError::BadInput {
                path: cur.path.clone(),
                message: m,
            };
            let h = avro::read_header(&cur.bytes).map_err(bad)?;
            let idx = avro::match_layout(&self.layouts, &h.schema).map_err(|m| {
                ConnectorError::BadInput {
                    path: cur.path.clone(),
                    message: m,
                }
            })?;
            cur.pos = h.len;
            cur.ocf = Some((idx, h.sync, 0, 0));
        }
        self.current = Some(cur);
        Ok(true)
    }
}

impl Source for FileSource {
    fn describe(&self) -> String {
        format!("file ({} files)", self.files.len())
    }

    fn next_batch(
        &mut self,
        max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError> {
        out.clear();
        out.batch.partition = 0;
        let mut first = true;
        while out.len() < max_records {
            if self.current.is_none() && !self.open_next()? {
                return Ok(if out.is_empty() {
                    SourceStatus::End
                } else {
                    SourceStatus::More
                });
            }
            let Some(cur) = self.current.as_mut() else {
                continue;
            };
            if first {
                out.origin = cur.path.clone();
                first = false;
            } else if out.origin != cur.path {
                // one batch never mixes files: offsets restart per file
                return Ok(SourceStatus::More);
            }
            let done = match cur.format {
                Format::JsonLines => read_json(cur, &mut self.projector, max_records, out),
                Format::AvroOcf => read_ocf(cur, &self.layouts, max_records, out),
            };
            if done {
                self.current = None;
                if !out.is_empty() {
                    return Ok(SourceStatus::More);
                }
                first = true;
            }
        }
        Ok(SourceStatus::More)
    }
}

fn reject(
    cur: &Current,
    offset: i64,
    reason: String,
    event_type: Option<String>,
    payload: &[u8],
) -> DeadLetterRecord {
    DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason,
        source: cur.path.clone(),
        partition: 0,
        offset,
        event_type,
        aggregation: None,
        event_time: None,
        payload: payload.to_vec(),
        key: None,
        timestamp: None,
    }
}

/// Returns true when the file is exhausted. Rejected lines keep their
/// position in the offset sequence: the batch gets a record per good line
/// and the runtime maps offsets back through `rejects`.
fn read_json(
    cur: &mut Current,
    projector: &mut Projector,
    max: usize,
    out: &mut SourceOutput,
) -> bool {
    while out.len() < max {
        if cur.pos >= cur.bytes.len() {
            return true;
        }
        let rest = &cur.bytes[cur.pos..];
        let nl = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
        let line = &rest[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let offset = cur.offset;
        cur.pos += (nl + 1).min(rest.len());
        cur.offset += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match projector.line(line, &mut out.batch.data) {
            Ok(et) => {
                out.batch.push_typed(et, &[]);
                out.batch_offsets_push(offset);
            }
            Err((reason, et)) => {
                let r = reject(cur, offset, reason, et, line);
                out.rejects.push(r);
            }
        }
    }
    cur.pos >= cur.bytes.len()
}

fn read_ocf(
    cur: &mut Current,
    layouts: &[RecordLayout],
    max: usize,
    out: &mut SourceOutput,
) -> bool {
    let Some((et, sync, mut left, mut block_end)) = cur.ocf else {
        return true;
    };
    let layout = &layouts[et as usize];
    while out.len() < max {
        if left == 0 {
            if block_end > 0 {
                cur.pos = block_end;
            }
            match avro::read_block(&cur.bytes, cur.pos, &sync) {
                Ok(None) => {
                    cur.ocf = Some((et, sync, 0, 0));
                    return true;
                }
                Ok(Some((count, data, next))) => {
                    cur.pos = next - 16 - data.len();
                    block_end = next;
                    left = usize::try_from(count).unwrap_or(0);
                }
                Err(m) => {
                    let tail = cur.bytes[cur.pos..].to_vec();
                    let r = reject(
                        cur,
                        cur.offset,
                        format!("corrupt container: {m}"),
                        Some(layout.event_type.clone()),
                        &tail,
                    );
                    out.rejects.push(r);
                    cur.pos = cur.bytes.len();
                    return true;
                }
            }
            continue;
        }
        let data_end = block_end - 16;
        let rec = &cur.bytes[cur.pos..data_end];
        let offset = cur.offset;
        cur.offset += 1;
        left -= 1;
        match avro::datum_len(layout, rec) {
            Some(n) => {
                out.batch.push_typed(et, &rec[..n]);
                out.batch_offsets_push(offset);
                cur.pos += n;
            }
            None => {
                let r = reject(
                    cur,
                    offset,
                    "truncated or malformed Avro record".into(),
                    Some(layout.event_type.clone()),
                    rec,
                );
                out.rejects.push(r);
                // the rest of the block cannot be split reliably
                left = 0;
                cur.pos = block_end;
            }
        }
    }
    cur.ocf = Some((et, sync, left, block_end));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match(b"*.jsonl", b"a.jsonl"));
        assert!(glob_match(b"part-??.avro", b"part-01.avro"));
        assert!(!glob_match(b"*.jsonl", b"a.json"));
    }
}
