//! Injected disorder and faults are exactly the counts requested, and they
//! are what they claim to be when the output is inspected.

mod common;

use apache_avro::Schema;
use sluice_generator::faults::{ppb, quota};
use sluice_generator::{
    EncodedBatch, FaultOptions, Format, Generator, GeneratorOptions, Limit, MalformedKind,
};

const N: u64 = 100_000;

fn faults() -> FaultOptions {
    FaultOptions {
        out_of_order: 0.05,
        max_disorder_ms: 5_000,
        late: 0.02,
        lateness_ms: 60_000,
        late_extra_ms: 30_000,
        duplicate: 0.01,
        malformed: 0.03,
        malformed_kinds: Vec::new(),
    }
}

fn gen(domain: &str, n: u64, f: FaultOptions) -> Generator {
    Generator::new(
        &common::domain(domain),
        GeneratorOptions {
            seed: 77,
            limit: Limit {
                events: Some(n),
                duration_ms: None,
            },
            faults: f,
            ..GeneratorOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn batch_faults_are_exact_and_observable() {
    let mut g = gen("ecommerce", N, faults());
    let schemas: Vec<Schema> = g
        .layouts()
        .map(|l| Schema::parse_str(&sluice_schema::record_schema_json(l)).unwrap())
        .collect();
    let mut b = EncodedBatch::default();
    let (mut ooo, mut late, mut dups, mut bad, mut records) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut max: Option<i64> = None;
    let mut prev: Option<Vec<u8>> = None;
    while g.fill_mixed(4096, &mut b) > 0 {
        for i in 0..b.len() {
            records += 1;
            let rec = b.record(i).unwrap();
            if prev.as_deref() == Some(rec) {
                dups += 1;
                prev = None;
                continue;
            }
            prev = Some(rec.to_vec());
            let t = b.event_times[i];
            let mut cur = rec;
            match apache_avro::from_avro_datum(&schemas[b.event_types[i] as usize], &mut cur, None)
            {
                Ok(_) if cur.is_empty() => {}
                _ => bad += 1,
            }
            if let Some(m) = max {
                if t < m {
                    let behind = m - t;
                    if behind > 60_000 {
                        assert!(behind <= 60_000 + 30_000, "late by {behind}");
                        late += 1;
                    } else {
                        assert!(behind <= 5_000, "out of order by {behind}");
                        ooo += 1;
                    }
                }
            }
            max = Some(max.map_or(t, |m| m.max(t)));
        }
    }
    let s = g.summary().clone();
    let want = |r: f64| quota(N, ppb(r));
    assert_eq!(s.base_events, N);
    assert_eq!(s.faults.out_of_order, want(0.05));
    assert_eq!(s.faults.late, want(0.02));
    assert_eq!(s.faults.duplicates, want(0.01));
    assert_eq!(s.faults.malformed(), want(0.03));
    assert_eq!(s.faults.wrong_type, 1_000);
    assert_eq!(s.faults.truncated, 1_000);
    assert_eq!(s.faults.missing_field, 1_000);
    assert_eq!(s.records, N + s.faults.duplicates);
    assert_eq!(records, s.records);
    // Observed in the bytes. The first event cannot be behind anything, so
    // allow it to be the one out-of-order event not observed.
    assert!(ooo == 5_000 || (ooo == 4_999 && late == 2_000), "ooo {ooo}");
    assert_eq!(late, 2_000);
    assert_eq!(dups, 1_000);
    assert_eq!(
        bad, 3_000,
        "every malformed record fails to decode, and only those"
    );
}

#[test]
fn per_type_batches_count_the_same() {
    let mut g = gen("fintech", 12_345, faults());
    let mut set = sluice_generator::BatchSet::default();
    let mut records = 0;
    while g.fill_batches(1000, &mut set) > 0 {
        records += set.records() as u64;
    }
    let s = g.summary();
    assert_eq!(s.base_events, 12_345);
    assert_eq!(s.faults.out_of_order, 12_345 * 5 / 100);
    assert_eq!(s.faults.late, 12_345 * 2 / 100);
    assert_eq!(s.faults.duplicates, 123);
    assert_eq!(s.faults.malformed(), 370);
    assert_eq!(records, 12_345 + 123);
    assert_eq!(s.by_type.iter().map(|(_, n)| n).sum::<u64>(), records);
}

#[test]
fn jsonl_faults_are_exact_and_observable() {
    let f = FaultOptions {
        malformed_kinds: vec![
            MalformedKind::Truncated,
            MalformedKind::MissingField,
            MalformedKind::WrongType,
        ],
        ..faults()
    };
    let mut g = gen("iot", 50_000, f);
    let mut out = Vec::new();
    let s = g.write_to(Format::Jsonl, &mut out, &mut |_| {}).unwrap();
    assert_eq!(s.faults.out_of_order, 2_500);
    assert_eq!(s.faults.late, 1_000);
    assert_eq!(s.faults.duplicates, 500);
    assert_eq!(
        (
            s.faults.truncated,
            s.faults.missing_field,
            s.faults.wrong_type
        ),
        (500, 500, 500)
    );
    let text = String::from_utf8(out).unwrap();
    let (mut unparsable, mut missing, mut wrong) = (0, 0, 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, s.records);
    for l in &lines {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            unparsable += 1;
            continue;
        };
        let ty = v["event_type"].as_str().unwrap();
        let last = if ty == "reading" {
            "device_model"
        } else {
            "severity"
        };
        if v.get(last).is_none() {
            missing += 1;
        }
        let first = if ty == "reading" {
            "temperature_c"
        } else {
            "code"
        };
        if v[first].is_string() {
            wrong += 1;
        }
    }
    assert_eq!((unparsable, missing, wrong), (500, 500, 500));
}

#[test]
fn ocf_refuses_malformed_records() {
    let mut g = gen("apm", 10, faults());
    let err = g
        .write_to(Format::AvroOcf, &mut Vec::new(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("container"), "{err}");
}

#[test]
fn faults_do_not_change_clean_events() {
    // Same seed with and without faults: untouched events are identical.
    let mut clean = gen("apm", 5_000, FaultOptions::default());
    let mut faulty = gen(
        "apm",
        5_000,
        FaultOptions {
            out_of_order: 0.1,
            ..FaultOptions::default()
        },
    );
    let mut same = 0;
    while let (Some(a), Some(b)) = (clean.next_event(), faulty.next_event()) {
        assert_eq!(a.event_id(), b.event_id());
        if a == b {
            same += 1;
        } else {
            assert!(b.event_time() < a.event_time());
        }
    }
    assert_eq!(same, 4_500);
}

#[test]
fn bad_fault_options_are_rejected() {
    let r = Generator::new(
        &common::domain("apm"),
        GeneratorOptions {
            faults: FaultOptions {
                late: 0.7,
                duplicate: 0.7,
                ..FaultOptions::default()
            },
            ..GeneratorOptions::default()
        },
    );
    assert!(r.unwrap_err().to_string().contains("more than 1"));
}
