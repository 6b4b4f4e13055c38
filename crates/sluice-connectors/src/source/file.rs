//! The `file` source: replays JSON lines (`.jsonl`, `.ndjson`, `.json`) and
//! Avro object container files (`.avro`), from one file, a directory (files
//! in name order) or a `*`/`?` pattern in the last path component. All files
//! form partition 0, read in order; offsets are line numbers (1-based) for
//! JSON lines and record indexes for Avro.
//!
//! - A path that exists but is not a regular file or directory (a device
//!   such as `/dev/zero`, a FIFO, a socket) is refused as "not a regular
//!   file (…)"; a path that cannot be examined or a file that cannot be
//!   opened is a read error naming it (e.g. permission denied), checked
//!   before anything is read; only a path that does not exist is "no such
//!   file or directory".
//! - JSON lines: a UTF-8 byte order mark opening a file is skipped; anywhere
//!   else it is malformed JSON. Lines go through the projecting scanner
//!   ([`Projector`]), whose rules are in [`super::json_projector`].
//! - Avro: one event type or a union of the domain's event types per file;
//!   a damaged block loses its records, each reported as a dead letter when
//!   its record count is known (one dead letter saying so otherwise), and
//!   reading resumes at the next sync marker (`sluice_formats::ocf::read`). Dead letters
//!   of lost records carry no payload; the reason names the byte position.

use std::path::{Path, PathBuf};

use sluice_core::RecordLayout;

use super::json_parallel::{parser_threads, ParallelJsonSource};
use super::{Source, SourceOutput, SourceStatus};
use crate::{
    BuildError, BuiltSource, ConnectorError, Context, DeadLetterKind, DeadLetterRecord,
    SourceFactory,
};
use sluice_formats::json_projector::Projector;
use sluice_formats::ocf::read::{self as avro, BlockRead, Branches, Record};

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `file:PATH`: a file, a directory or a glob pattern; JSON lines are
/// parsed on every core reading only the fields the plan uses, Avro
/// container files sequentially.
#[derive(Debug)]
pub struct FilesFactory;

/// Whether every file is JSON lines (parsed in parallel, projected).
fn all_json(files: &[PathBuf]) -> bool {
    files
        .iter()
        .all(|f| f.extension().is_some_and(|e| e != "avro"))
}

impl SourceFactory for FilesFactory {
    fn name(&self) -> &'static str {
        "file"
    }

    fn usage(&self) -> &'static str {
        "file:PATH"
    }

    fn reads_projected(&self, arg: Option<&str>) -> bool {
        arg.and_then(|a| expand(a).ok())
            .is_some_and(|files| all_json(&files))
    }

    fn build(&self, cx: &Context<'_>, arg: Option<&str>) -> Result<BuiltSource, BuildError> {
        let spec = arg.filter(|a| !a.is_empty()).ok_or_else(|| {
            BuildError::Usage(
                "`file` needs a path: `file:events.jsonl`, `file:dir/` or `file:'events/*.jsonl'`"
                    .into(),
            )
        })?;
        let files = expand(spec).map_err(BuildError::Source)?;
        let source: Box<dyn Source> = if all_json(&files) {
            // parse on every core (the engine's thread parses too while it
            // would wait), reading only the fields the aggregations use
            Box::new(ParallelJsonSource::assisted(
                files,
                cx.layouts.to_vec(),
                parser_threads(),
            ))
        } else {
            Box::new(FileSource::new(spec, cx.domain.layouts()).map_err(BuildError::Source)?)
        };
        Ok(BuiltSource::plain(source, None))
    }
}

/// Expands a path, directory or pattern into files, in order. Every file
/// returned could be opened for reading.
pub fn expand(spec: &str) -> Result<Vec<PathBuf>, ConnectorError> {
    let p = Path::new(spec);
    let err = |m: &str| ConnectorError::BadInput {
        path: spec.to_string(),
        message: m.to_string(),
    };
    let read_err = |e| ConnectorError::Read {
        path: spec.to_string(),
        cause: e,
    };
    let pattern = p
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.contains(['*', '?']));
    let mut files = match (std::fs::metadata(p), pattern) {
        (Ok(m), _) if m.is_file() => vec![p.to_path_buf()],
        (Ok(m), _) if m.is_dir() => list(p, |_| true)?,
        (Ok(m), _) => {
            return Err(err(&format!(
                "not a regular file ({})",
                kind_of(&m.file_type())
            )))
        }
        (Err(_), Some(name)) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            list(dir, |f| glob_match(name.as_bytes(), f.as_bytes()))?
        }
        (Err(e), None) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err("no such file or directory"))
        }
        (Err(e), None) => return Err(read_err(e)),
    };
    files.retain(|f| format_of(f).is_some());
    if files.is_empty() {
        return Err(err("no .jsonl, .ndjson, .json or .avro files found"));
    }
    for f in &files {
        std::fs::File::open(f).map_err(|e| ConnectorError::Read {
            path: f.display().to_string(),
            cause: e,
        })?;
    }
    Ok(files)
}

/// What kind of file a non-regular, non-directory path is.
fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_fifo() {
        "named pipe"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ConnectorError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ConnectorError::Read {
        path: dir.display().to_string(),
        cause: e,
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
    /// Avro: where its records go and the current block's state.
    ocf: Option<Ocf>,
}

/// Reading state of a container file.
#[derive(Debug)]
struct Ocf {
    branches: Branches,
    sync: [u8; 16],
    /// The current block's records and how many were handed out.
    records: Vec<Record>,
    taken: usize,
    /// Records of a damaged block still to report, of how many, and why.
    lost: usize,
    lost_of: usize,
    why: String,
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
            cause: e,
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
        if format == Format::JsonLines && cur.bytes.starts_with(BOM) {
            cur.pos = BOM.len();
        }
        if format == Format::AvroOcf {
            let bad = |m: String| ConnectorError::BadInput {
                path: cur.path.clone(),
                message: m,
            };
            let h = avro::read_header(&cur.bytes).map_err(bad)?;
            let branches = avro::match_schema(&self.layouts, &h.schema).map_err(bad)?;
            cur.pos = h.len;
            cur.ocf = Some(Ocf {
                branches,
                sync: h.sync,
                records: Vec::new(),
                taken: 0,
                lost: 0,
                lost_of: 0,
                why: String::new(),
            });
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

/// Returns true when the file is exhausted. Records of a good block go to
/// the batch; a damaged block's records become dead letters (see the module
/// docs), at most `max` entries per call either way.
fn read_ocf(
    cur: &mut Current,
    layouts: &[RecordLayout],
    max: usize,
    out: &mut SourceOutput,
) -> bool {
    let Some(mut ocf) = cur.ocf.take() else {
        return true;
    };
    // the event type of a dead letter, when the file has only one
    let single = (!ocf.branches.union)
        .then(|| ocf.branches.types.first())
        .flatten()
        .and_then(|et| layouts.get(*et as usize))
        .map(|l| l.event_type.clone());
    let mut done = false;
    while out.len() < max {
        if ocf.lost > 0 {
            let k = ocf.lost_of - ocf.lost + 1;
            let reason = format!(
                "corrupt Avro container block, {} records lost ({k} of {}): {}",
                ocf.lost_of, ocf.lost_of, ocf.why
            );
            let r = reject(cur, cur.offset, reason, single.clone(), &[]);
            out.rejects.push(r);
            cur.offset += 1;
            ocf.lost -= 1;
            continue;
        }
        if let Some((et, range)) = ocf.records.get(ocf.taken) {
            out.batch.push_typed(*et, &cur.bytes[range.clone()]);
            out.batch_offsets_push(cur.offset);
            cur.offset += 1;
            ocf.taken += 1;
            continue;
        }
        ocf.records.clear();
        ocf.taken = 0;
        let at = cur.pos;
        match avro::next_block(
            &cur.bytes,
            at,
            &ocf.sync,
            layouts,
            &ocf.branches,
            &mut ocf.records,
        ) {
            BlockRead::End => {
                done = true;
                break;
            }
            BlockRead::Records { next } => cur.pos = next,
            BlockRead::Lost { count, why, next } => {
                cur.pos = next;
                ocf.lost = count;
                ocf.lost_of = count;
                ocf.why = format!("{why} (block at byte {at})");
            }
            BlockRead::Unknown { why, next } => {
                cur.pos = next;
                let reason =
                    format!("corrupt Avro container at byte {at}, record count unknown: {why}");
                let r = reject(cur, cur.offset, reason, single.clone(), &[]);
                out.rejects.push(r);
                cur.offset += 1;
            }
        }
    }
    cur.ocf = Some(ocf);
    done
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

    use crate::source::fixtures::time_only;

    fn read(src: &mut FileSource) -> (usize, Vec<DeadLetterRecord>) {
        let (mut good, mut bad) = (0, Vec::new());
        loop {
            let mut out = SourceOutput::default();
            let st = src.next_batch(1000, &mut out).unwrap();
            good += out.batch.len();
            bad.append(&mut out.rejects);
            if st == SourceStatus::End {
                return (good, bad);
            }
        }
    }

    #[test]
    fn a_byte_order_mark_opening_a_json_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let line = "{\"event_type\":\"e\",\"event_time\":1}\n";
        let p = dir.path().join("a.jsonl");
        // one at the start of the file; one opening a later line is an error
        std::fs::write(&p, format!("\u{feff}{line}{line}\u{feff}{line}")).unwrap();
        let mut src = FileSource::new(p.to_str().unwrap(), time_only()).unwrap();
        let (good, bad) = read(&mut src);
        assert_eq!(good, 2);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].offset, 3);
    }

    #[test]
    fn paths_that_are_not_regular_files_are_named_as_such() {
        let e = expand("/dev/zero").unwrap_err().to_string();
        assert!(
            e.contains("`/dev/zero`: not a regular file (character device)"),
            "{e}"
        );
        let e = expand("/nonexistent/x.jsonl").unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
