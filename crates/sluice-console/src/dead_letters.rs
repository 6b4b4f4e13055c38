//! The store's dead-letter table for the Dead letters page: the SQL that
//! reads it with the page's filters (values bound as escaped literals,
//! never spliced raw), and each record as JSON with its original bytes as
//! hex and, where they are JSON text, decoded.

use serde_json::{json, Value};
use sluice_connectors::{QueryCell, QueryResult};

/// The dead-letter table of both stores.
pub const TABLE: &str = "_sluice_dead_letters";

/// Rows listed per request.
pub const LIST_LIMIT: usize = 500;

/// Dead-letter kinds, for the page's filter.
pub const KINDS: &[&str] = &["malformed", "late", "future_outlier", "state_limit"];

/// The page's filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Kind (exact).
    pub kind: Option<String>,
    /// Text the reason contains.
    pub reason: Option<String>,
    /// Source (exact: topic or file).
    pub source: Option<String>,
    /// Aggregation (exact).
    pub aggregation: Option<String>,
}

/// A SQL string literal (both stores' dialects: quotes doubled,
/// backslashes doubled for ClickHouse; control characters refused).
pub fn literal(s: &str) -> Option<String> {
    if s.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")))
}

/// The list query: newest first, at most [`LIST_LIMIT`] rows.
pub fn list_sql(f: &Filter) -> Result<String, String> {
    let mut conds = Vec::new();
    let bad = |what: &str| format!("the {what} filter holds a control character");
    if let Some(k) = f.kind.as_deref().filter(|k| !k.is_empty()) {
        conds.push(format!("kind = {}", literal(k).ok_or_else(|| bad("kind"))?));
    }
    if let Some(s) = f.source.as_deref().filter(|s| !s.is_empty()) {
        conds.push(format!(
            "source = {}",
            literal(s).ok_or_else(|| bad("source"))?
        ));
    }
    if let Some(a) = f.aggregation.as_deref().filter(|a| !a.is_empty()) {
        conds.push(format!(
            "aggregation = {}",
            literal(a).ok_or_else(|| bad("aggregation"))?
        ));
    }
    let wh = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    // the reason filter is applied to the rows read ([`keep`]): the two
    // stores' dialects share no substring function or LIKE escaping, so
    // more rows are read when it is given
    let limit = if f.reason.as_deref().is_some_and(|r| !r.is_empty()) {
        SCAN_LIMIT
    } else {
        LIST_LIMIT
    };
    Ok(format!(
        "SELECT kind, reason, source, partition, \"offset\", event_type, aggregation, event_time, \
         length(hex(payload)) AS hex_chars, recorded_at FROM {TABLE}{wh} \
         ORDER BY recorded_at DESC, source, partition, \"offset\" LIMIT {limit}"
    ))
}

/// Rows read when the reason filter is given.
pub const SCAN_LIMIT: usize = 50_000;

/// The rows (from [`rows`]) whose reason contains the filter's text
/// (case-insensitive), at most [`LIST_LIMIT`].
pub fn keep(rows: Vec<Value>, f: &Filter) -> Vec<Value> {
    let needle = f.reason.as_deref().unwrap_or("").to_lowercase();
    rows.into_iter()
        .filter(|r| {
            needle.is_empty()
                || r["reason"]
                    .as_str()
                    .is_some_and(|s| s.to_lowercase().contains(&needle))
        })
        .take(LIST_LIMIT)
        .collect()
}

/// Counts per kind (for the filter's labels).
pub fn kinds_sql() -> String {
    format!("SELECT kind, count(*) AS n FROM {TABLE} GROUP BY kind ORDER BY kind")
}

/// One record with its bytes, by its identity.
pub fn detail_sql(
    source: &str,
    partition: i64,
    offset: i64,
    kind: &str,
    aggregation: &str,
) -> Result<String, String> {
    let (Some(s), Some(k), Some(a)) = (literal(source), literal(kind), literal(aggregation)) else {
        return Err("a dead letter's identity holds a control character".into());
    };
    Ok(format!(
        "SELECT kind, reason, source, partition, \"offset\", event_type, aggregation, event_time, \
         hex(payload) AS payload_hex, recorded_at FROM {TABLE} \
         WHERE source = {s} AND partition = {partition} AND \"offset\" = {offset} AND kind = {k} AND aggregation = {a} LIMIT 1"
    ))
}

fn cell(c: &QueryCell) -> Value {
    match c {
        QueryCell::Null => Value::Null,
        QueryCell::Bool(b) => Value::Bool(*b),
        QueryCell::Number(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(n.clone())),
        QueryCell::Text(t) => Value::String(t.clone()),
    }
}

/// Rows as JSON objects keyed by column (a `hex_chars` column, how both
/// stores can measure a blob, becomes `bytes`).
pub fn rows(r: &QueryResult) -> Vec<Value> {
    r.rows
        .iter()
        .map(|row| {
            let mut m = serde_json::Map::new();
            for (c, v) in r.columns.iter().zip(row) {
                if c == "hex_chars" {
                    let n = cell(v).as_f64().map_or(0, |n| n as u64 / 2);
                    m.insert("bytes".into(), Value::from(n));
                } else {
                    m.insert(c.clone(), cell(v));
                }
            }
            Value::Object(m)
        })
        .collect()
}

/// Bytes from hex (either case); `None` when it is not hex.
pub fn unhex(h: &str) -> Option<Vec<u8>> {
    let h = h.trim();
    if h.len() % 2 != 0 {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A record's detail: its columns, the bytes as hex (spaced, 16 per line)
/// and as text, and decoded JSON when the bytes are a JSON document.
pub fn detail(row: Value) -> Value {
    let hex = row["payload_hex"].as_str().unwrap_or("").to_string();
    let bytes = unhex(&hex).unwrap_or_default();
    let lines: Vec<String> = bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let h: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
            let a: String = c
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {:<47}  {a}", i * 16, h.join(" "))
        })
        .collect();
    let text = std::str::from_utf8(&bytes).ok().map(str::to_string);
    let decoded = text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t.trim()).ok());
    let mut out = row;
    if let Value::Object(m) = &mut out {
        m.remove("payload_hex");
        m.insert("bytes".into(), json!(bytes.len()));
        m.insert("hex".into(), json!(lines.join("\n")));
        m.insert("text".into(), json!(text));
        m.insert("decoded".into(), decoded.unwrap_or(Value::Null));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_quoted_never_spliced() {
        let f = Filter {
            kind: Some("malformed".into()),
            reason: Some("it's 100%".into()),
            source: Some("x\\y".into()),
            aggregation: None,
        };
        let sql = list_sql(&f).unwrap();
        assert!(sql.contains("kind = 'malformed'"), "{sql}");
        assert!(!sql.contains("reason ="), "{sql}");
        assert!(sql.ends_with(&format!("LIMIT {SCAN_LIMIT}")), "{sql}");
        let rows = vec![
            json!({"reason": "It's 100% wrong"}),
            json!({"reason": "missing_field `x`"}),
        ];
        assert_eq!(keep(rows.clone(), &f).len(), 1);
        let g = Filter {
            reason: Some("MISSING_field".into()),
            ..Default::default()
        };
        assert_eq!(keep(rows, &g).len(), 1);
        assert!(sql.contains("source = 'x\\\\y'"), "{sql}");
        let bad = Filter {
            kind: Some("a\nb".into()),
            ..Default::default()
        };
        assert!(list_sql(&bad).is_err());
        assert!(!list_sql(&Filter::default()).unwrap().contains("WHERE"));
    }

    #[test]
    fn detail_shows_hex_text_and_json() {
        let payload = br#"{"event_id": "e1", "amount": 3}"#;
        let hex: String = payload.iter().map(|b| format!("{b:02X}")).collect();
        let d = detail(json!({"kind": "malformed", "payload_hex": hex}));
        assert_eq!(d["bytes"], 31);
        assert_eq!(d["decoded"]["event_id"], "e1");
        assert!(d["hex"].as_str().unwrap().starts_with("00000000  7b 22 65"));
        assert!(d.get("payload_hex").is_none());
        // binary: no text, no JSON, still hex
        let d = detail(json!({"payload_hex": "00FF10"}));
        assert_eq!(d["decoded"], Value::Null);
        assert_eq!(d["text"], Value::Null);
        assert!(d["hex"].as_str().unwrap().contains("00 ff 10"));
        assert_eq!(unhex("0g"), None);
    }
}
