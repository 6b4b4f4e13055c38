//! `sluice bench file`: a JSON lines file replayed through `sluice run
//! --source file:...`'s path (parallel projecting parser → engine → DuckDB)
//! against DuckDB's own `read_json` + `GROUP BY time_bucket(...)` on the
//! same file, both on every core, in the same run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sluice_config::{AggregationConfig, Config, DomainConfig, Pos, SourceMap, Spanned};
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::json_parallel::ParallelJsonSource;
use sluice_core::{AggregateKind, HumanDuration, WindowSpec};
use sluice_generator::{Generator, GeneratorOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};

use crate::report::{check, ratio, BenchError, Measured, Report};

/// What `sluice bench file` is asked.
#[derive(Clone, Debug)]
pub struct FileBench {
    /// Replay the domain's configured aggregations (DuckDB then reads the
    /// same fields and counts per minute and event type) instead of the
    /// three fixed ones.
    pub configured: bool,
    /// Events in the file.
    pub events: u64,
    /// Where the file and the DuckDB database are written.
    pub dir: PathBuf,
    /// Parser threads for sluice and DuckDB alike.
    pub threads: usize,
}

fn spanned<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Pos::default())
}

fn bench_aggregation(name: &str, kind: AggregateKind, field: Option<&str>) -> AggregationConfig {
    AggregationConfig {
        name: spanned(name.to_string()),
        kind: spanned(kind),
        field: field.map(|f| spanned(f.to_string())),
        quantiles: Vec::new(),
        event_types: Vec::new(),
        window: spanned(WindowSpec::Tumbling {
            size: HumanDuration::from_millis(60_000),
        }),
        group_by: vec![spanned("device_type".to_string())],
        filter: Vec::new(),
        watermark_delay: None,
        allowed_lateness: None,
        sink_table: spanned(name.to_string()),
        pos: Pos::default(),
    }
}

/// The three fixed aggregations of `bench file` in place of the domain's.
fn fixed_file_plan(d: &mut DomainConfig) -> Result<(), BenchError> {
    d.aggregations = vec![
        bench_aggregation("bench_count", AggregateKind::Count, None),
        bench_aggregation("bench_revenue", AggregateKind::Sum, Some("amount")),
        bench_aggregation(
            "bench_users",
            AggregateKind::ApproxCountDistinct,
            Some("user_id"),
        ),
    ];
    let sources = SourceMap::default();
    let mut rep = sluice_config::Reporter::new(&sources);
    sluice_config::validate::domain(d, &mut rep);
    let diags = rep.finish();
    if diags.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Usage(format!(
            "bench aggregations invalid: {diags}"
        )))
    }
}

/// DuckDB computing the fixed plan on the file (its fastest setup: the
/// columns given); fails unless its counts and sums equal sluice's in `db`.
/// Returns DuckDB's seconds.
fn fixed_file_duckdb(
    conn: &duckdb::Connection,
    file_sql: &str,
    db: &Path,
) -> Result<f64, BenchError> {
    let q = format!(
        "CREATE TABLE r AS SELECT time_bucket(INTERVAL 1 minute, epoch_ms(event_time)) AS w, device_type, \
         count(*) AS n, sum(amount) AS revenue, approx_count_distinct(user_id) AS users \
         FROM read_json('{file_sql}', format = 'newline_delimited', columns = {{event_time: 'BIGINT', device_type: 'VARCHAR', amount: 'BIGINT', user_id: 'VARCHAR'}}) \
         GROUP BY ALL"
    );
    let t0 = Instant::now();
    conn.execute_batch(&q)?;
    let duck_secs = t0.elapsed().as_secs_f64();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS s (READ_ONLY)",
        db.display().to_string().replace('\'', "''")
    ))?;
    let mismatches: i64 = conn.query_row(
        "SELECT count(*) FROM r FULL OUTER JOIN (SELECT c.window_start AS w, c.device_type, c.value AS n, v.value AS revenue \
           FROM s.bench_count c LEFT JOIN s.bench_revenue v USING (window_start, device_type)) x USING (w, device_type) \
         WHERE r.n IS DISTINCT FROM x.n OR coalesce(r.revenue, 0) IS DISTINCT FROM coalesce(x.revenue, 0)",
        [],
        |r| r.get(0),
    )?;
    check(mismatches == 0, || {
        format!("sluice and DuckDB disagree on {mismatches} (window, device_type) groups")
    })?;
    Ok(duck_secs)
}

/// DuckDB reading every field the plan reads and counting per minute and
/// event type: the same scan, a simpler aggregation. Returns what it did
/// and its seconds.
fn configured_file_duckdb(
    conn: &duckdb::Connection,
    file_sql: &str,
    plan: &sluice_engine::EnginePlan,
    n: u64,
) -> Result<(String, f64), BenchError> {
    let mut fields: Vec<String> = vec!["event_time".into(), "event_type".into()];
    for f in sluice_runtime::plan::needed_fields(plan).concat() {
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    let columns: Vec<String> = fields
        .iter()
        .map(|f| {
            let ty = if f == "event_time" {
                "BIGINT"
            } else {
                "VARCHAR"
            };
            format!("\"{f}\": '{ty}'")
        })
        .collect();
    let touched: Vec<String> = fields[2..]
        .iter()
        .map(|f| format!(", count(\"{f}\")"))
        .collect();
    let q = format!(
        "CREATE TABLE r AS SELECT time_bucket(INTERVAL 1 minute, epoch_ms(event_time)) AS w, event_type, count(*) AS n{} \
         FROM read_json('{file_sql}', format = 'newline_delimited', columns = {{{}}}) GROUP BY ALL",
        touched.concat(),
        columns.join(", ")
    );
    let t0 = Instant::now();
    conn.execute_batch(&q)?;
    let secs = t0.elapsed().as_secs_f64();
    let total: i64 = conn.query_row("SELECT sum(n)::BIGINT FROM r", [], |r| r.get(0))?;
    check(total as u64 == n, || {
        format!("DuckDB read {total} of {n} records")
    })?;
    Ok((
        format!(
            "DuckDB read_json of the same {} fields + count per minute and event type",
            fields.len()
        ),
        secs,
    ))
}

/// Runs `sluice bench file` on the configuration's first domain.
pub fn file(
    cfg: &Config,
    req: &FileBench,
    note: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    let mut d = cfg
        .domains
        .first()
        .ok_or_else(|| BenchError::Usage("no domain to measure".into()))?
        .clone();
    let measured = if req.configured {
        Measured::domain(&d)
    } else {
        fixed_file_plan(&mut d)?;
        Measured::fixed(
            "count, sum(amount) and approx_count_distinct(user_id) per device_type, tumbling 1 minute, on ecommerce events",
            &["bench_count", "bench_revenue", "bench_users"],
        )
    };
    std::fs::create_dir_all(&req.dir)?;
    let path = req.dir.join("events.jsonl");
    note(&format!(
        "writing {} {} events as JSON lines to {} ...",
        req.events,
        d.domain.value,
        path.display()
    ));
    let mut g = Generator::new(&d, GeneratorOptions::events(1, req.events))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let summary = g.write_to(sluice_generator::Format::Jsonl, &mut w, &mut |_| {})?;
    drop(w);
    let n = summary.records;
    let file_bytes = std::fs::metadata(&path)?.len();
    let threads = req.threads;

    // sluice: the same path `sluice run --source file:...` takes
    let built = sluice_runtime::plan::build(&d, &cfg.platform.engine, &[])?;
    let plan = built.plan.clone();
    let projected = sluice_runtime::plan::projected(&built);
    let db = req.dir.join("sluice.duckdb");
    std::fs::remove_file(&db).ok();
    let t0 = Instant::now();
    let src =
        ParallelJsonSource::assisted(vec![path.clone()], projected.plan.layouts.clone(), threads);
    let sink = DuckDbSink::open(&db.to_string_lossy())?;
    let s = pipeline::run(
        projected,
        Box::new(src),
        Box::new(sink),
        PipelineOptions::default(),
        Arc::new(Stats::default()),
    )?;
    let sluice_secs = t0.elapsed().as_secs_f64();
    check(s.records_in == n && s.malformed == 0, || {
        format!(
            "sluice read {} of {n} records ({} malformed)",
            s.records_in, s.malformed
        )
    })?;

    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&format!("SET threads = {threads}"))?;
    let file_sql = path.display().to_string().replace('\'', "''");
    let (baseline, duck_secs) = if req.configured {
        configured_file_duckdb(&conn, &file_sql, &plan, n)?
    } else {
        let secs = fixed_file_duckdb(&conn, &file_sql, &db)?;
        (
            "DuckDB read_json + GROUP BY time_bucket (the same three aggregations; results agree)"
                .to_string(),
            secs,
        )
    };

    let sluice_rate = n as f64 / sluice_secs;
    let duck_rate = n as f64 / duck_secs;
    let json = json!({
        "measured": measured.json(),
        "baseline": baseline,
        "events": n,
        "file_bytes": file_bytes,
        "threads": threads,
        "results": s.results,
        "sluice_events_per_sec": sluice_rate.round(),
        "duckdb_events_per_sec": duck_rate.round(),
        "ratio": ratio(sluice_rate / duck_rate),
    });
    let text = format!(
        "JSON lines replay, {n} {} events ({:.0} MiB), {threads} threads; {}\n  sluice run (file source → engine → DuckDB): {sluice_rate:>12.0} events/s ({sluice_secs:.2}s, {} results)\n  {baseline}: {duck_rate:>12.0} events/s ({duck_secs:.2}s)\n  ratio: {:.2}\n",
        d.domain.value,
        file_bytes as f64 / 1048576.0,
        measured.plan,
        s.results,
        sluice_rate / duck_rate
    );
    Ok(Report { json, text })
}
