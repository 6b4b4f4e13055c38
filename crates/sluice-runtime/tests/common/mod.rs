//! Shared helpers of the runtime's integration tests: expected tables from
//! the engine's reference model, stored tables read back from DuckDB.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sluice_connectors::sink::duckdb::{self, QueryCell};
use sluice_connectors::{Cell, Source};
use sluice_engine::reference::{run_reference, Op};
use sluice_engine::RawBatch;
use sluice_formats::time::format_utc;
use std::sync::Arc;

use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_runtime::pipeline::{self, PipelineOptions, RunSummary, Stats};
use sluice_runtime::plan::BuiltPlan;

pub fn drain(mut s: Box<dyn Source>) -> Vec<RawBatch> {
    sluice_connectors::source::read_all(s.as_mut(), 4096).unwrap()
}

/// A comparable cell: floats within 1e-9 relative.
#[derive(Debug, Clone)]
pub enum V {
    T(String),
    F(f64),
}

impl PartialEq for V {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (V::T(a), V::T(b)) => a == b,
            (V::F(a), V::F(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            (V::F(a), V::T(b)) | (V::T(b), V::F(a)) => b
                .parse::<f64>()
                .is_ok_and(|b| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)),
        }
    }
}

pub fn cell_v(c: &Cell) -> V {
    match c {
        Cell::Null => V::T("NULL".into()),
        Cell::Float(f) => V::F(*f),
        Cell::Timestamp(t) => V::T(format_utc(*t)),
        other => V::T(other.canonical()),
    }
}

/// Expected final table contents: the highest revision per window and group
/// (sessions: a later revision supersedes overlapping windows of the group).
pub fn expected(built: &BuiltPlan, batches: &[RawBatch]) -> BTreeMap<String, Vec<Vec<V>>> {
    expected_with(built, batches, true)
}

/// [`expected`], with or without the revision column (ClickHouse's merged
/// view reports the largest revision of any shard, not the reference's).
pub fn expected_with(
    built: &BuiltPlan,
    batches: &[RawBatch],
    revision: bool,
) -> BTreeMap<String, Vec<Vec<V>>> {
    let ops: Vec<Op> = batches.iter().cloned().map(Op::Batch).collect();
    let out = run_reference(&built.plan, &ops).unwrap();
    let mut tables: BTreeMap<String, Vec<Vec<V>>> = BTreeMap::new();
    for (ti, t) in built.tables.iter().enumerate() {
        let mut best: Vec<sluice_connectors::ResultRow> = Vec::new();
        for r in out
            .results
            .iter()
            .filter(|r| r.aggregation == ti && !r.provisional)
        {
            let row = sluice_runtime::convert::row(&built.tables, r, 0);
            best.retain(|b| {
                let same_key = b.dims == row.dims;
                let same_window =
                    b.window_start == row.window_start && b.window_end == row.window_end;
                let overlaps = b.window_start < row.window_end && row.window_start < b.window_end;
                !(same_key
                    && (same_window || (t.session && overlaps && b.revision <= row.revision)))
            });
            best.push(row);
        }
        let mut rows: Vec<Vec<V>> = best
            .iter()
            .map(|r| {
                let mut v = vec![
                    V::T(format_utc(r.window_start)),
                    V::T(format_utc(r.window_end)),
                ];
                v.extend(r.dims.iter().map(cell_v));
                v.extend(r.values.iter().map(cell_v));
                if revision {
                    v.push(V::T(r.revision.to_string()));
                }
                v
            })
            .collect();
        rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        tables.insert(t.name.clone(), rows);
    }
    tables
}

pub fn stored(db: &str, built: &BuiltPlan) -> BTreeMap<String, Vec<Vec<V>>> {
    let mut tables = BTreeMap::new();
    for t in &built.tables {
        let r = duckdb::query(
            db,
            &format!(
                "SELECT * EXCLUDE (provisional, emitted_at, group_key) FROM {}",
                t.name
            ),
        )
        .unwrap();
        let mut rows: Vec<Vec<V>> = r
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| match c {
                        QueryCell::Null => V::T("NULL".into()),
                        QueryCell::Number(s) => s
                            .parse::<i128>()
                            .map(|_| V::T(s.clone()))
                            .unwrap_or_else(|_| V::F(s.parse().unwrap())),
                        QueryCell::Bool(b) => V::T(b.to_string()),
                        QueryCell::Text(s) => V::T(s.clone()),
                    })
                    .collect()
            })
            .collect();
        rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        tables.insert(t.name.clone(), rows);
    }
    tables
}

pub fn run_into(built: &BuiltPlan, source: Box<dyn Source>, db: &str) -> RunSummary {
    let sink = Box::new(DuckDbSink::open(db).unwrap());
    let opts = PipelineOptions {
        batch_size: 3000,
        ..PipelineOptions::default()
    };
    pipeline::run(
        built.clone(),
        source,
        sink,
        opts,
        Arc::new(Stats::default()),
    )
    .unwrap()
}

pub fn assert_tables_eq(got: &BTreeMap<String, Vec<Vec<V>>>, want: &BTreeMap<String, Vec<Vec<V>>>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (name, rows) in want {
        let g = &got[name];
        assert!(
            !rows.is_empty(),
            "table {name}: the reference produced no rows; the test would prove nothing"
        );
        assert_eq!(
            g.len(),
            rows.len(),
            "table {name}: {} rows stored, {} expected",
            g.len(),
            rows.len()
        );
        let extra: Vec<_> = g.iter().filter(|r| !rows.contains(r)).take(5).collect();
        let missing: Vec<_> = rows.iter().filter(|r| !g.contains(r)).take(5).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "table {name}: stored rows not expected {extra:?}; expected rows not stored {missing:?}"
        );
        for (a, b) in g.iter().zip(rows) {
            assert_eq!(a, b, "table {name}");
        }
    }
}

/// The final views of a ClickHouse database, in the shape of
/// [`expected_with`] without revisions.
pub fn stored_clickhouse(
    client: &sluice_connectors::sink::clickhouse::Client,
    database: &str,
    built: &BuiltPlan,
) -> BTreeMap<String, Vec<Vec<V>>> {
    use sluice_connectors::SqlType;
    let mut tables = BTreeMap::new();
    for t in &built.tables {
        let mut cols = vec!["window_start_ms".to_string(), "window_end_ms".to_string()];
        cols.extend(t.dims.iter().map(|d| format!("`{}`", d.name)));
        cols.extend(t.values.iter().map(|v| format!("`{}`", v.name)));
        let q = format!(
            "SELECT {} FROM `{database}`.`{}` FORMAT JSONCompact",
            cols.join(", "),
            t.name
        );
        let answer: serde_json::Value = serde_json::from_str(&client.query(&q).unwrap()).unwrap();
        let types: Vec<Option<SqlType>> = [None, None]
            .into_iter()
            .chain(t.dims.iter().map(|d| Some(d.ty)))
            .chain(t.values.iter().map(|v| Some(v.ty)))
            .collect();
        let mut rows: Vec<Vec<V>> = answer["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .zip(&types)
                    .map(|(c, ty)| {
                        let text = match c {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => "NULL".into(),
                            other => other.to_string(),
                        };
                        match ty {
                            _ if text == "NULL" => V::T(text),
                            None => V::T(format_utc(text.parse::<i64>().unwrap())),
                            Some(SqlType::Double) => V::F(text.parse().unwrap()),
                            Some(SqlType::Boolean) => V::T((text == "1").to_string()),
                            Some(SqlType::Timestamp) => V::T(text),
                            Some(_) => V::T(text),
                        }
                    })
                    .collect()
            })
            .collect();
        rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        tables.insert(t.name.clone(), rows);
    }
    tables
}

/// A ClickHouse client for the local test server and a fresh database
/// name, or `None` (skip) when the server is down and services are not
/// required.
pub fn clickhouse(
    tag: &str,
) -> Option<(
    sluice_connectors::sink::clickhouse::ClickHouseSettings,
    sluice_connectors::sink::clickhouse::Client,
)> {
    use sluice_connectors::sink::clickhouse::{ClickHouseSettings, Client};
    let url =
        std::env::var("SLUICE_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let settings = ClickHouseSettings::new(&url, &format!("t{stamp}_{tag}"));
    let client = Client::new(&settings).unwrap();
    if !client.ping() {
        if std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some() {
            panic!("SLUICE_REQUIRE_SERVICES is set but ClickHouse is not answering at {url}");
        }
        eprintln!("skipping: ClickHouse not running (scripts/services.sh start clickhouse)");
        return None;
    }
    Some((settings, client))
}

/// The shipped configuration, `dev` environment, no environment variables.
pub fn shipped_config() -> sluice_config::Config {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut o = sluice_config::LoadOptions::new(dir, "dev");
    o.vars.clear();
    sluice_config::load(&o).unwrap()
}

/// Kafka settings with fresh topics named `<prefix><stamp><tag>.…`, or
/// `None` (skip) when the broker or the registry is down and services are
/// not required.
pub fn kafka_settings(
    cfg: &sluice_config::Config,
    prefix: &str,
    tag: &str,
) -> Option<sluice_kafka::KafkaSettings> {
    use std::net::{TcpStream, ToSocketAddrs};
    let mut s = sluice_kafka::KafkaSettings::from_config(
        &cfg.platform.kafka,
        &sluice_secrets::ResolvedSecrets::default(),
    )
    .unwrap();
    let up = s
        .bootstrap_servers
        .split(',')
        .filter_map(|a| a.trim().to_socket_addrs().ok()?.next())
        .any(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok());
    let registry = sluice_kafka::registry::RegistryClient::new(&s.registry)
        .and_then(|c| c.subjects())
        .is_ok();
    if !(up && registry) {
        if std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some() {
            panic!("SLUICE_REQUIRE_SERVICES is set but kafka (up: {up}) or the registry (up: {registry}) is not running");
        }
        eprintln!("skipping: kafka or schema registry not running (scripts/services.sh start kafka registry)");
        return None;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    s.topic_template = format!("{prefix}{stamp}{tag}.{{domain}}.{{event_type}}");
    s.dlq_topic_template = format!("{prefix}{stamp}{tag}.{{domain}}.dlq");
    Some(s)
}

/// One pipeline instance as `sluice run --source kafka --sink clickhouse`
/// wires it: a member of consumer group `group` (ending at the end of the
/// topics when `bounded`), sharded, committing safe offsets after every
/// durable write; `opts` supplies the other knobs.
#[allow(clippy::too_many_arguments)]
pub fn kafka_to_clickhouse(
    cfg: &sluice_config::Config,
    s: &sluice_kafka::KafkaSettings,
    ch: &sluice_connectors::sink::clickhouse::ClickHouseSettings,
    domain: &str,
    group: &str,
    bounded: bool,
    built: BuiltPlan,
    opts: PipelineOptions,
    stats: Arc<Stats>,
) -> Result<RunSummary, sluice_runtime::RuntimeError> {
    let sink = sluice_connectors::sink::clickhouse::ClickHouseSink::connect(ch.clone()).unwrap();
    let opts = PipelineOptions {
        sharded: true,
        ..opts
    };
    kafka_into(
        cfg,
        s,
        Box::new(sink),
        domain,
        group,
        bounded,
        built,
        opts,
        stats,
    )
}

/// One Kafka pipeline instance into `sink` as `sluice run --source kafka`
/// wires it: a member of consumer group `group` (ending at the end of the
/// topics when `bounded`), committing once results are durable, with
/// checkpoints of open windows every `engine.checkpoint_interval` when the
/// sink keeps them; `opts` supplies the other knobs (`sharded` included).
#[allow(clippy::too_many_arguments)]
pub fn kafka_into(
    cfg: &sluice_config::Config,
    s: &sluice_kafka::KafkaSettings,
    sink: Box<dyn sluice_connectors::Sink>,
    domain: &str,
    group: &str,
    bounded: bool,
    built: BuiltPlan,
    opts: PipelineOptions,
    stats: Arc<Stats>,
) -> Result<RunSummary, sluice_runtime::RuntimeError> {
    use sluice_kafka::source::{KafkaSource, SourceOptions};
    let src = KafkaSource::from_config(
        cfg,
        s,
        domain,
        SourceOptions {
            group_id: Some(group.to_string()),
            stop_at_end: bounded,
            ..SourceOptions::default()
        },
    )
    .unwrap();
    let committer = src.committer();
    let commit = committer.clone().into_hook();
    let interval = cfg.platform.engine.checkpoint_interval.0;
    let checkpoints = (!interval.is_zero())
        .then(|| sink.checkpoint_store())
        .flatten()
        .map(|mut store| {
            store.prepare().unwrap();
            sluice_runtime::pipeline::Checkpointing {
                interval,
                store: Arc::new(std::sync::Mutex::new(store)),
                committed: committer.committed_hook(),
            }
        });
    let opts = PipelineOptions {
        on_durable: opts.on_durable.or(Some(commit.clone())),
        on_durable_end: Some(commit),
        checkpoints,
        ..opts
    };
    pipeline::run(built, Box::new(src), sink, opts, stats)
}

/// A dead-letter hook writing to `dlq` and waiting for delivery, as
/// `sluice run` wires it.
pub fn dlq_hook(mut dlq: sluice_kafka::DlqWriter) -> sluice_runtime::pipeline::DeadLetterHook {
    Arc::new(std::sync::Mutex::new(
        move |dead: &[sluice_connectors::DeadLetterRecord]| {
            dlq.write_all(dead, &[]).map_err(|e| e.to_string())?;
            dlq.flush(std::time::Duration::from_secs(30))
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    ))
}
