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
    /// Source partition (exact).
    pub partition: Option<i64>,
    /// Recorded at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Recorded before (epoch ms).
    pub to_ms: Option<i64>,
}

impl Filter {
    /// Whether some filter is applied to the rows read rather than in SQL.
    fn scans(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| !r.is_empty())
            || self.from_ms.is_some()
            || self.to_ms.is_some()
    }
}

/// A SQL string literal (both stores' dialects: quotes doubled,
/// backslashes doubled for ClickHouse; control characters refused).
pub fn literal(s: &str) -> Option<String> {
    if s.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")))
}

/// The table's columns, no rows: which of the stores' spellings it has.
pub fn columns_sql() -> String {
    format!("SELECT * FROM {TABLE} LIMIT 0")
}

/// The column holding when a dead letter was stored: DuckDB's
/// `recorded_at` or ClickHouse's `written_at` (read back as `recorded_at`).
pub fn time_column(columns: &[String]) -> &'static str {
    if columns.iter().any(|c| c == "written_at") {
        "written_at"
    } else {
        "recorded_at"
    }
}

/// The list query: newest first, at most [`LIST_LIMIT`] rows. `time`: the
/// store's [`time_column`].
pub fn list_sql(f: &Filter, time: &str) -> Result<String, String> {
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
    if let Some(p) = f.partition {
        conds.push(format!("partition = {p}"));
    }
    let wh = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    // the reason and time filters are applied to the rows read ([`keep`]):
    // the two stores' dialects share no substring function or LIKE
    // escaping, and store time differently, so more rows are read when
    // they are given
    let limit = if f.scans() { SCAN_LIMIT } else { LIST_LIMIT };
    Ok(format!(
        "SELECT kind, reason, source, partition, \"offset\", event_type, aggregation, event_time, \
         length(hex(payload)) AS hex_chars, {time} AS recorded_at FROM {TABLE}{wh} \
         ORDER BY {time} DESC, source, partition, \"offset\" LIMIT {limit}"
    ))
}

/// Rows read when the reason filter is given.
pub const SCAN_LIMIT: usize = 50_000;

/// When a listed row was recorded (epoch ms).
fn recorded_ms(row: &Value) -> Option<i64> {
    match &row["recorded_at"] {
        Value::String(t) => crate::results::cell_ms(&QueryCell::Text(t.clone())),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The rows (from [`rows`]) whose reason contains the filter's text
/// (case-insensitive) and that were recorded within its time range, at
/// most [`LIST_LIMIT`].
pub fn keep(rows: Vec<Value>, f: &Filter) -> Vec<Value> {
    let needle = f.reason.as_deref().unwrap_or("").to_lowercase();
    rows.into_iter()
        .filter(|r| {
            needle.is_empty()
                || r["reason"]
                    .as_str()
                    .is_some_and(|s| s.to_lowercase().contains(&needle))
        })
        .filter(|r| {
            if f.from_ms.is_none() && f.to_ms.is_none() {
                return true;
            }
            recorded_ms(r).is_some_and(|t| {
                f.from_ms.is_none_or(|from| t >= from) && f.to_ms.is_none_or(|to| t < to)
            })
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
    time: &str,
) -> Result<String, String> {
    let (Some(s), Some(k), Some(a)) = (literal(source), literal(kind), literal(aggregation)) else {
        return Err("a dead letter's identity holds a control character".into());
    };
    Ok(format!(
        "SELECT kind, reason, source, partition, \"offset\", event_type, aggregation, event_time, \
         hex(payload) AS payload_hex, {time} AS recorded_at FROM {TABLE} \
         WHERE source = {s} AND partition = {partition} AND \"offset\" = {offset} AND kind = {k} AND aggregation = {a} LIMIT 1"
    ))
}

/// A listed row's identity in the dead-letter topic (the
/// `sluice.dead_letter.id` header the runner writes): what replay selects.
pub fn id_of(row: &Value) -> String {
    let text = |k: &str| match &row[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let aggregation = text("aggregation");
    sluice_kafka::dlq::dead_letter_id(
        &text("kind"),
        &text("source"),
        row["partition"].as_i64().unwrap_or(-1),
        row["offset"].as_i64().unwrap_or(-1),
        Some(aggregation.as_str()).filter(|a| !a.is_empty()),
    )
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

/// The Avro datum in `bytes` (plain, or in the schema registry's wire
/// format: magic byte 0 and a 4-byte schema id first) read with `schema`
/// (the event type's schema as sluice generates it), as JSON; `None`
/// unless the whole payload reads as one record.
pub fn decode_avro(bytes: &[u8], schema: &str) -> Option<Value> {
    let schema = apache_avro::Schema::parse_str(schema).ok()?;
    let bodies: Vec<&[u8]> = match bytes {
        [0, _, _, _, _, rest @ ..] if !rest.is_empty() => vec![rest, bytes],
        _ => vec![bytes],
    };
    bodies.into_iter().find_map(|body| {
        let mut reader = body;
        let v = apache_avro::from_avro_datum(&schema, &mut reader, None).ok()?;
        if !reader.is_empty() {
            return None;
        }
        Value::try_from(v).ok()
    })
}

/// A record's detail: its columns, the bytes as hex (spaced, 16 per line)
/// and as text, decoded JSON when the bytes are a JSON document or an Avro
/// record of `schema` (the event type's, when known).
pub fn detail(row: Value, schema: Option<&str>) -> Value {
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
    let json = text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t.trim()).ok());
    let (decoded, decoded_as) = match (json, schema) {
        (Some(j), _) => (Some(j), Some("json")),
        (None, Some(s)) => {
            let a = decode_avro(&bytes, s);
            let how = a.as_ref().map(|_| "avro");
            (a, how)
        }
        (None, None) => (None, None),
    };
    let mut out = row;
    if let Value::Object(m) = &mut out {
        m.remove("payload_hex");
        m.insert("bytes".into(), json!(bytes.len()));
        m.insert("hex".into(), json!(lines.join("\n")));
        m.insert("text".into(), json!(text));
        m.insert("decoded".into(), decoded.unwrap_or(Value::Null));
        m.insert("decoded_as".into(), json!(decoded_as));
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
            ..Default::default()
        };
        let sql = list_sql(&f, "recorded_at").unwrap();
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
        assert!(list_sql(&bad, "recorded_at").is_err());
        let by_partition = Filter {
            partition: Some(2),
            ..Default::default()
        };
        let sql = list_sql(&by_partition, "recorded_at").unwrap();
        assert!(sql.contains("WHERE partition = 2"), "{sql}");
        assert!(sql.ends_with(&format!("LIMIT {LIST_LIMIT}")), "{sql}");
        let rows = vec![
            json!({"recorded_at": "2026-12-04 10:00:00.000"}),
            json!({"recorded_at": "2026-12-04 11:00:00"}),
            json!({"recorded_at": 1_796_385_600_000_i64}),
        ];
        let from = crate::results::cell_ms(&QueryCell::Text("2026-12-04 10:30:00".into()));
        let later = Filter {
            from_ms: from,
            ..Default::default()
        };
        assert_eq!(keep(rows.clone(), &later).len(), 2);
        let earlier = Filter {
            to_ms: from,
            ..Default::default()
        };
        assert_eq!(keep(rows, &earlier).len(), 1);
        assert!(list_sql(&later, "recorded_at")
            .unwrap()
            .ends_with(&format!("LIMIT {SCAN_LIMIT}")));
        let plain = list_sql(&Filter::default(), "written_at").unwrap();
        assert!(!plain.contains("WHERE"));
        assert!(plain.contains("written_at AS recorded_at"), "{plain}");
        assert_eq!(
            time_column(&["kind".into(), "written_at".into()]),
            "written_at"
        );
        assert_eq!(
            time_column(&["kind".into(), "recorded_at".into()]),
            "recorded_at"
        );
    }

    #[test]
    fn a_row_names_its_dead_letter_as_the_runner_does() {
        let row = json!({"kind": "late", "source": "shop.order_placed", "partition": 2,
            "offset": 41, "aggregation": "revenue"});
        assert_eq!(id_of(&row), "late/shop.order_placed/2/41/revenue");
        let row = json!({"kind": "malformed", "source": "shop.order_placed", "partition": 0,
            "offset": 7, "aggregation": null});
        assert_eq!(
            id_of(&row),
            sluice_kafka::dlq::dead_letter_id("malformed", "shop.order_placed", 0, 7, None)
        );
        let row = json!({"kind": "malformed", "source": "s", "partition": 0, "offset": 7,
            "aggregation": ""});
        assert_eq!(id_of(&row), "malformed/s/0/7/");
    }

    #[test]
    fn detail_shows_hex_text_and_json() {
        let payload = br#"{"event_id": "e1", "amount": 3}"#;
        let hex: String = payload.iter().map(|b| format!("{b:02X}")).collect();
        let d = detail(json!({"kind": "malformed", "payload_hex": hex}), None);
        assert_eq!(d["bytes"], 31);
        assert_eq!(d["decoded"]["event_id"], "e1");
        assert!(d["hex"].as_str().unwrap().starts_with("00000000  7b 22 65"));
        assert!(d.get("payload_hex").is_none());
        // binary: no text, no JSON, still hex
        let d = detail(json!({"payload_hex": "00FF10"}), None);
        assert_eq!(d["decoded"], Value::Null);
        assert_eq!(d["text"], Value::Null);
        assert!(d["hex"].as_str().unwrap().contains("00 ff 10"));
        assert_eq!(unhex("0g"), None);
    }

    #[test]
    fn avro_records_decode_plain_and_in_wire_format() {
        let schema = r#"{"type": "record", "name": "e", "fields": [
            {"name": "event_id", "type": "string"}, {"name": "n", "type": "long"}]}"#;
        // "e1" (length 2 → zigzag 4), 3 → 6
        let datum = [4u8, b'e', b'1', 6];
        let v = decode_avro(&datum, schema).unwrap();
        assert_eq!(v, json!({"event_id": "e1", "n": 3}));
        let mut wire = vec![0u8, 0, 0, 0, 7];
        wire.extend_from_slice(&datum);
        assert_eq!(decode_avro(&wire, schema), Some(v));
        // a truncated record, or bytes left over: not decoded
        assert_eq!(decode_avro(&datum[..3], schema), None);
        assert_eq!(decode_avro(&[4, b'e', b'1', 6, 9], schema), None);
        let hex: String = datum.iter().map(|b| format!("{b:02x}")).collect();
        let d = detail(json!({"payload_hex": hex}), Some(schema));
        assert_eq!(d["decoded"]["n"], 3);
        assert_eq!(d["decoded_as"], "avro");
    }
}
