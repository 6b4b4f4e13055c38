//! Kafka → sluice → ClickHouse on real servers (`scripts/services.sh start
//! kafka`, `registry`, `clickhouse`): the final views equal the reference
//! model for every shipped domain, and two instances sharing a consumer
//! group over 6 partitions give exactly the single-instance results.
//!
//! Skips with a message when the services are down, unless
//! `SLUICE_REQUIRE_SERVICES` is set (CI sets it), in which case it fails.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use sluice_config::Config;
use sluice_connectors::sink::clickhouse::{ClickHouseSettings, ClickHouseSink};
use sluice_connectors::source::generator::GeneratorSource;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_kafka::KafkaSettings;
use sluice_runtime::pipeline::{self, PipelineOptions, RunSummary, Stats};
use sluice_runtime::plan::{self, BuiltPlan};

fn config() -> Config {
    shipped_config()
}

fn kafka(cfg: &Config, tag: &str) -> Option<KafkaSettings> {
    kafka_settings(cfg, "ch", tag)
}

/// The domain's plan as shipped (no allowed lateness).
fn build(d: &sluice_config::DomainConfig, cfg: &Config) -> BuiltPlan {
    plan::build(d, &cfg.platform.engine, &[]).unwrap()
}

fn gen(cfg: &Config, name: &str, n: u64) -> Generator {
    Generator::from_config(cfg, name, GeneratorOptions::events(33, n)).unwrap()
}

/// One bounded instance with small batches (several per partition).
fn instance(
    cfg: &Config,
    s: &KafkaSettings,
    ch: &ClickHouseSettings,
    domain: &str,
    group: &str,
    built: &BuiltPlan,
) -> RunSummary {
    let opts = PipelineOptions {
        batch_size: 500,
        ..PipelineOptions::default()
    };
    kafka_to_clickhouse(
        cfg,
        s,
        ch,
        domain,
        group,
        true,
        built.clone(),
        opts,
        Arc::new(Stats::default()),
    )
    .unwrap()
}

#[test]
fn kafka_to_clickhouse_final_views_equal_the_reference_for_every_domain() {
    let cfg = config();
    let Some((ch, client)) = clickhouse("domains") else {
        return;
    };
    let Some(_) = kafka(&cfg, "probe") else {
        return;
    };
    for d in &cfg.domains {
        let name = d.domain.value.clone();
        let s = kafka(&cfg, &name).unwrap();
        let n = 3000;
        produce_generated(
            &cfg,
            &s,
            &name,
            &mut gen(&cfg, &name, n),
            &ProduceOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let built = build(d, &cfg);
        let group = format!("{}-g", s.topic(&name, "g"));
        let summary = instance(&cfg, &s, &ch, &name, &group, &built);
        assert_eq!(summary.records_in, n, "{name}");
        assert_eq!(summary.late, 0, "{name}: no event may be late");
        let batches = drain(Box::new(GeneratorSource::new(gen(&cfg, &name, n), &name)));
        assert_tables_eq(
            &stored_clickhouse(&client, &ch.database, &built),
            &expected_with(&built, &batches, false),
        );
    }
}

#[test]
fn two_instances_in_one_group_equal_one_instance() {
    let cfg = config();
    let Some((ch_one, client)) = clickhouse("one") else {
        return;
    };
    let Some(s) = kafka(&cfg, "two") else {
        return;
    };
    let name = "ecommerce";
    let d = cfg.domain(name).unwrap();
    let n = 40_000;
    produce_generated(
        &cfg,
        &s,
        name,
        &mut gen(&cfg, name, n),
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let built = build(d, &cfg);

    // one instance reading all 6 partitions of every topic
    let one = instance(
        &cfg,
        &s,
        &ch_one,
        name,
        &format!("{}-one", s.topic(name, "g")),
        &built,
    );
    assert_eq!(one.records_in, n);

    // two instances in one group, into another database
    let mut ch_two = ch_one.clone();
    ch_two.database = format!("{}_two", ch_one.database);
    let group = format!("{}-two", s.topic(name, "g"));
    let read = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let (cfg, s, ch, built, group, read) = (&cfg, &s, &ch_two, &built, &group, &read);
            scope.spawn(move || {
                let summary = instance(cfg, s, ch, name, group, built);
                read.lock().unwrap().push(summary.records_in);
            });
        }
    });
    let read = read.lock().unwrap().clone();
    assert!(
        read.iter().sum::<u64>() >= n,
        "the two instances read {read:?} records, fewer than the {n} produced"
    );
    assert!(
        read.iter().all(|r| *r > 0),
        "both instances must share the partitions: {read:?}"
    );
    let single = stored_clickhouse(&client, &ch_one.database, &built);
    let shared = stored_clickhouse(&client, &ch_two.database, &built);
    assert_tables_eq(&shared, &single);
    // and both equal the reference
    let batches = drain(Box::new(GeneratorSource::new(gen(&cfg, name, n), name)));
    assert_tables_eq(&single, &expected_with(&built, &batches, false));
}

#[test]
fn safe_offsets_are_committed_mid_stream_for_short_windows() {
    let cfg = config();
    let Some((ch, _client)) = clickhouse("commits") else {
        return;
    };
    let Some(s) = kafka(&cfg, "commits") else {
        return;
    };
    let name = "ecommerce";
    let n = 60_000;
    produce_generated(
        &cfg,
        &s,
        name,
        &mut gen(&cfg, name, n),
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let d = cfg.domain(name).unwrap();
    // one-minute tumbling windows only: offsets become safe as windows close
    let built = plan::build(d, &cfg.platform.engine, &["events_per_minute".to_string()]).unwrap();
    let src = KafkaSource::from_config(
        &cfg,
        &s,
        name,
        SourceOptions {
            group_id: Some(format!("{}-c", s.topic(name, "g"))),
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let mid = Arc::new(Mutex::new(Vec::<i64>::new()));
    let m2 = mid.clone();
    let opts = PipelineOptions {
        batch_size: 500,
        trigger_interval: Duration::from_millis(50),
        sharded: true,
        on_durable: Some(Arc::new(
            move |pos: &[sluice_connectors::CommitPosition]| {
                m2.lock()
                    .unwrap()
                    .push(pos.iter().map(|p| p.next_offset).sum());
                Ok(())
            },
        )),
        ..PipelineOptions::default()
    };
    pipeline::run(
        built,
        Box::new(src),
        Box::new(ClickHouseSink::connect(ch).unwrap()),
        opts,
        Arc::new(Stats::default()),
    )
    .unwrap();
    let mid = mid.lock().unwrap().clone();
    assert!(
        mid.windows(2).all(|w| w[0] <= w[1]),
        "commits went backwards: {mid:?}"
    );
    assert!(
        mid.iter().any(|&c| c > 0 && (c as u64) < n),
        "no commit between the start and the end: {mid:?}"
    );
}
