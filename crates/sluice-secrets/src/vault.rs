//! The `vault` backend: HashiCorp Vault's KV secrets engine over its HTTP
//! API (KV version 2 by default, version 1 supported).
//!
//! - Secret `kafka` is read at `<mount>/data/<path>/kafka` (v2) or
//!   `<mount>/<path>/kafka` (v1). A secret holding one key gives that key's
//!   value; one holding several gives the whole document as JSON, from which
//!   `${secret:kafka#password}` picks a key (see the resolver).
//! - Authentication: a token (from an environment variable, `VAULT_TOKEN` by
//!   default, or a file), AppRole (role id + secret id) or a Kubernetes
//!   service-account JWT. A login token is renewed before it expires when
//!   Vault allows, else the backend logs in again; a request refused with
//!   403 logs in again (or re-reads the token) once, so a rotated credential
//!   is picked up without a restart.
//! - Transport failures, 429 and 5xx answers are retried with the one retry
//!   policy; 404 means "not here" (the next backend is tried); 403 is
//!   "access denied". Errors name the backend, the path tried and the
//!   reason, never a value or a token.
//! - TLS: `https://` addresses are verified against the system roots, or
//!   against `ca_cert` (a PEM file) when given. `namespace` is sent as
//!   `X-Vault-Namespace` (Vault Enterprise / HCP).
//!
//! The HTTP client is blocking; resolution happens once, before a run
//! starts, one secret after another.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice_core::Secret;

use crate::rest::{self, Call, Failure};
use crate::{Env, SecretBackend, SecretError};

/// How the backend authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token from an environment variable or a file (the file wins when
    /// both are given).
    Token {
        /// Variable holding the token (`VAULT_TOKEN`).
        env: String,
        /// File holding the token.
        file: Option<PathBuf>,
    },
    /// AppRole: role id (not secret) and secret id (from a variable or a
    /// file).
    AppRole {
        /// Auth mount (`approle`).
        mount: String,
        /// Role id.
        role_id: String,
        /// Variable holding the secret id.
        secret_id_env: Option<String>,
        /// File holding the secret id.
        secret_id_file: Option<PathBuf>,
    },
    /// Kubernetes: the pod's service-account JWT, exchanged for a token.
    Kubernetes {
        /// Auth mount (`kubernetes`).
        mount: String,
        /// Vault role bound to the service account.
        role: String,
        /// The JWT's file.
        jwt_file: PathBuf,
    },
}

/// Where and how to read secrets.
#[derive(Clone, Debug)]
pub struct VaultOptions {
    /// `https://vault.example:8200`.
    pub address: String,
    /// KV mount (`secret`).
    pub mount: String,
    /// KV engine version (1 or 2).
    pub kv_version: u8,
    /// Prefix under the mount (may be empty).
    pub path: String,
    /// Vault Enterprise / HCP namespace.
    pub namespace: Option<String>,
    /// PEM file of the CA that signed the server's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Authentication.
    pub auth: VaultAuth,
}

impl VaultOptions {
    /// Options from a `secrets.backends` entry (already checked by the
    /// configuration; `address` falls back to `VAULT_ADDR`).
    pub fn from_options(opt: &BTreeMap<String, String>, env: &Env) -> Result<Self, SecretError> {
        let get = |k: &str| opt.get(k).filter(|v| !v.is_empty()).cloned();
        let bad = |m: String| SecretError::Config(format!("vault: {m}"));
        let address = get("address")
            .or_else(|| env("VAULT_ADDR"))
            .ok_or_else(|| bad("no `address` and `VAULT_ADDR` is not set".into()))?;
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(bad(format!(
                "address `{address}` must start with http:// or https://"
            )));
        }
        let kv_version = match get("kv_version").as_deref() {
            None | Some("2") => 2,
            Some("1") => 1,
            Some(v) => return Err(bad(format!("kv_version `{v}` (expected 1 or 2)"))),
        };
        let auth = match get("auth").as_deref() {
            None | Some("token") => VaultAuth::Token {
                env: get("token_env").unwrap_or_else(|| "VAULT_TOKEN".into()),
                file: get("token_file").map(PathBuf::from),
            },
            Some("approle") => VaultAuth::AppRole {
                mount: get("auth_mount").unwrap_or_else(|| "approle".into()),
                role_id: get("role_id")
                    .ok_or_else(|| bad("auth `approle` needs `role_id`".into()))?,
                secret_id_env: get("secret_id_env"),
                secret_id_file: get("secret_id_file").map(PathBuf::from),
            },
            Some("kubernetes") => VaultAuth::Kubernetes {
                mount: get("auth_mount").unwrap_or_else(|| "kubernetes".into()),
                role: get("role").ok_or_else(|| bad("auth `kubernetes` needs `role`".into()))?,
                jwt_file: PathBuf::from(get("jwt_file").unwrap_or_else(|| {
                    "/var/run/secrets/kubernetes.io/serviceaccount/token".into()
                })),
            },
            Some(v) => {
                return Err(bad(format!(
                    "auth `{v}` (expected token, approle or kubernetes)"
                )))
            }
        };
        Ok(Self {
            address: address.trim_end_matches('/').to_string(),
            mount: get("mount")
                .unwrap_or_else(|| "secret".into())
                .trim_matches('/')
                .to_string(),
            kv_version,
            path: get("path")
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            namespace: get("namespace").or_else(|| env("VAULT_NAMESPACE")),
            ca_cert: get("ca_cert")
                .or_else(|| env("VAULT_CACERT"))
                .map(PathBuf::from),
            auth,
        })
    }
}

/// A token and when to stop trusting it.
struct Token {
    value: Secret<String>,
    /// When it expires (`None`: never, e.g. a root or static token).
    expires: Option<Instant>,
    /// Whether `renew-self` may extend it.
    renewable: bool,
    /// Its lifetime when issued, to know when to renew.
    ttl: Duration,
}

/// Vault's `errors` (messages such as "permission denied"; they never echo
/// a secret).
fn vault_error(v: &Value) -> Option<String> {
    let errors: Vec<&str> = v
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    Some(errors.join("; "))
}

fn suffix(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

/// HashiCorp Vault's KV engine.
pub struct VaultBackend {
    opts: VaultOptions,
    agent: ureq::Agent,
    token: Mutex<Option<Token>>,
}

impl std::fmt::Debug for VaultBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultBackend")
            .field("address", &self.opts.address)
            .field("mount", &self.opts.mount)
            .field("path", &self.opts.path)
            .finish_non_exhaustive()
    }
}

impl VaultBackend {
    /// A backend; reads the CA file now, authenticates on first use.
    pub fn new(opts: VaultOptions) -> Result<Self, SecretError> {
        Ok(Self {
            agent: rest::agent(opts.ca_cert.as_deref(), "vault")?,
            opts,
            token: Mutex::new(None),
        })
    }

    /// The API path of secret `name`.
    fn secret_path(&self, name: &str) -> String {
        let rel = if self.opts.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.opts.path)
        };
        match self.opts.kv_version {
            1 => format!("{}/{rel}", self.opts.mount),
            _ => format!("{}/data/{rel}", self.opts.mount),
        }
    }

    /// One request, transient failures retried; `(status, body)` for 2xx
    /// and 404.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Failure> {
        let url = format!("{}/v1/{path}", self.opts.address);
        let mut headers = Vec::new();
        if let Some(t) = token {
            headers.push(("X-Vault-Token", t));
        }
        if let Some(ns) = &self.opts.namespace {
            headers.push(("X-Vault-Namespace", ns.as_str()));
        }
        let text = body.map(Value::to_string);
        rest::send(
            &self.agent,
            &Call {
                method,
                url: &url,
                headers: &headers,
                body: text.as_deref().map(|t| (t, "application/json")),
            },
            vault_error,
        )
    }

    /// Reads a credential from a variable or a file (the file wins).
    fn credential(
        what: &str,
        env: Option<&str>,
        file: Option<&PathBuf>,
    ) -> Result<Secret<String>, Failure> {
        if let Some(f) = file {
            let v = std::fs::read_to_string(f).map_err(|e| {
                Failure::Other(format!("cannot read {what} file `{}`: {e}", f.display()))
            })?;
            return Ok(Secret::new(v.trim().to_string()));
        }
        if let Some(name) = env {
            return std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| Secret::new(v.trim().to_string()))
                .ok_or_else(|| {
                    Failure::Other(format!("{what}: environment variable `{name}` is not set"))
                });
        }
        Err(Failure::Other(format!("no {what} configured")))
    }

    /// Logs in (or reads the static token).
    fn login(&self) -> Result<Token, Failure> {
        let (mount, body) = match &self.opts.auth {
            VaultAuth::Token { env, file } => {
                return Ok(Token {
                    value: Self::credential("token", Some(env), file.as_ref())?,
                    expires: None,
                    renewable: false,
                    ttl: Duration::ZERO,
                })
            }
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id_env,
                secret_id_file,
            } => {
                let secret_id = Self::credential(
                    "AppRole secret id",
                    secret_id_env.as_deref(),
                    secret_id_file.as_ref(),
                )?;
                (
                    mount,
                    json!({ "role_id": role_id, "secret_id": secret_id.expose() }),
                )
            }
            VaultAuth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                let jwt = Self::credential("service-account JWT", None, Some(jwt_file))?;
                (mount, json!({ "role": role, "jwt": jwt.expose() }))
            }
        };
        let path = format!("auth/{}/login", mount.trim_matches('/'));
        let login = match self.call("POST", &path, None, Some(&body)) {
            // no such auth method mounted there
            Ok((404, _)) => Err(Failure::Status(
                404,
                "no auth method is mounted there".into(),
            )),
            other => other,
        };
        let (_, body) = login.map_err(|f| match f {
            Failure::Status(s, m) => Failure::Status(s, format!("login at {path}{}", suffix(&m))),
            other => other,
        })?;
        Self::token_of(&body).ok_or_else(|| {
            Failure::Other(format!("login at {path} answered without a client token"))
        })
    }

    /// The token in a login or renewal answer.
    fn token_of(body: &Value) -> Option<Token> {
        let auth = body.get("auth")?;
        let value = auth.get("client_token")?.as_str()?.to_string();
        let ttl = Duration::from_secs(
            auth.get("lease_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
        Some(Token {
            value: Secret::new(value),
            expires: (!ttl.is_zero()).then(|| Instant::now() + ttl),
            renewable: auth
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ttl,
        })
    }

    /// A token good for the next request: renewed when past two thirds of
    /// its life (when Vault allows), else a fresh login.
    fn token(&self, fresh: bool) -> Result<Secret<String>, Failure> {
        let mut slot = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if fresh {
            *slot = None;
        }
        if let Some(t) = slot.as_ref() {
            match t.expires {
                None => return Ok(t.value.clone()),
                Some(exp) => {
                    let left = exp.saturating_duration_since(Instant::now());
                    if left > t.ttl / 3 {
                        return Ok(t.value.clone());
                    }
                    if t.renewable && !left.is_zero() {
                        let renewed = self
                            .call(
                                "POST",
                                "auth/token/renew-self",
                                Some(t.value.expose()),
                                None,
                            )
                            .ok()
                            .and_then(|(_, b)| Self::token_of(&b));
                        if let Some(n) = renewed {
                            let v = n.value.clone();
                            *slot = Some(n);
                            return Ok(v);
                        }
                    }
                }
            }
        }
        let t = self.login()?;
        let v = t.value.clone();
        *slot = Some(t);
        Ok(v)
    }

    /// Reads the secret at `path`: `None` when it does not exist.
    fn read(&self, path: &str) -> Result<Option<Value>, Failure> {
        let mut fresh = false;
        loop {
            let token = self.token(fresh)?;
            match self.call("GET", path, Some(token.expose()), None) {
                Ok((404, _)) => return Ok(None),
                Ok((_, body)) => {
                    let data = body.get("data");
                    let data = if self.opts.kv_version == 2 {
                        data.and_then(|d| d.get("data"))
                    } else {
                        data
                    };
                    return match data {
                        // a deleted (soft) version reads as `data: null`
                        Some(Value::Null) | None => Ok(None),
                        Some(d) => Ok(Some(d.clone())),
                    };
                }
                // an expired or revoked token, or a rotated static one:
                // once more with a fresh login
                Err(Failure::Status(403, _)) if !fresh => fresh = true,
                Err(f) => return Err(f),
            }
        }
    }
}

/// The value a secret document gives: its only key's value, else the
/// document as JSON (a key is then picked with `name#key`).
fn value_of(doc: &Value) -> String {
    match doc {
        Value::Object(m) if m.len() == 1 => match m.values().next() {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait::async_trait]
impl SecretBackend for VaultBackend {
    fn describe(&self) -> String {
        format!(
            "vault ({} kv v{} at `{}`)",
            self.opts.address,
            self.opts.kv_version,
            self.secret_path("<name>")
        )
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let path = self.secret_path(name);
        match self.read(&path) {
            Ok(doc) => Ok(doc.map(|d| Secret::new(value_of(&d)))),
            Err(f) => Err(SecretError::Backend {
                backend: format!("vault ({})", self.opts.address),
                message: format!("reading `{path}`: {}", f.reason()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Result<VaultOptions, SecretError> {
        let m = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        VaultOptions::from_options(&m, &|_| None)
    }

    #[test]
    fn paths_follow_the_kv_version_and_prefix() {
        let b = VaultBackend::new(
            opts(&[("address", "http://127.0.0.1:1/"), ("path", "/sluice/")]).unwrap(),
        )
        .unwrap();
        assert_eq!(b.secret_path("kafka"), "secret/data/sluice/kafka");
        let b = VaultBackend::new(
            opts(&[
                ("address", "http://h:1"),
                ("kv_version", "1"),
                ("mount", "kv"),
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(b.secret_path("kafka"), "kv/kafka");
    }

    #[test]
    fn bad_options_are_named() {
        let e = opts(&[]).unwrap_err().to_string();
        assert!(e.contains("VAULT_ADDR"), "{e}");
        let e = opts(&[("address", "vault:8200")]).unwrap_err().to_string();
        assert!(e.contains("http://"), "{e}");
        let e = opts(&[("address", "http://h"), ("auth", "approle")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("role_id"), "{e}");
        let e = opts(&[("address", "http://h"), ("kv_version", "3")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 or 2"), "{e}");
    }

    #[test]
    fn a_one_key_document_is_its_value_else_json() {
        assert_eq!(value_of(&json!({"password": "p"})), "p");
        assert_eq!(value_of(&json!({"port": 9092})), "9092");
        let v = value_of(&json!({"user": "u", "password": "p"}));
        assert_eq!(
            serde_json::from_str::<Value>(&v).unwrap(),
            json!({"user": "u", "password": "p"})
        );
    }
}
