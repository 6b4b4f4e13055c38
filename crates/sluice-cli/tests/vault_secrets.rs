//! `sluice validate --check-secrets` and `sluice config show` with secrets in
//! a real HashiCorp Vault (dev server over TLS, `scripts/services.sh start
//! vault`): resolved, redacted, and a bad reference reported at its line.

mod support;

use std::path::PathBuf;
use std::process::Command;

const ROOT: &str = "sluice-dev-root";

fn address() -> String {
    std::env::var("SLUICE_VAULT_ADDR").unwrap_or_else(|_| "https://127.0.0.1:8200".into())
}

fn ca() -> PathBuf {
    let cache = std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sluice"));
    cache.join("services/vault/tls/vault-ca.pem")
}

/// `curl` against Vault as root (test setup).
fn vault(method: &str, path: &str, body: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "10", "--cacert"])
        .arg(ca())
        .args(["-X", method, "-H", &format!("X-Vault-Token: {ROOT}")])
        .args(["--data", body])
        .arg(format!("{}/v1/{path}", address()))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn secrets_in_vault_are_resolved_redacted_and_errors_point_at_the_reference() {
    let up = ca().exists() && vault("GET", "sys/health", "").is_ok();
    if !support::available(up, "Vault (scripts/services.sh start vault)") {
        return;
    }
    let stamp = support::stamp();
    let planted = format!("vault-planted-{stamp}");
    vault(
        "POST",
        &format!("secret/data/sluice-cli-{stamp}/clickhouse"),
        &format!(r#"{{"data": {{"user": "default", "password": "{planted}"}}}}"#),
    )
    .unwrap();

    let cfg = support::shipped_config_with(&[]);
    let token = cfg.path().join("vault-token");
    std::fs::write(&token, ROOT).unwrap();
    let env = |password_ref: &str| {
        format!(
            "sinks:\n  default: clickhouse\n  clickhouse:\n    user: ${{secret:clickhouse#user}}\n    password: {password_ref}\nsecrets:\n  backends:\n    - type: env\n      prefix: SLUICE_VAULT_TEST_\n    - type: vault\n      address: {}\n      ca_cert: {}\n      path: sluice-cli-{stamp}\n      token_file: {}\n",
            address(),
            ca().display(),
            token.display()
        )
    };
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .env("SLUICE_CONFIG_DIR", cfg.path())
            .env_remove("SLUICE_ENV")
            .env("RUST_LOG", "trace")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    std::fs::write(
        cfg.path().join("environments/vaulted.yaml"),
        env("${secret:clickhouse#password}"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["--env", "vaulted", "validate", "--check-secrets"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = run(&["--env", "vaulted", "config", "show"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("password: \"[redacted]\""), "{stdout}");
    assert!(!stdout.contains(&planted) && !stderr.contains(&planted));

    // a key the secret does not have: exit 2, at the reference's line
    std::fs::write(
        cfg.path().join("environments/vaulted.yaml"),
        env("${secret:clickhouse#pasword}"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["--env", "vaulted", "validate", "--check-secrets"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("vaulted.yaml:5:"), "{stderr}");
    assert!(
        stderr.contains("no usable key `pasword`") && stderr.contains("password, user"),
        "{stderr}"
    );
    assert!(!stdout.contains(&planted) && !stderr.contains(&planted));
}

/// The dev credentials `scripts/services.sh` gives Kafka's SASL/PLAIN
/// listener (127.0.0.1:9094) and ClickHouse's `sluice_secret` user.
const KAFKA_SASL_PASSWORD: &str = "sluice-sasl-dev-password";
const CLICKHOUSE_PASSWORD: &str = "sluice-clickhouse-dev-password";

#[test]
fn a_pipeline_runs_end_to_end_with_its_kafka_and_clickhouse_passwords_in_vault() {
    let up = ca().exists()
        && vault("GET", "sys/health", "").is_ok()
        && support::up("127.0.0.1:9094")
        && support::up("127.0.0.1:8081")
        && support::up("127.0.0.1:8123");
    if !support::available(
        up,
        "Vault, Kafka (SASL on :9094), the registry and ClickHouse (scripts/services.sh start ...)",
    ) {
        return;
    }
    let stamp = support::stamp();
    let path = format!("sluice-e2e-{stamp}");
    vault(
        "POST",
        &format!("secret/data/{path}/kafka"),
        &format!(r#"{{"data": {{"username": "sluice", "password": "{KAFKA_SASL_PASSWORD}"}}}}"#),
    )
    .unwrap();
    vault(
        "POST",
        &format!("secret/data/{path}/clickhouse"),
        &format!(r#"{{"data": {{"user": "sluice_secret", "password": "{CLICKHOUSE_PASSWORD}"}}}}"#),
    )
    .unwrap();
    let cfg = support::shipped_config_with(&[]);
    let token = cfg.path().join("vault-token");
    std::fs::write(&token, ROOT).unwrap();
    let db = format!("sluice_vault_{stamp}");
    std::fs::write(
        cfg.path().join("environments/vaulted.yaml"),
        format!(
            "kafka:\n  bootstrap_servers: 127.0.0.1:9094\n  properties:\n    security.protocol: SASL_PLAINTEXT\n    sasl.mechanism: PLAIN\n    sasl.username: ${{secret:kafka#username}}\n    sasl.password: ${{secret:kafka#password}}\nsinks:\n  default: clickhouse\n  clickhouse:\n    database: {db}\n    user: ${{secret:clickhouse#user}}\n    password: ${{secret:clickhouse#password}}\nsecrets:\n  backends:\n    - type: vault\n      address: {}\n      ca_cert: {}\n      path: {path}\n      token_file: {}\n",
            address(),
            ca().display(),
            token.display()
        ),
    )
    .unwrap();
    let prefix = format!("vault{stamp}.");
    let p = ["--topic-prefix", prefix.as_str()];
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .env("SLUICE_CONFIG_DIR", cfg.path())
            .env("SLUICE_ENV", "vaulted")
            .env("RUST_LOG", "trace")
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        for secret in [KAFKA_SASL_PASSWORD, CLICKHOUSE_PASSWORD] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{args:?} printed a password"
            );
        }
        assert!(out.status.success(), "{args:?}: {stderr}");
        (stdout, stderr)
    };
    run(&["topics", "--domain", "ecommerce", "--recreate", p[0], p[1]]);
    run(&[
        "generate",
        "--domain",
        "ecommerce",
        "--to",
        "kafka",
        "--count",
        "2000",
        // malformed records: their dead letters (original bytes) go to the
        // dead-letter topic and table, which must not hold a password either
        "--malformed-share",
        "0.02",
        p[0],
        p[1],
    ]);
    let (_, err) = run(&[
        "--log-format",
        "json",
        "run",
        "--domain",
        "ecommerce",
        "--source",
        "kafka",
        "--until-end",
        "--quiet",
        p[0],
        p[1],
    ]);
    assert!(err.contains("2000 records"), "every record read: {err}");
    assert!(err.contains("\"level\""), "JSON log lines: {err}");
    // the dead-letter topic, as `dlq inspect` shows it
    let (dlq, _) = run(&["dlq", "inspect", "--domain", "ecommerce", p[0], p[1]]);
    assert!(!dlq.trim().is_empty(), "dead letters were written");
    // every table of the store, dead letters and checkpoints included
    let ch = |sql: String| {
        let out = Command::new("curl")
            .args(["-fsS", "http://127.0.0.1:8123/", "--data-binary"])
            .arg(sql)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let names = ch(format!("SHOW TABLES FROM {db}"));
    assert!(names.contains("_sluice_dead_letters"), "{names}");
    for t in names.lines().filter(|t| !t.trim().is_empty()) {
        let dump = ch(format!("SELECT * FROM {db}.`{t}` FORMAT TSV"));
        for secret in [KAFKA_SASL_PASSWORD, CLICKHOUSE_PASSWORD] {
            assert!(!dump.contains(secret), "table {t} holds a password");
        }
    }
    // the results are in ClickHouse, written as the user whose password
    // came from Vault
    let (tables, _) = run(&["tables", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&tables).unwrap();
    let total: i64 = rows.iter().filter_map(|r| r["rows"].as_i64()).sum();
    assert!(total > 0, "{tables}");
    run(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    let drop = Command::new("curl")
        .args(["-fsS", "http://127.0.0.1:8123/", "--data-binary"])
        .arg(format!("DROP DATABASE IF EXISTS {db}"))
        .status()
        .unwrap();
    assert!(drop.success());
}
