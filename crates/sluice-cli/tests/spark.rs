//! The Spark runner against the native one, with real Spark (`local[2]`,
//! pyspark installed by `sluice spark run` on first use), Kafka, the schema
//! registry and ClickHouse.
//!
//! For every shipped domain the same events are produced once and run
//! through `sluice run` and `sluice spark run --until-end` into two
//! databases; the final views must be equal, row for row, for exact
//! aggregates (counts, sums, averages, minima, maxima, exact distinct counts)
//! and within the sketches' error for approximate distinct counts and
//! percentiles. The rule for windows only one runner emits: Spark writes a
//! window once its watermark has passed the window's end and the native
//! runner also writes still-open windows when a bounded run ends, so every
//! window the native runner wrote that ends at or before Spark's final
//! watermark must be in Spark's output, every one after it must not, and
//! Spark writes no window the native runner did not. Aggregations Spark
//! cannot compute as the native engine does (cumulative windows) are refused
//! by name and left out.
//!
//! Dead letters: the Kafka records that do not decode (the generator's
//! malformed records, a record that is not in the wire format, one whose
//! schema id the registry never gave) end up in the dead-letter topic, where
//! `sluice dlq inspect` shows them with the reason.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sluice_connectors::sink::clickhouse::{ClickHouseSettings, Client};
use support::{available, repo, shipped_config_with, stamp, up};

fn sluice(cfg: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env("SLUICE_CONFIG_DIR", cfg)
        .env_remove("SLUICE_ENV")
        .env("RUST_LOG", "warn")
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "sluice {args:?} failed:\n{e}\n{o}");
    (o, e)
}

/// `(window_start_ms, window_end_ms, dims...)` → value columns, as text.
type Rows = BTreeMap<Vec<String>, Vec<String>>;

fn view(client: &Client, database: &str, table: &str) -> (Rows, Vec<String>) {
    let describe = client
        .query(&format!("DESCRIBE TABLE `{database}`.`{table}`"))
        .unwrap();
    let columns: Vec<String> = describe
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    let meta = [
        "window_start",
        "window_end",
        "window_start_ms",
        "window_end_ms",
        "revision",
        "provisional",
        "emitted_at",
    ];
    // the views list dimensions, then values (`value` or `p50`, `p90`, ...)
    let values: Vec<String> = columns
        .iter()
        .filter(|c| *c == "value" || (c.starts_with('p') && c[1..].starts_with(char::is_numeric)))
        .cloned()
        .collect();
    let dims: Vec<String> = columns
        .iter()
        .filter(|c| !meta.contains(&c.as_str()) && !values.contains(c))
        .cloned()
        .collect();
    let select: Vec<String> = ["window_start_ms", "window_end_ms"]
        .iter()
        .map(|s| s.to_string())
        .chain(dims.iter().map(|d| format!("`{d}`")))
        .chain(values.iter().map(|v| format!("`{v}`")))
        .collect();
    let text = client
        .query(&format!(
            "SELECT {} FROM `{database}`.`{table}` FORMAT TSV",
            select.join(", ")
        ))
        .unwrap();
    let key_len = 2 + dims.len();
    let rows = text
        .lines()
        .map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_string).collect();
            (f[..key_len].to_vec(), f[key_len..].to_vec())
        })
        .collect();
    (rows, values)
}

/// Equal within the sketches' error; floating-point values of exact
/// aggregates within the last digits (a sum of doubles depends on the order
/// of its terms, which differs between engines); everything else as text.
fn close(a: &str, b: &str, relative: f64, absolute: f64) -> bool {
    let fractional = a.contains('.') || b.contains('.');
    let relative = if fractional {
        relative.max(1e-9)
    } else {
        relative
    };
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= absolute.max(relative * x.abs().max(y.abs())),
        _ => a == b,
    }
}

/// One Spark query's summary (`sluice spark run --json`).
#[derive(Debug)]
struct Summary {
    query: String,
    input_rows: u64,
    dropped_by_watermark: u64,
    watermark_ms: Option<i64>,
}

impl Summary {
    fn of(v: &serde_json::Value) -> Self {
        Summary {
            query: v["query"].as_str().unwrap_or_default().to_string(),
            input_rows: v["input_rows"].as_u64().unwrap_or(0),
            dropped_by_watermark: v["dropped_by_watermark"].as_u64().unwrap_or(0),
            watermark_ms: v["watermark_ms"].as_i64(),
        }
    }
}

/// Runs one domain both ways and compares; the Spark summaries.
fn compare(domain: &str, extra_records: &dyn Fn(&Path, &str)) -> Vec<Summary> {
    let tag = format!("spk{}", stamp());
    let prefix = format!("{tag}.");
    let native = shipped_config_with(&[("database: sluice", &format!("database: {tag}_native"))]);
    let spark = shipped_config_with(&[("database: sluice", &format!("database: {tag}_spark"))]);
    let p = ["--topic-prefix", prefix.as_str()];
    sluice(
        native.path(),
        &[
            "generate",
            "--domain",
            domain,
            "--to",
            "kafka",
            // 30 minutes of event time: most windows close
            "--duration",
            "30m",
            "--rate",
            "15/s",
            "--seed",
            "11",
            p[0],
            p[1],
        ],
    );
    extra_records(native.path(), &prefix);

    // which aggregations Spark refuses, by name
    let job = tempfile::tempdir().unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env("SLUICE_CONFIG_DIR", spark.path())
        .args(["spark", "job", "--domain", domain, "--out"])
        .arg(job.path())
        .output()
        .unwrap();
    let refusals = String::from_utf8_lossy(&refused.stderr).into_owned();
    let cfg = sluice_config::load(&sluice_config::LoadOptions::new(spark.path(), "dev")).unwrap();
    let d = cfg.domain(domain).unwrap();
    let all: Vec<String> = d
        .aggregations
        .iter()
        .map(|a| a.name.value.clone())
        .collect();
    let chosen: Vec<String> = all
        .iter()
        .filter(|a| !refusals.contains(&format!("aggregation `{a}` cannot run on Spark")))
        .cloned()
        .collect();
    if chosen.len() < all.len() {
        assert!(!refused.status.success(), "{refusals}");
        assert!(refusals.contains("cumulative"), "{refusals}");
    }
    assert!(!chosen.is_empty());

    let mut args: Vec<String> = [
        "spark",
        "run",
        "--domain",
        domain,
        "--until-end",
        "--json",
        p[0],
        p[1],
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for a in &chosen {
        args.extend(["--aggregation".to_string(), a.clone()]);
    }
    let work = tempfile::tempdir().unwrap();
    args.extend([
        "--job-dir".into(),
        work.path().join("job").display().to_string(),
        "--checkpoints".into(),
        work.path().join("checkpoints").display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (out, _) = sluice(spark.path(), &args);
    let summaries: Vec<Summary> = serde_json::from_str::<Vec<serde_json::Value>>(&out)
        .expect(&out)
        .iter()
        .map(Summary::of)
        .collect();

    let mut run: Vec<&str> = vec![
        "run",
        "--domain",
        domain,
        "--source",
        "kafka",
        "--sink",
        "clickhouse",
        "--until-end",
        "--quiet",
        p[0],
        p[1],
    ];
    for a in &chosen {
        run.extend(["--aggregation", a.as_str()]);
    }
    sluice(native.path(), &run);

    let client = Client::new(&ClickHouseSettings::new(
        "http://127.0.0.1:8123",
        &format!("{tag}_native"),
    ))
    .unwrap();
    for a in d
        .aggregations
        .iter()
        .filter(|a| chosen.contains(&a.name.value))
    {
        let name = &a.name.value;
        let s = summaries.iter().find(|s| &s.query == name).expect(name);
        assert!(s.input_rows >= 20_000, "{s:?}");
        let watermark = s.watermark_ms.unwrap_or(i64::MIN);
        let (n, values) = view(&client, &format!("{tag}_native"), &a.sink_table.value);
        let (sp, _) = view(&client, &format!("{tag}_spark"), &a.sink_table.value);
        let kind = a.kind.value;
        let (relative, absolute) = match kind {
            // HyperLogLog (14 bits, 0.81 % standard error) over another hash
            sluice_core::AggregateKind::ApproxCountDistinct => (0.04, 2.0),
            // DDSketch, 1 % relative accuracy, the same buckets on both sides
            sluice_core::AggregateKind::Percentile => (0.02, 0.0),
            _ => (0.0, 0.0),
        };
        let mut matched = 0;
        for (key, v) in &sp {
            let end: i64 = key[1].parse().unwrap();
            assert!(
                end <= watermark,
                "{domain}.{name}: Spark wrote {key:?} past its watermark {watermark}"
            );
            let Some(nv) = n.get(key) else {
                panic!("{domain}.{name}: Spark wrote {key:?} = {v:?}, the native runner did not");
            };
            for ((a, b), col) in v.iter().zip(nv).zip(&values) {
                assert!(
                    close(a, b, relative, absolute),
                    "{domain}.{name} {key:?} {col}: Spark {a}, native {b}"
                );
            }
            matched += 1;
        }
        for key in n.keys().filter(|k| !sp.contains_key(*k)) {
            let end: i64 = key[1].parse().unwrap();
            assert!(
                end > watermark,
                "{domain}.{name}: the native runner wrote {key:?}, closed under Spark's watermark {watermark}, Spark did not"
            );
        }
        assert!(
            matched > 0 && matched * 5 >= n.len(),
            "{domain}.{name}: only {matched} of {} windows compared",
            n.len()
        );
        eprintln!(
            "{domain}.{name}: {matched} windows equal, {} still open for Spark, {} dropped behind its watermark",
            n.len() - matched,
            s.dropped_by_watermark
        );
    }
    for db in [format!("{tag}_native"), format!("{tag}_spark")] {
        client
            .query(&format!("DROP DATABASE IF EXISTS `{db}`"))
            .unwrap();
    }
    summaries
}

/// One Spark at a time: two local Spark jobs on two cores would only slow
/// each other, and the first run installs pyspark and resolves connectors.
static SPARK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn services() -> bool {
    available(
        up("127.0.0.1:9092") && up("127.0.0.1:8081") && up("127.0.0.1:8123"),
        "Kafka, the schema registry and ClickHouse",
    )
}

#[test]
fn every_shipped_domain_gives_the_native_results_on_spark() {
    if !services() {
        return;
    }
    let _one = SPARK.lock().unwrap_or_else(|e| e.into_inner());
    let only = std::env::var("SLUICE_SPARK_DOMAINS").unwrap_or_default();
    for domain in ["fintech", "iot", "apm"] {
        if !only.is_empty() && !only.split(',').any(|d| d == domain) {
            continue;
        }
        compare(domain, &|_, _| {});
    }
}

#[test]
fn ecommerce_on_spark_dead_letters_what_does_not_decode() {
    if !services() {
        return;
    }
    let _one = SPARK.lock().unwrap_or_else(|e| e.into_inner());
    let dlq_prefix = std::cell::RefCell::new(String::new());
    let summaries = compare("ecommerce", &|cfg, prefix| {
        *dlq_prefix.borrow_mut() = prefix.to_string();
        // records the generator breaks, and two no producer of ours writes
        sluice(
            cfg,
            &[
                "generate",
                "--domain",
                "ecommerce",
                "--to",
                "kafka",
                "--count",
                "400",
                "--seed",
                "12",
                "--malformed-share",
                "1",
                "--topic-prefix",
                prefix,
            ],
        );
        let c = sluice_config::load(&sluice_config::LoadOptions::new(cfg, "dev")).unwrap();
        let settings = sluice_kafka::KafkaSettings::from_config(
            &c.platform.kafka,
            &sluice_secrets::ResolvedSecrets::default(),
        )
        .unwrap();
        let mut producer = sluice_kafka::producer::RawProducer::new(&settings).unwrap();
        let topic = format!("{prefix}ecommerce.page_view");
        producer
            .send(&topic, Some(b"u1"), b"{\"not\": \"avro\"}", None, None)
            .unwrap();
        producer
            .send(
                &topic,
                Some(b"u2"),
                &[0, 0x7f, 0xff, 0xff, 0xfe, 2, 4],
                None,
                None,
            )
            .unwrap();
        producer.flush(std::time::Duration::from_secs(30)).unwrap();
    });
    let dead = summaries
        .iter()
        .find(|s| s.query == "_dead_letters")
        .expect("the dead-letter query ran");
    assert!(dead.input_rows >= 20_402, "{dead:?}");
    // what `sluice dlq inspect` shows (Spark ran first: these are its own)
    let prefix = dlq_prefix.borrow().clone();
    let cfg = shipped_config_with(&[]);
    let (lines, _) = sluice(
        cfg.path(),
        &[
            "dlq",
            "inspect",
            "--domain",
            "ecommerce",
            "--format",
            "json",
            "--topic-prefix",
            &prefix,
        ],
    );
    let entries: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<String> = entries
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("magic byte")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("schema id 2147483646 is not a registered version")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .filter(|r| r.contains("does not decode"))
            .count()
            >= 100,
        "{reasons:?}"
    );
    assert!(
        entries.iter().all(|e| e["kind"] == "malformed"),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["source_topic"].as_str().unwrap().starts_with(&prefix)
                && e["event_type"].is_string()),
        "{entries:?}"
    );
}

/// Every row of every view of `tables` in `database`, sorted, as text.
fn all_views(client: &Client, database: &str, tables: &[String]) -> BTreeMap<String, Rows> {
    tables
        .iter()
        .map(|t| (t.clone(), view(client, database, t).0))
        .collect()
}

#[test]
fn a_killed_spark_driver_resumes_from_its_checkpoint_without_loss_or_double_counting() {
    if !services() {
        return;
    }
    let _one = SPARK.lock().unwrap_or_else(|e| e.into_inner());
    let tag = format!("spkkill{}", stamp());
    let prefix = format!("{tag}.");
    let domain = "fintech";
    let reference = shipped_config_with(&[("database: sluice", &format!("database: {tag}_ref"))]);
    let killed = shipped_config_with(&[("database: sluice", &format!("database: {tag}_kill"))]);
    sluice(
        reference.path(),
        &[
            "generate",
            "--domain",
            domain,
            "--to",
            "kafka",
            "--duration",
            "30m",
            "--rate",
            "15/s",
            "--seed",
            "5",
            "--topic-prefix",
            &prefix,
        ],
    );
    let work = tempfile::tempdir().unwrap();
    let run = |cfg: &Path, name: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.env("SLUICE_CONFIG_DIR", cfg)
            .env_remove("SLUICE_ENV")
            .env("RUST_LOG", "warn")
            .current_dir(repo())
            .args(["spark", "run", "--domain", domain, "--until-end"])
            // several micro-batches: the kill lands with work left, and the
            // restart replays a batch boundary the first run planned
            .args(["--max-records-per-batch", "4000"])
            .args(["--topic-prefix", &prefix])
            .arg("--job-dir")
            .arg(work.path().join(name).join("job"))
            .arg("--checkpoints")
            .arg(work.path().join(name).join("checkpoints"));
        c
    };
    // the uninterrupted run
    let out = run(reference.path(), "ref").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // the same job, its driver killed once it has written some results
    let client = Client::new(&ClickHouseSettings::new(
        "http://127.0.0.1:8123",
        &format!("{tag}_kill"),
    ))
    .unwrap();
    let written = || {
        client
            .query(&format!(
                "SELECT count() FROM system.parts WHERE database = '{tag}_kill' AND active AND table LIKE '%_parts'"
            ))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let metrics_address = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut child = run(killed.path(), "kill")
        .args(["--metrics-address", &metrics_address])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while written() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(600));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // the job's metrics, under the native runner's names
    let scrape = || {
        let out = Command::new("curl")
            .args(["-sS", &format!("http://{metrics_address}/metrics")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let value = |text: &str, name: &str, label: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mut text = scrape();
    while value(
        &text,
        sluice_core::metrics::ROWS_OUT_TOTAL,
        "sink=\"clickhouse\"",
    ) == 0.0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(600),
            "{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        text = scrape();
    }
    assert!(
        value(
            &text,
            sluice_core::metrics::EVENTS_IN_TOTAL,
            "event_type=\"payment\""
        ) > 0.0,
        "{text}"
    );
    assert!(
        text.contains(&format!("{}{{", sluice_core::metrics::BUILD_INFO))
            && text.contains("runner=\"spark\"")
            && text.contains("domain=\"fintech\""),
        "{text}"
    );
    // SIGKILL the driver (JVM and its Python side) and the CLI
    let job = work.path().join("kill").join("job");
    let pkill = Command::new("pkill")
        .args(["-9", "-f"])
        .arg(job.to_str().unwrap())
        .status()
        .unwrap();
    assert!(pkill.success(), "no driver process found to kill");
    child.kill().ok();
    child.wait().unwrap();
    let at_kill = written();
    eprintln!(
        "killed after {:?}, {at_kill} parts written",
        started.elapsed()
    );

    // restarted from its checkpoint
    let out = run(killed.path(), "kill").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cfg = sluice_config::load(&sluice_config::LoadOptions::new(killed.path(), "dev")).unwrap();
    let tables: Vec<String> = cfg
        .domain(domain)
        .unwrap()
        .aggregations
        .iter()
        .map(|a| a.sink_table.value.clone())
        .collect();
    let want = all_views(&client, &format!("{tag}_ref"), &tables);
    let got = all_views(&client, &format!("{tag}_kill"), &tables);
    for t in &tables {
        assert!(!want[t].is_empty(), "{t}: the reference run wrote nothing");
        assert_eq!(
            got[t], want[t],
            "{t}: the killed and restarted run differs from the uninterrupted one"
        );
    }
    for db in [format!("{tag}_ref"), format!("{tag}_kill")] {
        client
            .query(&format!("DROP DATABASE IF EXISTS `{db}`"))
            .unwrap();
    }
}
