//! The generated Spark job of every shipped domain, golden: byte-identical
//! across runs and to the files under `tests/golden/<domain>/`
//! (`SLUICE_UPDATE_GOLDEN=1` rewrites them after an intended change), and
//! valid Python (`python3 -m py_compile`). Aggregations Spark cannot compute
//! as the native engine does are refused by name.

use std::path::{Path, PathBuf};

use sluice_config::{load, Config, LoadOptions};

fn shipped() -> Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut o = LoadOptions::new(dir, "dev");
    o.vars.clear();
    load(&o).unwrap()
}

fn golden_dir(domain: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(domain)
}

/// The job files of `domain`, without the aggregations Spark refuses.
fn job(cfg: &Config, domain: &str) -> Vec<sluice_spark::JobFile> {
    let d = cfg.domain(domain).unwrap();
    let supported: Vec<String> = d
        .aggregations
        .iter()
        .filter(|a| !matches!(a.window.value, sluice_core::WindowSpec::Cumulative { .. }))
        .map(|a| a.name.value.clone())
        .collect();
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &supported).unwrap();
    let spec = sluice_spark::job_spec(cfg, d, &built, None).unwrap();
    sluice_spark::render(&spec).unwrap()
}

#[test]
fn generated_jobs_are_golden_and_valid_python() {
    let cfg = shipped();
    let update = std::env::var_os("SLUICE_UPDATE_GOLDEN").is_some();
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    for d in &cfg.domains {
        let domain = &d.domain.value;
        let files = job(&cfg, domain);
        assert_eq!(files, job(&cfg, domain), "{domain}: not deterministic");
        let dir = golden_dir(domain);
        for f in files
            .iter()
            .filter(|f| f.path == "job.py" || f.path == "submit.sh")
        {
            let path = dir.join(&f.path);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &f.text).unwrap();
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (SLUICE_UPDATE_GOLDEN=1 writes it)", path.display())
            });
            assert_eq!(
                f.text,
                want,
                "{} differs from the golden file",
                path.display()
            );
        }
        if python {
            let tmp = tempfile::tempdir().unwrap();
            sluice_spark::write_job(&files, tmp.path()).unwrap();
            for name in ["job.py", sluice_spark::job::RUNTIME_FILE] {
                let out = std::process::Command::new("python3")
                    .args(["-m", "py_compile"])
                    .arg(tmp.path().join(name))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{domain}/{name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let out = std::process::Command::new("bash")
                .arg("-n")
                .arg(tmp.path().join("submit.sh"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{domain}/submit.sh");
        }
    }
}

#[test]
fn cumulative_windows_are_refused_by_name() {
    let cfg = shipped();
    let d = cfg.domain("ecommerce").unwrap();
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let spec = sluice_spark::job_spec(&cfg, d, &built, None).unwrap();
    let err = sluice_spark::render(&spec).unwrap_err().to_string();
    assert!(
        err.contains("aggregation `revenue_today` cannot run on Spark"),
        "{err}"
    );
    assert!(err.contains("cumulative"), "{err}");
    assert!(!err.contains("events_per_minute"), "{err}");
}

#[test]
fn secrets_are_never_written_into_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
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
    let text = std::fs::read_to_string(&platform)
        .unwrap()
        .replace("user: default", "user: ${secret:ch_user}")
        .replace(
            "bootstrap_servers: ${env:SLUICE_KAFKA_BOOTSTRAP:-127.0.0.1:9092}",
            "bootstrap_servers: ${secret:brokers}",
        );
    std::fs::write(&platform, text).unwrap();
    let mut o = LoadOptions::new(dir.path(), "dev");
    o.vars.clear();
    let cfg = load(&o).unwrap();
    let files = job(&cfg, "fintech");
    let py = &files.iter().find(|f| f.path == "job.py").unwrap().text;
    assert!(py.contains("\"bootstrap\": None"), "{py}");
    assert!(py.contains("\"clickhouse_user\": None"), "{py}");
    assert!(
        !py.contains("${secret") && !py.contains("ch_user") && !py.contains("brokers"),
        "{py}"
    );
}
