//! ClickHouse stopped for 30 seconds in the middle of a Kafka → ClickHouse
//! run (`scripts/services.sh stop clickhouse`, then `start`): the pipeline
//! retries, pauses the source (memory stays under a ceiling), `/readyz`
//! turns unready and ready again, and once the server is back the final
//! views equal the reference: no loss, no duplicates.
//!
//! Its own test binary: it stops the shared server, so nothing else may run
//! against it meanwhile (cargo runs test binaries one after another).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use sluice_config::{load, LoadOptions};
use sluice_connectors::source::generator::GeneratorSource;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::KafkaSettings;
use sluice_runtime::pipeline::{PipelineOptions, Stats};
use sluice_secrets::ResolvedSecrets;

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn services(action: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services.sh");
    let out = Command::new("bash")
        .arg(script)
        .args([action, "clickhouse"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "services.sh {action} clickhouse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status code of the pipeline's `/readyz`.
fn readyz() -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1:9465/readyz",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Memory the run may add while ClickHouse is down.
const CEILING: u64 = 256 << 20;

#[test]
fn clickhouse_down_for_30_seconds_loses_nothing_and_keeps_memory_bounded() {
    let Some((ch, client)) = clickhouse("outage") else {
        return;
    };
    let cfg = {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut o = LoadOptions::new(dir, "dev");
        o.vars.clear();
        load(&o).unwrap()
    };
    let mut s =
        KafkaSettings::from_config(&cfg.platform.kafka, &ResolvedSecrets::default()).unwrap();
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9092".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_err()
    {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "SLUICE_REQUIRE_SERVICES is set but Kafka is down"
        );
        eprintln!("skipping: Kafka not running");
        return;
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    s.topic_template = format!("out{stamp}.{{domain}}.{{event_type}}");
    s.dlq_topic_template = format!("out{stamp}.{{domain}}.dlq");
    let name = "ecommerce";
    let n = 300_000u64;
    let gen = || Generator::from_config(&cfg, name, GeneratorOptions::events(5, n)).unwrap();
    let d = cfg.domain(name).unwrap();
    let mut built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[]).unwrap();
    for a in &mut built.plan.aggregations {
        a.allowed_lateness = sluice_core::HumanDuration::parse("10 minutes").unwrap();
    }
    let group = format!("out{stamp}");
    // one pipeline instance; `bounded` ends at the end of the topics
    let start = |bounded: bool, stats: Arc<Stats>, stop: Arc<AtomicBool>| {
        let opts = PipelineOptions {
            batch_size: 1000,
            // flush often: the sink channel then fills within a second of
            // the outage and the source pauses
            trigger_interval: Duration::from_millis(200),
            stop,
            ..PipelineOptions::default()
        };
        let (cfg, s, ch, built, group) = (
            cfg.clone(),
            s.clone(),
            ch.clone(),
            built.clone(),
            group.clone(),
        );
        std::thread::spawn(move || {
            kafka_to_clickhouse(&cfg, &s, &ch, name, &group, bounded, built, opts, stats)
        })
    };

    // the producer writes the first half, then waits for the outage
    let (outage_tx, outage_rx) = std::sync::mpsc::channel::<()>();
    let producer = {
        let (cfg, s) = (cfg.clone(), s.clone());
        let mut g = gen();
        std::thread::spawn(move || {
            let mut waited = false;
            produce_generated(
                &cfg,
                &s,
                name,
                &mut g,
                &ProduceOptions {
                    batch_size: 1000,
                    ..ProduceOptions::default()
                },
                &mut |sent| {
                    if !waited && sent >= n / 2 {
                        waited = true;
                        outage_rx.recv().ok();
                    } else if waited {
                        // the second half arrives over about 7 s, as live
                        // traffic would: a consumer that reads faster than
                        // the sink channel fills cannot then race past the
                        // outage before its first failed write
                        std::thread::sleep(Duration::from_millis(50));
                    }
                },
            )
            .unwrap();
        })
    };

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let health = sluice_runtime::observe::serve("127.0.0.1:9465", None, stats.clone()).unwrap();
    let first = start(false, stats.clone(), stop.clone());
    let started = Instant::now();
    while stats.rows_written.load(Ordering::Relaxed) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no rows written in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(readyz(), 200, "ready while ClickHouse answers");
    let before = rss();
    services("stop");
    outage_tx.send(()).unwrap(); // the second half arrives while ClickHouse is down
    let read_at_stop = stats.records_in.load(Ordering::Relaxed);
    let down = Instant::now();
    let mut peak = before;
    while down.elapsed() < Duration::from_secs(30) {
        peak = peak.max(rss());
        std::thread::sleep(Duration::from_millis(250));
    }
    let read_by_restart = stats.records_in.load(Ordering::Relaxed);
    assert_eq!(readyz(), 503, "not ready while the sink is down");
    let retries = stats.sink_retries.load(Ordering::Relaxed);
    services("start");
    producer.join().unwrap();
    // let the first instance catch up, then stop it like Ctrl-C would (open
    // windows stay unwritten; their offsets stay uncommitted)
    let caught_up = Instant::now();
    while stats.records_in.load(Ordering::Relaxed) < n || stats.sink_down.load(Ordering::Relaxed) {
        assert!(
            caught_up.elapsed() < Duration::from_secs(120),
            "the run did not resume"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(readyz(), 200, "ready again once ClickHouse is back");
    drop(health);
    stop.store(true, Ordering::Relaxed);
    let summary = first.join().unwrap().unwrap();
    assert!(summary.interrupted);
    // a second instance finishes from the committed offsets
    let rest = start(
        true,
        Arc::new(Stats::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .join()
    .unwrap()
    .unwrap();
    eprintln!(
        "outage: {retries} retries; {} records read at the stop, {read_by_restart} by the restart (of {n}); memory +{} MiB (ceiling {} MiB); the second instance re-read {}",
        read_at_stop,
        peak.saturating_sub(before) >> 20,
        CEILING >> 20,
        rest.records_in
    );
    assert!(retries > 0, "the sink never noticed the outage");
    assert!(
        read_by_restart < n,
        "the source did not pause while the sink was down"
    );
    assert!(
        peak.saturating_sub(before) < CEILING,
        "memory grew by {} MiB while ClickHouse was down",
        peak.saturating_sub(before) >> 20
    );
    let batches = drain(Box::new(GeneratorSource::new(gen(), name)));
    assert_tables_eq(
        &stored_clickhouse(&client, &ch.database, &built),
        &expected_with(&built, &batches, false),
    );
}
