//! The Kafka path against a real broker and a real schema registry
//! (`scripts/services.sh start kafka registry`): every shipped domain round
//! trips, malformed records become dead letters with their original bytes,
//! the dead-letter topic keeps them with headers, and old writer schemas
//! are read as the current layout.
//!
//! Each test uses fresh topics and a fresh consumer group. Tests skip with
//! a message when the services are not running, unless
//! `SLUICE_REQUIRE_SERVICES` is set, in which case they fail.

use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apache_avro::types::Value as AvroValue;
use sluice_config::Config;
use sluice_connectors::{DeadLetterRecord, Source, SourceOutput, SourceStatus};
use sluice_core::RecordLayout;
use sluice_generator::{EncodedBatch, Generator, GeneratorOptions};
use sluice_kafka::avro::ReaderSchema;
use sluice_kafka::dlq::{
    dead_letter_id, read_dlq, replay_dlq, replay_ledger_topic, replay_selected, DlqStart,
    DlqWriter, Feeds,
};
use sluice_kafka::producer::{produce_generated, subject_of, ProduceOptions, RawProducer};
use sluice_kafka::registry::{encode_wire, RegistryClient};
use sluice_kafka::source::{KafkaSource, RejectMeta, SourceOptions};
use sluice_kafka::KafkaSettings;
use sluice_secrets::ResolvedSecrets;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

fn config() -> Config {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let opts = sluice_config::LoadOptions::new(dir, "dev");
    sluice_config::load_with(&opts, &sluice_generator::validate_hints)
        .unwrap_or_else(|d| panic!("shipped config does not load: {d}"))
}

fn cleanup<E: std::fmt::Display>(r: Result<(), E>) {
    if let Err(e) = r {
        eprintln!("cleanup failed: {e}");
    }
}

fn delete_subjects(s: &KafkaSettings, subjects: impl IntoIterator<Item = String>) {
    let registry = RegistryClient::new(&s.registry).unwrap();
    for subject in subjects {
        cleanup(registry.delete_subject(&subject, true).map(|_| ()));
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Settings with fresh topic names (`t<stamp>-<n>.{domain}.{event_type}`)
/// and a fresh group, or `None` (skip) when the services are down.
fn settings(cfg: &Config) -> Option<KafkaSettings> {
    let mut s =
        KafkaSettings::from_config(&cfg.platform.kafka, &ResolvedSecrets::default()).unwrap();
    let broker_up = s
        .bootstrap_servers
        .split(',')
        .filter_map(|a| a.trim().to_socket_addrs().ok()?.next())
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    let registry = RegistryClient::new(&s.registry).and_then(|c| c.subjects());
    if !broker_up || registry.is_err() {
        let why = format!(
            "kafka at `{}` {}, schema registry at `{}` {}",
            s.bootstrap_servers,
            if broker_up { "up" } else { "DOWN" },
            s.registry.url,
            match &registry {
                Ok(_) => "up".to_string(),
                Err(e) => format!("DOWN ({e})"),
            }
        );
        if std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some() {
            panic!("services required (SLUICE_REQUIRE_SERVICES is set) but not running: {why}");
        }
        eprintln!("skipping: {why}; start them with `scripts/services.sh start kafka` and `... start registry`");
        return None;
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    s.topic_template = format!("t{stamp}-{n}.{{domain}}.{{event_type}}");
    s.dlq_topic_template = format!("t{stamp}-{n}.{{domain}}.dlq");
    s.group_id = format!("sluice-test-{stamp}-{n}");
    s.partitions = 3;
    s.retention_ms = 3_600_000;
    Some(s)
}

fn generator(cfg: &Config, domain: &str, events: u64, seed: u64) -> Generator {
    let opts = GeneratorOptions::events(seed, events);
    Generator::from_config(cfg, domain, opts).unwrap()
}

/// Every datum the generator makes, by event id: (event type id, datum).
fn expected(
    cfg: &Config,
    domain: &str,
    events: u64,
    seed: u64,
) -> BTreeMap<Vec<u8>, (u32, Vec<u8>)> {
    let mut g = generator(cfg, domain, events, seed);
    let mut b = EncodedBatch::default();
    let mut out = BTreeMap::new();
    while g.fill_mixed(4096, &mut b) > 0 {
        for i in 0..b.len() {
            let d = b.record(i).unwrap();
            let id = sluice_kafka::event_id(d).unwrap().to_vec();
            out.insert(id, (b.event_types[i], d.to_vec()));
        }
    }
    out
}

/// Reads until `want` records (good + rejected) arrived or the source ends.
fn consume(source: &mut KafkaSource, want: usize) -> (Vec<SourceOutput>, Vec<Vec<RejectMeta>>) {
    let deadline = Instant::now() + TEST_TIMEOUT;
    let (mut got, mut outs, mut metas) = (0, Vec::new(), Vec::new());
    while got < want {
        assert!(
            Instant::now() < deadline,
            "timed out after {got} of {want} records"
        );
        let mut out = SourceOutput::default();
        let status = source.next_batch(1000, &mut out).unwrap();
        if !out.is_empty() {
            got += out.len();
            metas.push(source.reject_meta().to_vec());
            outs.push(out);
        }
        if status == SourceStatus::End {
            break;
        }
    }
    (outs, metas)
}

fn round_trip(cfg: &Config, s: &KafkaSettings, domain: &str) {
    const N: u64 = 2000;
    let want = expected(cfg, domain, N, 7);
    let mut g = generator(cfg, domain, N, 7);
    let summary = produce_generated(
        cfg,
        s,
        domain,
        &mut g,
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.records as usize, want.len(), "{domain}");
    assert_eq!(
        summary.delivered, summary.records,
        "{domain}: all delivered"
    );

    let layouts = cfg.domain(domain).unwrap().layouts();
    let mut source = KafkaSource::new(
        s,
        domain,
        &layouts,
        SourceOptions {
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let (outs, _) = consume(&mut source, want.len());
    let mut got = BTreeMap::new();
    for out in &outs {
        assert!(
            out.rejects.is_empty(),
            "{domain}: unexpected rejects {:?}",
            out.rejects
        );
        let (topic, _) = source.topic_partition(out.batch.partition).unwrap();
        assert_eq!(topic, out.origin);
        assert_eq!(out.offsets.len(), out.batch.len());
        for i in 0..out.batch.len() {
            let d = out.batch.record(i).unwrap();
            let et = out.batch.event_type_of(i);
            assert_eq!(
                source.topics()[et as usize],
                topic,
                "event type follows the topic"
            );
            let id = sluice_kafka::event_id(d).unwrap().to_vec();
            assert!(
                got.insert(id, (et, d.to_vec())).is_none(),
                "{domain}: duplicate record"
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{domain}: every record arrives once");
    assert!(
        got == want,
        "{domain}: consumed datums differ from produced ones"
    );
    let lag = source.lag().unwrap();
    assert!(
        lag.iter().all(|l| l.lag == 0),
        "{domain}: lag after reading all {lag:?}"
    );
    cleanup(sluice_kafka::delete_topics(s, source.topics()));
    delete_subjects(s, summary.topics.iter().map(|t| t.1.clone()));
}

#[test]
fn every_domain_round_trips_through_kafka() {
    let cfg = config();
    let Some(base) = settings(&cfg) else { return };
    let started = Instant::now();
    std::thread::scope(|sc| {
        for d in &cfg.domains {
            let name = d.domain.value.clone();
            let cfg = &cfg;
            let mut s = base.clone();
            s.group_id = format!("{}-{name}", base.group_id);
            sc.spawn(move || round_trip(cfg, &s, &name));
        }
    });
    assert!(
        cfg.domains.len() >= 4,
        "shipped domains: {}",
        cfg.domains.len()
    );
    eprintln!(
        "{} domains round-tripped in {:?}",
        cfg.domains.len(),
        started.elapsed()
    );
}

#[test]
fn malformed_records_become_dead_letters_and_survive_the_dlq() {
    let cfg = config();
    let Some(s) = settings(&cfg) else { return };
    let domain = "ecommerce";
    // 10 good events so the topics and subjects exist
    let mut g = generator(&cfg, domain, 10, 3);
    let summary = produce_generated(
        &cfg,
        &s,
        domain,
        &mut g,
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let good = expected(&cfg, domain, 10, 3);
    let (et, datum) = good.values().next().cloned().unwrap();
    let (topic, _, schema_id, _) = summary.topics[et as usize].clone();

    let no_magic = br#"{"event_id": "json, not avro"}"#.to_vec();
    let mut unknown_id = Vec::new();
    encode_wire(u32::MAX - 11, &datum, &mut unknown_id);
    let mut truncated = Vec::new();
    encode_wire(schema_id, &datum[..datum.len() / 2], &mut truncated);
    let short = vec![0u8, 0, 1];
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("k-no-magic", no_magic, "bad magic byte"),
        ("k-unknown", unknown_id, "unknown schema id"),
        ("k-truncated", truncated, "truncated"),
        ("k-short", short, "shorter than the 5-byte"),
    ];
    let mut p = RawProducer::new(&s).unwrap();
    for (k, v, _) in &bad {
        // partition 0 so the order (and so offsets) is known
        p.send(&topic, Some(k.as_bytes()), v, None, Some(0))
            .unwrap();
    }
    assert_eq!(p.flush(Duration::from_secs(30)).unwrap().errors, 0);

    let layouts = cfg.domain(domain).unwrap().layouts();
    let mut source = KafkaSource::new(
        &s,
        domain,
        &layouts,
        SourceOptions {
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let (outs, metas) = consume(&mut source, good.len() + bad.len());
    let good_n: usize = outs.iter().map(|o| o.batch.len()).sum();
    assert_eq!(good_n, good.len());
    let mut rejects: Vec<(DeadLetterRecord, RejectMeta)> = Vec::new();
    for (o, m) in outs.iter().zip(&metas) {
        assert_eq!(o.rejects.len(), m.len());
        rejects.extend(o.rejects.iter().cloned().zip(m.iter().cloned()));
    }
    assert_eq!(rejects.len(), bad.len(), "{rejects:?}");
    rejects.sort_by_key(|(r, _)| r.offset);
    for ((r, m), (k, bytes, why)) in rejects.iter().zip(&bad) {
        assert_eq!(&r.payload, bytes, "original bytes kept");
        assert!(
            r.reason.contains(why),
            "reason `{}` should mention `{why}`",
            r.reason
        );
        assert_eq!(r.source, topic);
        assert_eq!(r.partition, 0);
        assert_eq!(m.key.as_deref(), Some(k.as_bytes()));
        assert!(m.timestamp.is_some());
    }
    // offsets on partition 0 are consecutive and after the good ones there
    let offs: Vec<i64> = rejects.iter().map(|(r, _)| r.offset).collect();
    assert!(offs.windows(2).all(|w| w[1] == w[0] + 1), "{offs:?}");

    // dead-letter topic round trip
    let mut dlq = DlqWriter::new(&s, domain, true).unwrap();
    let (recs, ms): (Vec<_>, Vec<_>) = rejects.iter().cloned().unzip();
    dlq.write_all(&recs, &ms).unwrap();
    assert_eq!(
        dlq.flush(Duration::from_secs(30)).unwrap().sent,
        bad.len() as u64
    );
    let read = read_dlq(
        &s,
        domain,
        &DlqStart::Beginning,
        None,
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(read.entries.len(), bad.len());
    let mut entries = read.entries.clone();
    entries.sort_by_key(|e| e.source_offset);
    for (e, (r, m)) in entries.iter().zip(&rejects) {
        assert_eq!(e.payload, r.payload);
        assert_eq!(e.key, m.key);
        assert_eq!(e.kind, "malformed");
        assert_eq!(e.message, r.reason);
        assert_eq!(e.source_topic.as_deref(), Some(topic.as_str()));
        assert_eq!(e.source_partition, Some(0));
        assert_eq!(e.source_offset, Some(r.offset));
        assert_eq!(e.source_timestamp, m.timestamp);
        assert_eq!(
            e.event_type.as_deref(),
            Some(layouts[et as usize].event_type.as_str())
        );
        for h in [
            "sluice.error.kind",
            "sluice.error.message",
            "sluice.source.topic",
            "sluice.source.partition",
            "sluice.source.offset",
            "sluice.source.timestamp",
        ] {
            assert!(e.header(h).is_some(), "header `{h}` missing");
        }
    }
    let limited = read_dlq(
        &s,
        domain,
        &DlqStart::Beginning,
        Some(2),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(limited.entries.len(), 2);

    // replay re-injects each once, original bytes and key
    let r = replay_dlq(&s, domain, &Feeds::new(), None, Duration::from_secs(30)).unwrap();
    assert_eq!(r.replayed, bad.len() as u64);
    assert_eq!(r.by_topic.get(&topic).copied(), Some(bad.len() as u64));
    let again = replay_dlq(&s, domain, &Feeds::new(), None, Duration::from_secs(30)).unwrap();
    assert_eq!(again.replayed, 0, "progress is remembered");
    let (more, _) = consume(&mut source, bad.len());
    let replayed: Vec<&DeadLetterRecord> = more.iter().flat_map(|o| &o.rejects).collect();
    assert_eq!(replayed.len(), bad.len());
    let mut payloads: Vec<&Vec<u8>> = replayed.iter().map(|r| &r.payload).collect();
    let mut want: Vec<&Vec<u8>> = bad.iter().map(|(_, b, _)| b).collect();
    payloads.sort();
    want.sort();
    assert_eq!(payloads, want);

    let mut all = source.topics().to_vec();
    all.push(s.dlq_topic(domain));
    cleanup(sluice_kafka::delete_topics(&s, &all));
    delete_subjects(&s, summary.topics.iter().map(|t| t.1.clone()));
}

/// The layout without `session_id` (an optional envelope field): what an
/// older producer would have written.
fn older(layout: &RecordLayout) -> RecordLayout {
    let mut l = layout.clone();
    l.fields
        .retain(|f| f.name != sluice_core::layout::SESSION_ID);
    l
}

#[test]
fn older_compatible_writer_schema_is_read_as_the_current_layout() {
    let cfg = config();
    let Some(s) = settings(&cfg) else { return };
    let domain = "ecommerce";
    let layouts = cfg.domain(domain).unwrap().layouts();
    let layout = &layouts[0];
    let topic = s.topic(domain, &layout.event_type);
    sluice_kafka::ensure_topics(&s, std::slice::from_ref(&topic)).unwrap();
    let registry = RegistryClient::new(&s.registry).unwrap();
    let subject = subject_of(&registry, &topic, layout);
    let old_layout = older(layout);
    let old_text = sluice_schema::record_schema_json(&old_layout);
    let old_id = registry.register_checked(&subject, &old_text).unwrap();
    let old_schema = apache_avro::Schema::parse_str(&old_text).unwrap();
    let current = ReaderSchema::from_layout(layout).unwrap();
    // the current schema is a compatible evolution of the old one
    let new_id = registry.register_checked(&subject, &current.text).unwrap();
    assert_ne!(old_id, new_id);

    // events of type 0, re-encoded without session_id
    let all = expected(&cfg, domain, 400, 11);
    let mine: Vec<&Vec<u8>> = all
        .values()
        .filter(|(et, _)| *et == 0)
        .map(|(_, d)| d)
        .collect();
    assert!(mine.len() >= 5, "{}", mine.len());
    let mut p = RawProducer::new(&s).unwrap();
    let mut want = BTreeMap::new();
    for (i, d) in mine.iter().enumerate() {
        let v = apache_avro::from_avro_datum(&current.schema, &mut d.as_slice(), None).unwrap();
        let AvroValue::Record(fields) = v else {
            panic!("not a record")
        };
        let old_fields: Vec<(String, AvroValue)> = fields
            .iter()
            .filter(|(n, _)| n != "session_id")
            .cloned()
            .collect();
        let old_datum =
            apache_avro::to_avro_datum(&old_schema, AvroValue::Record(old_fields)).unwrap();
        // what the current layout should read: session_id null
        let expect: Vec<(String, AvroValue)> = fields
            .into_iter()
            .map(|(n, v)| {
                if n == "session_id" {
                    (n, AvroValue::Union(0, Box::new(AvroValue::Null)))
                } else {
                    (n, v)
                }
            })
            .collect();
        let expect_bytes =
            apache_avro::to_avro_datum(&current.schema, AvroValue::Record(expect)).unwrap();
        let mut msg = Vec::new();
        // alternate old and new writers on the same topic
        if i % 2 == 0 {
            encode_wire(old_id, &old_datum, &mut msg);
            want.insert(sluice_kafka::event_id(d).unwrap().to_vec(), expect_bytes);
        } else {
            encode_wire(new_id, d, &mut msg);
            want.insert(sluice_kafka::event_id(d).unwrap().to_vec(), d.to_vec());
        }
        p.send(&topic, sluice_kafka::entity_key(d), &msg, None, None)
            .unwrap();
    }
    assert_eq!(p.flush(Duration::from_secs(30)).unwrap().errors, 0);

    let mut source = KafkaSource::new(
        &s,
        domain,
        &layouts,
        SourceOptions {
            stop_at_end: true,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let (outs, _) = consume(&mut source, want.len());
    let mut got = BTreeMap::new();
    for o in &outs {
        assert!(o.rejects.is_empty(), "{:?}", o.rejects);
        for i in 0..o.batch.len() {
            let d = o.batch.record(i).unwrap();
            // every record decodes with the current reader schema, nothing left over
            let mut rest = d;
            apache_avro::from_avro_datum(&current.schema, &mut rest, None).unwrap();
            assert!(rest.is_empty());
            got.insert(sluice_kafka::event_id(d).unwrap().to_vec(), d.to_vec());
        }
    }
    assert_eq!(got, want);
    cleanup(sluice_kafka::delete_topics(&s, source.topics()));
    delete_subjects(&s, [subject]);
}

#[test]
fn commit_and_restart_resumes_after_the_committed_offset() {
    let cfg = config();
    let Some(s) = settings(&cfg) else { return };
    let domain = "iot";
    let mut g = generator(&cfg, domain, 300, 5);
    let produced = produce_generated(
        &cfg,
        &s,
        domain,
        &mut g,
        &ProduceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let layouts = cfg.domain(domain).unwrap().layouts();
    let opts = SourceOptions {
        stop_at_end: true,
        ..SourceOptions::default()
    };
    let mut first = KafkaSource::new(&s, domain, &layouts, opts.clone()).unwrap();
    // read everything, commit only the first batch
    let (outs, _) = consume(&mut first, produced.records as usize);
    let total: usize = outs.iter().map(|o| o.len()).sum();
    assert_eq!(total as u64, produced.records);
    let point = first.commit_point(&outs[0]).unwrap();
    first.commit(std::slice::from_ref(&point)).unwrap();
    let assigned = first.assignment().unwrap();
    let committed = first
        .committer()
        .committed(
            &[(point.topic.clone(), point.partition)],
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(committed, vec![Some(point.next_offset)]);
    assert!(!assigned.is_empty());
    drop(first);

    let mut second = KafkaSource::new(&s, domain, &layouts, opts).unwrap();
    let (again, _) = consume(&mut second, total - outs[0].len());
    let n: usize = again.iter().map(|o| o.len()).sum();
    assert_eq!(
        n,
        total - outs[0].len(),
        "only what was not committed is read again"
    );
    let events = second.take_rebalance_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, sluice_kafka::RebalanceEvent::Assigned(_))),
        "{events:?}"
    );
    cleanup(sluice_kafka::delete_topics(&s, second.topics()));
    delete_subjects(&s, produced.topics.iter().map(|t| t.1.clone()));
}

#[test]
fn bench_produces_and_aggregates() {
    let cfg = config();
    let Some(s) = settings(&cfg) else { return };
    let d = cfg.domain("ecommerce").unwrap();
    // the runtime's plan builder lives above connectors; a count per event type is enough here
    let plan = sluice_engine::EnginePlan {
        layouts: d.layouts(),
        aggregations: Vec::new(),
        options: sluice_engine::EngineOptions::default(),
    };
    let r =
        sluice_bench::kafka::run_bench(&cfg, &s, "ecommerce", plan, 5000, TEST_TIMEOUT).unwrap();
    assert_eq!(r.events, r.consumed + r.rejected);
    assert!(r.events >= 5000);
    assert!(r.produce_events_per_sec > 0.0 && r.consume_aggregate_events_per_sec > 0.0);
    // the bare consumer read every message (it fails otherwise) and its bytes
    assert!(r.raw_consume_events_per_sec > 0.0);
    assert!(r.raw_bytes >= 5 * r.events, "{r:?}");
    // the bare producer delivered every message (it fails otherwise)
    assert!(r.raw_produce_events_per_sec > 0.0, "{r:?}");
    let j = r.to_json();
    for k in [
        "raw_consume_events_per_sec",
        "ratio_to_raw",
        "raw_produce_events_per_sec",
        "produce_ratio_to_raw",
        "join_seconds",
        "results",
    ] {
        assert!(j.get(k).is_some(), "`{k}` missing from {j}");
    }
    eprintln!("{j}");
}

#[test]
fn a_second_member_triggers_revocation_and_the_hook() {
    use std::sync::{Arc, Mutex};
    let cfg = config();
    let Some(s) = settings(&cfg) else { return };
    let domain = "fintech";
    let layouts = cfg.domain(domain).unwrap().layouts();
    let revoked: Arc<Mutex<Vec<(String, i32)>>> = Arc::default();
    let seen = revoked.clone();
    let opts = SourceOptions {
        poll_timeout: Duration::from_millis(50),
        on_revoke: Some(Arc::new(move |p: &[(String, i32)]| {
            seen.lock().unwrap().extend_from_slice(p)
        })),
        ..SourceOptions::default()
    };
    let mut a = KafkaSource::new(&s, domain, &layouts, opts.clone()).unwrap();
    let mut out = SourceOutput::default();
    let deadline = Instant::now() + TEST_TIMEOUT;
    while a.assignment().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "first member never got partitions"
        );
        a.next_batch(100, &mut out).unwrap();
    }
    let all = a.assignment().unwrap().len();
    assert_eq!(all, layouts.len() * s.partitions as usize);
    let mut b = KafkaSource::new(&s, domain, &layouts, opts).unwrap();
    loop {
        assert!(Instant::now() < deadline, "rebalance did not finish");
        a.next_batch(100, &mut out).unwrap();
        b.next_batch(100, &mut out).unwrap();
        let (na, nb) = (a.assignment().unwrap(), b.assignment().unwrap());
        if !na.is_empty() && !nb.is_empty() && na.len() + nb.len() == all {
            assert!(na.iter().all(|p| !nb.contains(p)), "assignments overlap");
            break;
        }
    }
    let events = a.take_rebalance_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, sluice_kafka::RebalanceEvent::Revoked(p) if !p.is_empty())),
        "{events:?}"
    );
    assert!(!revoked.lock().unwrap().is_empty(), "on_revoke hook ran");
    cleanup(sluice_kafka::delete_topics(&s, a.topics()));
}

/// Messages in `topic` (sum of high watermarks; the topic is fresh).
fn messages_in(s: &KafkaSettings, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = s
        .client_config(&[], &[("group.id", "sluice-test-count")])
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .map(|p| {
            let (low, high) = c
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap();
            high - low
        })
        .sum()
}

fn dead_letter(
    kind: sluice_connectors::DeadLetterKind,
    topic: &str,
    offset: i64,
    aggregation: Option<&str>,
    payload: Vec<u8>,
) -> DeadLetterRecord {
    DeadLetterRecord {
        kind,
        reason: "test".into(),
        source: topic.into(),
        partition: 1,
        offset,
        event_type: Some("page_view".into()),
        aggregation: aggregation.map(String::from),
        event_time: None,
        payload,
        key: Some(format!("k{offset}").into_bytes()),
        timestamp: Some(1_700_000_000_000 + offset),
    }
}

/// Fresh settings and ecommerce's `page_view` topic (created), or `None`
/// (skip) when the services are down.
fn dlq_fixture() -> Option<(KafkaSettings, String)> {
    let s = settings(&config())?;
    let topic = s.topic("ecommerce", "page_view");
    sluice_kafka::ensure_topics(&s, std::slice::from_ref(&topic)).unwrap();
    Some((s, topic))
}

#[test]
fn dead_letters_written_again_after_restarts_are_inspected_and_replayed_once() {
    use sluice_connectors::DeadLetterKind as K;
    let Some((s, topic)) = dlq_fixture() else {
        return;
    };
    let domain = "ecommerce";
    // five malformed records, and one record late for two aggregations
    let mut recs: Vec<DeadLetterRecord> = (0..5)
        .map(|o| dead_letter(K::Malformed, &topic, o, None, vec![o as u8; 8]))
        .collect();
    for agg in ["a", "b"] {
        recs.push(dead_letter(
            K::Late,
            &topic,
            10,
            Some(agg),
            b"late".to_vec(),
        ));
    }
    let mut dlq = DlqWriter::new(&s, domain, true).unwrap();
    // the first run and two restarts that re-read the same input
    for _ in 0..3 {
        dlq.write_all(&recs, &[]).unwrap();
        dlq.flush(Duration::from_secs(30)).unwrap();
    }
    let read = read_dlq(&s, domain, &DlqStart::Beginning, None, TEST_TIMEOUT).unwrap();
    assert_eq!(read.entries.len(), recs.len(), "each dead letter once");
    assert_eq!(read.duplicates, 2 * recs.len() as u64);

    let r = replay_dlq(&s, domain, &Feeds::new(), None, TEST_TIMEOUT).unwrap();
    assert_eq!(r.replayed, 6, "each source message once: {r:?}");
    assert_eq!(r.duplicates, 3 * recs.len() as u64 - 6);
    assert_eq!(messages_in(&s, &topic), 6);

    // a restart after the replay writes them once more: nothing new to replay
    dlq.write_all(&recs, &[]).unwrap();
    dlq.flush(Duration::from_secs(30)).unwrap();
    let again = replay_dlq(&s, domain, &Feeds::new(), None, TEST_TIMEOUT).unwrap();
    assert_eq!(again.replayed, 0, "{again:?}");
    assert_eq!(again.duplicates, recs.len() as u64);
    assert_eq!(messages_in(&s, &topic), 6);
    cleanup(sluice_kafka::delete_topics(
        &s,
        &[topic, s.dlq_topic(domain)],
    ));
}

#[test]
fn chosen_dead_letters_are_replayed_once_and_late_events_counted_elsewhere_are_refused() {
    use sluice_connectors::DeadLetterKind as K;
    let Some((s, topic)) = dlq_fixture() else {
        return;
    };
    let domain = "ecommerce";
    // three malformed records; one event late for both aggregations
    // `page_view` feeds, one late for `a` only (so `b` counted it)
    let mut recs: Vec<DeadLetterRecord> = (0..3)
        .map(|o| dead_letter(K::Malformed, &topic, o, None, vec![o as u8; 8]))
        .collect();
    for agg in ["a", "b"] {
        recs.push(dead_letter(
            K::Late,
            &topic,
            10,
            Some(agg),
            b"late10".to_vec(),
        ));
    }
    recs.push(dead_letter(
        K::Late,
        &topic,
        11,
        Some("a"),
        b"late11".to_vec(),
    ));
    let mut dlq = DlqWriter::new(&s, domain, true).unwrap();
    dlq.write_all(&recs, &[]).unwrap();
    dlq.flush(TEST_TIMEOUT).unwrap();
    let feeds: Feeds = [(
        "page_view".to_string(),
        ["a", "b"].into_iter().map(String::from).collect(),
    )]
    .into();
    let id =
        |kind: &str, offset: i64, agg: Option<&str>| dead_letter_id(kind, &topic, 1, offset, agg);

    let r = replay_selected(
        &s,
        domain,
        &feeds,
        &[
            id("malformed", 1, None),
            id("late", 10, Some("a")),
            id("late", 11, Some("a")),
            "malformed/nowhere/0/0/".into(),
        ],
        TEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(r.replayed, 2, "{r:?}");
    assert_eq!(r.outcomes[&id("malformed", 1, None)], "replayed");
    assert_eq!(r.outcomes[&id("late", 10, Some("a"))], "replayed");
    let refused = &r.outcomes[&id("late", 11, Some("a"))];
    assert!(
        refused.starts_with("refused") && refused.contains("`b`"),
        "{refused}"
    );
    assert_eq!(r.outcomes["malformed/nowhere/0/0/"], "not found");
    assert_eq!(messages_in(&s, &topic), 2);
    // the ledger names both source messages
    assert_eq!(messages_in(&s, &replay_ledger_topic(&s, domain)), 2);

    // again, also through the other dead letter of the same late event
    let again = replay_selected(
        &s,
        domain,
        &feeds,
        &[id("malformed", 1, None), id("late", 10, Some("b"))],
        TEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(again.replayed, 0, "{again:?}");
    assert!(
        again.outcomes.values().all(|o| o == "already replayed"),
        "{again:?}"
    );

    // `dlq replay` re-injects only what was not replayed from the console,
    // and refuses the late event `b` counted
    let rest = replay_dlq(&s, domain, &feeds, None, TEST_TIMEOUT).unwrap();
    assert_eq!(rest.replayed, 2, "malformed 0 and 2: {rest:?}");
    assert_eq!(rest.refused, 1, "{rest:?}");
    assert_eq!(rest.duplicates, 3, "{rest:?}");
    assert_eq!(messages_in(&s, &topic), 4);
    // and the console after it: nothing new
    let last = replay_selected(
        &s,
        domain,
        &feeds,
        &[id("malformed", 2, None)],
        TEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(last.outcomes[&id("malformed", 2, None)], "already replayed");
    assert_eq!(messages_in(&s, &topic), 4);
    cleanup(sluice_kafka::delete_topics(
        &s,
        &[topic, s.dlq_topic(domain), replay_ledger_topic(&s, domain)],
    ));
}

#[test]
fn a_dead_letter_larger_than_the_topic_takes_is_cut_marked_and_not_replayed() {
    use sluice_kafka::dlq::MAX_DEAD_LETTER_PAYLOAD;
    let Some((s, topic)) = dlq_fixture() else {
        return;
    };
    let domain = "ecommerce";
    let huge: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let small = b"small and broken".to_vec();
    let recs = [
        dead_letter(
            sluice_connectors::DeadLetterKind::Malformed,
            &topic,
            0,
            None,
            huge.clone(),
        ),
        dead_letter(
            sluice_connectors::DeadLetterKind::Malformed,
            &topic,
            1,
            None,
            small.clone(),
        ),
    ];
    let mut dlq = DlqWriter::new(&s, domain, true).unwrap();
    dlq.write_all(&recs, &[]).unwrap();
    dlq.flush(Duration::from_secs(30))
        .expect("a huge payload must not fail the dead-letter write");
    let read = read_dlq(&s, domain, &DlqStart::Beginning, None, TEST_TIMEOUT).unwrap();
    assert_eq!(read.entries.len(), 2);
    let cut = read
        .entries
        .iter()
        .find(|e| e.source_offset == Some(0))
        .unwrap();
    assert_eq!(cut.truncated, Some(huge.len() as u64));
    assert_eq!(cut.payload, huge[..MAX_DEAD_LETTER_PAYLOAD]);
    let whole = read
        .entries
        .iter()
        .find(|e| e.source_offset == Some(1))
        .unwrap();
    assert_eq!((whole.truncated, &whole.payload), (None, &small));

    let r = replay_dlq(&s, domain, &Feeds::new(), None, TEST_TIMEOUT).unwrap();
    assert_eq!((r.replayed, r.truncated), (1, 1), "{r:?}");
    assert_eq!(messages_in(&s, &topic), 1);
    cleanup(sluice_kafka::delete_topics(
        &s,
        &[topic, s.dlq_topic(domain)],
    ));
}
