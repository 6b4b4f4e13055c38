//! `sluice spark job`: write a domain's Spark application; `sluice spark
//! run`: run it (installing pyspark on first use). The work is
//! `sluice_spark`'s.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::Cli;

/// Arguments of `sluice spark`.
#[derive(Args, Debug)]
pub struct SparkArgs {
    #[command(subcommand)]
    pub command: SparkCommand,
}

/// `sluice spark ...`
#[derive(Subcommand, Debug)]
pub enum SparkCommand {
    /// Write the domain's Spark Structured Streaming application (PySpark),
    /// its reader schemas and a `submit.sh` to submit it to any cluster.
    Job {
        /// Domain to generate the job for.
        #[arg(long)]
        domain: String,
        /// Directory to write it to.
        #[arg(long)]
        out: PathBuf,
        /// Only these aggregations (default: all of the domain's).
        #[arg(long = "aggregation")]
        aggregations: Vec<String>,
        /// Read the topics named with this prefix (as `run --topic-prefix`).
        #[arg(long)]
        topic_prefix: Option<String>,
    },
    /// Run the domain's Spark job: into the same ClickHouse tables as
    /// `sluice run --sink clickhouse`.
    Run {
        /// Domain to run.
        #[arg(long)]
        domain: String,
        /// Spark master: local[2], spark://host:7077, yarn, k8s://...
        #[arg(long, default_value = "local[2]")]
        master: String,
        /// Only these aggregations (default: all of the domain's).
        #[arg(long = "aggregation")]
        aggregations: Vec<String>,
        /// Read the topics named with this prefix (as `run --topic-prefix`).
        #[arg(long)]
        topic_prefix: Option<String>,
        /// Stop once the topics are read to their end (Spark's availableNow).
        #[arg(long)]
        until_end: bool,
        /// Where the job is written (default ./data/spark/<domain>/job).
        #[arg(long)]
        job_dir: Option<PathBuf>,
        /// Spark's checkpoints: offsets and window state (default
        /// ./data/spark/<domain>/checkpoints).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// clickhouse (default) or jsonl.
        #[arg(long, default_value = "clickhouse")]
        sink: String,
        /// Directory of the jsonl sink (one file per table and micro-batch).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summaries as JSON.
        #[arg(long)]
        json: bool,
        /// Serve the job's `/metrics` (the native runner's metric names) here.
        #[arg(long)]
        metrics_address: Option<String>,
        /// At most this many Kafka records per micro-batch (Spark's
        /// maxOffsetsPerTrigger; default: all there are).
        #[arg(long)]
        max_records_per_batch: Option<u64>,
        /// Extra spark-submit arguments, after `--`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
}

/// Runs the command.
pub fn run(cli: &Cli, args: &SparkArgs) -> anyhow::Result<()> {
    match &args.command {
        SparkCommand::Job {
            domain,
            out,
            aggregations,
            topic_prefix,
        } => {
            let cfg = super::load(cli, std::slice::from_ref(domain))?;
            let d = cfg.domain(domain).context("domain not loaded")?;
            let built = sluice_runtime::plan::build(d, &cfg.platform.engine, aggregations)?;
            let spec = sluice_spark::job_spec(&cfg, d, &built, topic_prefix.as_deref())?;
            let files = sluice_spark::render(&spec)?;
            sluice_spark::write_job(&files, out)?;
            for f in &files {
                println!("wrote {}", out.join(&f.path).display());
            }
            Ok(())
        }
        SparkCommand::Run {
            domain,
            master,
            aggregations,
            topic_prefix,
            until_end,
            job_dir,
            checkpoints,
            sink,
            out,
            json,
            metrics_address,
            max_records_per_batch,
            extra,
        } => {
            let cfg = super::load(cli, std::slice::from_ref(domain))?;
            let secrets = super::check_secrets(cli, &cfg)?;
            let report = sluice_spark::run(
                &cfg,
                &secrets,
                &sluice_spark::RunRequest {
                    domain: domain.clone(),
                    aggregations: aggregations.clone(),
                    topic_prefix: topic_prefix.clone(),
                    master: master.clone(),
                    until_end: *until_end,
                    job_dir: job_dir.clone(),
                    checkpoints: checkpoints.clone(),
                    sink: sink.clone(),
                    jsonl_dir: out.clone(),
                    extra: extra.clone(),
                    runs: 1,
                    metrics_address: metrics_address.clone(),
                    max_records_per_batch: *max_records_per_batch,
                },
            )?;
            let summaries = &report.queries;
            if *json {
                println!("{}", serde_json::to_string_pretty(summaries)?);
            } else {
                for s in summaries {
                    println!(
                        "{:<28} {:>10} rows read in {:>4} batches, {:>6} behind the watermark, watermark {}",
                        s.query,
                        s.input_rows,
                        s.batches,
                        s.dropped_by_watermark,
                        s.watermark.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
    }
}
