//! Edge cases of windows, watermarks, lateness and emission, each checked
//! against hand-computed expectations and against the reference model.

mod common;

use common::*;
use sluice_core::{AggregateKind as K, CompareOp, EventTime, Literal, WindowSpec};
use sluice_engine::reference::Op;
use sluice_engine::{AggValue, Engine, EngineOptions, KeyValue, LateReason, Output};

fn counts(out: &Output) -> Vec<(i64, i64, u64, u32)> {
    out.results
        .iter()
        .map(|r| {
            let AggValue::Count(c) = r.value else {
                panic!("not a count: {:?}", r.value)
            };
            (r.window_start.0, r.window_end.0, c, r.revision)
        })
        .collect()
}

#[test]
fn boundary_events_belong_to_the_next_window() {
    let p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    let evs: Vec<Ev> = [0, 999, 1000, 1999, 2000]
        .iter()
        .map(|&t| Ev::at(t))
        .collect();
    let out = check(&p, &ops(&evs, &[]));
    assert_eq!(
        counts(&out),
        vec![(0, 1000, 2, 0), (1000, 2000, 2, 0), (2000, 3000, 1, 0)]
    );
}

#[test]
fn window_is_emitted_when_watermark_reaches_its_end() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.watermark_delay = ms(200);
    let mut e = Engine::new(plan(vec![a])).unwrap();
    let mut out = Output::new();
    e.process(&batches(&[Ev::at(100), Ev::at(1199)], &[])[0], &mut out);
    assert!(out.results.is_empty(), "watermark 999 < 1000");
    e.process(&batches(&[Ev::at(1200)], &[])[0], &mut out);
    assert_eq!(counts(&out), vec![(0, 1000, 1, 0)]);
    assert_eq!(e.watermark(0), Some(EventTime(1000)));
}

#[test]
fn empty_windows_and_huge_gaps_emit_nothing_in_between() {
    let p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    let evs = vec![
        Ev::at(10),
        Ev::at(86_400_000 * 365),
        Ev::at(86_400_000 * 365 + 5),
    ];
    let out = check(&p, &ops(&evs, &[]));
    let y = 86_400_000 * 365;
    assert_eq!(counts(&out), vec![(0, 1000, 1, 0), (y, y + 1000, 2, 0)]);
}

#[test]
fn late_within_lateness_re_emits_with_next_revision() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.allowed_lateness = ms(5000);
    let evs = vec![Ev::at(100), Ev::at(1500), Ev::at(200), Ev::at(300)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(
        counts(&out),
        vec![
            (0, 1000, 1, 0),
            (0, 1000, 2, 1),
            (0, 1000, 3, 2),
            (1000, 2000, 1, 0)
        ]
    );
    assert!(out.late.is_empty());
}

#[test]
fn late_beyond_lateness_goes_to_late_output_once_per_aggregation() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.allowed_lateness = ms(500);
    let mut b = agg(
        K::Sum,
        Some("n"),
        WindowSpec::Sliding {
            size: ms(2000),
            slide: ms(1000),
        },
    );
    b.allowed_lateness = ms(500);
    let evs = vec![Ev::at(100), Ev::at(3000), Ev::at(200)];
    let out = check(&plan(vec![a, b]), &ops(&evs, &[]));
    let late: Vec<_> = out
        .late
        .iter()
        .map(|l| (l.aggregation, l.offset, l.reason.clone()))
        .collect();
    assert_eq!(
        late,
        vec![
            (
                Some(0),
                2,
                LateReason::BeyondAllowedLateness {
                    watermark: EventTime(3000)
                }
            ),
            (
                Some(1),
                2,
                LateReason::BeyondAllowedLateness {
                    watermark: EventTime(3000)
                }
            ),
        ]
    );
    // Nothing was silently dropped: bytes are kept for the late sink.
    assert!(!out.late[0].bytes.is_empty());
}

#[test]
fn sliding_partially_late_event_updates_open_windows_only() {
    let mut a = agg(
        K::Count,
        None,
        WindowSpec::Sliding {
            size: ms(3000),
            slide: ms(1000),
        },
    );
    a.allowed_lateness = ms(0);
    // Watermark reaches 2000: window [-1000,2000) closed; [0,3000), [1000,4000) open.
    let evs = vec![Ev::at(2000), Ev::at(1500)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert!(out.late.is_empty());
    assert_eq!(
        counts(&out),
        vec![(0, 3000, 2, 0), (1000, 4000, 2, 0), (2000, 5000, 1, 0)]
    );
}

#[test]
fn sliding_with_slide_equal_to_size_is_tumbling() {
    let evs: Vec<Ev> = (0..50).map(|i| Ev::at(i * 137)).collect();
    let s = check(
        &plan(vec![agg(
            K::Count,
            None,
            WindowSpec::Sliding {
                size: ms(1000),
                slide: ms(1000),
            },
        )]),
        &ops(&evs, &[]),
    );
    let t = check(
        &plan(vec![agg(K::Count, None, tumbling(1000))]),
        &ops(&evs, &[]),
    );
    assert_eq!(counts(&s), counts(&t));
}

#[test]
fn cumulative_windows_grow_within_the_period() {
    let a = agg(
        K::Count,
        None,
        WindowSpec::Cumulative {
            step: ms(1000),
            max_size: ms(3000),
        },
    );
    let evs = vec![Ev::at(500), Ev::at(1500), Ev::at(2500), Ev::at(3100)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(
        counts(&out),
        vec![
            (0, 1000, 1, 0),
            (0, 2000, 2, 0),
            (0, 3000, 3, 0),
            (3000, 4000, 1, 0),
            (3000, 5000, 1, 0),
            (3000, 6000, 1, 0)
        ]
    );
}

#[test]
fn sessions_merge_when_an_event_bridges_them() {
    let mut a = agg(K::Count, None, WindowSpec::Session { gap: ms(1000) });
    a.watermark_delay = ms(5000);
    // Two sessions [0,1000) and [1500,2500) are bridged by 900 -> [0,2500).
    let evs = vec![Ev::at(0), Ev::at(1500), Ev::at(900), Ev::at(10_000)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(counts(&out), vec![(0, 2500, 3, 0), (10_000, 11_000, 1, 0)]);
}

#[test]
fn sessions_gap_exactly_starts_a_new_session() {
    let a = agg(K::Count, None, WindowSpec::Session { gap: ms(1000) });
    let evs = vec![Ev::at(0), Ev::at(1000)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(counts(&out), vec![(0, 1000, 1, 0), (1000, 2000, 1, 0)]);
}

#[test]
fn late_session_update_grows_and_re_emits() {
    let mut a = agg(K::Count, None, WindowSpec::Session { gap: ms(1000) });
    a.allowed_lateness = ms(10_000);
    let evs = vec![Ev::at(0), Ev::at(5000), Ev::at(800)];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(
        counts(&out),
        vec![(0, 1000, 1, 0), (0, 1800, 2, 1), (5000, 6000, 1, 0)]
    );
}

#[test]
fn sessions_are_per_key() {
    let mut a = agg(K::Count, None, WindowSpec::Session { gap: ms(1000) });
    a.group_by = vec!["user".into()];
    let mut e1 = Ev::at(0);
    e1.user = 1;
    let mut e2 = Ev::at(500);
    e2.user = 2;
    let mut e3 = Ev::at(900);
    e3.user = 1;
    let out = check(&plan(vec![a]), &ops(&[e1, e2, e3], &[]));
    let got: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.window_start.0, r.window_end.0, r.key.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (500, 1500, vec![KeyValue::Str("u2".into())]),
            (0, 1900, vec![KeyValue::Str("u1".into())]),
        ]
    );
}

#[test]
fn duplicates_are_counted_twice() {
    let p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    let b = batches(&[Ev::at(5)], &[]).remove(0);
    let mut e = Engine::new(p).unwrap();
    let mut out = Output::new();
    e.process(&b, &mut out);
    e.process(&b, &mut out);
    e.finish(&mut out);
    assert_eq!(counts(&out), vec![(0, 1000, 2, 0)]);
}

#[test]
fn slowest_partition_holds_the_watermark_until_idle() {
    let mut p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    p.options = EngineOptions {
        idle_timeout_ms: Some(1000),
        ..EngineOptions::default()
    };
    let mut e = Engine::new(p.clone()).unwrap();
    let mut out = Output::new();
    let mut a = Ev::at(100);
    a.partition = 0;
    let mut b = Ev::at(5000);
    b.partition = 1;
    for batch in batches(&[a.clone(), b.clone()], &[]) {
        e.process(&batch, &mut out);
    }
    assert!(
        out.results.is_empty(),
        "partition 0 holds the watermark at 100"
    );
    e.advance_processing_time(500, &mut out);
    assert!(out.results.is_empty(), "not idle yet");
    e.advance_processing_time(1000, &mut out);
    assert_eq!(
        counts(&out),
        vec![(0, 1000, 1, 0)],
        "both idle: frontier is the largest max"
    );

    // Same with the reference, through Op::ProcessingTime.
    let mut o = ops(&[a, b], &[]);
    o.push(Op::ProcessingTime(1000));
    check(&p, &o);
}

#[test]
fn one_idle_partition_is_excluded() {
    let mut p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    p.options.idle_timeout_ms = Some(1000);
    let ev = |part: u32, t: i64| {
        let mut e = Ev::at(t);
        e.partition = part;
        e
    };
    let mut e = Engine::new(p).unwrap();
    let mut out = Output::new();
    e.process(&batches(&[ev(0, 100)], &[])[0], &mut out);
    e.process(&batches(&[ev(1, 200)], &[])[0], &mut out);
    e.advance_processing_time(800, &mut out);
    e.process(&batches(&[ev(1, 2500)], &[])[0], &mut out);
    assert!(out.results.is_empty());
    e.advance_processing_time(1500, &mut out);
    // Partition 0 silent since 0: idle; partition 1 active since 800 with max 2500.
    assert_eq!(
        counts(&out),
        vec![(0, 1000, 2, 0), (1000, 2000, 0, 0)][..1].to_vec()
    );
    assert_eq!(e.partition_watermark(0), Some(sluice_core::Watermark::Idle));
}

#[test]
fn clock_jump_outliers_do_not_advance_the_watermark() {
    let mut p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    p.options.max_future_skew_ms = Some(60_000);
    let evs = vec![Ev::at(100), Ev::at(10_000_000), Ev::at(200), Ev::at(30_000)];
    let out = check(&p, &ops(&evs, &[]));
    assert_eq!(out.late.len(), 1);
    assert_eq!(out.late[0].aggregation, None);
    assert_eq!(
        out.late[0].reason,
        // judged against the lower median of the first three records
        LateReason::TooFarInFuture {
            max_seen: EventTime(200)
        }
    );
    assert_eq!(counts(&out), vec![(0, 1000, 2, 0), (30_000, 31_000, 1, 0)]);
}

fn on(partition: u32, t: i64) -> Ev {
    Ev {
        partition,
        ..Ev::at(t)
    }
}

const YEAR_2100: i64 = 4_102_444_800_000;

/// Good events a second apart from 1 000 s, on `partitions` partitions in
/// turn, with `outlier` inserted at `at`.
fn stream_with_outlier(partitions: u32, outlier: Ev, at: usize) -> Vec<Ev> {
    let mut evs: Vec<Ev> = (0..40)
        .map(|i| on(i as u32 % partitions, 1_000_000 + i * 1000))
        .collect();
    evs.insert(at, outlier);
    evs
}

#[test]
fn a_far_future_record_is_an_outlier_wherever_it_sits() {
    let mut a = agg(K::Count, None, tumbling(10_000));
    a.watermark_delay = ms(2_000);
    let mut p = plan(vec![a]);
    p.options.max_future_skew_ms = Some(3_600_000);
    let clean = check(&p, &ops(&stream_with_outlier(1, on(0, 1_000_500), 0), &[]));
    assert!(clean.late.is_empty());
    for partitions in [1, 3] {
        for at in [0, 1, 2, 3, 20, 40] {
            for part in 0..partitions {
                let evs = stream_with_outlier(partitions, on(part, YEAR_2100), at);
                for cuts in [vec![], vec![1, 2, 5]] {
                    let out = check(&p, &ops(&evs, &cuts));
                    let what = format!("{partitions} partitions, outlier at {at} on {part}");
                    assert_eq!(out.late.len(), 1, "{what}: {:?}", out.late);
                    assert_eq!(out.late[0].aggregation, None, "{what}");
                    assert_eq!(out.late[0].event_time, EventTime(YEAR_2100), "{what}");
                    // the other 40 events are counted, in the same windows
                    let total: u64 = counts(&out).iter().map(|c| c.2).sum();
                    assert_eq!(total, 40, "{what}");
                    assert_eq!(counts(&out).len(), 4, "{what}");
                }
            }
        }
    }
}

#[test]
fn a_far_future_first_record_does_not_hold_results_back_at_the_end() {
    // a partition with fewer records than the probation is judged when the
    // input ends (and when it has been silent for the idle timeout)
    let mut p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    p.options.max_future_skew_ms = Some(60_000);
    let out = check(&p, &ops(&[on(0, YEAR_2100), on(0, 500)], &[]));
    assert_eq!(out.late.len(), 1);
    assert_eq!(counts(&out), vec![(0, 1000, 1, 0)]);
    p.options.idle_timeout_ms = Some(1_000);
    let mut e = Engine::new(p.clone()).unwrap();
    let mut out = Output::new();
    e.advance_processing_time(10_000, &mut out);
    e.process(&batches(&[on(0, 500)], &[])[0], &mut out);
    assert!(out.results.is_empty() && out.late.is_empty(), "held");
    assert_eq!(
        e.retained_from(),
        Some(i64::MIN),
        "held records pin offsets"
    );
    e.advance_processing_time(11_000, &mut out);
    assert_eq!(
        e.max_event_time(),
        Some(500),
        "released after the idle timeout"
    );
}

#[test]
fn a_record_far_behind_its_own_partition_is_late_whatever_the_others_read() {
    // partition 1 lags (as when a backlog is read partition by partition):
    // the combined watermark stays low, but partition 0's own progress says
    // its record at 3 000 is late, as it would be read from a file or live
    let p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    let mut evs: Vec<Ev> = vec![on(0, 1000), on(1, 1000)];
    evs.extend((2..=10).map(|i| on(0, i * 1000)));
    evs.push(on(0, 3000));
    evs.push(on(0, 10_500));
    let out = check(&p, &ops(&evs, &[]));
    assert_eq!(out.late.len(), 1, "{:?}", out.late);
    assert_eq!(out.late[0].event_time, EventTime(3000));
    assert_eq!(
        out.late[0].reason,
        LateReason::BeyondAllowedLateness {
            watermark: EventTime(10_000)
        }
    );
    // the same records with partition 1 read first give the same verdict
    let mut reordered = vec![on(1, 1000)];
    reordered.extend(evs.iter().filter(|e| e.partition == 0).cloned());
    let out2 = check(&p, &ops(&reordered, &[]));
    assert_eq!(out2.late.len(), 1);
    assert_eq!(out2.late[0].event_time, EventTime(3000));
    assert_eq!(
        counts(&out).iter().map(|c| c.2).sum::<u64>(),
        counts(&out2).iter().map(|c| c.2).sum::<u64>()
    );
}

#[test]
fn backward_clock_jump_is_late() {
    let evs = vec![Ev::at(100_000), Ev::at(50)];
    let out = check(
        &plan(vec![agg(K::Count, None, tumbling(1000))]),
        &ops(&evs, &[]),
    );
    assert_eq!(out.late.len(), 1);
    assert_eq!(counts(&out), vec![(100_000, 101_000, 1, 0)]);
}

#[test]
fn batch_boundaries_do_not_matter() {
    let mut a = agg(
        K::Sum,
        Some("amt"),
        WindowSpec::Sliding {
            size: ms(3000),
            slide: ms(1000),
        },
    );
    a.allowed_lateness = ms(1000);
    a.group_by = vec!["cat".into()];
    let evs: Vec<Ev> = (0..200)
        .map(|i| {
            let mut e = Ev::at(i * 97 - (i % 7) * 400);
            e.cat = (i % 3) as u8;
            e.amt = i * 11;
            e
        })
        .collect();
    let p = plan(vec![a]);
    let whole = check(&p, &ops(&evs, &[]));
    let cuts: Vec<usize> = (0..200).filter(|i| i % 13 == 0 || i % 7 == 3).collect();
    let split = check(&p, &ops(&evs, &cuts));
    assert_eq!(whole, split);
    let singles: Vec<usize> = (0..200).collect();
    assert_eq!(whole, check(&p, &ops(&evs, &singles)));
}

#[test]
fn filters_money_enum_and_null() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.filter = vec![
        pred("amt", CompareOp::Ge, Literal::Decimal("1.50".into())),
        pred(
            "cat",
            CompareOp::In,
            Literal::List(vec![Literal::Str("a".into()), Literal::Str("c".into())]),
        ),
        pred("dim", CompareOp::Ne, Literal::Str("d9".into())),
    ];
    let mk = |amt: i64, cat: u8, dim: Option<u8>| {
        let mut e = Ev::at(10);
        e.amt = amt;
        e.cat = cat;
        e.dim = dim;
        e
    };
    let evs = vec![
        mk(150, 0, Some(1)), // passes
        mk(149, 0, Some(1)), // amount too small
        mk(150, 1, Some(1)), // cat b
        mk(150, 2, None),    // null dim fails `ne`
        mk(200, 2, Some(2)), // passes
    ];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    assert_eq!(counts(&out), vec![(0, 1000, 2, 0)]);
}

#[test]
fn decimal_and_long_money_sum_exactly() {
    let mut a = agg(K::Sum, Some("amt"), tumbling(1000));
    a.group_by = vec!["event_type".into()];
    let mut evs = Vec::new();
    for (i, amt) in [1i64, -129, 1 << 40, 99_999_999].iter().enumerate() {
        let mut e = Ev::at(i as i64);
        e.amt = *amt;
        e.et = (i % 2) as u32;
        evs.push(e);
    }
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    let got: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                vec![KeyValue::Str("buy".into())],
                AggValue::Int(-129 + 99_999_999)
            ),
            (
                vec![KeyValue::Str("click".into())],
                AggValue::Int(1 + (1 << 40))
            ),
        ]
    );
}

#[test]
fn group_by_null_bool_enum_and_several_fields() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.group_by = vec!["dim".into(), "flag".into(), "cat".into()];
    let mk = |dim: Option<u8>, flag: bool, cat: u8| {
        let mut e = Ev::at(1);
        e.dim = dim;
        e.flag = flag;
        e.cat = cat;
        e
    };
    let evs = vec![
        mk(None, true, 1),
        mk(Some(1), false, 0),
        mk(None, true, 1),
        mk(None, false, 1),
    ];
    let out = check(&plan(vec![a]), &ops(&evs, &[]));
    let got: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    use KeyValue::*;
    assert_eq!(
        got,
        vec![
            (vec![Null, Bool(false), Str("b".into())], AggValue::Count(1)),
            (vec![Null, Bool(true), Str("b".into())], AggValue::Count(2)),
            (
                vec![Str("d1".into()), Bool(false), Str("a".into())],
                AggValue::Count(1)
            ),
        ]
    );
}

#[test]
fn every_aggregate_kind_matches_the_reference() {
    let w = || tumbling(2000);
    let mut pct = agg(K::Percentile, Some("x"), w());
    pct.quantiles = vec![0.0, 0.5, 0.99];
    let aggs = vec![
        agg(K::Count, Some("dim"), w()),
        agg(K::Sum, Some("x"), w()),
        agg(K::Avg, Some("n"), w()),
        agg(K::Min, Some("amt"), w()),
        agg(K::Max, Some("x"), w()),
        agg(K::CountDistinct, Some("user"), w()),
        agg(K::ApproxCountDistinct, Some("cat"), w()),
        pct,
    ];
    let evs: Vec<Ev> = (0..300)
        .map(|i| {
            let mut e = Ev::at(i * 31);
            e.user = (i % 17) as u8;
            e.cat = (i % 3) as u8;
            e.x = (i % 23) as i32 - 11;
            e.n = (i % 5) as i32;
            e.amt = i * 3 - 50;
            e.dim = if i % 4 == 0 {
                None
            } else {
                Some((i % 4) as u8)
            };
            e
        })
        .collect();
    let out = check(&plan(aggs), &ops(&evs, &[]));
    assert_eq!(out.results.len(), 8 * 5);
    let first = |agg: usize| {
        out.results
            .iter()
            .find(|r| r.aggregation == agg)
            .unwrap()
            .value
            .clone()
    };
    // Window [0,2000): events 0..=64 (t = 0..1984).
    assert_eq!(first(0), AggValue::Count(65 - 17)); // dim null for i % 4 == 0 (17 of 65)
    assert_eq!(first(5), AggValue::Count(17));
    assert_eq!(first(6), AggValue::Count(3));
    assert_eq!(first(3), AggValue::Int(-50));
}

#[test]
fn finish_closes_everything_and_frees_state() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.allowed_lateness = ms(60_000);
    let mut e = Engine::new(plan(vec![a])).unwrap();
    let mut out = Output::new();
    for b in batches(&[Ev::at(1), Ev::at(5000)], &[]) {
        e.process(&b, &mut out);
    }
    assert!(e.metrics().open_windows >= 1);
    assert!(e.state_bytes() > 0);
    e.finish(&mut out);
    assert_eq!(counts(&out), vec![(0, 1000, 1, 0), (5000, 6000, 1, 0)]);
    let m = e.metrics();
    assert_eq!((m.open_windows, m.open_groups), (0, 0));
    assert_eq!(m.events_in, 2);
    assert_eq!(m.results, 2);
}

#[test]
fn early_emission_is_provisional() {
    let mut p = plan(vec![agg(K::Count, None, tumbling(10_000))]);
    p.options.early_emit_interval_ms = Some(1000);
    let mut e = Engine::new(p).unwrap();
    let mut out = Output::new();
    e.advance_processing_time(0, &mut out);
    e.process(&batches(&[Ev::at(1), Ev::at(2)], &[])[0], &mut out);
    e.advance_processing_time(500, &mut out);
    assert!(out.results.is_empty());
    e.advance_processing_time(1000, &mut out);
    assert_eq!(out.results.len(), 1);
    assert!(out.results[0].provisional);
    assert_eq!(out.results[0].value, AggValue::Count(2));
    e.advance_processing_time(2000, &mut out);
    assert_eq!(out.results.len(), 1, "unchanged windows are not re-sent");
    e.process(&batches(&[Ev::at(3)], &[])[0], &mut out);
    e.advance_processing_time(3000, &mut out);
    e.finish(&mut out);
    let got: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.value.clone(), r.provisional, r.revision))
        .collect();
    assert_eq!(
        got,
        vec![
            (AggValue::Count(2), true, 0),
            (AggValue::Count(3), true, 0),
            (AggValue::Count(3), false, 0)
        ]
    );
    assert_eq!(e.metrics().provisional, 2);
}

#[test]
fn values_input_matches_avro_input() {
    let p = plan(vec![agg(K::Sum, Some("amt"), tumbling(1000))]);
    let evs: Vec<Ev> = (0..10).map(|i| Ev::at(i * 300)).collect();
    let mut a = Engine::new(p.clone()).unwrap();
    let mut b = Engine::new(p).unwrap();
    let (mut oa, mut ob) = (Output::new(), Output::new());
    let vals: Vec<_> = evs.iter().enumerate().map(|(i, e)| e.values(i)).collect();
    a.process_values(CLICK, 0, 0, &vals, &mut oa).unwrap();
    for bt in batches(&evs, &[]) {
        b.process(&bt, &mut ob);
    }
    a.finish(&mut oa);
    b.finish(&mut ob);
    assert_eq!(oa, ob);
}

#[test]
fn provisional_results_equal_final_ones_when_nothing_changes() {
    for w in [
        tumbling(1000),
        WindowSpec::Sliding {
            size: ms(3000),
            slide: ms(1000),
        },
        WindowSpec::Sliding {
            size: ms(2500),
            slide: ms(1000),
        },
        WindowSpec::Session { gap: ms(700) },
        WindowSpec::Cumulative {
            step: ms(1000),
            max_size: ms(3000),
        },
    ] {
        let mut a = agg(K::Sum, Some("n"), w);
        a.group_by = vec!["cat".into()];
        let mut p = plan(vec![a]);
        p.options.early_emit_interval_ms = Some(100);
        let mut e = Engine::new(p).unwrap();
        let mut out = Output::new();
        e.advance_processing_time(0, &mut out);
        let evs: Vec<Ev> = (0..40)
            .map(|i| {
                let mut ev = Ev::at(i * 173);
                ev.cat = (i % 3) as u8;
                ev.n = i as i32;
                ev
            })
            .collect();
        for b in batches(&evs, &[]) {
            e.process(&b, &mut out);
        }
        let finals_before = out.results.len();
        e.advance_processing_time(100, &mut out);
        let provisional: Vec<_> = out.results[finals_before..].to_vec();
        assert!(!provisional.is_empty(), "{w:?}");
        assert!(provisional.iter().all(|r| r.provisional));
        e.advance_processing_time(200, &mut out);
        assert_eq!(
            out.results.len(),
            finals_before + provisional.len(),
            "nothing changed: no new provisional results"
        );
        e.finish(&mut out);
        for p in &provisional {
            let fin = out
                .results
                .iter()
                .find(|r| {
                    !r.provisional
                        && r.window_start == p.window_start
                        && r.window_end == p.window_end
                        && r.key == p.key
                })
                .unwrap_or_else(|| panic!("{w:?}: no final result for {p:?}"));
            assert_eq!(fin.value, p.value, "{w:?}");
            assert_eq!(fin.revision, p.revision, "{w:?}");
        }
    }
}

#[test]
fn a_batch_before_the_first_processing_time_does_not_make_its_partition_idle() {
    // Regression: a partition declared at wall time T whose first batch came
    // before any `advance_processing_time` was stamped active at time 0, so
    // the first advance found it silent for T ms and marked it idle; the
    // other partitions then moved the watermark past its events.
    let mut p = plan(vec![agg(K::Count, None, tumbling(1000))]);
    p.options.idle_timeout_ms = Some(30_000);
    let mut e = Engine::new(p).unwrap();
    let mut out = Output::new();
    let now = 1_800_000_000_000;
    e.declare_partitions(&[0, 1], now);
    let mut slow = Ev::at(100);
    slow.partition = 0;
    for batch in batches(&[slow], &[]) {
        e.process(&batch, &mut out);
    }
    e.advance_processing_time(now + 10, &mut out);
    let mut fast = Ev::at(60_000);
    fast.partition = 1;
    for batch in batches(&[fast], &[]) {
        e.process(&batch, &mut out);
    }
    assert!(
        out.results.is_empty(),
        "partition 0 (at 100) still holds the watermark: {:?}",
        out.results
    );
    let mut straggler = Ev::at(900);
    straggler.partition = 0;
    for batch in batches(&[straggler], &[]) {
        e.process(&batch, &mut out);
    }
    assert!(out.late.is_empty(), "nothing is late: {:?}", out.late);
}

#[test]
fn an_aggregation_at_its_group_limit_refuses_new_groups_and_counts_them() {
    let mut a = agg(K::Count, None, tumbling(1000));
    a.group_by = vec!["user".into()];
    let mut p = plan(vec![a]);
    p.options.max_groups = Some(2);
    let ev = |user: u8, t: i64| Ev { user, ..Ev::at(t) };
    let evs = vec![
        ev(0, 100),
        ev(1, 200),
        ev(2, 300),  // a third group while two are open: refused
        ev(0, 400),  // an open group: counted
        ev(3, 1500), // a new window's group while [0, 1000) still holds two: refused
        ev(0, 2500), // [0, 1000) closed and freed its groups: counted
    ];
    let cuts: Vec<usize> = (0..evs.len()).collect();
    let mut e = Engine::new(p).unwrap();
    let mut out = Output::new();
    for b in batches(&evs, &cuts) {
        e.process(&b, &mut out);
    }
    e.finish(&mut out);
    let refused: Vec<(i64, &LateReason)> = out
        .late
        .iter()
        .map(|l| (l.event_time.0, &l.reason))
        .collect();
    let limit = LateReason::StateLimit { limit: 2 };
    assert_eq!(refused, vec![(300, &limit), (1500, &limit)]);
    assert_eq!(e.metrics().over_limit, 2);
    let mut got: Vec<(i64, Vec<KeyValue>, u64)> = out
        .results
        .iter()
        .map(|r| {
            let AggValue::Count(c) = r.value else {
                panic!("count")
            };
            (r.window_start.0, r.key.clone(), c)
        })
        .collect();
    got.sort();
    let u = |n: u8| vec![KeyValue::Str(format!("u{n}"))];
    assert_eq!(got, vec![(0, u(0), 2), (0, u(1), 1), (2000, u(0), 1)]);
}

#[test]
fn group_limits_hold_for_sliding_and_session_windows_too() {
    for window in [
        WindowSpec::Sliding {
            size: ms(2000),
            slide: ms(1000),
        },
        WindowSpec::Session { gap: ms(500) },
    ] {
        let mut a = agg(K::Count, None, window);
        a.group_by = vec!["user".into()];
        let mut p = plan(vec![a]);
        p.options.max_groups = Some(1);
        let ev = |user: u8, t: i64| Ev { user, ..Ev::at(t) };
        let evs = vec![ev(0, 100), ev(1, 200), ev(0, 300)];
        let cuts: Vec<usize> = (0..evs.len()).collect();
        let mut e = Engine::new(p).unwrap();
        let mut out = Output::new();
        for b in batches(&evs, &cuts) {
            e.process(&b, &mut out);
        }
        e.finish(&mut out);
        assert_eq!(out.late.len(), 1, "{window:?}: {:?}", out.late);
        assert_eq!(out.late[0].event_time, EventTime(200));
        assert!(out
            .results
            .iter()
            .all(|r| r.key == vec![KeyValue::Str("u0".into())]));
    }
}
