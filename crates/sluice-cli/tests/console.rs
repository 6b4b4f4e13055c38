//! The web console in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `scripts/bootstrap.sh chromium`) driven over
//! the DevTools protocol against real runs writing a real DuckDB file.
//! Every page loads with no console error and no failed request, the
//! pipeline page's counters move while a generator run goes, the results
//! chart draws the series and points the store holds, dead letters filter
//! and open; and, over plain HTTP, a console bound beyond loopback refuses
//! requests without its token. Screenshots of every page land in
//! `$CARGO_TARGET_TMPDIR/console-screenshots/`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Log, Network, Page};
use headless_chrome::{Browser, LaunchOptions, Tab};

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A `sluice` process serving the console; killed on drop.
struct Served {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `sluice ARGS` and waits for the console's address on stderr.
fn serve(args: &[&str]) -> Served {
    serve_with(&[], args)
}

/// [`serve`] with environment variables (`SLUICE_CONFIG_DIR`, `SLUICE_ENV`).
fn serve_with(vars: &[(&str, &str)], args: &[&str]) -> Served {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.current_dir(support::repo())
        .env_remove("SLUICE_ENV")
        .env_remove("SLUICE_CONFIG_DIR")
        .env_remove("SLUICE_UI_TOKEN");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("web console: ") {
                tx.send(url.trim().to_string()).ok();
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no console address; said: {}", log.lock().unwrap()));
    Served { child, url, log }
}

/// Everything that went wrong in the page: console errors, uncaught
/// exceptions, failed requests and HTTP errors.
#[derive(Default)]
struct Problems(Mutex<Vec<String>>);

fn watch(tab: &Tab) -> Arc<Problems> {
    let problems = Arc::new(Problems::default());
    tab.enable_log().unwrap();
    tab.enable_runtime().unwrap();
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .unwrap();
    let p = problems.clone();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let found = match event {
            Event::RuntimeExceptionThrown(e) => {
                Some(format!("exception: {}", e.params.exception_details.text))
            }
            Event::LogEntryAdded(e) if e.params.entry.level == Log::LogEntryLevel::Error => {
                Some(format!("console: {}", e.params.entry.text))
            }
            Event::RuntimeConsoleAPICalled(e)
                if format!("{:?}", e.params.Type).to_lowercase() == "error" =>
            {
                Some(format!(
                    "console.error: {:?}",
                    e.params.args.first().map(|a| &a.value)
                ))
            }
            Event::NetworkLoadingFailed(e) if !e.params.canceled.unwrap_or(false) => {
                Some(format!("request failed: {}", e.params.error_text))
            }
            Event::NetworkResponseReceived(e) if e.params.response.status >= 400 => Some(format!(
                "HTTP {} for {}",
                e.params.response.status, e.params.response.url
            )),
            _ => None,
        };
        if let Some(f) = found {
            p.0.lock().unwrap().push(f);
        }
    }))
    .unwrap();
    problems
}

fn text(tab: &Tab, js: &str) -> String {
    let v = tab.evaluate(js, false).unwrap().value;
    match v {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Waits until `js` evaluates to true in the page.
fn wait_js(tab: &Tab, js: &str, what: &str) {
    let start = Instant::now();
    loop {
        if tab.evaluate(js, false).ok().and_then(|r| r.value) == Some(serde_json::Value::Bool(true))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}; the page shows: {}",
            text(tab, "document.getElementById('page').innerText")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shoot(tab: &Tab, name: &str) {
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

fn browser() -> Option<Browser> {
    let path = chromium();
    if !support::available(path.is_some(), "chromium (scripts/bootstrap.sh chromium)") {
        return None;
    }
    let opts = LaunchOptions::default_builder()
        .path(path)
        .sandbox(false)
        .window_size(Some((1400, 1000)))
        .idle_browser_timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    Some(Browser::new(opts).unwrap())
}

/// `sluice query --db FILE SQL --format json`, parsed.
fn query(db: &Path, sql: &str) -> Vec<serde_json::Value> {
    let out = support::sluice(&[
        "query",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
        sql,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_page_loads_clean_and_shows_the_stored_run() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("console.duckdb");
    let served = serve(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "40000",
        "--malformed-share",
        "0.01",
        "--late-share",
        "0.01",
        "--lateness",
        "2h",
        "--db",
        db.to_str().unwrap(),
        "--quiet",
        "--ui",
        "--ui-address",
        "127.0.0.1:0",
    ]);
    // the bounded run ends; its console stays up
    let start = Instant::now();
    while !served.log.lock().unwrap().contains("stays up until Ctrl-C") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            served.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tab = browser.new_tab().unwrap();
    let problems = watch(&tab);

    // Pipeline: the finished run's counters
    tab.navigate_to(&format!("{}#/pipeline", served.url))
        .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('[data-counter=records-in] .v') && document.querySelector('[data-counter=records-in] .v').textContent.startsWith('40,000')",
        "the pipeline page shows the run's 40 000 events",
    );
    shoot(&tab, "pipeline-finished");

    // Results: the chart has one series per device type and one point per
    // (device type, minute) the store holds
    let expected = query(
        &db,
        "SELECT count(DISTINCT device_type) AS s, count(DISTINCT (device_type, window_start)) AS p FROM events_per_minute",
    );
    let (series, points) = (
        expected[0]["s"].as_i64().unwrap(),
        expected[0]["p"].as_i64().unwrap(),
    );
    assert!(series >= 2 && points > series, "{expected:?}");
    tab.navigate_to(&format!(
        "{}#/results?aggregation=events_per_minute&top=8",
        served.url
    ))
    .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('#chart canvas')",
        "the results chart is drawn",
    );
    assert_eq!(
        text(&tab, "document.getElementById('chart').dataset.series"),
        series.to_string()
    );
    assert_eq!(
        text(&tab, "document.getElementById('chart').dataset.points"),
        points.to_string()
    );
    // uPlot's legend lists the x axis and every series
    let legend: i64 = text(
        &tab,
        "String(document.querySelectorAll('#chart .u-legend .u-series').length)",
    )
    .parse()
    .unwrap();
    assert_eq!(legend, series + 1);
    shoot(&tab, "results-tumbling");
    // a cumulative window, and a group filter that keeps one series
    tab.navigate_to(&format!(
        "{}#/results?aggregation=revenue_today&top=3&group=US",
        served.url
    ))
    .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('#chart canvas')",
        "the cumulative chart is drawn",
    );
    assert_eq!(
        text(&tab, "document.getElementById('chart').dataset.series"),
        "1"
    );
    shoot(&tab, "results-cumulative");

    // Dead letters: a kind filter, then one record's bytes
    let malformed = query(
        &db,
        "SELECT count(*) AS n FROM _sluice_dead_letters WHERE kind = 'malformed'",
    )[0]["n"]
        .as_i64()
        .unwrap();
    assert!(malformed > 0);
    tab.navigate_to(&format!("{}#/dead-letters?kind=malformed", served.url))
        .unwrap();
    wait_js(
        &tab,
        "document.querySelectorAll('#dl tr.click').length > 0",
        "dead letters are listed",
    );
    let kinds = text(
        &tab,
        "[...document.querySelectorAll('#dl tr.click td:first-child')].map(t => t.textContent).filter((v, i, a) => a.indexOf(v) === i).join(',')",
    );
    assert_eq!(kinds, "malformed", "the filter keeps one kind");
    // by partition, and by when they were recorded
    let in_p0 = query(
        &db,
        "SELECT count(*) AS n FROM _sluice_dead_letters WHERE kind = 'malformed' AND partition = 0",
    )[0]["n"]
        .as_i64()
        .unwrap();
    let v = api(&served, "/api/dead-letters?kind=malformed&partition=0");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len() as i64, in_p0.min(500), "{v}");
    assert!(rows.iter().all(|r| r["partition"] == 0));
    let all = api(&served, "/api/dead-letters?kind=malformed&from=2000-01-01");
    assert_eq!(
        all["rows"].as_array().unwrap().len() as i64,
        malformed.min(500)
    );
    let none = api(
        &served,
        "/api/dead-letters?kind=malformed&from=2000-01-01&to=2000-01-02",
    );
    assert!(none["rows"].as_array().unwrap().is_empty(), "{none}");
    let (code, body) = curl(&[&format!("{}api/dead-letters?from=yesterday", served.url)]);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not a time"), "{body}");
    let listed: i64 = text(
        &tab,
        "String(document.querySelectorAll('#dl tr.click').length)",
    )
    .parse()
    .unwrap();
    assert_eq!(listed, malformed.min(500));
    // the reason filter (case-insensitive, over the kind's rows)
    tab.navigate_to(&format!(
        "{}#/dead-letters?kind=malformed&reason=RECORD%20ENDS",
        served.url
    ))
    .unwrap();
    wait_js(
        &tab,
        "document.querySelectorAll('#dl tr.click').length > 0 && location.hash.includes('RECORD')",
        "dead letters filtered by reason",
    );
    let reasons = text(
        &tab,
        "[...document.querySelectorAll('#dl tr.click td:nth-child(2)')].every(t => t.textContent.includes('record ends')) ? 'all' : 'some'",
    );
    assert_eq!(reasons, "all");
    let ends = query(
        &db,
        "SELECT count(*) AS n FROM _sluice_dead_letters WHERE kind = 'malformed' AND reason LIKE '%record ends%'",
    )[0]["n"]
        .as_i64()
        .unwrap();
    let listed: i64 = text(
        &tab,
        "String(document.querySelectorAll('#dl tr.click').length)",
    )
    .parse()
    .unwrap();
    assert_eq!(listed, ends.min(500));
    tab.evaluate("document.querySelector('#dl tr.click').click()", false)
        .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('#detail pre.hex')",
        "a dead letter's bytes are shown",
    );
    assert!(
        text(
            &tab,
            "document.querySelector('#detail .reason').textContent"
        )
        .len()
            > 5
    );
    // a malformed record does not decode; a late one is a whole Avro record
    assert_eq!(
        text(&tab, "String(!!document.querySelector('#detail pre.json'))"),
        "false"
    );
    shoot(&tab, "dead-letters");
    tab.navigate_to(&format!("{}#/dead-letters?kind=late", served.url))
        .unwrap();
    wait_js(
        &tab,
        "document.querySelectorAll('#dl tr.click').length > 0 && location.hash.includes('late')",
        "late dead letters are listed",
    );
    tab.evaluate("document.querySelector('#dl tr.click').click()", false)
        .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('#detail pre.json')",
        "a late record is decoded",
    );
    let decoded = text(
        &tab,
        "document.querySelector('#detail pre.json').textContent",
    );
    let v: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert!(v["event_id"].is_string() && v["user_id"].is_string(), "{v}");
    assert!(text(&tab, "document.querySelector('#detail h3').textContent").contains("Avro"));
    shoot(&tab, "dead-letter-late");

    // Config: the domain, its schemas and aggregations, no problems
    tab.navigate_to(&format!("{}#/config", served.url)).unwrap();
    wait_js(
        &tab,
        "document.querySelectorAll('.agg').length > 0",
        "aggregations are listed",
    );
    assert_eq!(
        text(&tab, "String(document.querySelectorAll('.agg').length)"),
        "7",
        "the shipped ecommerce domain has 7 aggregations"
    );
    assert!(text(&tab, "document.getElementById('page').innerText").contains("no problems"));
    shoot(&tab, "config");

    let found = problems.0.lock().unwrap().clone();
    assert!(found.is_empty(), "the pages reported problems: {found:#?}");
}

#[test]
fn the_pipeline_counters_move_while_a_run_goes() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.duckdb");
    // a run that follows the wall clock: about 60 s for 120 000 events
    let served = serve(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "120000",
        "--rate",
        "2000",
        "--realtime",
        "--db",
        db.to_str().unwrap(),
        "--quiet",
        "--ui",
        "--ui-address",
        "127.0.0.1:0",
    ]);
    let tab = browser.new_tab().unwrap();
    let problems = watch(&tab);
    tab.navigate_to(&format!("{}#/pipeline", served.url))
        .unwrap();
    let read = |tab: &Tab| -> i64 {
        text(
            tab,
            "(document.querySelector('[data-counter=records-in] .v') || {textContent: '-1'}).textContent.split('/')[0].replace(/,/g, '').trim()",
        )
        .parse()
        .unwrap_or(-1)
    };
    wait_js(
        &tab,
        "!!document.querySelector('[data-counter=records-in] .v')",
        "the live counters appear",
    );
    let first = read(&tab);
    std::thread::sleep(Duration::from_secs(3));
    let second = read(&tab);
    assert!(
        second > first && first >= 0,
        "events in: {first} then {second}"
    );
    // the rate chart has data once two snapshots arrived
    wait_js(
        &tab,
        "!!document.querySelector('#c-rate canvas')",
        "the rate chart is drawn",
    );
    shoot(&tab, "pipeline-live");
    let found = problems.0.lock().unwrap().clone();
    assert!(found.is_empty(), "the page reported problems: {found:#?}");
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn beyond_loopback_the_console_wants_its_token() {
    // no token: refused at start
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(support::repo())
        .env_remove("SLUICE_UI_TOKEN")
        .args(["ui", "--ui-address", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("access token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = "a-console-token-of-the-test";
    let served = serve(&["ui", "--ui-address", "0.0.0.0:0", "--ui-token", token]);
    let port = served
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let base = format!("http://127.0.0.1:{port}");
    // only loopback traffic: the console listens on every interface, the
    // test talks to it on 127.0.0.1
    let (code, body) = curl(&[&format!("{base}/api/config")]);
    assert_eq!(code, 401, "{body}");
    assert!(
        !body.contains("ecommerce"),
        "nothing leaks without the token"
    );
    let (code, _) = curl(&[
        "-H",
        "Authorization: Bearer wrong-token-wrong-token",
        &format!("{base}/api/config"),
    ]);
    assert_eq!(code, 401);
    let (code, body) = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{base}/api/config"),
    ]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ecommerce"));
    // a browser is sent to the login page, which sets the cookie
    let (code, _) = curl(&[&format!("{base}/")]);
    assert_eq!(code, 303);
    let (code, _) = curl(&["-d", "token=nope", &format!("{base}/login")]);
    assert_eq!(code, 401);
    let (code, headers) = curl(&[
        "-D",
        "-",
        "-d",
        &format!("token={token}"),
        &format!("{base}/login"),
    ]);
    assert_eq!(code, 303);
    assert!(headers.contains("sluice_console_token="), "{headers}");
    assert!(headers.contains("HttpOnly"));
    let (code, _) = curl(&[
        "-H",
        &format!("Cookie: sluice_console_token={token}"),
        &format!("{base}/api/overview"),
    ]);
    assert_eq!(code, 200);
    // a cross-site form post is refused even with the cookie
    let (code, _) = curl(&[
        "-H",
        "Origin: http://evil.example",
        "-d",
        &format!("token={token}"),
        &format!("{base}/login"),
    ]);
    assert_eq!(code, 403);
}

#[test]
fn on_loopback_another_host_name_is_refused() {
    let served = serve(&["ui", "--ui-address", "127.0.0.1:0"]);
    let (code, body) = curl(&[&format!("{}api/overview", served.url)]);
    assert_eq!(code, 200, "{body}");
    // DNS rebinding: a page of another site resolving to 127.0.0.1
    let port = served
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let (code, _) = curl(&[
        "-H",
        &format!("Host: rebind.example:{port}"),
        &format!("{}api/overview", served.url),
    ]);
    assert_eq!(code, 403);
}

/// `curl` a console's JSON API.
fn api(served: &Served, path: &str) -> serde_json::Value {
    let (code, body) = curl(&[&format!("{}{}", served.url, path.trim_start_matches('/'))]);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// A statement on the ClickHouse server, its TSV answer.
fn clickhouse(sql: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-fsS",
            "--max-time",
            "20",
            "http://127.0.0.1:8123/",
            "--data-binary",
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn results_and_dead_letters_are_read_from_clickhouse_too() {
    if !support::available(
        support::up("127.0.0.1:8123"),
        "ClickHouse (scripts/services.sh start clickhouse)",
    ) {
        return;
    }
    let cfg = support::shipped_config_with(&[]);
    let db = format!("sluice_console_{}", support::stamp());
    std::fs::write(
        cfg.path().join("environments/chconsole.yaml"),
        format!("sinks:\n  default: clickhouse\n  clickhouse:\n    database: {db}\n"),
    )
    .unwrap();
    let dir = cfg.path().to_str().unwrap().to_string();
    let vars = [
        ("SLUICE_CONFIG_DIR", dir.as_str()),
        ("SLUICE_ENV", "chconsole"),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .envs(vars)
        .env("RUST_LOG", "warn")
        .args([
            "run",
            "--domain",
            "ecommerce",
            "--count",
            "20000",
            "--malformed-share",
            "0.01",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let served = serve_with(
        &vars,
        &["ui", "--domain", "ecommerce", "--ui-address", "127.0.0.1:0"],
    );

    // the chart: one series per device type, one point per (device type,
    // minute) of the final view
    let v = api(&served, "/api/results/events_per_minute?top=20");
    let groups: usize = clickhouse(&format!(
        "SELECT uniqExact(device_type) FROM {db}.events_per_minute"
    ))
    .parse()
    .unwrap();
    let points: usize = clickhouse(&format!("SELECT count() FROM {db}.events_per_minute"))
        .parse()
        .unwrap();
    let series = v["chart"]["series"].as_array().unwrap();
    assert_eq!(series.len(), groups, "{v}");
    let drawn: usize = series
        .iter()
        .map(|s| s["points"].as_array().unwrap().len())
        .sum();
    assert_eq!(drawn, points);
    assert!(series
        .iter()
        .all(|s| s["points"][0]["start"].as_i64().unwrap() > 1_600_000_000_000));
    // CSV export of the same view
    let (code, csv) = curl(&[&format!("{}api/results/events_per_minute/csv", served.url)]);
    assert_eq!(code, 200, "{csv}");
    assert_eq!(
        csv.trim_end().lines().count(),
        points + 1,
        "header + one line per row"
    );

    // dead letters, with ClickHouse's column names
    let malformed: usize = clickhouse(&format!(
        "SELECT count() FROM {db}._sluice_dead_letters FINAL WHERE kind = 'malformed'"
    ))
    .parse()
    .unwrap();
    assert!(malformed > 0);
    let v = api(&served, "/api/dead-letters?kind=malformed");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), malformed.min(500), "{v}");
    // ClickHouse's times read by the time filter too
    let since = api(&served, "/api/dead-letters?kind=malformed&from=2000-01-01");
    assert_eq!(since["rows"].as_array().unwrap().len(), rows.len());
    let before = api(&served, "/api/dead-letters?kind=malformed&to=2000-01-01");
    assert!(before["rows"].as_array().unwrap().is_empty(), "{before}");
    let r = &rows[0];
    assert!(
        r["recorded_at"].is_string() && r["bytes"].as_u64().unwrap() > 0,
        "{r}"
    );
    let q = format!(
        "/api/dead-letters/detail?source={}&partition={}&offset={}&kind=malformed&aggregation=",
        r["source"].as_str().unwrap(),
        r["partition"],
        r["offset"]
    );
    let d = api(&served, &q);
    assert_eq!(d["bytes"], r["bytes"]);
    assert!(d["hex"].as_str().unwrap().starts_with("00000000  "));
    drop(served);
    clickhouse(&format!("DROP DATABASE IF EXISTS {db}"));
}

/// Empty ecommerce topics under `prefix`, then `count` generated events.
fn fresh_topics(prefix: &str, count: u64) {
    let count = count.to_string();
    for args in [
        &[
            "topics",
            "--domain",
            "ecommerce",
            "--recreate",
            "--topic-prefix",
            prefix,
        ][..],
        &[
            "generate",
            "--domain",
            "ecommerce",
            "--to",
            "kafka",
            "--count",
            count.as_str(),
            "--topic-prefix",
            prefix,
        ][..],
    ] {
        let out = support::sluice(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_pipeline_page_shows_kafka_lag_per_partition() {
    let up = support::up("127.0.0.1:9092") && support::up("127.0.0.1:8081");
    if !support::available(
        up,
        "Kafka and the registry (scripts/services.sh start kafka registry)",
    ) {
        return;
    }
    let prefix = format!("console{}.", support::stamp());
    let p = ["--topic-prefix", prefix.as_str()];
    fresh_topics(&prefix, 3000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kafka.duckdb");
    let served = serve(&[
        "run",
        "--domain",
        "ecommerce",
        "--source",
        "kafka",
        "--db",
        db.to_str().unwrap(),
        "--quiet",
        "--ui",
        "--ui-address",
        "127.0.0.1:0",
        p[0],
        p[1],
    ]);
    // measured every 5 s: the assigned partitions of the prefixed topics,
    // read to their end
    let start = Instant::now();
    let (parts, v) = loop {
        let v = api(&served, "/api/pipeline");
        let parts = v["run"]["partitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let read_all = !parts.is_empty()
            && parts.iter().all(|x| x["lag"] == 0)
            && v["run"]["records_in"] == 3000;
        if read_all {
            break (parts, v);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        parts
            .iter()
            .all(|x| x["topic"].as_str().unwrap().starts_with(&prefix)),
        "{parts:?}"
    );
    let end: i64 = parts
        .iter()
        .map(|x| x["high_watermark"].as_i64().unwrap())
        .sum();
    assert!(
        end >= 3000,
        "the partitions hold the 3000 events: {parts:?}"
    );
    // the watermark per partition: the one it waits for is the active
    // partition with the smallest largest event time
    let wms = v["run"]["watermarks"].as_array().unwrap();
    assert!(!wms.is_empty(), "{v}");
    assert!(
        wms.iter()
            .all(|w| w["partition"].as_str().unwrap().starts_with(&prefix)),
        "{wms:?}"
    );
    let active: Vec<i64> = wms
        .iter()
        .filter(|w| w["state"] != "idle")
        .filter_map(|w| w["max_event_time_ms"].as_i64())
        .collect();
    if let Some(slowest) = active.iter().min() {
        let holders: Vec<&serde_json::Value> = wms
            .iter()
            .filter(|w| w["state"] == "holds the watermark")
            .collect();
        assert!(!holders.is_empty(), "{wms:?}");
        assert!(
            holders
                .iter()
                .all(|w| w["max_event_time_ms"].as_i64() == Some(*slowest)),
            "{wms:?}"
        );
    }
    drop(served);
    let out = support::sluice(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    assert!(out.status.success());
}

#[test]
fn session_windows_are_drawn_as_spans() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iot.duckdb");
    let served = serve(&[
        "run",
        "--domain",
        "iot",
        "--count",
        "20000",
        "--aggregation",
        "device_activity_sessions",
        "--db",
        db.to_str().unwrap(),
        "--quiet",
        "--ui",
        "--ui-address",
        "127.0.0.1:0",
    ]);
    let start = Instant::now();
    while !served.log.lock().unwrap().contains("stays up until Ctrl-C") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            served.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // the busiest device's sessions, as the store holds them
    let top = query(
        &db,
        "WITH l AS (SELECT device_id, window_start, window_end, arg_max(value, revision) AS v \
           FROM device_activity_sessions GROUP BY ALL), \
         k AS (SELECT * FROM l a WHERE NOT EXISTS (SELECT 1 FROM l b WHERE b.device_id = a.device_id \
           AND b.window_start <= a.window_start AND b.window_end >= a.window_end \
           AND (b.window_start <> a.window_start OR b.window_end <> a.window_end))) \
         SELECT device_id, count(*) AS n FROM k GROUP BY device_id ORDER BY sum(abs(v)) DESC, device_id LIMIT 1",
    );
    let n = top[0]["n"].as_i64().unwrap();
    let device = top[0]["device_id"].as_str().unwrap().to_string();
    let tab = browser.new_tab().unwrap();
    let problems = watch(&tab);
    tab.navigate_to(&format!(
        "{}#/results?aggregation=device_activity_sessions&top=1",
        served.url
    ))
    .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('#chart canvas')",
        "the session chart is drawn",
    );
    assert!(
        text(&tab, "document.getElementById('res').innerText").contains("sessions drawn as spans")
    );
    assert_eq!(
        text(&tab, "document.getElementById('chart').dataset.points"),
        n.to_string()
    );
    assert!(
        text(&tab, "document.querySelector('#chart .u-legend').innerText").contains(&device),
        "the legend names the busiest device {device}"
    );
    shoot(&tab, "results-sessions");
    let found = problems.0.lock().unwrap().clone();
    assert!(found.is_empty(), "the page reported problems: {found:#?}");
}

/// The final rows of `table` (latest revision of each window and group) as
/// JSON lines, sorted: what two runs must agree on.
fn final_rows(db: &Path, table: &str, dims: &str) -> Vec<String> {
    let rows = query(
        db,
        &format!(
            "SELECT window_start, {dims}, arg_max(value, revision) AS v FROM {table} \
             GROUP BY ALL ORDER BY ALL"
        ),
    );
    rows.iter().map(|r| r.to_string()).collect()
}

#[test]
fn dead_letters_replayed_from_the_page_land_in_the_results() {
    let up = support::up("127.0.0.1:9092") && support::up("127.0.0.1:8081");
    if !support::available(
        up,
        "Kafka and the registry (scripts/services.sh start kafka registry)",
    ) {
        return;
    }
    let Some(browser) = browser() else { return };
    let prefix = format!("replay{}.", support::stamp());
    let p = ["--topic-prefix", prefix.as_str()];
    let agg = "revenue_by_country_5m";
    fresh_topics(&prefix, 4000);
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.duckdb");
    let db = dir.path().join("replayed.duckdb");
    // the pipeline: this aggregation, from the prefixed topics to their end
    let run_args = |db: &Path, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--domain",
            "ecommerce",
            "--source",
            "kafka",
            "--until-end",
            "--aggregation",
            agg,
            "--db",
            db.to_str().unwrap(),
            "--quiet",
            p[0],
            p[1],
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let run = |db: &Path, extra: &[&str], vars: &[(&str, &str)]| {
        let args = run_args(db, extra);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.current_dir(support::repo())
            .env_remove("SLUICE_ENV")
            .env_remove("SLUICE_CONFIG_DIR")
            .env("RUST_LOG", "warn")
            .envs(vars.iter().copied())
            .args(&args);
        cmd
    };
    // what the run gives when nothing goes wrong (its own consumer group)
    let group = format!("{prefix}reference");
    let out = run(&reference, &["--group", group.as_str()], &[])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = final_rows(&reference, agg, "country");
    assert!(!want.is_empty());

    // a deployment whose `purchase` wants a field the producers do not
    // write (and has no default): every purchase is dead-lettered
    let broken = support::shipped_config_with(&[]);
    let domain_file = broken.path().join("domains/ecommerce.yaml");
    let yaml = std::fs::read_to_string(&domain_file).unwrap();
    let marker = "  - name: purchase\n    attributes:\n";
    assert!(yaml.contains(marker));
    std::fs::write(
        &domain_file,
        yaml.replace(
            marker,
            &format!("{marker}      - {{ name: loyalty_tier, type: int }}\n"),
        ),
    )
    .unwrap();
    let broken_dir = broken.path().to_str().unwrap().to_string();
    let with_ui = run_args(&db, &["--ui", "--ui-address", "127.0.0.1:0"]);
    let served = serve_with(
        &[("SLUICE_CONFIG_DIR", broken_dir.as_str())],
        &with_ui.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let start = Instant::now();
    while !served.log.lock().unwrap().contains("stays up until Ctrl-C") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            served.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let dead = api(&served, "/api/dead-letters?kind=malformed");
    let purchases = dead["rows"].as_array().unwrap().len();
    assert!(purchases > 0 && purchases < 500, "{dead}");
    assert!(
        dead["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["event_type"] == "purchase"),
        "{dead}"
    );

    // select them all on the page and replay them
    let tab = browser.new_tab().unwrap();
    let problems = watch(&tab);
    tab.navigate_to(&format!("{}#/dead-letters?kind=malformed", served.url))
        .unwrap();
    wait_js(
        &tab,
        "document.querySelectorAll('#dl td.pick input').length > 0",
        "dead letters are listed with a selection box",
    );
    tab.evaluate("document.getElementById('pick-all').click()", false)
        .unwrap();
    assert_eq!(
        text(&tab, "document.getElementById('replay').textContent"),
        format!("Replay {purchases} selected")
    );
    tab.evaluate("document.getElementById('replay').click()", false)
        .unwrap();
    wait_js(
        &tab,
        "!!document.getElementById('replay-result')",
        "the replay's outcome is shown",
    );
    let outcome = text(&tab, "document.getElementById('replay-result').innerText");
    assert!(
        outcome.starts_with(&format!("{purchases} replayed")),
        "{outcome}"
    );
    assert_eq!(
        text(
            &tab,
            "String(document.querySelectorAll('#replay-result li[data-outcome=\"replayed\"]').length)"
        ),
        purchases.to_string()
    );
    shoot(&tab, "dead-letters-replayed");
    // a second click replays nothing again
    tab.evaluate("document.getElementById('replay').click()", false)
        .unwrap();
    wait_js(
        &tab,
        "document.getElementById('replay-result').innerText.startsWith('0 replayed')",
        "a second replay re-injects nothing",
    );
    assert!(
        text(&tab, "document.getElementById('replay-result').innerText")
            .contains(&format!("{purchases} already replayed before")),
    );

    // the Config page says why: the configured `purchase` cannot read what
    // was registered (and written)
    tab.navigate_to(&format!("{}#/config", served.url)).unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('button.compat-check')",
        "the Config page offers the registry check",
    );
    tab.evaluate(
        "document.querySelector('button.compat-check').click()",
        false,
    )
    .unwrap();
    wait_js(
        &tab,
        "!!document.querySelector('tr[data-event-type=\"purchase\"]')",
        "the registry check is shown",
    );
    let status = |et: &str| {
        text(
            &tab,
            &format!("document.querySelector('tr[data-event-type=\"{et}\"]').dataset.status"),
        )
    };
    assert_eq!(status("page_view"), "registered");
    assert_eq!(status("purchase"), "forward");
    let why = text(
        &tab,
        "document.querySelector('tr[data-event-type=\"purchase\"]').innerText",
    );
    assert!(
        why.contains("loyalty_tier") && why.contains("refuses"),
        "{why}"
    );
    shoot(&tab, "config-compat");
    let found = problems.0.lock().unwrap().clone();
    assert!(found.is_empty(), "the page reported problems: {found:#?}");
    drop(served);

    // the configuration fixed, the same pipeline goes on from its committed
    // offsets: the replayed purchases land, and the results equal the run
    // that never dead-lettered them
    let out = run(&db, &[], &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(final_rows(&db, agg, "country"), want);
    let out = support::sluice(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    assert!(out.status.success());
}

/// A child process killed on drop.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn a_run_in_another_process_is_watched_live() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("watched.duckdb");
    let mut run = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .current_dir(support::repo())
            .env_remove("SLUICE_ENV")
            .env_remove("SLUICE_CONFIG_DIR")
            .env("RUST_LOG", "warn")
            .args([
                "run",
                "--domain",
                "ecommerce",
                "--count",
                "400000",
                "--rate",
                "2000",
                "--realtime",
                "--db",
                db.to_str().unwrap(),
                "--quiet",
                "--metrics-address",
                metrics.as_str(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let served = serve(&[
        "ui",
        "--domain",
        "ecommerce",
        "--db",
        db.to_str().unwrap(),
        "--watch",
        metrics.as_str(),
        "--ui-address",
        "127.0.0.1:0",
    ]);
    // the other process's counters, moving
    let start = Instant::now();
    let seen = |min: u64| loop {
        let v = api(&served, "/api/pipeline");
        if v["mode"] == "remote" && v["run"]["records_in"].as_u64().unwrap_or(0) > min {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let first = seen(0);
    let n = first["run"]["records_in"].as_u64().unwrap();
    let later = seen(n);
    assert!(later["run"]["running"].as_bool().unwrap(), "{later}");
    assert!(
        later["run"]["source"]
            .as_str()
            .unwrap()
            .contains("generator"),
        "{later}"
    );
    assert!(later["url"].as_str().unwrap().ends_with(&metrics));
    // and its watermark per partition (the generator's), published with
    // the run's gauges a few times a second
    let wms = loop {
        let v = api(&served, "/api/pipeline");
        let wms = v["run"]["watermarks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !wms.is_empty() {
            break wms;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        wms.iter().any(|w| w["state"] == "holds the watermark"),
        "{wms:?}"
    );
    // the run gone, the page says so
    run.0.kill().unwrap();
    run.0.wait().unwrap();
    let start = Instant::now();
    loop {
        let v = api(&served, "/api/pipeline");
        if v["mode"] != "remote" {
            let why = format!("{} {}", v["reason"], v["watch_error"]);
            assert!(why.contains("does not answer"), "{v}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
