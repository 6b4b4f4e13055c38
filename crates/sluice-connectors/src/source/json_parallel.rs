//! JSON lines parsed on every core: a reader thread cuts files into
//! line-aligned chunks, worker threads project them
//! ([`Projector`](super::json_fast::Projector)), and `next_batch` hands the
//! chunks back in file order, so results are exactly those of a sequential
//! read. Channels are bounded: a slow engine slows the reader.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use sluice_core::RecordLayout;

use super::json_fast::Projector;
use super::{Source, SourceOutput, SourceStatus};
use crate::{ConnectorError, DeadLetterKind, DeadLetterRecord};

const CHUNK: usize = 4 << 20;

struct Job {
    seq: u64,
    file: usize,
    bytes: Vec<u8>,
}

/// A parsed chunk: its offsets are line indexes within the chunk until
/// `next_batch` adds the chunk's first line number.
struct Parsed {
    file: usize,
    lines: i64,
    out: SourceOutput,
}

enum Done {
    Chunk(u64, Parsed),
    Failed(u64, ConnectorError),
    End(u64),
}

/// Parallel, projecting JSON lines source.
pub struct ParallelJsonSource {
    files: Vec<PathBuf>,
    rx: Receiver<Done>,
    pending: BTreeMap<u64, Done>,
    next_seq: u64,
    file: usize,
    line_base: i64,
    ended: bool,
    threads: usize,
}

impl std::fmt::Debug for ParallelJsonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelJsonSource")
            .field("files", &self.files)
            .field("threads", &self.threads)
            .finish()
    }
}

fn read_error(path: &std::path::Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::Read {
        path: path.display().to_string(),
        source: e,
    }
}

fn reader(files: Vec<PathBuf>, jobs: SyncSender<Job>, done: SyncSender<Done>) {
    let mut seq = 0u64;
    for (fi, path) in files.iter().enumerate() {
        let mut f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                let _ = done.send(Done::Failed(seq, read_error(path, e)));
                return;
            }
        };
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let mut buf = Vec::with_capacity(CHUNK + carry.len());
            buf.extend_from_slice(&carry);
            let n = match (&mut f).take(CHUNK as u64).read_to_end(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = done.send(Done::Failed(seq, read_error(path, e)));
                    return;
                }
            };
            let eof = n == 0;
            let cut = if eof {
                buf.len()
            } else {
                memchr::memrchr(b'\n', &buf).map_or(0, |p| p + 1)
            };
            carry = buf[cut..].to_vec();
            buf.truncate(cut);
            if !buf.is_empty() {
                if jobs
                    .send(Job {
                        seq,
                        file: fi,
                        bytes: buf,
                    })
                    .is_err()
                {
                    return;
                }
                seq += 1;
            }
            if eof {
                break;
            }
        }
    }
    let _ = done.send(Done::End(seq));
}

fn parse_chunk(p: &mut Projector, origin: &str, bytes: &[u8]) -> (SourceOutput, i64) {
    let mut out = SourceOutput {
        origin: origin.to_string(),
        ..SourceOutput::default()
    };
    let mut start = 0usize;
    let mut idx = 0i64;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |k| start + k);
        let raw = &bytes[start..end];
        start = end + 1;
        let this = idx;
        idx += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match p.line(line, &mut out.batch.data) {
            Ok(et) => {
                out.batch.push_typed(et, &[]);
                out.offsets.push(this);
            }
            Err((reason, event_type)) => out.rejects.push(DeadLetterRecord {
                kind: DeadLetterKind::Malformed,
                reason,
                source: origin.to_string(),
                partition: 0,
                offset: this,
                event_type,
                aggregation: None,
                event_time: None,
                payload: line.to_vec(),
            }),
        }
    }
    (out, idx)
}

fn worker(
    projected: Vec<RecordLayout>,
    files: Arc<Vec<String>>,
    jobs: Arc<Mutex<Receiver<Job>>>,
    done: SyncSender<Done>,
) {
    let mut p = Projector::new(&projected);
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let (out, lines) = parse_chunk(&mut p, &files[job.file], &job.bytes);
        if done
            .send(Done::Chunk(
                job.seq,
                Parsed {
                    file: job.file,
                    lines,
                    out,
                },
            ))
            .is_err()
        {
            return;
        }
    }
}

impl ParallelJsonSource {
    /// Reads `files` (JSON lines) into records of the `projected` layouts.
    pub fn new(files: Vec<PathBuf>, projected: Vec<RecordLayout>, threads: usize) -> Self {
        let threads = threads.max(1);
        let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
        let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
        let names: Arc<Vec<String>> =
            Arc::new(files.iter().map(|p| p.display().to_string()).collect());
        let job_rx = Arc::new(Mutex::new(job_rx));
        for i in 0..threads {
            let (p, n, j, d) = (
                projected.clone(),
                names.clone(),
                job_rx.clone(),
                done_tx.clone(),
            );
            let _ = std::thread::Builder::new()
                .name(format!("sluice-json-{i}"))
                .spawn(move || worker(p, n, j, d));
        }
        let f = files.clone();
        let _ = std::thread::Builder::new()
            .name("sluice-json-reader".into())
            .spawn(move || reader(f, job_tx, done_tx));
        Self {
            files,
            rx: done_rx,
            pending: BTreeMap::new(),
            next_seq: 0,
            file: usize::MAX,
            line_base: 1,
            ended: false,
            threads,
        }
    }
}

impl Source for ParallelJsonSource {
    fn describe(&self) -> String {
        format!(
            "file ({} JSON lines files, {} parser threads)",
            self.files.len(),
            self.threads
        )
    }

    fn next_batch(
        &mut self,
        _max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError> {
        out.clear();
        if self.ended {
            return Ok(SourceStatus::End);
        }
        loop {
            if let Some(d) = self.pending.remove(&self.next_seq) {
                match d {
                    Done::Chunk(_, mut p) => {
                        self.next_seq += 1;
                        if p.file != self.file {
                            self.file = p.file;
                            self.line_base = 1;
                        }
                        let base = self.line_base;
                        p.out.offsets.iter_mut().for_each(|o| *o += base);
                        p.out.rejects.iter_mut().for_each(|r| r.offset += base);
                        self.line_base += p.lines;
                        std::mem::swap(out, &mut p.out);
                        return Ok(SourceStatus::More);
                    }
                    Done::Failed(_, e) => return Err(e),
                    Done::End(_) => {
                        self.ended = true;
                        return Ok(SourceStatus::End);
                    }
                }
            }
            let d = self.rx.recv().map_err(|_| ConnectorError::BadInput {
                path: self
                    .files
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                message: "a JSON parser thread stopped unexpectedly".into(),
            })?;
            let seq = match &d {
                Done::Chunk(s, _) | Done::Failed(s, _) | Done::End(s) => *s,
            };
            self.pending.insert(seq, d);
        }
    }
}
