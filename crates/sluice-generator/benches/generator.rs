//! Throughput of the generator's hot paths on the shipped ecommerce domain:
//! Avro batches for the engine (the 3M events/s floor), the Avro datum
//! writer and JSON lines. One thread; elements are base events.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluice_config::{DomainConfig, LoadOptions};
use sluice_generator::{BatchSet, Format, Generator, GeneratorOptions, Limit};

fn domain(name: &str) -> DomainConfig {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut opts = LoadOptions::new(dir, "dev");
    opts.vars = Default::default();
    let cfg = sluice_config::load(&opts).expect("shipped config loads");
    cfg.domain(name).expect("domain exists").clone()
}

const EVENTS: u64 = 200_000;

fn generator(d: &DomainConfig) -> Generator {
    Generator::new(
        d,
        GeneratorOptions {
            seed: 1,
            limit: Limit {
                events: Some(EVENTS),
                duration_ms: None,
            },
            ..GeneratorOptions::default()
        },
    )
    .expect("valid domain")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    for name in ["ecommerce", "apm"] {
        let d = domain(name);
        group.bench_function(format!("{name}/avro_batches"), |b| {
            b.iter_batched(
                || (generator(&d), BatchSet::default()),
                |(mut g, mut set)| {
                    let mut n = 0;
                    loop {
                        let k = g.fill_batches(4096, &mut set);
                        if k == 0 {
                            break;
                        }
                        n += k;
                    }
                    n
                },
                BatchSize::LargeInput,
            )
        });
    }
    let d = domain("ecommerce");
    for (label, format) in [
        ("avro_writer", Format::Avro),
        ("jsonl_writer", Format::Jsonl),
    ] {
        group.bench_function(format!("ecommerce/{label}"), |b| {
            b.iter_batched(
                || generator(&d),
                |mut g| {
                    g.write_to(format, &mut std::io::sink(), &mut |_| {})
                        .expect("sink never fails")
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
