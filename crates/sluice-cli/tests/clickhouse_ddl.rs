//! `sluice clickhouse ddl`: golden files for old and modern servers; the
//! legacy statements run on the Debian ClickHouse server
//! (`scripts/services.sh start clickhouse`) and the modern ones on chDB, an
//! embedded modern ClickHouse (installed by `scripts/bootstrap.sh chdb` into
//! `$SLUICE_CACHE_DIR/chdb`), each followed by a query of every view.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::{available, post, repo, required, stamp};

const DOMAINS: [&str; 4] = ["ecommerce", "iot", "fintech", "apm"];

fn ddl(domain: &str, dialect: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(repo())
        .env_remove("SLUICE_ENV")
        .args([
            "clickhouse",
            "ddl",
            "--domain",
            domain,
            "--dialect",
            dialect,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn statements(sql: &str) -> Vec<String> {
    sql.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn views(sql: &str) -> Vec<String> {
    statements(sql)
        .iter()
        .filter_map(|s| {
            let rest = s.strip_prefix("CREATE VIEW IF NOT EXISTS ")?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

#[test]
fn ddl_matches_golden_files_for_old_and_modern_servers() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/clickhouse");
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    std::fs::create_dir_all(&golden).unwrap();
    for domain in DOMAINS {
        for dialect in ["legacy", "modern"] {
            let got = ddl(domain, dialect);
            let path = golden.join(format!("{domain}.{dialect}.sql"));
            if update {
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("missing {path:?}; run with UPDATE_GOLDEN=1"));
            assert_eq!(got, want, "{path:?} differs");
        }
    }
    // the two dialects really differ where they should
    let legacy = ddl("ecommerce", "legacy");
    let modern = ddl("ecommerce", "modern");
    assert!(legacy.contains("DateTime('UTC')") && !legacy.contains("DateTime64"));
    assert!(
        modern.contains("DateTime64(3, 'UTC')")
            && modern.contains("LowCardinality(Nullable(String))")
    );
}

#[test]
fn legacy_ddl_runs_on_the_debian_server() {
    let url = "http://127.0.0.1:8123/";
    if !available(post(url, "SELECT 1").is_ok(), "ClickHouse") {
        return;
    }
    let stamp = stamp();
    for domain in DOMAINS {
        let db = format!("ddl{stamp}_{domain}");
        let sql = ddl(domain, "legacy").replace("`sluice`", &format!("`{db}`"));
        for st in statements(&sql) {
            post(url, &st).unwrap_or_else(|e| panic!("{domain}: {e}\n{st}"));
        }
        let views = views(&sql);
        assert!(!views.is_empty());
        for v in views {
            post(url, &format!("SELECT * FROM {v} LIMIT 1"))
                .unwrap_or_else(|e| panic!("{domain}: {v}: {e}"));
        }
        post(url, &format!("DROP DATABASE `{db}`")).unwrap();
    }
}

#[test]
fn modern_ddl_runs_on_chdb() {
    let cache = std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sluice"));
    let python = cache.join("chdb/bin/python");
    let probe = Command::new(&python).args(["-c", "import chdb"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !required(),
            "SLUICE_REQUIRE_SERVICES is set but chDB is not installed at {python:?} (scripts/bootstrap.sh chdb)"
        );
        eprintln!("skipping: chDB not installed (scripts/bootstrap.sh chdb)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for domain in DOMAINS {
        let sql = ddl(domain, "modern");
        let file = dir.path().join(format!("{domain}.sql"));
        std::fs::write(&file, &sql).unwrap();
        // every statement, then one query per view, in one chDB session
        let script = r#"
import sys, chdb
from chdb import session
s = session.Session()
sql = open(sys.argv[1]).read()
stmts = [x.strip() for x in sql.split(";\n") if x.strip()]
views = []
for st in stmts:
    s.query(st)
    if st.startswith("CREATE VIEW IF NOT EXISTS "):
        views.append(st.split()[5])
for v in views:
    s.query("SELECT * FROM " + v + " LIMIT 1")
print(s.query("SELECT version()", "CSV").data().strip(), len(views))
"#;
        let out = Command::new(&python)
            .args(["-c", script])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{domain}: chDB refused the modern DDL:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.trim().ends_with(&format!(" {}", views(&sql).len())),
            "{domain}: {said}"
        );
    }
}

#[test]
fn query_runs_on_clickhouse_when_it_is_the_environments_sink() {
    if !available(
        post("http://127.0.0.1:8123/", "SELECT 1").is_ok(),
        "ClickHouse",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("domains")).unwrap();
    std::fs::create_dir_all(dir.path().join("environments")).unwrap();
    std::fs::write(dir.path().join("environments/dev.yaml"), "{}\n").unwrap();
    std::fs::write(
        dir.path().join("platform.yaml"),
        "sinks:\n  default: clickhouse\n  clickhouse:\n    database: system\n",
    )
    .unwrap();
    std::fs::copy(
        repo().join("config/domains/iot.yaml"),
        dir.path().join("domains/iot.yaml"),
    )
    .unwrap();
    // JSON out of `sluice ARGS --format json` with this configuration
    let json = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .env("SLUICE_CONFIG_DIR", dir.path())
            .env_remove("SLUICE_ENV")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = json(&["query", "SELECT dummy, 40 + 2 AS answer FROM one"]);
    // `one` is ClickHouse's own one-row table: the query ran there, in the
    // configured database, and numbers came back as numbers
    assert_eq!(v[0]["answer"], serde_json::json!(42));
    // `tables` lists the same store: the configured database's tables
    let v = json(&["tables"]);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"one") && names.contains(&"tables"),
        "{names:?}"
    );
}

/// The same partial rows, loaded into the Debian server (legacy tables) and
/// into chDB (modern tables), give the same final views: the merge SQL means
/// the same on both generations. Two shards per group (the run's rows and a
/// copy under another shard name), so the views really merge.
#[test]
fn modern_views_on_chdb_merge_exactly_like_the_debian_server() {
    let url = "http://127.0.0.1:8123/";
    let python = std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sluice"))
        .join("chdb/bin/python");
    let chdb = Command::new(&python)
        .args(["-c", "import chdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available(post(url, "SELECT 1").is_ok() && chdb, "ClickHouse or chDB") {
        return;
    }
    let stamp = stamp();
    for domain in DOMAINS {
        let db = format!("x{stamp}_{domain}");
        let cfg = support::shipped_config_with(&[("database: sluice", &format!("database: {db}"))]);
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .current_dir(repo())
            .env("SLUICE_CONFIG_DIR", cfg.path())
            .env_remove("SLUICE_ENV")
            .args([
                "run",
                "--domain",
                domain,
                "--count",
                "4000",
                "--sink",
                "clickhouse",
                "--quiet",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ddl_legacy = ddl(domain, "legacy").replace("`sluice`", &format!("`{db}`"));
        let work = tempfile::tempdir().unwrap();
        let mut tables = Vec::new();
        for st in statements(&ddl_legacy) {
            let Some(rest) = st.strip_prefix("CREATE TABLE IF NOT EXISTS ") else {
                continue;
            };
            let name = rest.split_whitespace().next().unwrap().to_string();
            if !name.ends_with("_parts`") {
                continue;
            }
            // a second shard: the same rows under another shard name
            let rows = post(url, &format!("SELECT * FROM {name} FORMAT TSV")).unwrap();
            let copy: String = rows
                .lines()
                .map(|l| {
                    let mut f: Vec<&str> = l.split('\t').collect();
                    let n = f.len();
                    f[n - 2] = "copy";
                    f.join("\t") + "\n"
                })
                .collect();
            post(url, &format!("INSERT INTO {name} FORMAT TSV\n{copy}")).unwrap();
            let all = post(url, &format!("SELECT * FROM {name} FORMAT TSV")).unwrap();
            let file = work.path().join(format!("{}.tsv", tables.len()));
            std::fs::write(&file, all).unwrap();
            tables.push((name, file));
        }
        assert!(!tables.is_empty());
        // the views, read the same way on both servers
        let view_queries: Vec<String> = views(&ddl_legacy)
            .into_iter()
            .map(|v| format!("SELECT * FROM {v} FORMAT JSONCompact"))
            .collect();
        let debian: Vec<serde_json::Value> = view_queries
            .iter()
            .map(|q| serde_json::from_str(&post(url, q).unwrap()).unwrap())
            .collect();
        let ddl_modern = ddl(domain, "modern").replace("`sluice`", &format!("`{db}`"));
        let ddl_file = work.path().join("modern.sql");
        std::fs::write(&ddl_file, &ddl_modern).unwrap();
        let plan = serde_json::json!({
            "ddl": ddl_file,
            "loads": tables.iter().map(|(n, f)| (n.clone(), f.clone())).collect::<Vec<_>>(),
            "queries": view_queries,
        });
        let plan_file = work.path().join("plan.json");
        std::fs::write(&plan_file, plan.to_string()).unwrap();
        let script = r#"
import sys, json
from chdb import session
plan = json.load(open(sys.argv[1]))
s = session.Session()
for st in [x.strip() for x in open(plan["ddl"]).read().split(";\n") if x.strip()]:
    s.query(st)
for name, path in plan["loads"]:
    s.query("INSERT INTO " + name + " FROM INFILE '" + path + "' FORMAT TSV")
out = [json.loads(s.query(q.rsplit(" FORMAT ", 1)[0], "JSONCompact").data()) for q in plan["queries"]]
print(json.dumps(out))
"#;
        let out = Command::new(&python)
            .args(["-c", script])
            .arg(&plan_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{domain}: chDB: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let modern: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        for ((q, a), b) in view_queries.iter().zip(&debian).zip(&modern) {
            let names: Vec<&str> = a["meta"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap())
                .collect();
            // rows in a server-independent order: by the exact window bounds
            // and the text of the other columns, numbers rounded
            let sorted = |d: &serde_json::Value| {
                let mut rows = d["data"].as_array().unwrap().clone();
                rows.sort_by_key(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .zip(&names)
                        .filter(|(_, n)| {
                            !matches!(**n, "window_start" | "window_end" | "emitted_at")
                        })
                        .map(|(v, _)| {
                            match v
                                .as_f64()
                                .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()))
                            {
                                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                                    format!("{:+020}", f as i64)
                                }
                                Some(f) => format!("{f:.6e}"),
                                None => v.to_string(),
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                });
                rows
            };
            let (ra, rb) = (sorted(a), sorted(b));
            assert!(!ra.is_empty(), "{domain}: {q}: no rows");
            assert_eq!(ra.len(), rb.len(), "{domain}: {q}");
            for (x, y) in ra.iter().zip(&rb) {
                for ((n, u), v) in names
                    .iter()
                    .zip(x.as_array().unwrap())
                    .zip(y.as_array().unwrap())
                {
                    if matches!(*n, "window_start" | "window_end" | "emitted_at") {
                        continue; // DateTime vs DateTime64 text
                    }
                    let num = |j: &serde_json::Value| {
                        j.as_f64()
                            .or_else(|| j.as_str().and_then(|s| s.parse::<f64>().ok()))
                    };
                    match (num(u), num(v)) {
                        (Some(p), Some(r)) => assert!(
                            (p - r).abs() <= 1e-9 * p.abs().max(r.abs()).max(1.0),
                            "{domain}: {q}: column {n}: {u} on 18.16, {v} on chDB"
                        ),
                        _ => assert_eq!(u, v, "{domain}: {q}: column {n}"),
                    }
                }
            }
        }
        post(url, &format!("DROP DATABASE `{db}`")).unwrap();
    }
}
