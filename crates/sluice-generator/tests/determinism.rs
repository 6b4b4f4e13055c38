//! Same seed + configuration + options ⇒ byte-identical output, for every
//! format and the engine batches, with faults on; another seed differs.

mod common;

use sluice_generator::{
    BatchSet, FaultOptions, Format, Generator, GeneratorOptions, Limit, MalformedKind,
};

fn opts(seed: u64) -> GeneratorOptions {
    GeneratorOptions {
        seed,
        limit: Limit {
            events: Some(20_000),
            duration_ms: None,
        },
        faults: FaultOptions {
            out_of_order: 0.05,
            late: 0.01,
            duplicate: 0.01,
            malformed: 0.01,
            malformed_kinds: vec![MalformedKind::WrongType],
            ..FaultOptions::default()
        },
        ..GeneratorOptions::default()
    }
}

fn write(domain: &str, format: Format, seed: u64) -> Vec<u8> {
    let mut o = opts(seed);
    if format == Format::AvroOcf {
        o.faults.malformed = 0.0;
    }
    let mut g = Generator::new(&common::domain(domain), o).unwrap();
    let mut out = Vec::new();
    g.write_to(format, &mut out, &mut |_| {}).unwrap();
    out
}

#[test]
fn every_format_is_byte_identical_for_a_seed() {
    for d in common::DOMAINS {
        for f in [Format::Jsonl, Format::Avro, Format::AvroOcf] {
            let a = write(d, f, 42);
            let b = write(d, f, 42);
            assert!(!a.is_empty());
            assert!(a == b, "{d} {f:?}: two runs differ");
            let c = write(d, f, 43);
            assert!(a != c, "{d} {f:?}: another seed gives the same output");
        }
    }
}

#[test]
fn batches_are_identical_for_a_seed() {
    let run = || {
        let mut g = Generator::new(&common::domain("ecommerce"), opts(7)).unwrap();
        let mut set = BatchSet::default();
        let mut all = Vec::new();
        while g.fill_batches(3000, &mut set) > 0 {
            for b in set.non_empty() {
                all.push((
                    b.event_type,
                    b.data.clone(),
                    b.ends.clone(),
                    b.event_times.clone(),
                ));
            }
        }
        all
    };
    assert_eq!(run(), run());
}

#[test]
fn seed_api_is_deterministic() {
    let run = || {
        let mut g = Generator::new(&common::domain("ecommerce"), opts(3)).unwrap();
        let mut v: Vec<String> = g
            .generate_events("page_view", 100)
            .unwrap()
            .map(|e| e.to_json().to_string())
            .collect();
        v.push(format!("{:?}", g.generate_session()));
        v.push(g.generate_event("purchase").unwrap().to_json().to_string());
        v
    };
    assert_eq!(run(), run());
    let mut g = Generator::new(&common::domain("ecommerce"), opts(3)).unwrap();
    let err = g.generate_event("purchse").unwrap_err().to_string();
    assert!(err.contains("did you mean `purchase`?"), "{err}");
    assert_eq!(
        g.generate_events("add_to_cart", 10)
            .unwrap()
            .filter(|e| e.event_type == "add_to_cart")
            .count(),
        10
    );
}

#[test]
fn duration_limit_stops_in_event_time() {
    let mut g = Generator::new(
        &common::domain("apm"),
        GeneratorOptions {
            seed: 1,
            limit: Limit {
                events: None,
                duration_ms: Some(60_000),
            },
            ..GeneratorOptions::default()
        },
    )
    .unwrap();
    let start = g.start_ms();
    let mut n = 0;
    while let Some(e) = g.next_event() {
        assert!(e.event_time() >= start && e.event_time() < start + 60_000);
        n += 1;
    }
    // ~1400 events/s natural rate for apm.
    assert!(n > 40_000 && n < 140_000, "{n}");
}

#[test]
fn rate_sets_event_time_density() {
    // ecommerce at 5000/s needs more than the slot cap: idle gaps shrink.
    for (d, rate) in [("ecommerce", 5_000.0), ("iot", 2_000.0), ("fintech", 300.0)] {
        let mut g = Generator::new(
            &common::domain(d),
            GeneratorOptions {
                seed: 1,
                rate: Some(rate),
                limit: Limit {
                    events: None,
                    duration_ms: Some(120_000),
                },
                ..GeneratorOptions::default()
            },
        )
        .unwrap();
        let mut n = 0u64;
        while g.next_event().is_some() {
            n += 1;
        }
        let got = n as f64 / 120.0;
        assert!(
            (got / rate - 1.0).abs() < 0.15,
            "{d}: {got} events/s for a target of {rate}"
        );
    }
}

#[test]
fn real_time_paces_to_the_wall_clock() {
    let mut g = Generator::new(
        &common::domain("apm"),
        GeneratorOptions {
            seed: 1,
            time: sluice_generator::TimeMode::RealTime,
            rate: Some(2_000.0),
            limit: Limit {
                events: None,
                duration_ms: Some(400),
            },
            ..GeneratorOptions::default()
        },
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let now = sluice_generator::time::wall_clock_millis();
    assert!((g.start_ms() - now).abs() < 5_000);
    let mut out = Vec::new();
    let s = g.write_to(Format::Jsonl, &mut out, &mut |_| {}).unwrap();
    let el = t0.elapsed().as_millis();
    assert!(el >= 300, "finished in {el} ms: not paced");
    assert!(s.records > 100);
}
