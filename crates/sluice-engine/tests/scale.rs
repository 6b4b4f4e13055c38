//! Larger inputs: many group keys (key-table growth, session key
//! compaction), the e-commerce fixture, and approximate aggregates checked
//! against exact ones within their documented error.

mod common;

use common::*;
use sluice_bench::engine::{case_approx_distinct, ecommerce_fixture, standard_cases};
use sluice_core::{AggregateKind as K, WindowSpec};
use sluice_engine::reference::{run_engine, run_reference, Op};
use sluice_engine::{AggValue, Engine, Output};

#[test]
fn many_keys_sessions_and_windows_match_the_reference() {
    let mut s = agg(K::Count, None, WindowSpec::Session { gap: ms(300) });
    s.group_by = vec!["event_id".into()];
    s.allowed_lateness = ms(1000);
    let mut t = agg(K::Sum, Some("n"), tumbling(5000));
    t.group_by = vec!["event_id".into()];
    let evs: Vec<Ev> = (0..4000)
        .map(|i| {
            let mut e = Ev::at(i * 7 - (i % 11) * 40);
            e.n = (i % 9) as i32;
            e
        })
        .collect();
    let out = check(&plan(vec![s, t]), &ops(&evs, &[500, 1000, 2500]));
    assert_eq!(
        out.results.iter().filter(|r| r.aggregation == 0).count(),
        4000 - out.late.iter().filter(|l| l.aggregation == Some(0)).count()
    );
}

#[test]
fn fixture_cases_match_the_reference() {
    let (layouts, batches) = ecommerce_fixture(20_000, 7);
    let ops: Vec<Op> = batches.into_iter().map(Op::Batch).collect();
    for (name, plan) in standard_cases(&layouts) {
        let e = run_engine(&plan, &ops).unwrap();
        let r = run_reference(&plan, &ops).unwrap();
        assert_eq!(e.results, r.results, "{name}");
        assert_eq!(e.late, r.late, "{name}");
        assert!(e.dead_letters.is_empty(), "{name}");
        assert!(!e.results.is_empty(), "{name}");
    }
}

#[test]
fn approx_distinct_is_within_error_of_exact() {
    let (layouts, batches) = ecommerce_fixture(300_000, 3);
    let mut plan = case_approx_distinct(&layouts);
    let mut exact = plan.aggregations[0].clone();
    exact.name = "exact".into();
    exact.kind = K::CountDistinct;
    plan.aggregations.push(exact);
    let mut e = Engine::new(plan).unwrap();
    let mut out = Output::new();
    for b in &batches {
        e.process(b, &mut out);
    }
    e.finish(&mut out);
    let (approx, exact): (Vec<_>, Vec<_>) = out.results.iter().partition(|r| r.aggregation == 0);
    assert_eq!(approx.len(), exact.len());
    let mut worst = 0.0f64;
    for (a, x) in approx.iter().zip(&exact) {
        assert_eq!((a.window_start, &a.key), (x.window_start, &x.key));
        let (AggValue::Count(a), AggValue::Count(x)) = (&a.value, &x.value) else {
            panic!()
        };
        let err = (*a as f64 - *x as f64).abs() / *x as f64;
        worst = worst.max(err);
    }
    // 4 standard errors of HyperLogLog at p = 14.
    assert!(
        worst < 4.0 * sluice_engine::aggregate::hll::STANDARD_ERROR,
        "worst relative error {worst}"
    );
}

#[test]
fn percentiles_are_within_relative_accuracy_of_exact() {
    let mut p = agg(K::Percentile, Some("amt"), tumbling(1_000_000));
    p.quantiles = vec![0.1, 0.5, 0.9, 0.99];
    let evs: Vec<Ev> = (0..5000)
        .map(|i| {
            let mut e = Ev::at(i);
            e.amt = (i * 7919) % 100_003 + 1;
            e
        })
        .collect();
    let out = check(&plan(vec![p]), &ops(&evs, &[]));
    let mut vals: Vec<i64> = evs.iter().map(|e| e.amt).collect();
    vals.sort_unstable();
    let AggValue::Quantiles(qs) = &out.results[0].value else {
        panic!()
    };
    for &(q, got) in qs {
        let exact = vals[(q * (vals.len() - 1) as f64).floor() as usize] as f64;
        assert!(
            (got - exact).abs() <= 0.01 * exact,
            "q={q} exact={exact} got={got}"
        );
    }
}

#[test]
fn a_long_cumulative_period_holds_one_pane_per_step() {
    // cumulative step 1 s, period 600 s (a day of minutes, scaled down):
    // every event falls in up to 600 windows, but its state is one pane;
    // results equal the reference, which assigns every window directly
    let mut c = agg(
        K::Sum,
        Some("amt"),
        WindowSpec::Cumulative {
            step: ms(1000),
            max_size: ms(600_000),
        },
    );
    c.group_by = vec!["cat".into()];
    let evs: Vec<Ev> = (0..3000)
        .map(|i| {
            let mut e = Ev::at(i * 10);
            e.cat = (i % 3) as u8;
            e.amt = i % 97;
            e
        })
        .collect();
    let p = plan(vec![c]);
    let out = check(&p, &ops(&evs, &[700, 1500, 2200]));
    // 30 s of events: windows ending at 1 s .. 30 s fire once the watermark
    // passes them, and the ones up to the period's end at finish
    assert!(!out.results.is_empty());
    let mut e = Engine::new(p).unwrap();
    let mut o = Output::new();
    for b in batches(&evs, &[]) {
        e.process(&b, &mut o);
    }
    let m = e.metrics();
    assert!(
        m.open_groups <= 31 * 3,
        "one pane per step of 3 groups, not one window per end: {} groups held",
        m.open_groups
    );
}
