//! `sluice bench`: throughput figures, each against a baseline measured in
//! the same run (these machines are noisy; ratios travel better than rates).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use sluice_config::{AggregationConfig, Config, Pos, SourceMap, Spanned};
use sluice_connectors::sink::duckdb::DuckDbSink;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_connectors::source::json_parallel::ParallelJsonSource;
use sluice_core::{AggregateKind, HumanDuration, WindowSpec};
use sluice_engine::RawBatch;
use sluice_generator::{Generator, GeneratorOptions};
use sluice_runtime::pipeline::{self, PipelineOptions, Stats};

use crate::Cli;

/// Arguments of `sluice bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// The native engine on pre-encoded Avro events in memory, one core:
    /// three fixed ecommerce cases, or with `--domain` the domain's whole
    /// plan and each of its aggregations alone.
    Engine {
        /// Measure this domain's configured aggregations instead of the
        /// three fixed cases.
        #[arg(long)]
        domain: Option<String>,
        /// Events.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Runs per measurement (the best counts).
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The cost of metrics: the engine (fixed case a, or `--domain`'s plan)
    /// with the pipeline's per-batch metric recording, Prometheus recorder
    /// installed, versus the same loop without recording, alternating runs.
    Metrics {
        /// Measure this domain's configured aggregations instead of case (a).
        #[arg(long)]
        domain: Option<String>,
        /// Events.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Runs of each (the best counts).
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Producing to and consuming from a real Kafka broker (start it with
    /// `scripts/services.sh start kafka registry`).
    Kafka(super::kafka_bench::KafkaBenchArgs),
    /// Kafka → pipeline → ClickHouse end to end: events/s and how soon a
    /// closed window is readable in the final view (`scripts/services.sh
    /// start all`).
    E2e(super::e2e_bench::E2eBenchArgs),
    /// Replaying a JSON lines file through `sluice run` versus DuckDB's
    /// `read_json` + `GROUP BY time_bucket(...)`, both on every core: three
    /// fixed ecommerce aggregations, or with `--domain` the domain's own.
    File {
        /// Replay this domain's events through its configured aggregations
        /// (DuckDB then reads the same fields and counts per minute and
        /// event type) instead of the three fixed ones.
        #[arg(long)]
        domain: Option<String>,
        /// Events in the file.
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Keep the generated file here instead of a temporary directory.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

fn generate_batches(cfg: &Config, domain: &str, n: u64) -> anyhow::Result<Vec<RawBatch>> {
    let opts = GeneratorOptions::events(1, n);
    let mut src = GeneratorSource::new(Generator::from_config(cfg, domain, opts)?, domain);
    Ok(sluice_connectors::source::read_all(&mut src, 8192)?)
}

/// What a bench measures: a fixed plan (the default) or a domain's.
pub(super) struct Measured {
    /// Domain whose events are generated.
    domain: String,
    /// One line for humans: which plan.
    pub(super) plan: String,
    /// The aggregations' names.
    aggregations: Vec<String>,
}

impl Measured {
    fn fixed(plan: &str, aggregations: &[&str]) -> Self {
        Self {
            domain: "ecommerce".into(),
            plan: format!("fixed plan: {plan}"),
            aggregations: aggregations.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub(super) fn domain(d: &sluice_config::DomainConfig) -> Self {
        let aggregations: Vec<String> = d
            .aggregations
            .iter()
            .map(|a| a.name.value.clone())
            .collect();
        Self {
            domain: d.domain.value.clone(),
            plan: format!(
                "domain `{}`: its {} configured aggregation{} ({})",
                d.domain.value,
                aggregations.len(),
                if aggregations.len() == 1 { "" } else { "s" },
                aggregations.join(", ")
            ),
            aggregations,
        }
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({ "domain": self.domain, "plan": self.plan, "aggregations": self.aggregations })
    }
}

/// The domain `--domain` names (loaded alone), or ecommerce for the fixed plans.
fn bench_config(cli: &Cli, domain: Option<&str>) -> anyhow::Result<Config> {
    let name = domain.unwrap_or("ecommerce").to_string();
    let cfg = super::load(cli, std::slice::from_ref(&name))?;
    anyhow::ensure!(cfg.domain(&name).is_some(), "unknown domain `{name}`");
    Ok(cfg)
}

/// The bench's configuration and `events` of its domain's events,
/// generated as Avro batches in memory.
fn in_memory(
    cli: &Cli,
    domain: Option<&str>,
    events: u64,
) -> anyhow::Result<(Config, Vec<RawBatch>)> {
    let cfg = bench_config(cli, domain)?;
    let name = cfg.domains.first().context("domain")?.domain.value.clone();
    eprintln!("generating {events} {name} events (Avro, in memory)...");
    let batches = generate_batches(&cfg, &name, events)?;
    Ok((cfg, batches))
}

fn metrics_cost(
    cli: &Cli,
    domain: Option<&str>,
    events: u64,
    rounds: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    let (cfg, batches) = in_memory(cli, domain, events)?;
    let d = cfg.domains.first().context("domain")?;
    let layouts = d.layouts();
    let (plan, tables, measured) = if domain.is_some() {
        let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
        (built.plan, built.tables, Measured::domain(d))
    } else {
        let built = sluice_runtime::plan::build(
            d,
            &cfg.platform.engine,
            &["events_by_device_and_type".to_string()],
        )?;
        (
            sluice_bench::engine::case_tumbling_count(&layouts),
            built.tables,
            Measured::fixed(
                "engine case (a), tumbling 1 minute count by device_type and event_type",
                &["events_per_minute"],
            ),
        )
    };
    let event_types: Vec<String> = layouts.iter().map(|l| l.event_type.clone()).collect();
    let handle = sluice_runtime::observe::install_recorder(&d.domain.value, &[])?;
    let run = |record: bool| -> anyhow::Result<f64> {
        let mut engine = sluice_engine::Engine::new(plan.clone())?;
        let mut out = sluice_engine::Output::new();
        let m = sluice_runtime::pipeline::BatchMetrics::new("generator", &event_types, &tables);
        let t = std::time::Instant::now();
        for b in &batches {
            engine.process(b, &mut out);
            if record {
                m.batch(b, 0);
                m.results(&out.results);
            }
            out.clear();
        }
        engine.finish(&mut out);
        Ok(events as f64 / t.elapsed().as_secs_f64().max(1e-9))
    };
    let (mut off, mut on) = (0.0f64, 0.0f64);
    // alternate, and swap which goes first each round, so drift and
    // warm-up favour neither
    for i in 0..rounds {
        if i % 2 == 0 {
            off = off.max(run(false)?);
            on = on.max(run(true)?);
        } else {
            on = on.max(run(true)?);
            off = off.max(run(false)?);
        }
    }
    // the recorder really counted
    let rendered = handle.render();
    anyhow::ensure!(
        rendered.contains(sluice_core::metrics::EVENTS_IN_TOTAL),
        "the recorder saw no events"
    );
    let out = json!({
        "measured": measured.json(),
        "events": events,
        "metrics_off_events_per_sec": off.round(),
        "metrics_on_events_per_sec": on.round(),
        "ratio": (on / off * 1000.0).round() / 1000.0,
    });
    if as_json {
        println!("{out}");
    } else {
        println!("{}, one core, best of {rounds}", measured.plan);
        println!(
            "  metrics off {off:.0} events/s, on {on:.0} events/s, ratio {:.3}",
            on / off
        );
    }
    Ok(())
}

fn engine(
    cli: &Cli,
    domain: Option<&str>,
    events: u64,
    rounds: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    let (cfg, batches) = in_memory(cli, domain, events)?;
    let d = cfg.domains.first().context("domain")?;
    let layouts = d.layouts();
    let (cases, measured): (Vec<(String, sluice_engine::EnginePlan)>, Measured) = if domain
        .is_some()
    {
        // the whole plan, then each aggregation alone: what each costs
        let mut cases = vec![(
            format!("all {} aggregations", d.aggregations.len()),
            sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?.plan,
        )];
        for a in &d.aggregations {
            let name = a.name.value.clone();
            let plan =
                sluice_runtime::plan::build(d, &cfg.platform.engine, std::slice::from_ref(&name))?
                    .plan;
            cases.push((name, plan));
        }
        (cases, Measured::domain(d))
    } else {
        let cases = sluice_bench::engine::standard_cases(&layouts)
            .into_iter()
            .map(|(n, p)| (n.to_string(), p))
            .collect();
        (
            cases,
            Measured::fixed(
                "three standard cases on ecommerce events",
                &[
                    "tumbling_count_by_device_event_type",
                    "sliding_sum_amount_by_country",
                    "tumbling_approx_distinct_users_by_platform",
                ],
            ),
        )
    };
    let report = sluice_bench::engine::run_cases(&cases, &batches, rounds)?;
    // one decode-only baseline over the same bytes, reading every field any case reads
    // (the domain's whole plan is the first case and reads them all)
    let mut union = cases[0].1.clone();
    if domain.is_none() {
        for (_, p) in cases.iter().skip(1) {
            union.aggregations.extend(p.aggregations.iter().cloned());
        }
    }
    let decode = sluice_bench::engine::measure_decode(&union, &batches, rounds)?;
    let cases: Vec<_> = report
        .cases
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "events_per_sec": c.events_per_sec.round(),
                "ratio_to_decode_only": (c.events_per_sec / decode * 1000.0).round() / 1000.0,
                "decode_same_fields_events_per_sec": c.decode_events_per_sec.round(),
                "ratio_to_decode_same_fields": (c.ratio_to_decode * 1000.0).round() / 1000.0,
                "state_bytes": c.state_bytes,
                "open_groups": c.open_groups,
            })
        })
        .collect();
    let out = json!({
        "measured": measured.json(),
        "events": report.records,
        "mean_record_bytes": (report.mean_record_bytes * 10.0).round() / 10.0,
        "decode_only_events_per_sec": decode.round(),
        "cases": cases,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "engine, one core, {} {} events of {:.1} bytes, best of {rounds}; {}",
            report.records, measured.domain, report.mean_record_bytes, measured.plan
        );
        println!(
            "  {:<44} {:>12.0} events/s",
            "decode only (every field the cases read)", decode
        );
        for c in &report.cases {
            println!(
                "  {:<44} {:>12.0} events/s  {:.2}x decode-only  ({:.2}x decoding the same fields)",
                c.name,
                c.events_per_sec,
                c.events_per_sec / decode,
                c.ratio_to_decode
            );
        }
    }
    Ok(())
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

fn file(
    cli: &Cli,
    domain: Option<&str>,
    events: u64,
    as_json: bool,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let cfg = bench_config(cli, domain)?;
    let mut d = cfg.domains.first().context("domain")?.clone();
    let measured = if domain.is_some() {
        Measured::domain(&d)
    } else {
        Measured::fixed(
            "count, sum(amount) and approx_count_distinct(user_id) per device_type, tumbling 1 minute, on ecommerce events",
            &["bench_count", "bench_revenue", "bench_users"],
        )
    };
    if domain.is_none() {
        fixed_file_plan(&mut d)?;
    }
    let tmp = tempfile_dir(dir)?;
    let path = tmp.join("events.jsonl");
    eprintln!(
        "writing {events} {} events as JSON lines to {} ...",
        d.domain.value,
        path.display()
    );
    let opts = GeneratorOptions::events(1, events);
    let mut g = Generator::new(&d, opts)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let summary = g.write_to(sluice_generator::Format::Jsonl, &mut w, &mut |_| {})?;
    drop(w);
    let n = summary.records;
    let file_bytes = std::fs::metadata(&path)?.len();
    let threads = super::parser_threads();

    // sluice: the same path `sluice run --source file:...` takes
    let built = sluice_runtime::plan::build(&d, &cfg.platform.engine, &[])?;
    let projected = sluice_runtime::plan::projected(&built);
    let db = tmp.join("sluice.duckdb");
    std::fs::remove_file(&db).ok();
    let t0 = Instant::now();
    let src =
        ParallelJsonSource::assisted(vec![path.clone()], projected.plan.layouts.clone(), threads);
    let sink = DuckDbSink::open(db.to_str().context("path")?)?;
    let s = pipeline::run(
        projected,
        Box::new(src),
        Box::new(sink),
        PipelineOptions::default(),
        Arc::new(Stats::default()),
    )?;
    let sluice_secs = t0.elapsed().as_secs_f64();
    anyhow::ensure!(
        s.records_in == n && s.malformed == 0,
        "sluice read {} of {n} records ({} malformed)",
        s.records_in,
        s.malformed
    );

    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&format!("SET threads = {threads}"))?;
    let file_sql = path.display().to_string().replace('\'', "''");
    let (baseline, duck_secs) = if domain.is_some() {
        // DuckDB reads every field the plan reads and counts per minute and
        // event type: the same scan, a simpler aggregation
        let mut fields: Vec<String> = vec!["event_time".into(), "event_type".into()];
        for f in sluice_runtime::plan::needed_fields(&built.plan).concat() {
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
        anyhow::ensure!(total as u64 == n, "DuckDB read {total} of {n} records");
        (
            format!(
                "DuckDB read_json of the same {} fields + count per minute and event type",
                fields.len()
            ),
            secs,
        )
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
    let out = json!({
        "measured": measured.json(),
        "baseline": baseline,
        "events": n,
        "file_bytes": file_bytes,
        "threads": threads,
        "results": s.results,
        "sluice_events_per_sec": sluice_rate.round(),
        "duckdb_events_per_sec": duck_rate.round(),
        "ratio": (sluice_rate / duck_rate * 1000.0).round() / 1000.0,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "JSON lines replay, {n} {} events ({:.0} MiB), {threads} threads; {}",
            d.domain.value,
            file_bytes as f64 / 1048576.0,
            measured.plan
        );
        println!("  sluice run (file source → engine → DuckDB): {sluice_rate:>12.0} events/s ({sluice_secs:.2}s, {} results)", s.results);
        println!("  {baseline}: {duck_rate:>12.0} events/s ({duck_secs:.2}s)");
        println!("  ratio: {:.2}", sluice_rate / duck_rate);
    }
    Ok(())
}

/// The three fixed aggregations of `bench file` in place of the domain's.
fn fixed_file_plan(d: &mut sluice_config::DomainConfig) -> anyhow::Result<()> {
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
    anyhow::ensure!(diags.is_empty(), "bench aggregations invalid: {diags}");
    Ok(())
}

/// DuckDB computing the fixed plan on the file (its fastest setup: the
/// columns given); fails unless its counts and sums equal sluice's in `db`.
/// Returns DuckDB's seconds.
fn fixed_file_duckdb(
    conn: &duckdb::Connection,
    file_sql: &str,
    db: &std::path::Path,
) -> anyhow::Result<f64> {
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
    anyhow::ensure!(
        mismatches == 0,
        "sluice and DuckDB disagree on {mismatches} (window, device_type) groups"
    );
    Ok(duck_secs)
}

fn tempfile_dir(dir: Option<std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    let d = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Runs the command.
pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    match &args.command {
        BenchCommand::Engine {
            domain,
            events,
            rounds,
            json,
        } => engine(cli, domain.as_deref(), *events, *rounds, *json),
        BenchCommand::Kafka(a) => super::kafka_bench::run(cli, a),
        BenchCommand::E2e(a) => super::e2e_bench::run(cli, a),
        BenchCommand::Metrics {
            domain,
            events,
            rounds,
            json,
        } => metrics_cost(cli, domain.as_deref(), *events, *rounds, *json),
        BenchCommand::File {
            domain,
            events,
            json,
            dir,
        } => {
            let keep = dir.is_some();
            let d = dir.clone();
            let r = file(cli, domain.as_deref(), *events, *json, d);
            if !keep {
                std::fs::remove_dir_all(
                    std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id())),
                )
                .ok();
            }
            r
        }
    }
}
