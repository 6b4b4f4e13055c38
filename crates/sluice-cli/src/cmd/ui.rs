//! `sluice ui` (the web console over the configured store) and the console
//! of `sluice run --ui`: arguments, the store the console reads, and
//! serving until Ctrl-C. The console itself is `sluice-console`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Args;
use sluice_config::{Config, LoadOptions};
use sluice_connectors::sink::duckdb::DuckDbStore;
use sluice_console::{ConsoleHandle, ConsoleOptions, ConsoleState, StoreOpener};
use sluice_runtime::topology::RunSpec;

use crate::Cli;

/// Where the console listens (shared by `ui` and `run --ui`).
#[derive(Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// Address of the web console. Beyond 127.0.0.1 an access token is
    /// required.
    #[arg(long = "ui-address", default_value = "127.0.0.1:8765")]
    pub address: String,
    /// Access token of the web console (at least 16 characters); browsers
    /// sign in once, API clients send `Authorization: Bearer TOKEN`.
    #[arg(long = "ui-token", env = "SLUICE_UI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Arguments of `sluice ui`.
#[derive(Args, Debug)]
pub struct UiArgs {
    /// Domain shown first (default: the first configured).
    #[arg(long)]
    pub domain: Option<String>,
    /// DuckDB file to read (default from `sinks.duckdb.path`, or
    /// ClickHouse when it is the environment's sink).
    #[arg(long)]
    pub db: Option<String>,
    /// Where to listen.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The store a console reads: the DuckDB file `db`, else the store of the
/// configured sink (opened again after a failed read).
pub fn store_opener(cfg: Option<Arc<Config>>, db: Option<String>, domain: String) -> StoreOpener {
    Arc::new(move || {
        if let Some(path) = &db {
            return Ok(Box::new(DuckDbStore { path: path.clone() }) as _);
        }
        let cfg = cfg
            .as_ref()
            .ok_or("the configuration has problems (see Config), so the store is unknown")?;
        let secrets = || match super::resolve_secrets(cfg) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(d)) => Err(sluice_connectors::BuildError::Secrets(d.to_string())),
            Err(e) => Err(sluice_connectors::BuildError::Secrets(e.to_string())),
        };
        let spec = RunSpec {
            domain: domain.clone(),
            ..RunSpec::default()
        };
        sluice_runtime::topology::open_store(cfg, &spec, &secrets).map_err(|e| e.to_string())
    })
}

/// Starts the console and prints where it is.
pub fn start(args: &ConsoleArgs, state: Arc<ConsoleState>) -> anyhow::Result<ConsoleHandle> {
    let opts = ConsoleOptions {
        address: args.address.clone(),
        token: args.token.clone(),
    };
    let handle = sluice_console::serve(&opts, state)?;
    eprintln!("web console: {}", handle.url());
    Ok(handle)
}

/// Serves until Ctrl-C (or SIGTERM).
pub fn wait_for_stop() {
    let stop = sluice_runtime::shutdown::install();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs `sluice ui`. A configuration with problems still gets a console:
/// its Config page lists them at file:line:col.
pub fn run(cli: &Cli, args: &UiArgs) -> anyhow::Result<()> {
    let mut opts = LoadOptions::new(&cli.config_dir, &cli.env);
    if let Some(d) = &args.domain {
        opts.domains = Some(vec![d.clone()]);
    }
    let (cfg, problems) = match sluice_config::load_with(&opts, &sluice_generator::validate_hints) {
        Ok(c) => (Some(c), Vec::new()),
        Err(d) => {
            eprintln!(
                "the configuration has {} problem(s); the console's Config page lists them",
                d.len()
            );
            (None, d.0)
        }
    };
    let domain = args
        .domain
        .clone()
        .or_else(|| {
            cfg.as_ref()?
                .domains
                .first()
                .map(|d| d.domain.value.clone())
        })
        .unwrap_or_default();
    let cfg = cfg.map(Arc::new);
    let opener = store_opener(cfg.clone(), args.db.clone(), domain.clone());
    let state = Arc::new(ConsoleState::new(
        cfg.map(|c| (*c).clone()),
        problems,
        (!domain.is_empty()).then_some(domain),
        opener,
    ));
    let _console = start(&args.console, state)?;
    wait_for_stop();
    Ok(())
}
