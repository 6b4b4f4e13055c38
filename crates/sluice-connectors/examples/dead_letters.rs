//! Time to write dead letters into a DuckDB file through the sink: one
//! flush of N new ones, then a flush of N more of which half were written
//! already. `cargo run -p sluice-connectors --example dead_letters -- 20000`.

use std::time::Instant;

use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::{DeadLetterKind, DeadLetterRecord, Sink};

fn letter(offset: i64) -> DeadLetterRecord {
    DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason: "malformed JSON: expected value at line 1 column 2".into(),
        source: "events.jsonl".into(),
        partition: 0,
        offset,
        event_type: None,
        aggregation: None,
        event_time: None,
        payload: format!("{{\"user_id\": \"u{offset}\", oops").into_bytes(),
        key: None,
        timestamp: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("sluice-dl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.duckdb");
    let mut sink = DuckDbSink::open(path.to_str().ok_or("path")?)?;
    sink.prepare(&[])?;
    let first: Vec<DeadLetterRecord> = (0..n).map(letter).collect();
    let second: Vec<DeadLetterRecord> = (n / 2..n + n / 2).map(letter).collect();
    let t = Instant::now();
    sink.write(&[], &first)?;
    let a = t.elapsed();
    let t = Instant::now();
    sink.write(&[], &second)?;
    let b = t.elapsed();
    sink.close()?;
    let stored: i64 =
        sink.connection()
            .query_row("SELECT count(*) FROM _sluice_dead_letters", [], |r| {
                r.get(0)
            })?;
    println!(
        "{n} dead letters: first flush {:.3} s, second flush (half overlapping) {:.3} s, {stored} stored",
        a.as_secs_f64(),
        b.as_secs_f64()
    );
    drop(sink);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
