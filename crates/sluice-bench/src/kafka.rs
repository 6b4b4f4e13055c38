//! `sluice bench kafka`: produce N generated events through the registry
//! and broker, then consume them with [`KafkaSource`] and aggregate them
//! with the engine. Uses fresh topics (`bench.<stamp>.<template>`) and a
//! fresh consumer group; topics and subjects are deleted afterwards. Two
//! physical references in the same run: a bare librdkafka consumer over the
//! same topics, and a bare producer sending the same messages.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_config::Config;
use sluice_engine::{Engine, EnginePlan, Output};
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::registry::RegistryClient;

use sluice_connectors::{Source, SourceOutput, SourceStatus};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::source::{KafkaSource, SourceOptions};
use sluice_kafka::{delete_topics, KafkaError, KafkaSettings};

/// Figures of one benchmark run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchReport {
    /// Events produced (and delivered).
    pub events: u64,
    /// Delivered events per second (registration and topic creation included).
    pub produce_events_per_sec: f64,
    /// Consumed and aggregated events per second, from the start of the
    /// `next_batch` call that brought the first records to the last one
    /// (joining the group excluded).
    pub consume_aggregate_events_per_sec: f64,
    /// Events consumed.
    pub consumed: u64,
    /// Records the source rejected.
    pub rejected: u64,
    /// Window results the engine emitted.
    pub results: u64,
    /// Late events and outliers the engine routed to late output.
    pub late: u64,
    /// Seconds from subscribing to the first record (group join).
    pub join_seconds: f64,
    /// The physical reference, same run: a bare librdkafka consumer with the
    /// settings sluice ships reading the same topics (partitions assigned,
    /// no group), counting messages and bytes and decoding nothing.
    pub raw_consume_events_per_sec: f64,
    /// Bytes the bare consumer read.
    pub raw_bytes: u64,
    /// The producer's physical reference, same run: librdkafka with the
    /// producer settings sluice ships sending the same messages (generated
    /// and wire-encoded beforehand, not timed) to fresh topics: no
    /// generation, no encoding, no registry.
    pub raw_produce_events_per_sec: f64,
}

impl BenchReport {
    /// The one-line JSON the CLI prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "produce_events_per_sec": self.produce_events_per_sec.round(),
            "consume_aggregate_events_per_sec": self.consume_aggregate_events_per_sec.round(),
            "raw_consume_events_per_sec": self.raw_consume_events_per_sec.round(),
            "ratio_to_raw": (self.consume_aggregate_events_per_sec
                / self.raw_consume_events_per_sec.max(1e-9) * 1000.0)
                .round()
                / 1000.0,
            "raw_produce_events_per_sec": self.raw_produce_events_per_sec.round(),
            "produce_ratio_to_raw": (self.produce_events_per_sec
                / self.raw_produce_events_per_sec.max(1e-9)
                * 1000.0)
                .round()
                / 1000.0,
            "consumed": self.consumed,
            "rejected": self.rejected,
            "results": self.results,
            "late": self.late,
            "join_seconds": (self.join_seconds * 1000.0).round() / 1000.0,
        })
    }
}

/// Runs the benchmark for `domain` with `events` base events (generator
/// faults off, seed 1) aggregated by `plan` (the CLI builds it with
/// `sluice_runtime::plan::build`).
pub fn run_bench(
    cfg: &Config,
    settings: &KafkaSettings,
    domain: &str,
    plan: EnginePlan,
    events: u64,
    timeout: Duration,
) -> Result<BenchReport, KafkaError> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut s = settings.clone();
    s.topic_template = format!("bench.{stamp}.{}", settings.topic_template);
    s.group_id = format!("sluice-bench-{stamp}");
    let opts = GeneratorOptions::events(1, events);
    let mut generator = Generator::from_config(cfg, domain, opts)
        .map_err(|e| KafkaError::Config(format!("generator: {e}")))?;
    let layouts: Vec<_> = generator.layouts().cloned().collect();
    let topics: Vec<String> = layouts
        .iter()
        .map(|l| s.topic(domain, &l.event_type))
        .collect();
    let mut subjects = Vec::new();
    let mut raw_topics: Vec<String> = Vec::new();
    let result = (|| {
        let produced = produce_generated(
            cfg,
            &s,
            domain,
            &mut generator,
            &ProduceOptions::default(),
            &mut |_| {},
        )?;
        subjects = produced.topics.iter().map(|t| t.1.clone()).collect();
        let mut engine =
            Engine::new(plan).map_err(|e| KafkaError::Config(format!("engine plan: {e}")))?;
        let mut output = Output::new();
        let mut source = KafkaSource::new(
            &s,
            domain,
            &layouts,
            SourceOptions {
                stop_at_end: true,
                create_topics: false,
                ..SourceOptions::default()
            },
        )?;
        let mut out = SourceOutput::default();
        let subscribed = Instant::now();
        let mut first: Option<Instant> = None;
        let (mut consumed, mut rejected, mut results, mut late) = (0u64, 0u64, 0u64, 0u64);
        let mut declared: Vec<u32> = Vec::new();
        let deadline = subscribed + timeout;
        while consumed + rejected < produced.records {
            if Instant::now() > deadline {
                return Err(KafkaError::Timeout(format!(
                    "consumed {} of {} events",
                    consumed + rejected,
                    produced.records
                )));
            }
            let call = Instant::now();
            let status = source.next_batch(8192, &mut out)?;
            if !out.is_empty() {
                // from the start of the call that brought the first records
                first.get_or_insert(call);
            }
            consumed += out.batch.len() as u64;
            rejected += out.rejects.len() as u64;
            if !out.partitions.is_empty() && out.partitions != declared {
                // as the pipeline does: a partition not read yet holds the
                // watermark back (else its events could be late)
                engine.declare_partitions(&out.partitions, sluice_core::time::now_ms());
                declared.clone_from(&out.partitions);
            }
            engine.process(&out.batch, &mut output);
            late += output.late.len() as u64;
            results += output.results.len() as u64;
            output.clear();
            if status == SourceStatus::End {
                break;
            }
        }
        engine.finish(&mut output);
        results += output.results.len() as u64;
        late += output.late.len() as u64;
        let first = first.unwrap_or(subscribed);
        let secs = first.elapsed().as_secs_f64().max(1e-9);
        drop(source);
        let (raw_rate, raw_bytes) = raw_consume(&s, &topics, produced.records, timeout)?;
        let ids: Vec<u32> = produced.topics.iter().map(|t| t.2).collect();
        let raw_produce = raw_produce(cfg, &s, domain, events, &ids, &mut raw_topics, timeout)?;
        Ok(BenchReport {
            events: produced.delivered,
            produce_events_per_sec: produced.events_per_sec(),
            consume_aggregate_events_per_sec: (consumed + rejected) as f64 / secs,
            consumed,
            rejected,
            results,
            late,
            join_seconds: (first - subscribed).as_secs_f64(),
            raw_consume_events_per_sec: raw_rate,
            raw_bytes,
            raw_produce_events_per_sec: raw_produce,
        })
    })();
    if let Err(e) = delete_topics(&s, &[topics, raw_topics].concat()) {
        tracing::warn!("cannot delete benchmark topics: {e}");
    }
    if let Ok(registry) = RegistryClient::new(&s.registry) {
        for subject in &subjects {
            if let Err(e) = registry.delete_subject(subject, true) {
                tracing::warn!("cannot delete benchmark subject `{subject}`: {e}");
            }
        }
    }
    result
}

/// Sends the messages [`run_bench`] produced (the same generator, seed and
/// count, wire-encoded with the registered schema ids `ids`, keyed by
/// entity) with a bare [`RawProducer`] to fresh topics (named into
/// `made`): delivered messages per second from the first send to the end
/// of the flush. Generating and encoding happen before the clock starts.
fn raw_produce(
    cfg: &Config,
    s: &KafkaSettings,
    domain: &str,
    events: u64,
    ids: &[u32],
    made: &mut Vec<String>,
    timeout: Duration,
) -> Result<f64, KafkaError> {
    use sluice_kafka::producer::RawProducer;
    use sluice_kafka::registry::encode_wire;
    let mut generator = Generator::from_config(cfg, domain, GeneratorOptions::events(1, events))
        .map_err(|e| KafkaError::Config(format!("generator: {e}")))?;
    let mut raw = s.clone();
    raw.topic_template = format!("raw.{}", s.topic_template);
    let topics: Vec<String> = generator
        .layouts()
        .map(|l| raw.topic(domain, &l.event_type))
        .collect();
    made.clone_from(&topics);
    sluice_kafka::ensure_topics(&raw, &topics)?;
    // (event type, key, message) for every record, as `produce_generated`
    // would send them
    let mut messages: Vec<(usize, Option<Vec<u8>>, Vec<u8>)> = Vec::new();
    let mut batch = sluice_generator::EncodedBatch::default();
    while generator.fill_mixed(8192, &mut batch) > 0 {
        for i in 0..batch.len() {
            let et = batch
                .event_types
                .get(i)
                .copied()
                .unwrap_or(batch.event_type) as usize;
            if let (Some(d), Some(&id)) = (batch.record(i), ids.get(et)) {
                let mut wire = Vec::with_capacity(d.len() + 5);
                encode_wire(id, d, &mut wire);
                messages.push((et, sluice_kafka::entity_key(d).map(<[u8]>::to_vec), wire));
            }
        }
    }
    let mut producer = RawProducer::new(&raw)?;
    let start = Instant::now();
    for (et, key, wire) in &messages {
        producer.send(&topics[*et], key.as_deref(), wire, None, None)?;
    }
    let stats = producer.flush(timeout)?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    if stats.errors > 0 || stats.sent < messages.len() as u64 {
        return Err(KafkaError::Delivery {
            failed: messages.len() as u64 - stats.sent.min(messages.len() as u64),
            first: stats
                .first_error
                .unwrap_or_else(|| "flush timed out".into()),
        });
    }
    Ok(stats.sent as f64 / secs)
}

/// Reads `want` messages of `topics` from the beginning with a bare
/// librdkafka consumer (sluice's consumer settings, partitions assigned
/// directly): messages per second from the first message to the last, and
/// the bytes read.
fn raw_consume(
    s: &KafkaSettings,
    topics: &[String],
    want: u64,
    timeout: Duration,
) -> Result<(f64, u64), KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let group = format!("{}-raw", s.group_id);
    let consumer: BaseConsumer = s
        .client_config(
            sluice_kafka::source::CONSUMER_DEFAULTS,
            &[
                ("group.id", group.as_str()),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "false"),
            ],
        )
        .create()
        .map_err(|e| KafkaError::client("consumer creation", e))?;
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        let md = consumer
            .fetch_metadata(Some(t), Duration::from_secs(10))
            .map_err(|e| KafkaError::client(format!("metadata of `{t}`"), e))?;
        for p in md.topics().iter().flat_map(|m| m.partitions()) {
            tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                .map_err(|e| KafkaError::client("build assignment", e))?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(|e| KafkaError::client("assign", e))?;
    let deadline = Instant::now() + timeout;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    while n < want {
        if Instant::now() > deadline {
            return Err(KafkaError::Timeout(format!(
                "raw consumer read {n} of {want} messages"
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                n += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => tracing::warn!("raw consumer: {e}"),
            None => {}
        }
    }
    let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64()).max(1e-9);
    Ok((n as f64 / secs, bytes))
}

/// Runs `sluice bench kafka` on `domain`'s configured plan; `secrets` are
/// the configuration's resolved secrets.
pub fn kafka(
    cfg: &Config,
    domain: &str,
    events: u64,
    timeout: Duration,
    secrets: &sluice_secrets::ResolvedSecrets,
) -> Result<crate::Report, crate::BenchError> {
    let d = cfg
        .domain(domain)
        .ok_or_else(|| crate::BenchError::Usage(format!("unknown domain `{domain}`")))?;
    let settings = KafkaSettings::from_config(&cfg.platform.kafka, secrets)?;
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
    let r = run_bench(cfg, &settings, domain, built.plan, events, timeout)?;
    let measured = crate::Measured::domain(d);
    let mut json = r.to_json();
    json["measured"] = measured.json();
    let text = format!(
        "measured                    {}\n\
         events                      {}\n\
         produce events/s            {:.0}  (bare librdkafka, same messages: {:.0}; ratio {:.3})\n\
         consume+aggregate events/s  {:.0}  (group join {:.1}s not counted; {} results)\n\
         raw consume events/s        {:.0}  (bare librdkafka, same topics and settings; ratio {:.3})\n",
        measured.plan,
        r.events,
        r.produce_events_per_sec,
        r.raw_produce_events_per_sec,
        r.produce_events_per_sec / r.raw_produce_events_per_sec.max(1e-9),
        r.consume_aggregate_events_per_sec,
        r.join_seconds,
        r.results,
        r.raw_consume_events_per_sec,
        r.consume_aggregate_events_per_sec / r.raw_consume_events_per_sec.max(1e-9)
    );
    Ok(crate::Report { json, text })
}
