//! The simulation: a fixed number of session slots run sessions one after
//! another; a heap keyed by (next event time, slot) yields events in event
//! time order. Each session belongs to an entity, walks the journey state
//! machine with think times between events and ends on an `end` transition
//! (or after `max_events`); its slot then idles for a gap and starts the next
//! session.
//!
//! Field values are written into a reused [`Scratch`] record; scoped values
//! (entity, session) are recomputed from a key-derived generator every time,
//! so nothing per entity or session is stored except values repeated by
//! `scope: previous`. No allocation happens per event once buffers have
//! grown.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::dist::Continuous;
use crate::plan::*;
use crate::rng::{combine, mix64, MainRng, Rand, SplitMix};
use crate::template::{write_hex16, Ctx};

/// One value of the scratch record. Strings point into [`Scratch::bytes`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// null
    Null,
    /// Text: `bytes[start..end]`.
    Str(u32, u32),
    /// int, long, money (minor units), timestamp (ms).
    Int(i64),
    /// double
    Double(f64),
    /// boolean
    Bool(bool),
    /// enum symbol index
    Enum(u32),
}

/// One generated record in wire order, before encoding.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    /// Values in layout order (envelope first).
    pub vals: Vec<Val>,
    /// Backing bytes of string values.
    pub bytes: Vec<u8>,
    /// Per field: index chosen from a `values` list, or `u32::MAX`.
    pub chosen: Vec<u32>,
    /// Event type index.
    pub event_type: usize,
}

impl Scratch {
    /// The event time (envelope field 3).
    pub fn event_time(&self) -> i64 {
        match self.vals.get(3) {
            Some(Val::Int(t)) => *t,
            _ => 0,
        }
    }

    /// Sets the event time.
    pub fn set_event_time(&mut self, t: i64) {
        if let Some(v) = self.vals.get_mut(3) {
            *v = Val::Int(t);
        }
    }

    /// The text of a string value.
    pub fn text(&self, v: Val) -> &[u8] {
        match v {
            Val::Str(a, b) => &self.bytes[a as usize..b as usize],
            _ => b"",
        }
    }

    fn push_str(&mut self, b: &[u8]) -> Val {
        let a = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        Val::Str(a, self.bytes.len() as u32)
    }
}

/// A value kept for `scope: previous`.
#[derive(Clone, Debug, Default)]
struct Kept {
    set: bool,
    val: Option<Val>,
    bytes: Vec<u8>,
    chosen: u32,
}

/// The state of one session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// Session number (0-based, unique in a run).
    pub number: u64,
    /// Entity number.
    pub entity: u64,
    /// Start time (ms).
    pub start_ms: i64,
    /// Events so far.
    pub events: u32,
    seed: u64,
    entity_seed: u64,
    kept: Vec<Kept>,
}

impl Session {
    /// A session `number` of `entity` starting at `t`.
    pub fn start(plan: &Plan, keys: &Keys, number: u64, entity: u64, t: i64) -> Self {
        let mut s = Session::default();
        s.init(plan, keys, number, entity, t);
        s
    }

    fn init(&mut self, plan: &Plan, keys: &Keys, number: u64, entity: u64, t: i64) {
        self.number = number;
        self.entity = entity;
        self.start_ms = t;
        self.events = 0;
        self.seed = combine(keys.session, number);
        self.entity_seed = combine(keys.entity, entity);
        if self.kept.len() != plan.tracked {
            self.kept = vec![Kept::default(); plan.tracked];
        }
        for k in &mut self.kept {
            k.set = false;
        }
    }
}

#[derive(Clone, Debug)]
struct Slot {
    session: Session,
    /// Event type of the pending event.
    next_type: u32,
}

/// Keys derived from the seed.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    event_id: u64,
    session_id: u64,
    session: u64,
    entity: u64,
}

impl Keys {
    /// Keys for a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            event_id: combine(seed, 1),
            session_id: combine(seed, 2),
            session: combine(seed, 3),
            entity: combine(seed, 4),
        }
    }
}

/// The event-time-ordered session simulation of one plan.
#[derive(Debug)]
pub struct Sim {
    slots: Vec<Slot>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Main random stream.
    pub rng: MainRng,
    keys: Keys,
    next_session: u64,
    next_event: u64,
}

/// Mean events per session and mean slot cycle (session span + gap, ms),
/// measured on a pilot run of the journey with its own random stream.
pub fn pilot(plan: &Plan, seed: u64) -> (f64, f64) {
    let mut r = MainRng::new(seed, 7);
    let runs = 4_000;
    let (mut events, mut span) = (0.0, 0.0);
    for _ in 0..runs {
        let mut t = 0.0;
        let mut e = plan.journey.start_targets[plan.journey.start.sample(&mut r)];
        let mut n = 1u32;
        loop {
            let (table, outs) = &plan.journey.next[e as usize];
            let next = outs[table.sample(&mut r)];
            if next == END || n >= plan.sessions.max_events {
                break;
            }
            e = next;
            t += plan.events[e as usize].think_time.sample(&mut r).max(0.0);
            n += 1;
        }
        events += n as f64;
        span += t + plan.sessions.gap.sample(&mut r).max(0.0);
    }
    (events / runs as f64, (span / runs as f64).max(1.0))
}

impl Sim {
    /// A simulation with `concurrent` slots starting at `start_ms`.
    pub fn new(plan: &Plan, seed: u64, concurrent: u64, start_ms: i64) -> Self {
        let (_, cycle) = pilot(plan, seed);
        let mut sim = Self {
            slots: Vec::with_capacity(concurrent as usize),
            heap: BinaryHeap::with_capacity(concurrent as usize),
            rng: MainRng::new(seed, 1),
            keys: Keys::new(seed),
            next_session: 0,
            next_event: 0,
        };
        for i in 0..concurrent {
            // Stagger slots over one cycle so the start looks like steady state.
            let offset = (sim.rng.unit() * cycle) as i64;
            let (session, first) = sim.new_session(plan, start_ms + offset);
            sim.slots.push(Slot { session, next_type: first });
            sim.heap.push(Reverse((start_ms + offset, i as u32)));
        }
        sim
    }

    /// Starts a session at `t`: a fresh number, an entity and a first event type.
    pub fn new_session(&mut self, plan: &Plan, t: i64) -> (Session, u32) {
        let mut s = Session::default();
        self.reset_session(plan, &mut s, t);
        let first = plan.journey.start_targets[plan.journey.start.sample(&mut self.rng)];
        (s, first)
    }

    fn reset_session(&mut self, plan: &Plan, s: &mut Session, t: i64) {
        let number = self.next_session;
        self.next_session += 1;
        let entity = match &plan.entity.activity {
            Some(z) => z.sample(&mut self.rng) - 1,
            None => self.rng.below(plan.entity.population),
        };
        s.init(plan, &self.keys, number, entity, t);
    }

    /// The next event of the simulation, in event time order: fills `out`.
    #[inline]
    pub fn step(&mut self, plan: &Plan, out: &mut Scratch) {
        let Some(Reverse((t, slot))) = self.heap.peek().copied() else {
            return;
        };
        let event_no = self.next_event;
        self.next_event += 1;
        let mut slot_state = std::mem::replace(&mut self.slots[slot as usize].session, Session::default());
        let e = self.slots[slot as usize].next_type;
        fill(plan, &self.keys, &mut self.rng, e as usize, t, event_no, &mut slot_state, out);
        slot_state.events += 1;
        // Next event of this slot.
        let (table, outs) = &plan.journey.next[e as usize];
        let next = outs[table.sample(&mut self.rng)];
        let (nt, ntype) = if next == END || slot_state.events >= plan.sessions.max_events {
            let gap = plan.sessions.gap.sample(&mut self.rng).max(1.0) as i64;
            let start = t.saturating_add(gap);
            self.reset_session(plan, &mut slot_state, start);
            let first = plan.journey.start_targets[plan.journey.start.sample(&mut self.rng)];
            (start, first)
        } else {
            let think = plan.events[next as usize].think_time.sample(&mut self.rng).max(0.0) as i64;
            (t.saturating_add(think), next)
        };
        let s = &mut self.slots[slot as usize];
        s.session = slot_state;
        s.next_type = ntype;
        if let Some(mut top) = self.heap.peek_mut() {
            *top = Reverse((nt, slot));
        }
    }

    /// Time of the next event.
    pub fn peek_time(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes an event number for events generated outside the simulation.
    pub fn take_event_number(&mut self) -> u64 {
        let n = self.next_event;
        self.next_event += 1;
        n
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}

/// Fills `out` with event type `e` at time `t` for `session`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn fill<R: Rand>(plan: &Plan, keys: &Keys, rng: &mut R, e: usize, t: i64, event_no: u64, session: &mut Session, out: &mut Scratch) {
    let ev = &plan.events[e];
    let n = ev.layout.fields.len();
    out.vals.clear();
    out.bytes.clear();
    out.chosen.clear();
    out.chosen.resize(n, u32::MAX);
    out.vals.resize(n, Val::Null);
    out.event_type = e;
    // Envelope.
    let a = out.bytes.len() as u32;
    write_hex16(&mut out.bytes, mix64(event_no ^ keys.event_id));
    out.vals[0] = Val::Str(a, out.bytes.len() as u32);
    out.vals[1] = out.push_str(ev.name.as_bytes());
    let a = out.bytes.len() as u32;
    let ctx = Ctx {
        seq: session.entity,
        entity: session.entity,
        session: session.number,
    };
    plan.entity.key.render(&mut SplitMix(session.entity_seed), &ctx, &mut out.bytes);
    out.vals[2] = Val::Str(a, out.bytes.len() as u32);
    out.vals[3] = Val::Int(t);
    let a = out.bytes.len() as u32;
    write_hex16(&mut out.bytes, mix64(session.number ^ keys.session_id));
    out.vals[4] = Val::Str(a, out.bytes.len() as u32);
    // Fields, parents first.
    for &fi in &ev.order {
        let f = &ev.fields[fi];
        let slot = ENVELOPE + fi;
        if f.scope == Scope::Previous {
            if let Some(k) = f.tracked {
                let kept = &session.kept[k];
                if kept.set {
                    out.vals[slot] = match kept.val {
                        Some(Val::Str(..)) => out.push_str(&kept.bytes),
                        Some(v) => v,
                        None => Val::Null,
                    };
                    out.chosen[slot] = kept.chosen;
                    continue;
                }
            }
        }
        match f.scope {
            Scope::Event | Scope::Previous => field(f, rng, t, event_no, session, slot, out),
            Scope::Session => {
                let mut r = SplitMix(combine(session.seed, f.key));
                field(f, &mut r, t, session.number, session, slot, out)
            }
            Scope::Entity => {
                let mut r = SplitMix(combine(session.entity_seed, f.key));
                field(f, &mut r, t, session.entity, session, slot, out)
            }
        }
        if let Some(k) = f.tracked {
            let v = out.vals[slot];
            let kept = &mut session.kept[k];
            kept.set = true;
            kept.chosen = out.chosen[slot];
            kept.bytes.clear();
            match v {
                Val::Null => kept.val = None,
                Val::Str(a, b) => {
                    kept.bytes.extend_from_slice(&out.bytes[a as usize..b as usize]);
                    kept.val = Some(v);
                }
                other => kept.val = Some(other),
            }
        }
    }
}

#[inline]
fn field<R: Rand>(f: &FieldGen, rng: &mut R, t: i64, seq: u64, session: &Session, slot: usize, out: &mut Scratch) {
    if f.null_rate > 0.0 && rng.chance(f.null_rate) {
        out.vals[slot] = Val::Null;
        return;
    }
    let ctx = Ctx {
        seq,
        entity: session.entity,
        session: session.number,
    };
    value(&f.gen, rng, t, &ctx, session, slot, out);
}

#[inline]
fn value<R: Rand>(g: &ValueGen, rng: &mut R, t: i64, ctx: &Ctx, session: &Session, slot: usize, out: &mut Scratch) {
    out.vals[slot] = match g {
        ValueGen::Choice { table, values } => {
            let i = table.sample(rng);
            out.chosen[slot] = i as u32;
            match &values[i] {
                Scalar::Str(b) => out.push_str(b),
                Scalar::Int(v) => Val::Int(*v),
                Scalar::Double(v) => Val::Double(*v),
                Scalar::Bool(v) => Val::Bool(*v),
                Scalar::Enum(v) => Val::Enum(*v),
            }
        }
        ValueGen::Bool { p_true } => Val::Bool(rng.chance(*p_true)),
        ValueGen::Template(tp) => {
            let a = out.bytes.len() as u32;
            tp.render(rng, ctx, &mut out.bytes);
            Val::Str(a, out.bytes.len() as u32)
        }
        ValueGen::Num(n) => number(n, rng, t, session),
        ValueGen::Depends { parent, cases, fallback } => {
            let c = out.chosen[ENVELOPE + parent];
            let g = cases.get(c as usize).unwrap_or(fallback);
            value(g, rng, t, ctx, session, slot, out);
            return;
        }
    };
}

#[inline]
fn number<R: Rand>(n: &NumGen, rng: &mut R, t: i64, session: &Session) -> Val {
    let mut x = n.dist.sample(rng);
    if let Some((rate, d)) = &n.anomaly {
        if rng.chance(*rate) {
            x = d.sample(rng);
        }
    }
    if let Some((scope, key, d)) = &n.offset {
        x += match scope {
            Scope::Entity => d.sample(&mut SplitMix(combine(session.entity_seed, *key))),
            Scope::Session => d.sample(&mut SplitMix(combine(session.seed, *key))),
            _ => d.sample(rng),
        };
    }
    if n.drift_per_hour != 0.0 {
        x += n.drift_per_hour * (t - session.start_ms) as f64 / 3_600_000.0;
    }
    if !x.is_finite() {
        x = if x > 0.0 { n.max } else { n.min };
    }
    let x = x.clamp(n.min, n.max);
    match n.kind {
        NumKind::Int => Val::Int(x.round().clamp(i32::MIN as f64, i32::MAX as f64) as i64),
        NumKind::Long => Val::Int(x.round() as i64),
        NumKind::Double => Val::Double(match n.decimals {
            Some(d) => {
                let f = 10f64.powi(d as i32);
                (x * f).round() / f
            }
            None => x,
        }),
        NumKind::Money { factor } => Val::Int((x * factor).round() as i64),
        NumKind::TimestampBefore => Val::Int(t.saturating_sub(x.round() as i64)),
    }
}

/// The mean of a think-time distribution (ms), for rate calibration.
pub fn mean_ms(d: &Continuous) -> f64 {
    d.mean().max(0.0)
}
