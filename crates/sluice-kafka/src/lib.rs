//! The Kafka path: an idempotent producer of
//! schema-registry-framed Avro datums ([`producer`]), a consumer-group
//! [`Source`](sluice_connectors::Source) that decodes them into the engine's batches
//! ([`source`]) with its factory ([`factory`]: the `kafka` source of `sluice
//! run`), the dead-letter topic ([`dlq`]) and the Confluent-compatible
//! schema-registry client ([`registry`]). The produce/consume benchmark is
//! in `sluice-bench`.
//!
//! Everything is blocking and built on librdkafka's own threads (no tokio).
//! Settings come resolved ([`KafkaSettings::from_config`] fills in
//! `${secret:...}` references from already-resolved secrets); librdkafka
//! properties from the configuration are passed through unchanged and an
//! unknown one fails client creation with librdkafka's message.
//!
//! Wire format: magic byte 0, 4-byte big-endian schema id, plain Avro datum
//! (see [`crate::registry::encode_wire`]); message key: the entity
//! key of the event (UTF-8).

pub mod avro;
pub mod dlq;
pub mod factory;
pub mod producer;
pub mod registry;
pub mod sasl;
pub mod source;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::registry::{RegistryError, RegistrySettings, SubjectStrategy};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_config::{KafkaConfig, Setting};
use sluice_core::{ErrorDomain, RetryHint};
use sluice_secrets::ResolvedSecrets;

use sluice_connectors::ConnectorError;
use sluice_core::Classify;

pub use dlq::{read_dlq, replay_dlq, replay_selected, DlqEntry, DlqWriter, ReplaySummary};
pub use factory::KafkaFactory;
pub use producer::{
    produce_generated, EventProducer, ProduceOptions, ProduceSummary, ProducerStats,
};
pub use source::{KafkaSource, PartitionLag, RebalanceEvent, SourceOptions};

/// Header: dead-letter kind (`malformed`, `late`, `future_outlier`).
pub const H_ERROR_KIND: &str = "sluice.error.kind";
/// Header: why the record is a dead letter.
pub const H_ERROR_MESSAGE: &str = "sluice.error.message";
/// Header: topic the record was read from.
pub const H_SOURCE_TOPIC: &str = "sluice.source.topic";
/// Header: partition the record was read from (decimal).
pub const H_SOURCE_PARTITION: &str = "sluice.source.partition";
/// Header: offset the record was read at (decimal).
pub const H_SOURCE_OFFSET: &str = "sluice.source.offset";
/// Header: timestamp of the original record, epoch ms (decimal), when known.
pub const H_SOURCE_TIMESTAMP: &str = "sluice.source.timestamp";
/// Header: event type, when known.
pub const H_EVENT_TYPE: &str = "sluice.event_type";
/// Header: aggregation a late record missed, when any.
pub const H_AGGREGATION: &str = "sluice.aggregation";
/// Header: the dead letter's identity (kind, source topic, partition,
/// offset, aggregation): a dead letter written again after a restart has
/// the same one, and inspect and replay count it once.
pub const H_DEAD_LETTER_ID: &str = "sluice.dead_letter.id";
/// Header: the original payload's length when the dead letter carries only
/// its first [`dlq::MAX_DEAD_LETTER_PAYLOAD`] bytes (the whole message stays
/// in its source topic at its offset).
pub const H_PAYLOAD_TRUNCATED: &str = "sluice.payload.truncated";

/// What went wrong on the Kafka path.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// Bad settings (unknown property, bad template, missing secret).
    #[error("bad kafka settings: {0}")]
    Config(String),
    /// librdkafka reported an error.
    #[error("kafka {op} failed: {source}")]
    Client {
        /// What was being done.
        op: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The schema registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A schema could not be generated or parsed.
    #[error("schema problem: {0}")]
    Schema(String),
    /// Messages could not be delivered.
    #[error("{failed} message(s) not delivered; first error: {first}")]
    Delivery {
        /// How many failed.
        failed: u64,
        /// The first delivery error.
        first: String,
    },
    /// Waited too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A source or sink failed.
    #[error(transparent)]
    Connector(Box<ConnectorError>),
}

impl From<ConnectorError> for KafkaError {
    fn from(e: ConnectorError) -> Self {
        KafkaError::Connector(Box::new(e))
    }
}

impl KafkaError {
    /// A librdkafka failure during `op` (what was being done).
    pub fn client(op: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        KafkaError::Client {
            op: op.into(),
            source,
        }
    }
}

impl sluice_core::Classify for KafkaError {
    /// Whose fault it is.
    fn domain(&self) -> ErrorDomain {
        match self {
            KafkaError::Config(_) | KafkaError::Schema(_) => ErrorDomain::User,
            KafkaError::Client {
                source: rdkafka::error::KafkaError::ClientCreation(_),
                ..
            } => ErrorDomain::User,
            KafkaError::Registry(e) => e.domain(),
            KafkaError::Connector(e) => e.domain(),
            KafkaError::Client { .. } | KafkaError::Delivery { .. } | KafkaError::Timeout(_) => {
                ErrorDomain::External
            }
        }
    }

    /// Whether retrying may help.
    fn retry_hint(&self) -> RetryHint {
        match self {
            KafkaError::Registry(e) => e.retry_hint(),
            KafkaError::Connector(e) => e.retry_hint(),
            _ if self.domain() == ErrorDomain::External => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        }
    }
}

impl From<KafkaError> for ConnectorError {
    fn from(e: KafkaError) -> Self {
        // ConnectorError has no kafka variant yet: user errors become
        // `Config` (no retry), external ones `Database` (retry)
        if let KafkaError::Connector(inner) = e {
            return *inner;
        }
        match e.domain() {
            ErrorDomain::User => ConnectorError::Config {
                connector: "kafka",
                message: e.to_string(),
            },
            _ => ConnectorError::Database(e.to_string()),
        }
    }
}

/// Kafka settings with every secret filled in.
#[derive(Clone)]
pub struct KafkaSettings {
    /// `host:port` list.
    pub bootstrap_servers: String,
    /// librdkafka properties passed through (applied after sluice's defaults).
    pub properties: BTreeMap<String, String>,
    /// Schema registry client settings.
    pub registry: RegistrySettings,
    /// Topic per event type (`{domain}`, `{event_type}`).
    pub topic_template: String,
    /// Dead-letter topic (`{domain}`).
    pub dlq_topic_template: String,
    /// Partitions of created topics.
    pub partitions: u32,
    /// Replication factor of created topics.
    pub replication_factor: u32,
    /// Retention of created topics, ms.
    pub retention_ms: i64,
    /// Producer compression.
    pub compression: String,
    /// Consumer group.
    pub group_id: String,
    /// Reads `sasl.username` / `sasl.password` again from the secret
    /// backends after a broker refused them (when they come from secrets).
    pub sasl_refresh: Option<sasl::SaslRefresh>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // property values may hold secrets (sasl.password)
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .field("registry", &self.registry)
            .field("topic_template", &self.topic_template)
            .field("group_id", &self.group_id)
            .field("sasl_refresh", &self.sasl_refresh.is_some())
            .finish_non_exhaustive()
    }
}

fn resolve(s: &Setting, secrets: &ResolvedSecrets, what: &str) -> Result<String, KafkaError> {
    secrets.render(s, what).map_err(KafkaError::Config)
}

impl KafkaSettings {
    /// Resolves `k` with secrets the caller already fetched (the CLI's
    /// `check_secrets`); a configuration without secrets can pass
    /// `&ResolvedSecrets::default()`.
    pub fn from_config(k: &KafkaConfig, secrets: &ResolvedSecrets) -> Result<Self, KafkaError> {
        let r = &k.schema_registry;
        let registry = RegistrySettings {
            url: resolve(&r.url, secrets, "kafka.schema_registry.url")?,
            strategy: SubjectStrategy::parse(&r.subject_strategy)?,
            username: r
                .username
                .as_ref()
                .map(|u| resolve(u, secrets, "kafka.schema_registry.username"))
                .transpose()?,
            password: r
                .password
                .as_ref()
                .map(|p| resolve(p, secrets, "kafka.schema_registry.password"))
                .transpose()?,
            timeout: None,
        };
        let properties = k
            .properties
            .iter()
            .map(|(key, v)| {
                Ok((
                    key.clone(),
                    resolve(v, secrets, &format!("kafka.properties.{key}"))?,
                ))
            })
            .collect::<Result<_, KafkaError>>()?;
        let from_secrets = ["sasl.username", "sasl.password"].iter().any(|key| {
            k.properties
                .get(*key)
                .is_some_and(|v| v.secret_names().next().is_some())
        });
        let sasl_refresh = match (&secrets.refresh, from_secrets) {
            (Some(refresh), true) => {
                let refresh = refresh.clone();
                let (user, password) = (
                    k.properties.get("sasl.username").cloned(),
                    k.properties.get("sasl.password").cloned(),
                );
                let f: sasl::SaslRefresh = Arc::new(move || {
                    let fresh = refresh()?;
                    let render = |s: &Option<Setting>, what: &str| match s {
                        Some(s) => fresh.render(s, what),
                        None => Ok(String::new()),
                    };
                    Ok(sasl::SaslCredentials {
                        username: render(&user, "kafka.properties.sasl.username")?,
                        password: render(&password, "kafka.properties.sasl.password")?,
                    })
                });
                Some(f)
            }
            _ => None,
        };
        Ok(Self {
            bootstrap_servers: resolve(&k.bootstrap_servers, secrets, "kafka.bootstrap_servers")?,
            properties,
            registry,
            topic_template: k.topic_template.clone(),
            dlq_topic_template: k.dlq_topic_template.clone(),
            partitions: k.partitions,
            replication_factor: k.replication_factor,
            retention_ms: k.retention.as_millis_i64(),
            compression: k.compression.clone(),
            group_id: k.group_id.clone(),
            sasl_refresh,
        })
    }

    /// The SASL rotation for a client created from these settings (see
    /// [`sasl`]): nothing to rotate unless the credentials come from
    /// secrets.
    pub fn sasl_rotation(&self) -> sasl::SaslRotation {
        let current = match (
            self.properties.get("sasl.username"),
            self.properties.get("sasl.password"),
        ) {
            (None, None) => None,
            (u, p) => Some(sasl::SaslCredentials {
                username: u.cloned().unwrap_or_default(),
                password: p.cloned().unwrap_or_default(),
            }),
        };
        sasl::SaslRotation::new(self.sasl_refresh.clone(), current)
    }

    /// Topic of `event_type` in `domain`.
    pub fn topic(&self, domain: &str, event_type: &str) -> String {
        self.topic_template
            .replace("{domain}", domain)
            .replace("{event_type}", event_type)
    }

    /// Dead-letter topic of `domain`.
    pub fn dlq_topic(&self, domain: &str) -> String {
        self.dlq_topic_template.replace("{domain}", domain)
    }

    /// [`from_config`](Self::from_config), then
    /// [`with_topic_prefix`](Self::with_topic_prefix) when a prefix is given.
    pub fn resolve(
        k: &KafkaConfig,
        secrets: &ResolvedSecrets,
        topic_prefix: Option<&str>,
    ) -> Result<Self, KafkaError> {
        let s = Self::from_config(k, secrets)?;
        match topic_prefix {
            Some(p) => s.with_topic_prefix(p),
            None => Ok(s),
        }
    }

    /// Puts `prefix` in front of every topic (event types and dead letters)
    /// and of the consumer group: a test or a demo gets topics, registry
    /// subjects and committed offsets of its own without a copied
    /// configuration (`--topic-prefix` of `generate`, `run`, `dlq` and
    /// `topics`).
    pub fn with_topic_prefix(mut self, prefix: &str) -> Result<Self, KafkaError> {
        sluice_config::rules::topic_name(prefix).map_err(|p| {
            KafkaError::Config(format!(
                "topic prefix `{prefix}`: {}{}",
                p.message,
                p.expected
                    .map(|e| format!(" (expected {e})"))
                    .unwrap_or_default()
            ))
        })?;
        self.topic_template = format!("{prefix}{}", self.topic_template);
        self.dlq_topic_template = format!("{prefix}{}", self.dlq_topic_template);
        self.group_id = format!("{prefix}{}", self.group_id);
        Ok(self)
    }

    /// Every topic of `domain`: one per event type, then the dead-letter topic.
    pub fn domain_topics(&self, domain: &sluice_config::DomainConfig) -> Vec<String> {
        domain
            .event_types
            .iter()
            .map(|et| self.topic(&domain.domain, &et.name))
            .chain(std::iter::once(self.dlq_topic(&domain.domain)))
            .collect()
    }

    /// A librdkafka configuration: bootstrap servers, then `defaults`, then
    /// the pass-through properties, then `forced` (which nothing overrides).
    pub fn client_config(
        &self,
        defaults: &[(&str, &str)],
        forced: &[(&str, &str)],
    ) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        for (k, v) in forced {
            c.set(*k, *v);
        }
        c
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread. Only for futures driven by
/// another thread (rdkafka's admin client polls its queue itself).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// Creates the topics that do not exist yet with the configured partitions,
/// replication and retention; existing topics are left alone. Returns the
/// topics created.
pub fn ensure_topics(
    settings: &KafkaSettings,
    topics: &[String],
) -> Result<Vec<String>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config(&[], &[])
        .create()
        .map_err(|e| KafkaError::client("admin client creation", e))?;
    let partitions = i32::try_from(settings.partitions.max(1)).map_err(|_| {
        KafkaError::Config(format!("partitions `{}` too large", settings.partitions))
    })?;
    let rf = i32::try_from(settings.replication_factor.max(1)).map_err(|_| {
        KafkaError::Config(format!(
            "replication factor `{}` too large",
            settings.replication_factor
        ))
    })?;
    let retention = settings.retention_ms.to_string();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(t, partitions, TopicReplication::Fixed(rf))
                .set("retention.ms", &retention)
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = block_on(admin.create_topics(new.iter(), &opts))
        .map_err(|e| KafkaError::client("create topics", e))?;
    let mut created = Vec::new();
    for r in results {
        match r {
            Ok(t) => created.push(t),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(KafkaError::client(
                    format!("create topic `{t}`"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
            }
        }
    }
    Ok(created)
}

/// Deletes `topics` and creates them again, empty, with the configured
/// partitions, replication and retention. Kafka deletes asynchronously, so
/// creation is retried (up to 60 s) while a name is still taken.
pub fn recreate_topics(settings: &KafkaSettings, topics: &[String]) -> Result<(), KafkaError> {
    delete_topics(settings, topics)?;
    let policy =
        sluice_core::RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(1), 1)
            .retrying_for(Duration::from_secs(60));
    let mut missing: Vec<String> = topics.to_vec();
    sluice_core::retry_blocking(
        &policy,
        || {
            let created = ensure_topics(settings, &missing)?;
            missing.retain(|t| !created.contains(t));
            if missing.is_empty() {
                Ok(())
            } else {
                Err(None)
            }
        },
        // a name still taken is worth waiting for; an admin error is not
        |e: &Option<KafkaError>| match e {
            None => sluice_core::RetryHint::Retry,
            Some(_) => sluice_core::RetryHint::NoRetry,
        },
        |_| true,
    )
    .map_err(|e| {
        e.unwrap_or_else(|| {
            KafkaError::Config(format!(
                "topics still being deleted after 60 s, not recreated: {}",
                missing.join(", ")
            ))
        })
    })?;
    await_metadata(settings, topics)
}

/// Waits (up to 30 s, the one retry policy) until the broker's metadata
/// shows every topic of `topics` with the configured partitions, each with
/// a leader: right after creation — above all on a broker that just
/// started — metadata can still show a topic without partitions, and a
/// listing or a producer would act on that.
fn await_metadata(settings: &KafkaSettings, topics: &[String]) -> Result<(), KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = settings
        .client_config(&[], &[])
        .create()
        .map_err(|e| KafkaError::client("metadata client creation", e))?;
    let want = settings.partitions.max(1) as usize;
    let policy =
        sluice_core::RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(1), 1)
            .retrying_for(Duration::from_secs(30));
    let mut lagging: Vec<String> = topics.to_vec();
    sluice_core::retry_blocking(
        &policy,
        || {
            let meta = consumer
                .fetch_metadata(None, Duration::from_secs(10))
                .map_err(|e| Some(KafkaError::client("fetch metadata", e)))?;
            lagging.retain(|t| {
                !meta.topics().iter().any(|m| {
                    m.name() == t
                        && m.partitions().len() == want
                        && m.partitions().iter().all(|p| p.leader() >= 0)
                })
            });
            if lagging.is_empty() {
                Ok(())
            } else {
                Err(None)
            }
        },
        |e: &Option<KafkaError>| match e {
            None => sluice_core::RetryHint::Retry,
            Some(e) => e.retry_hint(),
        },
        |_| true,
    )
    .map_err(|e| {
        e.unwrap_or_else(|| {
            KafkaError::Timeout(format!(
                "created, but after 30 s the broker's metadata still lacks partitions of: {}",
                lagging.join(", ")
            ))
        })
    })
}

/// What the broker holds of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicState {
    /// Topic name.
    pub topic: String,
    /// Partitions (0: the topic does not exist).
    pub partitions: usize,
    /// Messages retained: high minus low watermark, summed over partitions.
    pub messages: i64,
}

/// Low and high watermarks of one partition. Right after a topic is created,
/// or while a leader moves, the broker answers "not leader" or "leader not
/// available" for a moment: those answers are retried (the one retry policy,
/// up to 15 s); any other error is returned at once.
pub(crate) fn watermarks<C, K>(
    consumer: &K,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<(i64, i64), KafkaError>
where
    C: rdkafka::consumer::ConsumerContext,
    K: rdkafka::consumer::Consumer<C>,
{
    let policy =
        sluice_core::RetryPolicy::new(Duration::from_millis(50), Duration::from_secs(1), 4)
            .retrying_for(Duration::from_secs(15));
    sluice_core::retry_blocking(
        &policy,
        || consumer.fetch_watermarks(topic, partition, timeout),
        |e| match e.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotCoordinator,
            ) => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        },
        |_| true,
    )
    .map_err(|e| KafkaError::client(format!("watermarks of `{topic}` [{partition}]"), e))
}

/// Partitions and retained messages of `topics` (missing topics: 0, 0).
pub fn topic_states(
    settings: &KafkaSettings,
    topics: &[String],
) -> Result<Vec<TopicState>, KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = settings
        .client_config(&[], &[])
        .create()
        .map_err(|e| KafkaError::client("metadata client creation", e))?;
    let timeout = Duration::from_secs(10);
    let meta = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| KafkaError::client("fetch metadata", e))?;
    let mut out = Vec::new();
    for t in topics {
        let mut state = TopicState {
            topic: t.clone(),
            partitions: 0,
            messages: 0,
        };
        if let Some(m) = meta.topics().iter().find(|m| m.name() == t) {
            state.partitions = m.partitions().len();
            for p in m.partitions() {
                let (lo, hi) = watermarks(&consumer, t, p.id(), timeout)?;
                state.messages += hi - lo;
            }
        }
        out.push(state);
    }
    Ok(out)
}

/// Deletes topics (tests and clean-up); missing topics are ignored.
pub fn delete_topics(settings: &KafkaSettings, topics: &[String]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config(&[], &[])
        .create()
        .map_err(|e| KafkaError::client("admin client creation", e))?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = block_on(admin.delete_topics(&names, &opts))
        .map_err(|e| KafkaError::client("delete topics", e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((t, code)) => {
                return Err(KafkaError::client(
                    format!("delete topic `{t}`"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
            }
        }
    }
    Ok(())
}

pub(crate) use sluice_formats::avro::{read_bytes, read_long};

/// The entity key of a plain datum in layout order (the third envelope
/// field, after `event_id` and `event_type`), or `None` when the datum is
/// too short to hold it.
pub fn entity_key(datum: &[u8]) -> Option<&[u8]> {
    let mut b = datum;
    read_bytes(&mut b)?;
    read_bytes(&mut b)?;
    read_bytes(&mut b)
}

/// The event id of a plain datum in layout order (the first field).
pub fn event_id(datum: &[u8]) -> Option<&[u8]> {
    let mut b = datum;
    read_bytes(&mut b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_reader_handles_short_input() {
        // "e1", "view", "u42"
        let d = [
            4, b'e', b'1', 8, b'v', b'i', b'e', b'w', 6, b'u', b'4', b'2', 9,
        ];
        assert_eq!(entity_key(&d), Some(&b"u42"[..]));
        assert_eq!(event_id(&d), Some(&b"e1"[..]));
        for n in 0..12 {
            assert_eq!(entity_key(&d[..n]), None, "{n}");
        }
        assert_eq!(entity_key(&[0xff; 20]), None);
        assert_eq!(entity_key(&[1]), None); // negative length
    }
}
