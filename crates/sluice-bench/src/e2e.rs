//! `sluice bench e2e`: N generated events produced to Kafka (fresh topics),
//! then the real pipeline (`sluice run --source kafka --sink clickhouse`'s
//! code path, sharded, committing offsets) into a fresh ClickHouse database.
//! Reports throughput and how long a closed window takes to become readable
//! in the final view: from the moment the watermark passes the window's end
//! (the engine emits the row then) to the moment the insert holding the row
//! has returned (ClickHouse inserts are visible once acknowledged). The
//! baseline, in the same run, is the same pipeline with a sink that drops
//! everything. Needs `scripts/services.sh start all`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_connectors::sink::clickhouse::{ClickHouseSettings, Client};
use sluice_connectors::{ConnectorError, DeadLetterRecord, ResultRow, Sink, TableSpec};
use sluice_core::time::now_ms;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_kafka::producer::{produce_generated, ProduceOptions};
use sluice_kafka::{delete_topics, KafkaSettings};
use sluice_runtime::pipeline::{self, RunSummary, Stats};
use sluice_runtime::topology::{KafkaSpec, RunSpec};
use sluice_secrets::ResolvedSecrets;

use crate::report::{check, ratio, BenchError, Measured, Report};

/// Wraps a sink and records, per written row, milliseconds from emission to
/// the acknowledged write.
struct Visibility {
    inner: Box<dyn Sink>,
    latencies: Arc<Mutex<Vec<i64>>>,
}

impl Sink for Visibility {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn prepare(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError> {
        self.inner.prepare(tables)
    }
    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        self.inner.write(rows, dead)?;
        let now = now_ms();
        if let Ok(mut l) = self.latencies.lock() {
            l.extend(
                rows.iter()
                    .filter(|r| !r.provisional)
                    .map(|r| now - r.emitted_at),
            );
        }
        Ok(())
    }
    fn close(&mut self) -> Result<(), ConnectorError> {
        self.inner.close()
    }
}

/// A sink that keeps nothing: the baseline.
#[derive(Debug)]
struct Discard;

impl Sink for Discard {
    fn describe(&self) -> String {
        "discard".into()
    }
    fn prepare(&mut self, _tables: &[TableSpec]) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn write(
        &mut self,
        _rows: &[ResultRow],
        _dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn close(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs `sluice run --source kafka --until-end --sink clickhouse`'s
/// topology (the library builds it from `spec`) with its sink swapped by
/// `wrap`; returns the summary and the seconds from the first record read
/// to the end.
pub(crate) fn pipeline_run(
    cfg: &sluice_config::Config,
    spec: &RunSpec,
    secrets: &ResolvedSecrets,
    wrap: impl FnOnce(Box<dyn Sink>) -> Box<dyn Sink>,
) -> Result<(RunSummary, f64), BenchError> {
    let resolved = || Ok(secrets.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t = sluice_runtime::topology::build(cfg, spec, &resolved, stop)?;
    let stats = Arc::new(Stats::default());
    let first = Arc::new(Mutex::new(None::<Instant>));
    let watch = {
        let (stats, first) = (stats.clone(), first.clone());
        std::thread::spawn(move || {
            while !stats.done.load(Ordering::Relaxed) {
                if stats.records_in.load(Ordering::Relaxed) > 0 {
                    if let Ok(mut f) = first.lock() {
                        f.get_or_insert_with(Instant::now);
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let result = pipeline::run(t.built, t.source, wrap(t.sink), t.opts, stats.clone());
    stats.done.store(true, Ordering::Relaxed);
    let summary = result?;
    let end = Instant::now();
    watch.join().ok();
    let started = first.lock().ok().and_then(|f| *f).unwrap_or(end);
    Ok((summary, (end - started).as_secs_f64().max(1e-9)))
}

/// Runs `sluice bench e2e` on `events` of `domain`'s events; `secrets`
/// are the configuration's resolved secrets.
pub fn e2e(
    cfg: &sluice_config::Config,
    domain: &str,
    events: u64,
    secrets: &ResolvedSecrets,
) -> Result<Report, BenchError> {
    let measured = Measured::domain(
        cfg.domain(domain)
            .ok_or_else(|| BenchError::Usage(format!("unknown domain `{domain}`")))?,
    );
    let stamp = now_ms();
    let prefix = format!("e2ebench{stamp}.");
    let settings = KafkaSettings::resolve(&cfg.platform.kafka, secrets, Some(&prefix))?;
    // the run's results go to a fresh database
    let mut cfg = cfg.clone();
    cfg.platform.sinks.clickhouse.database = format!("sluice_bench_{stamp}");
    let ch = ClickHouseSettings::from_config(&cfg.platform.sinks.clickhouse, secrets)?;

    let mut generator = Generator::from_config(&cfg, domain, GeneratorOptions::events(1, events))?;
    let mut topics: Vec<String> = generator
        .layouts()
        .map(|l| settings.topic(domain, &l.event_type))
        .collect();
    topics.push(settings.dlq_topic(domain));
    let spec = |group: &str| RunSpec {
        domain: domain.to_string(),
        source: "kafka".into(),
        sink: Some("clickhouse".into()),
        kafka: KafkaSpec {
            group: Some(group.to_string()),
            until_end: true,
            instance: Some(String::new()),
            topic_prefix: Some(prefix.clone()),
        },
        ..RunSpec::default()
    };
    let result = (|| -> Result<serde_json::Value, BenchError> {
        let produced = produce_generated(
            &cfg,
            &settings,
            domain,
            &mut generator,
            &ProduceOptions::default(),
            &mut |_| {},
        )?;
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let watched = latencies.clone();
        let (e2e, e2e_secs) = pipeline_run(
            &cfg,
            &spec(&format!("e2ebench{stamp}-ch")),
            secrets,
            |inner| {
                Box::new(Visibility {
                    inner,
                    latencies: watched,
                })
            },
        )?;
        let (base, base_secs) = pipeline_run(
            &cfg,
            &spec(&format!("e2ebench{stamp}-discard")),
            secrets,
            |_| Box::new(Discard),
        )?;
        check(e2e.records_in == produced.delivered, || {
            format!("read {} of {} events", e2e.records_in, produced.delivered)
        })?;
        // the rows are in the final views
        let client = Client::new(&ch)?;
        let visible: u64 = client
            .query(&format!(
                "SELECT sum(rows) FROM system.parts WHERE database = '{}' AND active",
                ch.database
            ))?
            .trim()
            .parse()
            .unwrap_or(0);
        check(visible > 0, || "no rows in ClickHouse after the run".into())?;
        let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        l.sort_unstable();
        let rate = e2e.records_in as f64 / e2e_secs;
        let base_rate = base.records_in as f64 / base_secs;
        Ok(json!({
            "measured": measured.json(),
            "events": e2e.records_in,
            "events_per_sec": rate.round(),
            "window_visible_p99_ms": percentile(&l, 0.99),
            "window_visible_p50_ms": percentile(&l, 0.50),
            "rows_written": e2e.rows_written,
            "produce_events_per_sec": produced.events_per_sec().round(),
            "baseline_discard_sink_events_per_sec": base_rate.round(),
            // the same pipeline into a sink that discards: what consuming
            // and aggregating cost without the sink (the name)
            "consume_aggregate_events_per_sec": base_rate.round(),
            "ratio_vs_discard_sink": ratio(rate / base_rate),
        }))
    })();
    Client::new(&ch)
        .and_then(|c| c.query(&format!("DROP DATABASE IF EXISTS `{}`", ch.database)))
        .ok();
    if let Err(e) = delete_topics(&settings, &topics) {
        tracing::warn!("cannot delete benchmark topics: {e}");
    }
    let json = result?;
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    Ok(Report { json, text })
}
