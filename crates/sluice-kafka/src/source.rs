//! The Kafka source: a consumer-group member reading a domain's topics (one
//! per event type) into the engine's batches.
//!
//! * One [`RawBatch`](sluice_engine::RawBatch) per call holds records of ONE
//!   topic-partition; records of other partitions fetched in the same poll
//!   stay buffered for later calls (round robin). `batch.partition` is a
//!   dense id per (topic, partition), stable for the life of the source
//!   ([`KafkaSource::topic_partition`] maps it back).
//! * Messages are `magic 0 + schema id + datum`. Datums written with the
//!   reader schema generated from the current configuration pass through
//!   untouched (after a structural check); others are resolved writer →
//!   reader with apache-avro and re-encoded. Writer schemas come from the
//!   registry by id (cached).
//! * Anything unreadable (no magic byte, unknown schema id, unresolvable
//!   schema, undecodable datum) becomes a dead letter with the ORIGINAL
//!   message bytes, the topic as source, the Kafka partition and offset;
//!   [`KafkaSource::reject_meta`] has the key and timestamp of each.
//! * Auto-commit is off. The runtime commits what is durable with
//!   [`KafkaSource::commit`] or, from another thread, a [`Committer`].
//! * Rebalances are logged and queued ([`KafkaSource::take_rebalance_events`]);
//!   buffered records of revoked partitions are dropped (the next owner
//!   re-reads them from the committed offset), and an optional
//!   [`SourceOptions::on_revoke`] hook runs inside the revocation, before the
//!   partitions are given up, so the runtime can flush and commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::registry::{decode_wire, RegistryClient, RegistryError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientContext;
use sluice_core::RecordLayout;

use crate::avro::{resolve_into, ReaderSchema, Validator, WriterPlan};
use crate::{ensure_topics, KafkaError, KafkaSettings};
use sluice_connectors::{CommitPosition, Source, SourceOutput, SourceStatus};
use sluice_connectors::{ConnectorError, DeadLetterKind, DeadLetterRecord};
use sluice_core::Classify;

/// A (topic, partition) pair.
pub type TopicPartition = (String, i32);

/// Called inside a revocation with the partitions being revoked, before
/// they are given up; commit what is durable there.
pub type RevokeHook = Arc<dyn Fn(&[TopicPartition]) + Send + Sync>;

/// Options of a [`KafkaSource`].
#[derive(Clone)]
pub struct SourceOptions {
    /// Consumer group; `None` uses `kafka.group_id`.
    pub group_id: Option<String>,
    /// How long `next_batch` waits for the first message.
    pub poll_timeout: Duration,
    /// After the first message, how long to keep collecting a batch.
    pub linger: Duration,
    /// Return [`SourceStatus::End`] once every assigned partition is read to
    /// its high watermark (bounded runs, benchmarks, tests).
    pub stop_at_end: bool,
    /// Create missing topics before subscribing.
    pub create_topics: bool,
    /// Where a group without committed offsets starts: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Runs inside a revocation (see [`RevokeHook`]).
    pub on_revoke: Option<RevokeHook>,
    /// A name for this member that stays the same across restarts (e.g. the
    /// host name): static membership, `group.instance.id` =
    /// `<group>.<instance>` (unless `kafka.properties` sets one), so a member
    /// that restarts within the session timeout takes its partitions back
    /// at once instead of waiting for a rebalance. Two live members of one
    /// group must not share it (the broker fences the older).
    pub instance: Option<String>,
}

impl std::fmt::Debug for SourceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceOptions")
            .field("group_id", &self.group_id)
            .field("poll_timeout", &self.poll_timeout)
            .field("linger", &self.linger)
            .field("stop_at_end", &self.stop_at_end)
            .field("create_topics", &self.create_topics)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("on_revoke", &self.on_revoke.is_some())
            .field("instance", &self.instance)
            .finish()
    }
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            group_id: None,
            poll_timeout: Duration::from_millis(200),
            linger: Duration::from_millis(20),
            stop_at_end: false,
            create_topics: true,
            auto_offset_reset: "earliest".into(),
            on_revoke: None,
            instance: None,
        }
    }
}

/// librdkafka consumer settings sluice ships (any `kafka.properties` entry
/// overrides them):
/// * `fetch.queue.backoff.ms = 1`: librdkafka ≥ 2.4 waits this long
///   (default 1 000 ms) before fetching again whenever its local queue is
///   full, so a consumer that drains fast would stall for a second at a
///   time; measured here, the bare consumer went from 0.17 M to 1.0 M
///   messages/s.
/// * `fetch.wait.max.ms = 100`: the broker answers a fetch within 100 ms
///   even with little data, so live events are seen quickly.
/// * `session.timeout.ms = 10000`, `heartbeat.interval.ms = 1000`: a member
///   that died is noticed within 10 s.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("fetch.queue.backoff.ms", "1"),
    ("fetch.wait.max.ms", "100"),
    ("session.timeout.ms", "10000"),
    ("heartbeat.interval.ms", "1000"),
];

/// `group.instance.id` for `instance` in `group`: the name with every
/// character Kafka does not take in it replaced by `_`; `None` without an
/// instance name.
pub fn static_member_id(group: &str, instance: Option<&str>) -> Option<String> {
    let name = instance.map(str::trim).filter(|n| !n.is_empty())?;
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(format!("{group}.{clean}"))
}

/// A group membership change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// Partitions given to this member.
    Assigned(Vec<TopicPartition>),
    /// Partitions taken away.
    Revoked(Vec<TopicPartition>),
    /// The group protocol reported an error.
    Error(String),
}

/// Key and timestamp of one rejected message (parallel to `out.rejects`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejectMeta {
    /// Message key.
    pub key: Option<Vec<u8>>,
    /// Message timestamp, epoch ms.
    pub timestamp: Option<i64>,
}

/// Consumer lag of one assigned partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// Next offset this consumer will read (or the committed one).
    pub position: Option<i64>,
    /// High watermark (offset of the next message to be written).
    pub high_watermark: i64,
    /// `high_watermark - position` (whole partition when unknown).
    pub lag: i64,
}

/// Rebalance bookkeeping shared with librdkafka's callback thread.
pub struct GroupContext {
    events: Mutex<Vec<RebalanceEvent>>,
    changed: AtomicBool,
    on_revoke: Option<RevokeHook>,
    sasl: crate::sasl::SaslRotation,
}

impl std::fmt::Debug for GroupContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupContext")
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

fn pairs(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ClientContext for GroupContext {
    fn error(&self, error: RdError, reason: &str) {
        self.sasl.on_error(&error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let event = match rebalance {
            Rebalance::Assign(tpl) => {
                let p = pairs(tpl);
                tracing::info!(partitions = p.len(), "kafka partitions assigned: {p:?}");
                RebalanceEvent::Assigned(p)
            }
            Rebalance::Revoke(tpl) => {
                let p = pairs(tpl);
                tracing::info!(partitions = p.len(), "kafka partitions revoked: {p:?}");
                if let Some(hook) = &self.on_revoke {
                    hook(&p);
                }
                RebalanceEvent::Revoked(p)
            }
            Rebalance::Error(e) => {
                tracing::warn!("kafka rebalance error: {e}");
                RebalanceEvent::Error(e.to_string())
            }
        };
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
        self.changed.store(true, Ordering::Release);
    }
}

type GroupConsumer = BaseConsumer<GroupContext>;

/// A handle on the consumer for other threads (it is thread-safe): commit
/// durable offsets from the sink thread, read lag for the live view.
#[derive(Clone)]
pub struct Committer {
    consumer: Arc<GroupConsumer>,
    group: String,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    /// Synchronously commits positions; partitions no longer assigned are
    /// skipped. Returns how many were committed.
    pub fn commit(&self, offsets: &[CommitPosition]) -> Result<usize, KafkaError> {
        if offsets.is_empty() {
            return Ok(0);
        }
        let assigned = self
            .consumer
            .assignment()
            .map_err(|e| KafkaError::client("read assignment", e))?;
        let mut tpl = TopicPartitionList::new();
        for c in offsets {
            if assigned.find_partition(&c.topic, c.partition).is_some() {
                tpl.add_partition_offset(&c.topic, c.partition, Offset::Offset(c.next_offset))
                    .map_err(|e| KafkaError::client("build commit list", e))?;
            }
        }
        let n = tpl.count();
        if n > 0 {
            self.consumer
                .commit(&tpl, CommitMode::Sync)
                .map_err(|e| KafkaError::client("commit", e))?;
        }
        Ok(n)
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The group's committed offsets of `partitions`, `false` where it has
    /// none: where a checkpointed lane resumes.
    pub fn committed_of(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(CommitPosition, bool)>, KafkaError> {
        let committed = self.committed(partitions, Duration::from_secs(10))?;
        Ok(partitions
            .iter()
            .zip(committed)
            .map(|((topic, partition), c)| {
                let position = CommitPosition {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: c.unwrap_or(-1),
                };
                (position, c.is_some())
            })
            .collect())
    }

    /// [`Committer::committed_of`] as the pipeline's hook.
    pub fn committed_hook(&self) -> sluice_connectors::Committed {
        let me = self.clone();
        sluice_connectors::Committed {
            scope: self.group.clone(),
            read: Arc::new(move |p| me.committed_of(p).map_err(|e| e.to_string())),
        }
    }

    /// `commit` as the pipeline's commit hook: errors as text.
    pub fn into_hook(self) -> sluice_connectors::CommitHook {
        Arc::new(move |positions: &[CommitPosition]| {
            self.commit(positions)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    /// Lag of every assigned partition (asks the broker for watermarks:
    /// call it about once a second, not per batch).
    pub fn lag(&self) -> Result<Vec<PartitionLag>, KafkaError> {
        let assigned = self
            .consumer
            .assignment()
            .map(|t| pairs(&t))
            .map_err(|e| KafkaError::client("read assignment", e))?;
        let positions = self
            .consumer
            .position()
            .map_err(|e| KafkaError::client("read positions", e))?;
        let committed = self.committed(&assigned, Duration::from_secs(5))?;
        let mut out = Vec::with_capacity(assigned.len());
        for ((t, p), c) in assigned.into_iter().zip(committed) {
            let (low, high) = crate::watermarks(&*self.consumer, &t, p, Duration::from_secs(5))?;
            let pos = positions
                .find_partition(&t, p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .or(c);
            let lag = (high - pos.unwrap_or(low)).max(0);
            out.push(PartitionLag {
                topic: t,
                partition: p,
                position: pos,
                high_watermark: high,
                lag,
            });
        }
        Ok(out)
    }

    /// Committed offsets of `partitions` (next offset to read; `None` when
    /// the group has none).
    pub fn committed(
        &self,
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<Vec<Option<i64>>, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        let c = self
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(|e| KafkaError::client("read committed offsets", e))?;
        Ok(partitions
            .iter()
            .map(|(t, p)| {
                c.find_partition(t, *p).and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
            })
            .collect())
    }
}

#[derive(Debug, Default)]
struct PartBuf {
    out: SourceOutput,
    meta: Vec<RejectMeta>,
}

/// Reads a domain's topics as a consumer-group member.
pub struct KafkaSource {
    consumer: Arc<GroupConsumer>,
    /// The consumer group.
    group: String,
    domain: String,
    topics: Vec<String>,
    topic_index: HashMap<String, u32>,
    readers: Vec<ReaderSchema>,
    validators: Vec<Validator>,
    registry: RegistryClient,
    plans: HashMap<(u32, u32), WriterPlan>,
    dense: HashMap<(u32, i32), u32>,
    dense_names: Vec<(u32, i32)>,
    assigned: Vec<u32>,
    /// Per (topic, partition): the next offset not yet handed to the
    /// pipeline, and the next offset not yet buffered. A rebalance or a broker
    /// restart rewinds the consumer to the last commit; records below these
    /// were already delivered or buffered and are skipped, so nothing is
    /// counted twice.
    delivered: HashMap<(u32, i32), i64>,
    next_expected: HashMap<(u32, i32), i64>,
    buffers: BTreeMap<u32, PartBuf>,
    buffered: usize,
    last_pick: Option<u32>,
    last_meta: Vec<RejectMeta>,
    opts: SourceOptions,
    last_end_check: Option<Instant>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("domain", &self.domain)
            .field("topics", &self.topics)
            .field("buffered", &self.buffered)
            .finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// A source for `domain` whose event types have `layouts` (in event type
    /// id order, as the engine plan has them). Subscribes at once.
    pub fn new(
        settings: &KafkaSettings,
        domain: &str,
        layouts: &[RecordLayout],
        opts: SourceOptions,
    ) -> Result<Self, KafkaError> {
        let topics: Vec<String> = layouts
            .iter()
            .map(|l| settings.topic(domain, &l.event_type))
            .collect();
        let readers = layouts
            .iter()
            .map(ReaderSchema::from_layout)
            .collect::<Result<Vec<_>, _>>()?;
        let validators = readers.iter().map(|r| Validator::new(&r.schema)).collect();
        if opts.create_topics {
            ensure_topics(settings, &topics)?;
        }
        let group = opts
            .group_id
            .clone()
            .unwrap_or_else(|| settings.group_id.clone());
        let ctx = GroupContext {
            events: Mutex::new(Vec::new()),
            changed: AtomicBool::new(false),
            on_revoke: opts.on_revoke.clone(),
            sasl: settings.sasl_rotation(),
        };
        let member = static_member_id(&group, opts.instance.as_deref());
        let mut defaults = vec![("auto.offset.reset", opts.auto_offset_reset.as_str())];
        defaults.extend_from_slice(CONSUMER_DEFAULTS);
        if let Some(m) = &member {
            defaults.push(("group.instance.id", m.as_str()));
        }
        let consumer: GroupConsumer = settings
            .client_config(
                &defaults,
                &[
                    ("group.id", group.as_str()),
                    // co-partitioning: a member gets the same partition
                    // numbers of every topic, so all events of one entity
                    // (records are keyed by it) meet in one engine shard
                    ("partition.assignment.strategy", "range"),
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                ],
            )
            .create_with_context(ctx)
            .map_err(|e| KafkaError::client("consumer creation", e))?;
        consumer.context().sasl.bind(consumer.client());
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| KafkaError::client("subscribe", e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            group,
            domain: domain.to_string(),
            topic_index: topics
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect(),
            topics,
            readers,
            validators,
            registry: RegistryClient::new(&settings.registry)?,
            plans: HashMap::new(),
            dense: HashMap::new(),
            dense_names: Vec::new(),
            assigned: Vec::new(),
            delivered: HashMap::new(),
            next_expected: HashMap::new(),
            buffers: BTreeMap::new(),
            buffered: 0,
            last_pick: None,
            last_meta: Vec::new(),
            opts,
            last_end_check: None,
        })
    }

    /// A source for domain `domain` of a loaded configuration.
    pub fn from_config(
        cfg: &sluice_config::Config,
        settings: &KafkaSettings,
        domain: &str,
        opts: SourceOptions,
    ) -> Result<Self, KafkaError> {
        let d = cfg
            .domain(domain)
            .ok_or_else(|| KafkaError::Config(format!("unknown domain `{domain}`")))?;
        Self::new(settings, domain, &d.layouts(), opts)
    }

    /// Topics read, in event type id order.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The (topic, Kafka partition) behind a batch's dense `partition` id.
    pub fn topic_partition(&self, dense: u32) -> Option<(&str, i32)> {
        let (t, p) = self.dense_names.get(dense as usize)?;
        Some((self.topics.get(*t as usize)?.as_str(), *p))
    }

    /// A handle that commits from any thread.
    pub fn committer(&self) -> Committer {
        Committer {
            consumer: self.consumer.clone(),
            group: self.group.clone(),
        }
    }

    /// Synchronously commits positions (call once the results of everything
    /// before each `next_offset` are durable).
    pub fn commit(&mut self, offsets: &[CommitPosition]) -> Result<(), ConnectorError> {
        self.committer().commit(offsets)?;
        Ok(())
    }

    /// The position covering everything in `out` (a batch this source
    /// returned): its partition, last offset + 1.
    pub fn commit_point(&self, out: &SourceOutput) -> Option<CommitPosition> {
        let (t, p) = self.topic_partition(out.batch.partition)?;
        let last = out
            .offsets
            .iter()
            .copied()
            .chain(out.rejects.iter().map(|r| r.offset))
            .max()?;
        Some(CommitPosition {
            topic: t.to_string(),
            partition: p,
            next_offset: last + 1,
        })
    }

    /// Group membership changes since the last call.
    pub fn take_rebalance_events(&self) -> Vec<RebalanceEvent> {
        std::mem::take(
            &mut *self
                .consumer
                .context()
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Key and timestamp of each record in the last returned `out.rejects`.
    pub fn reject_meta(&self) -> &[RejectMeta] {
        &self.last_meta
    }

    /// Partitions currently assigned to this member.
    pub fn assignment(&self) -> Result<Vec<TopicPartition>, KafkaError> {
        self.consumer
            .assignment()
            .map(|t| pairs(&t))
            .map_err(|e| KafkaError::client("read assignment", e))
    }

    /// Lag of every assigned partition (asks the broker for watermarks;
    /// from another thread use [`Committer::lag`]).
    pub fn lag(&self) -> Result<Vec<PartitionLag>, KafkaError> {
        self.committer().lag()
    }

    /// Declares the assigned partitions in `out`.
    fn declare(&self, out: &mut SourceOutput) {
        out.partitions.clone_from(&self.assigned);
        out.partition_numbers.clear();
        for &a in &self.assigned {
            let n = self.topic_partition(a).map(|(_, p)| p).unwrap_or(-1);
            out.partition_numbers.push(n);
        }
    }

    fn dense_id(&mut self, topic: u32, partition: i32) -> u32 {
        if let Some(d) = self.dense.get(&(topic, partition)) {
            return *d;
        }
        let d = self.dense_names.len() as u32;
        self.dense.insert((topic, partition), d);
        self.dense_names.push((topic, partition));
        d
    }

    fn ensure_plan(&mut self, topic: u32, id: u32) -> Result<(), KafkaError> {
        /// Writer schemas are fetched once per id; a registry that is
        /// briefly unreachable is retried, then the run stops (no record is
        /// dead-lettered for an outage).
        const REGISTRY_RETRY: sluice_core::RetryPolicy =
            sluice_core::RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(2), 4);
        if !self.plans.contains_key(&(topic, id)) {
            let registry = &self.registry;
            let fetched = sluice_core::retry_blocking(
                &REGISTRY_RETRY,
                || match registry.schema_by_id(id) {
                    Ok(text) => Ok(Some(text)),
                    Err(RegistryError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                },
                |e| e.retry_hint(),
                |r| {
                    tracing::warn!(schema_id = id, error = %r.error, "schema registry unavailable; retrying");
                    true
                },
            )?;
            let plan = match fetched {
                Some(text) => WriterPlan::new(&self.readers[topic as usize], id, &text),
                None => WriterPlan::Reject(format!("unknown schema id {id}")),
            };
            self.plans.insert((topic, id), plan);
        }
        Ok(())
    }

    fn ingest(&mut self, msg: &BorrowedMessage<'_>) -> Result<(), KafkaError> {
        let Some(&ti) = self.topic_index.get(msg.topic()) else {
            return Ok(());
        };
        let partition = msg.partition();
        let offset = msg.offset();
        if self
            .next_expected
            .get(&(ti, partition))
            .is_some_and(|n| offset < *n)
        {
            return Ok(()); // already delivered or buffered before a rewind
        }
        let dense = self.dense_id(ti, partition);
        let payload = msg.payload().unwrap_or(&[]);
        // decide first (may call the registry), then write into the buffer
        let mut resolved = false;
        let verdict: Result<(), String> = match decode_wire(payload) {
            Err(e) => Err(e.to_string()),
            Ok((id, datum)) => {
                if let Err(e) = self.ensure_plan(ti, id) {
                    // not the record's fault: read it again on the next call
                    if let Err(s) = self.consumer.seek(
                        msg.topic(),
                        partition,
                        Offset::Offset(offset),
                        Duration::from_secs(5),
                    ) {
                        tracing::warn!(
                            "cannot rewind `{}` [{partition}] to {offset}: {s}",
                            msg.topic()
                        );
                    }
                    return Err(e);
                }
                let plan = &self.plans[&(ti, id)];
                let buf = self.buffers.entry(dense).or_default();
                let b = &mut buf.out.batch;
                match plan {
                    WriterPlan::Passthrough => match self.validators[ti as usize].check(datum) {
                        Ok(()) => {
                            b.data.extend_from_slice(datum);
                            Ok(())
                        }
                        Err(e) => Err(format!("malformed datum (schema id {id}): {e}")),
                    },
                    WriterPlan::Resolve(w) => {
                        resolved = true;
                        match resolve_into(w, &self.readers[ti as usize].schema, datum, &mut b.data)
                        {
                            Ok(()) => Ok(()),
                            Err(e) => Err(format!("schema id {id}: {e}")),
                        }
                    }
                    WriterPlan::Reject(r) => Err(r.clone()),
                }
            }
        };
        // buffered (as a record or a reject) from here on
        self.next_expected.insert((ti, partition), offset + 1);
        let topic = &self.topics[ti as usize];
        let buf = self.buffers.entry(dense).or_default();
        if buf.out.is_empty() {
            buf.out.origin = topic.clone();
            buf.out.batch.partition = dense;
            buf.out.batch.event_type = ti;
            buf.out.batch.first_offset = 0;
        }
        match verdict {
            Ok(()) => {
                if buf.out.batch.end_record() {
                    buf.out.offsets.push(offset);
                    let mut prefix = [0u8; 5];
                    if let Some(p) = payload.get(..5) {
                        prefix.copy_from_slice(p);
                    }
                    buf.out.envelopes.push(
                        msg.key(),
                        msg.timestamp().to_millis(),
                        prefix,
                        resolved.then_some(payload),
                    );
                    self.buffered += 1;
                    return Ok(());
                }
                // past 4 GiB in one batch: cannot happen with sane batch sizes
                let n = buf.out.batch.ends.last().copied().unwrap_or(0) as usize;
                buf.out.batch.data.truncate(n);
                self.reject(dense, ti, partition, offset, msg, "batch over 4 GiB".into());
            }
            Err(reason) => self.reject(dense, ti, partition, offset, msg, reason),
        }
        Ok(())
    }

    fn reject(
        &mut self,
        dense: u32,
        ti: u32,
        partition: i32,
        offset: i64,
        msg: &BorrowedMessage<'_>,
        reason: String,
    ) {
        let topic = &self.topics[ti as usize];
        let buf = self.buffers.entry(dense).or_default();
        buf.out.rejects.push(DeadLetterRecord {
            kind: DeadLetterKind::Malformed,
            reason,
            source: topic.clone(),
            partition: u32::try_from(partition).unwrap_or(0),
            offset,
            event_type: Some(self.readers[ti as usize].event_type.clone()),
            aggregation: None,
            event_time: None,
            payload: msg.payload().unwrap_or(&[]).to_vec(),
            key: msg.key().map(<[u8]>::to_vec),
            timestamp: msg.timestamp().to_millis(),
        });
        buf.meta.push(RejectMeta {
            key: msg.key().map(<[u8]>::to_vec),
            timestamp: msg.timestamp().to_millis(),
        });
        self.buffered += 1;
    }

    fn handle_rebalance(&mut self) {
        if !self
            .consumer
            .context()
            .changed
            .swap(false, Ordering::AcqRel)
        {
            return;
        }
        let events = self
            .consumer
            .context()
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut assigned: Vec<u32> = Vec::new();
        for e in &events {
            match e {
                RebalanceEvent::Assigned(parts) => {
                    for (t, p) in parts {
                        if let Some(&ti) = self.topic_index.get(t) {
                            let d = self.dense_id(ti, *p);
                            if !assigned.contains(&d) {
                                assigned.push(d);
                            }
                        }
                    }
                }
                RebalanceEvent::Revoked(parts) => {
                    for (t, p) in parts {
                        if let Some(&ti) = self.topic_index.get(t) {
                            if let Some(&d) = self.dense.get(&(ti, *p)) {
                                assigned.retain(|x| *x != d);
                            }
                        }
                    }
                }
                RebalanceEvent::Error(_) => {}
            }
        }
        // Topics are co-partitioned (records keyed by entity, range
        // assignment): partition p of one topic implies partition p of every
        // topic. Declaring them all at once keeps a topic whose metadata or
        // assignment arrives a moment later from finding the watermark moved
        // on; a partition that does not exist only idles out.
        let numbers: Vec<i32> = assigned
            .iter()
            .filter_map(|d| self.dense_names.get(*d as usize).map(|(_, p)| *p))
            .collect();
        for p in numbers {
            for ti in 0..self.topics.len() as u32 {
                let d = self.dense_id(ti, p);
                if !assigned.contains(&d) {
                    assigned.push(d);
                }
            }
        }
        assigned.sort_unstable();
        self.assigned = assigned;
        for e in events {
            if let RebalanceEvent::Revoked(parts) = e {
                for (t, p) in parts {
                    let Some(&ti) = self.topic_index.get(&t) else {
                        continue;
                    };
                    if let Some(&d) = self.dense.get(&(ti, p)) {
                        if let Some(b) = self.buffers.remove(&d) {
                            self.buffered -= b.out.len();
                        }
                    }
                    // buffered records were dropped: accept them again
                    match self.delivered.get(&(ti, p)) {
                        Some(&n) => self.next_expected.insert((ti, p), n),
                        None => self.next_expected.remove(&(ti, p)),
                    };
                }
            }
        }
    }

    fn pick(&mut self, max: usize) -> Option<u32> {
        let full = self
            .buffers
            .iter()
            .find(|(_, b)| b.out.len() >= max)
            .map(|(d, _)| *d);
        if full.is_some() {
            return full;
        }
        let start = self.last_pick.map_or(0, |l| l + 1);
        self.buffers
            .range(start..)
            .chain(self.buffers.range(..start))
            .find(|(_, b)| !b.out.is_empty())
            .map(|(d, _)| *d)
    }

    /// True when every assigned partition has been read to its high watermark.
    fn caught_up(&mut self) -> Result<bool, KafkaError> {
        let assigned = self.assignment()?;
        if assigned.is_empty() {
            return Ok(false);
        }
        let positions = self
            .consumer
            .position()
            .map_err(|e| KafkaError::client("read positions", e))?;
        let mut committed: Option<Vec<Option<i64>>> = None;
        for (i, (t, p)) in assigned.iter().enumerate() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(t, *p, Duration::from_secs(5))
                .map_err(|e| KafkaError::client("fetch watermarks", e))?;
            if high <= low {
                continue;
            }
            let pos = match positions.find_partition(t, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => {
                    if committed.is_none() {
                        committed = Some(
                            self.committer()
                                .committed(&assigned, Duration::from_secs(5))?,
                        );
                    }
                    committed.as_ref().and_then(|c| c.get(i).copied().flatten())
                }
            };
            match pos {
                Some(o) if o >= high => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

impl Source for KafkaSource {
    fn describe(&self) -> String {
        format!("kafka ({}: {})", self.domain, self.topics.join(", "))
    }

    fn next_batch(
        &mut self,
        max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError> {
        out.clear();
        self.last_meta.clear();
        let max = max_records.max(1);
        let start = Instant::now();
        let mut first: Option<Instant> = None;
        // records buffered by earlier calls: only drain what is already fetched
        let had = self.buffered > 0;
        loop {
            self.handle_rebalance();
            if self.buffers.values().any(|b| b.out.len() >= max)
                || self.buffered >= max.saturating_mul(4)
            {
                break;
            }
            let timeout = match first {
                _ if had => Duration::ZERO,
                Some(f) => self
                    .opts
                    .linger
                    .saturating_sub(f.elapsed())
                    .min(Duration::from_millis(5)),
                None => self.opts.poll_timeout.saturating_sub(start.elapsed()),
            };
            let consumer = self.consumer.clone();
            match consumer.poll(timeout) {
                None => {
                    let lingered = first.is_some_and(|f| f.elapsed() >= self.opts.linger);
                    if had || lingered || start.elapsed() >= self.opts.poll_timeout {
                        break;
                    }
                }
                Some(Ok(msg)) => {
                    self.ingest(&msg)?;
                    first.get_or_insert_with(Instant::now);
                }
                Some(Err(RdError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    // transient broker/topic errors: librdkafka keeps retrying
                    tracing::warn!("kafka consumer: {e}");
                    if start.elapsed() >= self.opts.poll_timeout {
                        break;
                    }
                }
            }
        }
        self.handle_rebalance();
        if let Some(d) = self.pick(max) {
            if let Some(mut b) = self.buffers.remove(&d) {
                self.buffered -= b.out.len();
                std::mem::swap(out, &mut b.out);
                std::mem::swap(&mut self.last_meta, &mut b.meta);
                self.last_pick = Some(d);
                out.position = self.commit_point(out);
                if let Some(c) = &out.position {
                    if let Some(&ti) = self.topic_index.get(&c.topic) {
                        self.delivered.insert((ti, c.partition), c.next_offset);
                    }
                }
                self.declare(out);
                // keep the (cleared) buffers for the partition's next records
                b.out.clear();
                b.meta.clear();
                self.buffers.insert(d, b);
            }
            return Ok(SourceStatus::More);
        }
        if self.opts.stop_at_end {
            let due = self
                .last_end_check
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due {
                self.last_end_check = Some(Instant::now());
                // while the broker is unreachable the end is unknown: keep
                // polling (librdkafka reconnects) instead of failing the run
                match self.caught_up() {
                    Ok(true) => {
                        // the assignment, even with nothing left to read:
                        // its lanes still close windows restored from
                        // checkpoints
                        self.declare(out);
                        return Ok(SourceStatus::End);
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(
                        "kafka: cannot tell whether the input is read to its end yet: {e}"
                    ),
                }
            }
        }
        Ok(SourceStatus::More)
    }
}

#[cfg(test)]
mod tests {
    use super::static_member_id;

    #[test]
    fn static_member_ids_are_stable_legal_and_optional() {
        assert_eq!(
            static_member_id("sluice", Some("web-1.example")),
            Some("sluice.web-1.example".into())
        );
        assert_eq!(
            static_member_id("g", Some(" host name/α ")),
            Some("g.host_name__".into())
        );
        assert_eq!(static_member_id("g", Some("  ")), None);
        assert_eq!(static_member_id("g", None), None);
    }
}
