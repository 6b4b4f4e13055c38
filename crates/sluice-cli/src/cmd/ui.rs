//! `sluice ui` (the web console over the configured store) and the console
//! of `sluice run --ui`: arguments, the store the console reads, and
//! serving until Ctrl-C. The console itself is `sluice-console`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Args;
use sluice_config::{Config, LoadOptions};
use sluice_connectors::sink::duckdb::DuckDbStore;
use sluice_console::{ConsoleHandle, ConsoleOptions, ConsoleState, KafkaOpener, StoreOpener};
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
    /// Offer replay of dead letters into their Kafka topics (the default
    /// when the environment's sink is ClickHouse, the at-scale path).
    #[arg(long)]
    pub kafka: bool,
    /// Topic prefix the runs used (`run --topic-prefix`): where dead
    /// letters are replayed from and to.
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Watch the run serving its metrics at this address (`run
    /// --metrics-address`, or `metrics.address`), e.g.
    /// `http://127.0.0.1:9464`: its live counters on the Pipeline page.
    #[arg(long)]
    pub watch: Option<String>,
    /// Where to listen.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// Kafka settings for replaying dead letters from the console, resolved
/// (secrets included) when a replay asks for them.
pub fn kafka_opener(cfg: Arc<Config>, topic_prefix: Option<String>) -> KafkaOpener {
    Arc::new(move || {
        let secrets = match super::resolve_secrets(&cfg) {
            Ok(Ok(r)) => r,
            Ok(Err(d)) => return Err(d.to_string()),
            Err(e) => return Err(e.to_string()),
        };
        sluice_kafka::KafkaSettings::resolve(&cfg.platform.kafka, &secrets, topic_prefix.as_deref())
            .map_err(|e| e.to_string())
    })
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
    let kafka = cfg.as_ref().map(|c| {
        let replay = args.kafka
            || args.topic_prefix.is_some()
            || (args.db.is_none() && c.platform.sinks.default == "clickhouse");
        (kafka_opener(c.clone(), args.topic_prefix.clone()), replay)
    });
    let mut state = ConsoleState::new(
        cfg.map(|c| (*c).clone()),
        problems,
        (!domain.is_empty()).then_some(domain),
        opener,
    );
    if let Some((k, replay)) = kafka {
        state = state.with_kafka(k, replay);
    }
    if let Some(w) = &args.watch {
        let base = if w.starts_with("http://") || w.starts_with("https://") {
            w.clone()
        } else {
            format!("http://{w}")
        };
        state = state.with_watch(base);
    }
    let state = Arc::new(state);
    let _console = start(&args.console, state)?;
    wait_for_stop();
    Ok(())
}
