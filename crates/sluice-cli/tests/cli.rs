//! End-to-end tests of the `sluice` binary: broken configurations give the
//! expected diagnostics at file:line:col, the shipped and seed configurations
//! load, secrets never leak, schemas are stable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sluice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env_remove("SLUICE_ENV")
        .env_remove("SLUICE_CONFIG_DIR")
        .env_remove("RUST_LOG");
    c
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const PLATFORM: &str = "kafka:\n  bootstrap_servers: 127.0.0.1:9092\n";
const DEV: &str = "logging:\n  level: info\n";
const DOMAIN: &str = "domain: shop\nentity:\n  primary_key: user_id\nevent_types:\n  - name: page_view\n    dimensions: [device_type]\n";

/// A config dir with valid defaults, one of whose files is replaced.
fn config_dir(role: &str, broken: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("config");
    std::fs::create_dir_all(root.join("environments")).unwrap();
    std::fs::create_dir_all(root.join("domains")).unwrap();
    let (platform, dev, domain) = match role {
        "platform" => (broken, DEV, DOMAIN),
        "env" => (PLATFORM, broken, DOMAIN),
        _ => (PLATFORM, DEV, broken),
    };
    std::fs::write(root.join("platform.yaml"), platform).unwrap();
    std::fs::write(root.join("environments/dev.yaml"), dev).unwrap();
    std::fs::write(root.join("domains/shop.yaml"), domain).unwrap();
    let file = match role {
        "platform" => root.join("platform.yaml"),
        "env" => root.join("environments/dev.yaml"),
        _ => root.join("domains/shop.yaml"),
    };
    (dir, file)
}

#[test]
fn broken_configs_report_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "need at least 15 broken configs, have {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let role = stem.split('_').next().unwrap();
        let expects: Vec<(String, String)> = src
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(|e| {
                let (pos, msg) = e.split_once(' ').unwrap();
                (pos.to_string(), msg.to_string())
            })
            .collect();
        assert!(!expects.is_empty(), "{stem}: no `# expect:` line");
        let (tmp, file) = config_dir(role, &src);
        let mut cmd = sluice();
        cmd.arg("--config-dir")
            .arg(tmp.path().join("config"))
            .arg("validate")
            .current_dir(tmp.path());
        if src.contains("# secrets: check") {
            cmd.arg("--check-secrets");
        }
        let out = cmd.output().unwrap();
        let (_, stderr) = text(&out);
        if out.status.code() != Some(2) {
            failures.push(format!(
                "{stem}: exit {:?}, stderr:\n{stderr}",
                out.status.code()
            ));
            continue;
        }
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        if errors.len() != expects.len() {
            failures.push(format!(
                "{stem}: expected {} errors, got {}:\n{stderr}",
                expects.len(),
                errors.len()
            ));
            continue;
        }
        for (pos, msg) in &expects {
            let prefix = format!("error: {}:{pos}: ", file.display());
            if !errors
                .iter()
                .any(|l| l.starts_with(&prefix) && l.contains(msg.as_str()))
            {
                failures.push(format!("{stem}: no error `{prefix}...{msg}` in:\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shipped_config_validates_in_every_environment() {
    for env in ["dev", "staging", "prod"] {
        let out = sluice()
            .current_dir(repo())
            .args(["--env", env, "validate"])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{env}: {stderr}");
        for d in ["ecommerce", "iot", "fintech", "apm"] {
            assert!(
                stdout.contains(&format!("ok: domain `{d}`")),
                "{env}: {stdout}"
            );
        }
    }
}

#[test]
fn unknown_environment_is_reported_with_suggestion() {
    let out = sluice()
        .current_dir(repo())
        .args(["--env", "prd", "validate"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown environment `prd`") && stderr.contains("did you mean `prod`?"),
        "{stderr}"
    );
}

const SEED_PLATFORM: &str = r#"kafka:
  bootstrap_servers: ${secret:kafka_bootstrap_servers}
  schema_registry:
    url: ${secret:schema_registry_url}

spark:
  app_name: streaming-platform
  master: local[*]
  trigger_interval: 10 seconds
  watermark:
    delay: 10 minutes
"#;

const SEED_DOMAIN: &str = r#"domain: ecommerce
entity:
  primary_key: user_id

event_types:
  - name: page_view
    attributes:
      - page_url
      - page_title
    dimensions:
      - device_type
      - platform

aggregations:
  - name: events_per_minute
    type: count
    window:
      type: tumbling
      duration: 1 minute
    group_by:
      - device_type
"#;

const SEED_DOTENV: &str = "# Kafka\nkafka_bootstrap_servers=localhost:9092\nschema_registry_url=http://localhost:8081\n\n# ClickHouse\nclickhouse_host=localhost\nclickhouse_user=default\nclickhouse_password=your_password\n\n# Checkpoints\ncheckpoint_path=./checkpoints\n";

#[test]
fn seed_example_loads_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("config");
    std::fs::create_dir_all(root.join("environments")).unwrap();
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::write(root.join("platform.yaml"), SEED_PLATFORM).unwrap();
    std::fs::write(
        root.join("environments/dev.yaml"),
        "# dev: no overrides\nlogging:\n  level: info\n",
    )
    .unwrap();
    std::fs::write(root.join("domains/ecommerce.yaml"), SEED_DOMAIN).unwrap();
    std::fs::write(dir.path().join(".env"), SEED_DOTENV).unwrap();
    let out = sluice()
        .current_dir(dir.path())
        .args(["validate", "--check-secrets"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("ok: domain `ecommerce` (1 event types, 1 aggregations)"),
        "{stdout}"
    );
    let out = sluice()
        .current_dir(dir.path())
        .args(["config", "show"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // the seed's spark settings become engine defaults
    assert!(stdout.contains("watermark_delay: 10m"), "{stdout}");
    assert!(stdout.contains("trigger_interval: 10s"), "{stdout}");
    // resolved secrets are redacted, not printed
    assert!(!stdout.contains("localhost:9092"), "{stdout}");
    assert!(
        stdout.contains("bootstrap_servers: \"[redacted]\""),
        "{stdout}"
    );
    // schema generation works on the seed domain
    let out = sluice()
        .current_dir(dir.path())
        .args(["schema", "--domain", "ecommerce"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\"name\": \"PageView\""), "{stdout}");
}

#[test]
fn planted_secret_never_appears_in_output_logs_or_errors() {
    const PLANTED: &str = "planted-Secret-value-8f3a";
    // resolved: config show in staging with trace logging in both formats
    for fmt in ["pretty", "json"] {
        let out = sluice()
            .current_dir(repo())
            .env("SLUICE_SECRET_CLICKHOUSE_PASSWORD", PLANTED)
            .env("RUST_LOG", "trace")
            .args(["--env", "staging", "--log-format", fmt, "config", "show"])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("password: \"[redacted]\""), "{stdout}");
        assert!(!stdout.contains(PLANTED) && !stderr.contains(PLANTED));
    }
    // failing: prod needs a second secret that is missing; the error names it
    // but never prints the one that was found
    let out = sluice()
        .current_dir(repo())
        .env("SLUICE_SECRET_CLICKHOUSE_PASSWORD", PLANTED)
        .env("RUST_LOG", "trace")
        .args(["--env", "prod", "validate", "--check-secrets"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("secret `clickhouse_user` not found"),
        "{stderr}"
    );
    assert!(!stdout.contains(PLANTED) && !stderr.contains(PLANTED));
}

#[test]
fn shipped_domain_schemas_match_golden_files() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/schemas");
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    for domain in ["ecommerce", "iot", "fintech", "apm"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = sluice()
            .current_dir(repo())
            .args(["schema", "--domain", domain, "--out"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        let want_dir = golden.join(domain);
        if update {
            std::fs::create_dir_all(&want_dir).unwrap();
        }
        let mut produced: Vec<PathBuf> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        produced.sort();
        assert!(!produced.is_empty());
        for p in produced {
            let name = p.file_name().unwrap();
            let got = std::fs::read_to_string(&p).unwrap();
            if update {
                std::fs::write(want_dir.join(name), &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(want_dir.join(name)).unwrap_or_else(|_| {
                panic!(
                    "missing golden {}/{:?}; run with UPDATE_GOLDEN=1",
                    domain, name
                )
            });
            assert_eq!(got, want, "{domain}/{name:?} differs from golden");
        }
    }
}

#[test]
fn schema_diff_reports_compatibility_and_breaking_changes() {
    let old = tempfile::tempdir().unwrap();
    let out = sluice()
        .current_dir(repo())
        .args([
            "schema",
            "--domain",
            "ecommerce",
            "--event",
            "purchase",
            "--out",
        ])
        .arg(old.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let file = std::fs::read_dir(old.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();

    // compatible: add an optional field with a default
    let mut added = schema.clone();
    added["fields"].as_array_mut().unwrap().push(
        serde_json::json!({"name": "gift_note", "type": ["null", "string"], "default": null}),
    );
    let new = tempfile::tempdir().unwrap();
    std::fs::write(
        new.path().join(file.file_name().unwrap()),
        serde_json::to_string_pretty(&added).unwrap(),
    )
    .unwrap();
    let out = sluice()
        .args(["schema", "diff"])
        .arg(old.path())
        .arg(new.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.to_lowercase().contains("fully compatible"),
        "{stdout}"
    );

    // breaking: change a field's type from long to string
    let mut broken = schema.clone();
    for f in broken["fields"].as_array_mut().unwrap() {
        if f["name"] == "items" {
            f["type"] = serde_json::json!("string");
        }
    }
    std::fs::write(
        new.path().join(file.file_name().unwrap()),
        serde_json::to_string_pretty(&broken).unwrap(),
    )
    .unwrap();
    let out = sluice()
        .args(["schema", "diff"])
        .arg(old.path())
        .arg(new.path())
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("items"), "{stdout}");
}

/// `sluice schema register --check` against the real schema registry
/// (skips unless it runs; fails when `SLUICE_REQUIRE_SERVICES` is set).
#[test]
fn schema_register_check_refuses_breaking_changes() {
    let reg = "127.0.0.1:8081".parse::<std::net::SocketAddr>().unwrap();
    if std::net::TcpStream::connect_timeout(&reg, std::time::Duration::from_secs(2)).is_err() {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "schema registry required but not running"
        );
        eprintln!("skipping: schema registry not running (scripts/services.sh start registry)");
        return;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let name = format!("reg{stamp}");
    let v1 = format!(
        "domain: {name}\nentity:\n  primary_key: user_id\nevent_types:\n  - name: order\n    attributes:\n      - {{ name: items, type: int }}\n      - order_id\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("config");
    std::fs::create_dir_all(root.join("environments")).unwrap();
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::copy(
        repo().join("config/platform.yaml"),
        root.join("platform.yaml"),
    )
    .unwrap();
    std::fs::write(root.join("environments/dev.yaml"), DEV).unwrap();
    let domain_file = root.join(format!("domains/{name}.yaml"));
    let register = |yaml: &str| {
        std::fs::write(&domain_file, yaml).unwrap();
        let out = sluice()
            .current_dir(dir.path())
            .arg("--config-dir")
            .arg(&root)
            .args(["schema", "register", "--check", "--domain", &name])
            .output()
            .unwrap();
        (out.status.code(), text(&out).0 + &text(&out).1)
    };
    let (code, out) = register(&v1);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{name}.order-value: schema id")),
        "{out}"
    );
    // compatible: an optional field with a default
    let v2 = v1.clone() + "      - { name: note, optional: true }\n";
    let (code, out) = register(&v2);
    assert_eq!(code, Some(0), "{out}");
    // breaking: a field changes type
    let v3 = v2.replace(
        "{ name: items, type: int }",
        "{ name: items, type: string }",
    );
    let (code, out) = register(&v3);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("REFUSED") && out.contains("items"), "{out}");
}

/// Runs `sluice run --source file:SPEC` on the shipped config into a scratch
/// database; `drop_dac` runs it without the capabilities that let root read
/// any file (so permission errors happen as for any other user).
fn run_file_source(dir: &Path, spec: &str, drop_dac: bool) -> (Option<i32>, String) {
    let mut c = if drop_dac {
        let mut c = Command::new("setpriv");
        c.args([
            "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_sluice"));
        c.env_remove("SLUICE_ENV")
            .env_remove("SLUICE_CONFIG_DIR")
            .env_remove("RUST_LOG");
        c
    } else {
        sluice()
    };
    let out = c
        .current_dir(dir)
        .arg("--config-dir")
        .arg(repo().join("config"))
        .args(["run", "--domain", "ecommerce", "--quiet", "--db"])
        .arg(dir.join("s.duckdb"))
        .arg("--source")
        .arg(format!("file:{spec}"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout + &stderr)
}

#[test]
fn a_file_source_that_is_not_a_regular_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run_file_source(dir.path(), "/dev/zero", false);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("`/dev/zero`") && out.contains("not a regular file (character device)"),
        "{out}"
    );
    assert!(!out.contains("no such file"), "{out}");
    // a missing file still says so
    let (code, out) = run_file_source(dir.path(), "missing.jsonl", false);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("`missing.jsonl`: no such file"), "{out}");
}

#[test]
fn a_permission_error_on_the_file_source_is_printed_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"event_id":"e1","event_type":"page_view","user_id":"u1","event_time":1000,"session_id":null,"page_url":"/","referrer":null,"device_type":"mobile","platform":"ios","country":"DE"}"#;
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    for f in ["x.jsonl", "y.avro"] {
        let p = dir.path().join(f);
        std::fs::write(&p, format!("{line}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    std::fs::write(locked.join("x.jsonl"), format!("{line}\n")).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // root reads anything unless it gives up the capabilities that allow it
    let drop_dac = std::fs::read(dir.path().join("x.jsonl")).is_ok();
    if drop_dac && Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipping: running as root and `setpriv` is not installed");
        return;
    }
    for spec in [
        "x.jsonl",
        "y.avro",
        "locked",
        "locked/x.jsonl",
        "locked/*.jsonl",
    ] {
        let (code, out) = run_file_source(dir.path(), spec, drop_dac);
        assert_eq!(code, Some(1), "{spec}: {out}");
        assert_eq!(
            out.matches("Permission denied").count(),
            1,
            "{spec}: the reason once\n{out}"
        );
        assert!(
            out.contains(&format!("`{spec}`")) || out.contains("`locked`"),
            "{spec}: {out}"
        );
        assert!(!out.contains("no such file"), "{spec}: {out}");
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `sluice` on the shipped configuration from the repository root.
fn shipped(args: &[&str]) -> (Option<i32>, String) {
    let o = sluice().current_dir(repo()).args(args).output().unwrap();
    (o.status.code(), text(&o).1)
}

#[test]
fn flags_the_chosen_source_or_sink_would_ignore_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.jsonl");
    std::fs::write(&file, "").unwrap();
    let db = dir.path().join("x.duckdb");
    let src = format!("file:{}", file.display());
    // the issue's case: a file replayed in full despite --count/--until-end
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--source",
        &src,
        "--count",
        "5",
        "--until-end",
        "--seed",
        "3",
        "--late-share",
        "0.1",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    for flag in ["--count", "--until-end", "--seed", "--late-share"] {
        assert!(
            err.contains(&format!("`{flag}` applies to")),
            "{flag} not refused: {err}"
        );
    }
    assert!(
        !err.contains("`--db`"),
        "--db applies to the duckdb sink: {err}"
    );
    assert!(!db.exists(), "nothing may run after a usage error");
    // generator-only and kafka-only flags against the other sources
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "5",
        "--group",
        "g",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`--group` applies to `--source kafka` only"),
        "{err}"
    );
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--source",
        "kafka",
        "--duration",
        "1m",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`--duration` applies to `--source generator` only"),
        "{err}"
    );
    // sink-specific paths
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "5",
        "--sink",
        "jsonl",
        "--db",
        "x.duckdb",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`--db` names the DuckDB file"), "{err}");
    let (code, err) = shipped(&[
        "generate",
        "--domain",
        "ecommerce",
        "--to",
        "kafka",
        "--count",
        "5",
        "--format",
        "avro",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`--format` sets the file format"), "{err}");
    let (code, err) = shipped(&[
        "generate",
        "--domain",
        "ecommerce",
        "--count",
        "5",
        "--topic-prefix",
        "demo.",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`--topic-prefix` names Kafka topics"), "{err}");
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "5",
        "--topic-prefix",
        "demo.",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`--topic-prefix` applies to `--source kafka` only"),
        "{err}"
    );
    // a flag that applies is honoured: 5 events from the generator
    let out = dir.path().join("o.jsonl");
    let (code, err) = shipped(&[
        "run",
        "--domain",
        "ecommerce",
        "--count",
        "5",
        "--quiet",
        "--sink",
        "jsonl",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("done: 5 records"), "{err}");
}

#[test]
fn enumerated_arguments_suggest_the_near_miss() {
    for (args, want) in [
        (
            vec!["run", "--domain", "ecommerce", "--source", "kafak"],
            "unknown source `kafak` (expected one of `generator`, `file:PATH` or `kafka`); did you mean `kafka`?",
        ),
        (
            vec!["run", "--domain", "ecommerce", "--sink", "clikhouse"],
            "did you mean `clickhouse`?",
        ),
        (
            vec!["run", "--domain", "ecommerce", "--aggregation", "revenue_tday"],
            "unknown aggregation `revenue_tday` in domain `ecommerce`",
        ),
        (
            vec!["generate", "--domain", "ecommerce", "--event", "page_veiw", "--count", "1"],
            "did you mean `page_view`?",
        ),
        (
            vec!["schema", "--domain", "ecommerce", "--event", "purchse"],
            "did you mean `purchase`?",
        ),
        (
            vec!["generate", "--domain", "ecommerce", "--to", "kafak"],
            "a similar value exists: 'kafka'",
        ),
        (
            vec!["run", "--domain", "ecomerce"],
            "did you mean `ecommerce`?",
        ),
    ] {
        let (code, err) = shipped(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
    }
}

#[test]
fn generate_and_run_share_one_default_seed() {
    // `generate` with no --seed equals `generate --seed 42`, the seed
    // `run` uses by default
    let go = |extra: &[&str]| {
        let mut a = vec!["generate", "--domain", "ecommerce", "--count", "50"];
        a.extend_from_slice(extra);
        let o = sluice().current_dir(repo()).args(&a).output().unwrap();
        assert!(o.status.success(), "{}", text(&o).1);
        o.stdout
    };
    let default = go(&[]);
    assert_eq!(default, go(&["--seed", "42"]));
    assert_ne!(default, go(&["--seed", "1"]));
}

#[test]
fn a_running_pipeline_answers_queries_with_complete_flushes_only() {
    // the run holds the DuckDB file's lock; `sluice query` and `sluice
    // tables` from another process are answered by the run itself, each in
    // one snapshot: every table's row count matches the progress the same
    // write recorded, and all tables have seen the same number of flushes
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.duckdb");
    let db = db.to_str().unwrap();
    let tables = [
        "events_per_minute",
        "events_by_device_and_type",
        "revenue_by_country_5m",
        "unique_users_by_platform",
        "order_value_percentiles",
        "big_carts",
        "revenue_today",
    ];
    let counts = tables
        .iter()
        .map(|t| format!("SELECT '{t}' AS t, count(*) AS n FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "SELECT p.table_name, p.flushes, p.rows, c.n FROM _sluice_progress p \
         JOIN ({counts}) c ON c.t = p.table_name ORDER BY 1"
    );
    let mut run = sluice()
        .current_dir(repo())
        .args([
            "run",
            "--domain",
            "ecommerce",
            "--count",
            "5000000",
            "--quiet",
        ])
        .args(["--db", db])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let query = |args: &[&str]| {
        let o = sluice().args(args).args(["--db", db]).output().unwrap();
        (o.status.success(), text(&o))
    };
    let mut last: Vec<(i64, i64)> = vec![(0, 0); tables.len()];
    let mut growing_polls = 0;
    let mut listed_tables = false;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while growing_polls < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(run.try_wait().unwrap().is_none(), "the run ended too soon");
        let (ok, (out, err)) = query(&["query", "--format", "json", &sql]);
        if !ok {
            // before the sink's first transaction the table is missing
            assert!(err.contains("_sluice_progress"), "{err}");
            continue;
        }
        let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        if rows.is_empty() {
            continue;
        }
        assert_eq!(rows.len(), tables.len(), "{out}");
        let now: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| {
                let n = |k: &str| r[k].as_i64().unwrap_or_else(|| panic!("{k} in {r}"));
                assert_eq!(n("rows"), n("n"), "a query saw a partial flush: {r}");
                (n("flushes"), n("rows"))
            })
            .collect();
        assert!(
            now.iter().all(|(f, _)| *f == now[0].0),
            "tables at different flushes: {out}"
        );
        for (a, b) in last.iter().zip(&now) {
            assert!(
                b.0 >= a.0 && b.1 >= a.1,
                "progress went back: {last:?} -> {now:?}"
            );
        }
        if now[0].0 > last[0].0 {
            growing_polls += 1;
        }
        last = now;
        if !listed_tables {
            let (ok, (out, err)) = query(&["tables"]);
            assert!(ok, "{err}");
            for t in tables {
                assert!(out.contains(t), "{t} missing from {out}");
            }
            listed_tables = true;
        }
    }
    assert!(growing_polls >= 4, "saw {growing_polls} growing polls");
    // Ctrl-C: the run finishes what is complete and lets go of the file,
    // which is then read directly, as consistent as while it ran
    let pid = run.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, (out, err)) = query(&["query", "--format", "json", &sql]);
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    for r in &rows {
        assert_eq!(r["rows"], r["n"], "{r}");
        assert!(r["flushes"].as_i64().unwrap() >= last[0].0, "{r}");
    }
}

#[test]
fn every_bench_says_what_it_measured_and_takes_a_domain() {
    let bench = |args: &[&str]| -> serde_json::Value {
        let o = sluice().current_dir(repo()).args(args).output().unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    // the domain's own aggregations, named, on the domain's events
    let iot_aggs = [
        "avg_temperature_by_site",
        "max_temperature_by_model",
        "min_battery_by_site",
        "critical_alarms",
        "device_activity_sessions",
    ];
    let f = bench(&[
        "bench", "file", "--events", "3000", "--domain", "iot", "--json",
    ]);
    assert_eq!(f["measured"]["domain"], "iot", "{f}");
    assert_eq!(f["measured"]["aggregations"], serde_json::json!(iot_aggs));
    assert!(f["results"].as_u64().unwrap() > 0, "{f}");
    assert!(f["baseline"].as_str().unwrap().contains("DuckDB"), "{f}");
    // the default stays the fixed plan, and says so
    let f = bench(&["bench", "file", "--events", "3000", "--json"]);
    assert!(
        f["measured"]["plan"]
            .as_str()
            .unwrap()
            .starts_with("fixed plan"),
        "{f}"
    );
    assert_eq!(f["measured"]["aggregations"].as_array().unwrap().len(), 3);
    // engine: the whole plan, then each aggregation alone
    let e = bench(&[
        "bench", "engine", "--events", "20000", "--rounds", "1", "--domain", "iot", "--json",
    ]);
    let names: Vec<&str> = e["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut want = vec!["all 5 aggregations"];
    want.extend(iot_aggs);
    assert_eq!(names, want);
    let m = bench(&[
        "bench", "metrics", "--events", "20000", "--rounds", "1", "--domain", "fintech", "--json",
    ]);
    assert_eq!(m["measured"]["domain"], "fintech", "{m}");
    let m = bench(&[
        "bench", "metrics", "--events", "20000", "--rounds", "1", "--json",
    ]);
    assert!(
        m["measured"]["plan"]
            .as_str()
            .unwrap()
            .starts_with("fixed plan"),
        "{m}"
    );
}

#[test]
fn the_wrapper_script_says_when_it_builds() {
    // scripts/sluice with a stand-in `cargo` (records its calls, "builds" a
    // binary) and an empty target directory: the first call announces the
    // long first build, the next one runs the binary without a word
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("cargo.log");
    let fake = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nif [ \"$1\" = build ]; then mkdir -p \"$CARGO_TARGET_DIR/release\"; \
         printf '#!/bin/sh\\necho ran \"$@\"\\n' > \"$CARGO_TARGET_DIR/release/sluice\"; \
         chmod +x \"$CARGO_TARGET_DIR/release/sluice\"; else echo 'cargo 0.0.0'; fi\n",
        log.display()
    );
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, fake).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.path().join("target");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let call = || {
        let o = Command::new(repo().join("scripts/sluice"))
            .arg("--version")
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o).1);
        text(&o)
    };
    let (out, err) = call();
    assert_eq!(out.trim(), "ran --version");
    assert!(
        err.contains("first build of the CLI in release mode"),
        "{err}"
    );
    assert!(err.contains("minutes"), "{err}");
    assert!(err.contains("sluice: built in"), "{err}");
    let builds = std::fs::read_to_string(&log).unwrap();
    assert!(
        builds.contains("build --release --locked -p sluice-cli"),
        "not quiet on the first build: {builds}"
    );
    let (out, err) = call();
    assert_eq!(out.trim(), "ran --version");
    assert!(
        !err.contains("build"),
        "nothing to say the second time: {err}"
    );
}
