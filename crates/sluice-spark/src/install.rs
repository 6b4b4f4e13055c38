//! pyspark in the cache, installed on first use: a Python virtual
//! environment under `$SLUICE_CACHE_DIR/spark/pyspark-<version>` (default
//! `~/.cache/sluice`), with pyspark from PyPI. Spark resolves the Kafka and
//! Avro connectors itself (`--packages`) into `spark/ivy` beside it. Java 17
//! or newer must be on `PATH` (Spark 4 needs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::job::PYSPARK_VERSION;
use crate::SparkError;

/// Where pyspark and the connector jars live.
#[derive(Clone, Debug)]
pub struct SparkInstall {
    /// The `spark-submit` of the installed pyspark.
    pub spark_submit: PathBuf,
    /// The virtual environment's `bin` (put first on `PATH`, so Spark's
    /// Python workers run the same interpreter).
    pub bin: PathBuf,
    /// Spark's Ivy directory (`spark.jars.ivy`): resolved connectors.
    pub ivy: PathBuf,
}

/// The cache directory: `$SLUICE_CACHE_DIR` or `~/.cache/sluice`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SLUICE_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".cache").join("sluice")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), SparkError> {
    let out = cmd
        .output()
        .map_err(|e| SparkError::Install(format!("{what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(8).collect();
    Err(SparkError::Install(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )))
}

/// pyspark installed under `cache` (the first call downloads it, about
/// 450 MB, and says so on stderr).
pub fn ensure_installed(cache: &Path) -> Result<SparkInstall, SparkError> {
    let root = cache.join("spark");
    let venv = root.join(format!("pyspark-{PYSPARK_VERSION}"));
    let bin = venv.join("bin");
    let install = SparkInstall {
        spark_submit: bin.join("spark-submit"),
        bin: bin.clone(),
        ivy: root.join("ivy"),
    };
    if install.spark_submit.exists() {
        return Ok(install);
    }
    java_version()?;
    std::fs::create_dir_all(&root).map_err(|source| SparkError::Io {
        what: format!("creating {}", root.display()),
        source,
    })?;
    // one installer at a time (several runs may start together)
    let lock = root.join(format!("pyspark-{PYSPARK_VERSION}.installing"));
    let started = std::time::Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        if install.spark_submit.exists() {
            return Ok(install);
        }
        if started.elapsed() > std::time::Duration::from_secs(900) {
            return Err(SparkError::Install(format!(
                "another installation holds {} for 15 minutes; remove it if no sluice is installing",
                lock.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let result = install_venv(&venv, &install);
    std::fs::remove_dir(&lock).ok();
    result.map(|()| install)
}

fn install_venv(venv: &Path, install: &SparkInstall) -> Result<(), SparkError> {
    if install.spark_submit.exists() {
        return Ok(());
    }
    let bin = &install.bin;
    eprintln!(
        "sluice: installing pyspark {PYSPARK_VERSION} from PyPI into {} (first use only)",
        venv.display()
    );
    let python = std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python).args(["-m", "venv"]).arg(venv),
        &format!("{python} -m venv (install python3-venv if it is missing)"),
    )?;
    run(
        Command::new(bin.join("pip")).args([
            "install",
            "--quiet",
            &format!("pyspark=={PYSPARK_VERSION}"),
        ]),
        "pip install pyspark",
    )?;
    if !install.spark_submit.exists() {
        return Err(SparkError::Install(format!(
            "pyspark installed but {} is missing",
            install.spark_submit.display()
        )));
    }
    Ok(())
}

/// The major version of `java` on `PATH`, refusing one older than 17.
fn java_version() -> Result<u32, SparkError> {
    let out = Command::new("java")
        .arg("-version")
        .output()
        .map_err(|e| SparkError::Install(format!("Spark needs Java 17 or newer on PATH: {e}")))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let major = text
        .split('"')
        .nth(1)
        .and_then(|v| v.split(['.', '-', '+']).next())
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < 17 {
        return Err(SparkError::Install(format!(
            "Spark 4 needs Java 17 or newer; `java -version` says: {}",
            text.lines().next().unwrap_or("nothing")
        )));
    }
    Ok(major)
}
