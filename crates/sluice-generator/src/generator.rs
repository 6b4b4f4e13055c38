//! The public generator: options, the seed-style convenience API
//! (`generate_event`, `generate_session`, `generate_events`), the fast
//! encoded-batch path for the engine and the writers (JSON lines, Avro
//! datums, Avro object container files) used by `sluice generate`.
//!
//! Determinism: everything derives from `GeneratorOptions::seed`; the main
//! simulation, the convenience API and fault injection use separate random
//! streams, so turning faults on does not change the clean events. Only
//! [`TimeMode::RealTime`] reads the wall clock (for the start time and
//! pacing).

use std::io::Write;
use std::time::{Duration, Instant};

use sluice_config::diag::{suggest, SourceMap};
use sluice_config::DomainConfig;

use crate::encode::{put_long, Codec};
use crate::error::GeneratorError;
use crate::event::Event;
use crate::faults::{Fault, FaultCounts, FaultOptions, MalformedKind, Selector};
use crate::hints;
use crate::plan::{Plan, END};
use crate::rng::{combine, MainRng, Rand, SplitMix};
use crate::sim::{fill, kept_store, Scratch, Session, Sim};
use sluice_formats::ocf::write::OcfWriter;

/// How event time advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// As fast as possible from the configured start time (deterministic).
    #[default]
    Simulated,
    /// Starting now; batch and writer calls sleep so event time follows the
    /// wall clock.
    RealTime,
}

/// When a stream stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limit {
    /// Stop after this many base events (duplicates come on top).
    pub events: Option<u64>,
    /// Stop before the first event at or after `start + duration_ms` of event time.
    pub duration_ms: Option<i64>,
}

/// Options of a generator run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct GeneratorOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Overrides the domain's `generator.start_time` (epoch ms, simulated mode).
    pub start_time_ms: Option<i64>,
    /// Simulated or real time.
    pub time: TimeMode,
    /// Target events per second of event time; sets the number of concurrent
    /// sessions (and, in real time, the pace). `None` keeps the domain's
    /// `sessions.concurrent`.
    pub rate: Option<f64>,
    /// Overrides `sessions.concurrent`.
    pub concurrent_sessions: Option<u64>,
    /// Emit only this event type (the journey still runs in full).
    pub only_event_type: Option<String>,
    /// When streams stop.
    pub limit: Limit,
    /// Disorder and faults to inject.
    pub faults: FaultOptions,
}

impl GeneratorOptions {
    /// `events` base events in simulated time from `seed`, no faults: the
    /// usual bounded run of tests and benchmarks.
    pub fn events(seed: u64, events: u64) -> Self {
        Self {
            seed,
            limit: Limit {
                events: Some(events),
                duration_ms: None,
            },
            ..Self::default()
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Plain Avro datums, concatenated. With several event types each datum
    /// is preceded by its event type index (a zigzag varint), i.e. the
    /// datums are of the union of the record schemas.
    Avro,
    /// An Avro object container file (schema in the header).
    AvroOcf,
}

impl Format {
    /// Parses `jsonl`, `avro` or `avro-ocf` (also `json`, `ocf`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jsonl" | "json" => Some(Self::Jsonl),
            "avro" => Some(Self::Avro),
            "avro-ocf" | "ocf" => Some(Self::AvroOcf),
            _ => None,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Base events generated (each counted once).
    pub base_events: u64,
    /// Records written (base events plus duplicates).
    pub records: u64,
    /// Records per event type, in domain order.
    pub by_type: Vec<(String, u64)>,
    /// Injected faults, exactly.
    pub faults: FaultCounts,
    /// Bytes produced.
    pub bytes: u64,
    /// Smallest event time emitted.
    pub min_event_time: Option<i64>,
    /// Largest event time emitted.
    pub max_event_time: Option<i64>,
}

/// A batch of Avro datums of one event type (or mixed, see `event_types`),
/// in the shape the engine consumes, with `event_times` filled: the shared
/// [`RawBatch`](sluice_core::RawBatch).
pub type EncodedBatch = sluice_core::RawBatch;

/// One reusable batch per event type.
#[derive(Clone, Debug, Default)]
pub struct BatchSet {
    /// Index = event type index.
    pub batches: Vec<EncodedBatch>,
}

impl BatchSet {
    /// Non-empty batches, in event type order.
    pub fn non_empty(&self) -> impl Iterator<Item = &EncodedBatch> {
        self.batches.iter().filter(|b| !b.is_empty())
    }

    /// Total records.
    pub fn records(&self) -> usize {
        self.batches.iter().map(EncodedBatch::len).sum()
    }
}

/// Generates events for one domain. See the crate docs.
#[derive(Debug)]
pub struct Generator {
    plan: Plan,
    codecs: Vec<Codec>,
    sim: Sim,
    scratch: Scratch,
    adhoc_rng: MainRng,
    adhoc_clock: i64,
    adhoc_sessions: u64,
    adhoc_gap_ms: f64,
    fault_rng: MainRng,
    selector: Selector,
    opts: GeneratorOptions,
    only: Option<usize>,
    start_ms: i64,
    emitted_max: Option<i64>,
    summary: Summary,
    natural_rate: f64,
    pace_origin: Option<Instant>,
    seed: u64,
}

/// Most concurrent sessions (32 bytes of state each, plus 16 in the scheduler).
pub const MAX_CONCURRENT: u64 = 1_000_000;

/// First session number of the convenience API (keeps ids apart from the stream's).
const ADHOC_SESSIONS: u64 = 1 << 62;

impl Generator {
    /// A generator for `domain`. Hint errors are returned as diagnostics
    /// whose file names are unknown; use [`Generator::from_config`] for full
    /// positions.
    pub fn new(domain: &DomainConfig, opts: GeneratorOptions) -> Result<Self, GeneratorError> {
        Self::with_sources(domain, &SourceMap::default(), opts)
    }

    /// A generator for domain `name` of a loaded configuration.
    pub fn from_config(
        cfg: &sluice_config::Config,
        name: &str,
        opts: GeneratorOptions,
    ) -> Result<Self, GeneratorError> {
        let Some(d) = cfg.domain(name) else {
            let names: Vec<&str> = cfg
                .domains
                .iter()
                .map(|d| d.domain.value.as_str())
                .collect();
            return Err(GeneratorError::UnknownDomain {
                name: name.to_string(),
                hint: hint(suggest(name, names.iter().copied())),
            });
        };
        Self::with_sources(d, &cfg.sources, opts)
    }

    /// A generator resolving hint positions through `sources`.
    pub fn with_sources(
        domain: &DomainConfig,
        sources: &SourceMap,
        opts: GeneratorOptions,
    ) -> Result<Self, GeneratorError> {
        opts.faults.check().map_err(GeneratorError::Options)?;
        let plan = hints::compile_with_sources(domain, sources).map_err(GeneratorError::Hints)?;
        let only = match &opts.only_event_type {
            Some(n) => Some(event_index(&plan, n)?),
            None => None,
        };
        let seed = opts.seed;
        let (mean_events, cycle_ms, span_ms, shares) = pilot_shares(&plan, seed);
        let share = only.map_or(1.0, |o| shares[o]);
        if share <= 0.0 {
            return Err(GeneratorError::Unreachable(
                opts.only_event_type.clone().unwrap_or_default(),
            ));
        }
        // Events per second of event time from one slot, for a gap scale.
        let per_slot = |scale: f64| {
            mean_events * share / (span_ms + (cycle_ms - span_ms) * scale).max(1.0) * 1000.0
        };
        let (concurrent, gap_scale) = match (opts.concurrent_sessions, opts.rate) {
            (Some(c), _) => (c.clamp(1, MAX_CONCURRENT), 1.0),
            (None, Some(r)) if r > 0.0 && r.is_finite() => {
                let needed = (r / per_slot(1.0)).ceil();
                if needed <= MAX_CONCURRENT as f64 {
                    (needed.max(1.0) as u64, 1.0)
                } else {
                    // Too many slots: keep the cap and shorten the idle gaps
                    // between sessions (sessions themselves are unchanged).
                    let cycle_needed = mean_events * share * 1000.0 * MAX_CONCURRENT as f64 / r;
                    let gap_mean = (cycle_ms - span_ms).max(1.0);
                    (
                        MAX_CONCURRENT,
                        ((cycle_needed - span_ms) / gap_mean).clamp(0.0, 1.0),
                    )
                }
            }
            (None, Some(r)) => {
                return Err(GeneratorError::Options(format!(
                    "rate `{r}` must be a positive number of events per second"
                )))
            }
            _ => (plan.sessions.concurrent.clamp(1, MAX_CONCURRENT), 1.0),
        };
        let natural_rate = concurrent as f64 * per_slot(gap_scale);
        let start_ms = match opts.time {
            TimeMode::RealTime => crate::time::wall_clock_millis(),
            TimeMode::Simulated => opts.start_time_ms.unwrap_or(plan.start_time),
        };
        let sim = Sim::new(&plan, seed, concurrent, start_ms, gap_scale);
        let codecs = plan.events.iter().map(|e| Codec::new(&e.layout)).collect();
        let by_type = plan.events.iter().map(|e| (e.name.clone(), 0)).collect();
        Ok(Self {
            codecs,
            sim,
            scratch: Scratch::default(),
            adhoc_rng: MainRng::new(seed, 2),
            adhoc_clock: start_ms,
            adhoc_sessions: ADHOC_SESSIONS,
            adhoc_gap_ms: 1000.0 / natural_rate.max(1e-9),
            fault_rng: MainRng::new(seed, 3),
            selector: Selector::new(&opts.faults, seed, opts.limit.events),
            only,
            start_ms,
            emitted_max: None,
            summary: Summary {
                by_type,
                ..Summary::default()
            },
            natural_rate,
            pace_origin: None,
            seed,
            plan,
            opts,
        })
    }

    /// The compiled plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Record layouts, in event type order.
    pub fn layouts(&self) -> impl Iterator<Item = &sluice_core::RecordLayout> {
        self.plan.events.iter().map(|e| &e.layout)
    }

    /// Expected events per second of event time with the chosen concurrency.
    pub fn natural_rate(&self) -> f64 {
        self.natural_rate
    }

    /// Event time of the first event (epoch ms).
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// What the stream produced so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    // ------------------------------------------------------------ seed API

    /// One event of type `name`, outside any journey: a fresh session of a
    /// random entity, at the convenience clock (which advances by an
    /// exponential gap at the natural rate). Not subject to fault injection.
    pub fn generate_event(&mut self, name: &str) -> Result<Event, GeneratorError> {
        let e = event_index(&self.plan, name)?;
        let gap = -self.adhoc_gap_ms * self.adhoc_rng.unit_open0().ln();
        self.adhoc_clock += gap as i64;
        let t = self.adhoc_clock;
        let s = self.adhoc_session(t);
        let no = self.sim.take_event_number();
        let mut scratch = Scratch::default();
        let mut kept = kept_store(&self.plan);
        fill(
            &self.plan,
            self.sim.keys(),
            &mut self.adhoc_rng,
            e,
            t,
            no,
            &s,
            &mut kept,
            &mut scratch,
        );
        Ok(Event::from_scratch(&self.plan.events[e].layout, &scratch))
    }

    /// `n` events of type `name` (see [`Generator::generate_event`]).
    pub fn generate_events<'a>(
        &'a mut self,
        name: &str,
        n: usize,
    ) -> Result<impl Iterator<Item = Event> + 'a, GeneratorError> {
        let e = event_index(&self.plan, name)?;
        let name = self.plan.events[e].name.clone();
        Ok((0..n).filter_map(move |_| self.generate_event(&name).ok()))
    }

    /// One complete session (a journey from `start` to `end`), starting at
    /// the convenience clock.
    pub fn generate_session(&mut self) -> Vec<Event> {
        let gap = -self.adhoc_gap_ms * self.adhoc_rng.unit_open0().ln();
        self.adhoc_clock += gap as i64;
        let mut t = self.adhoc_clock;
        let mut s = self.adhoc_session(t);
        let j = &self.plan.journey;
        let mut e = j.start_targets[j.start.sample(&mut self.adhoc_rng)] as usize;
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        let mut kept = kept_store(&self.plan);
        loop {
            let no = self.sim.take_event_number();
            fill(
                &self.plan,
                self.sim.keys(),
                &mut self.adhoc_rng,
                e,
                t,
                no,
                &s,
                &mut kept,
                &mut scratch,
            );
            s.events += 1;
            out.push(Event::from_scratch(&self.plan.events[e].layout, &scratch));
            let (table, outs) = &self.plan.journey.next[e];
            let next = outs[table.sample(&mut self.adhoc_rng)];
            if next == END || s.events >= self.plan.sessions.max_events {
                break;
            }
            e = next as usize;
            t += self.plan.events[e]
                .think_time
                .sample(&mut self.adhoc_rng)
                .max(0.0) as i64;
        }
        self.adhoc_clock = self.adhoc_clock.max(t);
        out
    }

    fn adhoc_session(&mut self, t: i64) -> Session {
        let number = self.adhoc_sessions;
        self.adhoc_sessions += 1;
        let entity = match &self.plan.entity.activity {
            Some(z) => z.sample(&mut self.adhoc_rng) - 1,
            None => self.adhoc_rng.below(self.plan.entity.population),
        };
        Session::start(number, entity, t)
    }

    // --------------------------------------------------------------- stream

    /// Advances to the next base event (in `self.scratch`) and decides its
    /// fault; `None` when the limit is reached.
    #[inline]
    fn advance(&mut self) -> Option<Fault> {
        if self
            .opts
            .limit
            .events
            .is_some_and(|n| self.summary.base_events >= n)
        {
            return None;
        }
        let end = self
            .opts
            .limit
            .duration_ms
            .map(|d| self.start_ms.saturating_add(d));
        loop {
            let t = self.sim.peek_time()?;
            if end.is_some_and(|end| t >= end) {
                return None;
            }
            self.sim.step(&self.plan, &mut self.scratch);
            if self.only.is_none_or(|o| o == self.scratch.event_type) {
                break;
            }
        }
        let fault = self.selector.fault(self.summary.base_events);
        let t = self.scratch.event_time();
        let max = self.emitted_max.unwrap_or(t);
        let f = &self.opts.faults;
        let c = &mut self.summary.faults;
        match fault {
            Fault::None => {}
            Fault::OutOfOrder => {
                let j = 1 + self.fault_rng.below(f.max_disorder_ms as u64) as i64;
                self.scratch.set_event_time(max - j);
                c.out_of_order += 1;
            }
            Fault::Late => {
                let j = f.lateness_ms + 1 + self.fault_rng.below(f.late_extra_ms as u64) as i64;
                self.scratch.set_event_time(max - j);
                c.late += 1;
            }
            Fault::Duplicate => c.duplicates += 1,
            Fault::Malformed(MalformedKind::WrongType) => c.wrong_type += 1,
            Fault::Malformed(MalformedKind::Truncated) => c.truncated += 1,
            Fault::Malformed(MalformedKind::MissingField) => c.missing_field += 1,
        }
        let t = self.scratch.event_time();
        self.emitted_max = Some(max.max(t));
        let s = &mut self.summary;
        s.base_events += 1;
        let copies = if fault == Fault::Duplicate { 2 } else { 1 };
        s.records += copies;
        s.by_type[self.scratch.event_type].1 += copies;
        s.min_event_time = Some(s.min_event_time.map_or(t, |m| m.min(t)));
        s.max_event_time = Some(s.max_event_time.map_or(t, |m| m.max(t)));
        Some(fault)
    }

    /// The next event of the stream as a decoded [`Event`] (time disorder
    /// applied; duplicates and malformed records are encoding-level faults
    /// and are not represented). `None` at the limit.
    pub fn next_event(&mut self) -> Option<Event> {
        self.advance()?;
        Some(Event::from_scratch(
            &self.plan.events[self.scratch.event_type].layout,
            &self.scratch,
        ))
    }

    /// Fills one batch per event type with up to `max_events` base events of
    /// the stream (plain Avro datums, faults applied). Batches are cleared
    /// first and keep their buffers. Returns the number of base events; 0
    /// means the limit was reached. In real time, sleeps until the wall clock
    /// reaches the last event's time.
    pub fn fill_batches(&mut self, max_events: usize, set: &mut BatchSet) -> usize {
        if set.batches.len() != self.plan.events.len() {
            set.batches = (0..self.plan.events.len())
                .map(|i| EncodedBatch {
                    event_type: i as u32,
                    ..EncodedBatch::default()
                })
                .collect();
        }
        for b in &mut set.batches {
            b.clear();
        }
        let mut n = 0;
        while n < max_events {
            let Some(fault) = self.advance() else { break };
            n += 1;
            let e = self.scratch.event_type;
            let b = &mut set.batches[e];
            self.push_record(fault, b, None);
        }
        self.pace();
        n
    }

    /// Like [`Generator::fill_batches`] but into one batch holding every
    /// event type in stream order (`event_types` filled per record).
    pub fn fill_mixed(&mut self, max_events: usize, batch: &mut EncodedBatch) -> usize {
        batch.clear();
        let mut n = 0;
        while n < max_events {
            let Some(fault) = self.advance() else { break };
            n += 1;
            let e = self.scratch.event_type as u32;
            self.push_record(fault, batch, Some(e));
        }
        self.pace();
        n
    }

    #[inline]
    fn push_record(&mut self, fault: Fault, b: &mut EncodedBatch, mixed: Option<u32>) {
        let e = self.scratch.event_type;
        let bad = match fault {
            Fault::Malformed(k) => Some(k),
            _ => None,
        };
        let start = b.data.len();
        self.codecs[e].avro(&self.scratch, &mut b.data, bad);
        let t = self.scratch.event_time();
        let copies = if fault == Fault::Duplicate { 2 } else { 1 };
        for c in 0..copies {
            if c == 1 {
                let end = b.data.len();
                b.data.extend_from_within(start..end);
            }
            b.ends.push(b.data.len() as u32);
            b.event_times.push(t);
            if let Some(e) = mixed {
                b.event_types.push(e);
            }
        }
        self.summary.bytes += (b.data.len() - start) as u64;
    }

    /// In real time, sleeps until the wall clock has caught up with the
    /// latest event time emitted.
    fn pace(&mut self) {
        if self.opts.time != TimeMode::RealTime {
            return;
        }
        let origin = *self.pace_origin.get_or_insert_with(Instant::now);
        let Some(t) = self.emitted_max else { return };
        let due = Duration::from_millis((t - self.start_ms).max(0) as u64);
        let elapsed = origin.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }

    /// True when records of several event types go to one output (Avro
    /// datums then carry a union branch index).
    pub fn is_union_output(&self) -> bool {
        self.only.is_none() && self.plan.events.len() > 1
    }

    /// The Avro schema (JSON text) of the records [`Generator::write_to`]
    /// writes: one record schema, or the union of all.
    pub fn output_schema_json(&self) -> String {
        if let Some(o) = self.only {
            return serde_json::to_string(&sluice_schema::record_schema(
                &self.plan.events[o].layout,
            ))
            .unwrap_or_default();
        }
        let all: Vec<serde_json::Value> = self
            .plan
            .events
            .iter()
            .map(|e| sluice_schema::record_schema(&e.layout))
            .collect();
        if all.len() == 1 {
            serde_json::to_string(&all[0]).unwrap_or_default()
        } else {
            serde_json::to_string(&all).unwrap_or_default()
        }
    }

    /// Writes the stream until the limit (which must be set unless you want
    /// to run forever) in `format` to `out`. `progress` is called about every
    /// 65 536 events with the running summary. Returns the final summary.
    pub fn write_to<W: Write + ?Sized>(
        &mut self,
        format: Format,
        out: &mut W,
        progress: &mut dyn FnMut(&Summary),
    ) -> Result<Summary, GeneratorError> {
        if format == Format::AvroOcf && self.opts.faults.malformed > 0.0 {
            return Err(GeneratorError::Options("malformed records cannot go into an Avro container file (they would corrupt whole blocks); use `avro` or `jsonl`".into()));
        }
        let union = self.is_union_output();
        let mut ocf = OcfWriter::new(ocf_sync_marker(self.seed));
        if format == Format::AvroOcf {
            let schema = self.output_schema_json();
            ocf.start(out, &schema)?;
        }
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
        let mut since_progress = 0u32;
        let mut since_pace = 0u32;
        while let Some(fault) = self.advance() {
            let e = self.scratch.event_type;
            let bad = match fault {
                Fault::Malformed(k) => Some(k),
                _ => None,
            };
            let copies = if fault == Fault::Duplicate { 2 } else { 1 };
            let target: &mut Vec<u8> = if format == Format::AvroOcf {
                ocf.buffer()
            } else {
                &mut buf
            };
            let start = target.len();
            if union && format != Format::Jsonl {
                put_long(target, e as i64);
            }
            match format {
                Format::Jsonl => self.codecs[e].json(&self.scratch, target, bad),
                Format::Avro | Format::AvroOcf => self.codecs[e].avro(&self.scratch, target, bad),
            }
            if copies == 2 {
                let end = target.len();
                target.extend_from_within(start..end);
            }
            self.summary.bytes += (target.len() - start) as u64;
            if format == Format::AvroOcf {
                for _ in 0..copies {
                    ocf.push_done(out)?;
                }
            } else if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                buf.clear();
            }
            since_progress += 1;
            if since_progress >= 1 << 16 {
                since_progress = 0;
                progress(&self.summary);
            }
            if self.opts.time == TimeMode::RealTime {
                since_pace += 1;
                if since_pace >= 64 {
                    since_pace = 0;
                    out.write_all(&buf)?;
                    buf.clear();
                    ocf.flush(out)?;
                    out.flush()?;
                    self.pace();
                }
            }
        }
        out.write_all(&buf)?;
        ocf.flush(out)?;
        out.flush()?;
        progress(&self.summary);
        Ok(self.summary.clone())
    }
}

fn hint(s: Option<String>) -> String {
    s.map(|s| format!("; {s}")).unwrap_or_default()
}

fn event_index(plan: &Plan, name: &str) -> Result<usize, GeneratorError> {
    plan.events
        .iter()
        .position(|e| e.name == name)
        .ok_or_else(|| GeneratorError::UnknownEventType {
            name: name.to_string(),
            hint: hint(suggest(name, plan.events.iter().map(|e| e.name.as_str()))),
        })
}

/// Mean events per session, mean cycle (ms), mean session span (ms) and
/// each event type's share of events, from a pilot run.
fn pilot_shares(plan: &Plan, seed: u64) -> (f64, f64, f64, Vec<f64>) {
    let (e, c, span) = crate::sim::pilot(plan, seed);
    let mut counts = vec![0u64; plan.events.len()];
    let mut r = MainRng::new(seed, 8);
    let mut total = 0u64;
    for _ in 0..2_000 {
        let mut x = plan.journey.start_targets[plan.journey.start.sample(&mut r)];
        let mut n = 0;
        loop {
            counts[x as usize] += 1;
            total += 1;
            n += 1;
            let (t, o) = &plan.journey.next[x as usize];
            let next = o[t.sample(&mut r)];
            if next == END || n >= plan.sessions.max_events {
                break;
            }
            x = next;
        }
    }
    let shares = counts
        .iter()
        .map(|c| *c as f64 / total.max(1) as f64)
        .collect();
    (e, c, span, shares)
}

/// Throughput of the Avro batch path: generates `events` base events of
/// `domain` into reused batches and returns events per second (one thread).
/// The CLI and the benchmark use this for their figures.
pub fn measure_avro_throughput(
    domain: &DomainConfig,
    seed: u64,
    events: u64,
) -> Result<f64, GeneratorError> {
    let mut g = Generator::new(
        domain,
        GeneratorOptions {
            seed,
            limit: Limit {
                events: Some(events),
                duration_ms: None,
            },
            ..GeneratorOptions::default()
        },
    )?;
    let mut set = BatchSet::default();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        let k = g.fill_batches(4096, &mut set);
        if k == 0 {
            break;
        }
        n += k as u64;
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    Ok(n as f64 / secs)
}

/// The Avro container sync marker for a seed (reproducible files).
fn ocf_sync_marker(seed: u64) -> [u8; 16] {
    let mut r = SplitMix(combine(seed, 0x0CF));
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&r.next_u64().to_le_bytes());
    m[8..].copy_from_slice(&r.next_u64().to_le_bytes());
    m
}
