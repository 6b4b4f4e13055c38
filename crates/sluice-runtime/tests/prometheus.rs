//! Metrics checked against a real Prometheus (`scripts/services.sh start
//! prometheus`, which scrapes 127.0.0.1:9464 every 2 s): a pipeline serving
//! `/metrics` there runs N generated events with planted malformed ones;
//! Prometheus then reports exactly N events in and the planted number of
//! dead letters, and every PromQL expression of the generated dashboards and
//! alert rules evaluates without error.
//!
//! Its own test binary: the metrics recorder is process-wide.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_config::{load, LoadOptions};
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_generator::{FaultOptions, Generator, GeneratorOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};
use sluice_runtime::{monitor, observe};

const PROMETHEUS: &str = "http://127.0.0.1:9090";

/// Runs an instant query; `Err` with Prometheus's message on failure.
fn query(q: &str) -> Result<serde_json::Value, String> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--get",
            &format!("{PROMETHEUS}/api/v1/query"),
            "--data-urlencode",
        ])
        .arg(format!("query={q}"))
        .output()
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))?;
    if v["status"] == "success" {
        Ok(v)
    } else {
        Err(format!("{}: {}", v["errorType"], v["error"]))
    }
}

fn scalar(q: &str) -> Option<f64> {
    let v = query(q).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_sees_every_event_and_dead_letter_and_runs_every_generated_expression() {
    if query("up").is_err() {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "SLUICE_REQUIRE_SERVICES is set but Prometheus is not answering at {PROMETHEUS}"
        );
        eprintln!("skipping: Prometheus not running (scripts/services.sh start prometheus)");
        return;
    }
    let cfg = {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut o = LoadOptions::new(dir, "dev");
        o.vars.clear();
        load(&o).unwrap()
    };
    let domain = "ecommerce";
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let handle = observe::install_recorder(domain, &[("test_run", &run_id)]).unwrap();
    let stats = Arc::new(Stats::default());
    let server = observe::serve("127.0.0.1:9464", Some(handle), stats.clone()).unwrap();

    let n = 20_000u64;
    let mut opts = GeneratorOptions::events(9, n);
    opts.faults = FaultOptions {
        malformed: 0.01,
        ..FaultOptions::default()
    };
    let g = Generator::from_config(&cfg, domain, opts).unwrap();
    let d = cfg.domain(domain).unwrap();
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.duckdb");
    let summary = pipeline::run(
        built,
        Box::new(GeneratorSource::new(g, domain)),
        Box::new(DuckDbSink::open(db.to_str().unwrap()).unwrap()),
        PipelineOptions::default(),
        stats,
    )
    .unwrap();
    assert_eq!(summary.records_in, n);
    let planted = (n as f64 * 0.01).round() as u64;
    assert_eq!(
        summary.malformed, planted,
        "the generator plants exact counts"
    );

    // wait for a scrape after the run
    let sel = format!("domain=\"{domain}\",test_run=\"{run_id}\"");
    let events_q = format!("sum(sluice_source_events_total{{{sel}}})");
    let dead_q = format!("sum(sluice_dead_letter_records_total{{{sel},kind=\"malformed\"}})");
    let started = Instant::now();
    loop {
        let events = scalar(&events_q);
        let dead = scalar(&dead_q);
        if events == Some(n as f64) && dead == Some(planted as f64) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus reports {events:?} events in and {dead:?} dead letters; expected {n} and {planted}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // the process metrics are scraped too
    assert!(scalar(&format!("max(process_resident_memory_bytes{{{sel}}})")).unwrap_or(0.0) > 0.0);

    // every expression sluice generates evaluates on this Prometheus
    let mut exprs = monitor::alert_expressions(domain);
    exprs.extend(monitor::dashboard_expressions(
        &monitor::pipeline_dashboard(domain),
    ));
    assert!(exprs.len() > 15);
    for e in exprs {
        let e = e.replace("$__rate_interval", "1m");
        query(&e).unwrap_or_else(|err| panic!("{e}: {err}"));
    }
    drop(server);
}
