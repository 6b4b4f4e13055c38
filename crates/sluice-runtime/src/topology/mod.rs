//! Topology: which source feeds a run and which sink it writes, built by
//! name from explicit registries ([`sources`], [`sinks`]) out of the
//! validated configuration and a [`RunSpec`] (library types only: the CLI
//! parses its arguments into a `RunSpec` and calls [`run`]).
//!
//! The factories live beside their connectors (`sluice-connectors`'
//! `source/` and `sink/` files, Kafka's in `sluice-kafka`); adding one is
//! its entry in the registry functions below. Capabilities live on the
//! factory traits (e.g. [`SinkFactory::merges_partials`]), never in
//! comparisons of names.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sluice_config::Config;
use sluice_connectors::{Sink, Source, Store};

pub use sluice_connectors::factory::{
    BuildError, BuiltSource, Context, GeneratorSpec, KafkaSpec, RunSpec, SecretsFn, SinkFactory,
    SourceFactory, SourceHooks,
};

use crate::pipeline::{self, PipelineOptions, RunSummary, Stats};
use crate::plan::BuiltPlan;
use crate::RuntimeError;

/// Every source, by name.
pub fn sources() -> &'static [&'static dyn SourceFactory] {
    use sluice_connectors::source::{file::FilesFactory, generator::GeneratorFactory};
    &[
        &GeneratorFactory,
        &FilesFactory,
        &sluice_kafka::KafkaFactory,
    ]
}

/// Every sink, by name.
pub fn sinks() -> &'static [&'static dyn SinkFactory] {
    use sluice_connectors::sink::{
        clickhouse::ClickHouseFactory, duckdb::DuckDbFactory, jsonl::JsonlFactory,
    };
    &[&DuckDbFactory, &ClickHouseFactory, &JsonlFactory]
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
    let stop = Arc::new(AtomicBool::new(false));
    let cx = Context {
        cfg,
        domain,
        spec,
        secrets,
        layouts: &[],
        sharded: factory.merges_partials(),
        stop: &stop,
    };
    match factory.store(&cx) {
        Some(store) => Ok(store?),
        None => Err(RuntimeError::Usage(format!(
            "the `{name}` sink keeps no store to query (`--db FILE` reads a DuckDB file)"
        ))),
    }
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
    stop: Arc<AtomicBool>,
) -> Result<Topology, RuntimeError> {
    let domain = cfg
        .domain(&spec.domain)
        .ok_or_else(|| RuntimeError::Usage(format!("unknown domain `{}`", spec.domain)))?;
    let sink_factory = sink_of(sink_name(spec, cfg))?;
    let (source_factory, arg) = source_of(&spec.source)?;
    let mut built = crate::plan::build(domain, &cfg.platform.engine, &spec.aggregations)?;
    if source_factory.reads_projected(arg) {
        built = crate::plan::projected(&built);
    }
    let sharded = sink_factory.merges_partials();
    let cx = Context {
        cfg,
        domain,
        spec,
        secrets,
        layouts: &built.plan.layouts,
        sharded,
        stop: &stop,
    };
    let src = source_factory.build(&cx, arg)?;
    let (sink, sink_desc) = sink_factory.build(&cx)?;
    let checkpoints = checkpointing(cfg, &src.hooks, sink.as_ref())?;
    let opts = PipelineOptions {
        trigger_interval: cfg.platform.engine.trigger_interval.0,
        stop,
        sharded,
        on_durable: src.hooks.on_durable,
        on_durable_end: src.hooks.on_durable_end,
        dead_letter_hook: src.hooks.dead_letters,
        checkpoints,
        ..PipelineOptions::default()
    };
    Ok(Topology {
        built,
        source: src.source,
        sink,
        sink_desc,
        opts,
        limit: src.limit,
    })
}

/// Checkpoints of open windows when the source commits positions mid-run,
/// the sink keeps checkpoints and `engine.checkpoint_interval` is not zero.
fn checkpointing(
    cfg: &Config,
    hooks: &sluice_connectors::SourceHooks,
    sink: &dyn sluice_connectors::Sink,
) -> Result<Option<crate::pipeline::Checkpointing>, RuntimeError> {
    let interval = cfg.platform.engine.checkpoint_interval.0;
    let (Some(committed), true, false) = (
        hooks.committed.clone(),
        hooks.on_durable.is_some(),
        interval.is_zero(),
    ) else {
        return Ok(None);
    };
    let Some(mut store) = sink.checkpoint_store() else {
        return Ok(None);
    };
    store.prepare().map_err(RuntimeError::Sink)?;
    Ok(Some(crate::pipeline::Checkpointing {
        interval,
        store: Arc::new(std::sync::Mutex::new(store)),
        committed,
    }))
}

/// Runs `spec` to its end (or Ctrl-C): builds the topology, serves
/// metrics when asked, draws the live view, runs the pipeline. Returns
/// the summary and the sink's description.
pub fn run(
    cfg: &Config,
    spec: &RunSpec,
    secrets: SecretsFn<'_>,
) -> Result<(RunSummary, String), RuntimeError> {
    run_observed(cfg, spec, secrets, &|_| {})
}

/// What a watcher of a starting run gets (the web console of `run --ui`).
#[derive(Debug, Clone)]
pub struct Observed {
    /// The run's live counters.
    pub stats: Arc<Stats>,
    /// Its result tables.
    pub tables: Vec<sluice_connectors::TableSpec>,
    /// Events it will read, when bounded.
    pub limit: Option<u64>,
    /// The source and the sink, described.
    pub source: String,
    /// The sink, described.
    pub sink: String,
}

/// [`run`], handing `observe` the run's live counters and tables once it
/// is wired and before it reads anything.
pub fn run_observed(
    cfg: &Config,
    spec: &RunSpec,
    secrets: SecretsFn<'_>,
    observe: &dyn Fn(Observed),
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
    let observed = Observed {
        stats: stats.clone(),
        tables: t.built.tables.clone(),
        limit: t.limit,
        source: t.source.describe(),
        sink: t.sink_desc.clone(),
    };
    observe(observed.clone());
    let metrics_address = spec.metrics_address.clone().or_else(|| {
        cfg.platform
            .metrics
            .enabled
            .then(|| cfg.platform.metrics.address.clone())
    });
    let _metrics_server = match &metrics_address {
        Some(addr) => {
            let handle = crate::observe::install_recorder(&spec.domain, &[])?;
            let server =
                crate::observe::serve_run(addr, Some(handle), stats.clone(), Some(observed))?;
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
