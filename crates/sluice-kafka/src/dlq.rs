//! The dead-letter topic (`dlq_topic_template`, e.g. `{domain}.dlq`): every
//! dead letter is written with its ORIGINAL bytes as the value, the original
//! key as the key, and why/where in headers ([`H_ERROR_KIND`],
//! [`H_ERROR_MESSAGE`], [`H_SOURCE_TOPIC`], [`H_SOURCE_PARTITION`],
//! [`H_SOURCE_OFFSET`], [`H_SOURCE_TIMESTAMP`], plus event type and
//! aggregation when known). [`read_dlq`] lists them; [`replay_dlq`]
//! re-injects them into their source topics, remembering (as a consumer
//! group) how far it got so a second replay does not repeat the first.
//!
//! Idempotence: the topic is written at least once (a run that restarts
//! after a crash reads its input again from the committed offsets and
//! writes the same dead letters again). Each carries an identity
//! ([`H_DEAD_LETTER_ID`]); [`read_dlq`] shows each identity once and counts
//! the repeats, and [`replay_dlq`] re-injects each source message once, ever:
//! a message whose dead letter was replayed before (or that several
//! aggregations found late) is not replayed again.
//!
//! [`replay_selected`] re-injects chosen dead letters (the console's Replay
//! button) and records each in the replay ledger ([`replay_ledger_topic`],
//! keyed by source message), which both replays read: a message replayed
//! one way is never replayed again the other way.
//!
//! A late event is late for some aggregations only; the others counted it.
//! Re-injected, it would feed all of them again, so both replays refuse a
//! late event that an aggregation of its event type accepted the first time
//! ([`Feeds`]): counted twice would be worse than not replayed.
//!
//! A payload larger than [`MAX_DEAD_LETTER_PAYLOAD`] is cut to that size and
//! marked ([`H_PAYLOAD_TRUNCATED`]): a huge undecodable message must not
//! make the dead-letter write fail and stop the pipeline. Replay skips such
//! dead letters (the original is still in its source topic).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::registry::decode_wire;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::producer::{ProducerStats, RawProducer};
use crate::source::RejectMeta;
use crate::{
    ensure_topics, entity_key, KafkaError, KafkaSettings, H_AGGREGATION, H_DEAD_LETTER_ID,
    H_ERROR_KIND, H_ERROR_MESSAGE, H_EVENT_TYPE, H_PAYLOAD_TRUNCATED, H_SOURCE_OFFSET,
    H_SOURCE_PARTITION, H_SOURCE_TIMESTAMP, H_SOURCE_TOPIC,
};

/// The largest payload a dead letter carries (bytes): well under the
/// broker's default message size limit (1 MiB) with room for headers.
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 512 * 1024;

/// A dead letter's identity: the same record, kind and aggregation always
/// give the same text.
pub fn dead_letter_id(
    kind: &str,
    topic: &str,
    partition: i64,
    offset: i64,
    aggregation: Option<&str>,
) -> String {
    format!(
        "{kind}/{topic}/{partition}/{offset}/{}",
        aggregation.unwrap_or("")
    )
}
use sluice_connectors::{DeadLetterKind, DeadLetterRecord};

/// Writes dead letters to a domain's dead-letter topic.
#[derive(Debug)]
pub struct DlqWriter {
    raw: RawProducer,
    topic: String,
}

fn derived_key(rec: &DeadLetterRecord) -> Option<&[u8]> {
    match decode_wire(&rec.payload) {
        Ok((_, datum)) => entity_key(datum),
        // late events and outliers carry the plain datum
        Err(_) if rec.kind != DeadLetterKind::Malformed => entity_key(&rec.payload),
        Err(_) => None,
    }
}

impl DlqWriter {
    /// A writer for `domain`'s dead-letter topic, created if missing when
    /// `create_topic`.
    pub fn new(
        settings: &KafkaSettings,
        domain: &str,
        create_topic: bool,
    ) -> Result<Self, KafkaError> {
        let topic = settings.dlq_topic(domain);
        if create_topic {
            ensure_topics(settings, std::slice::from_ref(&topic))?;
        }
        Ok(Self {
            raw: RawProducer::new(settings)?,
            topic,
        })
    }

    /// The dead-letter topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues one dead letter. `meta` gives the original key and timestamp
    /// (from [`KafkaSource::reject_meta`](super::KafkaSource::reject_meta));
    /// without it the key is read from the payload when it is a datum.
    pub fn write(
        &mut self,
        rec: &DeadLetterRecord,
        meta: Option<&RejectMeta>,
    ) -> Result<(), KafkaError> {
        let partition = rec.partition.to_string();
        let offset = rec.offset.to_string();
        let id = dead_letter_id(
            rec.kind.as_str(),
            &rec.source,
            i64::from(rec.partition),
            rec.offset,
            rec.aggregation.as_deref(),
        );
        let (payload, truncated) = if rec.payload.len() > MAX_DEAD_LETTER_PAYLOAD {
            (
                &rec.payload[..MAX_DEAD_LETTER_PAYLOAD],
                Some(rec.payload.len().to_string()),
            )
        } else {
            (&rec.payload[..], None)
        };
        let timestamp = meta
            .and_then(|m| m.timestamp)
            .or(rec.timestamp)
            .map(|t| t.to_string());
        let mut h = OwnedHeaders::new()
            .insert(Header {
                key: H_ERROR_KIND,
                value: Some(rec.kind.as_str()),
            })
            .insert(Header {
                key: H_ERROR_MESSAGE,
                value: Some(rec.reason.as_str()),
            })
            .insert(Header {
                key: H_SOURCE_TOPIC,
                value: Some(rec.source.as_str()),
            })
            .insert(Header {
                key: H_SOURCE_PARTITION,
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: H_SOURCE_OFFSET,
                value: Some(offset.as_str()),
            })
            .insert(Header {
                key: H_DEAD_LETTER_ID,
                value: Some(id.as_str()),
            });
        if let Some(n) = &truncated {
            h = h.insert(Header {
                key: H_PAYLOAD_TRUNCATED,
                value: Some(n.as_str()),
            });
        }
        if let Some(t) = &timestamp {
            h = h.insert(Header {
                key: H_SOURCE_TIMESTAMP,
                value: Some(t.as_str()),
            });
        }
        if let Some(e) = &rec.event_type {
            h = h.insert(Header {
                key: H_EVENT_TYPE,
                value: Some(e.as_str()),
            });
        }
        if let Some(a) = &rec.aggregation {
            h = h.insert(Header {
                key: H_AGGREGATION,
                value: Some(a.as_str()),
            });
        }
        let key = match meta.and_then(|m| m.key.as_deref()).or(rec.key.as_deref()) {
            Some(k) => Some(k),
            None => derived_key(rec),
        };
        let topic = self.topic.clone();
        self.raw.send(&topic, key, payload, Some(h), None)
    }

    /// Queues every dead letter; `metas` is parallel to `recs` (may be
    /// shorter or empty).
    pub fn write_all(
        &mut self,
        recs: &[DeadLetterRecord],
        metas: &[RejectMeta],
    ) -> Result<usize, KafkaError> {
        for (i, r) in recs.iter().enumerate() {
            self.write(r, metas.get(i))?;
        }
        Ok(recs.len())
    }

    /// Waits until everything queued is delivered; fails if any was not.
    pub fn flush(&mut self, timeout: Duration) -> Result<ProducerStats, KafkaError> {
        let stats = self.raw.flush(timeout)?;
        if stats.errors > 0 {
            return Err(KafkaError::Delivery {
                failed: stats.errors,
                first: stats.first_error.clone().unwrap_or_default(),
            });
        }
        Ok(stats)
    }
}

/// One record of the dead-letter topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqEntry {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in the dead-letter topic.
    pub offset: i64,
    /// Original key.
    pub key: Option<Vec<u8>>,
    /// Original bytes.
    pub payload: Vec<u8>,
    /// `sluice.error.kind`.
    pub kind: String,
    /// `sluice.error.message`.
    pub message: String,
    /// `sluice.source.topic`.
    pub source_topic: Option<String>,
    /// `sluice.source.partition`.
    pub source_partition: Option<i32>,
    /// `sluice.source.offset`.
    pub source_offset: Option<i64>,
    /// `sluice.source.timestamp` (epoch ms).
    pub source_timestamp: Option<i64>,
    /// `sluice.event_type`.
    pub event_type: Option<String>,
    /// `sluice.aggregation`.
    pub aggregation: Option<String>,
    /// Every header as received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// `sluice.dead_letter.id` (computed from the other headers for dead
    /// letters written before it existed).
    pub id: String,
    /// The original payload's length when `payload` is only its beginning.
    pub truncated: Option<u64>,
}

impl DlqEntry {
    /// What replay re-injects once: the source message, else the dead letter.
    fn source_key(&self) -> String {
        match (
            &self.source_topic,
            self.source_partition,
            self.source_offset,
        ) {
            (Some(t), Some(p), Some(o)) => format!("{t}/{p}/{o}"),
            _ => self.id.clone(),
        }
    }
}

impl DlqEntry {
    /// A header's value as text.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// JSON for `sluice dlq inspect --format json` (payload as hex and, when
    /// it is text, as text).
    pub fn to_json(&self) -> serde_json::Value {
        let hex = sluice_connectors::dead_letter::to_hex(&self.payload);
        serde_json::json!({
            "partition": self.partition,
            "offset": self.offset,
            "kind": self.kind,
            "message": self.message,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "source_timestamp": self.source_timestamp,
            "event_type": self.event_type,
            "aggregation": self.aggregation,
            "key": self.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
            "payload_len": self.payload.len(),
            "payload_hex": hex,
        })
    }
}

/// Where [`read_dlq`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DlqStart {
    /// From the first record (inspect).
    Beginning,
    /// From the offsets committed by this consumer group (replay).
    Committed(String),
}

/// Records read by [`read_dlq`] and where each partition's reading stopped.
#[derive(Debug, Default)]
pub struct DlqRead {
    /// Records, by partition then offset.
    pub entries: Vec<DlqEntry>,
    /// (partition, next offset) after the last record returned per partition.
    pub next: Vec<(i32, i64)>,
    /// Repeats of a dead letter already returned (written again after a
    /// restart), left out of `entries`.
    pub duplicates: u64,
}

fn reader(settings: &KafkaSettings, group: &str) -> Result<BaseConsumer, KafkaError> {
    settings
        .client_config(
            &[("fetch.wait.max.ms", "50")],
            &[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "false"),
            ],
        )
        .create()
        .map_err(|e| KafkaError::client("consumer creation", e))
}

/// Reads up to `limit` records of `domain`'s dead-letter topic (all when
/// `None`), up to the high watermarks seen at the start. A missing topic
/// reads as empty.
pub fn read_dlq(
    settings: &KafkaSettings,
    domain: &str,
    start: &DlqStart,
    limit: Option<usize>,
    timeout: Duration,
) -> Result<DlqRead, KafkaError> {
    let topic = settings.dlq_topic(domain);
    let group = match start {
        DlqStart::Beginning => format!("{}-dlq-inspect", settings.group_id),
        DlqStart::Committed(g) => g.clone(),
    };
    let consumer = reader(settings, &group)?;
    read_with(&consumer, &topic, start, limit, timeout, true)
}

fn read_with(
    consumer: &BaseConsumer,
    topic: &str,
    start: &DlqStart,
    limit: Option<usize>,
    timeout: Duration,
    dedupe: bool,
) -> Result<DlqRead, KafkaError> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| KafkaError::client(format!("metadata of `{topic}`"), e))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut out = DlqRead::default();
    if partitions.is_empty() {
        return Ok(out);
    }
    let committed: BTreeMap<i32, i64> = match start {
        DlqStart::Beginning => BTreeMap::new(),
        DlqStart::Committed(_) => {
            let mut tpl = TopicPartitionList::new();
            for p in &partitions {
                tpl.add_partition(topic, *p);
            }
            let c = consumer
                .committed_offsets(tpl, Duration::from_secs(10))
                .map_err(|e| KafkaError::client("read committed offsets", e))?;
            c.elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((e.partition(), o)),
                    _ => None,
                })
                .collect()
        }
    };
    // (partition, start, end) with end = high watermark now
    let mut todo: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for p in &partitions {
        let (low, high) = crate::watermarks(consumer, topic, *p, Duration::from_secs(10))?;
        let from = committed.get(p).copied().unwrap_or(low).max(low);
        out.next.push((*p, from));
        if from < high {
            todo.insert(*p, (from, high));
        }
    }
    if todo.is_empty() || limit == Some(0) {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    for (p, (from, _)) in &todo {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*from))
            .map_err(|e| KafkaError::client("build assignment", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| KafkaError::client("assign", e))?;
    let deadline = Instant::now() + timeout;
    let mut per_part: BTreeMap<i32, Vec<DlqEntry>> = BTreeMap::new();
    let mut remaining: BTreeMap<i32, i64> = todo.iter().map(|(p, (_, end))| (*p, *end)).collect();
    while !remaining.is_empty() {
        if Instant::now() > deadline {
            return Err(KafkaError::Timeout(format!(
                "reading `{topic}` did not reach its end within {timeout:?}"
            )));
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.map_err(|e| KafkaError::client(format!("read `{topic}`"), e))?;
        let p = m.partition();
        let Some(&end) = remaining.get(&p) else {
            continue;
        };
        if m.offset() >= end {
            remaining.remove(&p);
            continue;
        }
        let mut e = DlqEntry {
            partition: p,
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().unwrap_or(&[]).to_vec(),
            ..DlqEntry::default()
        };
        if let Some(h) = m.headers() {
            for hd in h.iter() {
                e.headers
                    .push((hd.key.to_string(), hd.value.unwrap_or(&[]).to_vec()));
            }
        }
        let text = |k: &str| e.header(k).map(str::to_string);
        let kind = text(H_ERROR_KIND).unwrap_or_default();
        let message = text(H_ERROR_MESSAGE).unwrap_or_default();
        let source_topic = text(H_SOURCE_TOPIC);
        let source_partition = text(H_SOURCE_PARTITION).and_then(|v| v.parse().ok());
        let source_offset = text(H_SOURCE_OFFSET).and_then(|v| v.parse().ok());
        let source_timestamp = text(H_SOURCE_TIMESTAMP).and_then(|v| v.parse().ok());
        let event_type = text(H_EVENT_TYPE);
        let aggregation = text(H_AGGREGATION);
        let truncated = text(H_PAYLOAD_TRUNCATED).and_then(|v| v.parse().ok());
        let id = text(H_DEAD_LETTER_ID).unwrap_or_else(|| {
            dead_letter_id(
                &kind,
                source_topic.as_deref().unwrap_or(""),
                source_partition.map_or(-1, i64::from),
                source_offset.unwrap_or(-1),
                aggregation.as_deref(),
            )
        });
        e = DlqEntry {
            id,
            truncated,
            kind,
            message,
            source_topic,
            source_partition,
            source_offset,
            source_timestamp,
            event_type,
            aggregation,
            ..e
        };
        if m.offset() + 1 >= end {
            remaining.remove(&p);
        }
        per_part.entry(p).or_default().push(e);
    }
    let mut all: Vec<DlqEntry> = per_part.into_values().flatten().collect();
    all.sort_by_key(|e| (e.partition, e.offset));
    if dedupe {
        // each dead letter once (a restart writes some again)
        let before = all.len();
        let mut seen = std::collections::HashSet::new();
        all.retain(|e| seen.insert(e.id.clone()));
        out.duplicates = (before - all.len()) as u64;
    }
    if let Some(l) = limit {
        all.truncate(l);
    }
    for (p, next) in &mut out.next {
        if let Some(last) = all
            .iter()
            .filter(|e| e.partition == *p)
            .map(|e| e.offset)
            .max()
        {
            *next = last + 1;
        }
    }
    out.entries = all;
    Ok(out)
}

/// What [`replay_dlq`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Records re-injected.
    pub replayed: u64,
    /// Records skipped because they name no source topic.
    pub skipped: u64,
    /// Dead letters whose source message was replayed before (a repeat
    /// written after a restart, or the same late event for several
    /// aggregations): not re-injected again.
    pub duplicates: u64,
    /// Dead letters carrying only the beginning of a huge payload: not
    /// re-injected (the original is in its source topic, at its offset).
    pub truncated: u64,
    /// Re-injected records per source topic.
    pub by_topic: BTreeMap<String, u64>,
    /// Late events refused: an aggregation of their event type accepted them
    /// the first time, and would count them twice.
    pub refused: u64,
    /// [`replay_selected`]: what happened to each dead letter asked for,
    /// by identity (`replayed`, `already replayed`, `not found`,
    /// `truncated`, `no source topic`).
    pub outcomes: BTreeMap<String, String>,
}

/// The aggregations each event type feeds, by event type (from the
/// domain's configuration): what a re-injected event is counted by.
pub type Feeds = BTreeMap<String, BTreeSet<String>>;

/// [`Feeds`] of a domain: an aggregation naming no event types reads all.
pub fn feeds(d: &sluice_config::DomainConfig) -> Feeds {
    d.event_types
        .iter()
        .map(|et| {
            let name = &et.name.value;
            let aggs = d
                .aggregations
                .iter()
                .filter(|a| {
                    a.event_types.is_empty() || a.event_types.iter().any(|e| &e.value == name)
                })
                .map(|a| a.name.value.clone())
                .collect();
            (name.clone(), aggs)
        })
        .collect()
}

/// Why a dead letter must not be replayed: it is a late event that some
/// aggregation of its event type accepted (those not among the ones it was
/// late for, across all its dead letters `late_for`).
fn counted_before(
    e: &DlqEntry,
    feeds: &Feeds,
    late_for: &HashMap<String, BTreeSet<String>>,
) -> Option<String> {
    if e.kind != "late" {
        return None;
    }
    let fed = feeds.get(e.event_type.as_deref()?)?;
    let late = late_for.get(&e.source_key());
    let accepted: Vec<&str> = fed
        .iter()
        .filter(|a| !late.is_some_and(|l| l.contains(*a)))
        .map(String::as_str)
        .collect();
    (!accepted.is_empty()).then(|| {
        format!(
            "refused: counted by {} the first time (replayed, it would be counted twice)",
            accepted
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Whether a dead letter is re-injected, and if not why; counted in
/// `summary` (what both replays decide the same way, in the same order).
fn judge(
    e: &DlqEntry,
    feeds: &Feeds,
    late: &HashMap<String, BTreeSet<String>>,
    handled: &mut std::collections::HashSet<String>,
    summary: &mut ReplaySummary,
) -> Option<String> {
    if e.source_topic.is_none() {
        summary.skipped += 1;
        return Some("no source topic".into());
    }
    if e.truncated.is_some() {
        summary.truncated += 1;
        return Some("truncated".into());
    }
    if let Some(why) = counted_before(e, feeds, late) {
        summary.refused += 1;
        return Some(why);
    }
    if !handled.insert(e.source_key()) {
        summary.duplicates += 1;
        return Some("already replayed".into());
    }
    None
}

/// The aggregations each source message was late for, over all its dead
/// letters.
fn late_for(all: &DlqRead) -> HashMap<String, BTreeSet<String>> {
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for e in &all.entries {
        if let (true, Some(a)) = (e.kind == "late", &e.aggregation) {
            out.entry(e.source_key()).or_default().insert(a.clone());
        }
    }
    out
}

/// The replay ledger of `domain`: one record per source message replayed
/// by [`replay_selected`] (key: `topic/partition/offset`, value: the dead
/// letter's `partition:offset`).
pub fn replay_ledger_topic(settings: &KafkaSettings, domain: &str) -> String {
    format!("{}.replayed", settings.dlq_topic(domain))
}

/// Source messages the ledger says were replayed (empty when it does not
/// exist yet).
fn read_ledger(
    consumer: &BaseConsumer,
    ledger: &str,
    timeout: Duration,
) -> Result<std::collections::HashSet<String>, KafkaError> {
    let read = read_with(consumer, ledger, &DlqStart::Beginning, None, timeout, false)?;
    Ok(read
        .entries
        .into_iter()
        .filter_map(|e| e.key.map(|k| String::from_utf8_lossy(&k).into_owned()))
        .collect())
}

/// What both replays start from.
struct Survey {
    /// Reader in the replay group (`<group_id>-dlq-replay`).
    consumer: BaseConsumer,
    /// The dead-letter topic.
    topic: String,
    /// Every dead letter, repeats included.
    all: DlqRead,
    /// The replay group's progress per partition: what lies before it was
    /// replayed (or skipped) by `dlq replay`.
    done_before: BTreeMap<i32, i64>,
    /// Source messages replayed before: those of the dead letters before
    /// the progress, and those the ledger names (replayed from the console).
    handled: std::collections::HashSet<String>,
    /// The aggregations each source message was late for.
    late: HashMap<String, BTreeSet<String>>,
}

fn survey(settings: &KafkaSettings, domain: &str, timeout: Duration) -> Result<Survey, KafkaError> {
    let group = format!("{}-dlq-replay", settings.group_id);
    let topic = settings.dlq_topic(domain);
    let consumer = reader(settings, &group)?;
    let all = read_with(
        &consumer,
        &topic,
        &DlqStart::Beginning,
        None,
        timeout,
        false,
    )?;
    let progress = read_with(
        &consumer,
        &topic,
        &DlqStart::Committed(group),
        Some(0),
        timeout,
        false,
    )?;
    let done_before: BTreeMap<i32, i64> = progress.next.iter().copied().collect();
    let mut handled = read_ledger(&consumer, &replay_ledger_topic(settings, domain), timeout)?;
    handled.extend(
        all.entries
            .iter()
            .filter(|e| e.offset < done_before.get(&e.partition).copied().unwrap_or(0))
            .map(DlqEntry::source_key),
    );
    let late = late_for(&all);
    Ok(Survey {
        consumer,
        topic,
        all,
        done_before,
        handled,
        late,
    })
}

/// Re-injects `todo` into their source topics (original bytes, key and
/// timestamp, a `sluice.replayed.from` header), adds each to the ledger
/// when `ledger` is given, and waits for every delivery.
fn reinject(
    settings: &KafkaSettings,
    todo: &[&DlqEntry],
    ledger: Option<&str>,
    summary: &mut ReplaySummary,
    timeout: Duration,
) -> Result<(), KafkaError> {
    // a missing topic would be auto-created with broker defaults
    let mut topics: Vec<String> = todo.iter().filter_map(|e| e.source_topic.clone()).collect();
    if !topics.is_empty() {
        topics.extend(ledger.map(str::to_string));
    }
    topics.sort();
    topics.dedup();
    if !topics.is_empty() {
        ensure_topics(settings, &topics)?;
    }
    let mut producer = RawProducer::new(settings)?;
    let mut queued = 0u64;
    for e in todo {
        let Some(t) = &e.source_topic else {
            continue;
        };
        let dlq_offset = format!("{}:{}", e.partition, e.offset);
        let h = OwnedHeaders::new().insert(Header {
            key: "sluice.replayed.from",
            value: Some(dlq_offset.as_str()),
        });
        producer.send_with_timestamp(
            t,
            e.key.as_deref(),
            &e.payload,
            Some(h),
            None,
            e.source_timestamp,
        )?;
        queued += 1;
        if let Some(l) = ledger {
            producer.send(
                l,
                Some(e.source_key().as_bytes()),
                dlq_offset.as_bytes(),
                None,
                None,
            )?;
            queued += 1;
        }
        summary.replayed += 1;
        *summary.by_topic.entry(t.clone()).or_default() += 1;
    }
    let stats = producer.flush(timeout)?;
    if stats.errors > 0 || stats.sent < queued {
        return Err(KafkaError::Delivery {
            failed: queued - stats.sent.min(queued),
            first: stats
                .first_error
                .unwrap_or_else(|| "flush timed out".into()),
        });
    }
    Ok(())
}

/// Re-injects the dead letters named by `ids` (their [`dead_letter_id`]s)
/// into their source topics, as [`replay_dlq`] does, and records them in
/// the replay ledger. A source message replayed before (by either replay)
/// is not replayed again; the replay group's progress is left as it is.
pub fn replay_selected(
    settings: &KafkaSettings,
    domain: &str,
    feeds: &Feeds,
    ids: &[String],
    timeout: Duration,
) -> Result<ReplaySummary, KafkaError> {
    let Survey {
        all,
        mut handled,
        late,
        ..
    } = survey(settings, domain, timeout)?;
    // the first dead letter of each identity (repeats are rewrites)
    let mut by_id: HashMap<&str, &DlqEntry> = HashMap::new();
    for e in &all.entries {
        by_id.entry(e.id.as_str()).or_insert(e);
    }
    let mut summary = ReplaySummary::default();
    let mut todo: Vec<&DlqEntry> = Vec::new();
    for id in ids {
        if summary.outcomes.contains_key(id) {
            continue;
        }
        let outcome = match by_id.get(id.as_str()) {
            None => "not found".to_string(),
            Some(e) => judge(e, feeds, &late, &mut handled, &mut summary).unwrap_or_else(|| {
                todo.push(e);
                "replayed".to_string()
            }),
        };
        summary.outcomes.insert(id.clone(), outcome);
    }
    let ledger = replay_ledger_topic(settings, domain);
    reinject(settings, &todo, Some(&ledger), &mut summary, timeout)?;
    Ok(summary)
}

/// `sluice dlq replay`: re-injects up to `limit` dead letters not replayed
/// before (consumer group `<group_id>-dlq-replay`, and the ledger) into
/// their source topics, original bytes, key and timestamp, waits for
/// delivery, then records progress. Late events an aggregation of `feeds`
/// counted are refused. Each source message is re-injected at most once, whatever how
/// many dead letters name it.
pub fn replay_dlq(
    settings: &KafkaSettings,
    domain: &str,
    feeds: &Feeds,
    limit: Option<usize>,
    timeout: Duration,
) -> Result<ReplaySummary, KafkaError> {
    let Survey {
        consumer,
        topic,
        all,
        done_before,
        mut handled,
        late,
    } = survey(settings, domain, timeout)?;
    let mut next = done_before.clone();
    let mut todo: Vec<&DlqEntry> = Vec::new();
    let mut summary = ReplaySummary::default();
    for e in all
        .entries
        .iter()
        .filter(|e| e.offset >= done_before.get(&e.partition).copied().unwrap_or(0))
    {
        if limit.is_some_and(|l| todo.len() >= l) {
            break;
        }
        next.insert(e.partition, e.offset + 1);
        if judge(e, feeds, &late, &mut handled, &mut summary).is_none() {
            todo.push(e);
        }
    }
    reinject(settings, &todo, None, &mut summary, timeout)?;
    let mut tpl = TopicPartitionList::new();
    for (p, next) in &next {
        tpl.add_partition_offset(&topic, *p, Offset::Offset(*next))
            .map_err(|e| KafkaError::client("build commit list", e))?;
    }
    if tpl.count() > 0 {
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| KafkaError::client("commit replay progress", e))?;
    }
    Ok(summary)
}
