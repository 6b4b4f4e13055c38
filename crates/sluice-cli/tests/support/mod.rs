//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

pub mod vault;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// True when CI demands every service (skipping would hide a failure).
pub fn required() -> bool {
    std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some()
}

/// Whether a test can use a service: when `up` is false it skips (saying
/// which `what` is missing), or fails when CI demands every service.
pub fn available(up: bool, what: &str) -> bool {
    if !up {
        assert!(
            !required(),
            "SLUICE_REQUIRE_SERVICES is set but {what} is not available"
        );
        eprintln!("skipping: {what} not available");
    }
    up
}

/// Milliseconds since the epoch: a suffix for scratch databases and topics.
pub fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// POSTs `body` to `url` (ClickHouse's HTTP interface); the answer, or the
/// server's error text.
pub fn post(url: &str, body: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--data-binary", "@-", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A copy of the shipped `config/` directory whose `platform.yaml` has each
/// `(from, to)` text replacement applied (every `from` must occur).
pub fn shipped_config_with(replacements: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("config");
    for sub in ["", "environments", "domains"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let platform = dir.path().join("platform.yaml");
    let mut text = std::fs::read_to_string(&platform).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "platform.yaml has no `{from}`");
        text = text.replace(from, to);
    }
    std::fs::write(&platform, text).unwrap();
    dir
}

/// Whether something listens at `addr` (a service on loopback).
pub fn up(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), std::time::Duration::from_secs(2))
        .is_ok()
}

/// Runs the `sluice` binary from the repository root with the shipped
/// configuration (no environment overrides, warnings only in the log).
pub fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env_remove("SLUICE_ENV")
        .env_remove("SLUICE_CONFIG_DIR")
        .env("RUST_LOG", "warn")
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}
