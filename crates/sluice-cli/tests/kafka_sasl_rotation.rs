//! A Kafka SASL password rotated mid-run, picked up without a restart: a
//! run reads through the SASL listener with its credentials in a real
//! Vault; the password is changed in Vault and the broker restarted with
//! it (what a rotation looks like to a client: its next authentication is
//! refused); the run reads the secret again, authenticates with the new
//! password and reads every record. Its own test binary, because it
//! restarts the shared broker (`scripts/services.sh`); the broker gets its
//! usual password back when the test ends, passed or failed.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::vault::{ca, clickhouse, vault, vault_environment};

/// The SASL listener's password when `scripts/services.sh` starts Kafka.
const SHIPPED_PASSWORD: &str = "sluice-sasl-dev-password";

/// Restarts Kafka with `password` for user `sluice` on the SASL listener
/// (`None`: the shipped one).
fn restart_kafka(password: Option<&str>) {
    let mut c = Command::new("bash");
    c.arg(support::repo().join("scripts/services.sh"))
        .args(["restart", "kafka"])
        .env_remove("SLUICE_KAFKA_SASL_PASSWORD");
    if let Some(p) = password {
        c.env("SLUICE_KAFKA_SASL_PASSWORD", p);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "services.sh restart kafka: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives the broker its shipped password back, whatever the test did.
struct ShippedPasswordOnDrop;

impl Drop for ShippedPasswordOnDrop {
    fn drop(&mut self) {
        restart_kafka(None);
        // the next tests find a broker that answers metadata again
        let started = Instant::now();
        while !support::sluice(&["topics", "--domain", "ecommerce"])
            .status
            .success()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the restarted broker does not answer"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn a_kafka_sasl_password_rotated_mid_run_is_picked_up_without_a_restart() {
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
    let second = format!("rotated-{stamp}-pw");
    let path = format!("sluice-sasl-{stamp}");
    let put = |password: &str| {
        vault(
            "POST",
            &format!("secret/data/{path}/kafka"),
            &format!(r#"{{"data": {{"username": "sluice", "password": "{password}"}}}}"#),
        )
        .unwrap();
    };
    put(SHIPPED_PASSWORD);
    let cfg = support::shipped_config_with(&[]);
    let db = format!("sluice_sasl_{stamp}");
    vault_environment(
        cfg.path(),
        "sasl",
        &format!(
            "kafka:\n  bootstrap_servers: 127.0.0.1:9094\n  properties:\n    security.protocol: SASL_PLAINTEXT\n    sasl.mechanism: PLAIN\n    sasl.username: ${{secret:kafka#username}}\n    sasl.password: ${{secret:kafka#password}}\nsinks:\n  default: clickhouse\n  clickhouse:\n    database: {db}\n"
        ),
        &path,
    );
    let prefix = format!("sasl{stamp}.");
    let p = ["--topic-prefix", prefix.as_str()];
    let sluice = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.env("SLUICE_CONFIG_DIR", cfg.path())
            .env("SLUICE_ENV", "sasl")
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
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    let stored = || {
        clickhouse(
            &format!("SELECT count() FROM system.parts WHERE database = '{db}' AND active"),
            None,
        )
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
    };
    let wait_for = |what: &str, limit: u64, done: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < Duration::from_secs(limit),
                "{what}; the run said: {}",
                said()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait_for("no results written with the first password", 90, &|| {
        stored() > 0
    });

    // rotate: Vault first, then the broker (the old password stops working)
    let _restore = ShippedPasswordOnDrop;
    put(&second);
    restart_kafka(Some(&second));
    let before = stored();
    generate("2");
    wait_for("the run did not take the new password", 120, &|| {
        said().contains("Kafka SASL credentials changed in the secret backends")
            && stored() > before
    });
    assert!(
        said().contains("Authentication"),
        "the broker refused the old password first: {}",
        said()
    );
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended after the rotation: {}",
        said()
    );
    let term = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = run.wait().unwrap();
    let said = said();
    assert!(status.success(), "{said}");
    assert!(said.contains("2000 records"), "every record read: {said}");
    assert!(
        !said.contains(&second) && !said.contains(SHIPPED_PASSWORD),
        "a password in the log"
    );
    ok(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    clickhouse(&format!("DROP DATABASE IF EXISTS {db}"), None).unwrap();
}
