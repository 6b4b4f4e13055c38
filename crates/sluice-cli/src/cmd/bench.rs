//! `sluice bench`: throughput figures, each against a baseline measured in
//! the same run (these machines are noisy; ratios travel better than rates).

//! The measurements are `sluice_bench`'s; this module parses the
//! arguments, loads the configuration and prints the report.

use std::time::Duration;

use clap::{Args, Subcommand};
use sluice_bench::Report;
use sluice_config::Config;

use crate::Cli;

/// Arguments of `sluice bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// The native engine on pre-encoded Avro events in memory, one core:
    /// three fixed ecommerce cases, or with `--domain` the domain's whole
    /// plan and each of its aggregations alone.
    Engine {
        /// Measure this domain's configured aggregations instead of the
        /// three fixed cases.
        #[arg(long)]
        domain: Option<String>,
        /// Events.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Runs per measurement (the best counts).
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The cost of metrics: the engine (fixed case a, or `--domain`'s plan)
    /// with the pipeline's per-batch metric recording, Prometheus recorder
    /// installed, versus the same loop without recording, alternating runs.
    Metrics {
        /// Measure this domain's configured aggregations instead of case (a).
        #[arg(long)]
        domain: Option<String>,
        /// Events.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Runs of each (the best counts).
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Producing to and consuming from a real Kafka broker (start it with
    /// `scripts/services.sh start kafka registry`).
    Kafka(KafkaBenchArgs),
    /// Kafka → pipeline → ClickHouse end to end: events/s and how soon a
    /// closed window is readable in the final view (`scripts/services.sh
    /// start all`).
    E2e(E2eBenchArgs),
    /// The native runner against the Spark runner (`local[2]`) on identical
    /// work: the same events from the same Kafka topics, the same
    /// aggregations into ClickHouse, back to back; Spark's cold and warm
    /// figures (`scripts/services.sh start all`).
    Spark(SparkBenchArgs),
    /// Replaying a JSON lines file through `sluice run` versus DuckDB's
    /// `read_json` + `GROUP BY time_bucket(...)`, both on every core: three
    /// fixed ecommerce aggregations, or with `--domain` the domain's own.
    File {
        /// Replay this domain's events through its configured aggregations
        /// (DuckDB then reads the same fields and counts per minute and
        /// event type) instead of the three fixed ones.
        #[arg(long)]
        domain: Option<String>,
        /// Events in the file.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Keep the generated file here instead of a temporary directory.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

/// Arguments of `sluice bench kafka`.
#[derive(Args, Debug)]
pub struct KafkaBenchArgs {
    /// Events to produce and consume.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Domain whose events to generate.
    #[arg(long, default_value = "ecommerce")]
    pub domain: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sluice bench e2e`.
#[derive(Args, Debug)]
pub struct E2eBenchArgs {
    /// Events to produce and process.
    #[arg(long, default_value_t = 500_000)]
    pub events: u64,
    /// Domain whose events to generate.
    #[arg(long, default_value = "ecommerce")]
    pub domain: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sluice bench spark`.
#[derive(Args, Debug)]
pub struct SparkBenchArgs {
    /// Events to produce and process (each runner reads them all).
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Domain whose events to generate.
    #[arg(long, default_value = "ecommerce")]
    pub domain: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The domain `--domain` names (loaded alone), or ecommerce for the fixed plans.
fn bench_config(cli: &Cli, domain: Option<&str>) -> anyhow::Result<Config> {
    let name = domain.unwrap_or("ecommerce").to_string();
    let cfg = super::load(cli, std::slice::from_ref(&name))?;
    anyhow::ensure!(cfg.domain(&name).is_some(), "unknown domain `{name}`");
    Ok(cfg)
}

fn print(report: Report, as_json: bool) {
    if as_json {
        println!("{}", report.json);
    } else {
        print!("{}", report.text);
    }
}

/// Runs the command.
pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let mut note = |s: &str| eprintln!("{s}");
    match &args.command {
        BenchCommand::Engine {
            domain,
            events,
            rounds,
            json,
        } => {
            let cfg = bench_config(cli, domain.as_deref())?;
            let r = sluice_bench::in_memory::engine(
                &cfg,
                domain.is_some(),
                *events,
                *rounds,
                &mut note,
            )?;
            print(r, *json);
        }
        BenchCommand::Metrics {
            domain,
            events,
            rounds,
            json,
        } => {
            let cfg = bench_config(cli, domain.as_deref())?;
            let r = sluice_bench::in_memory::metrics_cost(
                &cfg,
                domain.is_some(),
                *events,
                *rounds,
                &mut note,
            )?;
            print(r, *json);
        }
        BenchCommand::Kafka(a) => {
            let cfg = bench_config(cli, Some(&a.domain))?;
            let secrets = super::check_secrets(cli, &cfg)?;
            let r = sluice_bench::kafka::kafka(
                &cfg,
                &a.domain,
                a.events,
                Duration::from_secs(a.timeout_secs),
                &secrets,
            )?;
            print(r, a.json);
        }
        BenchCommand::E2e(a) => {
            let cfg = bench_config(cli, Some(&a.domain))?;
            let secrets = super::check_secrets(cli, &cfg)?;
            let r = sluice_bench::e2e::e2e(&cfg, &a.domain, a.events, &secrets)?;
            print(r, a.json);
        }
        BenchCommand::Spark(a) => {
            let cfg = bench_config(cli, Some(&a.domain))?;
            let secrets = super::check_secrets(cli, &cfg)?;
            let r = sluice_bench::spark::spark(&cfg, &a.domain, a.events, &secrets)?;
            print(r, a.json);
        }
        BenchCommand::File {
            domain,
            events,
            json,
            dir,
        } => {
            let cfg = bench_config(cli, domain.as_deref())?;
            let req = sluice_bench::file::FileBench {
                configured: domain.is_some(),
                events: *events,
                dir: dir.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()))
                }),
                threads: super::parser_threads(),
            };
            let r = sluice_bench::file::file(&cfg, &req, &mut note);
            if dir.is_none() {
                std::fs::remove_dir_all(&req.dir).ok();
            }
            print(r?, *json);
        }
    }
    Ok(())
}
