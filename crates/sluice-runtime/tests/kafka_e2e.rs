//! The pipeline on a real Kafka broker and schema registry
//! (`scripts/services.sh start kafka registry`): events produced for every
//! shipped domain are consumed by a consumer group, aggregated and stored,
//! and the stored results equal the reference model on the same events;
//! malformed records land in the dead-letter topic; offsets are committed
//! only once the results are durable.
//!
//! Skips with a message when the services are down, unless
//! `SLUICE_REQUIRE_SERVICES` is set (CI sets it), in which case it fails.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use sluice_config::Config;
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::dlq::{read_dlq, DlqStart, DlqWriter};
use sluice_kafka::producer::{produce_generated, ProduceOptions, RawProducer};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_kafka::KafkaSettings;
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};
use sluice_runtime::plan;

fn config() -> Config {
    shipped_config()
}

fn settings(cfg: &Config, tag: &str) -> Option<KafkaSettings> {
    kafka_settings(cfg, "e2e", tag)
}

fn gen(cfg: &Config, name: &str, n: u64) -> Generator {
    let opts = GeneratorOptions::events(21, n);
    Generator::from_config(cfg, name, opts).unwrap()
}

#[test]
fn kafka_to_duckdb_equals_the_reference_for_every_domain_with_dead_letters_and_commits() {
    let cfg = config();
    let Some(_) = settings(&cfg, "probe") else {
        return;
    };
    for d in &cfg.domains {
        let name = d.domain.value.clone();
        let s = settings(&cfg, &name).unwrap();
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
        // planted malformed messages on the first event type's topic
        let topic = s.topic(&name, &d.event_types[0].name.value);
        let mut raw = RawProducer::new(&s).unwrap();
        let planted: [&[u8]; 3] = [b"not avro at all", &[0, 0, 0, 0x7f, 0xff, 1, 2], &[0, 0]];
        for p in planted {
            raw.send(&topic, Some(b"k".as_slice()), p, None, None)
                .unwrap();
        }
        raw.flush(Duration::from_secs(30)).unwrap();

        let group = format!("{}-group", s.topic(&name, "g"));
        let src = KafkaSource::from_config(
            &cfg,
            &s,
            &name,
            SourceOptions {
                group_id: Some(group),
                stop_at_end: true,
                ..SourceOptions::default()
            },
        )
        .unwrap();
        let committer = src.committer();
        let commits = Arc::new(Mutex::new(Vec::new()));
        let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.duckdb");
        let db = db.to_str().unwrap();
        let dlq = DlqWriter::new(&s, &name, true).unwrap();
        let c2 = commits.clone();
        let opts = PipelineOptions {
            on_durable_end: Some(Arc::new(
                move |pos: &[sluice_connectors::CommitPosition]| {
                    c2.lock().unwrap().extend_from_slice(pos);
                    committer.commit(pos).map(|_| ()).map_err(|e| e.to_string())
                },
            )),
            dead_letter_hook: Some(dlq_hook(dlq)),
            ..PipelineOptions::default()
        };
        let summary = pipeline::run(
            built.clone(),
            Box::new(src),
            Box::new(DuckDbSink::open(db).unwrap()),
            opts,
            Arc::new(Stats::default()),
        )
        .unwrap();
        assert_eq!(summary.records_in, n + 3, "{name}");
        assert_eq!(summary.malformed, 3, "{name}");
        assert_eq!(summary.late, 0, "{name}");

        // the same events, in generator order, through the reference model
        let batches = drain(Box::new(GeneratorSource::new(gen(&cfg, &name, n), &name)));
        assert_tables_eq(&stored(db, &built), &expected(&built, &batches));

        // dead-letter topic: the planted bytes, untouched, with headers
        let entries = read_dlq(
            &s,
            &name,
            &DlqStart::Beginning,
            Some(10),
            Duration::from_secs(20),
        )
        .unwrap()
        .entries;
        assert_eq!(entries.len(), 3, "{name}");
        let mut payloads: Vec<Vec<u8>> = entries.iter().map(|e| e.payload.clone()).collect();
        payloads.sort();
        let mut want: Vec<Vec<u8>> = planted.iter().map(|p| p.to_vec()).collect();
        want.sort();
        assert_eq!(payloads, want);
        assert!(entries
            .iter()
            .all(|e| e.source_topic.as_deref() == Some(topic.as_str()) && !e.message.is_empty()));

        // offsets were committed once, at the end, covering every partition read
        let commits = commits.lock().unwrap();
        let total: i64 = commits.iter().map(|c| c.next_offset).sum();
        assert_eq!(
            total as u64,
            n + 3,
            "{name}: committed offsets cover every message"
        );
    }
}
