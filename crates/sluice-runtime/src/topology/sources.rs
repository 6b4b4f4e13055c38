//! The built-in sources: the in-process generator, files (JSON lines on
//! every core, Avro container files), and Kafka as a consumer-group member
//! (offsets committed once results are durable, dead letters to the
//! dead-letter topic).

use std::sync::Arc;

use sluice_connectors::source::file::FileSource;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::source::json_parallel::ParallelJsonSource;
use sluice_generator::{GeneratorOptions, Limit, TimeMode};
use sluice_kafka::{DlqWriter, KafkaSettings, KafkaSource, SourceOptions};

use super::{BuiltSource, Context, SourceFactory};
use crate::pipeline::{CommitHook, PipelineOptions};
use crate::plan::BuiltPlan;
use crate::RuntimeError;

/// Threads that parse JSON lines: `SLUICE_PARSER_THREADS`, else every core.
pub fn parser_threads() -> usize {
    std::env::var("SLUICE_PARSER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// `generator`: realistic synthetic events, in simulated time as fast as
/// possible when bounded, else paced to the wall clock.
#[derive(Debug)]
pub struct Generator;

impl SourceFactory for Generator {
    fn name(&self) -> &'static str {
        "generator"
    }

    fn build(
        &self,
        cx: &Context<'_>,
        _arg: Option<&str>,
        _built: &mut BuiltPlan,
        _opts: &mut PipelineOptions,
    ) -> Result<BuiltSource, RuntimeError> {
        let g = &cx.spec.generator;
        let bounded = g.count.is_some() || g.duration_ms.is_some();
        let opts = GeneratorOptions {
            seed: g.seed.unwrap_or(sluice_generator::DEFAULT_SEED),
            time: if g.realtime || !bounded {
                TimeMode::RealTime
            } else {
                TimeMode::Simulated
            },
            rate: g.rate,
            limit: Limit {
                events: g.count,
                duration_ms: g.duration_ms,
            },
            faults: g.faults.clone(),
            ..GeneratorOptions::default()
        };
        let realtime = opts.time == TimeMode::RealTime;
        let name = &cx.domain.domain.value;
        let gen = sluice_generator::Generator::from_config(cx.cfg, name, opts)
            .map_err(|e| RuntimeError::Usage(e.to_string()))?;
        let per_second = g.rate.unwrap_or_else(|| gen.natural_rate());
        let mut src = GeneratorSource::new(gen, name);
        if realtime {
            // about 100 ms of events per batch
            src = src.with_max_batch((per_second / 10.0).ceil() as usize);
        }
        Ok(BuiltSource {
            source: Box::new(src),
            limit: g.count,
        })
    }
}

/// `file:PATH`: a file, a directory or a glob pattern; JSON lines are
/// parsed on every core reading only the fields the plan uses, Avro
/// container files sequentially.
#[derive(Debug)]
pub struct Files;

impl SourceFactory for Files {
    fn name(&self) -> &'static str {
        "file"
    }

    fn usage(&self) -> &'static str {
        "file:PATH"
    }

    fn build(
        &self,
        cx: &Context<'_>,
        arg: Option<&str>,
        built: &mut BuiltPlan,
        _opts: &mut PipelineOptions,
    ) -> Result<BuiltSource, RuntimeError> {
        let spec = arg.filter(|a| !a.is_empty()).ok_or_else(|| {
            RuntimeError::Usage(
                "`file` needs a path: `file:events.jsonl`, `file:dir/` or `file:'events/*.jsonl'`"
                    .into(),
            )
        })?;
        let files = sluice_connectors::source::file::expand(spec).map_err(RuntimeError::Source)?;
        let all_json = files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e != "avro"));
        let source: Box<dyn sluice_connectors::Source> = if all_json {
            // parse on every core (the engine's thread parses too while it
            // would wait), reading only the fields the aggregations use
            *built = crate::plan::projected(built);
            Box::new(ParallelJsonSource::assisted(
                files,
                built.plan.layouts.clone(),
                parser_threads(),
            ))
        } else {
            Box::new(FileSource::new(spec, cx.domain.layouts()).map_err(RuntimeError::Source)?)
        };
        Ok(BuiltSource {
            source,
            limit: None,
        })
    }
}

/// `kafka`: the domain's topics as a consumer-group member.
#[derive(Debug)]
pub struct Kafka;

/// Kafka settings with secrets resolved and the spec's topic prefix applied.
pub fn kafka_settings(cx: &Context<'_>) -> Result<KafkaSettings, RuntimeError> {
    let secrets = (cx.secrets)()?;
    KafkaSettings::resolve(
        &cx.cfg.platform.kafka,
        &secrets,
        cx.spec.kafka.topic_prefix.as_deref(),
    )
    .map_err(RuntimeError::Kafka)
}

impl SourceFactory for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn build(
        &self,
        cx: &Context<'_>,
        _arg: Option<&str>,
        _built: &mut BuiltPlan,
        opts: &mut PipelineOptions,
    ) -> Result<BuiltSource, RuntimeError> {
        let k = &cx.spec.kafka;
        let settings = kafka_settings(cx)?;
        let domain = cx.domain.domain.value.as_str();
        let src_opts = SourceOptions {
            group_id: k.group.clone(),
            stop_at_end: k.until_end,
            instance: Some(
                k.instance
                    .clone()
                    .or_else(|| std::env::var("SLUICE_INSTANCE").ok())
                    .unwrap_or_else(host_name),
            ),
            ..SourceOptions::default()
        };
        let src = KafkaSource::from_config(cx.cfg, &settings, domain, src_opts)
            .map_err(RuntimeError::Kafka)?;
        let committer = src.committer();
        spawn_lag_gauges(committer.clone(), opts.stop.clone());
        let commit: CommitHook = committer.into_hook();
        opts.on_durable_end = Some(commit.clone());
        if opts.sharded {
            // the store keeps the row with the most inputs, so replaying from
            // a mid-stream commit cannot overwrite a complete row
            opts.on_durable = Some(commit);
        }
        let mut dlq = DlqWriter::new(&settings, domain, true).map_err(RuntimeError::Kafka)?;
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
        Ok(BuiltSource {
            source: Box::new(src),
            limit: None,
        })
    }
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

/// Publishes consumer lag per partition every 5 seconds (a broker round
/// trip, so not on the data path).
fn spawn_lag_gauges(
    committer: sluice_kafka::source::Committer,
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
