//! The built-in sinks: the embedded DuckDB file (answering live queries
//! while it runs), ClickHouse (exactly-once, partial rows merged per source
//! partition) and JSON lines.

use sluice_connectors::sink::clickhouse::{ClickHouseSettings, ClickHouseSink, ClickHouseStore};
use sluice_connectors::sink::duckdb::{DuckDbSink, DuckDbStore};
use sluice_connectors::sink::jsonl::JsonlSink;
use sluice_connectors::{Sink, Store};

use super::{Context, SinkFactory};
use crate::RuntimeError;

/// `duckdb`: the embedded store (`--db`, else `sinks.duckdb.path`).
#[derive(Debug)]
pub struct DuckDb;

fn duckdb_path(cx: &Context<'_>) -> String {
    cx.spec
        .duckdb_path
        .clone()
        .unwrap_or_else(|| cx.cfg.platform.sinks.duckdb.path.clone())
}

impl SinkFactory for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, RuntimeError>> {
        Some(Ok(Box::new(DuckDbStore {
            path: duckdb_path(cx),
        })))
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), RuntimeError> {
        let path = duckdb_path(cx);
        let mut sink = DuckDbSink::open(&path).map_err(RuntimeError::Sink)?;
        if path != ":memory:" {
            // `sluice query` / `sluice tables` from another shell are
            // answered by this run while it holds the file's lock
            match sink.serve_queries() {
                Ok(socket) => {
                    tracing::info!(socket = %socket.display(), "answering live queries")
                }
                Err(e) => tracing::warn!(error = %e, "live queries unavailable"),
            }
        }
        Ok((Box::new(sink), format!("duckdb {path}")))
    }
}

/// `jsonl`: one JSON object per result row (`--out`, else
/// `sinks.jsonl.path`; `-` is stdout).
#[derive(Debug)]
pub struct Jsonl;

impl SinkFactory for Jsonl {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), RuntimeError> {
        let path = cx
            .spec
            .jsonl_path
            .clone()
            .unwrap_or_else(|| cx.cfg.platform.sinks.jsonl.path.clone());
        let sink = JsonlSink::open(&path).map_err(RuntimeError::Sink)?;
        Ok((Box::new(sink), format!("jsonl {path}")))
    }
}

/// `sinks.clickhouse` with secrets resolved.
fn settings(cx: &Context<'_>) -> Result<ClickHouseSettings, RuntimeError> {
    let secrets = (cx.secrets)()?;
    ClickHouseSettings::from_config(&cx.cfg.platform.sinks.clickhouse, &secrets)
        .map_err(RuntimeError::Sink)
}

/// `clickhouse`: `sinks.clickhouse`, secrets resolved.
#[derive(Debug)]
pub struct ClickHouse;

impl SinkFactory for ClickHouse {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn merges_partials(&self) -> bool {
        true
    }

    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, RuntimeError>> {
        Some(settings(cx).and_then(|s| {
            Ok(Box::new(ClickHouseStore::new(&s).map_err(RuntimeError::Sink)?) as Box<dyn Store>)
        }))
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), RuntimeError> {
        let settings = settings(cx)?;
        let desc = format!(
            "clickhouse {} database {}",
            settings.display_url(),
            settings.database
        );
        let sink = ClickHouseSink::connect(settings).map_err(|cause| RuntimeError::Connect {
            what: "ClickHouse",
            hint: "`scripts/services.sh start clickhouse`",
            cause,
        })?;
        Ok((Box::new(sink), desc))
    }
}
