//! Single bad records on the real Kafka path (`scripts/services.sh start
//! kafka registry`): a far-future record read first from its partition, and
//! records far in the past read last from theirs, while a backlog is read.
//! The stored results must equal the reference model run over the same
//! records as one file (outlier first, old records last): a broken clock
//! makes nothing else late, old records are late whatever order the
//! partitions are read in. Every such dead letter in the dead-letter topic
//! is the original message: wire header, key, Kafka partition, timestamp.
//!
//! Skips with a message when the services are down, unless
//! `SLUICE_REQUIRE_SERVICES` is set (CI sets it), in which case it fails.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_engine::value::{decode_record, encode_record, Value};
use sluice_engine::RawBatch;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::dlq::{read_dlq, DlqStart, DlqWriter};
use sluice_kafka::producer::{produce_generated, subject_of, ProduceOptions, RawProducer};
use sluice_kafka::registry::{encode_wire, RegistryClient};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};
use sluice_runtime::plan;

const YEAR_2100: i64 = 4_102_444_800_000;
const YEAR_1: i64 = -62_135_596_800_000;

/// One planted message: where it goes and its exact bytes.
struct Planted {
    event_type: u32,
    partition: i32,
    key: Vec<u8>,
    timestamp: i64,
    datum: Vec<u8>,
    wire: Vec<u8>,
}

#[test]
fn a_far_future_first_record_and_old_last_records_do_not_depend_on_read_order() {
    let cfg = shipped_config();
    let Some(s) = kafka_settings(&cfg, "edges", "probe") else {
        return;
    };
    let name = "ecommerce";
    let d = cfg.domain(name).unwrap();
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let n = 3000;
    let gen = || Generator::from_config(&cfg, name, GeneratorOptions::events(33, n)).unwrap();
    let generated = drain(Box::new(GeneratorSource::new(gen(), name)));

    // the planted records are copies of the first generated one with other times
    let first = &generated[0];
    let et = first.event_type_of(0);
    let layout = &built.plan.layouts[et as usize];
    let values = decode_record(layout, first.record(0).unwrap()).unwrap();
    let time_at = layout.index_of(sluice_core::layout::EVENT_TIME).unwrap();
    let max_time = generated
        .iter()
        .flat_map(|b| (0..b.len()).map(move |i| (b, i)))
        .filter_map(|(b, i)| {
            let l = &built.plan.layouts[b.event_type_of(i) as usize];
            let v = decode_record(l, b.record(i)?).ok()?;
            match v[l.index_of(sluice_core::layout::EVENT_TIME)?] {
                Value::Int(t) => Some(t),
                _ => None,
            }
        })
        .max()
        .unwrap();
    let topic = s.topic(name, &layout.event_type);
    let registry = RegistryClient::new(&s.registry).unwrap();
    let id = registry
        .register(
            &subject_of(&registry, &topic, layout),
            &sluice_schema::record_schema_json(layout),
        )
        .unwrap();
    let plant = |t: i64, partition: i32, key: &str| {
        let mut v = values.clone();
        v[time_at] = Value::Int(t);
        let mut datum = Vec::new();
        encode_record(layout, &v, &mut datum).unwrap();
        let mut wire = Vec::new();
        encode_wire(id, &datum, &mut wire);
        Planted {
            event_type: et,
            partition,
            key: key.as_bytes().to_vec(),
            timestamp: 1_700_000_000_000 + i64::from(partition),
            datum,
            wire,
        }
    };
    let future = plant(YEAR_2100, 2, "broken-clock");
    let old = [
        plant(YEAR_1, 0, "year-one"),
        plant(max_time - 3_600_000, 4, "an-hour-behind"),
    ];

    sluice_kafka::ensure_topics(
        &s,
        &d.event_types
            .iter()
            .map(|e| s.topic(name, &e.name.value))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut raw = RawProducer::new(&s).unwrap();
    let send = |raw: &mut RawProducer, p: &Planted| {
        raw.send_with_timestamp(
            &topic,
            Some(&p.key),
            &p.wire,
            None,
            Some(p.partition),
            Some(p.timestamp),
        )
        .unwrap();
        raw.flush(Duration::from_secs(30)).unwrap();
    };
    send(&mut raw, &future);
    produce_generated(
        &cfg,
        &s,
        name,
        &mut gen(),
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    for p in &old {
        send(&mut raw, p);
    }

    let group = format!("{}-group", s.topic(name, "g"));
    let src = KafkaSource::from_config(
        &cfg,
        &s,
        name,
        SourceOptions {
            group_id: Some(group),
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edges.duckdb");
    let db = db.to_str().unwrap();
    let dlq = DlqWriter::new(&s, name, true).unwrap();
    let opts = PipelineOptions {
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
    assert_eq!(summary.records_in, n + 3);
    assert_eq!(summary.outliers, 1, "the far-future first record");
    assert!(summary.late >= 2, "both old records are late: {summary:?}");

    // the same records as one file: outlier first, old records last
    let single = |p: &Planted| {
        let mut b = RawBatch::new(p.event_type, 0, 0);
        b.push_typed(p.event_type, &p.datum);
        b
    };
    let mut as_file = vec![single(&future)];
    as_file.extend(generated.iter().cloned());
    as_file.extend(old.iter().map(single));
    assert_tables_eq(&stored(db, &built), &expected(&built, &as_file));

    // the dead letters are the original messages
    let entries = read_dlq(
        &s,
        name,
        &DlqStart::Beginning,
        Some(100),
        Duration::from_secs(20),
    )
    .unwrap()
    .entries;
    for p in std::iter::once(&future).chain(&old) {
        let mine: Vec<_> = entries.iter().filter(|e| e.payload == p.wire).collect();
        assert!(
            !mine.is_empty(),
            "no dead letter with the original bytes of {:?}",
            String::from_utf8_lossy(&p.key)
        );
        for e in mine {
            assert_eq!(e.key.as_deref(), Some(p.key.as_slice()));
            assert_eq!(e.source_topic.as_deref(), Some(topic.as_str()));
            assert_eq!(e.source_partition, Some(p.partition));
            assert_eq!(e.source_timestamp, Some(p.timestamp));
            let want = if p.key == future.key {
                "future_outlier"
            } else {
                "late"
            };
            assert_eq!(e.kind, want);
        }
    }
}
