//! Resolving every `${secret:...}` a configuration references, reporting
//! each missing one at the position it was written.

use std::collections::BTreeMap;
use std::path::Path;

use sluice_config::yaml::Part;
use sluice_config::{Config, Diagnostic, Diagnostics, Setting};
use tokio::sync::Mutex;

use crate::backends::env_style;
use crate::{build_backend, Secret, SecretBackend, SecretError};

/// Tries backends in order; caches hits.
#[derive(Debug)]
pub struct Resolver {
    backends: Vec<Box<dyn SecretBackend>>,
    cache: Mutex<BTreeMap<String, Secret<String>>>,
}

impl Resolver {
    /// A resolver over explicit backends.
    pub fn new(backends: Vec<Box<dyn SecretBackend>>) -> Self {
        Self {
            backends,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// Forgets every cached value: the next reads ask the backends again.
    pub async fn forget(&self) {
        self.cache.lock().await.clear();
    }

    /// The backends a configuration lists; relative paths are taken from
    /// `base_dir`. A backend that cannot be built (bad options, an
    /// unreadable CA file) is a diagnostic at its entry.
    pub fn from_config(cfg: &Config, base_dir: &Path) -> Result<Self, Diagnostics> {
        let mut backends = Vec::new();
        let mut diags = Vec::new();
        for (i, b) in cfg.platform.secrets.iter().enumerate() {
            match build_backend(b, base_dir) {
                Ok(built) => backends.push(built),
                Err(e) => diags.push(Diagnostic {
                    file: cfg.sources.path(b.pos.source).to_path_buf(),
                    line: b.pos.line,
                    col: b.pos.col,
                    path: format!("secrets.backends[{i}]"),
                    message: e.to_string(),
                    expected: None,
                    suggestion: None,
                }),
            }
        }
        if diags.is_empty() {
            Ok(Self::new(backends))
        } else {
            Err(Diagnostics(diags))
        }
    }

    /// Looks a secret up in each backend in turn; `name#key` is key `key`
    /// of secret `name`, which must hold a JSON object.
    pub async fn get(&self, name: &str) -> Result<Secret<String>, SecretError> {
        match name.split_once('#') {
            Some((base, key)) => pick(base, key, &self.whole(base).await?),
            None => self.whole(name).await,
        }
    }

    /// A whole secret, from the first backend that has it.
    async fn whole(&self, name: &str) -> Result<Secret<String>, SecretError> {
        if let Some(v) = self.cache.lock().await.get(name) {
            return Ok(v.clone());
        }
        for b in &self.backends {
            if let Some(v) = b.get(name).await? {
                self.cache.lock().await.insert(name.to_string(), v.clone());
                return Ok(v);
            }
        }
        Err(SecretError::Missing {
            name: name.to_string(),
            tried: self.backends.iter().map(|b| b.describe()).collect(),
        })
    }

    /// The value of a setting with its secrets filled in.
    pub async fn setting(&self, s: &Setting) -> Result<Secret<String>, SecretError> {
        let mut out = String::new();
        for p in &s.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Secret(name) => out.push_str(self.get(name).await?.expose()),
            }
        }
        Ok(Secret::new(out))
    }
}

/// Key `key` of secret `name`, a JSON object (a string value as is, any
/// other value as JSON). Errors name keys, never values.
fn pick(name: &str, key: &str, doc: &Secret<String>) -> Result<Secret<String>, SecretError> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str(doc.expose()) else {
        return Err(SecretError::Key {
            name: name.to_string(),
            key: key.to_string(),
            reason: "the secret is not a JSON object".into(),
        });
    };
    match m.get(key) {
        Some(serde_json::Value::String(s)) => Ok(Secret::new(s.clone())),
        Some(v) => Ok(Secret::new(v.to_string())),
        None => Err(SecretError::Key {
            name: name.to_string(),
            key: key.to_string(),
            reason: format!(
                "no such key (it has: {})",
                m.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// Reads every secret of the configuration again from its backends (the
/// cache bypassed): how a connection picks up a rotated value after an
/// authentication failure, without a restart.
pub type Refresh = std::sync::Arc<dyn Fn() -> Result<ResolvedSecrets, String> + Send + Sync>;

/// Every secret value a configuration needs, by name.
#[derive(Clone, Default)]
pub struct ResolvedSecrets {
    /// Values by secret name.
    pub values: BTreeMap<String, Secret<String>>,
    /// Reads them again (`None`: the values are fixed for the run).
    pub refresh: Option<Refresh>,
}

impl std::fmt::Debug for ResolvedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSecrets")
            .field("values", &self.values)
            .field("refresh", &self.refresh.is_some())
            .finish()
    }
}

impl ResolvedSecrets {
    /// The value of setting `s` (literal parts and resolved secrets); `what`
    /// names the setting in the error when a secret was not resolved.
    pub fn render(&self, s: &Setting, what: &str) -> Result<String, String> {
        let mut out = String::new();
        for p in &s.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Secret(name) => match self.values.get(name) {
                    Some(v) => out.push_str(v.expose()),
                    None => {
                        return Err(format!("secret `{name}` used by `{what}` was not resolved"))
                    }
                },
            }
        }
        Ok(out)
    }
}

fn settings(cfg: &Config) -> Vec<&Setting> {
    let p = &cfg.platform;
    let mut v = vec![
        &p.kafka.bootstrap_servers,
        &p.kafka.schema_registry.url,
        &p.sinks.clickhouse.url,
        &p.sinks.clickhouse.user,
        &p.sinks.clickhouse.password,
    ];
    v.extend(p.kafka.schema_registry.username.iter());
    v.extend(p.kafka.schema_registry.password.iter());
    v.extend(p.kafka.properties.values());
    v
}

/// Resolves every referenced secret; each missing one becomes a diagnostic at
/// the place it is referenced, naming the backends tried. Backend failures
/// are reported the same way.
pub async fn resolve_config(
    cfg: &Config,
    resolver: &Resolver,
) -> Result<ResolvedSecrets, Diagnostics> {
    let mut out = ResolvedSecrets::default();
    let mut diags = Vec::new();
    for s in settings(cfg) {
        for name in s.secret_names() {
            if out.values.contains_key(name) {
                continue;
            }
            match resolver.get(name).await {
                Ok(v) => {
                    out.values.insert(name.to_string(), v);
                }
                Err(e) => {
                    let suggestion = match &e {
                        SecretError::Missing { .. } => format!(
                            "set it in one of the secret backends, e.g. `SLUICE_SECRET_{}`",
                            env_style(name.split('#').next().unwrap_or(name))
                        ),
                        SecretError::Key { .. } => {
                            "name one of the secret's keys after `#`".to_string()
                        }
                        SecretError::Backend { .. } | SecretError::Config(_) => {
                            "check that the backend is reachable and lets these credentials read this path"
                                .to_string()
                        }
                    };
                    diags.push(Diagnostic {
                        file: cfg.sources.path(s.pos.source).to_path_buf(),
                        line: s.pos.line,
                        col: s.pos.col,
                        path: String::new(),
                        message: e.to_string(),
                        expected: None,
                        suggestion: Some(suggestion),
                    })
                }
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        let mut d = Diagnostics(diags);
        d.sort();
        Err(d)
    }
}
