//! End to end on the embedded path: generator or files → engine → a real
//! DuckDB file, compared with the engine's brute-force reference model on
//! the same events.

use std::path::Path;

mod common;

use common::*;
use sluice_config::{load, Config, LoadOptions};
use sluice_connectors::sink::duckdb::{self, QueryCell};
use sluice_connectors::source::file::FileSource;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_engine::RawBatch;
use sluice_generator::{FaultOptions, Generator, GeneratorOptions};
use sluice_runtime::plan;

fn config() -> Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut o = LoadOptions::new(dir, "dev");
    o.vars.clear();
    load(&o).unwrap()
}

fn gen_opts(n: u64, seed: u64) -> GeneratorOptions {
    GeneratorOptions {
        faults: FaultOptions {
            out_of_order: 0.05,
            max_disorder_ms: 3_000,
            ..FaultOptions::default()
        },
        ..GeneratorOptions::events(seed, n)
    }
}

#[test]
fn every_shipped_domain_stores_exactly_the_reference_results() {
    let cfg = config();
    for d in &cfg.domains {
        let name = &d.domain.value;
        let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
        let batches = drain(Box::new(GeneratorSource::new(
            Generator::from_config(&cfg, name, gen_opts(8_000, 7)).unwrap(),
            name,
        )));
        let want = expected(&built, &batches);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.duckdb");
        let db = db.to_str().unwrap();
        let src = GeneratorSource::new(
            Generator::from_config(&cfg, name, gen_opts(8_000, 7)).unwrap(),
            name,
        );
        let s = run_into(&built, Box::new(src), db);
        assert_eq!(
            s.records_in,
            batches.iter().map(RawBatch::len).sum::<usize>() as u64,
            "{name}"
        );
        assert_tables_eq(&stored(db, &built), &want);
    }
}

#[test]
fn the_same_bounded_run_twice_leaves_identical_tables() {
    let cfg = config();
    let d = cfg.domain("ecommerce").unwrap();
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.duckdb");
    let db = db.to_str().unwrap();
    let mut snapshots = Vec::new();
    for _ in 0..2 {
        let src = GeneratorSource::new(
            Generator::from_config(&cfg, "ecommerce", gen_opts(10_000, 3)).unwrap(),
            "ecommerce",
        );
        run_into(&built, Box::new(src), db);
        snapshots.push(stored(db, &built));
    }
    assert_tables_eq(&snapshots[1], &snapshots[0]);
}

#[test]
fn a_late_event_within_lateness_replaces_the_row_with_a_higher_revision() {
    let cfg = config();
    let d = cfg.domain("ecommerce").unwrap();
    // big_carts: count of add_to_cart with amount >= 100.00, allowed_lateness 1 minute
    let built = plan::build(d, &cfg.platform.engine, &["big_carts".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let line = |t: i64, id: u32| {
        format!(
            r#"{{"event_id":"e{id}","event_type":"add_to_cart","user_id":"u1","event_time":{t},"session_id":null,"product_id":"p","quantity":1,"amount":25000,"device_type":"mobile","platform":"ios","country":"DE"}}"#
        )
    };
    // watermark delay is 10 s: the event at 75 s closes [0, 60 s); the one at
    // 30 s is then late but within the minute of lateness; 200 s moves the
    // watermark past 60 s + 1 min, so the one at 40 s is beyond lateness.
    let lines = [
        line(10_000, 1),
        line(75_000, 2),
        line(30_000, 3),
        line(200_000, 4),
        line(40_000, 5),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("s.duckdb");
    let db = db.to_str().unwrap();
    let s = run_into(
        &built,
        Box::new(FileSource::new(path.to_str().unwrap(), d.layouts()).unwrap()),
        db,
    );
    assert_eq!((s.records_in, s.late), (5, 1));
    let r = duckdb::query(db, "SELECT value, revision FROM big_carts WHERE window_start = TIMESTAMP '1970-01-01 00:00:00'").unwrap();
    assert_eq!(
        r.rows,
        vec![vec![
            QueryCell::Number("2".into()),
            QueryCell::Number("1".into())
        ]]
    );
    let r = duckdb::query(
        db,
        "SELECT kind, \"offset\", aggregation FROM _sluice_dead_letters",
    )
    .unwrap();
    assert_eq!(
        r.rows,
        vec![vec![
            QueryCell::Text("late".into()),
            QueryCell::Number("5".into()),
            QueryCell::Text("big_carts".into())
        ]]
    );
}

#[test]
fn malformed_file_records_go_to_dead_letters_with_reason_and_offset() {
    let cfg = config();
    let d = cfg.domain("ecommerce").unwrap();
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // good events as JSON lines from the generator, with malformed lines planted
    let mut g = Generator::from_config(&cfg, "ecommerce", gen_opts(5_000, 11)).unwrap();
    let mut good = Vec::new();
    g.write_to(sluice_generator::Format::Jsonl, &mut good, &mut |_| {})
        .unwrap();
    let good = String::from_utf8(good).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let n_good = lines.len();
    let bad: Vec<(usize, String, &str)> = vec![
        (
            10,
            "{\"event_type\": \"page_view\", truncated".to_string(),
            "malformed JSON",
        ),
        (
            100,
            lines[5].replacen("\"event_type\":\"", "\"event_type\":\"nope_", 1),
            "unknown event type `nope_",
        ),
        (
            1000,
            lines[7].replacen("\"device_type\":", "\"ignored\":", 1),
            "missing required field `device_type`",
        ),
        (
            2000,
            "[1, 2, 3]".to_string(),
            "expected a JSON object per line",
        ),
    ];
    for (at, text, _) in &bad {
        lines.insert(*at, text.clone());
    }
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("s.duckdb");
    let db = db.to_str().unwrap();
    let s = run_into(
        &built,
        Box::new(FileSource::new(path.to_str().unwrap(), d.layouts()).unwrap()),
        db,
    );
    assert_eq!(s.records_in, (n_good + bad.len()) as u64);
    assert_eq!(s.malformed, bad.len() as u64);
    let r = duckdb::query(db, "SELECT \"offset\", reason, payload FROM _sluice_dead_letters WHERE kind = 'malformed' ORDER BY \"offset\"").unwrap();
    assert_eq!(r.rows.len(), bad.len());
    for (row, (at, text, reason)) in r.rows.iter().zip(&bad) {
        assert_eq!(
            row[0],
            QueryCell::Number((at + 1).to_string()),
            "offset is the 1-based line number"
        );
        assert!(
            matches!(&row[1], QueryCell::Text(t) if t.contains(reason)),
            "{row:?} should say {reason}"
        );
        assert_eq!(row[2], QueryCell::Text(text.clone()), "original bytes kept");
    }
    // the good lines were aggregated exactly as the reference says
    let good_only = dir.path().join("good.jsonl");
    std::fs::write(&good_only, good).unwrap();
    let batches = drain(Box::new(
        FileSource::new(good_only.to_str().unwrap(), d.layouts()).unwrap(),
    ));
    assert_tables_eq(&stored(db, &built), &expected(&built, &batches));
}

#[test]
fn parallel_projected_json_gives_the_reference_results_and_dead_letters() {
    use sluice_connectors::source::json_parallel::ParallelJsonSource;
    let cfg = config();
    for name in ["ecommerce", "fintech"] {
        let d = cfg.domain(name).unwrap();
        let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut g = Generator::from_config(&cfg, name, gen_opts(30_000, 5)).unwrap();
        let mut good = Vec::new();
        g.write_to(sluice_generator::Format::Jsonl, &mut good, &mut |_| {})
            .unwrap();
        let good = String::from_utf8(good).unwrap();
        // split over two files so chunks and file boundaries are exercised
        let lines: Vec<&str> = good.lines().collect();
        let (a, b) = lines.split_at(lines.len() / 3);
        let mut first: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        first.insert(17, "{\"event_type\":".to_string());
        std::fs::write(dir.path().join("part-1.jsonl"), first.join("\n") + "\n").unwrap();
        std::fs::write(dir.path().join("part-2.jsonl"), b.join("\n")).unwrap();
        let files = sluice_connectors::source::file::expand(
            dir.path().join("part-*.jsonl").to_str().unwrap(),
        )
        .unwrap();
        assert_eq!(files.len(), 2);
        let projected = plan::projected(&built);
        assert!(projected
            .plan
            .layouts
            .iter()
            .zip(&built.plan.layouts)
            .any(|(p, f)| p.fields.len() < f.fields.len()));
        // small chunks; for one domain the engine's thread parses too
        let assisted = name == "ecommerce";
        let src = ParallelJsonSource::with_chunk(
            files,
            projected.plan.layouts.clone(),
            2,
            256 << 10,
            assisted,
        );
        let db = dir.path().join("s.duckdb");
        let db = db.to_str().unwrap();
        let s = run_into(&projected, Box::new(src), db);
        assert_eq!(s.records_in, lines.len() as u64 + 1, "{name}");
        assert_eq!(s.malformed, 1, "{name}");
        let r = duckdb::query(db, "SELECT \"offset\", source FROM _sluice_dead_letters").unwrap();
        assert_eq!(r.rows[0][0], QueryCell::Number("18".into()));
        assert!(matches!(&r.rows[0][1], QueryCell::Text(t) if t.ends_with("part-1.jsonl")));
        // same results as the full-record reference over the same events
        let good_only = dir.path().join("all.jsonl");
        std::fs::write(&good_only, &good).unwrap();
        let batches = drain(Box::new(
            FileSource::new(good_only.to_str().unwrap(), d.layouts()).unwrap(),
        ));
        assert_tables_eq(&stored(db, &built), &expected(&built, &batches));
    }
}

/// `n` ecommerce events of `seed` from the real generator, in `format`.
fn generated(cfg: &Config, n: u64, seed: u64, format: sluice_generator::Format) -> Vec<u8> {
    let mut g = Generator::from_config(cfg, "ecommerce", gen_opts(n, seed)).unwrap();
    assert!(g.is_union_output(), "several event types in one file");
    let mut out = Vec::new();
    g.write_to(format, &mut out, &mut |_| {}).unwrap();
    out
}

/// Reads a file source to its end: records read, dead letters.
fn read_file(
    path: &Path,
    d: &sluice_config::DomainConfig,
) -> (usize, Vec<sluice_connectors::DeadLetterRecord>) {
    use sluice_connectors::source::{Source, SourceOutput, SourceStatus};
    let mut src = FileSource::new(path.to_str().unwrap(), d.layouts()).unwrap();
    let (mut good, mut bad) = (0, Vec::new());
    loop {
        let mut out = SourceOutput::default();
        let st = src.next_batch(1000, &mut out).unwrap();
        assert!(out.rejects.len() <= 1000, "batches stay bounded");
        good += out.batch.len();
        bad.append(&mut out.rejects);
        if st == SourceStatus::End {
            return (good, bad);
        }
    }
}

#[test]
fn a_multi_type_container_file_gives_the_results_of_the_same_events_as_json_lines() {
    let cfg = config();
    let d = cfg.domain("ecommerce").unwrap();
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ocf = dir.path().join("e.avro");
    let jsonl = dir.path().join("e.jsonl");
    std::fs::write(
        &ocf,
        generated(&cfg, 6_000, 9, sluice_generator::Format::AvroOcf),
    )
    .unwrap();
    std::fs::write(
        &jsonl,
        generated(&cfg, 6_000, 9, sluice_generator::Format::Jsonl),
    )
    .unwrap();
    let mut summaries = Vec::new();
    let mut tables = Vec::new();
    for (i, p) in [&ocf, &jsonl].into_iter().enumerate() {
        let db = dir.path().join(format!("{i}.duckdb"));
        let db = db.to_str().unwrap();
        let src = FileSource::new(p.to_str().unwrap(), d.layouts()).unwrap();
        let s = run_into(&built, Box::new(src), db);
        summaries.push((s.records_in, s.malformed, s.late, s.results, s.rows_written));
        tables.push(stored(db, &built));
    }
    assert_eq!(summaries[0], summaries[1], "container file vs JSON lines");
    assert_eq!(summaries[0].0, 6_000);
    assert_eq!(summaries[0].1, 0);
    assert_tables_eq(&tables[0], &tables[1]);
    let batches = drain(Box::new(
        FileSource::new(jsonl.to_str().unwrap(), d.layouts()).unwrap(),
    ));
    assert_tables_eq(&tables[0], &expected(&built, &batches));
}

#[test]
fn a_corrupt_container_block_is_counted_record_by_record_and_reading_resumes() {
    use sluice_formats::ocf::read as avro;
    let cfg = config();
    let d = cfg.domain("ecommerce").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clean = generated(&cfg, 5_000, 11, sluice_generator::Format::AvroOcf);
    // the blocks: (start, record count, end)
    let h = avro::read_header(&clean).unwrap();
    let mut blocks = Vec::new();
    let mut at = h.len;
    while let Some((count, _, next)) = avro::read_block(&clean, at, &h.sync).unwrap() {
        blocks.push((at, count as usize, next));
        at = next;
    }
    assert!(blocks.len() >= 3, "{blocks:?}");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    assert_eq!(read_file(&write("clean.avro", &clean), d), (5_000, vec![]));

    // 64 bytes overwritten in the middle of the file
    let mut bytes = clean.clone();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 64].fill(0xFF);
    let (read, lost) = read_file(&write("middle.avro", &bytes), d);
    let hit = blocks.iter().find(|b| b.0 <= mid && mid < b.2).unwrap();
    assert_eq!(
        lost.len(),
        hit.1,
        "one dead letter per record of the damaged block"
    );
    assert_eq!(read + lost.len(), 5_000);
    assert!(
        lost.iter()
            .all(|r| r.reason.contains("corrupt")
                && r.reason.contains(&format!("{} records", hit.1))),
        "{:?}",
        lost[0]
    );
    // the dead letters carry the lost records' indexes
    let first = blocks
        .iter()
        .take_while(|b| b.0 < hit.0)
        .map(|b| b.1)
        .sum::<usize>() as i64;
    let offsets: Vec<i64> = lost.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (first..first + hit.1 as i64).collect::<Vec<_>>());

    // the same file through the pipeline: every record is accounted for
    let built = plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let db = dir.path().join("m.duckdb");
    let src = FileSource::new(
        dir.path().join("middle.avro").to_str().unwrap(),
        d.layouts(),
    )
    .unwrap();
    let s = run_into(&built, Box::new(src), db.to_str().unwrap());
    assert_eq!((s.records_in, s.malformed), (5_000, hit.1 as u64));

    // a damaged sync marker: that block is lost, the next ones are read
    let mut bytes = clean.clone();
    let end = blocks[0].2;
    bytes[end - 16..end].fill(0);
    let (read, lost) = read_file(&write("sync.avro", &bytes), d);
    assert_eq!((read, lost.len()), (5_000 - blocks[0].1, blocks[0].1));

    // a damaged block header: the count is unknown, one dead letter says
    // so, and reading resumes after the next sync marker
    let mut bytes = clean.clone();
    bytes[blocks[1].0..blocks[1].0 + 4].fill(0xFF);
    let (read, lost) = read_file(&write("header.avro", &bytes), d);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(
        lost[0].reason.contains("record count unknown"),
        "{}",
        lost[0].reason
    );
    assert_eq!(read, 5_000 - blocks[1].1);

    // a file of one event type (no union) loses a damaged block the same way
    let opts = GeneratorOptions {
        only_event_type: Some("page_view".into()),
        ..gen_opts(5_000, 11)
    };
    let mut g = Generator::from_config(&cfg, "ecommerce", opts).unwrap();
    let mut one = Vec::new();
    g.write_to(sluice_generator::Format::AvroOcf, &mut one, &mut |_| {})
        .unwrap();
    let (all, none) = read_file(&write("one.avro", &one), d);
    assert!(none.is_empty() && all > 1_000, "{all} {none:?}");
    let mid = one.len() / 2;
    one[mid..mid + 64].fill(0xFF);
    let (read, lost) = read_file(&write("one-bad.avro", &one), d);
    assert!(!lost.is_empty());
    assert_eq!(read + lost.len(), all);
    assert!(lost
        .iter()
        .all(|r| r.event_type.as_deref() == Some("page_view")));

    // a file cut in the middle of its last block
    let cut = &clean[..blocks[blocks.len() - 1].0 + 100];
    let (read, lost) = read_file(&write("cut.avro", cut), d);
    let last = blocks[blocks.len() - 1].1;
    assert_eq!((read, lost.len()), (5_000 - last, last));
}

#[test]
fn a_real_time_generator_source_hands_out_small_batches_and_stops_promptly() {
    let cfg = config();
    let opts = GeneratorOptions {
        seed: 2,
        time: sluice_generator::TimeMode::RealTime,
        rate: Some(200.0),
        ..GeneratorOptions::default()
    };
    let g = Generator::from_config(&cfg, "ecommerce", opts).unwrap();
    let mut src = GeneratorSource::new(g, "ecommerce").with_max_batch(20);
    let started = std::time::Instant::now();
    let mut out = sluice_connectors::SourceOutput::default();
    let mut total = 0;
    for _ in 0..3 {
        sluice_connectors::Source::next_batch(&mut src, 8192, &mut out).unwrap();
        assert!(
            out.batch.len() <= 21,
            "batch of {} records (cap 20, duplicates aside)",
            out.batch.len()
        );
        total += out.batch.len();
    }
    // 60 events at 200/s of wall clock: about 0.3 s, never the minutes a full batch would take
    let secs = started.elapsed().as_secs_f64();
    assert!(total >= 60 && secs < 5.0, "{total} records in {secs:.2}s");
}
