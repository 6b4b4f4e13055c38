//! Factories: how a source or a sink is built by name from the validated
//! configuration, its resolved secrets and a [`RunSpec`] (library types
//! only; the CLI parses its arguments into a `RunSpec`).
//!
//! Each connector's factory lives beside it (`source/<name>.rs`,
//! `sink/<name>.rs`; Kafka's in `sluice-kafka`); the runtime's `topology`
//! lists them in its registries and wires what they build into a pipeline.
//! Capabilities are trait methods ([`SinkFactory::merges_partials`],
//! [`SourceFactory::reads_projected`], [`SinkFactory::store`]), never
//! comparisons of names; what a source needs from the pipeline (commits,
//! dead-letter output) it returns as [`SourceHooks`].

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use sluice_config::{Config, DomainConfig};
use sluice_core::{Classify, ErrorDomain, RecordLayout, RetryHint};
use sluice_generator::FaultOptions;
use sluice_secrets::ResolvedSecrets;

use crate::{CommitPosition, ConnectorError, DeadLetterRecord, Sink, Source, Store};

/// What to run, besides the configuration.
#[derive(Clone, Debug, Default)]
pub struct RunSpec {
    /// Domain to run.
    pub domain: String,
    /// Only these aggregations (empty: all of the domain's).
    pub aggregations: Vec<String>,
    /// A source name, with its argument after a colon (`generator`,
    /// `file:events/*.jsonl`, `kafka`).
    pub source: String,
    /// Sink name (`None`: `sinks.default`).
    pub sink: Option<String>,
    /// The generator source's options.
    pub generator: GeneratorSpec,
    /// The Kafka source's options.
    pub kafka: KafkaSpec,
    /// DuckDB file (`None`: `sinks.duckdb.path`).
    pub duckdb_path: Option<String>,
    /// JSON lines output (`None`: `sinks.jsonl.path`).
    pub jsonl_path: Option<String>,
    /// Draw the live view on stderr (when it is a terminal).
    pub live_view: bool,
    /// Serve `/metrics`, `/healthz` and `/readyz` here (`None`:
    /// `metrics.address` when `metrics.enabled`).
    pub metrics_address: Option<String>,
}

/// Options of the generator source.
#[derive(Clone, Debug, Default)]
pub struct GeneratorSpec {
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this span of event time.
    pub duration_ms: Option<i64>,
    /// Events per second of event time.
    pub rate: Option<f64>,
    /// Seed (`None`: [`sluice_generator::DEFAULT_SEED`]).
    pub seed: Option<u64>,
    /// Follow the wall clock even when bounded (unbounded runs always do).
    pub realtime: bool,
    /// Faults to inject.
    pub faults: FaultOptions,
}

/// Options of the Kafka source.
#[derive(Clone, Debug, Default)]
pub struct KafkaSpec {
    /// Consumer group (`None`: `kafka.group_id`).
    pub group: Option<String>,
    /// Stop once every assigned partition is read to its end.
    pub until_end: bool,
    /// Static-membership instance name (`None`: `SLUICE_INSTANCE`, else the
    /// host name; empty: off).
    pub instance: Option<String>,
    /// Put this in front of every topic and the default group.
    pub topic_prefix: Option<String>,
}

/// Resolves the configuration's secrets when a factory needs them (the
/// embedded default needs none, so a missing ClickHouse password cannot
/// stop it).
pub type SecretsFn<'a> = &'a dyn Fn() -> Result<ResolvedSecrets, BuildError>;

/// Called with source positions once results covering them are durable.
pub type CommitHook = Arc<dyn Fn(&[CommitPosition]) -> Result<(), String> + Send + Sync>;
/// Called with each batch of dead letters before the sink writes them.
pub type DeadLetterHook = Arc<Mutex<dyn FnMut(&[DeadLetterRecord]) -> Result<(), String> + Send>>;

/// What a factory builds from.
pub struct Context<'a> {
    /// The validated configuration.
    pub cfg: &'a Config,
    /// The run's domain.
    pub domain: &'a DomainConfig,
    /// The run.
    pub spec: &'a RunSpec,
    /// Secrets, resolved on demand.
    pub secrets: SecretsFn<'a>,
    /// The layouts the engine reads (projected onto the fields the plan
    /// uses when the source [reads projected](SourceFactory::reads_projected)).
    pub layouts: &'a [RecordLayout],
    /// Whether the pipeline runs one engine per source partition (the sink
    /// merges partial rows).
    pub sharded: bool,
    /// Set when the run is asked to stop (Ctrl-C).
    pub stop: &'a Arc<AtomicBool>,
}

impl Context<'_> {
    /// The resolved secrets.
    pub fn secrets(&self) -> Result<ResolvedSecrets, BuildError> {
        (self.secrets)()
    }
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("domain", &self.domain.domain.value)
            .field("spec", &self.spec)
            .field("sharded", &self.sharded)
            .finish_non_exhaustive()
    }
}

/// What a source asks of the pipeline.
#[derive(Clone, Default)]
pub struct SourceHooks {
    /// After each durable write, with the safe commit position of every
    /// partition read so far (sharded runs only: see the runtime's
    /// pipeline).
    pub on_durable: Option<CommitHook>,
    /// Once the input ended and every result is durable.
    pub on_durable_end: Option<CommitHook>,
    /// Each batch of dead letters, before the sink writes them.
    pub dead_letters: Option<DeadLetterHook>,
    /// Reads the committed positions a lane resumes from (sources with
    /// committed offsets: Kafka), for restoring checkpoints.
    pub committed: Option<crate::checkpoint::Committed>,
}

impl std::fmt::Debug for SourceHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceHooks")
            .field("on_durable", &self.on_durable.is_some())
            .field("on_durable_end", &self.on_durable_end.is_some())
            .field("dead_letters", &self.dead_letters.is_some())
            .field("committed", &self.committed)
            .finish()
    }
}

/// A built source, how many records it will deliver when known (the live
/// view's progress bar) and what it asks of the pipeline.
pub struct BuiltSource {
    /// The source.
    pub source: Box<dyn Source>,
    /// Records it delivers, when bounded and known in advance.
    pub limit: Option<u64>,
    /// Commits and dead-letter output.
    pub hooks: SourceHooks,
}

impl BuiltSource {
    /// A source without hooks.
    pub fn plain(source: Box<dyn Source>, limit: Option<u64>) -> Self {
        Self {
            source,
            limit,
            hooks: SourceHooks::default(),
        }
    }
}

impl std::fmt::Debug for BuiltSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltSource")
            .field("source", &self.source.describe())
            .field("limit", &self.limit)
            .field("hooks", &self.hooks)
            .finish()
    }
}

/// Builds one kind of source.
pub trait SourceFactory: Sync {
    /// Registry name (`--source NAME` or `NAME:ARG`).
    fn name(&self) -> &'static str;
    /// How users write it (`file:PATH`).
    fn usage(&self) -> &'static str {
        self.name()
    }
    /// Whether it delivers records projected onto the fields the plan reads
    /// (the engine then reads [`Context::layouts`] projected): for sources
    /// that project while parsing (JSON lines).
    fn reads_projected(&self, arg: Option<&str>) -> bool {
        let _ = arg;
        false
    }
    /// Builds the source.
    fn build(&self, cx: &Context<'_>, arg: Option<&str>) -> Result<BuiltSource, BuildError>;
}

/// Builds one kind of sink.
pub trait SinkFactory: Sync {
    /// Registry name (`--sink NAME`, `sinks.default`).
    fn name(&self) -> &'static str;
    /// Whether the store merges partial rows per source partition, so the
    /// pipeline can run one engine per partition (several instances,
    /// exactly-once replays); otherwise it stores final rows.
    fn merges_partials(&self) -> bool {
        false
    }
    /// Connects; returns the sink and a description for logs.
    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), BuildError>;
    /// Its results read back with SQL, when the sink is a store (`None`:
    /// it cannot be queried, e.g. JSON lines).
    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, BuildError>> {
        let _ = cx;
        None
    }
}

/// An error that says how to handle it (for services beside this crate,
/// such as Kafka's).
pub trait ClassifiedError: std::error::Error + Classify + Send + Sync + 'static {}
impl<T: std::error::Error + Classify + Send + Sync + 'static> ClassifiedError for T {}

/// Why a source or a sink could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad arguments for this connector.
    #[error("{0}")]
    Usage(String),
    /// Secrets the connector needs could not be resolved (the caller has
    /// reported each problem).
    #[error("secrets: {0}")]
    Secrets(String),
    /// The source failed.
    #[error("source: {0}")]
    Source(ConnectorError),
    /// The sink failed.
    #[error("sink: {0}")]
    Sink(ConnectorError),
    /// A store could not be reached.
    #[error("cannot connect to {what} (is it running? {hint}): {cause}")]
    Connect {
        /// The store.
        what: &'static str,
        /// How to start it.
        hint: &'static str,
        /// Why.
        cause: ConnectorError,
    },
    /// A service could not be set up (Kafka: settings, topics, group).
    #[error("{what}: {cause}")]
    Service {
        /// The service (`kafka`).
        what: &'static str,
        /// Why.
        cause: Box<dyn ClassifiedError>,
    },
}

impl Classify for BuildError {
    fn domain(&self) -> ErrorDomain {
        match self {
            BuildError::Usage(_) | BuildError::Secrets(_) => ErrorDomain::User,
            BuildError::Source(e) | BuildError::Sink(e) => e.domain(),
            BuildError::Connect { cause, .. } => cause.domain(),
            BuildError::Service { cause, .. } => cause.domain(),
        }
    }

    fn retry_hint(&self) -> RetryHint {
        match self {
            BuildError::Usage(_) | BuildError::Secrets(_) => RetryHint::NoRetry,
            BuildError::Source(e) | BuildError::Sink(e) => e.retry_hint(),
            BuildError::Connect { cause, .. } => cause.retry_hint(),
            BuildError::Service { cause, .. } => cause.retry_hint(),
        }
    }
}
