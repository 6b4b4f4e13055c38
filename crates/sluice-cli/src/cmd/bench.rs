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
    /// The native engine on pre-encoded ecommerce Avro events in memory, one core.
    Engine {
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
    /// The cost of metrics: the engine (case a) with the pipeline's
    /// per-batch metric recording, Prometheus recorder installed, versus
    /// the same loop without recording, alternating runs.
    Metrics {
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
    /// `read_json` + `GROUP BY time_bucket(...)`, both on every core.
    File {
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

fn generate_batches(cfg: &Config, n: u64) -> anyhow::Result<Vec<RawBatch>> {
    let opts = GeneratorOptions::events(1, n);
    let mut src =
        GeneratorSource::new(Generator::from_config(cfg, "ecommerce", opts)?, "ecommerce");
    Ok(sluice_connectors::source::read_all(&mut src, 8192)?)
}

fn metrics_cost(cli: &Cli, events: u64, rounds: u32, as_json: bool) -> anyhow::Result<()> {
    let cfg = super::load(cli, &["ecommerce".to_string()])?;
    let d = cfg.domain("ecommerce").context("ecommerce domain")?;
    eprintln!("generating {events} ecommerce events (Avro, in memory)...");
    let batches = generate_batches(&cfg, events)?;
    let layouts = d.layouts();
    let plan = sluice_engine::bench::case_tumbling_count(&layouts);
    let built = sluice_runtime::plan::build(
        d,
        &cfg.platform.engine,
        &["events_by_device_and_type".to_string()],
    )?;
    let tables = built.tables;
    let event_types: Vec<String> = layouts.iter().map(|l| l.event_type.clone()).collect();
    let handle = sluice_runtime::observe::install_recorder("ecommerce", &[])?;
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
        "events": events,
        "metrics_off_events_per_sec": off.round(),
        "metrics_on_events_per_sec": on.round(),
        "ratio": (on / off * 1000.0).round() / 1000.0,
    });
    if as_json {
        println!("{out}");
    } else {
        println!("engine case (a), one core, best of {rounds}: metrics off {off:.0} events/s, on {on:.0} events/s, ratio {:.3}", on / off);
    }
    Ok(())
}

fn engine(cli: &Cli, events: u64, rounds: u32, as_json: bool) -> anyhow::Result<()> {
    let cfg = super::load(cli, &["ecommerce".to_string()])?;
    let d = cfg.domain("ecommerce").context("ecommerce domain")?;
    eprintln!("generating {events} ecommerce events (Avro, in memory)...");
    let batches = generate_batches(&cfg, events)?;
    let layouts = d.layouts();
    let report = sluice_engine::bench::run_on(&layouts, &batches, rounds)?;
    // one decode-only baseline over the same bytes, reading every field any case reads
    let mut union = sluice_engine::bench::case_tumbling_count(&layouts);
    for (_, p) in sluice_engine::bench::standard_cases(&layouts)
        .into_iter()
        .skip(1)
    {
        union.aggregations.extend(p.aggregations);
    }
    let decode = sluice_engine::bench::measure_decode(&union, &batches, rounds)?;
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
        "events": report.records,
        "mean_record_bytes": (report.mean_record_bytes * 10.0).round() / 10.0,
        "decode_only_events_per_sec": decode.round(),
        "cases": cases,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "engine, one core, {} events of {:.1} bytes, best of {rounds}",
            report.records, report.mean_record_bytes
        );
        println!(
            "  decode only (all fields of the three cases): {:>12.0} events/s",
            decode
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
    events: u64,
    as_json: bool,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let cfg = super::load(cli, &["ecommerce".to_string()])?;
    let mut d = cfg.domain("ecommerce").context("ecommerce domain")?.clone();
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
    sluice_config::validate::domain(&mut d, &mut rep);
    let diags = rep.finish();
    anyhow::ensure!(diags.is_empty(), "bench aggregations invalid: {diags}");

    let tmp = tempfile_dir(dir)?;
    let path = tmp.join("events.jsonl");
    eprintln!(
        "writing {events} ecommerce events as JSON lines to {} ...",
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

    // DuckDB: read_json with the columns given (its fastest setup), same grouping
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&format!("SET threads = {threads}"))?;
    let q = format!(
        "CREATE TABLE r AS SELECT time_bucket(INTERVAL 1 minute, epoch_ms(event_time)) AS w, device_type, \
         count(*) AS n, sum(amount) AS revenue, approx_count_distinct(user_id) AS users \
         FROM read_json('{}', format = 'newline_delimited', columns = {{event_time: 'BIGINT', device_type: 'VARCHAR', amount: 'BIGINT', user_id: 'VARCHAR'}}) \
         GROUP BY ALL",
        path.display().to_string().replace('\'', "''")
    );
    let t0 = Instant::now();
    conn.execute_batch(&q)?;
    let duck_secs = t0.elapsed().as_secs_f64();

    // both must agree on counts and sums
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

    let sluice_rate = n as f64 / sluice_secs;
    let duck_rate = n as f64 / duck_secs;
    let out = json!({
        "events": n,
        "file_bytes": file_bytes,
        "threads": threads,
        "sluice_events_per_sec": sluice_rate.round(),
        "duckdb_events_per_sec": duck_rate.round(),
        "ratio": (sluice_rate / duck_rate * 1000.0).round() / 1000.0,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "JSON lines replay, {n} events ({:.0} MiB), {threads} threads; results agree",
            file_bytes as f64 / 1048576.0
        );
        println!("  sluice run (file source → engine → DuckDB): {sluice_rate:>12.0} events/s ({sluice_secs:.2}s)");
        println!("  DuckDB read_json + GROUP BY time_bucket:    {duck_rate:>12.0} events/s ({duck_secs:.2}s)");
        println!("  ratio: {:.2}", sluice_rate / duck_rate);
    }
    Ok(())
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
            events,
            rounds,
            json,
        } => engine(cli, *events, *rounds, *json),
        BenchCommand::Kafka(a) => super::kafka_bench::run(cli, a),
        BenchCommand::E2e(a) => super::e2e_bench::run(cli, a),
        BenchCommand::Metrics {
            events,
            rounds,
            json,
        } => metrics_cost(cli, *events, *rounds, *json),
        BenchCommand::File { events, json, dir } => {
            let keep = dir.is_some();
            let d = dir.clone();
            let r = file(cli, *events, *json, d);
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
