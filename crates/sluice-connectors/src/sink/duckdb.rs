//! The `duckdb` sink, the embedded default: one table per aggregation in a
//! database file, rows upserted by `(window_start, window_end, group_key)`
//! so re-runs do not duplicate and a higher revision replaces a lower one;
//! dead letters in `_sluice_dead_letters`, staged and inserted in bulk (the
//! first of a key is kept). Each `write` is one transaction.

use duckdb::types::{TimeUnit, Value};
use duckdb::{appender_params_from_iter, Connection};

use super::{last_per_key, Sink};
use crate::table::{Cell, SqlType, FIXED_COLUMNS};
use crate::{
    BuildError, ConnectorError, Context, DeadLetterRecord, ResultRow, SinkFactory, Store, TableSpec,
};

/// `duckdb`: the embedded store (`--db`, else `sinks.duckdb.path`),
/// answering live queries while a run writes it.
#[derive(Debug)]
pub struct DuckDbFactory;

fn duckdb_path(cx: &Context<'_>) -> String {
    cx.spec
        .duckdb_path
        .clone()
        .unwrap_or_else(|| cx.cfg.platform.sinks.duckdb.path.clone())
}

impl SinkFactory for DuckDbFactory {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, BuildError>> {
        Some(Ok(Box::new(DuckDbStore {
            path: duckdb_path(cx),
        })))
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), BuildError> {
        let path = duckdb_path(cx);
        let mut sink = DuckDbSink::open(&path).map_err(BuildError::Sink)?;
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

/// Table holding dead letters.
pub const DEAD_LETTER_TABLE: &str = "_sluice_dead_letters";

/// One row per result table: how many writes touched it, its row count
/// after the last and when (written in the same transaction as the rows, so
/// a reader sees counts that match the tables).
pub const PROGRESS_TABLE: &str = "_sluice_progress";

/// Per-connection temporary table the dead letters of one write are
/// appended to before one set-based insert into [`DEAD_LETTER_TABLE`]
/// (temporary: never in the file, cannot clash with a result table).
const DEAD_LETTER_STAGE: &str = "_sluice_dead_letter_stage";

/// The columns a dead letter is written with (`recorded_at` takes its default).
const DEAD_LETTER_COLUMNS: &str =
    "kind, reason, source, partition, \"offset\", event_type, aggregation, event_time, payload";

/// Appends `dead` to the stage, then moves the ones whose key
/// `(source, partition, offset, kind, aggregation)` is not stored yet into
/// [`DEAD_LETTER_TABLE`] with one statement: the first of a key wins, within
/// the batch and against earlier writes, as a row-by-row
/// `INSERT … ON CONFLICT DO NOTHING` would, but in time linear in the batch.
fn write_dead_letters(
    tx: &duckdb::Transaction<'_>,
    dead: &[DeadLetterRecord],
) -> Result<(), ConnectorError> {
    tx.execute_batch(&format!("DELETE FROM temp.main.{DEAD_LETTER_STAGE}"))
        .map_err(db)?;
    {
        let mut app = tx
            .appender_to_catalog_and_db(DEAD_LETTER_STAGE, "temp", "main")
            .map_err(db)?;
        for (seq, d) in dead.iter().enumerate() {
            app.append_row(appender_params_from_iter([
                Value::BigInt(i64::try_from(seq).unwrap_or(i64::MAX)),
                Value::Text(d.kind.as_str().into()),
                Value::Text(d.reason.clone()),
                Value::Text(d.source.clone()),
                Value::Int(i32::try_from(d.partition).unwrap_or(i32::MAX)),
                Value::BigInt(d.offset),
                d.event_type.clone().map(Value::Text).unwrap_or(Value::Null),
                Value::Text(d.aggregation.clone().unwrap_or_default()),
                d.event_time
                    .map(|t| Value::Timestamp(TimeUnit::Millisecond, t))
                    .unwrap_or(Value::Null),
                Value::Blob(d.payload.clone()),
            ]))
            .map_err(db)?;
        }
        app.flush().map_err(db)?;
    }
    tx.execute_batch(&format!(
        "INSERT INTO {DEAD_LETTER_TABLE} ({DEAD_LETTER_COLUMNS}) \
         SELECT {DEAD_LETTER_COLUMNS} FROM temp.main.{DEAD_LETTER_STAGE} \
         QUALIFY row_number() OVER (PARTITION BY source, partition, \"offset\", kind, aggregation ORDER BY seq) = 1 \
         ON CONFLICT DO NOTHING; \
         DELETE FROM temp.main.{DEAD_LETTER_STAGE};"
    ))
    .map_err(db)
}

/// A DuckDB database file.
pub struct DuckDbSink {
    path: String,
    conn: Connection,
    tables: Vec<TableSpec>,
    /// Per table: still empty (no row before the run, none written since),
    /// so the next write is a plain insert — no key can conflict.
    empty: Vec<bool>,
    /// Answers `sluice query` / `sluice tables` while the run holds the file.
    live: Option<super::duckdb_live::QueryServer>,
}

impl std::fmt::Debug for DuckDbSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbSink")
            .field("path", &self.path)
            .finish()
    }
}

fn db(e: duckdb::Error) -> ConnectorError {
    ConnectorError::Database(e.to_string())
}

/// The DuckDB type of a column.
pub fn sql_type(t: SqlType) -> &'static str {
    match t {
        SqlType::Text => "VARCHAR",
        SqlType::BigInt => "BIGINT",
        SqlType::HugeInt => "HUGEINT",
        SqlType::Double => "DOUBLE",
        SqlType::Boolean => "BOOLEAN",
        SqlType::Timestamp => "TIMESTAMP",
    }
}

/// `CREATE TABLE` for a result table (names are validated identifiers).
pub fn create_table_sql(t: &TableSpec, name: &str, with_key: bool) -> String {
    let mut cols = vec![
        "window_start TIMESTAMP NOT NULL".to_string(),
        "window_end TIMESTAMP NOT NULL".to_string(),
    ];
    cols.extend(
        t.dims
            .iter()
            .map(|c| format!("{} {}", c.name, sql_type(c.ty))),
    );
    cols.extend(
        t.values
            .iter()
            .map(|c| format!("{} {}", c.name, sql_type(c.ty))),
    );
    cols.extend([
        "revision INTEGER NOT NULL".to_string(),
        "provisional BOOLEAN NOT NULL".to_string(),
        "emitted_at TIMESTAMP NOT NULL".to_string(),
        "group_key VARCHAR NOT NULL".to_string(),
    ]);
    if with_key {
        cols.push("PRIMARY KEY (window_start, window_end, group_key)".into());
    }
    format!("CREATE TABLE IF NOT EXISTS {name} ({})", cols.join(", "))
}

/// The per-connection temporary table a result table's rows are staged in.
fn stage_name(t: &TableSpec) -> String {
    format!("_sluice_stage_{}", t.name)
}

fn column_names(t: &TableSpec) -> Vec<String> {
    let mut v = vec!["window_start".to_string(), "window_end".to_string()];
    v.extend(t.dims.iter().map(|c| c.name.clone()));
    v.extend(t.values.iter().map(|c| c.name.clone()));
    v.extend(FIXED_COLUMNS[2..].iter().map(|s| s.to_string()));
    v
}

fn cell(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Boolean(*b),
        Cell::Int(i) => Value::BigInt(*i),
        Cell::HugeInt(i) => Value::HugeInt(*i),
        Cell::Float(f) => Value::Double(*f),
        Cell::Text(s) => Value::Text(s.clone()),
        Cell::Timestamp(ms) => Value::Timestamp(TimeUnit::Millisecond, *ms),
    }
}

impl DuckDbSink {
    /// Opens (or creates) the database file; `:memory:` for tests.
    pub fn open(path: &str) -> Result<Self, ConnectorError> {
        if path != ":memory:" {
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| ConnectorError::Write {
                    path: path.into(),
                    cause: e,
                })?;
            }
        }
        let conn = if path == ":memory:" {
            Connection::open_in_memory()
        } else {
            Connection::open(path)
        }
        .map_err(db)?;
        Ok(Self {
            path: path.to_string(),
            conn,
            tables: Vec::new(),
            empty: Vec::new(),
            live: None,
        })
    }

    /// Answers queries from other processes (`sluice query`, `sluice
    /// tables`) while this sink holds the file, each in a read-only
    /// transaction that sees complete writes only. Returns the socket path.
    pub fn serve_queries(&mut self) -> Result<std::path::PathBuf, ConnectorError> {
        let conn = self.conn.try_clone().map_err(db)?;
        let server = super::duckdb_live::QueryServer::start(conn, &self.path)?;
        let path = server.path().to_path_buf();
        self.live = Some(server);
        Ok(path)
    }

    /// The connection (tests and `sluice query` reuse it).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn existing_columns(&self, table: &str) -> Result<Option<Vec<String>>, ConnectorError> {
        let mut st = self
            .conn
            .prepare("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position")
            .map_err(db)?;
        let cols: Vec<String> = st
            .query_map([table], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        Ok((!cols.is_empty()).then_some(cols))
    }
}

impl DuckDbSink {
    fn prepare_tables(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError> {
        self.empty.clear();
        for t in tables {
            let want = column_names(t);
            if let Some(have) = self.existing_columns(&t.name)? {
                if have != want {
                    return Err(ConnectorError::Config {
                        connector: "duckdb",
                        message: format!(
                            "table `{}` exists with columns [{}] but the configuration needs [{}]; drop it (`sluice query \"DROP TABLE {}\"`) or set another `sink_table`",
                            t.name,
                            have.join(", "),
                            want.join(", "),
                            t.name
                        ),
                    });
                }
            }
            self.conn
                .execute_batch(&create_table_sql(t, &t.name, true))
                .map_err(db)?;
            let rows: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {}", t.name), [], |r| {
                    r.get(0)
                })
                .map_err(db)?;
            self.empty.push(rows == 0 && !t.session);
            // the stage is temporary (per connection, never in the file);
            // files written before that may hold one: drop it
            let stage = stage_name(t);
            self.conn
                .execute_batch(&format!(
                    "DROP TABLE IF EXISTS main.{stage}; DROP TABLE IF EXISTS temp.main.{stage}; {}",
                    create_table_sql(t, &stage, false).replacen(
                        "CREATE TABLE",
                        "CREATE TEMP TABLE",
                        1
                    )
                ))
                .map_err(db)?;
            for c in t.dims.iter().chain(&t.values) {
                if let Some(comment) = &c.comment {
                    let text = comment.replace('\'', "''");
                    self.conn
                        .execute_batch(&format!(
                            "COMMENT ON COLUMN {}.{} IS '{text}'",
                            t.name, c.name
                        ))
                        .map_err(db)?;
                }
            }
        }
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} (kind VARCHAR NOT NULL, reason VARCHAR NOT NULL, source VARCHAR NOT NULL, \
                 partition INTEGER NOT NULL, \"offset\" BIGINT NOT NULL, event_type VARCHAR, aggregation VARCHAR NOT NULL, \
                 event_time TIMESTAMP, payload BLOB NOT NULL, recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp, \
                 PRIMARY KEY (source, partition, \"offset\", kind, aggregation)); \
                 CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (table_name VARCHAR PRIMARY KEY, flushes BIGINT NOT NULL, \
                 rows BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL); \
                 CREATE TEMP TABLE IF NOT EXISTS {DEAD_LETTER_STAGE} (seq BIGINT NOT NULL, kind VARCHAR NOT NULL, reason VARCHAR NOT NULL, \
                 source VARCHAR NOT NULL, partition INTEGER NOT NULL, \"offset\" BIGINT NOT NULL, event_type VARCHAR, \
                 aggregation VARCHAR NOT NULL, event_time TIMESTAMP, payload BLOB NOT NULL)"
            ))
            .map_err(db)?;
        Ok(())
    }
}

impl Sink for DuckDbSink {
    fn describe(&self) -> String {
        format!("duckdb ({})", self.path)
    }

    fn prepare(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError> {
        // one transaction: one commit (and fsync) instead of one per statement
        self.conn.execute_batch("BEGIN TRANSACTION").map_err(db)?;
        let r = self.prepare_tables(tables);
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.conn.execute_batch(end).map_err(db)?;
        r?;
        self.tables = tables.to_vec();
        Ok(())
    }

    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        if rows.is_empty() && dead.is_empty() {
            return Ok(());
        }
        let rows = last_per_key(rows);
        let tx = self.conn.transaction().map_err(db)?;
        for (ti, t) in self.tables.iter().enumerate() {
            let mine: Vec<&(&ResultRow, String)> =
                rows.iter().filter(|(r, _)| r.table == ti).collect();
            if mine.is_empty() {
                continue;
            }
            let stage = stage_name(t);
            // an empty table takes the rows directly (they are unique per
            // key, `last_per_key`); otherwise they are staged and upserted
            let empty = self.empty.get(ti).copied().unwrap_or(false);
            {
                let mut app = if empty {
                    tx.appender(&t.name)
                } else {
                    tx.appender_to_catalog_and_db(&stage, "temp", "main")
                }
                .map_err(db)?;
                for (r, key) in &mine {
                    let mut vals = Vec::with_capacity(6 + r.dims.len() + r.values.len());
                    vals.push(Value::Timestamp(TimeUnit::Millisecond, r.window_start));
                    vals.push(Value::Timestamp(TimeUnit::Millisecond, r.window_end));
                    vals.extend(r.dims.iter().map(cell));
                    vals.extend(r.values.iter().map(cell));
                    vals.push(Value::Int(i32::try_from(r.revision).unwrap_or(i32::MAX)));
                    vals.push(Value::Boolean(r.provisional));
                    vals.push(Value::Timestamp(TimeUnit::Millisecond, r.emitted_at));
                    vals.push(Value::Text(key.clone()));
                    app.append_row(appender_params_from_iter(vals))
                        .map_err(db)?;
                }
                app.flush().map_err(db)?;
            }
            if t.session {
                // a grown session supersedes the rows of the same group it overlaps
                tx.execute_batch(&format!(
                    "DELETE FROM {n} AS t USING temp.main.{stage} AS s WHERE t.group_key = s.group_key \
                     AND t.window_start < s.window_end AND t.window_end > s.window_start \
                     AND NOT (t.window_start = s.window_start AND t.window_end = s.window_end) AND t.revision <= s.revision",
                    n = t.name
                ))
                .map_err(db)?;
            }
            if !empty {
                let cols = column_names(t);
                let set: Vec<String> = cols
                    .iter()
                    .filter(|c| !matches!(c.as_str(), "window_start" | "window_end" | "group_key"))
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                tx.execute_batch(&format!(
                    "INSERT INTO {n} SELECT * FROM temp.main.{stage} ON CONFLICT (window_start, window_end, group_key) DO UPDATE SET {set} WHERE excluded.revision >= {n}.revision; DELETE FROM temp.main.{stage};",
                    n = t.name,
                    set = set.join(", ")
                ))
                .map_err(db)?;
            }
        }
        for t in &self.tables {
            tx.execute_batch(&format!(
                "INSERT INTO {PROGRESS_TABLE} SELECT '{n}', 1, (SELECT count(*) FROM {n}), now()::TIMESTAMP \
                 ON CONFLICT (table_name) DO UPDATE SET flushes = {PROGRESS_TABLE}.flushes + 1, \
                 rows = excluded.rows, updated_at = excluded.updated_at",
                n = t.name
            ))
            .map_err(db)?;
        }
        if !dead.is_empty() {
            write_dead_letters(&tx, dead)?;
        }
        tx.commit().map_err(db)?;
        self.empty.iter_mut().for_each(|e| *e = false);
        Ok(())
    }

    fn close(&mut self) -> Result<(), ConnectorError> {
        self.conn.execute_batch("CHECKPOINT").map_err(db)
    }

    fn checkpoint_store(&self) -> Option<Box<dyn crate::CheckpointStore>> {
        let conn = self.conn.try_clone().ok()?;
        Some(Box::new(super::duckdb_checkpoints::DuckDbCheckpoints::new(
            conn,
        )))
    }
}

pub use crate::store::{QueryCell, QueryResult};

/// A DuckDB file as a [`Store`](crate::Store): answered by the run writing
/// it when there is one, else read directly.
#[derive(Clone, Debug)]
pub struct DuckDbStore {
    /// The database file.
    pub path: String,
}

impl crate::Store for DuckDbStore {
    fn query(&self, sql: &str) -> Result<QueryResult, ConnectorError> {
        query(&self.path, sql)
    }

    fn tables(&self) -> Result<Vec<(String, i64)>, ConnectorError> {
        tables(&self.path)
    }
}

fn query_cell(v: Value) -> QueryCell {
    match v {
        Value::Null => QueryCell::Null,
        Value::Boolean(b) => QueryCell::Bool(b),
        Value::TinyInt(i) => QueryCell::Number(i.to_string()),
        Value::SmallInt(i) => QueryCell::Number(i.to_string()),
        Value::Int(i) => QueryCell::Number(i.to_string()),
        Value::BigInt(i) => QueryCell::Number(i.to_string()),
        Value::HugeInt(i) => QueryCell::Number(i.to_string()),
        Value::UTinyInt(i) => QueryCell::Number(i.to_string()),
        Value::USmallInt(i) => QueryCell::Number(i.to_string()),
        Value::UInt(i) => QueryCell::Number(i.to_string()),
        Value::UBigInt(i) => QueryCell::Number(i.to_string()),
        Value::UHugeInt(i) => QueryCell::Number(i.to_string()),
        Value::Float(f) => QueryCell::Number(f.to_string()),
        Value::Double(f) => QueryCell::Number(f.to_string()),
        Value::Text(s) => QueryCell::Text(s),
        Value::Timestamp(unit, t) => {
            let ms = match unit {
                TimeUnit::Second => t.saturating_mul(1000),
                TimeUnit::Millisecond => t,
                TimeUnit::Microsecond => t / 1000,
                TimeUnit::Nanosecond => t / 1_000_000,
            };
            QueryCell::Text(sluice_formats::time::format_utc(ms))
        }
        Value::Blob(b) => QueryCell::Text(match std::str::from_utf8(&b) {
            Ok(s) => s.to_string(),
            Err(_) => crate::dead_letter::to_hex(&b),
        }),
        other => QueryCell::Text(format!("{other:?}")),
    }
}

/// Runs one SQL statement against a database file and returns its rows:
/// answered by the run writing the file when there is one (see
/// [`super::duckdb_live`]), else on the file itself.
pub fn query(path: &str, sql: &str) -> Result<QueryResult, ConnectorError> {
    if let Some(r) = super::duckdb_live::ask(path, &serde_json::json!({ "sql": sql }))? {
        return Ok(r);
    }
    query_conn(&open_existing(path)?, sql)
}

fn open_existing(path: &str) -> Result<Connection, ConnectorError> {
    if path != ":memory:" && !std::path::Path::new(path).exists() {
        return Err(ConnectorError::Config {
            connector: "duckdb",
            message: format!("no database at `{path}`: run `sluice run --domain <domain>` first"),
        });
    }
    Connection::open(path).map_err(db)
}

/// Runs one SQL statement on an open connection.
pub fn query_conn(conn: &Connection, sql: &str) -> Result<QueryResult, ConnectorError> {
    let mut st = conn.prepare(sql).map_err(db)?;
    let mut rows_out = Vec::new();
    let mut rows = st.query([]).map_err(db)?;
    let mut columns: Vec<String> = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        if columns.is_empty() {
            columns = r.as_ref().column_names();
        }
        let mut cells = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            cells.push(query_cell(r.get::<_, Value>(i).map_err(db)?));
        }
        rows_out.push(cells);
    }
    drop(rows);
    if columns.is_empty() {
        columns = st
            .column_names()
            .into_iter()
            .map(|s| s.to_string())
            .collect();
    }
    Ok(QueryResult {
        columns,
        rows: rows_out,
    })
}

/// User tables (not sluice's staging tables) with their row counts:
/// answered by the run writing the file when there is one.
pub fn tables(path: &str) -> Result<Vec<(String, i64)>, ConnectorError> {
    if let Some(r) = super::duckdb_live::ask(path, &serde_json::json!({ "tables": true }))? {
        return Ok(crate::store::name_counts(r));
    }
    let conn = open_existing(path)?;
    conn.execute_batch("BEGIN TRANSACTION").map_err(db)?;
    let r = tables_conn(&conn);
    conn.execute_batch("ROLLBACK").ok();
    r
}

/// [`tables`] on an open connection (one snapshot when in a transaction).
pub fn tables_conn(conn: &Connection) -> Result<Vec<(String, i64)>, ConnectorError> {
    let names = query_conn(conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name NOT LIKE '\\_sluice\\_stage\\_%' ESCAPE '\\' ORDER BY table_name")?;
    let mut out = Vec::new();
    for r in names.rows {
        if let Some(QueryCell::Text(name)) = r.first() {
            if sluice_core::check_identifier(name).is_err() {
                continue;
            }
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {name}"), [], |r| r.get(0))
                .map_err(db)?;
            out.push((name.clone(), n));
        }
    }
    Ok(out)
}
