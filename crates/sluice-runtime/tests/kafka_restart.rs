//! The broker is stopped and restarted while a run is reading: the run
//! recovers (librdkafka reconnects) and no event is lost — the stored results
//! equal the reference model. Its own test binary, because it restarts the
//! shared broker (`scripts/services.sh`).

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use sluice_config::{load, Config, LoadOptions};
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::{ConnectorError, DeadLetterRecord, ResultRow, Sink, TableSpec};
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_kafka::KafkaSettings;
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};
use sluice_runtime::plan;
use sluice_secrets::ResolvedSecrets;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> Config {
    let mut o = LoadOptions::new(repo().join("config"), "dev");
    o.vars.clear();
    load(&o).unwrap()
}

fn services(action: &str) {
    let ok = Command::new("bash")
        .arg(repo().join("scripts/services.sh"))
        .args([action, "kafka"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "services.sh {action} kafka failed");
}

/// Slows every write so the run is still reading when the broker goes away.
struct SlowSink(DuckDbSink, Arc<AtomicU64>);

impl Sink for SlowSink {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn prepare(&mut self, t: &[TableSpec]) -> Result<(), ConnectorError> {
        self.0.prepare(t)
    }
    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        std::thread::sleep(Duration::from_millis(150));
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.write(rows, dead)
    }
    fn close(&mut self) -> Result<(), ConnectorError> {
        self.0.close()
    }
}

#[test]
fn broker_restart_mid_run_loses_nothing() {
    let cfg = config();
    if TcpStream::connect_timeout(&"127.0.0.1:9092".parse().unwrap(), Duration::from_secs(2))
        .is_err()
    {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "kafka required but not running"
        );
        eprintln!("skipping: kafka not running (scripts/services.sh start kafka)");
        return;
    }
    let mut s =
        KafkaSettings::from_config(&cfg.platform.kafka, &ResolvedSecrets::default()).unwrap();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    s.topic_template = format!("restart{stamp}.{{domain}}.{{event_type}}");
    s.dlq_topic_template = format!("restart{stamp}.{{domain}}.dlq");
    let d = cfg.domain("ecommerce").unwrap();
    let n = 40_000;
    let gen = || {
        let opts = GeneratorOptions::events(33, n);
        Generator::from_config(&cfg, "ecommerce", opts).unwrap()
    };
    produce_generated(
        &cfg,
        &s,
        "ecommerce",
        &mut gen(),
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();

    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let src = KafkaSource::from_config(
        &cfg,
        &s,
        "ecommerce",
        SourceOptions {
            group_id: Some(format!("restart{stamp}")),
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb").to_str().unwrap().to_string();
    let writes = Arc::new(AtomicU64::new(0));
    let sink = SlowSink(DuckDbSink::open(&db).unwrap(), writes.clone());
    let stats = Arc::new(Stats::default());
    let opts = PipelineOptions {
        batch_size: 500,
        channel_depth: 1,
        trigger_interval: Duration::from_millis(10),
        ..PipelineOptions::default()
    };
    let st = stats.clone();
    let b2 = built.clone();
    let run =
        std::thread::spawn(move || pipeline::run(b2, Box::new(src), Box::new(sink), opts, st));

    // wait until the run is reading, then take the broker away and bring it back
    while stats.records_in.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = stats.records_in.load(Ordering::SeqCst);
    services("stop");
    std::thread::sleep(Duration::from_secs(3));
    services("start");
    let summary = run.join().unwrap().unwrap();
    eprintln!(
        "read {before} records before the broker stopped; {} in all; {} sink writes",
        summary.records_in,
        writes.load(Ordering::SeqCst)
    );
    assert!(
        before < n,
        "the run finished before the broker stopped; the test proves nothing"
    );
    assert_eq!(summary.records_in, n, "every event read exactly once");
    assert_eq!(summary.late, 0);
    let batches = drain(Box::new(GeneratorSource::new(gen(), "ecommerce")));
    assert_tables_eq(&stored(&db, &built), &expected(&built, &batches));
}
