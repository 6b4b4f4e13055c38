//! `sluice validate --check-secrets` and `sluice config show` with secrets in
//! a real HashiCorp Vault (dev server over TLS, `scripts/services.sh start
//! vault`): resolved, redacted, and a bad reference reported at its line; a
//! pipeline whose Kafka and ClickHouse passwords come from Vault; and a
//! ClickHouse password rotated in Vault and on the server mid-run, picked up
//! without a restart.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::vault::{address, ca, cache, clickhouse, vault, vault_environment, ROOT};

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
    let db = format!("sluice_vault_{stamp}");
    vault_environment(
        cfg.path(),
        "vaulted",
        &format!(
            "kafka:\n  bootstrap_servers: 127.0.0.1:9094\n  properties:\n    security.protocol: SASL_PLAINTEXT\n    sasl.mechanism: PLAIN\n    sasl.username: ${{secret:kafka#username}}\n    sasl.password: ${{secret:kafka#password}}\nsinks:\n  default: clickhouse\n  clickhouse:\n    database: {db}\n    user: ${{secret:clickhouse#user}}\n    password: ${{secret:clickhouse#password}}\n"
        ),
        &path,
    );
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
    let ch = |sql: String| clickhouse(&sql, None).unwrap();
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

/// A ClickHouse user of this test's own in the server's `users.d` (read
/// again by the server within seconds of a change); removed on drop.
struct RotatingUser {
    file: PathBuf,
    name: String,
}

impl RotatingUser {
    fn set_password(&self, password: &str) {
        std::fs::write(
            &self.file,
            format!(
                "<yandex><users><{n}><password>{password}</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></{n}></users></yandex>\n",
                n = self.name
            ),
        )
        .unwrap();
        // the server reloads its users within a few seconds
        let started = std::time::Instant::now();
        while clickhouse("SELECT 1", Some((&self.name, password))).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "ClickHouse did not take the new password of {}",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

impl Drop for RotatingUser {
    fn drop(&mut self) {
        std::fs::remove_file(&self.file).ok();
    }
}

#[test]
fn a_clickhouse_password_rotated_mid_run_is_picked_up_without_a_restart() {
    let users_d = cache().join("services/clickhouse/users.d");
    let up = ca().exists()
        && vault("GET", "sys/health", "").is_ok()
        && support::up("127.0.0.1:9092")
        && support::up("127.0.0.1:8081")
        && support::up("127.0.0.1:8123")
        && cache().join("services/clickhouse/users.xml").exists();
    if !support::available(
        up,
        "Vault, Kafka, the registry and ClickHouse started by scripts/services.sh",
    ) {
        return;
    }
    std::fs::create_dir_all(&users_d).unwrap();
    let stamp = support::stamp();
    let user = RotatingUser {
        file: users_d.join(format!("sluice_rotate_{stamp}.xml")),
        name: format!("sluice_rotate_{stamp}"),
    };
    let (first, second) = (format!("first-{stamp}-pw"), format!("second-{stamp}-pw"));
    user.set_password(&first);
    let path = format!("sluice-rotate-{stamp}");
    let put = |password: &str| {
        vault(
            "POST",
            &format!("secret/data/{path}/clickhouse"),
            &format!(
                r#"{{"data": {{"user": "{}", "password": "{password}"}}}}"#,
                user.name
            ),
        )
        .unwrap();
    };
    put(&first);
    let cfg = support::shipped_config_with(&[]);
    let db = format!("sluice_rotate_{stamp}");
    vault_environment(
        cfg.path(),
        "rotating",
        &format!(
            "sinks:\n  default: clickhouse\n  clickhouse:\n    database: {db}\n    user: ${{secret:clickhouse#user}}\n    password: ${{secret:clickhouse#password}}\n"
        ),
        &path,
    );
    let prefix = format!("rotate{stamp}.");
    let sluice = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.env("SLUICE_CONFIG_DIR", cfg.path())
            .env("SLUICE_ENV", "rotating")
            .env("RUST_LOG", "info");
        c
    };
    let ok = |args: &[&str]| {
        let out = sluice().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = ["--topic-prefix", prefix.as_str()];
    ok(&["topics", "--domain", "ecommerce", "--recreate", p[0], p[1]]);
    let generate = |seed: &str| {
        ok(&[
            "generate",
            "--domain",
            "ecommerce",
            "--to",
            "kafka",
            "--count",
            "1000",
            "--seed",
            seed,
            p[0],
            p[1],
        ])
    };
    generate("1");
    let log = cfg.path().join("run.log");
    let mut run = sluice()
        .args([
            "run",
            "--domain",
            "ecommerce",
            "--source",
            "kafka",
            "--quiet",
            p[0],
            p[1],
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stored = || {
        clickhouse(
            &format!("SELECT count() FROM system.parts WHERE database = '{db}' AND active"),
            None,
        )
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(90),
                "{what}; the run said: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    wait_for("no results written with the first password", &|| {
        stored() > 0
    });

    // rotate: Vault first, then the server (the old password stops working)
    put(&second);
    user.set_password(&second);
    assert!(clickhouse("SELECT 1", Some((&user.name, &first))).is_err());
    let before = stored();
    generate("2");
    wait_for("nothing written after the rotation", &|| {
        stored() > before
            && std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("ClickHouse credentials changed in the secret backends")
    });
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended after the rotation"
    );
    let term = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = run.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{said}");
    assert!(said.contains("2000 records"), "every record read: {said}");
    assert!(
        !said.contains(&first) && !said.contains(&second),
        "a password in the log"
    );
    ok(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    clickhouse(&format!("DROP DATABASE IF EXISTS {db}"), None).unwrap();
}
