//! `sluice run --sink clickhouse` with the ClickHouse user and password
//! given as secrets (env backend) that the server does not know: the run
//! fails with "authentication failed" and the secret values appear nowhere
//! on stderr (the server's `Unknown user …` text is redacted).

use std::path::Path;
use std::process::Command;

mod support;
use support::{available, post, repo, stamp};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn an_unknown_user_given_as_a_secret_is_redacted_on_stderr() {
    let url =
        std::env::var("SLUICE_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    if !available(
        post(&format!("{url}/"), "SELECT 1").is_ok_and(|s| s.trim() == "1"),
        "ClickHouse",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("config"), dir.path());
    std::fs::write(
        dir.path().join("environments/secretuser.yaml"),
        "sinks:\n  clickhouse:\n    user: ${secret:clickhouse_user}\n    password: ${secret:clickhouse_password}\n\
         secrets:\n  backends:\n    - type: env\n      prefix: SLUICE_SECRET_\n",
    )
    .unwrap();
    let user = format!("sluice_nobody_{}", stamp());
    let password = format!("pw_{}", stamp());
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(dir.path())
        .env_remove("SLUICE_ENV")
        .env("SLUICE_SECRET_CLICKHOUSE_USER", &user)
        .env("SLUICE_SECRET_CLICKHOUSE_PASSWORD", &password)
        .args([
            "--config-dir",
            dir.path().to_str().unwrap(),
            "--env",
            "secretuser",
            "run",
            "--domain",
            "ecommerce",
            "--sink",
            "clickhouse",
            "--count",
            "1000",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the run succeeded: {stderr}");
    for text in [&stderr, &stdout] {
        assert!(!text.contains(&user), "user name leaked: {text}");
        assert!(!text.contains(&password), "password leaked: {text}");
    }
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(stderr.contains("[redacted]"), "{stderr}");
}
