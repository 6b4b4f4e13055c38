//! The producer: an idempotent librdkafka producer with counted delivery
//! reports ([`RawProducer`]), the event producer that frames datums with
//! their registered schema ids and keys them by entity ([`EventProducer`]),
//! and [`produce_generated`] for `sluice generate --to kafka`.
//!
//! Retries and back-off are librdkafka's (`retry.backoff.ms`,
//! `retry.backoff.max.ms`, `message.timeout.ms`); with idempotence on they
//! keep per-partition order and never duplicate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::registry::{encode_wire, RegistryClient};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use sluice_config::Config;
use sluice_core::layout::record_name;
use sluice_core::RecordLayout;
use sluice_generator::{EncodedBatch, Generator};

use crate::{ensure_topics, entity_key, KafkaError, KafkaSettings};

/// Delivery counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Messages acknowledged by the broker.
    pub sent: u64,
    /// Messages that finally failed.
    pub errors: u64,
    /// The first delivery error, if any.
    pub first_error: Option<String>,
}

/// Counts delivery reports.
#[derive(Debug, Default)]
pub struct DeliveryCounter {
    sent: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    sasl: crate::sasl::SaslRotation,
}

impl ClientContext for DeliveryCounter {
    fn error(&self, error: RdError, reason: &str) {
        self.sasl.on_error(&error, reason);
    }
}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}

/// An idempotent producer of raw messages with counted delivery reports.
pub struct RawProducer {
    producer: BaseProducer<DeliveryCounter>,
    queued: u64,
}

impl std::fmt::Debug for RawProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProducer")
            .field("queued", &self.queued)
            .finish()
    }
}

impl RawProducer {
    /// A producer for `settings`: compression from the configuration (lz4 by
    /// default), `linger.ms=5`, retries with back-off 100 ms → 1 s, message
    /// timeout 60 s; pass-through properties override these;
    /// `enable.idempotence=true` is always set.
    pub fn new(settings: &KafkaSettings) -> Result<Self, KafkaError> {
        let compression = if settings.compression.is_empty() {
            "lz4"
        } else {
            settings.compression.as_str()
        };
        let producer: BaseProducer<DeliveryCounter> = settings
            .client_config(
                &[
                    ("compression.type", compression),
                    ("linger.ms", "5"),
                    ("batch.num.messages", "10000"),
                    ("queue.buffering.max.messages", "500000"),
                    ("retry.backoff.ms", "100"),
                    ("retry.backoff.max.ms", "1000"),
                    ("message.timeout.ms", "60000"),
                ],
                &[("enable.idempotence", "true")],
            )
            .create_with_context(DeliveryCounter {
                sasl: settings.sasl_rotation(),
                ..DeliveryCounter::default()
            })
            .map_err(|e| KafkaError::client("producer creation", e))?;
        producer.context().sasl.bind(producer.client());
        Ok(Self {
            producer,
            queued: 0,
        })
    }

    /// Queues one message; waits (serving delivery reports) while the local
    /// queue is full.
    pub fn send(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        partition: Option<i32>,
    ) -> Result<(), KafkaError> {
        self.send_with_timestamp(topic, key, payload, headers, partition, None)
    }

    /// [`RawProducer::send`] with an explicit message timestamp (epoch ms;
    /// `None`: the time of sending).
    pub fn send_with_timestamp(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        partition: Option<i32>,
        timestamp: Option<i64>,
    ) -> Result<(), KafkaError> {
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(payload);
        if let Some(t) = timestamp {
            rec = rec.timestamp(t);
        }
        if let Some(k) = key {
            rec = rec.key(k);
        }
        if let Some(h) = headers {
            rec = rec.headers(h);
        }
        if let Some(p) = partition {
            rec = rec.partition(p);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.producer.send(rec) {
                Ok(()) => break,
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if Instant::now() > deadline {
                        return Err(KafkaError::Timeout(format!(
                            "producer queue for `{topic}` stayed full for 60 s"
                        )));
                    }
                    rec = back;
                    self.producer.poll(Duration::from_millis(20));
                }
                Err((e, _)) => return Err(KafkaError::client(format!("send to `{topic}`"), e)),
            }
        }
        self.queued += 1;
        if self.queued % 1024 == 0 {
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Serves delivery reports without blocking.
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until every queued message is delivered or failed.
    pub fn flush(&mut self, timeout: Duration) -> Result<ProducerStats, KafkaError> {
        self.producer
            .flush(timeout)
            .map_err(|e| KafkaError::client("flush", e))?;
        Ok(self.stats())
    }

    /// Delivery counts so far.
    pub fn stats(&self) -> ProducerStats {
        let c = self.producer.context();
        ProducerStats {
            sent: c.sent.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            first_error: c
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Messages queued so far.
    pub fn queued(&self) -> u64 {
        self.queued
    }
}

/// Options of [`EventProducer::new`] / [`produce_generated`].
#[derive(Clone, Debug)]
pub struct ProduceOptions {
    /// Create missing topics (partitions, replication, retention from config).
    pub create_topics: bool,
    /// Check each schema against the subject's latest version before registering.
    pub check_compatibility: bool,
    /// Events per generator batch.
    pub batch_size: usize,
    /// How long the final flush may take.
    pub flush_timeout: Duration,
}

impl Default for ProduceOptions {
    fn default() -> Self {
        Self {
            create_topics: true,
            check_compatibility: false,
            batch_size: 8192,
            flush_timeout: Duration::from_secs(60),
        }
    }
}

/// Produces a domain's events: one topic and one registered schema per
/// event type; every message is `magic + schema id + datum`, keyed by the
/// event's entity key.
pub struct EventProducer {
    raw: RawProducer,
    topics: Vec<String>,
    subjects: Vec<String>,
    schema_ids: Vec<u32>,
    scratch: Vec<u8>,
    bytes: u64,
    per_type: Vec<u64>,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer")
            .field("topics", &self.topics)
            .field("schema_ids", &self.schema_ids)
            .finish_non_exhaustive()
    }
}

/// The registry subject of `layout` written to `topic`.
pub fn subject_of(registry: &RegistryClient, topic: &str, layout: &RecordLayout) -> String {
    let full = if layout.namespace.is_empty() {
        record_name(&layout.event_type)
    } else {
        format!("{}.{}", layout.namespace, record_name(&layout.event_type))
    };
    registry.subject_for(topic, &full)
}

impl EventProducer {
    /// Creates the topics (if asked), registers every layout's schema and
    /// opens the producer. `layouts` are in event type id order.
    pub fn new(
        settings: &KafkaSettings,
        domain: &str,
        layouts: &[RecordLayout],
        opts: &ProduceOptions,
    ) -> Result<Self, KafkaError> {
        let topics: Vec<String> = layouts
            .iter()
            .map(|l| settings.topic(domain, &l.event_type))
            .collect();
        if opts.create_topics {
            ensure_topics(settings, &topics)?;
        }
        let registry = RegistryClient::new(&settings.registry)?;
        let mut subjects = Vec::new();
        let mut schema_ids = Vec::new();
        for (layout, topic) in layouts.iter().zip(&topics) {
            let subject = subject_of(&registry, topic, layout);
            let schema = sluice_schema::record_schema_json(layout);
            let id = if opts.check_compatibility {
                registry.register_checked(&subject, &schema)?
            } else {
                registry.register(&subject, &schema)?
            };
            subjects.push(subject);
            schema_ids.push(id);
        }
        Ok(Self {
            raw: RawProducer::new(settings)?,
            per_type: vec![0; topics.len()],
            topics,
            subjects,
            schema_ids,
            scratch: Vec::new(),
            bytes: 0,
        })
    }

    /// Sends one plain datum of event type `event_type` (id), keyed by its
    /// entity key.
    pub fn send(&mut self, event_type: u32, datum: &[u8]) -> Result<(), KafkaError> {
        let i = event_type as usize;
        let (Some(topic), Some(&id)) = (self.topics.get(i), self.schema_ids.get(i)) else {
            return Err(KafkaError::Config(format!(
                "unknown event type id `{event_type}`"
            )));
        };
        self.scratch.clear();
        encode_wire(id, datum, &mut self.scratch);
        let key = entity_key(datum);
        self.raw.send(topic, key, &self.scratch, None, None)?;
        self.bytes += self.scratch.len() as u64;
        self.per_type[i] += 1;
        Ok(())
    }

    /// Sends a message as is to the topic of `event_type` (tests, replays).
    pub fn send_raw(
        &mut self,
        event_type: u32,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), KafkaError> {
        let topic = self
            .topics
            .get(event_type as usize)
            .ok_or_else(|| KafkaError::Config(format!("unknown event type id `{event_type}`")))?;
        self.raw.send(topic, key, payload, None, None)
    }

    /// Waits for every delivery report.
    pub fn flush(&mut self, timeout: Duration) -> Result<ProducerStats, KafkaError> {
        self.raw.flush(timeout)
    }

    /// Delivery counts so far.
    pub fn stats(&self) -> ProducerStats {
        self.raw.stats()
    }

    /// Topic of every event type.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Registry subject of every event type.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// Registered schema id of every event type.
    pub fn schema_ids(&self) -> &[u32] {
        &self.schema_ids
    }
}

/// What [`produce_generated`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProduceSummary {
    /// Messages produced (base events plus injected duplicates).
    pub records: u64,
    /// Acknowledged by the broker.
    pub delivered: u64,
    /// Bytes of message values.
    pub bytes: u64,
    /// (topic, subject, schema id, messages) per event type.
    pub topics: Vec<(String, String, u32, u64)>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl ProduceSummary {
    /// Delivered messages per second.
    pub fn events_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.delivered as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// `sluice generate --domain D --to kafka --count N`: runs `generator` to
/// its limit, registering each event type's schema and sending every record
/// to its topic, then waits for every delivery. Fails when any message was
/// not delivered. `progress` is called after every batch with the records
/// sent so far.
pub fn produce_generated(
    cfg: &Config,
    settings: &KafkaSettings,
    domain: &str,
    generator: &mut Generator,
    opts: &ProduceOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ProduceSummary, KafkaError> {
    if cfg.domain(domain).is_none() {
        return Err(KafkaError::Config(format!("unknown domain `{domain}`")));
    }
    let layouts: Vec<RecordLayout> = generator.layouts().cloned().collect();
    let start = Instant::now();
    let mut p = EventProducer::new(settings, domain, &layouts, opts)?;
    let mut batch = EncodedBatch::default();
    let mut records = 0u64;
    loop {
        if generator.fill_mixed(opts.batch_size.max(1), &mut batch) == 0 {
            break;
        }
        for i in 0..batch.len() {
            let et = batch
                .event_types
                .get(i)
                .copied()
                .unwrap_or(batch.event_type);
            if let Some(d) = batch.record(i) {
                p.send(et, d)?;
                records += 1;
            }
        }
        p.raw.poll();
        progress(records);
    }
    let stats = p.flush(opts.flush_timeout)?;
    if stats.errors > 0 || stats.sent < records {
        return Err(KafkaError::Delivery {
            failed: records - stats.sent.min(records),
            first: stats
                .first_error
                .unwrap_or_else(|| "flush timed out".into()),
        });
    }
    Ok(ProduceSummary {
        records,
        delivered: stats.sent,
        bytes: p.bytes,
        topics: p
            .topics
            .iter()
            .zip(&p.subjects)
            .zip(&p.schema_ids)
            .zip(&p.per_type)
            .map(|(((t, s), id), n)| (t.clone(), s.clone(), *id, *n))
            .collect(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
