//! The console's routes: the page, its assets, the login page and the JSON
//! API, behind the access rules ([`crate::access`]). Store reads run on the
//! blocking pool; every failure answers JSON `{"error": ...}` the page
//! shows as its error state.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_core::WindowSpec;

use crate::access::{Access, Decision, RequestFacts, CSRF_HEADER, TOKEN_COOKIE};
use crate::{assets, config_view, dead_letters, pipeline, results, ConsoleState};

#[derive(Clone)]
struct App {
    state: Arc<ConsoleState>,
    access: Arc<Access>,
}

/// The router of one console.
pub fn router(state: Arc<ConsoleState>, access: Arc<Access>) -> Router {
    let app = App { state, access };
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .route("/assets/{file}", get(asset))
        .route("/api/overview", get(overview))
        .route("/api/pipeline", get(pipeline_now))
        .route("/api/pipeline/stream", get(pipeline_stream))
        .route("/api/results/{aggregation}", get(result_series))
        .route("/api/results/{aggregation}/csv", get(result_csv))
        .route("/api/dead-letters", get(dead_letter_list))
        .route("/api/dead-letters/detail", get(dead_letter_detail))
        .route("/api/dead-letters/replay", post(dead_letter_replay))
        .route("/api/config", get(config))
        .route("/api/config/compat", get(config_compat))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

fn header_str(h: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let facts = RequestFacts {
        method: req.method().as_str(),
        path: req.uri().path(),
        host: header_str(h, header::HOST),
        origin: header_str(h, header::ORIGIN),
        authorization: header_str(h, header::AUTHORIZATION),
        cookie: header_str(h, header::COOKIE),
        csrf: header_str(h, CSRF_HEADER),
    };
    match app.access.decide(&facts) {
        Decision::Allow => next.run(req).await,
        Decision::Unauthenticated if !facts.path.starts_with("/api/") => {
            Redirect::to("/login").into_response()
        }
        Decision::Unauthenticated => error(StatusCode::UNAUTHORIZED, "an access token is required"),
        Decision::Forbidden(why) => error(StatusCode::FORBIDDEN, why),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn index(State(app): State<App>) -> Response {
    let page = assets::INDEX.replace("{{csrf}}", app.access.csrf());
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ],
        Html(page),
    )
        .into_response()
}

async fn login_page(State(app): State<App>) -> Response {
    if !app.access.token_required() {
        return Redirect::to("/").into_response();
    }
    Html(assets::LOGIN.replace("{{message}}", "")).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<App>, Form(f): Form<LoginForm>) -> Response {
    if app.access.token_matches(f.token.trim()) {
        let cookie = format!(
            "{TOKEN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            f.token.trim()
        );
        ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Html(assets::LOGIN.replace(
                "{{message}}",
                "<p class=\"bad\">That is not the access token.</p>",
            )),
        )
            .into_response()
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::get(&file) {
        Some((body, mime)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// Runs a store read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, &e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

async fn overview(State(app): State<App>) -> Json<Value> {
    let s = &app.state;
    let domains: Vec<String> = s
        .config
        .as_ref()
        .map(|c| c.domains.iter().map(|d| d.domain.value.clone()).collect())
        .unwrap_or_default();
    let live = s.live.lock().map(|l| l.is_some()).unwrap_or(false);
    Json(json!({
        "domains": domains,
        "domain": s.domain.clone().or_else(|| domains.first().cloned()),
        "live": live,
        "problems": s.problems.len(),
        "token_required": app.access.token_required(),
        "replay": s.replay && s.kafka.is_some(),
        "registry": s.kafka.is_some(),
    }))
}

async fn pipeline_now(State(app): State<App>) -> Response {
    let state = app.state.clone();
    match blocking(move || Ok(pipeline::snapshot(&state))).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn pipeline_stream(
    State(app): State<App>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let state = app.state.clone();
    let stream = futures_util::stream::unfold((state, true), |(state, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let s = state.clone();
        let v = tokio::task::spawn_blocking(move || pipeline::snapshot(&s))
            .await
            .unwrap_or_else(|e| json!({"mode": "none", "reason": e.to_string()}));
        let ev = Event::default().event("snapshot").data(v.to_string());
        Some((Ok(ev), (state, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize, Default)]
struct ResultParams {
    domain: Option<String>,
    top: Option<usize>,
    group: Option<String>,
    value: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The aggregation's table, dims and window kind.
fn aggregation_table(
    state: &ConsoleState,
    domain: Option<&str>,
    name: &str,
) -> Result<(sluice_connectors::TableSpec, WindowSpec), String> {
    let d = state.domain_config(domain)?;
    let a = d
        .aggregations
        .iter()
        .find(|a| a.name.value == name)
        .ok_or_else(|| format!("no aggregation `{name}` in `{}`", d.domain.value))?;
    Ok((sluice_runtime::plan::table_spec(d, a), a.window.value))
}

fn time_param(s: &Option<String>) -> Option<i64> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(results::time_text_ms)
}

async fn result_series(
    State(app): State<App>,
    Path(aggregation): Path<String>,
    Query(p): Query<ResultParams>,
) -> Response {
    let state = app.state.clone();
    let r = blocking(move || {
        let (spec, window) = aggregation_table(&state, p.domain.as_deref(), &aggregation)?;
        let sql = format!(
            "SELECT * FROM \"{}\" ORDER BY window_start DESC LIMIT {}",
            spec.name,
            results::ROW_LIMIT
        );
        let rows = state.query(&sql)?;
        let dims: Vec<String> = spec.dims.iter().map(|c| c.name.clone()).collect();
        let shape = match window {
            WindowSpec::Sliding { .. } | WindowSpec::Cumulative { .. } => results::Shape::End,
            WindowSpec::Session { .. } => results::Shape::Session,
            WindowSpec::Tumbling { .. } => results::Shape::Start,
        };
        let q = results::SeriesQuery {
            top: p.top.unwrap_or(8).min(50),
            group: p.group.clone().filter(|g| !g.is_empty()),
            value: p.value.clone(),
            from_ms: time_param(&p.from),
            to_ms: time_param(&p.to),
        };
        let s = results::series(&rows, &q, &dims, shape);
        let table = sluice_connectors::QueryResult {
            columns: rows.columns.clone(),
            rows: rows.rows.iter().take(200).cloned().collect(),
        };
        Ok(json!({
            "aggregation": aggregation,
            "table": spec.name,
            "kind": spec.kind.to_string(),
            "window": window.type_name(),
            "dims": dims,
            "chart": s,
            "rows": dead_letters::rows(&table),
            "columns": table.columns,
        }))
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn result_csv(
    State(app): State<App>,
    Path(aggregation): Path<String>,
    Query(p): Query<ResultParams>,
) -> Response {
    let state = app.state.clone();
    let name = aggregation.clone();
    let r = blocking(move || {
        let (spec, _) = aggregation_table(&state, p.domain.as_deref(), &aggregation)?;
        let rows = state.query(&format!(
            "SELECT * FROM \"{}\" ORDER BY window_start, window_end",
            spec.name
        ))?;
        Ok(results::csv(&rows))
    })
    .await;
    match r {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => e,
    }
}

#[derive(Deserialize, Default)]
struct DeadLetterParams {
    kind: Option<String>,
    reason: Option<String>,
    source: Option<String>,
    aggregation: Option<String>,
    partition: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn dead_letter_list(State(app): State<App>, Query(p): Query<DeadLetterParams>) -> Response {
    let state = app.state.clone();
    // a filter given must read, else the list would silently ignore it
    let time = |t: &Option<String>| match time_param(t) {
        None if t.as_deref().is_some_and(|t| !t.trim().is_empty()) => Err(()),
        ms => Ok(ms),
    };
    let (Ok(from_ms), Ok(to_ms)) = (time(&p.from), time(&p.to)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a time filter is not a time (expected e.g. 2026-12-04 10:30 or 2026-12-04T10:30:00Z)",
        );
    };
    let partition = match p
        .partition
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the partition filter is not a whole number",
                )
            }
        },
    };
    let r = blocking(move || {
        let f = dead_letters::Filter {
            kind: p.kind,
            reason: p.reason,
            source: p.source,
            aggregation: p.aggregation,
            partition,
            from_ms,
            to_ms,
        };
        let time = dead_letters::time_column(&state.query(&dead_letters::columns_sql())?.columns);
        let rows = state.query(&dead_letters::list_sql(&f, time)?)?;
        let kinds = state.query(&dead_letters::kinds_sql())?;
        let mut shown = dead_letters::keep(dead_letters::rows(&rows), &f);
        for r in &mut shown {
            r["id"] = json!(dead_letters::id_of(r));
        }
        Ok(json!({
            "rows": shown,
            "kinds": dead_letters::rows(&kinds),
            "all_kinds": dead_letters::KINDS,
            "limit": dead_letters::LIST_LIMIT,
        }))
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

#[derive(Deserialize)]
struct DetailParams {
    source: String,
    partition: i64,
    offset: i64,
    kind: String,
    #[serde(default)]
    aggregation: String,
}

async fn dead_letter_detail(State(app): State<App>, Query(p): Query<DetailParams>) -> Response {
    let state = app.state.clone();
    let r = blocking(move || {
        let time = dead_letters::time_column(&state.query(&dead_letters::columns_sql())?.columns);
        let sql = dead_letters::detail_sql(
            &p.source,
            p.partition,
            p.offset,
            &p.kind,
            &p.aggregation,
            time,
        )?;
        let rows = state.query(&sql)?;
        let row = dead_letters::rows(&rows)
            .into_iter()
            .next()
            .ok_or_else(|| "no such dead letter".to_string())?;
        let schema = row["event_type"]
            .as_str()
            .and_then(|et| event_schema(&state, et));
        Ok(dead_letters::detail(row, schema.as_deref()))
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

#[derive(Deserialize)]
struct ReplayRequest {
    domain: Option<String>,
    ids: Vec<String>,
}

/// Replays the selected dead letters into their source topics and answers
/// what happened to each.
async fn dead_letter_replay(State(app): State<App>, Json(req): Json<ReplayRequest>) -> Response {
    if req.ids.is_empty() {
        return error(StatusCode::BAD_REQUEST, "select at least one dead letter");
    }
    if req.ids.len() > dead_letters::LIST_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "too many dead letters in one replay (at most {})",
                dead_letters::LIST_LIMIT
            ),
        );
    }
    let state = app.state.clone();
    let r = blocking(move || {
        let domain = req
            .domain
            .or_else(|| state.domain.clone())
            .ok_or("no domain")?;
        let s = state.replay(&domain, &req.ids)?;
        Ok(json!({
            "replayed": s.replayed,
            "already": s.duplicates,
            "refused": s.refused,
            "truncated": s.truncated,
            "skipped": s.skipped,
            "by_topic": s.by_topic,
            "outcomes": s.outcomes,
        }))
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

/// The Avro schema sluice generates for `event_type` of the shown domain.
fn event_schema(state: &ConsoleState, event_type: &str) -> Option<String> {
    let cfg = state.config.as_ref()?;
    let d = match state.domain.as_deref() {
        Some(n) => cfg.domain(n)?,
        None => cfg.domains.first()?,
    };
    let i = d
        .event_types
        .iter()
        .position(|et| et.name.value == event_type)?;
    let layout = d.layouts().into_iter().nth(i)?;
    Some(sluice_schema::avro::record_schema_json(&layout))
}

#[derive(Deserialize, Default)]
struct CompatParams {
    domain: Option<String>,
}

async fn config_compat(State(app): State<App>, Query(p): Query<CompatParams>) -> Response {
    let state = app.state.clone();
    match blocking(move || state.compat(p.domain.as_deref())).await {
        Ok(rows) => Json(json!({"event_types": rows})).into_response(),
        Err(e) => e,
    }
}

async fn config(State(app): State<App>) -> Json<Value> {
    Json(config_view::view(&app.state))
}
