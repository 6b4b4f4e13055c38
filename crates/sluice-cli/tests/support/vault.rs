//! A real Vault dev server (`scripts/services.sh start vault`) and the
//! ClickHouse server as the tests that read secrets from Vault use them.

use std::path::PathBuf;
use std::process::Command;

/// Root token of the dev server.
pub const ROOT: &str = "sluice-dev-root";

pub fn address() -> String {
    std::env::var("SLUICE_VAULT_ADDR").unwrap_or_else(|_| "https://127.0.0.1:8200".into())
}

pub fn cache() -> PathBuf {
    std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sluice"))
}

pub fn ca() -> PathBuf {
    cache().join("services/vault/tls/vault-ca.pem")
}

/// A statement as ClickHouse's `default` user; `Err` with the server's
/// answer when refused.
pub fn clickhouse(sql: &str, user: Option<(&str, &str)>) -> Result<String, String> {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some((u, p)) = user {
        c.args([
            "-H",
            &format!("X-ClickHouse-User: {u}"),
            "-H",
            &format!("X-ClickHouse-Key: {p}"),
        ]);
    }
    let out = c
        .args(["http://127.0.0.1:8123/", "--data-binary", sql])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    if code == "200" {
        Ok(body.to_string())
    } else {
        Err(body.to_string())
    }
}

/// `curl` against Vault as root (test setup).
pub fn vault(method: &str, path: &str, body: &str) -> Result<String, String> {
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

/// Writes environment `env` into the configuration copy `cfg`: `settings`
/// (YAML) and a Vault backend reading below `path` with the root token
/// from a file.
pub fn vault_environment(cfg: &std::path::Path, env: &str, settings: &str, path: &str) {
    let token = cfg.join("vault-token");
    std::fs::write(&token, ROOT).unwrap();
    std::fs::write(
        cfg.join(format!("environments/{env}.yaml")),
        format!(
            "{settings}secrets:\n  backends:\n    - type: vault\n      address: {}\n      ca_cert: {}\n      path: {path}\n      token_file: {}\n",
            address(),
            ca().display(),
            token.display()
        ),
    )
    .unwrap();
}
