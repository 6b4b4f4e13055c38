//! The live view of a running pipeline, on stderr: a redrawn panel when
//! stderr is a terminal (progress, events/s, watermark, open windows, late
//! and dead-letter counts, the latest results of each aggregation), plain
//! log lines every few seconds otherwise.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_connectors::{Cell, TableSpec};
use sluice_formats::time::format_utc;

use crate::pipeline::Stats;

fn cell(c: &Cell) -> String {
    match c {
        Cell::Null => "∅".into(),
        Cell::Float(f) => format!("{f:.2}"),
        Cell::Timestamp(t) => format_utc(*t),
        other => other.canonical(),
    }
}

/// Renders the panel as text lines.
pub fn render(
    stats: &Stats,
    tables: &[TableSpec],
    elapsed: Duration,
    limit: Option<u64>,
) -> Vec<String> {
    let n = stats.records_in.load(Ordering::Relaxed);
    let rate = n as f64 / elapsed.as_secs_f64().max(1e-3);
    let wm = stats.watermark_ms.load(Ordering::Relaxed);
    let progress = match limit {
        Some(l) if l > 0 => format!("{n}/{l} ({:.0}%)", 100.0 * n as f64 / l as f64),
        _ => n.to_string(),
    };
    let mut lines = vec![
        format!(
            "sluice  events {progress}  {:.0}/s  watermark {}  open windows {}  state {} KiB",
            rate,
            if wm == i64::MIN { "-".into() } else { format_utc(wm) },
            stats.open_windows.load(Ordering::Relaxed),
            stats.state_bytes.load(Ordering::Relaxed) / 1024
        ),
        format!(
            "        results {}  rows written {}  late {}  outliers {}  malformed {}  dead letters written {}",
            stats.results.load(Ordering::Relaxed),
            stats.rows_written.load(Ordering::Relaxed),
            stats.late.load(Ordering::Relaxed),
            stats.outliers.load(Ordering::Relaxed),
            stats.malformed.load(Ordering::Relaxed),
            stats.dead_written.load(Ordering::Relaxed),
        ),
    ];
    if let Ok(latest) = stats.latest.lock() {
        for (t, rows) in tables.iter().zip(latest.iter()) {
            lines.push(format!("  {} ({})", t.name, t.kind));
            for r in rows.iter().rev().take(3) {
                let dims: Vec<String> = t
                    .dims
                    .iter()
                    .zip(&r.dims)
                    .map(|(c, v)| format!("{}={}", c.name, cell(v)))
                    .collect();
                let vals: Vec<String> = t
                    .values
                    .iter()
                    .zip(&r.values)
                    .map(|(c, v)| format!("{}={}", c.name, cell(v)))
                    .collect();
                lines.push(format!(
                    "    [{} .. {})  {}  {}{}",
                    &format_utc(r.window_start)[11..19],
                    &format_utc(r.window_end)[11..19],
                    dims.join(" "),
                    vals.join(" "),
                    if r.revision > 0 {
                        format!("  rev {}", r.revision)
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    lines
}

/// Draws until the pipeline is done. Returns when `stats.done` is set.
pub fn spawn(
    stats: Arc<Stats>,
    tables: Vec<TableSpec>,
    limit: Option<u64>,
) -> Option<std::thread::JoinHandle<()>> {
    let tty = std::io::stderr().is_terminal();
    std::thread::Builder::new()
        .name("sluice-live".into())
        .spawn(move || {
            let start = Instant::now();
            let mut drawn = 0usize;
            let mut last_log = Instant::now();
            while !stats.done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(if tty { 250 } else { 100 }));
                if tty {
                    let lines = render(&stats, &tables, start.elapsed(), limit);
                    let mut err = std::io::stderr().lock();
                    if drawn > 0 {
                        write!(err, "\x1b[{drawn}A").ok();
                    }
                    for l in &lines {
                        writeln!(err, "\x1b[2K{l}").ok();
                    }
                    drawn = lines.len();
                } else if last_log.elapsed() >= Duration::from_secs(5) {
                    last_log = Instant::now();
                    let lines = render(&stats, &tables, start.elapsed(), limit);
                    tracing::info!("{}", lines[0].trim_start_matches("sluice  "));
                }
            }
        })
        .ok()
}
