//! JSON lines parsed on every core. Files are cut into fixed byte ranges;
//! each worker reads its range itself (positional reads of 256 KiB slices
//! into a reused buffer, each parsed while it is still in cache), takes the
//! lines that *start* in the range (reading past its end to finish the last
//! one), projects them
//! ([`Projector`](sluice_formats::json_projector::Projector)), and `next_batch` hands the
//! chunks back in file order, so results are exactly those of a sequential
//! read. At most two chunks per thread are parsed ahead of the consumer: a
//! slow engine slows the workers. In assisted mode the consumer's thread is
//! one of the parsers ([`Source::assist`]): it parses while it would wait.
//! A UTF-8 byte order mark opening a file is skipped, as in the `file`
//! source.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};

use sluice_core::RecordLayout;

use super::{Assist, Source, SourceOutput, SourceStatus};
use crate::{ConnectorError, DeadLetterKind, DeadLetterRecord};
use sluice_formats::json_projector::Projector;

const CHUNK: usize = 4 << 20;

/// Threads that parse JSON lines: `SLUICE_PARSER_THREADS`, else every core.
pub fn parser_threads() -> usize {
    std::env::var("SLUICE_PARSER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// Bytes read per system call: small enough to be parsed while in L2.
const SLICE: usize = 256 << 10;

struct Job {
    seq: u64,
    file: usize,
    start: u64,
    end: u64,
}

/// A parsed chunk: its offsets are line indexes within the chunk until
/// `next_batch` adds the chunk's first line number.
struct Parsed {
    file: usize,
    lines: i64,
    out: SourceOutput,
}

enum Done {
    Chunk(u64, Box<Parsed>),
    Failed(u64, ConnectorError),
    End(u64),
}

/// Parallel, projecting JSON lines source.
pub struct ParallelJsonSource {
    files: Vec<PathBuf>,
    rx: Receiver<Done>,
    pool: Arc<Pool>,
    pending: BTreeMap<u64, Done>,
    next_seq: u64,
    file: usize,
    line_base: i64,
    ended: bool,
    threads: usize,
    assisted: bool,
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
        cause: e,
    }
}

/// Enumerates byte ranges (no I/O beyond file sizes).
fn dispatcher(files: Vec<PathBuf>, chunk: u64, jobs: SyncSender<Job>, done: Sender<Done>) {
    let mut seq = 0u64;
    for (fi, path) in files.iter().enumerate() {
        let len = match std::fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) => {
                done.send(Done::Failed(seq, read_error(path, e))).ok();
                return;
            }
        };
        let mut start = 0u64;
        while start < len {
            let end = (start + chunk).min(len);
            if jobs
                .send(Job {
                    seq,
                    file: fi,
                    start,
                    end,
                })
                .is_err()
            {
                return;
            }
            seq += 1;
            start = end;
        }
    }
    done.send(Done::End(seq)).ok();
}

/// Parses the lines that start in `[start, end)` of `f` (reading past `end`
/// to finish the last one). The range is read in slices of `slice` bytes
/// into `buf`, each parsed while still in cache; a line cut by a slice
/// boundary moves to the front of the buffer before the next read.
#[allow(clippy::too_many_arguments)]
fn parse_range(
    f: &std::fs::File,
    start: u64,
    end: u64,
    slice: usize,
    buf: &mut Vec<u8>,
    p: &mut Projector,
    origin: &str,
    mut out: SourceOutput,
) -> std::io::Result<(SourceOutput, i64)> {
    out.clear();
    if out.origin != origin {
        out.origin = origin.to_string();
    }
    let mut idx = 0i64;
    // file offset of buf[0]; one byte before the range tells whether a
    // line starts at `start` (else the first partial line is the previous range's)
    let mut base = start.saturating_sub(1);
    let mut skip_partial = start > 0;
    let mut have = 0usize;
    loop {
        let want = have + slice;
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let mut eof = false;
        while have < want {
            match f.read_at(&mut buf[have..want], base + have as u64)? {
                0 => {
                    eof = true;
                    break;
                }
                k => have += k,
            }
        }
        let mut pos = 0usize;
        if skip_partial {
            match memchr::memchr(b'\n', &buf[..have]) {
                Some(k) => {
                    pos = k + 1;
                    skip_partial = false;
                }
                None if eof => return Ok((out, idx)),
                None => {
                    base += have as u64;
                    have = 0;
                    continue;
                }
            }
        }
        while pos < have && base + (pos as u64) < end {
            match memchr::memchr(b'\n', &buf[pos..have]) {
                Some(k) => {
                    let line = first_line(&buf[pos..pos + k], base + pos as u64);
                    take_line(p, origin, line, idx, &mut out);
                    idx += 1;
                    pos += k + 1;
                }
                None if eof => {
                    let line = first_line(&buf[pos..have], base + pos as u64);
                    take_line(p, origin, line, idx, &mut out);
                    idx += 1;
                    pos = have;
                }
                None => break,
            }
        }
        if eof || base + (pos as u64) >= end {
            return Ok((out, idx));
        }
        buf.copy_within(pos..have, 0);
        base += pos as u64;
        have -= pos;
    }
}

/// The line at file offset `at`, without the byte order mark that may open
/// the file.
fn first_line(line: &[u8], at: u64) -> &[u8] {
    if at == 0 {
        line.strip_prefix(super::file::BOM).unwrap_or(line)
    } else {
        line
    }
}

/// Projects one line (without its newline) numbered `idx` within its range.
fn take_line(p: &mut Projector, origin: &str, raw: &[u8], idx: i64, out: &mut SourceOutput) {
    let line = raw.strip_suffix(b"\r").unwrap_or(raw);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match p.line(line, &mut out.batch.data) {
        Ok(et) => {
            out.batch.push_typed(et, &[]);
            out.offsets.push(idx);
        }
        Err((reason, event_type)) => out.rejects.push(DeadLetterRecord {
            kind: DeadLetterKind::Malformed,
            reason,
            source: origin.to_string(),
            partition: 0,
            offset: idx,
            event_type,
            aggregation: None,
            event_time: None,
            payload: line.to_vec(),
            key: None,
            timestamp: None,
        }),
    }
}

/// What the parsers share: the job queue, the buffers handed back by the
/// consumer, and the bound on parsed chunks waiting for it.
struct Pool {
    paths: Vec<PathBuf>,
    names: Vec<String>,
    projected: Vec<RecordLayout>,
    slice: usize,
    jobs: Mutex<Receiver<Job>>,
    spare: Mutex<Vec<SourceOutput>>,
    done: Mutex<Sender<Done>>,
    /// Parsed chunks (or chunks being parsed) the consumer has not taken,
    /// and whether the consumer is gone.
    in_flight: Mutex<(usize, bool)>,
    room: Condvar,
    max_in_flight: usize,
}

/// One parser's reusable state.
struct Parser {
    p: Projector,
    open: Option<(usize, std::fs::File)>,
    buf: Vec<u8>,
}

/// What one parsing step did.
#[derive(PartialEq)]
enum Step {
    Parsed,
    /// Nothing to do right now (assisting only: no room or no job ready).
    Declined,
    /// No more jobs, or a failure was reported.
    Finished,
}

impl Pool {
    fn parser(&self) -> Parser {
        Parser {
            p: Projector::new(&self.projected),
            open: None,
            buf: Vec::new(),
        }
    }

    fn send(&self, d: Done) {
        if let Ok(tx) = self.done.lock() {
            tx.send(d).ok();
        }
    }

    /// Reserves room for one chunk; `wait` blocks until there is some.
    /// False once the consumer is gone.
    fn reserve(&self, wait: bool) -> bool {
        let Ok(mut g) = self.in_flight.lock() else {
            return false;
        };
        while g.0 >= self.max_in_flight && !g.1 {
            if !wait {
                return false;
            }
            g = match self.room.wait(g) {
                Ok(g) => g,
                Err(_) => return false,
            };
        }
        if g.1 {
            return false;
        }
        g.0 += 1;
        true
    }

    fn release(&self) {
        if let Ok(mut g) = self.in_flight.lock() {
            g.0 = g.0.saturating_sub(1);
        }
        self.room.notify_all();
    }

    /// The consumer is gone: waiting workers stop.
    fn close(&self) {
        if let Ok(mut g) = self.in_flight.lock() {
            g.1 = true;
        }
        self.room.notify_all();
    }

    /// Parses the next job. Background workers `wait` for room and jobs; an
    /// assisting consumer thread never blocks (it declines instead).
    fn step(&self, st: &mut Parser, wait: bool) -> Step {
        if !self.reserve(wait) {
            return if wait { Step::Finished } else { Step::Declined };
        }
        let job = if wait {
            match self.jobs.lock() {
                Ok(rx) => rx.recv().map_err(|_| true),
                Err(_) => Err(true),
            }
        } else {
            // a worker waiting for the next job holds the queue: decline
            match self.jobs.try_lock() {
                Ok(rx) => rx.try_recv().map_err(|e| e == TryRecvError::Disconnected),
                Err(_) => Err(false),
            }
        };
        let job = match job {
            Ok(job) => job,
            Err(finished) => {
                self.release();
                return if finished {
                    Step::Finished
                } else {
                    Step::Declined
                };
            }
        };
        let path = &self.paths[job.file];
        if st.open.as_ref().is_none_or(|(i, _)| *i != job.file) {
            match std::fs::File::open(path) {
                Ok(f) => st.open = Some((job.file, f)),
                Err(e) => {
                    self.send(Done::Failed(job.seq, read_error(path, e)));
                    return Step::Finished;
                }
            }
        }
        let Some((_, f)) = st.open.as_ref() else {
            return Step::Finished;
        };
        // buffers the consumer is done with, so chunks do not regrow them
        let reuse = self
            .spare
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default();
        let parsed = parse_range(
            f,
            job.start,
            job.end,
            self.slice,
            &mut st.buf,
            &mut st.p,
            &self.names[job.file],
            reuse,
        );
        match parsed {
            Ok((out, lines)) => {
                self.send(Done::Chunk(
                    job.seq,
                    Box::new(Parsed {
                        file: job.file,
                        lines,
                        out,
                    }),
                ));
                Step::Parsed
            }
            Err(e) => {
                self.send(Done::Failed(job.seq, read_error(path, e)));
                Step::Finished
            }
        }
    }
}

fn worker(pool: Arc<Pool>) {
    let mut st = pool.parser();
    while pool.step(&mut st, true) == Step::Parsed {}
}

/// Parses chunks on the consumer's own thread while it would otherwise wait
/// ([`Source::assist`]).
struct Helper {
    pool: Arc<Pool>,
    parser: Mutex<Option<Parser>>,
}

impl Assist for Helper {
    fn assist(&self) -> bool {
        let Ok(mut st) = self.parser.lock() else {
            return false;
        };
        let st = st.get_or_insert_with(|| self.pool.parser());
        self.pool.step(st, false) == Step::Parsed
    }
}

impl ParallelJsonSource {
    /// Reads `files` (JSON lines) into records of the `projected` layouts on
    /// `threads` background parser threads.
    pub fn new(files: Vec<PathBuf>, projected: Vec<RecordLayout>, threads: usize) -> Self {
        Self::build(files, projected, threads, CHUNK as u64, false)
    }

    /// Like [`ParallelJsonSource::new`], counting the consumer as one of the
    /// `threads`: one background parser fewer starts, and the consumer
    /// parses through [`Source::assist`] whenever it would wait. On a
    /// machine whose cores all parse, the engine then never competes with
    /// the parsers for a core (at least one background parser always runs).
    pub fn assisted(files: Vec<PathBuf>, projected: Vec<RecordLayout>, threads: usize) -> Self {
        Self::build(files, projected, threads, CHUNK as u64, true)
    }

    /// Like [`ParallelJsonSource::new`] with a chunk size in bytes (tests use tiny ones).
    pub fn with_chunk(
        files: Vec<PathBuf>,
        projected: Vec<RecordLayout>,
        threads: usize,
        chunk: u64,
        assisted: bool,
    ) -> Self {
        Self::build(files, projected, threads, chunk, assisted)
    }

    fn build(
        files: Vec<PathBuf>,
        projected: Vec<RecordLayout>,
        threads: usize,
        chunk: u64,
        assisted: bool,
    ) -> Self {
        let threads = threads.max(1);
        let workers = if assisted {
            (threads - 1).max(1)
        } else {
            threads
        };
        let chunk = chunk.max(1);
        // small chunks (tests) get small slices, so lines cross slice ends
        let slice = (chunk as usize).clamp(1, SLICE);
        let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
        let (done_tx, done_rx) = channel::<Done>();
        let pool = Arc::new(Pool {
            names: files.iter().map(|p| p.display().to_string()).collect(),
            paths: files.clone(),
            projected,
            slice,
            jobs: Mutex::new(job_rx),
            spare: Mutex::new(Vec::new()),
            done: Mutex::new(done_tx.clone()),
            in_flight: Mutex::new((0, false)),
            room: Condvar::new(),
            max_in_flight: threads * 2,
        });
        let mut spawned = true;
        for i in 0..workers {
            let pool = pool.clone();
            spawned &= std::thread::Builder::new()
                .name(format!("sluice-json-{i}"))
                .spawn(move || worker(pool))
                .is_ok();
        }
        let f = files.clone();
        spawned &= std::thread::Builder::new()
            .name("sluice-json-ranges".into())
            .spawn(move || dispatcher(f, chunk, job_tx, done_tx))
            .is_ok();
        if !spawned {
            // reported by the first `next_batch`
            pool.send(Done::Failed(
                0,
                ConnectorError::BadInput {
                    path: pool.names.first().cloned().unwrap_or_default(),
                    message: "cannot start the JSON parser threads".into(),
                },
            ));
        }
        Self {
            files,
            rx: done_rx,
            pool,
            pending: BTreeMap::new(),
            next_seq: 0,
            file: usize::MAX,
            line_base: 1,
            ended: false,
            threads,
            assisted,
        }
    }
}

impl Drop for ParallelJsonSource {
    fn drop(&mut self) {
        self.pool.close();
    }
}

impl Source for ParallelJsonSource {
    fn describe(&self) -> String {
        format!(
            "file ({} JSON lines files, {} parser threads{})",
            self.files.len(),
            self.threads,
            if self.assisted {
                ", one of them the engine's"
            } else {
                ""
            }
        )
    }

    fn assist(&self) -> Option<Arc<dyn Assist>> {
        self.assisted.then(|| {
            Arc::new(Helper {
                pool: self.pool.clone(),
                parser: Mutex::new(None),
            }) as Arc<dyn Assist>
        })
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
                        self.pool.release();
                        // the caller's previous buffers go back to the parsers
                        if let Ok(mut spare) = self.pool.spare.lock() {
                            if spare.len() < self.threads * 2 {
                                spare.push(p.out);
                            }
                        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::RecordLayout;
    use sluice_engine::value::{decode_record, Value};

    /// Event type `e` with only its `event_time`.
    fn time_only_layout() -> RecordLayout {
        crate::source::fixtures::time_only().remove(0)
    }

    #[test]
    fn dropping_the_source_midway_stops_its_parsers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.jsonl");
        let line = "{\"event_type\":\"e\",\"event_time\":1}\n";
        std::fs::write(&p, line.repeat(20_000)).unwrap();
        let layout = time_only_layout();
        // tiny chunks: far more than the parsers may run ahead
        let mut src = ParallelJsonSource::with_chunk(vec![p], vec![layout], 2, 512, false);
        let mut out = SourceOutput::default();
        assert_eq!(src.next_batch(0, &mut out).unwrap(), SourceStatus::More);
        let pool = Arc::downgrade(&src.pool);
        drop(src);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.upgrade().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "parser threads still hold the pool"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn every_line_exactly_once_in_order_whatever_the_chunk_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut expect = Vec::new();
        let mut files = Vec::new();
        for f in 0..2 {
            let mut text = String::new();
            for i in 1..=60i64 {
                let pad = "x".repeat(((i * 37 + f * 11) % 90) as usize);
                if i % 13 == 0 {
                    text.push('\n'); // blank line: skipped, but counted
                    continue;
                }
                text.push_str(&format!(
                    "{{\"event_type\":\"e\",\"event_time\":{},\"pad\":\"{pad}\"}}\n",
                    f * 1000 + i
                ));
                expect.push((f as usize, i, f * 1000 + i));
            }
            if f == 1 {
                text.pop(); // no final newline
            }
            let p = dir.path().join(format!("{f}.jsonl"));
            std::fs::write(&p, text).unwrap();
            files.push(p);
        }
        let layout = time_only_layout();
        for (chunk, assisted) in [1u64, 2, 7, 50, 97, 300, 1 << 20]
            .into_iter()
            .flat_map(|c| [(c, false), (c, true)])
        {
            let mut src = ParallelJsonSource::with_chunk(
                files.clone(),
                vec![layout.clone()],
                3,
                chunk,
                assisted,
            );
            let helper = src.assist();
            assert_eq!(helper.is_some(), assisted);
            let mut got = Vec::new();
            loop {
                // the consumer parses some chunks itself, as the pipeline does
                if let Some(h) = &helper {
                    while h.assist() {}
                }
                let mut out = SourceOutput::default();
                let st = src.next_batch(0, &mut out).unwrap();
                assert!(out.rejects.is_empty(), "{:?}", out.rejects);
                for i in 0..out.batch.len() {
                    let v = decode_record(&layout, out.batch.record(i).unwrap()).unwrap();
                    let Value::Int(t) = v[0] else { panic!() };
                    let file = files
                        .iter()
                        .position(|f| f.display().to_string() == out.origin)
                        .unwrap();
                    got.push((file, out.offsets[i], t));
                }
                if st == SourceStatus::End {
                    break;
                }
            }
            assert_eq!(got, expect, "chunk {chunk}, assisted {assisted}");
        }
    }

    #[test]
    fn a_byte_order_mark_opening_a_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let line = "{\"event_type\":\"e\",\"event_time\":1}\n";
        let mut files = Vec::new();
        for f in 0..2 {
            let p = dir.path().join(format!("{f}.jsonl"));
            // at the start of each file; opening a later line it is an error
            std::fs::write(&p, format!("\u{feff}{line}{line}\u{feff}{line}")).unwrap();
            files.push(p);
        }
        for chunk in [1u64, 2, 3, 4, 40, 1 << 20] {
            let mut src = ParallelJsonSource::with_chunk(
                files.clone(),
                vec![time_only_layout()],
                2,
                chunk,
                false,
            );
            let (mut good, mut bad) = (Vec::new(), Vec::new());
            loop {
                let mut out = SourceOutput::default();
                let st = src.next_batch(0, &mut out).unwrap();
                good.extend(out.offsets.iter().map(|o| (out.origin.clone(), *o)));
                bad.extend(out.rejects.iter().map(|r| (r.source.clone(), r.offset)));
                if st == SourceStatus::End {
                    break;
                }
            }
            let name = |f: usize| files[f].display().to_string();
            assert_eq!(
                good,
                vec![(name(0), 1), (name(0), 2), (name(1), 1), (name(1), 2)],
                "chunk {chunk}"
            );
            assert_eq!(bad, vec![(name(0), 3), (name(1), 3)], "chunk {chunk}");
        }
    }
}
