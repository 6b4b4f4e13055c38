//! Observability: the Prometheus recorder and the HTTP endpoint serving
//! `/metrics` (Prometheus text format), `/status` (the run's live counters
//! as JSON, for a web console in another process), `/healthz` (alive) and
//! `/readyz` (source and sink connected, sink not failing).
//!
//! The pipeline records through the `metrics` facade under the names in
//! [`sluice_core::metrics`]; with no recorder installed those calls do
//! nothing, so metrics cost nothing when off. Exposition is the
//! `metrics-exporter-prometheus` crate's; process metrics are read from
//! `/proc` at scrape time.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sluice_core::metrics as m;

use crate::pipeline::Stats;
use crate::topology::Observed;
use crate::RuntimeError;

/// Buckets of the sink write latency histogram, seconds.
const WRITE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process-wide Prometheus recorder with the global label
/// `domain` (and `extra` labels). Fails if a recorder is already installed.
pub fn install_recorder(
    domain: &str,
    extra: &[(&str, &str)],
) -> Result<PrometheusHandle, RuntimeError> {
    let mut b = PrometheusBuilder::new().add_global_label("domain", domain);
    for (k, v) in extra {
        b = b.add_global_label(*k, *v);
    }
    let b = b
        .set_buckets_for_metric(Matcher::Full(m::SINK_WRITE_SECONDS.into()), WRITE_BUCKETS)
        .map_err(|e| RuntimeError::Metrics(e.to_string()))?;
    let handle = b
        .install_recorder()
        .map_err(|e| RuntimeError::Metrics(e.to_string()))?;
    describe();
    metrics::gauge!(m::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        m::EVENTS_IN_TOTAL,
        Unit::Count,
        "Events read from a source."
    );
    describe_counter!(
        m::DECODE_ERRORS_TOTAL,
        Unit::Count,
        "Records that could not be decoded."
    );
    describe_counter!(
        m::DEAD_LETTER_TOTAL,
        Unit::Count,
        "Records written to the dead-letter output, by kind."
    );
    describe_counter!(
        m::LATE_EVENTS_TOTAL,
        Unit::Count,
        "Events beyond allowed lateness, by aggregation."
    );
    describe_counter!(
        m::RESULTS_TOTAL,
        Unit::Count,
        "Window results emitted, by aggregation."
    );
    describe_gauge!(
        m::WATERMARK_LAG_SECONDS,
        Unit::Seconds,
        "Wall clock minus the smallest watermark."
    );
    describe_gauge!(
        m::OPEN_WINDOWS,
        Unit::Count,
        "Windows held (open or within allowed lateness)."
    );
    describe_gauge!(
        m::STATE_BYTES,
        Unit::Bytes,
        "Approximate bytes of window state."
    );
    describe_counter!(
        m::ROWS_OUT_TOTAL,
        Unit::Count,
        "Result rows durably written."
    );
    describe_histogram!(
        m::SINK_WRITE_SECONDS,
        Unit::Seconds,
        "Duration of one sink write."
    );
    describe_counter!(m::SINK_RETRIES_TOTAL, Unit::Count, "Sink writes retried.");
    describe_counter!(
        m::SINK_ERRORS_TOTAL,
        Unit::Count,
        "Failed sink write attempts."
    );
    describe_gauge!(
        m::SINK_DOWN,
        Unit::Count,
        "1 while the last sink write failed."
    );
    describe_counter!(
        m::CHECKPOINTS_TOTAL,
        Unit::Count,
        "Checkpoints of open windows saved."
    );
    describe_gauge!(
        m::CHECKPOINT_BYTES,
        Unit::Bytes,
        "Size of a lane's last checkpoint."
    );
    describe_gauge!(
        m::BATCHES_IN_FLIGHT,
        Unit::Count,
        "Batches between source and sink."
    );
    describe_gauge!(
        m::KAFKA_CONSUMER_LAG,
        Unit::Count,
        "Records not yet consumed, per partition."
    );
    describe_counter!(
        m::KAFKA_DELIVERY_ERRORS_TOTAL,
        Unit::Count,
        "Kafka messages not delivered."
    );
}

/// Sets the process gauges from `/proc/self` (Linux; nothing elsewhere).
fn process_metrics() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // fields after the command name, which is in parentheses
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime = field 14, stime = 15, starttime = 22, rss = 24 (1-based in proc(5))
    let cpu = (num(11) + num(12)) / ticks;
    metrics::counter!(m::PROCESS_CPU_SECONDS_TOTAL).absolute(cpu as u64);
    metrics::gauge!(m::PROCESS_RESIDENT_MEMORY_BYTES).set(num(21) * 4096.0);
    if let Some(boot) = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("btime "))
            .and_then(|l| l[6..].trim().parse::<f64>().ok())
    }) {
        metrics::gauge!(m::PROCESS_START_TIME_SECONDS).set(boot + num(19) / ticks);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(m::PROCESS_OPEN_FDS).set(fds.count() as f64);
    }
}

/// Why the pipeline is not ready, or `None` when it is.
pub fn not_ready(stats: &Stats) -> Option<String> {
    let mut why = Vec::new();
    if !stats.source_ready.load(Ordering::Relaxed) {
        why.push("source not connected");
    }
    if !stats.sink_ready.load(Ordering::Relaxed) {
        why.push("sink not prepared");
    }
    if stats.sink_down.load(Ordering::Relaxed) {
        why.push("sink failing (retrying)");
    }
    if stats.done.load(Ordering::Relaxed) {
        why.push("pipeline stopped");
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The HTTP endpoint; stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    address: String,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("address", &self.address)
            .finish()
    }
}

impl MetricsServer {
    /// The address it listens on.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

fn respond(req: tiny_http::Request, status: u16, content_type: &str, body: String) {
    let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        resp = resp.with_header(h);
    }
    if let Err(e) = req.respond(resp) {
        tracing::debug!("metrics endpoint: cannot answer: {e}");
    }
}

/// What a run says about itself now, as JSON: its counters, watermark
/// (overall and per source partition), Kafka lag per partition, sink
/// health and tables. `/status` serves it; the web console shows it.
pub fn status(run: &Observed, started: Instant) -> serde_json::Value {
    use serde_json::json;
    let s = &run.stats;
    let wm = s.watermark_ms.load(Ordering::Relaxed);
    // at the end of a bounded input every window is closed: the watermark
    // stands at the end of time
    let at_end = wm >= i64::MAX / 2;
    let wm = (wm != i64::MIN && !at_end).then_some(wm);
    let now = sluice_core::time::now_ms();
    let tables: Vec<serde_json::Value> = run
        .tables
        .iter()
        .map(|t| json!({"name": t.name, "aggregation": t.aggregation, "kind": t.kind.to_string()}))
        .collect();
    let watermarks: Vec<serde_json::Value> = s
        .partitions
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            json!({
                "partition": p.label,
                "max_event_time_ms": p.max_ms,
                "behind_ms": p.max_ms.map(|m| now - m),
                "state": p.role.as_str(),
            })
        })
        .collect();
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    json!({
        "running": !s.done.load(Ordering::Relaxed),
        "source": run.source,
        "sink": run.sink,
        "limit": run.limit,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "now_ms": now,
        "records_in": n(&s.records_in),
        "malformed": n(&s.malformed),
        "late": n(&s.late),
        "outliers": n(&s.outliers),
        "over_limit": n(&s.over_limit),
        "results": n(&s.results),
        "rows_written": n(&s.rows_written),
        "dead_written": n(&s.dead_written),
        "open_windows": n(&s.open_windows),
        "state_bytes": n(&s.state_bytes),
        "watermark_ms": wm,
        "watermark_at_end": at_end,
        "watermark_lag_ms": wm.map(|w| now - w),
        "sink_down": s.sink_down.load(Ordering::Relaxed),
        "sink_retries": n(&s.sink_retries),
        "in_flight": s.in_flight.load(Ordering::Relaxed),
        "source_ready": s.source_ready.load(Ordering::Relaxed),
        "sink_ready": s.sink_ready.load(Ordering::Relaxed),
        "tables": tables,
        "watermarks": watermarks,
        "partitions": sluice_kafka::factory::latest_lag()
            .into_iter()
            .map(|l| json!({
                "topic": l.topic,
                "partition": l.partition,
                "position": l.position,
                "high_watermark": l.high_watermark,
                "lag": l.lag.max(0),
            }))
            .collect::<Vec<_>>(),
    })
}

/// Serves `/metrics` (when `handle` is given), `/healthz` and `/readyz` on
/// `address` (e.g. `127.0.0.1:9464`) until the returned server is dropped.
pub fn serve(
    address: &str,
    handle: Option<PrometheusHandle>,
    stats: Arc<Stats>,
) -> Result<MetricsServer, RuntimeError> {
    serve_run(address, handle, stats, None)
}

/// [`serve`], and `/status` ([`status`]) of `run` when given: what the web
/// console of another process shows (`sluice ui --watch`).
pub fn serve_run(
    address: &str,
    handle: Option<PrometheusHandle>,
    stats: Arc<Stats>,
    run: Option<Observed>,
) -> Result<MetricsServer, RuntimeError> {
    let started = Instant::now();
    let server = Arc::new(
        tiny_http::Server::http(address)
            .map_err(|e| RuntimeError::Metrics(format!("cannot listen on {address}: {e}")))?,
    );
    let s2 = server.clone();
    let thread = std::thread::Builder::new()
        .name("sluice-metrics".into())
        .spawn(move || {
            for req in s2.incoming_requests() {
                let path = req.url().split('?').next().unwrap_or("").to_string();
                match path.as_str() {
                    "/metrics" => match &handle {
                        Some(h) => {
                            process_metrics();
                            h.run_upkeep();
                            respond(
                                req,
                                200,
                                "text/plain; version=0.0.4; charset=utf-8",
                                h.render(),
                            );
                        }
                        None => respond(req, 404, "text/plain", "metrics are off\n".into()),
                    },
                    "/status" => match &run {
                        Some(r) => {
                            respond(req, 200, "application/json", status(r, started).to_string())
                        }
                        None => respond(req, 404, "text/plain", "no run here\n".into()),
                    },
                    "/healthz" => respond(req, 200, "text/plain", "ok\n".into()),
                    "/readyz" => match not_ready(&stats) {
                        None => respond(req, 200, "text/plain", "ready\n".into()),
                        Some(why) => respond(req, 503, "text/plain", format!("not ready: {why}\n")),
                    },
                    _ => respond(
                        req,
                        404,
                        "text/plain",
                        "try /metrics, /status, /healthz or /readyz\n".into(),
                    ),
                }
            }
        })
        .map_err(RuntimeError::Thread)?;
    Ok(MetricsServer {
        server,
        thread: Some(thread),
        address: address.to_string(),
    })
}
