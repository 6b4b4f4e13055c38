//! A graceful ClickHouse stop detaches tables while HTTP still answers, so
//! an insert gets `Code: 60 … doesn't exist` (HTTP 404). Here the result
//! tables of a running generator → ClickHouse run are detached on a scratch
//! database (the shared server keeps running) and attached again a moment
//! later: the run retries, completes, and the final views equal the
//! reference model — nothing lost, nothing doubled.
//!
//! Skips with a message when ClickHouse is down, unless
//! `SLUICE_REQUIRE_SERVICES` is set.

mod common;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sluice_connectors::sink::clickhouse::ClickHouseSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::{ConnectorError, Source, SourceOutput, SourceStatus};
use sluice_generator::{Generator, GeneratorOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};

/// The generator, pausing once after `pause_after` batches until told to go on.
struct Gated {
    inner: GeneratorSource,
    batches: usize,
    pause_after: usize,
    go: Option<Receiver<()>>,
}

impl Source for Gated {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn next_batch(
        &mut self,
        max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError> {
        self.batches += 1;
        if self.batches > self.pause_after {
            if let Some(go) = self.go.take() {
                go.recv().ok();
            }
        }
        self.inner.next_batch(max_records, out)
    }
}

#[test]
fn result_tables_detached_mid_run_are_retried_and_nothing_is_lost() {
    let Some((ch, client)) = clickhouse("detach") else {
        return;
    };
    let cfg = shipped_config();
    let name = "ecommerce";
    let n = 60_000u64;
    let gen = || Generator::from_config(&cfg, name, GeneratorOptions::events(11, n)).unwrap();
    let mut built =
        sluice_runtime::plan::build(cfg.domain(name).unwrap(), &cfg.platform.engine, &[]).unwrap();
    built.plan.options.emit_state = true; // ClickHouse stores mergeable state
    let (go_tx, go_rx) = channel();
    let source = Gated {
        inner: GeneratorSource::new(gen(), name),
        batches: 0,
        pause_after: 30,
        go: Some(go_rx),
    };
    let stats = Arc::new(Stats::default());
    let run = {
        let (built, stats, ch) = (built.clone(), stats.clone(), ch.clone());
        std::thread::spawn(move || {
            let sink = ClickHouseSink::connect(ch).unwrap();
            let opts = PipelineOptions {
                batch_size: 1000,
                trigger_interval: Duration::from_millis(200),
                ..PipelineOptions::default()
            };
            pipeline::run(built, Box::new(source), Box::new(sink), opts, stats)
        })
    };
    let waited = Instant::now();
    while stats.rows_written.load(Ordering::Relaxed) == 0 {
        assert!(!run.is_finished(), "the run ended before writing a row");
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no rows written in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let parts: Vec<String> = built
        .tables
        .iter()
        .map(|t| format!("`{}`.`{}_parts`", ch.database, t.name))
        .collect();
    for p in &parts {
        client.query(&format!("DETACH TABLE {p}")).unwrap();
    }
    go_tx.send(()).unwrap();
    let waited = Instant::now();
    while stats.sink_retries.load(Ordering::Relaxed) == 0 && !run.is_finished() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no write failed in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    for p in &parts {
        client.query(&format!("ATTACH TABLE {p}")).unwrap();
    }
    let summary = run.join().unwrap();
    let summary = summary.unwrap_or_else(|e| panic!("the run failed: {e}"));
    let retries = stats.sink_retries.load(Ordering::Relaxed);
    eprintln!(
        "detached mid-run: {retries} retries; {} rows written",
        summary.rows_written
    );
    assert!(retries > 0, "no write met the detached tables");
    let batches = drain(Box::new(GeneratorSource::new(gen(), name)));
    assert_tables_eq(
        &stored_clickhouse(&client, &ch.database, &built),
        &expected_with(&built, &batches, false),
    );
    client
        .query(&format!("DROP DATABASE `{}`", ch.database))
        .unwrap();
}
