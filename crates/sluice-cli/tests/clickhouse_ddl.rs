//! `sluice clickhouse ddl`: golden files for old and modern servers; the
//! legacy statements run on the Debian ClickHouse server
//! (`scripts/services.sh start clickhouse`) and the modern ones on chDB, an
//! embedded modern ClickHouse (installed by `scripts/bootstrap.sh chdb` into
//! `$SLUICE_CACHE_DIR/chdb`), each followed by a query of every view.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::{post, repo, required};

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
    if post(url, "SELECT 1").is_err() {
        assert!(
            !required(),
            "SLUICE_REQUIRE_SERVICES is set but ClickHouse is down"
        );
        eprintln!("skipping: ClickHouse not running");
        return;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
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
    if post("http://127.0.0.1:8123/", "SELECT 1").is_err() {
        assert!(
            !required(),
            "SLUICE_REQUIRE_SERVICES is set but ClickHouse is down"
        );
        eprintln!("skipping: ClickHouse not running");
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
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env("SLUICE_CONFIG_DIR", dir.path())
        .env_remove("SLUICE_ENV")
        .args([
            "query",
            "SELECT dummy, 40 + 2 AS answer FROM one",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // `one` is ClickHouse's own one-row table: the query ran there, in the
    // configured database, and numbers came back as numbers
    assert_eq!(v[0]["answer"], serde_json::json!(42));
}
