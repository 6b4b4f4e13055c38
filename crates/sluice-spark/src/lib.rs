//! The Spark runner: the same configuration run as a Spark Structured
//! Streaming application instead of the native engine.
//!
//! Beside the native runner, not inside it: both start from the same
//! validated configuration and the same plan (`sluice_runtime::plan::build`:
//! aggregations and result tables), read the same topics and write the same
//! ClickHouse tables (created by the ClickHouse sink's own `prepare`), so
//! dashboards, alerts and `sluice query` work whichever ran.
//!
//! - [`job`]: pure generation of the PySpark application (`job.py`, the
//!   shared helpers, reader schemas, `submit.sh`), refusing what Spark cannot
//!   compute as the native engine does;
//! - [`install`]: pyspark from PyPI into the cache on first use (the Kafka
//!   and Avro connectors come from Maven Central through Spark's resolver);
//! - [`submit`]: runs the job with `spark-submit` and reads its summary;
//! - [`run`]: all of it for `sluice spark run`.

pub mod install;
pub mod job;
pub mod run;
pub mod submit;

use sluice_config::{Config, DomainConfig, Setting};
use sluice_core::{Classify, ErrorDomain, RetryHint};
use sluice_kafka::registry::SubjectStrategy;
use sluice_runtime::plan::BuiltPlan;

pub use install::{ensure_installed, SparkInstall};
pub use job::{render, JobFile, JobSpec};
pub use run::{run, RunRequest};
pub use submit::{submit, JobReport, QuerySummary, SubmitOptions};

/// What can go wrong with the Spark runner.
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    /// An aggregation Spark cannot compute as the native engine does.
    #[error("aggregation `{aggregation}` cannot run on Spark: {why}")]
    Unsupported {
        /// Its name.
        aggregation: String,
        /// Why.
        why: String,
    },
    /// Every refusal of a domain, together.
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// Bad settings.
    #[error("{0}")]
    Config(String),
    /// Installing pyspark failed.
    #[error("installing pyspark: {0}")]
    Install(String),
    /// Files could not be written or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Spark job failed.
    #[error("the Spark job failed (exit status {status}): {message}")]
    Job {
        /// Its exit status.
        status: String,
        /// The last lines it printed.
        message: String,
    },
}

impl Classify for SparkError {
    fn domain(&self) -> ErrorDomain {
        match self {
            SparkError::Unsupported { .. } | SparkError::Refused(_) | SparkError::Config(_) => {
                ErrorDomain::User
            }
            SparkError::Install(_) | SparkError::Job { .. } => ErrorDomain::External,
            SparkError::Io { .. } => ErrorDomain::External,
        }
    }

    fn retry_hint(&self) -> RetryHint {
        RetryHint::NoRetry
    }
}

/// A setting's text when it holds no secret (`None` otherwise: a secret is
/// never written into a generated file).
fn literal(s: &Setting) -> Option<String> {
    if s.secret_names().next().is_some() {
        return None;
    }
    Some(
        s.parts
            .iter()
            .map(|p| match p {
                sluice_config::yaml::Part::Lit(l) => l.as_str(),
                sluice_config::yaml::Part::Secret(_) => "",
            })
            .collect(),
    )
}

/// The job of `domain` under `cfg` for the aggregations of `built`, its
/// topics prefixed with `topic_prefix` (as `--topic-prefix` does for the
/// native runner).
pub fn job_spec(
    cfg: &Config,
    domain: &DomainConfig,
    built: &BuiltPlan,
    topic_prefix: Option<&str>,
) -> Result<JobSpec, SparkError> {
    let k = &cfg.platform.kafka;
    let prefix = topic_prefix.unwrap_or("");
    let strategy = SubjectStrategy::parse(&k.schema_registry.subject_strategy)
        .map_err(|e| SparkError::Config(e.to_string()))?;
    let topics = built
        .plan
        .layouts
        .iter()
        .map(|l| {
            let topic = format!(
                "{prefix}{}",
                k.topic_template
                    .replace("{domain}", &domain.domain.value)
                    .replace("{event_type}", &l.event_type)
            );
            let schema = sluice_schema::record_schema(l);
            let full_name = format!(
                "{}.{}",
                schema["namespace"].as_str().unwrap_or_default(),
                schema["name"].as_str().unwrap_or_default()
            );
            job::TopicSpec {
                subject: strategy.subject(&topic, &full_name),
                topic,
                layout: l.clone(),
            }
        })
        .collect();
    let ch = &cfg.platform.sinks.clickhouse;
    let spark = cfg.platform.spark.as_ref();
    Ok(JobSpec {
        domain: domain.domain.value.clone(),
        app_name: spark
            .and_then(|s| s.app_name.clone())
            .unwrap_or_else(|| format!("sluice-{}", domain.domain.value)),
        topics,
        dead_letter_topic: format!(
            "{prefix}{}",
            k.dlq_topic_template
                .replace("{domain}", &domain.domain.value)
        ),
        aggregations: built
            .plan
            .aggregations
            .iter()
            .cloned()
            .zip(built.tables.iter().map(|t| t.name.clone()))
            .collect(),
        trigger_ms: spark
            .and_then(|s| s.trigger_interval)
            .unwrap_or(cfg.platform.engine.trigger_interval)
            .as_millis_i64(),
        shuffle_partitions: 4,
        defaults: job::Defaults {
            bootstrap: literal(&k.bootstrap_servers),
            registry: literal(&k.schema_registry.url),
            clickhouse_url: literal(&ch.url),
            clickhouse_database: Some(ch.database.clone()),
            clickhouse_user: literal(&ch.user),
        },
    })
}

/// Writes `files` under `dir` (creating it), replacing what was there.
pub fn write_job(files: &[JobFile], dir: &std::path::Path) -> Result<(), SparkError> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SparkError::Io {
                what: format!("creating {}", parent.display()),
                source,
            })?;
        }
        std::fs::write(&path, &f.text).map_err(|source| SparkError::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        #[cfg(unix)]
        if f.path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(
                |source| SparkError::Io {
                    what: format!("making {} executable", path.display()),
                    source,
                },
            )?;
        }
    }
    Ok(())
}
