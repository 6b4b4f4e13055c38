//! ClickHouse sink over the HTTP interface, in RowBinary.
//!
//! # Storage design: partial rows per source shard, merged by a view
//!
//! Each aggregation gets two objects (see [`ddl`]):
//!
//! * `<table>_parts`, a `ReplacingMergeTree(_version)` ordered by
//!   `(window_start, window_end, group_key, _shard)`. A row holds one window
//!   and group **of one source shard** (a Kafka `topic:partition`), as
//!   *mergeable state*: counts, sums, min/max as values; `avg` as integer sum,
//!   float sum and count; `count_distinct` as the set of values;
//!   `approx_count_distinct` as the HyperLogLog registers; `percentile` as
//!   DDSketch buckets. `_version` is the number of inputs folded into the
//!   row: replaying a shard in offset order only ever grows it, so the row
//!   ClickHouse keeps is the complete one, whatever was re-delivered.
//! * `<table>`, a view reading `_parts FINAL` and merging the shards: this
//!   is the one name users and dashboards query, equal to what a single
//!   instance reading every partition computes.
//!
//! Old servers (Debian's 18.16) and modern ones (20.x and later) differ in
//! column types only: see [`Dialect`].

mod answer;
pub mod checkpoints;
mod ddl;
mod rowbinary;
mod store;

pub use answer::{classify, error_code, Redactor, Verdict, REDACTED};
pub use ddl::{ddl, parts_columns, Dialect, DEAD_LETTER_TABLE};
pub use store::ClickHouseStore;

use std::time::Duration;

use crate::{
    BuildError, ConnectorError, Context, DeadLetterRecord, ResultRow, Sink, SinkFactory, Store,
    TableSpec,
};

/// `clickhouse`: `sinks.clickhouse`, secrets resolved; partial rows per
/// source partition, merged by the views.
#[derive(Debug)]
pub struct ClickHouseFactory;

/// `sinks.clickhouse` with secrets resolved.
fn settings(cx: &Context<'_>) -> Result<ClickHouseSettings, BuildError> {
    ClickHouseSettings::from_config(&cx.cfg.platform.sinks.clickhouse, &cx.secrets()?)
        .map_err(BuildError::Sink)
}

impl SinkFactory for ClickHouseFactory {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn merges_partials(&self) -> bool {
        true
    }

    fn store(&self, cx: &Context<'_>) -> Option<Result<Box<dyn Store>, BuildError>> {
        Some(settings(cx).and_then(|s| {
            Ok(Box::new(ClickHouseStore::new(&s).map_err(BuildError::Sink)?) as Box<dyn Store>)
        }))
    }

    fn build(&self, cx: &Context<'_>) -> Result<(Box<dyn Sink>, String), BuildError> {
        let settings = settings(cx)?;
        let desc = format!(
            "clickhouse {} database {}",
            settings.display_url(),
            settings.database
        );
        let sink = ClickHouseSink::connect(settings).map_err(|cause| BuildError::Connect {
            what: "ClickHouse",
            hint: "`scripts/services.sh start clickhouse`",
            cause,
        })?;
        Ok((Box::new(sink), desc))
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ClickHouseSettings {
    /// `http://host:8123`.
    pub url: String,
    /// Database holding the tables.
    pub database: String,
    /// User (`default` when `None`).
    pub user: Option<String>,
    /// Password (resolved secret).
    pub password: Option<String>,
    /// Create tables and views when missing.
    pub create_tables: bool,
    /// Rows older than this many days (by window start) expire (modern
    /// servers only).
    pub ttl_days: Option<u32>,
    /// Timeout per request.
    pub timeout: Duration,
    /// Resolved secret values (the user when given as a secret, ...) that
    /// must never appear in an error or a log line; the password and any
    /// credentials in `url` are redacted without being listed here.
    pub redact: Vec<String>,
    /// Reads user and password again from the secret backends after the
    /// server refused them (a rotated secret), when they come from secrets.
    pub refresh: Option<CredentialRefresh>,
}

/// User and password as the secret backends give them now.
pub type CredentialRefresh =
    std::sync::Arc<dyn Fn() -> Result<(Option<String>, Option<String>), String> + Send + Sync>;

impl std::fmt::Debug for ClickHouseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.redactor();
        f.debug_struct("ClickHouseSettings")
            .field("url", &r.apply(&self.url))
            .field("database", &self.database)
            .field("user", &self.user.as_deref().map(|u| r.apply(u)))
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("create_tables", &self.create_tables)
            .field("ttl_days", &self.ttl_days)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClickHouseSettings {
    /// Settings from `sinks.clickhouse`, with secrets the caller resolved.
    /// Every secret value these settings use is kept in `redact`, so it
    /// stays out of errors and logs.
    pub fn from_config(
        c: &sluice_config::ClickHouseConfig,
        secrets: &sluice_secrets::ResolvedSecrets,
    ) -> Result<Self, ConnectorError> {
        let render = |s: &sluice_config::Setting, what: &str| {
            secrets
                .render(s, what)
                .map_err(|message| ConnectorError::Config {
                    connector: "clickhouse",
                    message,
                })
        };
        let url = render(&c.url, "sinks.clickhouse.url")?;
        let mut s = Self::new(&url, &c.database);
        let user = render(&c.user, "sinks.clickhouse.user")?;
        let password = render(&c.password, "sinks.clickhouse.password")?;
        s.redact = [&c.url, &c.user, &c.password]
            .iter()
            .flat_map(|setting| setting.secret_names())
            .filter_map(|name| secrets.values.get(name))
            .map(|v| v.expose().to_string())
            .collect();
        s.user = (!user.is_empty()).then_some(user);
        s.password = (!password.is_empty()).then_some(password);
        let from_secrets = [&c.user, &c.password]
            .iter()
            .any(|setting| setting.secret_names().next().is_some());
        if let (Some(refresh), true) = (secrets.refresh.clone(), from_secrets) {
            let (user, password) = (c.user.clone(), c.password.clone());
            s.refresh = Some(std::sync::Arc::new(move || {
                let fresh = refresh()?;
                let u = fresh.render(&user, "sinks.clickhouse.user")?;
                let p = fresh.render(&password, "sinks.clickhouse.password")?;
                Ok(((!u.is_empty()).then_some(u), (!p.is_empty()).then_some(p)))
            }));
        }
        s.create_tables = c.create_tables;
        s.ttl_days = c
            .ttl
            .map(|t| (t.as_millis_i64() / 86_400_000).max(1) as u32);
        Ok(s)
    }

    /// Settings for `url` and `database` with defaults otherwise.
    pub fn new(url: &str, database: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            database: database.to_string(),
            user: None,
            password: None,
            create_tables: true,
            ttl_days: None,
            timeout: Duration::from_secs(30),
            redact: Vec::new(),
            refresh: None,
        }
    }

    /// The redactor of every secret these settings hold.
    pub fn redactor(&self) -> Redactor {
        let (_, in_url) = answer::split_credentials(&self.url);
        Redactor::new(
            self.redact
                .iter()
                .cloned()
                .chain(self.password.clone())
                .chain(in_url),
        )
    }

    /// The URL without credentials, for messages.
    pub fn display_url(&self) -> String {
        answer::split_credentials(&self.url).0
    }
}

/// A small ClickHouse HTTP client.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    /// `url` without credentials, for messages.
    shown_url: String,
    /// `(user, password)`, shared by clones: replaced when a refresh
    /// brings rotated credentials.
    credentials: std::sync::Arc<std::sync::RwLock<(Option<String>, Option<String>)>>,
    refresh: Option<CredentialRefresh>,
    redactor: Redactor,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.shown_url)
            .field(
                "user",
                &self
                    .credentials()
                    .0
                    .as_deref()
                    .map(|u| self.redactor.apply(u)),
            )
            .finish_non_exhaustive()
    }
}

/// How one request failed: refused credentials (worth reading them again)
/// or anything else.
enum PostError {
    Refused(ConnectorError),
    Other(ConnectorError),
}
use PostError::{Other, Refused};

fn remote(message: String, retry: bool) -> ConnectorError {
    ConnectorError::Remote {
        service: "clickhouse",
        message,
        retry,
    }
}

impl Client {
    /// A client for `settings.url`.
    pub fn new(settings: &ClickHouseSettings) -> Result<Self, ConnectorError> {
        if !(settings.url.starts_with("http://") || settings.url.starts_with("https://")) {
            return Err(ConnectorError::Config {
                connector: "clickhouse",
                message: format!(
                    "url `{}` must start with http:// or https://",
                    settings.display_url()
                ),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(settings.timeout))
            .timeout_connect(Some(settings.timeout.min(Duration::from_secs(5))))
            .build()
            .into();
        Ok(Self {
            agent,
            url: format!("{}/", settings.url.trim_end_matches('/')),
            shown_url: format!("{}/", settings.display_url().trim_end_matches('/')),
            credentials: std::sync::Arc::new(std::sync::RwLock::new((
                settings.user.clone(),
                settings.password.clone(),
            ))),
            refresh: settings.refresh.clone(),
            redactor: settings.redactor(),
        })
    }

    /// The redactor applied to every answer and transport error.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn post(&self, query: Option<&str>, body: &[u8]) -> Result<String, ConnectorError> {
        self.post_in(None, query, body, false)
    }

    fn credentials(&self) -> (Option<String>, Option<String>) {
        self.credentials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// After the server refused the credentials: reads them again from the
    /// secret backends. `Ok(true)`: they changed (a rotated secret), try
    /// again; `Ok(false)`: the backends give the same ones.
    fn refresh_credentials(&self) -> Result<bool, String> {
        let Some(refresh) = &self.refresh else {
            return Ok(false);
        };
        let fresh = refresh()?;
        self.redactor
            .learn(fresh.0.iter().chain(fresh.1.iter()).cloned());
        let mut current = self.credentials.write().unwrap_or_else(|p| p.into_inner());
        if *current == fresh {
            return Ok(false);
        }
        *current = fresh;
        tracing::info!("ClickHouse credentials changed in the secret backends; using the new ones");
        Ok(true)
    }

    /// Sends one request. `verified`: the statement touches only tables
    /// `prepare` verified, so their vanishing is a server stopping
    /// ([`classify`]). Refused credentials are read again from the secret
    /// backends once, and the request repeated when they changed.
    fn post_in(
        &self,
        database: Option<&str>,
        query: Option<&str>,
        body: &[u8],
        verified: bool,
    ) -> Result<String, ConnectorError> {
        let mut refreshed = false;
        loop {
            match self.post_once(database, query, body, verified) {
                Err(Refused(e)) if !refreshed => {
                    refreshed = true;
                    match self.refresh_credentials() {
                        Ok(true) => continue,
                        Ok(false) => return Err(e),
                        Err(why) => {
                            let why = self.redactor.apply(&why);
                            return Err(remote(
                                format!("{e}; reading the credentials again failed: {why}"),
                                false,
                            ));
                        }
                    }
                }
                Err(Refused(e)) | Err(Other(e)) => return Err(e),
                Ok(text) => return Ok(text),
            }
        }
    }

    fn post_once(
        &self,
        database: Option<&str>,
        query: Option<&str>,
        body: &[u8],
        verified: bool,
    ) -> Result<String, PostError> {
        let mut req = self.agent.post(&self.url);
        if let Some(db) = database {
            req = req.query("database", db);
        }
        if let Some(q) = query {
            req = req.query("query", q);
        }
        let (user, password) = self.credentials();
        if let Some(u) = &user {
            req = req.header("X-ClickHouse-User", u);
        }
        if let Some(p) = &password {
            req = req.header("X-ClickHouse-Key", p);
        }
        let r = &self.redactor;
        // connection refused or reset, timeouts: the server is away
        let mut resp = req
            .send(body)
            .map_err(|e| Other(remote(r.apply(&format!("{}: {e}", self.shown_url)), true)))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| Other(remote(r.apply(&format!("reading the answer: {e}")), true)))?;
        if status >= 400 {
            let said = r.apply(text.trim());
            return Err(match classify(status, &text, verified) {
                Verdict::Transient => Other(remote(format!("HTTP {status}: {said}"), true)),
                Verdict::Permanent => Other(remote(format!("HTTP {status}: {said}"), false)),
                Verdict::Authentication => Refused(remote(
                    format!(
                        "authentication failed at {}: check `sinks.clickhouse.user` and `password` (HTTP {status}: {said})",
                        self.shown_url
                    ),
                    false,
                )),
            });
        }
        Ok(text)
    }

    /// Runs one statement and returns the answer as text.
    pub fn query(&self, sql: &str) -> Result<String, ConnectorError> {
        self.post(None, sql.as_bytes())
    }

    /// Runs one statement with `database` as the default database.
    pub fn query_in(&self, database: &str, sql: &str) -> Result<String, ConnectorError> {
        self.post_in(Some(database), None, sql.as_bytes(), false)
    }

    /// The statement inserting RowBinary rows of `columns` into `table`
    /// (`db.name`).
    pub fn insert_statement(table: &str, columns: &[String]) -> String {
        let cols = columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("INSERT INTO {table} ({cols}) FORMAT RowBinary")
    }

    /// Runs `insert` (from [`Client::insert_statement`]) with RowBinary `body`.
    pub fn insert(&self, insert: &str, body: &[u8]) -> Result<(), ConnectorError> {
        self.post(Some(insert), body).map(|_| ())
    }

    /// [`Client::insert`] into a table verified to exist: its vanishing
    /// (a server stopping detaches tables) is retryable.
    fn insert_verified(&self, insert: &str, body: &[u8]) -> Result<(), ConnectorError> {
        self.post_in(None, Some(insert), body, true).map(|_| ())
    }

    /// The server version, e.g. `18.16.1`.
    pub fn version(&self) -> Result<String, ConnectorError> {
        Ok(self.query("SELECT version()")?.trim().to_string())
    }

    /// True when the server answers.
    pub fn ping(&self) -> bool {
        self.query("SELECT 1")
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    }
}

/// The `clickhouse` sink.
#[derive(Debug)]
pub struct ClickHouseSink {
    client: Client,
    settings: ClickHouseSettings,
    dialect: Dialect,
    tables: Vec<TableSpec>,
    /// Per table, its insert statement (built once, in `prepare`).
    inserts: Vec<String>,
    /// The dead-letter table's insert statement.
    dead_insert: String,
}

impl ClickHouseSink {
    /// Connects and detects the server's dialect.
    pub fn connect(settings: ClickHouseSettings) -> Result<Self, ConnectorError> {
        let client = Client::new(&settings)?;
        let version = client.version()?;
        let dialect = Dialect::from_version(&version);
        tracing::info!(%version, ?dialect, url = %settings.display_url(), "connected to ClickHouse");
        Ok(Self {
            client,
            settings,
            dialect,
            tables: Vec::new(),
            inserts: Vec::new(),
            dead_insert: String::new(),
        })
    }

    /// The detected dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn qualified(&self, table: &str) -> String {
        format!("`{}`.`{table}`", self.settings.database)
    }

    fn check_columns(&self, spec: &TableSpec) -> Result<(), ConnectorError> {
        let name = format!("{}_parts", spec.name);
        let q = format!(
            "SELECT name FROM system.columns WHERE database = '{}' AND table = '{}' FORMAT TSV",
            self.settings.database, name
        );
        let have: Vec<String> = self.client.query(&q)?.lines().map(str::to_string).collect();
        let want: Vec<String> = parts_columns(spec, self.dialect)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        if have.is_empty() {
            return Err(ConnectorError::Config {
                connector: "clickhouse",
                message: format!(
                    "table {} does not exist and create_tables is off; create it with `sluice clickhouse ddl`",
                    self.qualified(&name)
                ),
            });
        }
        if have != want {
            return Err(ConnectorError::Config {
                connector: "clickhouse",
                message: format!(
                    "table {} has columns [{}] but the configuration needs [{}]; drop it or use another database",
                    self.qualified(&name),
                    have.join(", "),
                    want.join(", ")
                ),
            });
        }
        Ok(())
    }
}

impl Sink for ClickHouseSink {
    fn describe(&self) -> String {
        format!(
            "clickhouse {} database {} ({:?})",
            self.settings.display_url(),
            self.settings.database,
            self.dialect
        )
    }

    fn prepare(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError> {
        self.tables = tables.to_vec();
        if self.settings.create_tables {
            for stmt in ddl(
                tables,
                self.dialect,
                &self.settings.database,
                self.settings.ttl_days,
            ) {
                self.client.query(&stmt)?;
            }
        }
        for t in tables {
            self.check_columns(t)?;
        }
        self.inserts = tables
            .iter()
            .map(|t| {
                let cols: Vec<String> = parts_columns(t, self.dialect)
                    .into_iter()
                    .map(|(c, _)| c)
                    .collect();
                Client::insert_statement(&self.qualified(&format!("{}_parts", t.name)), &cols)
            })
            .collect();
        let dead_cols: Vec<String> = ddl::dead_letter_columns(self.dialect)
            .into_iter()
            .map(|(c, _)| c.to_string())
            .collect();
        self.dead_insert = Client::insert_statement(&self.qualified(DEAD_LETTER_TABLE), &dead_cols);
        Ok(())
    }

    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError> {
        // one pass over the rows, one RowBinary body per table
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new(); self.tables.len()];
        for r in rows {
            let (Some(spec), Some(body)) = (self.tables.get(r.table), bodies.get_mut(r.table))
            else {
                return Err(ConnectorError::Config {
                    connector: "clickhouse",
                    message: format!("row for unknown table index {}", r.table),
                });
            };
            rowbinary::encode_row(body, spec, self.dialect, r)?;
        }
        for (body, insert) in bodies.iter().zip(&self.inserts) {
            if !body.is_empty() {
                self.client.insert_verified(insert, body)?;
            }
        }
        if !dead.is_empty() {
            let mut body = Vec::new();
            let now = sluice_core::time::now_ms();
            for d in dead {
                rowbinary::encode_dead_letter(&mut body, self.dialect, d, now);
            }
            self.client.insert_verified(&self.dead_insert, &body)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn checkpoint_store(&self) -> Option<Box<dyn crate::CheckpointStore>> {
        Some(Box::new(checkpoints::ClickHouseCheckpoints::new(
            self.client.clone(),
            &self.settings.database,
        )))
    }
}
