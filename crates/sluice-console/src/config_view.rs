//! The Config page's data: each domain as loaded (entity, event types
//! with their fields and generated Avro schemas, aggregations with their
//! windows and result tables) and every validation problem at
//! file:line:col with what was expected and the suggestion. Platform
//! settings (addresses, credentials) are never included.

use serde_json::{json, Value};
use sluice_config::Diagnostic;

use crate::ConsoleState;

/// One problem, for the page.
pub fn problem(d: &Diagnostic) -> Value {
    json!({
        "file": d.file.display().to_string(),
        "line": d.line,
        "col": d.col,
        "path": d.path,
        "message": d.message,
        "expected": d.expected,
        "suggestion": d.suggestion,
    })
}

/// Domains, schemas, aggregations and problems.
pub fn view(state: &ConsoleState) -> Value {
    let problems: Vec<Value> = state.problems.iter().map(problem).collect();
    let Some(cfg) = &state.config else {
        return json!({"domains": [], "problems": problems, "sink": Value::Null});
    };
    let domains: Vec<Value> = cfg
        .domains
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            let schemas: serde_json::Map<String, Value> = d
                .event_types
                .iter()
                .zip(d.layouts())
                .map(|(et, layout)| {
                    (
                        et.name.value.clone(),
                        sluice_schema::avro::record_schema(&layout),
                    )
                })
                .collect();
            if let Value::Object(m) = &mut v {
                m.insert("schemas".into(), Value::Object(schemas));
                m.remove("generator");
            }
            v
        })
        .collect();
    let sinks = &cfg.platform.sinks;
    let sink = match sinks.default.as_str() {
        "duckdb" => json!({"type": "duckdb", "path": sinks.duckdb.path}),
        "clickhouse" => json!({"type": "clickhouse", "database": sinks.clickhouse.database}),
        other => json!({"type": other}),
    };
    json!({
        "domains": domains,
        "problems": problems,
        "sink": sink,
        "shown": state.domain,
    })
}
