//! Runs a generated job with `spark-submit` and reads what it reports.
//!
//! Spark binds to loopback only (driver host, UI off) unless the caller's
//! extra arguments say otherwise; its log goes to a file beside the job,
//! and the job's one-line summaries (`SLUICE_SPARK_SUMMARY {json}`, one per
//! streaming query) come back as [`QuerySummary`]s.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::install::SparkInstall;
use crate::job::{PACKAGES, RUNTIME_FILE};
use crate::SparkError;

/// How to run a job.
#[derive(Clone, Debug, Default)]
pub struct SubmitOptions {
    /// The job directory (`sluice spark job --out`).
    pub job_dir: PathBuf,
    /// Spark master (`local[2]`, `spark://…`, `yarn`, `k8s://…`).
    pub master: String,
    /// Process what the topics hold now, then stop (`availableNow`).
    pub until_end: bool,
    /// Spark's checkpoint directory (offsets and window state).
    pub checkpoints: PathBuf,
    /// `clickhouse` or `jsonl`.
    pub sink: String,
    /// Where the `jsonl` sink writes.
    pub jsonl_dir: Option<PathBuf>,
    /// Environment of the job: connection settings, secrets included (never
    /// written to a file).
    pub env: Vec<(String, String)>,
    /// Extra `spark-submit` arguments (before the job).
    pub extra: Vec<String>,
    /// Spark's own log.
    pub log: PathBuf,
    /// With `until_end`: runs in one Spark session (benchmarks: the first is
    /// cold, the others warm).
    pub runs: u32,
    /// Serve the job's `/metrics` here.
    pub metrics_address: Option<String>,
    /// At most this many Kafka records per micro-batch.
    pub max_records_per_batch: Option<u64>,
}

/// What a job did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct JobReport {
    /// One summary per streaming query (of the last run).
    pub queries: Vec<QuerySummary>,
    /// Seconds of each run, from starting its queries to their end.
    pub runs: Vec<f64>,
    /// Seconds from `spark-submit` to its exit (JVM start and connector
    /// resolution included).
    pub wall_seconds: f64,
}

/// What one streaming query of the job did.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct QuerySummary {
    /// The aggregation (or `_dead_letters`).
    pub query: String,
    /// Micro-batches run.
    pub batches: u64,
    /// Kafka records read.
    pub input_rows: u64,
    /// Rows the stateful operator dropped as behind the watermark.
    pub dropped_by_watermark: u64,
    /// Spark's last event-time watermark (ISO 8601, UTC), if any.
    pub watermark: Option<String>,
    /// The same, ms since the epoch.
    pub watermark_ms: Option<i64>,
    /// Time spent in micro-batches, ms.
    pub batch_ms: u64,
}

/// Runs the job and waits for it; its summaries on success.
pub fn submit(install: &SparkInstall, o: &SubmitOptions) -> Result<JobReport, SparkError> {
    let started = std::time::Instant::now();
    let job_dir = &o.job_dir;
    let mut cmd = Command::new(&install.spark_submit);
    cmd.arg("--master")
        .arg(&o.master)
        .arg("--packages")
        .arg(PACKAGES.join(","))
        .arg("--conf")
        .arg(format!("spark.jars.ivy={}", install.ivy.display()))
        .args(["--conf", "spark.ui.enabled=false"])
        .args(["--conf", "spark.driver.host=127.0.0.1"])
        .args(["--conf", "spark.driver.bindAddress=127.0.0.1"])
        .args(["--conf", "spark.log.level=WARN"])
        .arg("--py-files")
        .arg(job_dir.join(RUNTIME_FILE))
        .args(&o.extra)
        .arg(job_dir.join("job.py"))
        .arg("--checkpoints")
        .arg(&o.checkpoints)
        .arg("--sink")
        .arg(&o.sink);
    if o.until_end {
        cmd.arg("--until-end");
    }
    if let Some(d) = &o.jsonl_dir {
        cmd.arg("--jsonl-dir").arg(d);
    }
    if o.runs > 1 {
        cmd.arg("--runs").arg(o.runs.to_string());
    }
    if let Some(a) = &o.metrics_address {
        cmd.arg("--metrics-address").arg(a);
    }
    if let Some(n) = o.max_records_per_batch {
        cmd.arg("--max-records-per-batch").arg(n.to_string());
    }
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut all = vec![install.bin.clone()];
            all.extend(std::env::split_paths(&p));
            std::env::join_paths(all).unwrap_or(p)
        }
        None => install.bin.clone().into_os_string(),
    };
    cmd.env("PATH", path)
        .env("PYSPARK_PYTHON", install.bin.join("python"))
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .envs(o.env.iter().map(|(k, v)| (k, v)))
        .current_dir(job_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| SparkError::Io {
        what: format!("starting {}", install.spark_submit.display()),
        source,
    })?;
    let log_path = o.log.clone();
    let stderr = child.stderr.take();
    let logger = std::thread::spawn(move || {
        let mut tail: Vec<String> = Vec::new();
        let mut file = std::fs::File::create(&log_path).ok();
        if let Some(err) = stderr {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    writeln!(f, "{line}").ok();
                }
                tail.push(line);
                if tail.len() > 30 {
                    tail.remove(0);
                }
            }
        }
        tail
    });
    let mut report = JobReport::default();
    let mut said = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(json) = line.strip_prefix("SLUICE_SPARK_SUMMARY ") {
                if let Ok(s) = serde_json::from_str::<QuerySummary>(json) {
                    report.queries.push(s);
                }
            } else if let Some(json) = line.strip_prefix("SLUICE_SPARK_RUN ") {
                if let Some(secs) = serde_json::from_str::<serde_json::Value>(json)
                    .ok()
                    .and_then(|v| v["seconds"].as_f64())
                {
                    report.runs.push(secs);
                }
            } else {
                said.push(line);
            }
        }
    }
    let status = child.wait().map_err(|source| SparkError::Io {
        what: "waiting for spark-submit".into(),
        source,
    })?;
    let tail = logger.join().unwrap_or_default();
    if !status.success() {
        let mut message: Vec<String> = tail.into_iter().filter(|l| !l.trim().is_empty()).collect();
        message.extend(said);
        let keep = message.len().saturating_sub(12);
        return Err(SparkError::Job {
            status: status.to_string(),
            message: format!(
                "{}\n(Spark's log: {})",
                message[keep..].join("\n"),
                o.log.display()
            ),
        });
    }
    report.queries.sort_by(|a, b| a.query.cmp(&b.query));
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
