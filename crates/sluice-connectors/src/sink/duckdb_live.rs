//! Live queries: a run that writes a DuckDB file holds its lock, so no
//! other process can open it. The run therefore answers `sluice query` and
//! `sluice tables` itself, over a Unix socket only its user can reach,
//! on a second connection to the same database.
//!
//! * Every request runs in its own read-only transaction, so it sees
//!   complete flushes only (each sink write is one transaction) and can
//!   change nothing.
//! * The socket's name is derived from the database file's canonical path
//!   ([`socket_path`]), so a client finds it from the path alone; a socket
//!   left behind by a killed run is detected (nothing answers) and replaced.
//! * Protocol: one JSON request line (`{"sql": "..."}` or `{"tables": true}`),
//!   one JSON answer (`{"columns": [...], "rows": [[...]]}` or
//!   `{"error": "..."}`), then the connection closes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use duckdb::Connection;
use serde_json::{json, Value as Json};

use super::duckdb::{query_conn, tables_conn, QueryCell, QueryResult};
use crate::ConnectorError;

/// Longest a client waits for an answer (a long aggregate over a big table
/// can take a while; a run that is gone answers at once with an error).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// The socket a run writing `db_path` listens on, or `None` when the file
/// does not exist (no run can be writing it).
pub fn socket_path(db_path: &str) -> Option<PathBuf> {
    let canonical = std::fs::canonicalize(db_path).ok()?;
    // FNV-1a: stable across builds and platforms, unlike the std hasher
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Some(std::env::temp_dir().join(format!("sluice-{h:016x}.sock")))
}

fn io(path: &Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::Write {
        path: path.display().to_string(),
        cause: e,
    }
}

/// Serves live queries until dropped (then removes its socket).
#[derive(Debug)]
pub struct QueryServer {
    stop: Arc<AtomicBool>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl QueryServer {
    /// Listens for queries against `db_path`, answered on `conn` (a
    /// connection to the same database as the writer's, e.g.
    /// `Connection::try_clone`).
    pub fn start(conn: Connection, db_path: &str) -> Result<Self, ConnectorError> {
        let path = socket_path(db_path).ok_or_else(|| ConnectorError::Config {
            connector: "duckdb",
            message: format!("cannot serve live queries: `{db_path}` does not exist"),
        })?;
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if UnixStream::connect(&path).is_ok() {
                    return Err(ConnectorError::Config {
                        connector: "duckdb",
                        message: format!(
                            "another run already serves `{db_path}` (socket {})",
                            path.display()
                        ),
                    });
                }
                // left by a run that was killed: nothing answers it
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                UnixListener::bind(&path).map_err(|e| io(&path, e))?
            }
            Err(e) => return Err(io(&path, e)),
        };
        // only this user may query (the socket inherits the umask otherwise)
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&path, e))?;
        }
        listener.set_nonblocking(true).map_err(|e| io(&path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-live-query".into())
            .spawn(move || serve(listener, conn, flag))
            .map_err(|e| io(&path, e))?;
        Ok(Self {
            stop,
            path,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for QueryServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
        std::fs::remove_file(&self.path).ok();
    }
}

fn serve(listener: UnixListener, conn: Connection, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                // a broken client must not stop the server
                answer(stream, &conn).ok();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn answer(stream: UnixStream, conn: &Connection) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    // one line of at most 16 MiB (a request is one SQL statement)
    BufReader::new(std::io::Read::take(&stream, 16 << 20)).read_line(&mut line)?;
    let reply = match serde_json::from_str::<Json>(&line) {
        Ok(req) => match run_request(conn, &req) {
            Ok(r) => to_json(&r),
            Err(e) => json!({ "error": e }),
        },
        Err(e) => json!({ "error": format!("bad request: {e}") }),
    };
    let mut w = &stream;
    w.write_all(reply.to_string().as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Runs one request in a read-only transaction.
fn run_request(conn: &Connection, req: &Json) -> Result<QueryResult, String> {
    conn.execute_batch("BEGIN TRANSACTION READ ONLY")
        .map_err(|e| e.to_string())?;
    let result = if req.get("tables").and_then(Json::as_bool) == Some(true) {
        tables_conn(conn).map(|t| QueryResult {
            columns: vec!["table".into(), "rows".into()],
            rows: t
                .into_iter()
                .map(|(n, c)| vec![QueryCell::Text(n), QueryCell::Number(c.to_string())])
                .collect(),
        })
    } else if let Some(sql) = req.get("sql").and_then(Json::as_str) {
        query_conn(conn, sql)
    } else {
        conn.execute_batch("ROLLBACK").ok();
        return Err("bad request: expected `sql` or `tables`".into());
    };
    conn.execute_batch("ROLLBACK").ok();
    result.map_err(|e| e.to_string())
}

fn to_json(r: &QueryResult) -> Json {
    let rows: Vec<Json> = r
        .rows
        .iter()
        .map(|row| {
            Json::Array(
                row.iter()
                    .map(|c| match c {
                        QueryCell::Null => Json::Null,
                        QueryCell::Bool(b) => Json::Bool(*b),
                        QueryCell::Number(n) => json!({ "n": n }),
                        QueryCell::Text(t) => json!({ "t": t }),
                    })
                    .collect(),
            )
        })
        .collect();
    json!({ "columns": r.columns, "rows": rows })
}

fn from_json(v: &Json) -> Option<QueryResult> {
    let columns = v
        .get("columns")?
        .as_array()?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()?;
    let mut rows = Vec::new();
    for row in v.get("rows")?.as_array()? {
        let mut cells = Vec::new();
        for c in row.as_array()? {
            cells.push(match c {
                Json::Null => QueryCell::Null,
                Json::Bool(b) => QueryCell::Bool(*b),
                other => {
                    if let Some(n) = other.get("n").and_then(Json::as_str) {
                        QueryCell::Number(n.to_string())
                    } else {
                        QueryCell::Text(other.get("t")?.as_str()?.to_string())
                    }
                }
            });
        }
        rows.push(cells);
    }
    Some(QueryResult { columns, rows })
}

/// Asks the run writing `db_path`, if one serves it. `Ok(None)`: no run
/// answers (open the file directly).
pub fn ask(db_path: &str, request: &Json) -> Result<Option<QueryResult>, ConnectorError> {
    let Some(path) = socket_path(db_path) else {
        return Ok(None);
    };
    let Ok(stream) = UnixStream::connect(&path) else {
        return Ok(None);
    };
    let fail = |message: String| ConnectorError::Config {
        connector: "duckdb",
        message,
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(|e| io(&path, e))?;
    let mut w = &stream;
    w.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| io(&path, e))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| io(&path, e))?;
    let v: Json = serde_json::from_str(&line)
        .map_err(|e| fail(format!("the running pipeline answered garbage: {e}")))?;
    if let Some(e) = v.get("error").and_then(Json::as_str) {
        return Err(fail(e.to_string()));
    }
    from_json(&v)
        .map(Some)
        .ok_or_else(|| fail("the running pipeline answered in an unknown shape".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_file_answers_queries_read_only_and_a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.duckdb");
        let db = db.to_str().unwrap();
        let writer = Connection::open(db).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (1), (2)")
            .unwrap();
        // a stale socket from a killed run
        let sock = socket_path(db).unwrap();
        drop(UnixListener::bind(&sock).unwrap());
        assert!(sock.exists());
        let server = QueryServer::start(writer.try_clone().unwrap(), db).unwrap();
        let r = ask(
            db,
            &json!({"sql": "SELECT sum(x) AS s, NULL AS n, 'a' AS t FROM t"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.columns, ["s", "n", "t"]);
        assert_eq!(
            r.rows,
            [vec![
                QueryCell::Number("3".into()),
                QueryCell::Null,
                QueryCell::Text("a".into())
            ]]
        );
        // uncommitted writes are invisible
        writer
            .execute_batch("BEGIN TRANSACTION; INSERT INTO t VALUES (10)")
            .unwrap();
        let r = ask(db, &json!({"sql": "SELECT count(*) FROM t"}))
            .unwrap()
            .unwrap();
        assert_eq!(r.rows[0][0], QueryCell::Number("2".into()));
        writer.execute_batch("COMMIT").unwrap();
        let r = ask(db, &json!({"tables": true})).unwrap().unwrap();
        assert_eq!(
            r.rows,
            [vec![
                QueryCell::Text("t".into()),
                QueryCell::Number("3".into())
            ]]
        );
        // nothing can be changed through it
        let e = ask(db, &json!({"sql": "DELETE FROM t"})).unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
        let e = ask(db, &json!({"sql": "SELEC 1"})).unwrap_err();
        assert!(e.to_string().contains("syntax"), "{e}");
        let r = ask(db, &json!({"sql": "SELECT count(*) FROM t"}))
            .unwrap()
            .unwrap();
        assert_eq!(r.rows[0][0], QueryCell::Number("3".into()));
        // a second server on the same file is refused
        assert!(QueryServer::start(writer.try_clone().unwrap(), db).is_err());
        drop(server);
        assert!(!sock.exists());
        assert!(ask(db, &json!({"sql": "SELECT 1"})).unwrap().is_none());
    }
}
