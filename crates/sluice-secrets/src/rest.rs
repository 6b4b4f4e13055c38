//! What the backends that speak JSON over HTTPS (Vault, Google Secret
//! Manager, Azure Key Vault) share: an HTTP agent (with an optional private
//! CA), JSON calls with transient failures retried by the one retry policy,
//! and, for OAuth bearer tokens, a token cache refreshed before expiry or
//! after the service refuses the token ([`authorized_get`]).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sluice_core::{RetryHint, RetryPolicy, Secret};

use crate::SecretError;

fn config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .timeout_connect(Some(Duration::from_secs(5)))
}

/// An HTTP agent trusting the system roots.
pub(crate) fn plain_agent() -> ureq::Agent {
    config().build().into()
}

/// An HTTP agent; `ca_cert` (a PEM file) replaces the system roots.
pub(crate) fn agent(ca_cert: Option<&Path>, what: &str) -> Result<ureq::Agent, SecretError> {
    let mut cfg = config();
    if let Some(ca) = ca_cert {
        let pem = std::fs::read(ca).map_err(|e| {
            SecretError::Config(format!(
                "{what}: cannot read ca_cert `{}`: {e}",
                ca.display()
            ))
        })?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(SecretError::Config(format!(
                "{what}: ca_cert `{}` holds no PEM certificate",
                ca.display()
            )));
        }
        cfg = cfg.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    Ok(cfg.build().into())
}

/// One call's failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing answered.
    Unreachable(String),
    /// An error status with the service's own error text.
    Status(u16, String),
    /// Anything else (bad answers, local credential files).
    Other(String),
}

impl Failure {
    pub(crate) fn hint(&self) -> RetryHint {
        match self {
            Failure::Unreachable(_) => RetryHint::Retry,
            Failure::Status(s, _) if *s == 429 || *s >= 500 => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        }
    }

    pub(crate) fn reason(&self) -> String {
        match self {
            Failure::Unreachable(m) => format!("unreachable: {m}"),
            Failure::Status(403, m) => format!("access denied (403: {m})"),
            Failure::Status(401, m) => format!("not authenticated (401: {m})"),
            Failure::Status(s, m) => format!("error status {s}: {m}"),
            Failure::Other(m) => m.clone(),
        }
    }
}

/// The retry policy of the cloud backends.
pub(crate) const RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(2), 5);

/// A request to send.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    /// Body and its content type.
    pub body: Option<(&'a str, &'a str)>,
}

/// Sends `call` (retrying transient failures); `(status, JSON)` for 2xx and
/// 404, the service's error text otherwise. `error_text` reads it from an
/// error body.
pub(crate) fn send(
    agent: &ureq::Agent,
    call: &Call<'_>,
    error_text: fn(&Value) -> Option<String>,
) -> Result<(u16, Value), Failure> {
    sluice_core::retry_blocking(
        &RETRY,
        || send_once(agent, call, error_text),
        Failure::hint,
        |_| true,
    )
}

/// [`send`] for calls whose 404 is an error (logins, token endpoints: a
/// wrong mount or URL), not "no such secret".
pub(crate) fn send_found(
    agent: &ureq::Agent,
    call: &Call<'_>,
    error_text: fn(&Value) -> Option<String>,
) -> Result<Value, Failure> {
    match send(agent, call, error_text)? {
        (404, v) => Err(Failure::Status(
            404,
            error_text(&v).unwrap_or_else(|| format!("nothing at {}", call.url)),
        )),
        (_, v) => Ok(v),
    }
}

fn send_once(
    agent: &ureq::Agent,
    call: &Call<'_>,
    error_text: fn(&Value) -> Option<String>,
) -> Result<(u16, Value), Failure> {
    let host = call.url.split('/').take(3).collect::<Vec<_>>().join("/");
    let unreachable = |e: ureq::Error| Failure::Unreachable(format!("{host}: {e}"));
    let mut resp = match (call.method, call.body) {
        ("GET", _) => {
            let mut r = agent.get(call.url);
            for (k, v) in call.headers {
                r = r.header(*k, *v);
            }
            r.call().map_err(unreachable)?
        }
        (_, body) => {
            let mut r = agent.post(call.url);
            for (k, v) in call.headers {
                r = r.header(*k, *v);
            }
            let (text, ty) = body.unwrap_or(("", "application/json"));
            r.header("Content-Type", ty)
                .send(text)
                .map_err(unreachable)?
        }
    };
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(4 * 1024 * 1024)
        .read_to_string()
        .map_err(unreachable)?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) || status == 404 {
        return Ok((status, v));
    }
    Err(Failure::Status(
        status,
        error_text(&v).unwrap_or_else(|| "no error message".into()),
    ))
}

/// A bearer token and when it expires.
pub(crate) struct Token {
    pub value: Secret<String>,
    pub expires: Option<SystemTime>,
}

/// A value that expires (a bearer token, temporary cloud credentials),
/// fetched again within five minutes of its expiry or when asked for a
/// fresh one.
pub(crate) struct Cached<T> {
    slot: Mutex<Option<(T, Option<SystemTime>)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<T: Clone> Cached<T> {
    /// The cached value, or `fetch`'s (the value and when it expires).
    pub(crate) fn get<E>(
        &self,
        fresh: bool,
        fetch: impl FnOnce() -> Result<(T, Option<SystemTime>), E>,
    ) -> Result<T, E> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let usable = |expires: &Option<SystemTime>| {
            expires.is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300))
        };
        match slot.as_ref() {
            Some((v, expires)) if !fresh && usable(expires) => Ok(v.clone()),
            _ => {
                let (v, expires) = fetch()?;
                *slot = Some((v.clone(), expires));
                Ok(v)
            }
        }
    }
}

/// The bearer token of a backend.
pub(crate) type TokenCache = Cached<Secret<String>>;

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET url` with a bearer token from `cache` (fetched by `fetch` when
/// missing or stale); a 401 fetches a new token once. `None` on 404.
pub(crate) fn authorized_get(
    agent: &ureq::Agent,
    cache: &TokenCache,
    fetch: &dyn Fn() -> Result<Token, Failure>,
    url: &str,
    error_text: fn(&Value) -> Option<String>,
) -> Result<Option<Value>, Failure> {
    let mut fresh = false;
    loop {
        let token = cache.get(fresh, || fetch().map(|t| (t.value, t.expires)))?;
        let auth = format!("Bearer {}", token.expose());
        let call = Call {
            method: "GET",
            url,
            headers: &[("Authorization", &auth)],
            body: None,
        };
        match send(agent, &call, error_text) {
            Ok((404, _)) => return Ok(None),
            Ok((_, v)) => return Ok(Some(v)),
            // revoked, rotated or expired early: once more with a new token
            Err(Failure::Status(401, _)) if !fresh => fresh = true,
            Err(f) => return Err(f),
        }
    }
}

/// `application/x-www-form-urlencoded`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A token answer's `access_token` and its expiry: `expires_in` seconds,
/// else `expires_on` (epoch seconds, as managed identity answers), each a
/// number or a string.
pub(crate) fn oauth_token(v: &Value, from: &str) -> Result<Token, Failure> {
    let value = v
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Other(format!("{from} answered without an access token")))?;
    let number = |k: &str| {
        v.get(k).and_then(|e| {
            e.as_u64()
                .or_else(|| e.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let expires = match (number("expires_in"), number("expires_on")) {
        (Some(secs), _) => Some(SystemTime::now() + Duration::from_secs(secs)),
        (None, Some(at)) => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
        (None, None) => None,
    };
    Ok(Token {
        value: Secret::new(value.to_string()),
        expires,
    })
}
