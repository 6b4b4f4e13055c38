//! Generated monitoring: alert rules and dashboards are golden-tested,
//! `promtool check rules` accepts the rules, and every SQL query of the
//! results dashboard (panels and variables) runs on the real ClickHouse
//! server against the tables `sluice run` creates. The PromQL side runs
//! against a real Prometheus in `sluice-runtime/tests/prometheus.rs`.

use std::path::Path;
use std::process::Command;

mod support;
use support::{available, repo, required};

const DOMAINS: [&str; 4] = ["ecommerce", "iot", "fintech", "apm"];

fn sluice(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(repo())
        .env_remove("SLUICE_ENV")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dashboards(domain: &str) -> (tempfile::TempDir, serde_json::Value, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    sluice(&[
        "dashboards",
        "--domain",
        domain,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let read = |kind: &str| -> serde_json::Value {
        let p = dir
            .path()
            .join(format!("dashboards/sluice-{domain}-{kind}.json"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (p, b) = (read("pipeline"), read("business"));
    (dir, p, b)
}

#[test]
fn alerts_and_dashboards_match_golden_files() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/monitoring");
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    std::fs::create_dir_all(&golden).unwrap();
    for domain in DOMAINS {
        let (dir, _, _) = dashboards(domain);
        let mut files = vec![(
            format!("{domain}.rules.yml"),
            sluice(&["alerts", "--domain", domain]),
        )];
        for kind in ["pipeline", "business"] {
            let name = format!("sluice-{domain}-{kind}.json");
            files.push((
                name.clone(),
                std::fs::read_to_string(dir.path().join("dashboards").join(&name)).unwrap(),
            ));
        }
        // the same input gives byte-identical output
        let (dir2, _, _) = dashboards(domain);
        for (name, text) in &files[1..] {
            assert_eq!(
                text,
                &std::fs::read_to_string(dir2.path().join("dashboards").join(name)).unwrap()
            );
        }
        for (name, text) in files {
            let path = golden.join(&name);
            if update {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("missing {path:?}; run with UPDATE_GOLDEN=1"));
            assert_eq!(text, want, "{path:?} differs");
        }
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(!required(), "SLUICE_REQUIRE_SERVICES is set but promtool is missing (scripts/services.sh start prometheus installs it)");
        eprintln!("skipping: promtool not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for domain in DOMAINS {
        let path = dir.path().join(format!("{domain}.yml"));
        sluice(&[
            "alerts",
            "--domain",
            domain,
            "--out",
            path.to_str().unwrap(),
        ]);
        let out = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.contains("SUCCESS: 6 rules found"),
            "{domain}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn post(body: &str) -> Result<String, String> {
    support::post("http://127.0.0.1:8123/", body)
}

#[test]
fn every_sql_query_of_the_results_dashboards_runs_on_clickhouse() {
    if !available(post("SELECT 1").is_ok(), "ClickHouse") {
        return;
    }
    let stamp = support::stamp();
    for domain in DOMAINS {
        let db = format!("dash{stamp}_{domain}");
        // the tables `sluice run` creates, in a scratch database
        let ddl = sluice(&[
            "clickhouse",
            "ddl",
            "--domain",
            domain,
            "--dialect",
            "legacy",
        ]);
        for st in ddl.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            post(&st.replace("`sluice`", &format!("`{db}`"))).unwrap();
        }
        let (_dir, _, business) = dashboards(domain);
        let queries: Vec<String> = business["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["query"].as_str().unwrap().to_string())
            .chain(
                business["panels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["targets"][0]["rawSql"].as_str().unwrap().to_string()),
            )
            .collect();
        assert!(queries.len() > 1, "{domain}: no queries");
        for q in queries {
            // Grafana's macros, as the ClickHouse data source expands them
            let mut sql = q.replace("`sluice`", &format!("`{db}`")).replace(
                "$__timeFilter(window_start)",
                "window_start >= toDateTime(1704067200) AND window_start <= now()",
            );
            while let Some(i) = sql.find("${") {
                let end = sql[i..].find('}').unwrap() + i;
                sql.replace_range(i..=end, "'mobile', 'desktop'");
            }
            post(&sql).unwrap_or_else(|e| panic!("{domain}: {e}\n{sql}"));
        }
        post(&format!("DROP DATABASE `{db}`")).unwrap();
    }
}
