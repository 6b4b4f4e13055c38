//! The Pipeline page's data: a snapshot of the run in this process (its
//! live counters, as `sluice_runtime::observe::status` gives them), else
//! of the run another process serves at `/status` (`sluice ui --watch`),
//! else what the store's progress table says about the last run that
//! wrote it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::ConsoleState;

/// The live snapshot, `None` when no run was started by this process.
pub fn live(state: &ConsoleState) -> Option<Value> {
    let run = state
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()?;
    let started = (*state.started.lock().unwrap_or_else(|p| p.into_inner()))?;
    Some(sluice_runtime::observe::status(&run, started))
}

/// How long the watched run may take to answer.
const WATCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The `/status` of the run at `base` (e.g. `http://127.0.0.1:9464`).
pub fn watched(base: &str) -> Result<Value, String> {
    let url = format!("{}/status", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(WATCH_TIMEOUT))
        .build()
        .into();
    let mut resp = agent
        .get(&url)
        .call()
        .map_err(|e| format!("the run at {base} does not answer ({e})"))?;
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("the run at {base} sent no status ({e})"))?;
    serde_json::from_str(&body).map_err(|e| format!("the run at {base} sent no status ({e})"))
}

/// What the Pipeline page shows: the live run, else the watched run, else
/// the store's progress table (DuckDB keeps one), else why there is
/// nothing.
pub fn snapshot(state: &ConsoleState) -> Value {
    if let Some(v) = live(state) {
        return json!({"mode": "live", "run": v});
    }
    let mut watch_error = None;
    if let Some(base) = &state.watch {
        match watched(base) {
            Ok(v) => return json!({"mode": "remote", "url": base, "run": v}),
            Err(e) => watch_error = Some(e),
        }
    }
    match state.query(
        "SELECT table_name, flushes, rows, updated_at FROM _sluice_progress ORDER BY table_name",
    ) {
        Ok(r) => json!({
            "mode": "store",
            "watch_error": watch_error,
            "progress": crate::dead_letters::rows(&r),
        }),
        Err(e) => json!({
            "mode": "none",
            "reason": match watch_error {
                Some(w) => format!("{w}; {e}"),
                None => e,
            },
        }),
    }
}
