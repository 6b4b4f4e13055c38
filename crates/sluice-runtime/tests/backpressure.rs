//! Back-pressure: a sink that stops accepting writes stops the source, and
//! memory stays bounded while an unbounded generator would go on forever.
//! (Its own test binary, so the process's memory is this test's alone.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_config::{load, LoadOptions};
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::{ConnectorError, DeadLetterRecord, ResultRow, Sink, TableSpec};
use sluice_generator::{Generator, GeneratorOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};
use sluice_runtime::plan;

/// Blocks every write until the test sends a permit.
struct GatedSink {
    permits: Arc<Mutex<Receiver<()>>>,
    writes: Arc<AtomicU64>,
    waiting: Arc<AtomicBool>,
}

impl Sink for GatedSink {
    fn describe(&self) -> String {
        "gated".into()
    }
    fn prepare(&mut self, _: &[TableSpec]) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn write(&mut self, _: &[ResultRow], _: &[DeadLetterRecord]) -> Result<(), ConnectorError> {
        self.waiting.store(true, Ordering::SeqCst);
        self.permits.lock().unwrap().recv().ok();
        self.waiting.store(false, Ordering::SeqCst);
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn close(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_stalled_sink_stops_the_source_and_memory_stays_bounded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut o = LoadOptions::new(dir, "dev");
    o.vars.clear();
    let cfg = load(&o).unwrap();
    let d = cfg.domain("ecommerce").unwrap();
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    // unbounded, simulated time: without back-pressure it would fill memory
    let g = Generator::from_config(
        &cfg,
        "ecommerce",
        GeneratorOptions {
            seed: 1,
            ..GeneratorOptions::default()
        },
    )
    .unwrap();
    let (permit_tx, permit_rx): (Sender<()>, Receiver<()>) = channel();
    let writes = Arc::new(AtomicU64::new(0));
    let waiting = Arc::new(AtomicBool::new(false));
    let sink = GatedSink {
        permits: Arc::new(Mutex::new(permit_rx)),
        writes: writes.clone(),
        waiting: waiting.clone(),
    };
    let stats = Arc::new(Stats::default());
    let opts = PipelineOptions {
        trigger_interval: Duration::from_millis(10),
        ..PipelineOptions::default()
    };
    let stop = opts.stop.clone();
    let st = stats.clone();
    let before = rss_kib();
    let run = std::thread::spawn(move || {
        pipeline::run(
            built,
            Box::new(GeneratorSource::new(g, "ecommerce")),
            Box::new(sink),
            opts,
            st,
        )
    });

    while !waiting.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // the sink is stalled: give the rest of the pipeline time to fill its queues
    std::thread::sleep(Duration::from_millis(1500));
    let stalled_at = stats.records_in.load(Ordering::SeqCst);
    let rss_stalled = rss_kib();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stats.records_in.load(Ordering::SeqCst),
        stalled_at,
        "the source kept going while the sink was stalled"
    );
    let growth_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        growth_mib < 96,
        "memory grew by {growth_mib} MiB while stalled"
    );
    eprintln!(
        "stalled after {stalled_at} records; RSS growth {growth_mib} MiB (at stall {} MiB)",
        rss_stalled.saturating_sub(before) / 1024
    );

    // release the sink: the pipeline moves again
    for _ in 0..50 {
        permit_tx.send(()).ok();
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        stats.records_in.load(Ordering::SeqCst) > stalled_at,
        "no progress after the sink recovered"
    );
    stop.store(true, Ordering::SeqCst);
    // keep granting writes until the run ends
    let feeder = std::thread::spawn(move || {
        while permit_tx.send(()).is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let summary = run.join().unwrap().unwrap();
    assert!(summary.interrupted);
    assert!(writes.load(Ordering::SeqCst) > 0);
    drop(feeder);
}
