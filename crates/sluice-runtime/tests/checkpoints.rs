//! Checkpoints of open windows, on real Kafka, schema registry, ClickHouse
//! and a DuckDB file: with ecommerce's day-long cumulative window open
//! (`revenue_today`), the committed offsets still move to the end of what
//! was read (before checkpoints they stayed at the window's first event); a
//! second instance resumes from the checkpoint, re-reads almost nothing and
//! the final tables equal the reference model: nothing lost, nothing counted
//! twice.
//!
//! Skips with a message when the services are down, unless
//! `SLUICE_REQUIRE_SERVICES` is set (CI sets it), in which case it fails.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sluice_config::Config;
use sluice_connectors::sink::clickhouse::ClickHouseSink;
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::Sink;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_kafka::KafkaSettings;
use sluice_runtime::pipeline::{PipelineOptions, Stats};
use sluice_runtime::plan;

const DOMAIN: &str = "ecommerce";
const EVENTS: u64 = 40_000;

fn config() -> Config {
    let mut cfg = shipped_config();
    cfg.platform.engine.checkpoint_interval = sluice_core::HumanDuration::from_millis(200);
    cfg
}

fn gen(cfg: &Config) -> Generator {
    Generator::from_config(cfg, DOMAIN, GeneratorOptions::events(41, EVENTS)).unwrap()
}

/// Sum of the offsets `group` committed on every event topic.
fn committed(cfg: &Config, s: &KafkaSettings, group: &str) -> i64 {
    let probe = KafkaSource::from_config(
        cfg,
        s,
        DOMAIN,
        SourceOptions {
            group_id: Some(group.to_string()),
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let partitions = cfg.platform.kafka.partitions as i32;
    let topics: Vec<(String, i32)> = probe
        .topics()
        .iter()
        .flat_map(|t| (0..partitions).map(move |p| (t.clone(), p)))
        .collect();
    probe
        .committer()
        .committed(&topics, Duration::from_secs(10))
        .unwrap()
        .into_iter()
        .flatten()
        .sum()
}

/// The final tables of a store, as the reference model gives them.
type Tables = BTreeMap<String, Vec<Vec<V>>>;

/// Runs the scenario into the sinks `sink()` opens; `stored` reads the
/// final tables back.
fn scenario(
    tag: &str,
    sharded: bool,
    sink: &(dyn Fn() -> Box<dyn Sink> + Sync),
    stored: &dyn Fn(&plan::BuiltPlan) -> Tables,
    revisions: bool,
) {
    let cfg = config();
    let Some(s) = kafka_settings(&cfg, "ckpt", tag) else {
        return;
    };
    produce_generated(
        &cfg,
        &s,
        DOMAIN,
        &mut gen(&cfg),
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let built = plan::build(cfg.domain(DOMAIN).unwrap(), &cfg.platform.engine, &[]).unwrap();
    assert!(
        built.tables.iter().any(|t| t.name == "revenue_today"),
        "the shipped domain has its day-long window"
    );
    let group = format!("{}-group", s.topic(DOMAIN, "g"));

    // first instance: unbounded, stopped once everything was read and
    // checkpointed; the day-long window is still open
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Stats::default());
    let summary = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let opts = PipelineOptions {
                batch_size: 500,
                trigger_interval: Duration::from_millis(50),
                stop: stop.clone(),
                sharded,
                ..PipelineOptions::default()
            };
            kafka_into(
                &cfg,
                &s,
                sink(),
                DOMAIN,
                &group,
                false,
                built.clone(),
                opts,
                stats.clone(),
            )
        });
        let started = Instant::now();
        while stats.records_in.load(Ordering::Relaxed) < EVENTS
            && started.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        // a few checkpoint intervals, so the last reads are checkpointed
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        first.join().unwrap().unwrap()
    });
    assert_eq!(
        summary.records_in, EVENTS,
        "the first instance read everything"
    );
    assert!(summary.interrupted);
    let c = committed(&cfg, &s, &group);
    assert!(
        c as u64 * 10 >= EVENTS * 9,
        "committed {c} of {EVENTS} offsets: checkpoints did not move the commits past the open day-long window"
    );

    // second instance: resumes the open windows and closes them at the end
    let second = kafka_into(
        &cfg,
        &s,
        sink(),
        DOMAIN,
        &group,
        true,
        built.clone(),
        PipelineOptions {
            batch_size: 500,
            sharded,
            ..PipelineOptions::default()
        },
        Arc::new(Stats::default()),
    )
    .unwrap();
    assert!(
        second.records_in * 10 <= EVENTS,
        "the second instance re-read {} of {EVENTS} records",
        second.records_in
    );
    let batches = drain(Box::new(GeneratorSource::new(gen(&cfg), DOMAIN)));
    assert_tables_eq(&stored(&built), &expected_with(&built, &batches, revisions));
}

#[test]
fn clickhouse_commits_move_while_a_day_long_window_is_open() {
    let Some((ch, client)) = clickhouse("checkpoints") else {
        return;
    };
    let database = ch.database.clone();
    scenario(
        "ch",
        true,
        &|| Box::new(ClickHouseSink::connect(ch.clone()).unwrap()),
        &|built| stored_clickhouse(&client, &database, built),
        false,
    );
    let saved: u64 = client
        .query(&format!(
            "SELECT count() FROM `{database}`.`_sluice_checkpoints` FINAL"
        ))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(saved > 0, "no checkpoint rows in ClickHouse");
    client.query(&format!("DROP DATABASE `{database}`")).ok();
}

#[test]
fn duckdb_commits_move_while_a_day_long_window_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ckpt.duckdb");
    let path = db.to_str().unwrap().to_string();
    scenario(
        "duck",
        false,
        &|| Box::new(DuckDbSink::open(&path).unwrap()),
        &|built| stored(&path, built),
        true,
    );
}
