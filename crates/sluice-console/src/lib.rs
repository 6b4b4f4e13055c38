//! The web console: `sluice ui` and `sluice run --ui` serve it.
//!
//! One page application (HTML, JavaScript and CSS compiled into the binary
//! with the uPlot charting library, so it works without internet) over a
//! small JSON API:
//!
//! - **Pipeline** ([`pipeline`]): the live counters of the run in this
//!   process (events/s in and out, watermark against wall-clock time, open
//!   windows, late and dead-letter counts), pushed every second as
//!   server-sent events; without a run, the store's own progress table.
//! - **Results** ([`results`]): an aggregation's rows from the configured
//!   store (DuckDB file or ClickHouse final views) turned into one series per
//!   group (top N, a group filter), latest revision of each window, with
//!   provisional rows and revisions marked; CSV export.
//! - **Dead letters** ([`dead_letters`]): the store's dead-letter table with
//!   filters (kind, reason, source, aggregation) and each record's detail
//!   (reason, original bytes as hex and decoded where they are JSON).
//! - **Config** ([`config_view`]): domains, event types with their Avro
//!   schemas, aggregations with their windows, and every validation problem
//!   at file:line:col with its suggestion.
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
        }
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
