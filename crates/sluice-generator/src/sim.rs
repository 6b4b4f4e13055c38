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

use crate::dist::Continuous;
use crate::heap::Heap4;
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

    /// Like `push_str` for text stored with 16 bytes of padding after it.
    fn push_padded(&mut self, padded: &[u8]) -> Val {
        let a = self.bytes.len() as u32;
        let len = padded.len().saturating_sub(crate::template::PAD);
        crate::encode::copy_small(&mut self.bytes, padded, 0, len);
        Val::Str(a, self.bytes.len() as u32)
    }
}

/// A value kept for `scope: previous`.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    set: bool,
    val: Option<Val>,
    bytes: Vec<u8>,
    chosen: u32,
}

/// The state of one session: 32 bytes, so thousands of concurrent slots
/// stay cache-resident. Seeds are recomputed from the numbers per event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Session {
    /// Session number (0-based, unique in a run).
    pub number: u64,
    /// Entity number.
    pub entity: u64,
    /// Start time (ms).
    pub start_ms: i64,
    /// Events so far.
    pub events: u32,
    /// Event type of the session's pending event.
    pub next_type: u32,
}

impl Session {
    /// A session `number` of `entity` starting at `t`.
    pub fn start(number: u64, entity: u64, t: i64) -> Self {
        Self {
            number,
            entity,
            start_ms: t,
            events: 0,
            next_type: 0,
        }
    }
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

/// Heap key: biased time in the high 64 bits, slot in the low 32, so one
/// `u128` comparison orders by (time, slot).
#[inline]
fn key(t: i64, slot: u32) -> u128 {
    (((t as u64) ^ (1 << 63)) as u128) << 64 | slot as u128
}

#[inline]
fn unkey(k: u128) -> (i64, u32) {
    ((((k >> 64) as u64) ^ (1 << 63)) as i64, k as u32)
}

/// The event-time-ordered session simulation of one plan.
#[derive(Debug)]
pub struct Sim {
    slots: Vec<Session>,
    heap: Heap4,
    /// Values kept for `scope: previous`: `tracked` per slot.
    kept: Vec<Kept>,
    tracked: usize,
    /// Main random stream.
    pub rng: MainRng,
    keys: Keys,
    next_session: u64,
    next_event: u64,
    /// Multiplier of idle gaps between sessions.
    gap_scale: f64,
}

/// Most events replayed (not produced) while warming the simulation up.
pub const WARMUP_STEPS: u64 = 500_000;

/// Mean events per session, mean slot cycle (session span + gap, ms) and
/// mean session span (ms), measured on a pilot run of the journey with its
/// own random stream.
pub fn pilot(plan: &Plan, seed: u64) -> (f64, f64, f64) {
    let mut r = MainRng::new(seed, 7);
    let runs = 4_000;
    let (mut events, mut cycle, mut span) = (0.0, 0.0, 0.0);
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
        span += t;
        cycle += t + plan.sessions.gap.sample(&mut r).max(1.0);
    }
    let k = runs as f64;
    (events / k, (cycle / k).max(1.0), span / k)
}

impl Sim {
    /// A simulation with `concurrent` slots whose events start at `start_ms`;
    /// idle gaps between sessions are scaled by `gap_scale` (1 = as
    /// configured; smaller packs sessions closer for high rates).
    ///
    /// Warm-up, so the event rate is about flat from the start: slots are
    /// placed in a near-steady-state phase at `start_ms - W` (a share
    /// `span / cycle` of them mid-session, the others idle for a draw of
    /// the gap distribution) and the simulation is replayed, without
    /// producing events, up to `start_ms`. `W` is two mean cycles, bounded
    /// so the replay stays under [`WARMUP_STEPS`] events.
    pub fn new(plan: &Plan, seed: u64, concurrent: u64, start_ms: i64, gap_scale: f64) -> Self {
        let (events, cycle, span) = pilot(plan, seed);
        let cycle = span + (cycle - span) * gap_scale;
        let n = concurrent as usize;
        let mut sim = Self {
            slots: Vec::with_capacity(n),
            heap: Heap4::with_capacity(n),
            kept: vec![Kept::default(); n * plan.tracked],
            tracked: plan.tracked,
            rng: MainRng::new(seed, 1),
            keys: Keys::new(seed),
            next_session: 0,
            next_event: 0,
            gap_scale,
        };
        let per_ms = concurrent as f64 * events / cycle.max(1.0);
        let window = (2.0 * cycle).min(WARMUP_STEPS as f64 / per_ms.max(1e-12)) as i64;
        let base = start_ms.saturating_sub(window);
        let p_mid = (span / cycle).clamp(0.0, 1.0);
        for i in 0..concurrent {
            let offset = if sim.rng.chance(p_mid) {
                -((sim.rng.unit() * span) as i64)
            } else {
                (plan.sessions.gap.sample(&mut sim.rng).max(0.0) * gap_scale) as i64
            };
            let session = sim.new_session(plan, base + offset);
            sim.slots.push(session);
            sim.heap.push(key(base + offset, i as u32));
        }
        while sim.peek_time().is_some_and(|t| t < start_ms) {
            sim.advance(plan, None);
        }
        sim
    }

    /// Starts a session at `t`: a fresh number, an entity and a first event type.
    fn new_session(&mut self, plan: &Plan, t: i64) -> Session {
        let number = self.next_session;
        self.next_session += 1;
        let entity = match &plan.entity.activity {
            Some(z) => z.sample(&mut self.rng) - 1,
            None => self.rng.below(plan.entity.population),
        };
        let mut s = Session::start(number, entity, t);
        s.next_type = plan.journey.start_targets[plan.journey.start.sample(&mut self.rng)];
        s
    }

    /// The next event of the simulation, in event time order: fills `out`.
    #[inline]
    pub fn step(&mut self, plan: &Plan, out: &mut Scratch) {
        self.advance(plan, Some(out));
    }

    /// Moves the earliest slot one event on; fills `out` when given (warm-up
    /// replays pass `None` and consume no event number).
    #[inline]
    fn advance(&mut self, plan: &Plan, out: Option<&mut Scratch>) {
        let Some(k) = self.heap.peek() else {
            return;
        };
        let (t, slot) = unkey(k);
        let si = slot as usize;
        let mut session = self.slots[si];
        let e = session.next_type;
        if let Some(out) = out {
            let event_no = self.next_event;
            self.next_event += 1;
            let kept = &mut self.kept[si * self.tracked..(si + 1) * self.tracked];
            fill(
                plan,
                &self.keys,
                &mut self.rng,
                e as usize,
                t,
                event_no,
                &session,
                kept,
                out,
            );
        }
        session.events += 1;
        // Next event of this slot.
        let (table, outs) = &plan.journey.next[e as usize];
        let next = outs[table.sample(&mut self.rng)];
        let nt = if next == END || session.events >= plan.sessions.max_events {
            let gap = (plan.sessions.gap.sample(&mut self.rng) * self.gap_scale).max(1.0) as i64;
            let start = t.saturating_add(gap);
            session = self.new_session(plan, start);
            for k in &mut self.kept[si * self.tracked..(si + 1) * self.tracked] {
                k.set = false;
            }
            start
        } else {
            let think = plan.events[next as usize]
                .think_time
                .sample(&mut self.rng)
                .max(0.0) as i64;
            session.next_type = next;
            t.saturating_add(think)
        };
        self.slots[si] = session;
        self.heap.replace_top(key(nt, slot));
    }

    /// Time of the next event.
    pub fn peek_time(&self) -> Option<i64> {
        self.heap.peek().map(|k| unkey(k).0)
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

/// A fresh `scope: previous` store for one session of `plan`.
pub fn kept_store(plan: &Plan) -> Vec<Kept> {
    vec![Kept::default(); plan.tracked]
}

/// Seeds of a session's scoped values.
#[derive(Clone, Copy, Debug)]
struct Seeds {
    session: u64,
    entity: u64,
}

/// Fills `out` with event type `e` at time `t` for `session`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn fill<R: Rand>(
    plan: &Plan,
    keys: &Keys,
    rng: &mut R,
    e: usize,
    t: i64,
    event_no: u64,
    session: &Session,
    kept: &mut [Kept],
    out: &mut Scratch,
) {
    let ev = &plan.events[e];
    let n = ev.layout.fields.len();
    let seeds = Seeds {
        session: combine(keys.session, session.number),
        entity: combine(keys.entity, session.entity),
    };
    // Every position is written below, so the buffers are only resized.
    if out.vals.len() != n {
        out.vals.resize(n, Val::Null);
        out.chosen.resize(n, u32::MAX);
    }
    out.bytes.clear();
    out.event_type = e;
    // Envelope.
    let a = out.bytes.len() as u32;
    write_hex16(&mut out.bytes, mix64(event_no ^ keys.event_id));
    out.vals[0] = Val::Str(a, out.bytes.len() as u32);
    out.vals[1] = out.push_padded(&ev.name_padded);
    let a = out.bytes.len() as u32;
    let ctx = Ctx {
        seq: session.entity,
        entity: session.entity,
        session: session.number,
    };
    plan.entity
        .key
        .render(&mut SplitMix(seeds.entity), &ctx, &mut out.bytes);
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
            if let Some(k) = f.tracked.and_then(|k| kept.get(k)) {
                if k.set {
                    out.vals[slot] = match k.val {
                        Some(Val::Str(..)) => out.push_str(&k.bytes),
                        Some(v) => v,
                        None => Val::Null,
                    };
                    out.chosen[slot] = k.chosen;
                    continue;
                }
            }
        }
        match f.scope {
            Scope::Event | Scope::Previous => {
                field(f, rng, t, event_no, session, &seeds, slot, out)
            }
            Scope::Session => {
                let mut r = SplitMix(combine(seeds.session, f.key));
                field(f, &mut r, t, session.number, session, &seeds, slot, out)
            }
            Scope::Entity => {
                let mut r = SplitMix(combine(seeds.entity, f.key));
                field(f, &mut r, t, session.entity, session, &seeds, slot, out)
            }
        }
        if let Some(k) = f.tracked.and_then(|k| kept.get_mut(k)) {
            let v = out.vals[slot];
            // (values kept for `scope: previous`)
            k.set = true;
            k.chosen = out.chosen[slot];
            k.bytes.clear();
            match v {
                Val::Null => k.val = None,
                Val::Str(a, b) => {
                    k.bytes
                        .extend_from_slice(&out.bytes[a as usize..b as usize]);
                    k.val = Some(v);
                }
                other => k.val = Some(other),
            }
        }
    }
    // Slack so encoders can copy short strings 16 bytes at a time.
    out.bytes.extend_from_slice(&[0u8; crate::template::PAD]);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn field<R: Rand>(
    f: &FieldGen,
    rng: &mut R,
    t: i64,
    seq: u64,
    session: &Session,
    seeds: &Seeds,
    slot: usize,
    out: &mut Scratch,
) {
    out.chosen[slot] = u32::MAX;
    if f.null_rate > 0.0 && rng.chance(f.null_rate) {
        out.vals[slot] = Val::Null;
        return;
    }
    let ctx = Ctx {
        seq,
        entity: session.entity,
        session: session.number,
    };
    value(&f.gen, rng, t, &ctx, session, seeds, slot, out);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn value<R: Rand>(
    g: &ValueGen,
    rng: &mut R,
    t: i64,
    ctx: &Ctx,
    session: &Session,
    seeds: &Seeds,
    slot: usize,
    out: &mut Scratch,
) {
    out.vals[slot] = match g {
        ValueGen::Choice { table, values } => {
            let i = table.sample(rng);
            out.chosen[slot] = i as u32;
            match &values[i] {
                Scalar::Str(b) => out.push_padded(b),
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
        ValueGen::Num(n) => number(n, rng, t, session, seeds),
        ValueGen::Depends {
            parent,
            cases,
            fallback,
        } => {
            let c = out.chosen[ENVELOPE + parent];
            let g = cases.get(c as usize).unwrap_or(fallback);
            depends(g, rng, t, ctx, session, seeds, slot, out);
            return;
        }
    };
}

/// The case of a `depends_on` field (out of line: `value` is inlined and
/// cannot call itself).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn depends<R: Rand>(
    g: &ValueGen,
    rng: &mut R,
    t: i64,
    ctx: &Ctx,
    session: &Session,
    seeds: &Seeds,
    slot: usize,
    out: &mut Scratch,
) {
    value(g, rng, t, ctx, session, seeds, slot, out)
}

#[inline]
fn number<R: Rand>(n: &NumGen, rng: &mut R, t: i64, session: &Session, seeds: &Seeds) -> Val {
    let mut x = n.dist.sample(rng);
    if let Some((rate, d)) = &n.anomaly {
        if rng.chance(*rate) {
            x = d.sample(rng);
        }
    }
    if let Some((scope, key, d)) = &n.offset {
        x += match scope {
            Scope::Entity => d.sample(&mut SplitMix(combine(seeds.entity, *key))),
            Scope::Session => d.sample(&mut SplitMix(combine(seeds.session, *key))),
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
