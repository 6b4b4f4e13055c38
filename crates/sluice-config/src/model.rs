//! The typed configuration model. Every field keeps the position it was
//! written at so validation can point at it.

use std::collections::BTreeMap;

use serde::Serialize;
use sluice_core::{AggregateKind, FieldType, HumanDuration, MoneyEncoding, Predicate, WindowSpec};

use crate::diag::Pos;
use crate::yaml::{Part, YNode};

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its position.
    #[serde(skip)]
    pub pos: Pos,
}

impl<T> Spanned<T> {
    /// Wraps a value.
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A string setting that may contain `${secret:name}` references, resolved
/// late by `sluice-secrets`. `${env:...}` has already been expanded.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Literal and secret parts.
    pub parts: Vec<Part>,
    /// Where it was written.
    pub pos: Pos,
}

impl Setting {
    /// The names of the secrets this setting references.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Secret(s) => Some(s.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// True when the setting holds no secret.
    pub fn is_plain(&self) -> bool {
        self.secret_names().next().is_none()
    }

    /// The plain text when there is no secret.
    pub fn plain(&self) -> Option<String> {
        self.is_plain().then(|| {
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => s.as_str(),
                    Part::Secret(_) => "",
                })
                .collect()
        })
    }
}

impl Serialize for Setting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.plain() {
            Some(p) => s.serialize_str(&p),
            None => s.serialize_str(sluice_core::secret::REDACTED),
        }
    }
}

/// `config/platform.yaml` merged with `config/environments/<env>.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlatformConfig {
    /// Kafka and schema registry.
    pub kafka: KafkaConfig,
    /// Engine defaults.
    pub engine: EngineConfig,
    /// Result stores.
    pub sinks: SinksConfig,
    /// Prometheus metrics endpoint.
    pub metrics: MetricsConfig,
    /// Secret backends, tried in order.
    pub secrets: Vec<SecretBackendConfig>,
    /// Logging defaults.
    pub logging: LoggingConfig,
    /// The seed's `spark:` section, accepted for compatibility; its
    /// `trigger_interval` and `watermark.delay` become engine defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark: Option<SparkConfig>,
}

/// Kafka settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KafkaConfig {
    /// `host:port` list of brokers.
    pub bootstrap_servers: Setting,
    /// Confluent-compatible schema registry.
    pub schema_registry: SchemaRegistryConfig,
    /// Topic per event type; `{domain}` and `{event_type}` are replaced.
    pub topic_template: String,
    /// Dead-letter topic; `{domain}` is replaced.
    pub dlq_topic_template: String,
    /// Where `topic_template` was written (`None`: the default).
    #[serde(skip)]
    pub topic_template_pos: Option<Pos>,
    /// Where `dlq_topic_template` was written (`None`: the default).
    #[serde(skip)]
    pub dlq_topic_template_pos: Option<Pos>,
    /// Partitions for topics sluice creates.
    pub partitions: u32,
    /// Replication factor for topics sluice creates.
    pub replication_factor: u32,
    /// Retention for topics sluice creates.
    pub retention: HumanDuration,
    /// Producer compression: none, gzip, snappy, lz4, zstd.
    pub compression: String,
    /// Consumer group id.
    pub group_id: String,
    /// Any librdkafka property, passed through unchanged (values may use `${secret:...}`).
    pub properties: BTreeMap<String, Setting>,
}

/// Schema registry settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemaRegistryConfig {
    /// Base URL.
    pub url: Setting,
    /// Subject naming: topic_name, record_name or topic_record_name.
    pub subject_strategy: String,
    /// Basic-auth user, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Setting>,
    /// Basic-auth password, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Setting>,
}

/// Engine defaults (each aggregation may override delay and lateness).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineConfig {
    /// How far the watermark trails the largest event time seen.
    pub watermark_delay: HumanDuration,
    /// How long after a window closes late events still update it.
    pub allowed_lateness: HumanDuration,
    /// How often results are flushed (and early results emitted).
    pub trigger_interval: HumanDuration,
    /// A partition without events this long stops holding the watermark back.
    pub idle_timeout: HumanDuration,
    /// Events further ahead of the largest event time than this are outliers.
    pub max_future_skew: HumanDuration,
    /// Emit provisional results every trigger interval (update mode).
    pub early_results: bool,
    /// Most open groups one aggregation may hold; over it, events that would
    /// open another are dead-lettered (kind `state_limit`). `None`: no limit.
    pub max_open_groups: Option<u64>,
    /// Where late events beyond allowed lateness go: `dead_letter` (the
    /// dead-letter store, kind `late`, with the reason and original bytes).
    pub late_events: String,
    /// How often open-window state is checkpointed beside the results (Kafka
    /// into ClickHouse), so committed offsets move at this pace whatever the
    /// longest window. `0s`: never (a restart re-reads from the oldest open
    /// window's first event).
    pub checkpoint_interval: HumanDuration,
}

/// Result stores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinksConfig {
    /// The sink `sluice run` writes to: duckdb, clickhouse or jsonl.
    pub default: String,
    /// Embedded DuckDB store.
    pub duckdb: DuckDbConfig,
    /// ClickHouse over HTTP.
    pub clickhouse: ClickHouseConfig,
    /// JSON lines file or stdout.
    pub jsonl: JsonlConfig,
}

/// DuckDB sink.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DuckDbConfig {
    /// Database file.
    pub path: String,
}

/// ClickHouse sink.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClickHouseConfig {
    /// HTTP URL, e.g. `http://127.0.0.1:8123`.
    pub url: Setting,
    /// Database.
    pub database: String,
    /// User.
    pub user: Setting,
    /// Password.
    pub password: Setting,
    /// Create tables and views when missing.
    pub create_tables: bool,
    /// Optional TTL for result rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<HumanDuration>,
}

/// JSON lines sink.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JsonlConfig {
    /// File path, `-` for stdout.
    pub path: String,
}

/// Metrics endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsConfig {
    /// Serve `/metrics`, `/healthz`, `/readyz`.
    pub enabled: bool,
    /// Listen address.
    pub address: String,
}

/// Logging defaults (the CLI's `--log-format` and `RUST_LOG` win).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoggingConfig {
    /// Filter directives, e.g. `info,sluice_engine=debug`.
    pub level: String,
    /// `pretty` or `json`.
    pub format: String,
}

/// One secret backend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecretBackendConfig {
    /// Backend name: env, dotenv, file or vault.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Backend options (env: prefix; dotenv: path; file: dir; vault: see README).
    pub options: BTreeMap<String, String>,
    /// Where the backend was declared.
    #[serde(skip)]
    pub pos: Pos,
}

/// The seed's Spark section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SparkConfig {
    /// Spark application name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Spark master URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Micro-batch trigger interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_interval: Option<HumanDuration>,
    /// Watermark delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_delay: Option<HumanDuration>,
}

/// One domain from `config/domains/<domain>.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DomainConfig {
    /// Domain name (safe identifier).
    pub domain: Spanned<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The entity events are about.
    pub entity: EntityConfig,
    /// Event types.
    pub event_types: Vec<EventTypeConfig>,
    /// Windowed aggregations.
    pub aggregations: Vec<AggregationConfig>,
    /// How money is written in Avro (`long` minor units or `decimal`).
    #[serde(serialize_with = "ser_money")]
    pub money_encoding: MoneyEncoding,
    /// Domain-level generator hints (sessions, funnel), decoded by `sluice-generator`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_raw")]
    pub generator: Option<YNode>,
    /// Position of the top of the file.
    #[serde(skip)]
    pub pos: Pos,
}

/// The entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityConfig {
    /// Name of the key field (e.g. `user_id`).
    pub primary_key: Spanned<String>,
    /// Optional entity name (e.g. `user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Entity-level generator hints (population, stable attributes).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_raw")]
    pub generator: Option<YNode>,
}

/// One event type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventTypeConfig {
    /// Name (safe identifier).
    pub name: Spanned<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Descriptive fields.
    pub attributes: Vec<FieldConfig>,
    /// Fields aggregations can group by.
    pub dimensions: Vec<FieldConfig>,
    /// Event-level generator hints, decoded by `sluice-generator`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_raw")]
    pub generator: Option<YNode>,
    /// Position of the list item.
    #[serde(skip)]
    pub pos: Pos,
}

impl EventTypeConfig {
    /// Attributes then dimensions.
    pub fn fields(&self) -> impl Iterator<Item = &FieldConfig> {
        self.attributes.iter().chain(self.dimensions.iter())
    }
}

/// One field: a bare name (a required string) or a mapping.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldConfig {
    /// Name (safe identifier).
    pub name: Spanned<String>,
    /// Type; `string` when only a name is given.
    #[serde(rename = "type", serialize_with = "ser_type")]
    pub ty: FieldType,
    /// Union with null, default null.
    pub optional: bool,
    /// Free text, carried into the Avro doc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Field-level generator hints, decoded by `sluice-generator`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_raw")]
    pub generator: Option<YNode>,
    /// Position of the field.
    #[serde(skip)]
    pub pos: Pos,
}

/// A windowed aggregation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggregationConfig {
    /// Name (safe identifier).
    pub name: Spanned<String>,
    /// count, sum, avg, min, max, count_distinct, approx_count_distinct, percentile.
    #[serde(rename = "type", serialize_with = "ser_kind")]
    pub kind: Spanned<AggregateKind>,
    /// The field it reads (not for count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Spanned<String>>,
    /// Quantiles for percentile, each in (0, 1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<f64>,
    /// Event types feeding it; empty in YAML means every event type that has
    /// the fields it needs (resolved by validation).
    pub event_types: Vec<Spanned<String>>,
    /// The window.
    #[serde(serialize_with = "ser_window")]
    pub window: Spanned<WindowSpec>,
    /// Group-by fields.
    pub group_by: Vec<Spanned<String>>,
    /// Filters, ANDed.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_filters")]
    pub filter: Vec<Spanned<Predicate>>,
    /// Per-aggregation watermark delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_delay: Option<HumanDuration>,
    /// Per-aggregation allowed lateness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_lateness: Option<HumanDuration>,
    /// Sink table name (defaults to the aggregation name).
    pub sink_table: Spanned<String>,
    /// Position of the list item.
    #[serde(skip)]
    pub pos: Pos,
}

fn ser_money<S: serde::Serializer>(m: &MoneyEncoding, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match m {
        MoneyEncoding::Long => "long",
        MoneyEncoding::Decimal => "decimal",
    })
}

fn ser_raw<S: serde::Serializer>(n: &Option<YNode>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => crate::show::node_to_json(n).serialize(s),
        None => s.serialize_none(),
    }
}

fn ser_type<S: serde::Serializer>(t: &FieldType, s: S) -> Result<S::Ok, S::Error> {
    match t {
        FieldType::Enum { symbols } => format!("enum[{}]", symbols.join(",")).serialize(s),
        FieldType::Money { currency, scale } => format!("money({currency},{scale})").serialize(s),
        other => s.serialize_str(other.name()),
    }
}

fn ser_kind<S: serde::Serializer>(k: &Spanned<AggregateKind>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.value.name())
}

fn ser_window<S: serde::Serializer>(w: &Spanned<WindowSpec>, s: S) -> Result<S::Ok, S::Error> {
    let mut m = BTreeMap::new();
    m.insert("type", w.value.type_name().to_string());
    match w.value {
        WindowSpec::Tumbling { size } => {
            m.insert("duration", size.to_string());
        }
        WindowSpec::Sliding { size, slide } => {
            m.insert("duration", size.to_string());
            m.insert("slide", slide.to_string());
        }
        WindowSpec::Session { gap } => {
            m.insert("gap", gap.to_string());
        }
        WindowSpec::Cumulative { step, max_size } => {
            m.insert("step", step.to_string());
            m.insert("max_size", max_size.to_string());
        }
    }
    m.serialize(s)
}

fn ser_filters<S: serde::Serializer>(f: &[Spanned<Predicate>], s: S) -> Result<S::Ok, S::Error> {
    let v: Vec<String> = f
        .iter()
        .map(|p| format!("{} {} {:?}", p.value.field, p.value.op, p.value.value))
        .collect();
    v.serialize(s)
}
