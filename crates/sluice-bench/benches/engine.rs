//! Criterion benchmarks of the engine on the e-commerce fixture: decode-only
//! and the three standard cases, in events per second.
//!
//! `cargo bench -p sluice-engine` (about 30 s; `SLUICE_BENCH_EVENTS` sets the
//! record count, default 1 000 000).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluice_bench::engine::{ecommerce_fixture, standard_cases};
use sluice_engine::{Engine, Output};

fn engine(c: &mut Criterion) {
    let n: usize = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (layouts, batches) = ecommerce_fixture(n, 42);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for (name, plan) in standard_cases(&layouts) {
        let mut dec = Engine::new(plan.clone()).expect("standard plans are valid");
        g.bench_function(format!("decode_only/{name}"), |b| {
            b.iter(|| {
                let mut ok = 0;
                for batch in &batches {
                    ok += dec.decode_only(batch).0;
                }
                ok
            })
        });
        g.bench_function(format!("process/{name}"), |b| {
            b.iter_batched(
                || {
                    (
                        Engine::new(plan.clone()).expect("standard plans are valid"),
                        Output::new(),
                    )
                },
                |(mut e, mut out)| {
                    for batch in &batches {
                        e.process(batch, &mut out);
                    }
                    e.finish(&mut out);
                    out.results.len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
