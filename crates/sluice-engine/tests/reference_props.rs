//! Property tests: on random event streams (disorder, lateness, outliers,
//! several partitions, idle periods), random plans (every window type and
//! aggregate kind, filters, group keys, delays, lateness) and random batch
//! splits, the engine's output equals the brute-force reference model
//! exactly, and does not depend on batch boundaries.
//!
//! Case count: `PROPTEST_CASES` (default 128, well under a second in debug).

mod common;

use common::*;
use proptest::prelude::*;
use sluice_core::{AggregateKind as K, CompareOp, Literal, WindowSpec};
use sluice_engine::reference::{run_engine, Op};
use sluice_engine::{AggregationPlan, Engine, EngineOptions, EnginePlan, Output, SnapshotError};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128)
}

fn window() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        (1u64..=8).prop_map(|s| tumbling(s * 500)),
        (1u64..=6, 1u64..=4).prop_map(|(slide, k)| WindowSpec::Sliding {
            size: ms(slide * 500 * k),
            slide: ms(slide * 500)
        }),
        (1u64..=8).prop_map(|g| WindowSpec::Session { gap: ms(g * 400) }),
        (1u64..=4, 1u64..=4).prop_map(|(step, k)| WindowSpec::Cumulative {
            step: ms(step * 500),
            max_size: ms(step * 500 * k)
        }),
    ]
}

fn kind_field() -> impl Strategy<Value = (K, Option<&'static str>)> {
    prop_oneof![
        Just((K::Count, None)),
        Just((K::Count, Some("dim"))),
        prop::sample::select(vec!["n", "x", "amt"]).prop_map(|f| (K::Sum, Some(f))),
        prop::sample::select(vec!["n", "x", "amt"]).prop_map(|f| (K::Avg, Some(f))),
        prop::sample::select(vec!["n", "x", "amt"]).prop_map(|f| (K::Min, Some(f))),
        prop::sample::select(vec!["n", "x", "amt"]).prop_map(|f| (K::Max, Some(f))),
        prop::sample::select(vec!["user", "cat", "dim", "flag", "n", "x"])
            .prop_map(|f| (K::CountDistinct, Some(f))),
        prop::sample::select(vec!["user", "cat", "dim", "amt"])
            .prop_map(|f| (K::ApproxCountDistinct, Some(f))),
        prop::sample::select(vec!["n", "x", "amt"]).prop_map(|f| (K::Percentile, Some(f))),
    ]
}

fn filter() -> impl Strategy<Value = Vec<sluice_core::Predicate>> {
    prop_oneof![
        3 => Just(vec![]),
        1 => (-5i64..5).prop_map(|v| vec![pred("n", CompareOp::Gt, Literal::Int(v))]),
        1 => Just(vec![pred("cat", CompareOp::In, Literal::List(vec![Literal::Str("a".into()), Literal::Str("c".into())]))]),
        1 => (0u32..500).prop_map(|v| vec![pred("amt", CompareOp::Le, Literal::Decimal(format!("{}.{:02}", v / 100, v % 100)))]),
        1 => Just(vec![pred("dim", CompareOp::Ne, Literal::Str("d1".into()))]),
        1 => any::<bool>().prop_map(|b| vec![pred("flag", CompareOp::Eq, Literal::Bool(b))]),
    ]
}

fn aggregation() -> impl Strategy<Value = AggregationPlan> {
    (
        kind_field(),
        window(),
        prop::sample::subsequence(vec!["cat", "dim", "flag", "event_type", "user"], 0..=2),
        filter(),
        (0u64..30).prop_map(|d| d * 100),
        prop_oneof![Just(0u64), (1u64..60).prop_map(|l| l * 100)],
        prop::sample::select(vec![vec![], vec!["click"], vec!["buy"]]),
    )
        .prop_map(
            |((kind, field), window, group_by, filter, delay, lateness, types)| {
                let mut a = agg(kind, field, window);
                a.quantiles = vec![0.0, 0.25, 0.5, 0.9, 1.0];
                a.group_by = group_by.into_iter().map(String::from).collect();
                a.filter = filter;
                a.watermark_delay = ms(delay);
                a.allowed_lateness = ms(lateness);
                a.event_types = types.into_iter().map(String::from).collect();
                a
            },
        )
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    let ev = (
        0u32..3,
        0u32..2,
        -40i64..8,
        prop::bool::weighted(0.02),
        (
            0u8..5,
            0u8..3,
            prop::option::weighted(0.7, 0u8..3),
            any::<bool>(),
        ),
        (-20i32..20, -20i32..20, -1000i64..100_000),
    );
    prop::collection::vec(ev, 0..160).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(
                |(i, (partition, et, jitter, outlier, (user, cat, dim, flag), (n, x, amt)))| Ev {
                    partition,
                    et,
                    t: 1_000_000 + (i as i64 + jitter) * 100 + if outlier { 50_000_000 } else { 0 },
                    user,
                    cat,
                    dim,
                    flag,
                    n,
                    x,
                    amt,
                },
            )
            .collect()
    })
}

/// Ops with processing-time ticks inserted before the given event indexes.
fn with_ticks(events: &[Ev], cuts: &[usize], ticks: &[usize]) -> Vec<Op> {
    let mut all_cuts: Vec<usize> = cuts.iter().chain(ticks).copied().collect();
    all_cuts.sort_unstable();
    let bs = batches(events, &all_cuts);
    let mut ops = Vec::new();
    let mut now = 0;
    for b in bs {
        let first = b.first_offset as usize;
        if ticks.contains(&first) {
            now += 700;
            ops.push(Op::ProcessingTime(now));
        }
        ops.push(Op::Batch(b));
    }
    ops
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_reference(
        evs in events(),
        aggs in prop::collection::vec(aggregation(), 1..=3),
        idle in prop::option::of(prop::sample::select(vec![700i64, 1000, 1400, 2100])),
        skew in prop::option::of(Just(1_000_000i64)),
        cuts_a in prop::collection::vec(0usize..160, 0..20),
        cuts_b in prop::collection::vec(0usize..160, 0..40),
        ticks in prop::collection::vec(0usize..160, 0..10),
    ) {
        let mut p: EnginePlan = plan(aggs);
        p.options = EngineOptions { idle_timeout_ms: idle, max_future_skew_ms: skew, early_emit_interval_ms: None, emit_state: false, max_groups: None };
        let a = with_ticks(&evs, &cuts_a, &ticks);
        let out = check(&p, &a);
        // Another split of the same stream gives the same output.
        let b = with_ticks(&evs, &cuts_b, &ticks);
        prop_assert_eq!(&out, &run_engine(&p, &b).unwrap());
        // Every event is accounted for: aggregated somewhere, late, or filtered.
        prop_assert!(out.dead_letters.is_empty());
    }
}

/// Runs `ops` on `engine`, appending to `out`; `shift` moves every batch's
/// partition id (a restarted source numbers its partitions anew).
fn feed(engine: &mut Engine, ops: &[Op], shift: u32, out: &mut Output) {
    for op in ops {
        match op {
            Op::Batch(b) => {
                let mut b = b.clone();
                b.partition += shift;
                engine.process(&b, out);
            }
            Op::ProcessingTime(t) => engine.advance_processing_time(*t, out),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Checkpoint and restart: processing a stream up to a random point,
    /// snapshotting, restoring into a fresh engine (whose source numbers
    /// the partitions differently) and processing the rest gives exactly
    /// the output of one uninterrupted run.
    #[test]
    fn a_restored_snapshot_continues_exactly(
        evs in events(),
        aggs in prop::collection::vec(aggregation(), 1..=3),
        skew in prop::option::of(Just(1_000_000i64)),
        cuts in prop::collection::vec(0usize..160, 0..20),
        ticks in prop::collection::vec(0usize..160, 0..10),
        at in 0usize..200,
    ) {
        let mut p: EnginePlan = plan(aggs);
        // no idle timeout: idleness is processing-time state a restart
        // deliberately does not carry over (restored partitions start active)
        p.options = EngineOptions { idle_timeout_ms: None, max_future_skew_ms: skew, early_emit_interval_ms: None, emit_state: false, max_groups: None };
        let ops = with_ticks(&evs, &cuts, &ticks);
        let whole = run_engine(&p, &ops).unwrap();

        let mut first = Engine::new(p.clone()).unwrap();
        let mut out = Output::new();
        // the first split point at or after `at` where nothing is on probation
        let mut split = at.min(ops.len());
        feed(&mut first, &ops[..split], 0, &mut out);
        let bytes = loop {
            match first.snapshot(&|id| Some(format!("p{id}"))) {
                Ok(b) => break b,
                // still holding at the end: no snapshot to test
                Err(SnapshotError::Holding) if split == ops.len() => return Ok(()),
                Err(SnapshotError::Holding) => {
                    feed(&mut first, &ops[split..split + 1], 0, &mut out);
                    split += 1;
                }
                Err(e) => panic!("snapshot: {e}"),
            }
        };
        drop(first);
        let mut second = Engine::new(p.clone()).unwrap();
        second.restore(&bytes).unwrap();
        for id in 0..3u32 {
            second.bind_partition(id + 7, &format!("p{id}"));
        }
        let mut rest = Output::new();
        feed(&mut second, &ops[split..], 7, &mut rest);
        second.finish(&mut rest);
        for l in &mut rest.late {
            l.partition -= 7;
        }
        out.results.extend(rest.results);
        out.late.extend(rest.late);
        prop_assert_eq!(&out.results, &whole.results);
        prop_assert_eq!(&out.late, &whole.late);
    }

    /// A damaged or truncated snapshot is refused with an error; it never
    /// panics and never half-restores.
    #[test]
    fn a_damaged_snapshot_is_refused(
        evs in events(),
        aggs in prop::collection::vec(aggregation(), 1..=2),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let p: EnginePlan = plan(aggs);
        let mut e = Engine::new(p.clone()).unwrap();
        let mut out = Output::new();
        feed(&mut e, &with_ticks(&evs, &[], &[]), 0, &mut out);
        let mut bytes = e.snapshot(&|id| Some(format!("p{id}"))).unwrap();
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len()));
        }
        let mut fresh = Engine::new(p).unwrap();
        prop_assert!(fresh.restore(&bytes).is_err());
    }
}

#[test]
fn a_snapshot_of_other_aggregations_is_refused() {
    let a = plan(vec![agg(K::Count, None, tumbling(1000))]);
    let mut b = a.clone();
    b.aggregations[0].window = tumbling(2000);
    let snap = Engine::new(a.clone()).unwrap().snapshot(&|_| None).unwrap();
    let err = Engine::new(b).unwrap().restore(&snap).unwrap_err();
    assert!(matches!(err, SnapshotError::Plan { .. }), "{err}");
    assert!(
        err.to_string().contains("windows or group keys changed"),
        "{err}"
    );
    // delay and lateness do not change the state's shape: accepted
    let mut c = a.clone();
    c.aggregations[0].watermark_delay = ms(5000);
    Engine::new(c).unwrap().restore(&snap).unwrap();
}
