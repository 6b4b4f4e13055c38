//! Topology: which source feeds a run and which sink it writes, built by
//! name from explicit registries ([`sources`], [`sinks`]) out of the
//! validated configuration and a [`RunSpec`] (library types only: the CLI
//! parses its arguments into a `RunSpec` and calls [`run`]).
//!
//! Adding a source or a sink: the connector itself (in `sluice-connectors`),
//! a factory in [`sources`](mod@sources) or [`sinks`](mod@sinks), and its
//! entry in the registry function below. Capabilities live on the factory
//! traits (e.g. [`SinkFactory::merges_partials`]), never in comparisons of
//! names.

pub mod sinks;
pub mod sources;

use std::sync::Arc;

use sluice_config::{Config, DomainConfig};
use sluice_connectors::{Sink, Source, Store};
use sluice_generator::FaultOptions;
use sluice_secrets::ResolvedSecrets;

use crate::pipeline::{self, PipelineOptions, RunSummary, Stats};
use crate::plan::BuiltPlan;
use crate::RuntimeError;

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
pub type SecretsFn<'a> = &'a dyn Fn() -> Result<ResolvedSecrets, RuntimeError>;

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
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("domain", &self.domain.domain.value)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// A source and how many records it will deliver when known (the live
/// view's progress bar).
pub struct BuiltSource {
    /// The source.
    pub source: Box<dyn Source>,
    /// Records it delivers, when bounded and known in advance.
    pub limit: Option<u64>,
}

impl std::fmt::Debug for BuiltSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltSource")
            .field("source", &self.source.describe())
            .field("limit", &self.limit)
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
    /// Builds the source; may narrow `built` (e.g. project layouts onto the
    /// fields the plan reads) and set pipeline hooks in `opts` (commits,
    /// dead-letter output).
    fn build(
        &self,
        cx: &Context<'_>,
        arg: Option<&str>,
        built: &mut BuiltPlan,
        opts: &mut PipelineOptions,
    ) -> Result<BuiltSource, RuntimeError>;
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
    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), RuntimeError>;
    /// Its results read back with SQL, when the sink is a store (`None`:
    /// it cannot be queried, e.g. JSON lines).
    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, RuntimeError>> {
        let _ = cx;
        None
    }
}

/// Every source, by name.
pub fn sources() -> &'static [&'static dyn SourceFactory] {
    &[&sources::Generator, &sources::Files, &sources::Kafka]
}

/// Every sink, by name.
pub fn sinks() -> &'static [&'static dyn SinkFactory] {
    &[&sinks::DuckDb, &sinks::ClickHouse, &sinks::Jsonl]
}

/// The registered sink names.
pub fn sink_names() -> Vec<&'static str> {
    sinks().iter().map(|s| s.name()).collect()
}

/// How each registered source is written (`file:PATH`).
pub fn source_usages() -> Vec<&'static str> {
    sources().iter().map(|s| s.usage()).collect()
}

fn unknown(what: &str, given: &str, known: &[&str]) -> RuntimeError {
    let mut msg = format!(
        "unknown {what} `{given}` (expected {})",
        sluice_config::diag::one_of(known)
    );
    if let Some(s) = sluice_config::diag::suggest(given, known.iter().copied()) {
        msg.push_str(&format!("; {s}"));
    }
    RuntimeError::Usage(msg)
}

/// The source factory `spec` names, and its argument.
pub fn source_of(spec: &str) -> Result<(&'static dyn SourceFactory, Option<&str>), RuntimeError> {
    let (name, arg) = match spec.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (spec, None),
    };
    let names: Vec<&str> = sources().iter().map(|s| s.name()).collect();
    sources()
        .iter()
        .find(|s| s.name() == name)
        .map(|s| (*s, arg))
        .ok_or_else(|| unknown("source", name, &names))
}

/// The sink factory named `name`.
pub fn sink_of(name: &str) -> Result<&'static dyn SinkFactory, RuntimeError> {
    sinks()
        .iter()
        .find(|s| s.name() == name)
        .copied()
        .ok_or_else(|| unknown("sink", name, &sink_names()))
}

/// The sink a run writes: the spec's, else `sinks.default`.
pub fn sink_name<'a>(spec: &'a RunSpec, cfg: &'a Config) -> &'a str {
    spec.sink
        .as_deref()
        .unwrap_or(cfg.platform.sinks.default.as_str())
}

/// The store behind the sink `spec` names (`sluice query`, `sluice
/// tables`): the DuckDB file, or ClickHouse when it is the sink.
pub fn open_store(
    cfg: &Config,
    spec: &RunSpec,
    secrets: SecretsFn<'_>,
) -> Result<Box<dyn Store>, RuntimeError> {
    let name = sink_name(spec, cfg);
    let factory = sink_of(name)?;
    let domain = cfg
        .domains
        .iter()
        .find(|d| d.domain.value == spec.domain)
        .or(cfg.domains.first())
        .ok_or_else(|| RuntimeError::Usage("no domain configured".into()))?;
    let cx = Context {
        cfg,
        domain,
        spec,
        secrets,
    };
    factory.store(&cx).unwrap_or_else(|| {
        Err(RuntimeError::Usage(format!(
            "the `{name}` sink keeps no store to query (`--db FILE` reads a DuckDB file)"
        )))
    })
}

/// A run, wired and ready: what [`pipeline::run`] takes.
pub struct Topology {
    /// Plan and result tables.
    pub built: BuiltPlan,
    /// The source.
    pub source: Box<dyn Source>,
    /// The sink.
    pub sink: Box<dyn Sink>,
    /// The sink, for logs and the summary.
    pub sink_desc: String,
    /// Pipeline options with the source's hooks set.
    pub opts: PipelineOptions,
    /// Records the source delivers, when known.
    pub limit: Option<u64>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("source", &self.source.describe())
            .field("sink", &self.sink_desc)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// Builds the plan, the source and the sink of `spec`. `stop` is the flag
/// that ends the run (Ctrl-C).
pub fn build(
    cfg: &Config,
    spec: &RunSpec,
    secrets: SecretsFn<'_>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<Topology, RuntimeError> {
    let domain = cfg
        .domain(&spec.domain)
        .ok_or_else(|| RuntimeError::Usage(format!("unknown domain `{}`", spec.domain)))?;
    let sink_factory = sink_of(sink_name(spec, cfg))?;
    let (source_factory, arg) = source_of(&spec.source)?;
    let mut built = crate::plan::build(domain, &cfg.platform.engine, &spec.aggregations)?;
    let mut opts = PipelineOptions {
        trigger_interval: cfg.platform.engine.trigger_interval.0,
        stop,
        sharded: sink_factory.merges_partials(),
        ..PipelineOptions::default()
    };
    let cx = Context {
        cfg,
        domain,
        spec,
        secrets,
    };
    let src = source_factory.build(&cx, arg, &mut built, &mut opts)?;
    let (sink, sink_desc) = sink_factory.build(&cx)?;
    Ok(Topology {
        built,
        source: src.source,
        sink,
        sink_desc,
        opts,
        limit: src.limit,
    })
}

/// Runs `spec` to its end (or Ctrl-C): builds the topology, serves
/// metrics when asked, draws the live view, runs the pipeline. Returns
/// the summary and the sink's description.
pub fn run(
    cfg: &Config,
    spec: &RunSpec,
    secrets: SecretsFn<'_>,
) -> Result<(RunSummary, String), RuntimeError> {
    let t = build(cfg, spec, secrets, crate::shutdown::install())?;
    tracing::info!(
        domain = %spec.domain,
        source = %t.source.describe(),
        sink = %t.sink_desc,
        aggregations = t.built.tables.len(),
        "starting"
    );
    let stats = Arc::new(Stats::default());
    let metrics_address = spec.metrics_address.clone().or_else(|| {
        cfg.platform
            .metrics
            .enabled
            .then(|| cfg.platform.metrics.address.clone())
    });
    let _metrics_server = match &metrics_address {
        Some(addr) => {
            let handle = crate::observe::install_recorder(&spec.domain, &[])?;
            let server = crate::observe::serve(addr, Some(handle), stats.clone())?;
            tracing::info!(address = %addr, "serving /metrics, /healthz and /readyz");
            Some(server)
        }
        None => None,
    };
    let live = if spec.live_view {
        crate::live::spawn(stats.clone(), t.built.tables.clone(), t.limit)
    } else {
        None
    };
    let result = pipeline::run(t.built, t.source, t.sink, t.opts, stats.clone());
    stats.done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = live {
        h.join().ok();
    }
    Ok((result?, t.sink_desc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_with_suggestions() {
        let mut names = sink_names();
        names.extend(sources().iter().map(|s| s.name()));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is registered twice");
        assert_eq!(sink_of("clickhouse").unwrap().name(), "clickhouse");
        let (f, arg) = source_of("file:events/*.jsonl").unwrap();
        assert_eq!((f.name(), arg), ("file", Some("events/*.jsonl")));
        let (f, arg) = source_of("kafka").unwrap();
        assert_eq!((f.name(), arg), ("kafka", None));
        let e = sink_of("duckbd").err().unwrap().to_string();
        assert!(e.contains("did you mean `duckdb`?"), "{e}");
        let e = source_of("kafak").err().unwrap().to_string();
        assert!(e.contains("did you mean `kafka`?"), "{e}");
        assert_eq!(source_usages(), ["generator", "file:PATH", "kafka"]);
    }

    #[test]
    fn only_a_store_that_merges_partial_rows_shards_the_pipeline() {
        let merging: Vec<&str> = sinks()
            .iter()
            .filter(|s| s.merges_partials())
            .map(|s| s.name())
            .collect();
        assert_eq!(merging, ["clickhouse"]);
    }
}
