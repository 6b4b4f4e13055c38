//! `sluice run`: the main job. Source → engine → sink from YAML.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use sluice_config::{Config, DomainConfig};
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::sink::jsonl::JsonlSink;
use sluice_connectors::source::file::FileSource;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::source::json_parallel::ParallelJsonSource;
use sluice_connectors::{Sink, Source};
use sluice_core::HumanDuration;
use sluice_generator::{Generator, GeneratorOptions, Limit, TimeMode};
use sluice_runtime::pipeline::{self, PipelineOptions, RunSummary, Stats};
use sluice_runtime::plan::BuiltPlan;

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
}

fn make_source(
    args: &RunArgs,
    source: &SourceArg,
    cfg: &Config,
    d: &DomainConfig,
    built: &mut BuiltPlan,
) -> anyhow::Result<(Box<dyn Source>, Option<u64>)> {
    if let SourceArg::File(spec) = source {
        let spec = spec.as_str();
        let files = sluice_connectors::source::file::expand(spec)?;
        let all_json = files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e != "avro"));
        if all_json {
            // parse on every core (the engine's thread parses too while it
            // would wait), reading only the fields the aggregations use
            *built = sluice_runtime::plan::projected(built);
            let threads = super::parser_threads();
            let s = ParallelJsonSource::assisted(files, built.plan.layouts.clone(), threads);
            return Ok((Box::new(s), None));
        }
        let s = FileSource::new(spec, d.layouts())?;
        return Ok((Box::new(s), None));
    }
    if *source == SourceArg::Kafka {
        anyhow::bail!("internal: kafka sources are built by make_kafka_source");
    }
    let duration_ms = match &args.duration {
        Some(t) => Some(
            HumanDuration::parse(t)
                .map_err(|e| anyhow::anyhow!("bad --duration `{t}`: {e}"))?
                .as_millis_i64(),
        ),
        None => None,
    };
    let bounded = args.count.is_some() || duration_ms.is_some();
    let opts = GeneratorOptions {
        seed: args.seed.unwrap_or(sluice_generator::DEFAULT_SEED),
        time: if args.realtime || !bounded {
            TimeMode::RealTime
        } else {
            TimeMode::Simulated
        },
        rate: args
            .rate
            .as_deref()
            .map(super::generate::parse_rate)
            .transpose()?,
        limit: Limit {
            events: args.count,
            duration_ms,
        },
        faults: args.faults.options()?,
        ..GeneratorOptions::default()
    };
    let realtime = opts.time == TimeMode::RealTime;
    let rate = opts.rate;
    let g = Generator::from_config(cfg, &d.domain.value, opts)?;
    let per_second = rate.unwrap_or_else(|| g.natural_rate());
    let mut src = GeneratorSource::new(g, &d.domain.value);
    if realtime {
        // about 100 ms of events per batch
        src = src.with_max_batch((per_second / 10.0).ceil() as usize);
    }
    Ok((Box::new(src), args.count))
}

/// The Kafka source plus the hooks that commit offsets once results are
/// durable and send dead letters to the dead-letter topic.
fn make_kafka_source(
    cli: &Cli,
    args: &RunArgs,
    cfg: &Config,
    opts: &mut PipelineOptions,
) -> anyhow::Result<Box<dyn Source>> {
    use sluice_connectors::kafka::{DlqWriter, KafkaSource, SourceOptions};
    let settings = super::kafka_settings(cli, cfg, args.topic_prefix.as_deref())?;
    let src_opts = SourceOptions {
        group_id: args.group.clone(),
        stop_at_end: args.until_end,
        instance: Some(
            args.instance
                .clone()
                .or_else(|| std::env::var("SLUICE_INSTANCE").ok())
                .unwrap_or_else(host_name),
        ),
        ..SourceOptions::default()
    };
    let src = KafkaSource::from_config(cfg, &settings, &args.domain, src_opts)?;
    let committer = src.committer();
    spawn_lag_gauges(committer.clone(), opts.stop.clone());
    let commit: pipeline::CommitHook = committer.clone().into_hook();
    opts.on_durable_end = Some(commit.clone());
    if opts.sharded {
        // the store keeps the row with the most inputs, so replaying from
        // a mid-stream commit cannot overwrite a complete row
        opts.on_durable = Some(commit);
    }
    let mut dlq = DlqWriter::new(&settings, &args.domain, true)?;
    opts.dead_letter_hook = Some(Arc::new(std::sync::Mutex::new(
        move |dead: &[sluice_connectors::DeadLetterRecord]| {
            dlq.write_all(dead, &[]).map_err(|e| e.to_string())?;
            dlq.flush(std::time::Duration::from_secs(30))
                .map(|_| ())
                .map_err(|e| {
                    metrics::counter!(
                        sluice_core::metrics::KAFKA_DELIVERY_ERRORS_TOTAL,
                        "kind" => "dlq"
                    )
                    .increment(1);
                    e.to_string()
                })
        },
    )));
    Ok(Box::new(src))
}

/// This machine's host name (empty when unknown: no static membership).
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default()
        .trim()
        .to_string()
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
    let c = &cfg.platform.sinks.clickhouse;
    let secrets = super::check_secrets(cli, cfg)?;
    let render = |s: &sluice_config::Setting, what: &str| {
        secrets.render(s, what).map_err(|e| anyhow::anyhow!(e))
    };
    let url = render(&c.url, "sinks.clickhouse.url")?;
    let mut s = sluice_connectors::sink::clickhouse::ClickHouseSettings::new(&url, &c.database);
    let user = render(&c.user, "sinks.clickhouse.user")?;
    let password = render(&c.password, "sinks.clickhouse.password")?;
    // every secret value these settings use stays out of errors and logs
    s.redact = [&c.url, &c.user, &c.password]
        .iter()
        .flat_map(|setting| setting.secret_names())
        .filter_map(|name| secrets.values.get(name))
        .map(|v| v.expose().to_string())
        .collect();
    s.user = (!user.is_empty()).then_some(user);
    s.password = (!password.is_empty()).then_some(password);
    s.create_tables = c.create_tables;
    s.ttl_days = c
        .ttl
        .map(|t| (t.as_millis_i64() / 86_400_000).max(1) as u32);
    Ok(s)
}

/// Publishes consumer lag per partition every 5 seconds (a broker round
/// trip, so not on the data path).
fn spawn_lag_gauges(
    committer: sluice_connectors::kafka::source::Committer,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    std::thread::Builder::new()
        .name("sluice-lag".into())
        .spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(lags) = committer.lag() {
                    for l in lags {
                        metrics::gauge!(
                            sluice_core::metrics::KAFKA_CONSUMER_LAG,
                            "topic" => l.topic.clone(),
                            "partition" => l.partition.to_string()
                        )
                        .set(l.lag.max(0) as f64);
                    }
                }
                for _ in 0..50 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        })
        .ok();
}

fn make_sink(cli: &Cli, args: &RunArgs, cfg: &Config) -> anyhow::Result<(Box<dyn Sink>, String)> {
    let kind = sink_kind(args, cfg);
    match kind.as_str() {
        "duckdb" => {
            let path = args
                .db
                .clone()
                .unwrap_or_else(|| cfg.platform.sinks.duckdb.path.clone());
            let mut sink = DuckDbSink::open(&path)?;
            if path != ":memory:" {
                // `sluice query` / `sluice tables` from another shell are
                // answered by this run while it holds the file's lock
                match sink.serve_queries() {
                    Ok(socket) => {
                        tracing::info!(socket = %socket.display(), "answering live queries")
                    }
                    Err(e) => tracing::warn!(error = %e, "live queries unavailable"),
                }
            }
            Ok((Box::new(sink), format!("duckdb {path}")))
        }
        "jsonl" => {
            let path = args
                .out
                .clone()
                .unwrap_or_else(|| cfg.platform.sinks.jsonl.path.clone());
            Ok((Box::new(JsonlSink::open(&path)?), format!("jsonl {path}")))
        }
        "clickhouse" => {
            let settings = clickhouse_settings(cli, cfg)?;
            let desc = format!(
                "clickhouse {} database {}",
                settings.display_url(),
                settings.database
            );
            let sink = sluice_connectors::sink::clickhouse::ClickHouseSink::connect(settings)
                .context("cannot connect to ClickHouse (is it running? `scripts/services.sh start clickhouse`)")?;
            Ok((Box::new(sink), desc))
        }
        other => anyhow::bail!(super::args::unknown("sink", other, super::args::SINKS)),
    }
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
    let mut built = sluice_runtime::plan::build(d, &cfg.platform.engine, &args.aggregations)?;
    let mut opts = PipelineOptions {
        trigger_interval: cfg.platform.engine.trigger_interval.0,
        stop: sluice_runtime::shutdown::install(),
        // ClickHouse merges partial rows per source partition (several
        // instances, exactly-once replays); the other sinks store final rows
        sharded: sink_kind(args, &cfg) == "clickhouse",
        ..PipelineOptions::default()
    };
    let (source, limit) = if source == SourceArg::Kafka {
        (make_kafka_source(cli, args, &cfg, &mut opts)?, None)
    } else {
        make_source(args, &source, &cfg, d, &mut built)?
    };
    let (sink, sink_desc) = make_sink(cli, args, &cfg)?;
    tracing::info!(domain = %args.domain, source = %source.describe(), sink = %sink_desc, aggregations = built.tables.len(), "starting");
    let stats = Arc::new(Stats::default());
    let metrics_address = args.metrics_address.clone().or_else(|| {
        cfg.platform
            .metrics
            .enabled
            .then(|| cfg.platform.metrics.address.clone())
    });
    let _metrics_server = match &metrics_address {
        Some(addr) => {
            let handle = sluice_runtime::observe::install_recorder(&args.domain, &[])?;
            let server = sluice_runtime::observe::serve(addr, Some(handle), stats.clone())?;
            tracing::info!(address = %addr, "serving /metrics, /healthz and /readyz");
            Some(server)
        }
        None => None,
    };

    let live = if args.quiet {
        None
    } else {
        sluice_runtime::live::spawn(stats.clone(), built.tables.clone(), limit)
    };
    let result = pipeline::run(built, source, sink, opts, stats.clone());
    stats.done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = live {
        h.join().ok();
    }
    let summary = result?;
    print_summary(&summary, &sink_desc);
    Ok(())
}
