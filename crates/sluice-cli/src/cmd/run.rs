//! `sluice run`: the main job. Source → engine → sink from YAML: the
//! arguments are checked and turned into a [`RunSpec`]; the library's
//! [`sluice_runtime::topology::run`] does the rest.

use anyhow::Context;
use clap::Args;
use sluice_config::Config;
use sluice_core::HumanDuration;
use sluice_runtime::pipeline::RunSummary;
use sluice_runtime::topology::{GeneratorSpec, KafkaSpec, RunSpec};

use super::args::SourceArg;
use crate::Cli;

/// Arguments of `sluice run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Domain to run.
    #[arg(long)]
    pub domain: String,
    /// Only these aggregations (default: all of the domain's).
    #[arg(long = "aggregation")]
    pub aggregations: Vec<String>,
    /// `generator` (default), `file:PATH` (a file, directory or `*.jsonl`
    /// pattern) or `kafka` (the domain's topics, as a consumer-group member).
    #[arg(long, default_value = "generator")]
    pub source: String,
    /// Generate this many events (simulated time, as fast as possible), then stop.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Generate this span of event time (simulated, as fast as possible), then stop.
    #[arg(long)]
    pub duration: Option<String>,
    /// Events per second of event time (generator).
    #[arg(long)]
    pub rate: Option<String>,
    /// Random seed of the generator (default 42, as `sluice generate`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Follow the wall clock even when bounded (default: only when unbounded).
    #[arg(long)]
    pub realtime: bool,
    /// Override the sink: duckdb, clickhouse or jsonl.
    #[arg(long)]
    pub sink: Option<String>,
    /// DuckDB file (default from `sinks.duckdb.path`).
    #[arg(long)]
    pub db: Option<String>,
    /// JSON lines output (default from `sinks.jsonl.path`; `-` = stdout).
    #[arg(long)]
    pub out: Option<String>,
    /// Disorder and faults the generator injects.
    #[command(flatten)]
    pub faults: super::generate::FaultArgs,
    /// No live view; log lines only.
    #[arg(long)]
    pub quiet: bool,
    /// Kafka: stop once every assigned partition is read to its end (a bounded run).
    #[arg(long)]
    pub until_end: bool,
    /// Kafka: consumer group (default `kafka.group_id`, with `--topic-prefix`
    /// in front).
    #[arg(long)]
    pub group: Option<String>,
    /// Kafka: read the topics named with this prefix, as written by
    /// `generate --to kafka --topic-prefix` (dead letters go to the prefixed
    /// dead-letter topic; the default consumer group is prefixed too).
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Kafka: this instance's stable name for static membership (a restart
    /// takes its partitions back at once); default the host name. Give each
    /// instance on one machine its own; `""` turns static membership off.
    /// Environment: `SLUICE_INSTANCE`.
    #[arg(long)]
    pub instance: Option<String>,
    /// Serve `/metrics`, `/healthz` and `/readyz` on this address (default:
    /// `metrics.address` when `metrics.enabled`).
    #[arg(long)]
    pub metrics_address: Option<String>,
    /// Serve the web console while the run goes (and after a bounded run
    /// ends, until Ctrl-C): the pipeline live, results, dead letters.
    #[arg(long)]
    pub ui: bool,
    /// Where the console listens.
    #[command(flatten)]
    pub console: super::ui::ConsoleArgs,
}

/// The sink kind a run writes to: `--sink`, else `sinks.default`.
pub fn sink_kind(args: &RunArgs, cfg: &Config) -> String {
    args.sink
        .clone()
        .unwrap_or_else(|| cfg.platform.sinks.default.clone())
}

/// ClickHouse settings from `sinks.clickhouse`, secrets resolved.
pub fn clickhouse_settings(
    cli: &Cli,
    cfg: &Config,
) -> anyhow::Result<sluice_connectors::sink::clickhouse::ClickHouseSettings> {
    let secrets = super::check_secrets(cli, cfg)?;
    Ok(
        sluice_connectors::sink::clickhouse::ClickHouseSettings::from_config(
            &cfg.platform.sinks.clickhouse,
            &secrets,
        )?,
    )
}

fn print_summary(s: &RunSummary, sink: &str) {
    eprintln!(
        "{} {} records in {:.2}s ({:.0} records/s): {} results, {} rows written to {sink}; dead letters: {} malformed, {} late, {} future outliers",
        if s.interrupted { "stopped after" } else { "done:" },
        s.records_in,
        s.elapsed.as_secs_f64(),
        s.records_per_sec(),
        s.results,
        s.rows_written,
        s.malformed,
        s.late,
        s.outliers
    );
    if s.over_limit > 0 {
        eprintln!(
            "{} events refused by aggregations at `engine.max_open_groups` (dead letters of kind `state_limit`)",
            s.over_limit
        );
    }
}

/// Every flag given that the chosen source or sink would ignore, each
/// with why (a flag is either honoured or refused, never ignored).
pub fn misapplied_flags(args: &RunArgs, source: &SourceArg, sink: &str) -> Vec<String> {
    let mut given: Vec<&str> = Vec::new();
    let generator_only = [
        ("--count", args.count.is_some()),
        ("--duration", args.duration.is_some()),
        ("--rate", args.rate.is_some()),
        ("--seed", args.seed.is_some()),
        ("--realtime", args.realtime),
    ];
    let kafka_only = [
        ("--until-end", args.until_end),
        ("--group", args.group.is_some()),
        ("--instance", args.instance.is_some()),
        ("--topic-prefix", args.topic_prefix.is_some()),
    ];
    let mut out = Vec::new();
    if *source != SourceArg::Generator {
        given.extend(generator_only.iter().filter(|(_, g)| *g).map(|(f, _)| *f));
        given.extend(args.faults.given());
        let why = match source {
            SourceArg::File(_) => "files are replayed in full, as written",
            _ => "the Kafka source reads what producers wrote (generate events with `sluice generate --to kafka`)",
        };
        for f in given.drain(..) {
            out.push(format!(
                "`{f}` applies to `--source generator` only, not `--source {}`: {why}",
                source.name()
            ));
        }
    }
    if *source != SourceArg::Kafka {
        for (f, _) in kafka_only.iter().filter(|(_, g)| *g) {
            out.push(format!(
                "`{f}` applies to `--source kafka` only, not `--source {}`",
                source.name()
            ));
        }
    }
    if args.db.is_some() && sink != "duckdb" {
        out.push(format!(
            "`--db` names the DuckDB file, but this run writes to `{sink}` (add `--sink duckdb`)"
        ));
    }
    if args.out.is_some() && sink != "jsonl" {
        out.push(format!(
            "`--out` names the JSON lines output, but this run writes to `{sink}` (add `--sink jsonl`)"
        ));
    }
    out
}

/// Runs the command.
pub fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<()> {
    let source = match super::args::parse_source(&args.source) {
        Ok(s) => s,
        Err(e) => return super::args::usage(vec![e]),
    };
    if let Some(s) = &args.sink {
        if let Err(e) = super::args::check_sink(s) {
            return super::args::usage(vec![e]);
        }
    }
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    super::args::usage(misapplied_flags(args, &source, &sink_kind(args, &cfg)))?;
    let d = cfg.domain(&args.domain).context("domain not loaded")?;
    let names: Vec<&str> = d
        .aggregations
        .iter()
        .map(|a| a.name.value.as_str())
        .collect();
    super::args::usage(super::args::unknown_names(
        "aggregation",
        &args.aggregations,
        &names,
        &args.domain,
    ))?;
    let spec = run_spec(args)?;
    let secrets = super::secrets_on_demand(cli, &cfg);
    if !args.ui {
        let (summary, sink_desc) =
            super::library(sluice_runtime::topology::run(&cfg, &spec, &secrets))?;
        print_summary(&summary, &sink_desc);
        return Ok(());
    }
    // the console reads the store this run writes (a DuckDB file answers
    // while the run holds it, through the run's live-query socket)
    let db = match sink_kind(args, &cfg).as_str() {
        "duckdb" => Some(
            args.db
                .clone()
                .unwrap_or_else(|| cfg.platform.sinks.duckdb.path.clone()),
        ),
        _ => None,
    };
    let shared = std::sync::Arc::new(cfg.clone());
    let state = sluice_console::ConsoleState::new(
        Some(cfg.clone()),
        Vec::new(),
        Some(args.domain.clone()),
        super::ui::store_opener(Some(shared.clone()), db, args.domain.clone()),
    );
    // the registry for the Config page; dead letters of a Kafka run can be
    // replayed from the page
    let state = state.with_kafka(
        super::ui::kafka_opener(shared, args.topic_prefix.clone()),
        source == SourceArg::Kafka,
    );
    let state = std::sync::Arc::new(state);
    let _console = super::ui::start(&args.console, state.clone())?;
    let (summary, sink_desc) = super::library(sluice_runtime::topology::run_observed(
        &cfg,
        &spec,
        &secrets,
        &|run| state.observe(run),
    ))?;
    print_summary(&summary, &sink_desc);
    if !summary.interrupted {
        eprintln!("the run is over; the web console stays up until Ctrl-C");
        super::ui::wait_for_stop();
    }
    Ok(())
}

/// The library's description of this run.
fn run_spec(args: &RunArgs) -> anyhow::Result<RunSpec> {
    let duration_ms = match &args.duration {
        Some(t) => Some(
            HumanDuration::parse(t)
                .map_err(|e| anyhow::anyhow!("bad --duration `{t}`: {e}"))?
                .as_millis_i64(),
        ),
        None => None,
    };
    Ok(RunSpec {
        domain: args.domain.clone(),
        aggregations: args.aggregations.clone(),
        source: args.source.clone(),
        sink: args.sink.clone(),
        generator: GeneratorSpec {
            count: args.count,
            duration_ms,
            rate: args
                .rate
                .as_deref()
                .map(super::generate::parse_rate)
                .transpose()?,
            seed: args.seed,
            realtime: args.realtime,
            faults: args.faults.options()?,
        },
        kafka: KafkaSpec {
            group: args.group.clone(),
            until_end: args.until_end,
            instance: args.instance.clone(),
            topic_prefix: args.topic_prefix.clone(),
        },
        duckdb_path: args.db.clone(),
        jsonl_path: args.out.clone(),
        live_view: !args.quiet,
        metrics_address: args.metrics_address.clone(),
    })
}
