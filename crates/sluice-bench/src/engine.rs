//! Benchmarks the CLI runs for `sluice bench engine --json`, and a small
//! deterministic e-commerce fixture to run them on until the data generator
//! crate can supply records.
//!
//! Three standard cases over the fixture:
//! (a) tumbling 1 minute `count` by `device_type`, `event_type`;
//! (b) sliding 5 minutes every minute `sum(amount)` by `country`;
//! (c) tumbling 1 minute `approx_count_distinct(user_id)` by `platform`.
//! For each, the decode-only rate (the same compiled decoder reading the same
//! fields over the same bytes, nothing else) and the full engine rate
//! (decode, aggregate, watermarks, emission, `finish`) are measured on one
//! thread; the best of `rounds` runs counts.

use std::time::Instant;

use sluice_core::layout::RecordLayout as Layout;
use sluice_core::{
    AggregateKind, FieldLayout, FieldRole, FieldType, HumanDuration, MoneyEncoding, RecordLayout,
    WindowSpec,
};

use sluice_engine::Engine;
use sluice_engine::Output;
use sluice_engine::PlanError;
use sluice_engine::RawBatch;
use sluice_engine::{AggregationPlan, EngineOptions, EnginePlan};
use sluice_formats::avro::{write_bytes, write_long};

/// Event types of the fixture, in event type id order.
pub const EVENT_TYPES: [&str; 3] = ["page_view", "add_to_cart", "purchase"];
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
const PLATFORMS: [&str; 3] = ["ios", "android", "web"];
const COUNTRIES: [&str; 8] = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"];
/// Event time of the first fixture record (2023-11-14T22:13:20Z).
pub const FIXTURE_START_MS: i64 = 1_700_000_000_000;
/// Records per fixture batch.
pub const FIXTURE_BATCH: usize = 4096;

/// A tiny deterministic PRNG (SplitMix64), so fixtures need no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}

/// The fixture's layouts: three event types with identical fields.
pub fn ecommerce_layouts() -> Vec<RecordLayout> {
    let f = |name: &str, ty: FieldType, role: FieldRole| FieldLayout {
        name: name.to_string(),
        ty,
        optional: false,
        role,
        doc: None,
    };
    EVENT_TYPES
        .iter()
        .map(|et| {
            let mut fields = Layout::envelope("user_id");
            fields.extend([
                f("product_id", FieldType::String, FieldRole::Attribute),
                f("page", FieldType::String, FieldRole::Attribute),
                f(
                    "amount",
                    FieldType::Money {
                        currency: "USD".to_string(),
                        scale: 2,
                    },
                    FieldRole::Attribute,
                ),
                f("quantity", FieldType::Int, FieldRole::Attribute),
                f("device_type", FieldType::String, FieldRole::Dimension),
                f("platform", FieldType::String, FieldRole::Dimension),
                f("country", FieldType::String, FieldRole::Dimension),
            ]);
            RecordLayout {
                namespace: "sluice.ecommerce".to_string(),
                domain: "ecommerce".to_string(),
                event_type: et.to_string(),
                entity_key: "user_id".to_string(),
                money: MoneyEncoding::Long,
                fields,
            }
        })
        .collect()
}

/// `n` deterministic e-commerce records (about 99 bytes each; 70% page
/// views, 20% add-to-cart, 10% purchases) in batches of [`FIXTURE_BATCH`]
/// on partition 0, event time advancing 1 ms per record (1 000 events per
/// second of simulated time) with up to 50 ms of disorder.
pub fn ecommerce_fixture(n: usize, seed: u64) -> (Vec<RecordLayout>, Vec<RawBatch>) {
    let mut rng = SplitMix::new(seed);
    let mut batches = Vec::with_capacity(n.div_ceil(FIXTURE_BATCH));
    let mut b = RawBatch::new(0, 0, 0);
    let mut text: Vec<u8> = Vec::with_capacity(32);
    for i in 0..n {
        if b.len() == FIXTURE_BATCH {
            let next = RawBatch::new(0, 0, i as i64);
            batches.push(std::mem::replace(&mut b, next));
        }
        let roll = rng.below(10);
        let et = match roll {
            0..=6 => 0usize,
            7 | 8 => 1,
            _ => 2,
        };
        let d = &mut b.data;
        text.clear();
        push_hex(&mut text, rng.next_u64(), 16);
        push_hex(&mut text, i as u64 & 0xffff, 4);
        write_bytes(d, &text);
        write_bytes(d, EVENT_TYPES[et].as_bytes());
        text.clear();
        text.push(b'u');
        push_dec(&mut text, rng.below(50_000), 6);
        write_bytes(d, &text);
        let t = FIXTURE_START_MS + i as i64 - rng.below(50) as i64;
        write_long(d, t);
        write_long(d, 1);
        text.clear();
        text.push(b's');
        push_hex(&mut text, rng.next_u64() & 0xffff_ffff, 8);
        write_bytes(d, &text);
        let product = rng.below(100_000);
        text.clear();
        text.push(b'p');
        push_dec(&mut text, product, 5);
        write_bytes(d, &text);
        text.clear();
        text.extend_from_slice(b"/product/");
        push_dec(&mut text, product, 5);
        write_bytes(d, &text);
        let amount = if et == 0 {
            0
        } else {
            100 + rng.below(49_900) as i64
        };
        write_long(d, amount);
        write_long(d, 1 + rng.below(4) as i64);
        write_bytes(d, DEVICES[rng.below(3) as usize].as_bytes());
        write_bytes(d, PLATFORMS[rng.below(3) as usize].as_bytes());
        write_bytes(d, COUNTRIES[rng.below(8) as usize].as_bytes());
        b.event_types.push(et as u32);
        b.end_record();
    }
    if !b.is_empty() {
        batches.push(b);
    }
    (ecommerce_layouts(), batches)
}

fn push_hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[((v >> (4 * i)) & 0xf) as usize]);
    }
}

fn push_dec(out: &mut Vec<u8>, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(b'0' + ((v / 10u64.pow(i)) % 10) as u8);
    }
}

fn plan(layouts: &[RecordLayout], mut agg: AggregationPlan) -> EnginePlan {
    // feed the aggregation from the event types that have every field it reads
    // (e.g. `amount` exists on add_to_cart and purchase, not on page_view)
    let needed: Vec<&String> = agg.field.iter().chain(agg.group_by.iter()).collect();
    agg.event_types = layouts
        .iter()
        .filter(|l| needed.iter().all(|n| l.field(n).is_some()))
        .map(|l| l.event_type.clone())
        .collect();
    if agg.event_types.len() == layouts.len() {
        agg.event_types.clear();
    }
    EnginePlan {
        layouts: layouts.to_vec(),
        aggregations: vec![agg],
        options: EngineOptions {
            idle_timeout_ms: Some(30_000),
            max_future_skew_ms: Some(3_600_000),
            early_emit_interval_ms: None,
            emit_state: false,
            max_groups: None,
        },
    }
}

fn minutes(m: u64) -> HumanDuration {
    HumanDuration::from_millis(m * 60_000)
}

/// Case (a): tumbling 1 minute count by `device_type`, `event_type`.
pub fn case_tumbling_count(layouts: &[RecordLayout]) -> EnginePlan {
    let mut a = AggregationPlan::new(
        "events_per_minute",
        AggregateKind::Count,
        None,
        WindowSpec::Tumbling { size: minutes(1) },
    );
    a.group_by = vec!["device_type".to_string(), "event_type".to_string()];
    a.watermark_delay = HumanDuration::from_millis(5_000);
    plan(layouts, a)
}

/// Case (b): sliding 5 minutes every minute `sum(amount)` by `country`.
pub fn case_sliding_sum(layouts: &[RecordLayout]) -> EnginePlan {
    let mut a = AggregationPlan::new(
        "revenue_by_country",
        AggregateKind::Sum,
        Some("amount"),
        WindowSpec::Sliding {
            size: minutes(5),
            slide: minutes(1),
        },
    );
    a.group_by = vec!["country".to_string()];
    a.watermark_delay = HumanDuration::from_millis(5_000);
    plan(layouts, a)
}

/// Case (c): tumbling 1 minute `approx_count_distinct(user_id)` by `platform`.
pub fn case_approx_distinct(layouts: &[RecordLayout]) -> EnginePlan {
    let mut a = AggregationPlan::new(
        "unique_users",
        AggregateKind::ApproxCountDistinct,
        Some("user_id"),
        WindowSpec::Tumbling { size: minutes(1) },
    );
    a.group_by = vec!["platform".to_string()];
    a.watermark_delay = HumanDuration::from_millis(5_000);
    plan(layouts, a)
}

/// The three standard cases with their names.
pub fn standard_cases(layouts: &[RecordLayout]) -> Vec<(&'static str, EnginePlan)> {
    vec![
        (
            "tumbling_count_by_device_event_type",
            case_tumbling_count(layouts),
        ),
        ("sliding_sum_amount_by_country", case_sliding_sum(layouts)),
        (
            "tumbling_approx_distinct_users_by_platform",
            case_approx_distinct(layouts),
        ),
    ]
}

/// Figures for one case.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaseReport {
    /// Case name.
    pub name: String,
    /// Records per run.
    pub events: u64,
    /// Decode-only rate (events per second).
    pub decode_events_per_sec: f64,
    /// Full engine rate (events per second).
    pub events_per_sec: f64,
    /// `events_per_sec / decode_events_per_sec`.
    pub ratio_to_decode: f64,
    /// Results emitted per run.
    pub results: u64,
    /// State held after the last batch, before `finish`.
    pub state_bytes: u64,
    /// (window, group) states held after the last batch.
    pub open_groups: u64,
    /// `state_bytes / open_groups`: measured memory per open group.
    pub bytes_per_group: f64,
}

/// The full benchmark report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchReport {
    /// Records in the input.
    pub records: u64,
    /// Mean record size in bytes.
    pub mean_record_bytes: f64,
    /// Runs per measurement (best counts).
    pub rounds: u32,
    /// One entry per case.
    pub cases: Vec<CaseReport>,
}

/// Best-of-`rounds` decode-only rate of `plan`'s decoders over `batches`.
pub fn measure_decode(
    plan: &EnginePlan,
    batches: &[RawBatch],
    rounds: u32,
) -> Result<f64, PlanError> {
    let mut e = Engine::new(plan.clone())?;
    let events: usize = batches.iter().map(RawBatch::len).sum();
    let mut best = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        let t0 = Instant::now();
        let mut ok = 0;
        for b in batches {
            ok += std::hint::black_box(e.decode_only(b)).0;
        }
        std::hint::black_box(ok);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(events as f64 / best.max(1e-9))
}

/// Best-of-`rounds` full engine rate of `plan` over `batches`: a fresh
/// engine per run processes every batch and finishes. Returns (rate,
/// results, state bytes and open groups before finish).
pub fn measure_engine(
    plan: &EnginePlan,
    batches: &[RawBatch],
    rounds: u32,
) -> Result<(f64, u64, u64, u64), PlanError> {
    let events: usize = batches.iter().map(RawBatch::len).sum();
    let mut best = f64::INFINITY;
    let mut stats = (0, 0, 0);
    let mut out = Output::new();
    for _ in 0..rounds.max(1) {
        let mut e = Engine::new(plan.clone())?;
        out.clear();
        let t0 = Instant::now();
        for b in batches {
            e.process(b, &mut out);
        }
        let m = e.metrics();
        e.finish(&mut out);
        best = best.min(t0.elapsed().as_secs_f64());
        stats = (out.results.len() as u64, m.state_bytes, m.open_groups);
    }
    Ok((events as f64 / best.max(1e-9), stats.0, stats.1, stats.2))
}

/// Runs every standard case over `n` fixture records.
pub fn run(n: usize, seed: u64, rounds: u32) -> Result<BenchReport, PlanError> {
    let (layouts, batches) = ecommerce_fixture(n, seed);
    run_on(&layouts, &batches, rounds)
}

/// Runs every standard case over given batches (e.g. from the generator).
pub fn run_on(
    layouts: &[RecordLayout],
    batches: &[RawBatch],
    rounds: u32,
) -> Result<BenchReport, PlanError> {
    let cases: Vec<(String, EnginePlan)> = standard_cases(layouts)
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    run_cases(&cases, batches, rounds)
}

/// Runs named plans over given batches: per case, alternating decode-only
/// and engine runs so both see the same machine conditions (the best of
/// each counts).
pub fn run_cases(
    cases: &[(String, EnginePlan)],
    batches: &[RawBatch],
    rounds: u32,
) -> Result<BenchReport, PlanError> {
    let events: usize = batches.iter().map(RawBatch::len).sum();
    let bytes: usize = batches.iter().map(|b| b.data.len()).sum();
    let mut reports = Vec::new();
    for (name, plan) in cases {
        let mut decode: f64 = 0.0;
        let mut best = (0.0f64, 0, 0, 0);
        for _ in 0..rounds.max(1) {
            decode = decode.max(measure_decode(plan, batches, 1)?);
            let r = measure_engine(plan, batches, 1)?;
            if r.0 > best.0 {
                best = r;
            }
        }
        let (rate, results, state_bytes, open_groups) = best;
        reports.push(CaseReport {
            name: name.clone(),
            events: events as u64,
            decode_events_per_sec: decode,
            events_per_sec: rate,
            ratio_to_decode: rate / decode,
            results,
            state_bytes,
            open_groups,
            bytes_per_group: state_bytes as f64 / open_groups.max(1) as f64,
        });
    }
    Ok(BenchReport {
        records: events as u64,
        mean_record_bytes: bytes as f64 / events.max(1) as f64,
        rounds,
        cases: reports,
    })
}
