//! `sluice spark run` as one library call: plan → job files → result tables
//! (created by the ClickHouse sink exactly as for the native runner) →
//! pyspark installed → `spark-submit` → per-query summaries.

use std::path::PathBuf;

use sluice_config::Config;
use sluice_connectors::sink::clickhouse::{ClickHouseSettings, ClickHouseSink};
use sluice_connectors::Sink;
use sluice_kafka::KafkaSettings;
use sluice_secrets::ResolvedSecrets;

use crate::submit::{JobReport, SubmitOptions};
use crate::SparkError;

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// The domain.
    pub domain: String,
    /// Only these aggregations (default: all).
    pub aggregations: Vec<String>,
    /// Topic prefix, as `sluice run --topic-prefix`.
    pub topic_prefix: Option<String>,
    /// Spark master.
    pub master: String,
    /// Stop once the topics are read to their end.
    pub until_end: bool,
    /// Where the job is written (default `./data/spark/<domain>/job`).
    pub job_dir: Option<PathBuf>,
    /// Spark checkpoints (default `./data/spark/<domain>/checkpoints`).
    pub checkpoints: Option<PathBuf>,
    /// `clickhouse` (default) or `jsonl`.
    pub sink: String,
    /// Directory of the `jsonl` sink.
    pub jsonl_dir: Option<PathBuf>,
    /// Extra `spark-submit` arguments.
    pub extra: Vec<String>,
    /// With `until_end`: runs in one Spark session (benchmarks).
    pub runs: u32,
    /// Serve the job's `/metrics` here.
    pub metrics_address: Option<String>,
    /// At most this many Kafka records per micro-batch.
    pub max_records_per_batch: Option<u64>,
}

/// Generates, installs, prepares the tables and runs; the job's summaries.
pub fn run(
    cfg: &Config,
    secrets: &ResolvedSecrets,
    req: &RunRequest,
) -> Result<JobReport, SparkError> {
    let d = cfg
        .domain(&req.domain)
        .ok_or_else(|| SparkError::Config(format!("domain `{}` is not loaded", req.domain)))?;
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &req.aggregations)
        .map_err(|e| SparkError::Config(e.to_string()))?;
    let spec = crate::job_spec(cfg, d, &built, req.topic_prefix.as_deref())?;
    let files = crate::render(&spec)?;
    let base = PathBuf::from("data").join("spark").join(&req.domain);
    let job_dir = req.job_dir.clone().unwrap_or_else(|| base.join("job"));
    crate::write_job(&files, &job_dir)?;
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let job_dir = absolute(job_dir);
    let checkpoints = absolute(
        req.checkpoints
            .clone()
            .unwrap_or_else(|| base.join("checkpoints")),
    );

    let kafka = KafkaSettings::resolve(&cfg.platform.kafka, secrets, req.topic_prefix.as_deref())
        .map_err(|e| SparkError::Config(e.to_string()))?;
    let mut env = vec![
        (
            "SLUICE_KAFKA_BOOTSTRAP".to_string(),
            kafka.bootstrap_servers.clone(),
        ),
        (
            "SLUICE_SCHEMA_REGISTRY_URL".to_string(),
            kafka.registry.url.clone(),
        ),
        (
            "SLUICE_KAFKA_PROPERTIES".to_string(),
            serde_json::to_string(&kafka.properties).unwrap_or_else(|_| "{}".into()),
        ),
    ];
    if let Some(u) = &kafka.registry.username {
        env.push(("SLUICE_SCHEMA_REGISTRY_USER".into(), u.clone()));
        env.push((
            "SLUICE_SCHEMA_REGISTRY_PASSWORD".into(),
            kafka.registry.password.clone().unwrap_or_default(),
        ));
    }
    let sink = if req.sink.is_empty() {
        "clickhouse".to_string()
    } else {
        req.sink.clone()
    };
    match sink.as_str() {
        "clickhouse" => {
            let settings = ClickHouseSettings::from_config(&cfg.platform.sinks.clickhouse, secrets)
                .map_err(|e| SparkError::Config(e.to_string()))?;
            env.extend([
                ("SLUICE_CLICKHOUSE_URL".to_string(), settings.url.clone()),
                (
                    "SLUICE_CLICKHOUSE_DATABASE".to_string(),
                    settings.database.clone(),
                ),
                (
                    "SLUICE_CLICKHOUSE_USER".to_string(),
                    settings.user.clone().unwrap_or_default(),
                ),
                (
                    "SLUICE_CLICKHOUSE_PASSWORD".to_string(),
                    settings.password.clone().unwrap_or_default(),
                ),
            ]);
            // the very tables and views the native runner writes and reads
            let mut ch = ClickHouseSink::connect(settings)
                .map_err(|e| SparkError::Config(format!("ClickHouse: {e}")))?;
            ch.prepare(&built.tables)
                .map_err(|e| SparkError::Config(format!("ClickHouse: {e}")))?;
        }
        "jsonl" => {}
        other => {
            return Err(SparkError::Config(format!(
                "sink `{other}` is not one the Spark runner writes (expected clickhouse or jsonl)"
            )))
        }
    }
    let install = crate::ensure_installed(&crate::install::cache_dir())?;
    let log = job_dir.join("spark.log");
    crate::submit(
        &install,
        &SubmitOptions {
            job_dir,
            master: if req.master.is_empty() {
                "local[2]".into()
            } else {
                req.master.clone()
            },
            until_end: req.until_end,
            checkpoints,
            sink,
            jsonl_dir: req.jsonl_dir.clone().map(absolute),
            env,
            extra: req.extra.clone(),
            log,
            runs: req.runs,
            metrics_address: req.metrics_address.clone(),
            max_records_per_batch: req.max_records_per_batch,
        },
    )
}
