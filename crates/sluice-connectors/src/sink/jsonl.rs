//! The `jsonl` sink: one JSON object per result row or dead letter, to a
//! file or stdout (`-`). Appends; not deduplicating (a log, not a table).

use std::io::Write;

use serde_json::{json, Map, Value};

use super::Sink;
use crate::{
    BuildError, ConnectorError, Context, DeadLetterRecord, ResultRow, SinkFactory, TableSpec,
};

/// `jsonl`: one JSON object per result row (`--out`, else
/// `sinks.jsonl.path`; `-` is stdout).
#[derive(Debug)]
pub struct JsonlFactory;

impl SinkFactory for JsonlFactory {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), BuildError> {
        let path = cx
            .spec
            .jsonl_path
            .clone()
            .unwrap_or_else(|| cx.cfg.platform.sinks.jsonl.path.clone());
        let sink = JsonlSink::open(&path).map_err(BuildError::Sink)?;
        Ok((Box::new(sink), format!("jsonl {path}")))
    }
}

/// Writes JSON lines.
pub struct JsonlSink {
    path: String,
    out: Box<dyn Write + Send>,
    tables: Vec<TableSpec>,
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("path", &self.path)
            .finish()
    }
}

impl JsonlSink {
    /// A sink writing to `path` (`-` for stdout).
    pub fn open(path: &str) -> Result<Self, ConnectorError> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| ConnectorError::Write {
                    path: path.into(),
                    cause: e,
                })?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| ConnectorError::Write {
                    path: path.into(),
                    cause: e,
                })?;
            Box::new(std::io::BufWriter::new(f))
        };
        Ok(Self {
            path: path.to_string(),
            out,
            tables: Vec::new(),
        })
    }
}

/// A result row as a JSON object.
pub fn row_json(t: &TableSpec, r: &ResultRow) -> Value {
    let mut m = Map::new();
    m.insert("table".into(), t.name.clone().into());
    m.insert("window_start".into(), r.window_start.into());
    m.insert("window_end".into(), r.window_end.into());
    for (c, v) in t.dims.iter().zip(&r.dims) {
        m.insert(c.name.clone(), v.to_json());
    }
    for (c, v) in t.values.iter().zip(&r.values) {
        m.insert(c.name.clone(), v.to_json());
    }
    m.insert("revision".into(), r.revision.into());
    m.insert("provisional".into(), r.provisional.into());
    m.insert("emitted_at".into(), r.emitted_at.into());
    Value::Object(m)
}

/// A dead letter as a JSON object; the payload as text when it is UTF-8,
/// else as hex.
pub fn dead_letter_json(d: &DeadLetterRecord) -> Value {
    let mut v = json!({
        "dead_letter": d.kind.as_str(),
        "reason": d.reason,
        "source": d.source,
        "partition": d.partition,
        "offset": d.offset,
        "event_type": d.event_type,
        "aggregation": d.aggregation,
        "event_time": d.event_time,
    });
    match std::str::from_utf8(&d.payload) {
        Ok(s) => v["payload"] = s.into(),
        Err(_) => v["payload_hex"] = crate::dead_letter::to_hex(&d.payload).into(),
    }
    v
}

impl Sink for JsonlSink {
    fn describe(&self) -> String {
        format!(
            "jsonl ({})",
            if self.path == "-" {
                "stdout"
            } else {
                &self.path
            }
        )
    }

    fn prepare(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError> {
        self.tables = tables.to_vec();
        Ok(())
    }

    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        let err = |e| ConnectorError::Write {
            path: self.path.clone(),
            cause: e,
        };
        let mut buf = Vec::new();
        for r in rows {
            let Some(t) = self.tables.get(r.table) else {
                continue;
            };
            serde_json::to_writer(&mut buf, &row_json(t, r))
                .map_err(|e| ConnectorError::Database(e.to_string()))?;
            buf.push(b'\n');
        }
        for d in dead {
            serde_json::to_writer(&mut buf, &dead_letter_json(d))
                .map_err(|e| ConnectorError::Database(e.to_string()))?;
            buf.push(b'\n');
        }
        self.out.write_all(&buf).map_err(err)?;
        self.out.flush().map_err(|e| ConnectorError::Write {
            path: self.path.clone(),
            cause: e,
        })
    }

    fn close(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(|e| ConnectorError::Write {
            path: self.path.clone(),
            cause: e,
        })
    }
}
