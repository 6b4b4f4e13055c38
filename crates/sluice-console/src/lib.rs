//! The web console: `sluice ui` and `sluice run --ui` serve it.
//!
//! One page application (HTML, JavaScript and CSS compiled into the binary
//! with the uPlot charting library, so it works without internet) over a
//! small JSON API:
//!
//! - **Pipeline** ([`pipeline`]): the live counters of the run in this
//!   process, or of one in another process (its `/status`): events/s in
//!   and out, watermark against wall-clock time and per source partition
//!   (which holds it back, which is idle), Kafka lag per partition, open
//!   windows, late and dead-letter counts, pushed every second as
//!   server-sent events; without a run, the store's own progress table.
//! - **Results** ([`results`]): an aggregation's rows from the configured
//!   store (DuckDB file or ClickHouse final views) turned into one series per
//!   group (top N, a group filter), latest revision of each window, with
//!   provisional rows and revisions marked; CSV export.
//! - **Dead letters** ([`dead_letters`]): the store's dead-letter table with
//!   filters (kind, reason, source, aggregation) and each record's detail
//!   (reason, original bytes as hex and decoded where they are JSON or an
//!   Avro record), and replay of the selected ones into their source
//!   topics through `sluice_kafka::replay_selected` (the path of
//!   `sluice dlq replay`, with its replay-once ledger) in a Kafka run.
//! - **Config** ([`config_view`]): domains, event types with their Avro
//!   schemas, aggregations with their windows, every validation problem at
//!   file:line:col with its suggestion, and on request each schema against
//!   the registry ([`compat`]).
//!
//! Access ([`access`]): loopback only unless an access token is set;
//! with a token every request carries it (bearer header, or the cookie the
//! login page sets); state-changing requests need the page's CSRF token and
//! a same-origin `Origin`; the `Host` header must name the console (no DNS
//! rebinding). No secret of the configuration is ever sent: the config page
//! shows domains only, never platform settings.

pub mod access;
mod api;
mod assets;
pub mod compat;
pub mod config_view;
pub mod dead_letters;
pub mod pipeline;
pub mod results;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sluice_config::{Config, Diagnostic};
use sluice_connectors::{ConnectorError, QueryResult, Store};
use sluice_runtime::topology::Observed;

/// What can go wrong starting the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A setting the console cannot work with.
    #[error("console: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("console: cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Opens the store results and dead letters are read from.
pub type StoreOpener = Arc<dyn Fn() -> Result<Box<dyn Store>, String> + Send + Sync>;

/// Kafka settings, registry included (resolved on first use: a broker,
/// registry or secret that is not there yet is an error of that request
/// only).
pub type KafkaOpener = Arc<dyn Fn() -> Result<sluice_kafka::KafkaSettings, String> + Send + Sync>;

/// Everything the console shows.
pub struct ConsoleState {
    /// The loaded configuration (`None` when it has problems).
    pub config: Option<Arc<Config>>,
    /// Validation problems of the configuration, each at file:line:col.
    pub problems: Vec<Diagnostic>,
    /// The domain shown first.
    pub domain: Option<String>,
    /// Opens the store (on first use, and again after a failed read).
    pub store: StoreOpener,
    opened: Mutex<Option<Box<dyn Store>>>,
    /// The run in this process, once it started.
    pub live: Mutex<Option<Observed>>,
    /// When the run started (for rates).
    pub started: Mutex<Option<std::time::Instant>>,
    /// Kafka and its schema registry (compatibility on the Config page).
    pub kafka: Option<KafkaOpener>,
    /// Whether dead letters can be replayed from the page (a Kafka run).
    pub replay: bool,
    /// The base address of a run in another process serving `/status`
    /// (its metrics address), watched when none runs here.
    pub watch: Option<String>,
    /// One replay at a time (two clicks must not race past the ledger).
    replaying: Mutex<()>,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState")
            .field("domain", &self.domain)
            .field("problems", &self.problems.len())
            .finish_non_exhaustive()
    }
}

impl ConsoleState {
    /// A console over `config` (or its `problems`) reading `store`.
    pub fn new(
        config: Option<Config>,
        problems: Vec<Diagnostic>,
        domain: Option<String>,
        store: StoreOpener,
    ) -> Self {
        Self {
            config: config.map(Arc::new),
            problems,
            domain,
            store,
            opened: Mutex::new(None),
            live: Mutex::new(None),
            started: Mutex::new(None),
            kafka: None,
            replay: false,
            watch: None,
            replaying: Mutex::new(()),
        }
    }

    /// The Kafka settings `kafka` opens: the registry for schema
    /// compatibility, and with `replay` the topics dead letters are
    /// replayed into from the page.
    pub fn with_kafka(mut self, kafka: KafkaOpener, replay: bool) -> Self {
        self.kafka = Some(kafka);
        self.replay = replay;
        self
    }

    /// Watches the run serving `/status` at `base` (e.g.
    /// `http://127.0.0.1:9464`) when none runs in this process.
    pub fn with_watch(mut self, base: String) -> Self {
        self.watch = Some(base);
        self
    }

    /// The named (else shown, else first) domain's configuration.
    fn domain_config(&self, domain: Option<&str>) -> Result<&sluice_config::DomainConfig, String> {
        let cfg = self
            .config
            .as_ref()
            .ok_or("the configuration has problems (see Config)")?;
        match domain.or(self.domain.as_deref()) {
            Some(n) => cfg.domain(n).ok_or_else(|| format!("no domain `{n}`")),
            None => cfg
                .domains
                .first()
                .ok_or_else(|| "no domain configured".to_string()),
        }
    }

    /// The domain's schemas against the registry ([`compat`]).
    fn compat(&self, domain: Option<&str>) -> Result<Vec<serde_json::Value>, String> {
        let d = self.domain_config(domain)?;
        let open = self
            .kafka
            .as_ref()
            .ok_or("no schema registry is configured for this console")?;
        compat::check(&open()?, d)
    }

    /// Replays the dead letters `ids` of `domain` (one replay at a time).
    fn replay(&self, domain: &str, ids: &[String]) -> Result<sluice_kafka::ReplaySummary, String> {
        let open = match (&self.kafka, self.replay) {
            (Some(k), true) => k,
            _ => {
                return Err(
                    "replay needs a Kafka run (`sluice run --source kafka --ui`, \
                     or `sluice ui --kafka`)"
                        .into(),
                )
            }
        };
        let feeds = sluice_kafka::dlq::feeds(self.domain_config(Some(domain))?);
        let settings = open()?;
        let _one = self.replaying.lock().unwrap_or_else(|p| p.into_inner());
        sluice_kafka::replay_selected(&settings, domain, &feeds, ids, REPLAY_TIMEOUT)
            .map_err(|e| e.to_string())
    }

    /// Attaches the run this process is about to start.
    pub fn observe(&self, run: Observed) {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(run);
    }

    /// Runs `sql` on the store; a failed read closes it, so the next one
    /// opens it again (a server that came back, a file that appeared).
    fn query(&self, sql: &str) -> Result<QueryResult, String> {
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if opened.is_none() {
            *opened = Some((self.store)()?);
        }
        let Some(store) = opened.as_ref() else {
            return Err("no store".into());
        };
        let r = store.query(sql).map_err(|e: ConnectorError| e.to_string());
        if r.is_err() {
            *opened = None;
        }
        r
    }
}

/// How long a replay may take (reading the dead-letter topic, delivering).
pub const REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where and how the console listens.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Address to bind (`127.0.0.1:8765` by default).
    pub address: String,
    /// Access token; required when `address` is not a loopback address.
    pub token: Option<String>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:8765".into(),
            token: None,
        }
    }
}

/// A running console: its address; stops when dropped.
#[derive(Debug)]
pub struct ConsoleHandle {
    /// The bound address.
    pub address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ConsoleHandle {
    /// The address a browser opens.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }
}

impl Drop for ConsoleHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

/// Binds `opts.address` and serves the console on its own thread.
pub fn serve(
    opts: &ConsoleOptions,
    state: Arc<ConsoleState>,
) -> Result<ConsoleHandle, ConsoleError> {
    let addr: SocketAddr = opts.address.parse().map_err(|_| {
        ConsoleError::Config(format!(
            "`{}` is not an address (expected host:port, e.g. 127.0.0.1:8765)",
            opts.address
        ))
    })?;
    let access = access::Access::new(addr, opts.token.clone())?;
    let listener = std::net::TcpListener::bind(addr).map_err(|source| ConsoleError::Bind {
        address: opts.address.clone(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ConsoleError::Bind {
            address: opts.address.clone(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ConsoleError::Bind {
        address: opts.address.clone(),
        source,
    })?;
    let access = access.bound_to(bound);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("sluice-console".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("console: no runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("console: {e}");
                        return;
                    }
                };
                let app = api::router(state, Arc::new(access));
                let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                    stopped.await.ok();
                });
                if let Err(e) = server.await {
                    tracing::error!("console: {e}");
                }
            });
        })
        .map_err(|e| ConsoleError::Config(format!("cannot start its thread: {e}")))?;
    Ok(ConsoleHandle {
        address: bound,
        stop: Some(stop),
        thread: Some(thread),
    })
}
