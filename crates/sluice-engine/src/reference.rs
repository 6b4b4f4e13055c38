//! A brute-force reference model of the engine's semantics, for tests.
//!
//! It shares nothing with the engine's hot path: records are decoded with the
//! plain [`crate::value::decode_record`] into [`Value`]s;
//! windows are found by enumerating candidates; every group keeps the list of
//! its input values, and aggregates are computed from scratch at emission
//! (sketches are rebuilt from all values with the same [`Hll`] and
//! [`DdSketch`], so even approximate results must match exactly). Watermarks,
//! lateness and revisions follow the rules documented in the crate root, one
//! record at a time. Slow on purpose: clarity over speed.
//!
//! Not modelled: early (provisional) emission. Dead letters are produced
//! with the reference decoder's reasons, which may word a failure
//! differently from the compiled decoder; compare them by position.

use std::collections::{BTreeMap, BTreeSet};

use sluice_core::{AggregateKind, CompareOp, EventTime, FieldType, WindowSpec};

use crate::aggregate::hll::Hll;
use crate::aggregate::percentile::DdSketch;
use crate::batch::RawBatch;
use crate::decode::TIME_LIMIT;
use crate::error::{DecodeError, PlanError};
use crate::filter::literal_values;
use crate::late::{DeadLetter, LateEvent, LateReason};
use crate::output::{AggValue, KeyValue, Output, WindowResult};
use crate::plan::EnginePlan;
use crate::value::{decode_record, Value};
use crate::Engine;

/// One step of an input script.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Process a batch.
    Batch(RawBatch),
    /// Advance processing time to this many milliseconds.
    ProcessingTime(i64),
}

/// Runs the real engine over `ops`, then `finish`.
pub fn run_engine(plan: &EnginePlan, ops: &[Op]) -> Result<Output, PlanError> {
    let mut e = Engine::new(plan.clone())?;
    let mut out = Output::new();
    for op in ops {
        match op {
            Op::Batch(b) => e.process(b, &mut out),
            Op::ProcessingTime(t) => e.advance_processing_time(*t, &mut out),
        }
    }
    e.finish(&mut out);
    Ok(out)
}

/// Runs the reference model over `ops`, then finishes. The plan is first
/// validated by [`Engine::new`], so both accept the same plans.
pub fn run_reference(plan: &EnginePlan, ops: &[Op]) -> Result<Output, PlanError> {
    Engine::new(plan.clone())?;
    let mut r = Reference {
        plan,
        parts: Vec::new(),
        frontier: i64::MIN,
        proc_now: 0,
        aggs: plan
            .aggregations
            .iter()
            .map(|_| RefAgg::default())
            .collect(),
        out: Output::new(),
    };
    for op in ops {
        match op {
            Op::Batch(b) => {
                for i in 0..b.len() {
                    r.record(b, i);
                }
            }
            Op::ProcessingTime(now) => r.processing_time(*now),
        }
    }
    for p in 0..r.parts.len() {
        r.release(p);
    }
    r.frontier = i64::MAX;
    r.fire_all();
    Ok(r.out)
}

#[derive(Clone, Debug, PartialEq)]
enum RVal {
    Null,
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
}

/// (end, start, key, revision, values) of a session due for emission.
type DueSession = (i64, i64, Vec<KeyValue>, u32, Vec<RVal>);

#[derive(Debug, Default)]
struct RefGroup {
    vals: Vec<RVal>,
    emissions: u32,
}

#[derive(Debug, Default)]
struct RefWindow {
    fired: bool,
    groups: BTreeMap<Vec<KeyValue>, RefGroup>,
}

#[derive(Debug)]
struct RefSession {
    start: i64,
    end: i64,
    vals: Vec<RVal>,
    emissions: u32,
    fired: bool,
}

#[derive(Debug, Default)]
struct RefAgg {
    windows: BTreeMap<(i64, i64), RefWindow>,
    sessions: BTreeMap<Vec<KeyValue>, Vec<RefSession>>,
}

#[derive(Debug)]
struct RefPart {
    id: u32,
    max: Option<i64>,
    last: i64,
    idle: bool,
    /// First records on probation (see [`crate::engine::PROBATION`]).
    held: Vec<RefHeld>,
    settled: bool,
    since: i64,
}

#[derive(Clone, Debug)]
struct RefHeld {
    et: u32,
    partition: u32,
    offset: i64,
    t: i64,
    bytes: Vec<u8>,
}

struct Reference<'p> {
    plan: &'p EnginePlan,
    parts: Vec<RefPart>,
    frontier: i64,
    proc_now: i64,
    aggs: Vec<RefAgg>,
    out: Output,
}

fn ms(d: &sluice_core::HumanDuration) -> i64 {
    d.as_millis_i64()
}

/// Every window (start, end) of `spec` containing `t`, by enumeration.
fn windows_of(spec: &WindowSpec, t: i64) -> Vec<(i64, i64)> {
    match spec {
        WindowSpec::Tumbling { size } => {
            let s = ms(size);
            let start = t.div_euclid(s) * s;
            vec![(start, start + s)]
        }
        WindowSpec::Sliding { size, slide } => {
            let (size, slide) = (ms(size), ms(slide));
            let mut v = Vec::new();
            let mut s = (t - size).div_euclid(slide) * slide;
            while s <= t {
                if s <= t && t < s + size {
                    v.push((s, s + size));
                }
                s += slide;
            }
            v
        }
        WindowSpec::Cumulative { step, max_size } => {
            let (step, max) = (ms(step), ms(max_size));
            let p = t.div_euclid(max) * max;
            (1..=max / step)
                .map(|k| (p, p + k * step))
                .filter(|&(_, e)| e > t)
                .collect()
        }
        WindowSpec::Session { gap } => vec![(t, t + ms(gap))],
    }
}

fn compare(v: &Value, op: CompareOp, lits: &[Value]) -> bool {
    use std::cmp::Ordering;
    let ord = |a: &Value, b: &Value| -> Option<Ordering> {
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
            (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
            (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
            (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
            _ => None,
        }
    };
    if matches!(v, Value::Null) {
        return false;
    }
    let eq = |l: &Value| ord(v, l) == Some(Ordering::Equal);
    match op {
        CompareOp::In => lits.iter().any(eq),
        CompareOp::NotIn => !lits.iter().any(eq),
        _ => {
            let Some(o) = lits.first().and_then(|l| ord(v, l)) else {
                return false;
            };
            match op {
                CompareOp::Eq => o == Ordering::Equal,
                CompareOp::Ne => o != Ordering::Equal,
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }
        }
    }
}

fn key_value(v: &Value) -> KeyValue {
    match v {
        Value::Null | Value::Double(_) => KeyValue::Null,
        Value::Bool(b) => KeyValue::Bool(*b),
        Value::Int(i) => KeyValue::Int(*i),
        Value::Str(s) => KeyValue::Str(s.clone()),
    }
}

fn canonical(v: &Value) -> RVal {
    match v {
        Value::Null => RVal::Null,
        Value::Bool(b) => RVal::Bytes(vec![u8::from(*b)]),
        Value::Int(i) => RVal::Bytes(i.to_le_bytes().to_vec()),
        Value::Double(d) => RVal::Bytes(d.to_bits().to_le_bytes().to_vec()),
        Value::Str(s) => RVal::Bytes(s.as_bytes().to_vec()),
    }
}

fn compute(kind: AggregateKind, star: bool, quantiles: &[f64], vals: &[RVal]) -> AggValue {
    let ints: Vec<i64> = vals
        .iter()
        .filter_map(|v| if let RVal::Int(i) = v { Some(*i) } else { None })
        .collect();
    let floats: Vec<f64> = vals
        .iter()
        .filter_map(|v| {
            if let RVal::Float(f) = v {
                Some(*f)
            } else {
                None
            }
        })
        .collect();
    let non_null = vals.iter().filter(|v| **v != RVal::Null).count();
    let nums = ints.len() + floats.len();
    match kind {
        AggregateKind::Count => AggValue::Count(if star { vals.len() } else { non_null } as u64),
        _ if nums == 0
            && !matches!(
                kind,
                AggregateKind::CountDistinct | AggregateKind::ApproxCountDistinct
            ) =>
        {
            AggValue::Null
        }
        AggregateKind::Sum if !ints.is_empty() => {
            let s: i128 = ints.iter().map(|&i| i128::from(i)).sum();
            i64::try_from(s)
                .map(AggValue::Int)
                .unwrap_or(AggValue::BigInt(s))
        }
        AggregateKind::Sum => AggValue::Float(floats.iter().fold(0.0, |a, b| a + b)),
        AggregateKind::Avg => {
            let s: i128 = ints.iter().map(|&i| i128::from(i)).sum();
            let f = floats.iter().fold(0.0, |a, b| a + b);
            AggValue::Float((s as f64 + f) / nums as f64)
        }
        AggregateKind::Min | AggregateKind::Max => {
            let max = kind == AggregateKind::Max;
            if !ints.is_empty() {
                let v = if max {
                    ints.iter().max()
                } else {
                    ints.iter().min()
                };
                AggValue::Int(v.copied().unwrap_or(0))
            } else {
                let first = floats[0];
                AggValue::Float(floats[1..].iter().fold(first, |a, &b| {
                    if max {
                        a.max(b)
                    } else {
                        a.min(b)
                    }
                }))
            }
        }
        AggregateKind::CountDistinct => {
            let set: BTreeSet<&Vec<u8>> = vals
                .iter()
                .filter_map(|v| {
                    if let RVal::Bytes(b) = v {
                        Some(b)
                    } else {
                        None
                    }
                })
                .collect();
            AggValue::Count(set.len() as u64)
        }
        AggregateKind::ApproxCountDistinct => {
            let mut h = Hll::new();
            for v in vals {
                if let RVal::Bytes(b) = v {
                    h.insert(b);
                }
            }
            AggValue::Count(h.estimate().round() as u64)
        }
        AggregateKind::Percentile => {
            let mut s = DdSketch::new();
            ints.iter().for_each(|&i| s.add(i as f64));
            floats.iter().for_each(|&f| s.add(f));
            if s.count() == 0 {
                return AggValue::Null;
            }
            AggValue::Quantiles(
                quantiles
                    .iter()
                    .map(|&q| (q, s.quantile(q).unwrap_or(f64::NAN)))
                    .collect(),
            )
        }
    }
}

impl Reference<'_> {
    fn agg_wm(&self, a: usize) -> i64 {
        if self.frontier == i64::MAX {
            i64::MAX
        } else {
            self.frontier
                .saturating_sub(ms(&self.plan.aggregations[a].watermark_delay))
        }
    }

    fn recompute(&mut self) {
        let active = self
            .parts
            .iter()
            .filter(|p| !p.idle)
            .filter_map(|p| p.max)
            .min();
        let c = active.or_else(|| self.parts.iter().filter_map(|p| p.max).max());
        if let Some(c) = c {
            self.frontier = self.frontier.max(c);
        }
    }

    fn processing_time(&mut self, now: i64) {
        if now < self.proc_now {
            return;
        }
        self.proc_now = now;
        let wait = self
            .plan
            .options
            .idle_timeout_ms
            .unwrap_or(crate::engine::HOLD_AT_MOST_MS);
        for p in 0..self.parts.len() {
            if !self.parts[p].held.is_empty() && now - self.parts[p].since >= wait {
                self.release(p);
            }
        }
        if let Some(timeout) = self.plan.options.idle_timeout_ms {
            for p in &mut self.parts {
                if now - p.last >= timeout {
                    p.idle = true;
                }
            }
        }
        self.recompute();
        self.fire_all();
    }

    fn emit(
        &mut self,
        agg: usize,
        start: i64,
        end: i64,
        key: Vec<KeyValue>,
        vals: &[RVal],
        revision: u32,
    ) {
        let a = &self.plan.aggregations[agg];
        let value = compute(a.kind, a.field.is_none(), &a.quantiles, vals);
        self.out.results.push(WindowResult {
            aggregation: agg,
            window_start: EventTime(start),
            window_end: EventTime(end),
            key,
            value,
            revision,
            provisional: false,
            events: vals.len() as u64,
            state: None,
        });
    }

    fn record(&mut self, b: &RawBatch, i: usize) {
        let offset = b.first_offset + i as i64;
        let p = match self.parts.iter().position(|p| p.id == b.partition) {
            Some(p) => p,
            None => {
                self.parts.push(RefPart {
                    id: b.partition,
                    max: None,
                    last: 0,
                    idle: false,
                    held: Vec::new(),
                    settled: false,
                    since: 0,
                });
                self.parts.len() - 1
            }
        };
        self.parts[p].last = self.proc_now;
        self.parts[p].idle = false;
        let dead = |reason| DeadLetter {
            partition: b.partition,
            offset,
            reason,
            bytes: Vec::new(),
        };
        let et = b.event_type_of(i);
        let Some(layout) = self.plan.layouts.get(et as usize) else {
            self.out
                .dead_letters
                .push(dead(DecodeError::UnknownEventType(et)));
            return;
        };
        let Some(bytes) = b.record(i) else {
            let start = if i == 0 { 0 } else { b.ends[i - 1] as usize };
            self.out.dead_letters.push(dead(DecodeError::BadBounds {
                start,
                end: b.ends[i] as usize,
                len: b.data.len(),
            }));
            return;
        };
        let values = match decode_record(layout, bytes) {
            Ok(v) => v,
            Err(e) => {
                self.out.dead_letters.push(dead(e));
                return;
            }
        };
        let get = |name: &str| {
            layout
                .index_of(name)
                .map(|i| values[i].clone())
                .unwrap_or(Value::Null)
        };
        let Value::Int(t) = get(sluice_core::layout::EVENT_TIME) else {
            return;
        };
        if !(-TIME_LIMIT..=TIME_LIMIT).contains(&t) {
            self.out
                .dead_letters
                .push(dead(DecodeError::TimeOutOfRange(t)));
            return;
        }
        let held = RefHeld {
            et,
            partition: b.partition,
            offset,
            t,
            bytes: bytes.to_vec(),
        };
        let part = &mut self.parts[p];
        if self.plan.options.max_future_skew_ms.is_some() && !part.settled {
            if part.held.is_empty() {
                part.since = self.proc_now;
            }
            part.held.push(held);
            if part.held.len() >= crate::engine::PROBATION {
                self.release(p);
            }
            return;
        }
        self.accept(p, &held);
    }

    /// Ends partition `p`'s probation: held records far ahead of their lower
    /// median are outliers, the rest are accepted in arrival order.
    fn release(&mut self, p: usize) {
        self.parts[p].settled = true;
        let held = std::mem::take(&mut self.parts[p].held);
        if held.is_empty() {
            return;
        }
        let mut times: Vec<i64> = held.iter().map(|h| h.t).collect();
        times.sort();
        let reference = times[(times.len() - 1) / 2];
        for h in held {
            match self.plan.options.max_future_skew_ms {
                Some(skew) if h.t > reference + skew => self.out.late.push(LateEvent {
                    aggregation: None,
                    partition: h.partition,
                    offset: h.offset,
                    event_time: EventTime(h.t),
                    reason: LateReason::TooFarInFuture {
                        max_seen: EventTime(reference),
                    },
                    bytes: h.bytes,
                }),
                _ => self.accept(p, &h),
            }
        }
    }

    /// A decoded record past probation: outlier check, every aggregation,
    /// then the watermark.
    fn accept(&mut self, p: usize, h: &RefHeld) {
        let (t, offset, bytes) = (h.t, h.offset, &h.bytes[..]);
        let Some(layout) = self.plan.layouts.get(h.et as usize) else {
            return;
        };
        let Ok(values) = decode_record(layout, bytes) else {
            return;
        };
        let get = |name: &str| {
            layout
                .index_of(name)
                .map(|i| values[i].clone())
                .unwrap_or(Value::Null)
        };
        let max_seen = self.parts.iter().filter_map(|p| p.max).max();
        if let (Some(skew), Some(max)) = (self.plan.options.max_future_skew_ms, max_seen) {
            if t > max + skew {
                self.out.late.push(LateEvent {
                    aggregation: None,
                    partition: h.partition,
                    offset,
                    event_time: EventTime(t),
                    reason: LateReason::TooFarInFuture {
                        max_seen: EventTime(max),
                    },
                    bytes: bytes.to_vec(),
                });
                return;
            }
        }
        for ai in 0..self.plan.aggregations.len() {
            let a = &self.plan.aggregations[ai];
            if !a.event_types.is_empty() && !a.event_types.contains(&layout.event_type) {
                continue;
            }
            let pass = a.filter.iter().all(|pr| {
                let ty: &FieldType = &layout
                    .field(&pr.field)
                    .map(|f| f.ty.clone())
                    .unwrap_or(FieldType::String);
                let lits = literal_values(ty, pr.op, &pr.value).unwrap_or_default();
                compare(&get(&pr.field), pr.op, &lits)
            });
            if !pass {
                continue;
            }
            let key: Vec<KeyValue> = a.group_by.iter().map(|g| key_value(&get(g))).collect();
            let input = match (&a.field, a.kind) {
                (None, _) => RVal::Null,
                (Some(f), AggregateKind::CountDistinct | AggregateKind::ApproxCountDistinct) => {
                    canonical(&get(f))
                }
                (Some(f), _) => match get(f) {
                    Value::Null => RVal::Null,
                    Value::Int(i) => RVal::Int(i),
                    Value::Double(d) => RVal::Float(d),
                    _ => RVal::Int(1),
                },
            };
            let wm = self.agg_wm(ai);
            let lateness = ms(&a.allowed_lateness);
            // late by the partition's own progress, whatever the others'
            let own_wm = self.parts[p]
                .max
                .map_or(i64::MIN, |m| m - ms(&a.watermark_delay));
            let last_end = windows_of(&a.window, t)
                .iter()
                .map(|w| w.1)
                .max()
                .unwrap_or(i64::MIN);
            if own_wm > wm && last_end + lateness <= own_wm {
                self.out.late.push(LateEvent {
                    aggregation: Some(ai),
                    partition: h.partition,
                    offset,
                    event_time: EventTime(t),
                    reason: LateReason::BeyondAllowedLateness {
                        watermark: EventTime(own_wm),
                    },
                    bytes: bytes.to_vec(),
                });
                continue;
            }
            let accepted = if let WindowSpec::Session { gap } = a.window {
                let proto = (t, t + ms(&gap));
                let list = self.aggs[ai].sessions.entry(key.clone()).or_default();
                let (over, keep): (Vec<RefSession>, Vec<RefSession>) = std::mem::take(list)
                    .into_iter()
                    .partition(|s| s.start < proto.1 && proto.0 < s.end);
                *list = keep;
                if over.is_empty() && wm >= proto.1 + lateness {
                    false
                } else {
                    let mut s = RefSession {
                        start: proto.0,
                        end: proto.1,
                        vals: Vec::new(),
                        emissions: 0,
                        fired: false,
                    };
                    for o in over {
                        s.start = s.start.min(o.start);
                        s.end = s.end.max(o.end);
                        s.emissions = s.emissions.max(o.emissions);
                        s.vals.extend(o.vals);
                    }
                    s.vals.push(input);
                    if s.end <= wm {
                        s.fired = true;
                        let (start, end, rev) = (s.start, s.end, s.emissions);
                        s.emissions += 1;
                        let vals = s.vals.clone();
                        self.aggs[ai]
                            .sessions
                            .entry(key.clone())
                            .or_default()
                            .push(s);
                        self.emit(ai, start, end, key, &vals, rev);
                    } else {
                        self.aggs[ai].sessions.entry(key).or_default().push(s);
                    }
                    true
                }
            } else {
                let mut applied = false;
                for (s, e) in windows_of(&a.window, t) {
                    if wm >= e + lateness {
                        continue;
                    }
                    applied = true;
                    let w = self.aggs[ai]
                        .windows
                        .entry((s, e))
                        .or_insert_with(|| RefWindow {
                            fired: e <= wm,
                            groups: BTreeMap::new(),
                        });
                    let g = w.groups.entry(key.clone()).or_default();
                    g.vals.push(input.clone());
                    if e <= wm {
                        let rev = g.emissions;
                        g.emissions += 1;
                        let vals = g.vals.clone();
                        self.emit(ai, s, e, key.clone(), &vals, rev);
                    }
                }
                applied
            };
            if !accepted {
                self.out.late.push(LateEvent {
                    aggregation: Some(ai),
                    partition: h.partition,
                    offset,
                    event_time: EventTime(t),
                    reason: LateReason::BeyondAllowedLateness {
                        watermark: EventTime(wm),
                    },
                    bytes: bytes.to_vec(),
                });
            }
        }
        let part = &mut self.parts[p];
        part.max = Some(part.max.map_or(t, |m| m.max(t)));
        self.recompute();
        self.fire_all();
    }

    fn fire_all(&mut self) {
        for ai in 0..self.aggs.len() {
            let wm = self.agg_wm(ai);
            let lateness = ms(&self.plan.aggregations[ai].allowed_lateness);
            // Windows: (end, start) order, groups by key.
            let mut due: Vec<(i64, i64)> = self.aggs[ai]
                .windows
                .iter()
                .filter(|(&(_, e), w)| !w.fired && e <= wm)
                .map(|(&k, _)| k)
                .collect();
            due.sort_by_key(|&(s, e)| (e, s));
            for (s, e) in due {
                let w = self.aggs[ai].windows.get_mut(&(s, e)).map(|w| {
                    w.fired = true;
                    w.groups
                        .iter_mut()
                        .map(|(k, g)| {
                            g.emissions = 1;
                            (k.clone(), g.vals.clone())
                        })
                        .collect::<Vec<_>>()
                });
                for (k, vals) in w.unwrap_or_default() {
                    self.emit(ai, s, e, k, &vals, 0);
                }
            }
            self.aggs[ai].windows.retain(|&(_, e), _| wm < e + lateness);
            // Sessions: (end, start, key) order.
            let mut due: Vec<DueSession> = Vec::new();
            for (k, list) in &mut self.aggs[ai].sessions {
                for s in list.iter_mut().filter(|s| !s.fired && s.end <= wm) {
                    s.fired = true;
                    due.push((s.end, s.start, k.clone(), s.emissions, s.vals.clone()));
                    s.emissions += 1;
                }
            }
            due.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
            for (e, s, k, rev, vals) in due {
                self.emit(ai, s, e, k, &vals, rev);
            }
            for list in self.aggs[ai].sessions.values_mut() {
                list.retain(|s| wm < s.end + lateness);
            }
        }
    }
}
