//! `sluice bench spark`: the native runner against the Spark runner on
//! identical work. N generated events are produced once to fresh Kafka
//! topics; then, back to back in one run, `sluice run --source kafka --sink
//! clickhouse --until-end` and `sluice spark run --until-end` (`local[2]`)
//! read them and compute the same aggregations (every one of the domain the
//! Spark runner computes) into the same kind of sink (a fresh ClickHouse
//! database each). The Spark job runs twice in one Spark session: the first
//! run is the cold figure (JVM start and connector resolution included), the
//! second the warm one (from starting its queries to their end). The native
//! figure is timed as `bench e2e` times it, from the first record read to the
//! end; its wall time, consumer group join included, is reported beside it
//! and compared with Spark's cold figure. Needs `scripts/services.sh start
//! all`.

use std::time::Instant;

use serde_json::json;
use sluice_connectors::sink::clickhouse::{ClickHouseSettings, Client};
use sluice_core::time::now_ms;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::{delete_topics, KafkaSettings};
use sluice_runtime::topology::{KafkaSpec, RunSpec};
use sluice_secrets::ResolvedSecrets;

use crate::report::{check, ratio, BenchError, Measured, Report};

/// Runs `sluice bench spark` on `events` of `domain`'s events.
pub fn spark(
    cfg: &sluice_config::Config,
    domain: &str,
    events: u64,
    secrets: &ResolvedSecrets,
) -> Result<Report, BenchError> {
    let d = cfg
        .domain(domain)
        .ok_or_else(|| BenchError::Usage(format!("unknown domain `{domain}`")))?;
    let stamp = now_ms();
    let prefix = format!("sparkbench{stamp}.");
    let settings = KafkaSettings::resolve(&cfg.platform.kafka, secrets, Some(&prefix))?;

    // the aggregations both runners compute
    let all = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
    let spec = sluice_spark::job_spec(cfg, d, &all, Some(&prefix))
        .map_err(|e| BenchError::Usage(e.to_string()))?;
    let chosen: Vec<String> = spec
        .aggregations
        .iter()
        .filter(|(a, _)| sluice_spark::job::refusal(&spec.topics, a).is_none())
        .map(|(a, _)| a.name.clone())
        .collect();
    let refused: Vec<String> = spec
        .aggregations
        .iter()
        .map(|(a, _)| a.name.clone())
        .filter(|a| !chosen.contains(a))
        .collect();
    check(!chosen.is_empty(), || {
        format!("the Spark runner computes none of `{domain}`'s aggregations")
    })?;
    let measured = Measured {
        domain: domain.to_string(),
        plan: format!(
            "domain `{domain}`: the {} of its aggregations the Spark runner computes ({})",
            chosen.len(),
            chosen.join(", ")
        ),
        aggregations: chosen.clone(),
    };
    let database = |runner: &str| {
        let mut c = cfg.clone();
        c.platform.sinks.clickhouse.database = format!("sluice_sparkbench_{stamp}_{runner}");
        c
    };
    let (native_cfg, spark_cfg) = (database("native"), database("spark"));

    let mut generator = Generator::from_config(cfg, domain, GeneratorOptions::events(1, events))?;
    let mut topics: Vec<String> = generator
        .layouts()
        .map(|l| settings.topic(domain, &l.event_type))
        .collect();
    topics.push(settings.dlq_topic(domain));
    let work = tempfile::tempdir().map_err(|e| BenchError::Usage(e.to_string()))?;

    let result = (|| -> Result<serde_json::Value, BenchError> {
        let produced = produce_generated(
            cfg,
            &settings,
            domain,
            &mut generator,
            &ProduceOptions::default(),
            &mut |_| {},
        )?;
        let n = produced.delivered;

        // native: the whole `sluice run`, start-up included
        let run = RunSpec {
            domain: domain.to_string(),
            aggregations: chosen.clone(),
            source: "kafka".into(),
            sink: Some("clickhouse".into()),
            kafka: KafkaSpec {
                group: Some(format!("sparkbench{stamp}")),
                until_end: true,
                instance: Some(String::new()),
                topic_prefix: Some(prefix.clone()),
            },
            ..RunSpec::default()
        };
        let started = Instant::now();
        // timed from its first record to the end, as `bench e2e`; its wall
        // time (consumer group join included) is reported too
        let (summary, native_secs) =
            crate::e2e::pipeline_run(&native_cfg, &run, secrets, |sink| sink)?;
        let native_wall = started.elapsed().as_secs_f64().max(1e-9);
        check(summary.records_in == n, || {
            format!(
                "the native runner read {} of {n} events",
                summary.records_in
            )
        })?;

        // Spark: two runs in one session, into its own database
        let report = sluice_spark::run(
            &spark_cfg,
            secrets,
            &sluice_spark::RunRequest {
                domain: domain.to_string(),
                aggregations: chosen.clone(),
                topic_prefix: Some(prefix.clone()),
                master: "local[2]".into(),
                until_end: true,
                job_dir: Some(work.path().join("job")),
                checkpoints: Some(work.path().join("checkpoints")),
                sink: "clickhouse".into(),
                runs: 2,
                ..sluice_spark::RunRequest::default()
            },
        )
        .map_err(|e| BenchError::Usage(e.to_string()))?;
        check(report.runs.len() == 2, || {
            format!("the Spark job reported {} runs, not 2", report.runs.len())
        })?;
        for q in &report.queries {
            check(q.input_rows == n, || {
                format!(
                    "Spark query `{}` read {} of {n} events",
                    q.query, q.input_rows
                )
            })?;
        }
        let warm = report.runs[1].max(1e-9);
        let cold = (report.wall_seconds - warm).max(1e-9);
        // both wrote the same final views (rows per table)
        for (a, table) in spec
            .aggregations
            .iter()
            .filter(|(a, _)| chosen.contains(&a.name))
        {
            let rows = |c: &sluice_config::Config| -> Result<u64, BenchError> {
                let s = ClickHouseSettings::from_config(&c.platform.sinks.clickhouse, secrets)?;
                Ok(Client::new(&s)?
                    .query(&format!("SELECT count() FROM `{}`.`{table}`", s.database))?
                    .trim()
                    .parse()
                    .unwrap_or(0))
            };
            let (rn, rs) = (rows(&native_cfg)?, rows(&spark_cfg)?);
            check(rs > 0 && rs <= rn, || {
                format!(
                    "`{}`: Spark wrote {rs} windows, the native runner {rn}",
                    a.name
                )
            })?;
        }
        let native_rate = n as f64 / native_secs;
        let spark_rate = n as f64 / warm;
        let spark_cold_rate = n as f64 / cold;
        Ok(json!({
            "measured": measured.json(),
            "events": n,
            "aggregations": chosen,
            "refused_by_spark": refused,
            "native_events_per_sec": native_rate.round(),
            "spark_events_per_sec": spark_rate.round(),
            "spark_cold_events_per_sec": spark_cold_rate.round(),
            "ratio": ratio(native_rate / spark_rate),
            "ratio_cold": ratio(native_rate / spark_cold_rate),
            "native_seconds": ratio(native_secs),
            "native_wall_seconds": ratio(native_wall),
            "ratio_wall_to_cold": ratio(native_wall.recip() / cold.recip()),
            "spark_warm_seconds": ratio(warm),
            "spark_cold_seconds": ratio(cold),
        }))
    })();
    for c in [&native_cfg, &spark_cfg] {
        if let Ok(s) = ClickHouseSettings::from_config(&c.platform.sinks.clickhouse, secrets) {
            Client::new(&s)
                .and_then(|cl| cl.query(&format!("DROP DATABASE IF EXISTS `{}`", s.database)))
                .ok();
        }
    }
    if let Err(e) = delete_topics(&settings, &topics) {
        tracing::warn!("cannot delete benchmark topics: {e}");
    }
    let json = result?;
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    Ok(Report { json, text })
}
