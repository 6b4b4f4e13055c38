//! The `kafka` source of `sluice run`: the domain's topics read as a
//! consumer-group member (static membership by instance name), offsets
//! committed once results are durable, dead letters to the dead-letter
//! topic, consumer lag published as a gauge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_connectors::{
    BuildError, BuiltSource, Context, DeadLetterRecord, SourceFactory, SourceHooks,
};

use crate::source::Committer;
use crate::{DlqWriter, KafkaError, KafkaSettings, KafkaSource, SourceOptions};

/// `kafka`: the domain's topics as a consumer-group member.
#[derive(Debug)]
pub struct KafkaFactory;

fn kafka(cause: KafkaError) -> BuildError {
    BuildError::Service {
        what: "kafka",
        cause: Box::new(cause),
    }
}

/// Kafka settings with secrets resolved and the run's topic prefix applied.
pub fn settings(cx: &Context<'_>) -> Result<KafkaSettings, BuildError> {
    KafkaSettings::resolve(
        &cx.cfg.platform.kafka,
        &cx.secrets()?,
        cx.spec.kafka.topic_prefix.as_deref(),
    )
    .map_err(kafka)
}

impl SourceFactory for KafkaFactory {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn build(&self, cx: &Context<'_>, _arg: Option<&str>) -> Result<BuiltSource, BuildError> {
        let k = &cx.spec.kafka;
        let settings = settings(cx)?;
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
        let src = KafkaSource::from_config(cx.cfg, &settings, domain, src_opts).map_err(kafka)?;
        let committer = src.committer();
        spawn_lag_gauges(committer.clone(), cx.stop.clone());
        let committed = Some(committer.committed_hook());
        let commit = committer.into_hook();
        let mut dlq = DlqWriter::new(&settings, domain, true).map_err(kafka)?;
        let hooks = SourceHooks {
            // mid-stream commits: checkpoint positions (any store with
            // checkpoints), and before a lane's first checkpoint its safe
            // positions in sharded runs only (their stores keep the row
            // with the most inputs, so a replay cannot overwrite a complete
            // row); see the runtime's pipeline
            on_durable: Some(commit.clone()),
            on_durable_end: Some(commit),
            committed,
            dead_letters: Some(Arc::new(Mutex::new(move |dead: &[DeadLetterRecord]| {
                dlq.write_all(dead, &[]).map_err(|e| e.to_string())?;
                dlq.flush(Duration::from_secs(30)).map(|_| ()).map_err(|e| {
                    metrics::counter!(
                        sluice_core::metrics::KAFKA_DELIVERY_ERRORS_TOTAL,
                        "kind" => "dlq"
                    )
                    .increment(1);
                    e.to_string()
                })
            }))),
        };
        Ok(BuiltSource {
            source: Box::new(src),
            limit: None,
            hooks,
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

/// The consumer lag per partition of the runs in this process, as last
/// measured (every 5 seconds; what the web console shows).
static LATEST_LAG: std::sync::Mutex<Vec<crate::PartitionLag>> = std::sync::Mutex::new(Vec::new());

/// The consumer lag per assigned partition as last measured in this
/// process (empty before the first measurement or without a Kafka source).
pub fn latest_lag() -> Vec<crate::PartitionLag> {
    LATEST_LAG.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Publishes consumer lag per partition every 5 seconds (a broker round
/// trip, so not on the data path).
fn spawn_lag_gauges(committer: Committer, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("sluice-lag".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(lags) = committer.lag() {
                    *LATEST_LAG.lock().unwrap_or_else(|p| p.into_inner()) = lags.clone();
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
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
        .ok();
}
