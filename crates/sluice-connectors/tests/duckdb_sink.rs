//! The DuckDB sink against a real DuckDB database file.

use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::{
    Cell, Column, DeadLetterKind, DeadLetterRecord, ResultRow, Sink, SqlType, TableSpec,
};
use sluice_core::AggregateKind;

fn spec(name: &str, session: bool) -> TableSpec {
    TableSpec {
        name: name.into(),
        aggregation: name.into(),
        kind: AggregateKind::Count,
        session,
        dims: vec![Column {
            name: "device_type".into(),
            ty: SqlType::Text,
            comment: None,
        }],
        values: vec![Column {
            name: "value".into(),
            ty: SqlType::BigInt,
            comment: Some("events".into()),
        }],
    }
}

fn row(start: i64, end: i64, dim: Option<&str>, v: i64, rev: u32) -> ResultRow {
    ResultRow {
        table: 0,
        window_start: start,
        window_end: end,
        dims: vec![dim.map(|d| Cell::Text(d.into())).unwrap_or(Cell::Null)],
        values: vec![Cell::Int(v)],
        revision: rev,
        provisional: false,
        emitted_at: 1_700_000_000_000,
        events: 1,
        shard: String::new(),
        state: None,
    }
}

fn rows(sink: &DuckDbSink, sql: &str) -> Vec<(String, i64, i32)> {
    let mut st = sink.connection().prepare(sql).unwrap();
    st.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?
                .unwrap_or_else(|| "NULL".into()),
            r.get(1)?,
            r.get(2)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn upserts_are_idempotent_and_revisions_replace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/sluice.duckdb");
    let path = path.to_str().unwrap();
    let batch = vec![
        row(0, 60_000, Some("mobile"), 3, 0),
        row(0, 60_000, None, 1, 0),
        row(60_000, 120_000, Some("mobile"), 2, 0),
    ];
    for _ in 0..2 {
        let mut s = DuckDbSink::open(path).unwrap();
        s.prepare(&[spec("views", false)]).unwrap();
        s.write(&batch, &[]).unwrap();
        s.close().unwrap();
    }
    let mut s = DuckDbSink::open(path).unwrap();
    s.prepare(&[spec("views", false)]).unwrap();
    let q = "SELECT device_type, value, revision FROM views ORDER BY window_start, device_type NULLS FIRST";
    assert_eq!(
        rows(&s, q),
        vec![
            ("NULL".into(), 1, 0),
            ("mobile".into(), 3, 0),
            ("mobile".into(), 2, 0)
        ]
    );
    // a late revision replaces the row; an older revision arriving later does not
    s.write(&[row(0, 60_000, Some("mobile"), 4, 1)], &[])
        .unwrap();
    s.write(&[row(0, 60_000, Some("mobile"), 3, 0)], &[])
        .unwrap();
    assert_eq!(rows(&s, q)[1], ("mobile".into(), 4, 1));
    // two emissions of one window in one batch: the last wins
    s.write(
        &[
            row(60_000, 120_000, Some("mobile"), 5, 1),
            row(60_000, 120_000, Some("mobile"), 6, 2),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(rows(&s, q)[2], ("mobile".into(), 6, 2));
    let n: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM views", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn an_empty_table_takes_rows_directly_then_upserts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.duckdb");
    let mut s = DuckDbSink::open(path.to_str().unwrap()).unwrap();
    s.prepare(&[spec("views", false)]).unwrap();
    // first write into the empty table: one emission per key survives
    s.write(
        &[
            row(0, 60_000, Some("mobile"), 1, 0),
            row(0, 60_000, Some("mobile"), 2, 1),
            row(0, 60_000, Some("web"), 7, 0),
        ],
        &[],
    )
    .unwrap();
    let q = "SELECT device_type, value, revision FROM views ORDER BY device_type";
    assert_eq!(
        rows(&s, q),
        vec![("mobile".into(), 2, 1), ("web".into(), 7, 0)]
    );
    // the same keys again in the same run: upserted (an older revision
    // loses), not a key violation
    s.write(
        &[
            row(0, 60_000, Some("mobile"), 3, 0),
            row(0, 60_000, Some("web"), 8, 1),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        rows(&s, q),
        vec![("mobile".into(), 2, 1), ("web".into(), 8, 1)]
    );
}

#[test]
fn grown_sessions_supersede_overlapping_rows() {
    let mut s = DuckDbSink::open(":memory:").unwrap();
    s.prepare(&[spec("sessions", true)]).unwrap();
    s.write(
        &[
            row(0, 10_000, Some("u1"), 2, 0),
            row(50_000, 60_000, Some("u1"), 1, 0),
        ],
        &[],
    )
    .unwrap();
    // a late event bridges into [0, 30000): supersedes [0, 10000) only
    s.write(&[row(0, 30_000, Some("u1"), 3, 1)], &[]).unwrap();
    let got = rows(
        &s,
        "SELECT device_type, value, revision FROM sessions ORDER BY window_start",
    );
    assert_eq!(got, vec![("u1".into(), 3, 1), ("u1".into(), 1, 0)]);
}

#[test]
fn dead_letters_are_stored_once_with_their_bytes() {
    let mut s = DuckDbSink::open(":memory:").unwrap();
    s.prepare(&[spec("views", false)]).unwrap();
    let d = DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason: "malformed JSON".into(),
        source: "in.jsonl".into(),
        partition: 0,
        offset: 7,
        event_type: None,
        aggregation: None,
        event_time: None,
        payload: b"{oops".to_vec(),
        key: None,
        timestamp: None,
    };
    s.write(&[], std::slice::from_ref(&d)).unwrap();
    s.write(&[], &[d]).unwrap();
    let (n, payload): (i64, Vec<u8>) = s
        .connection()
        .query_row(
            "SELECT count(*), any_value(payload) FROM _sluice_dead_letters",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, payload), (1, b"{oops".to_vec()));
}

#[test]
fn a_table_with_other_columns_is_a_clear_error() {
    let mut s = DuckDbSink::open(":memory:").unwrap();
    s.connection()
        .execute_batch("CREATE TABLE views (a INTEGER)")
        .unwrap();
    let e = s.prepare(&[spec("views", false)]).unwrap_err().to_string();
    assert!(e.contains("table `views` exists with columns [a]"), "{e}");
}

fn letter(offset: i64, aggregation: Option<&str>, reason: &str) -> DeadLetterRecord {
    DeadLetterRecord {
        kind: if aggregation.is_some() {
            DeadLetterKind::Late
        } else {
            DeadLetterKind::Malformed
        },
        reason: reason.into(),
        source: "events.jsonl".into(),
        partition: u32::try_from(offset % 3).unwrap(),
        offset,
        event_type: Some("page_view".into()),
        aggregation: aggregation.map(str::to_string),
        event_time: aggregation.map(|_| offset * 1000),
        payload: format!("{{\"n\": {offset}").into_bytes(),
        key: None,
        timestamp: None,
    }
}

/// 24 000 dead letters in one flush (the README's malformed share over 2 M
/// events makes 20 000), then a flush overlapping half of them: every key
/// stored once, the first writer's row kept, nothing else touched.
#[test]
fn many_dead_letters_in_one_flush_are_stored_once_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead.duckdb");
    let path = path.to_str().unwrap();
    let n: i64 = 12_000;
    // per offset a malformed letter and a late one (another key: the
    // aggregation differs); within the batch a repeat of every 10th offset
    // with another reason, which must not replace the first
    let mut first: Vec<DeadLetterRecord> = Vec::new();
    for o in 0..n {
        first.push(letter(o, None, "first"));
        first.push(letter(o, Some("views_per_minute"), "first"));
    }
    first.extend((0..n).step_by(10).map(|o| letter(o, None, "repeat")));
    let second: Vec<DeadLetterRecord> = (n / 2..n + n / 2)
        .map(|o| letter(o, None, "second"))
        .collect();
    {
        let mut s = DuckDbSink::open(path).unwrap();
        s.prepare(&[spec("views", false)]).unwrap();
        s.write(&[], &first).unwrap();
        s.close().unwrap();
    }
    // a new process (connection) writing the overlapping batch
    let mut s = DuckDbSink::open(path).unwrap();
    s.prepare(&[spec("views", false)]).unwrap();
    s.write(&[], &second).unwrap();
    s.close().unwrap();
    let count = |sql: &str| -> i64 { s.connection().query_row(sql, [], |r| r.get(0)).unwrap() };
    let total = count("SELECT count(*) FROM _sluice_dead_letters");
    assert_eq!(total, 2 * n + n / 2, "rows stored");
    let keys = count(
        "SELECT count(*) FROM (SELECT DISTINCT source, partition, \"offset\", kind, aggregation FROM _sluice_dead_letters)",
    );
    assert_eq!(keys, total, "a key is stored twice");
    assert_eq!(
        count("SELECT count(*) FROM _sluice_dead_letters WHERE reason = 'repeat'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM _sluice_dead_letters WHERE reason = 'second'"),
        n / 2
    );
    assert_eq!(
        count("SELECT count(*) FROM _sluice_dead_letters WHERE kind = 'late' AND aggregation = 'views_per_minute' AND event_time = epoch_ms(\"offset\" * 1000)"),
        n
    );
    assert_eq!(
        count("SELECT count(*) FROM _sluice_dead_letters WHERE payload = encode('{\"n\": ' || \"offset\")"),
        total
    );
    // the stage is temporary: not stored in the file
    assert_eq!(
        count("SELECT count(*) FROM information_schema.tables WHERE table_name = '_sluice_dead_letter_stage' AND table_catalog <> 'temp'"),
        0
    );
}

#[test]
fn staging_never_reaches_the_file() {
    // two runs into one file (the second upserts through its stage), plus a
    // stage table a run of an older version left behind: afterwards the
    // file holds the result, dead-letter and progress tables only
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.duckdb");
    let path = path.to_str().unwrap();
    {
        let conn = duckdb::Connection::open(path).unwrap();
        conn.execute_batch("CREATE TABLE _sluice_stage_views (x INTEGER)")
            .unwrap();
    }
    for (value, rev) in [(1, 0), (2, 1)] {
        let mut s = DuckDbSink::open(path).unwrap();
        s.prepare(&[spec("views", false), spec("sessions", true)])
            .unwrap();
        s.write(&[row(0, 60_000, Some("web"), value, rev)], &[])
            .unwrap();
        s.close().unwrap();
    }
    let conn = duckdb::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT table_name FROM information_schema.tables ORDER BY 1")
        .unwrap();
    let names: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        names,
        [
            "_sluice_dead_letters",
            "_sluice_progress",
            "sessions",
            "views"
        ]
    );
    let v: i64 = conn
        .query_row("SELECT value FROM views", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 2, "the second run upserted through its stage");
}
