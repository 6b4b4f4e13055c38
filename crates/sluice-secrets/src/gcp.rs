//! The `gcp_secret_manager` backend: Google Cloud Secret Manager's REST API
//! (`projects/<project>/secrets/<name>/versions/<version>:access`).
//!
//! - Secret `kafka` is `projects/<project>/secrets/<prefix>kafka/versions/<version>`
//!   (`latest` by default); its payload is text (often JSON:
//!   `${secret:kafka#password}` picks a key).
//! - Credentials: Application Default Credentials, in Google's order: the
//!   file `GOOGLE_APPLICATION_CREDENTIALS` names (a service-account key,
//!   exchanged for a token with a signed JWT, or an `authorized_user`
//!   refresh token), gcloud's file
//!   (`~/.config/gcloud/application_default_credentials.json`), then the
//!   metadata server (`GCE_METADATA_HOST`, default
//!   `metadata.google.internal`). Tokens are refreshed before they expire
//!   and after a 401.
//! - `endpoint` points it elsewhere (a private endpoint; a contract-test
//!   server in the tests), with `ca_cert` for a private CA; the token
//!   endpoint follows the credentials file's `token_uri`.
//! - 404 moves on to the next backend; 403 is "access denied"; 429, 5xx and
//!   transport failures are retried.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine as _;
use serde_json::{json, Value};
use sluice_core::Secret;

use crate::rest::{self, Call, Failure, Token, TokenCache};
use crate::{Env, SecretBackend, SecretError};

/// Where to read secrets.
#[derive(Clone, Debug)]
pub struct GcpOptions {
    /// Project id or number.
    pub project: String,
    /// Version to read (`latest`).
    pub version: String,
    /// Put in front of every secret name.
    pub prefix: String,
    /// `https://secretmanager.googleapis.com`.
    pub endpoint: String,
    /// PEM file of a private CA.
    pub ca_cert: Option<PathBuf>,
}

impl GcpOptions {
    /// Options from a `secrets.backends` entry; the project falls back to
    /// `GOOGLE_CLOUD_PROJECT`.
    pub fn from_options(opt: &BTreeMap<String, String>, env: &Env) -> Result<Self, SecretError> {
        let get = |k: &str| opt.get(k).filter(|v| !v.is_empty()).cloned();
        let project = get("project")
            .or_else(|| env("GOOGLE_CLOUD_PROJECT"))
            .ok_or_else(|| {
                SecretError::Config(
                    "gcp_secret_manager: no `project` and `GOOGLE_CLOUD_PROJECT` is not set".into(),
                )
            })?;
        let endpoint =
            get("endpoint").unwrap_or_else(|| "https://secretmanager.googleapis.com".into());
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(SecretError::Config(format!(
                "gcp_secret_manager: endpoint `{endpoint}` must start with https:// or http://"
            )));
        }
        Ok(Self {
            project,
            version: get("version").unwrap_or_else(|| "latest".into()),
            prefix: get("prefix").unwrap_or_default(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            ca_cert: get("ca_cert").map(PathBuf::from),
        })
    }
}

/// The error text of a Google API error body.
fn google_error(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    match e {
        Value::String(s) => Some(format!(
            "{s}{}",
            v.get("error_description")
                .and_then(Value::as_str)
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )),
        _ => Some(format!(
            "{} {}",
            e.get("status").and_then(Value::as_str).unwrap_or(""),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        )),
    }
}

/// Application Default Credentials.
pub struct GcpCredentials {
    env: Box<Env>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for GcpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcpCredentials")
    }
}

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

impl GcpCredentials {
    /// Credentials found through `env`, fetched with `agent`.
    pub(crate) fn new(env: Box<Env>, agent: ureq::Agent) -> Self {
        Self { env, agent }
    }

    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.trim().is_empty())
    }

    /// A fresh access token from the first source that has credentials.
    pub(crate) fn token(&self) -> Result<Token, Failure> {
        let file = self
            .var("GOOGLE_APPLICATION_CREDENTIALS")
            .map(PathBuf::from)
            .or_else(|| {
                self.var("HOME")
                    .map(|h| {
                        PathBuf::from(h).join(".config/gcloud/application_default_credentials.json")
                    })
                    .filter(|p| p.exists())
            });
        match file {
            Some(f) => {
                let text = std::fs::read_to_string(&f).map_err(|e| {
                    Failure::Other(format!(
                        "cannot read credentials file `{}`: {e}",
                        f.display()
                    ))
                })?;
                let v: Value = serde_json::from_str(&text).map_err(|_| {
                    Failure::Other(format!("credentials file `{}` is not JSON", f.display()))
                })?;
                match v.get("type").and_then(Value::as_str) {
                    Some("service_account") => self.service_account(&v, &f),
                    Some("authorized_user") => self.authorized_user(&v, &f),
                    other => Err(Failure::Other(format!(
                        "credentials file `{}`: unsupported type {other:?} (expected service_account or authorized_user)",
                        f.display()
                    ))),
                }
            }
            None => self.metadata_server(),
        }
    }

    /// A JWT signed with the service account's key, exchanged for a token.
    fn service_account(&self, v: &Value, f: &std::path::Path) -> Result<Token, Failure> {
        let field = |k: &str| {
            v.get(k).and_then(Value::as_str).ok_or_else(|| {
                Failure::Other(format!("credentials file `{}` has no `{k}`", f.display()))
            })
        };
        let email = field("client_email")?;
        let token_uri = v
            .get("token_uri")
            .and_then(Value::as_str)
            .unwrap_or("https://oauth2.googleapis.com/token");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
        let claims = b64.encode(
            json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600})
                .to_string(),
        );
        let signing_input = format!("{header}.{claims}");
        let signature = rs256(field("private_key")?, signing_input.as_bytes())
            .map_err(|e| Failure::Other(format!("credentials file `{}`: {e}", f.display())))?;
        let assertion = format!("{signing_input}.{}", b64.encode(signature));
        let body = rest::form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ]);
        self.exchange(token_uri, &body)
    }

    /// gcloud's user credentials: a refresh token.
    fn authorized_user(&self, v: &Value, f: &std::path::Path) -> Result<Token, Failure> {
        let field = |k: &str| {
            v.get(k).and_then(Value::as_str).ok_or_else(|| {
                Failure::Other(format!("credentials file `{}` has no `{k}`", f.display()))
            })
        };
        let token_uri = v
            .get("token_uri")
            .and_then(Value::as_str)
            .unwrap_or("https://oauth2.googleapis.com/token");
        let body = rest::form(&[
            ("grant_type", "refresh_token"),
            ("client_id", field("client_id")?),
            ("client_secret", field("client_secret")?),
            ("refresh_token", field("refresh_token")?),
        ]);
        self.exchange(token_uri, &body)
    }

    fn exchange(&self, token_uri: &str, body: &str) -> Result<Token, Failure> {
        let v = rest::send_found(
            &self.agent,
            &Call {
                method: "POST",
                url: token_uri,
                headers: &[],
                body: Some((body, "application/x-www-form-urlencoded")),
            },
            google_error,
        )
        .map_err(|f| Failure::Other(format!("token exchange at {token_uri}: {}", f.reason())))?;
        rest::oauth_token(&v, token_uri)
    }

    /// The metadata server of Compute Engine, GKE, Cloud Run.
    fn metadata_server(&self) -> Result<Token, Failure> {
        let host = self
            .var("GCE_METADATA_HOST")
            .unwrap_or_else(|| "metadata.google.internal".into());
        let url =
            format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
        let (status, v) = rest::send(
            &self.agent,
            &Call {
                method: "GET",
                url: &url,
                headers: &[("Metadata-Flavor", "Google")],
                body: None,
            },
            google_error,
        )
        .map_err(|f| {
            Failure::Other(format!(
                "no Google credentials: GOOGLE_APPLICATION_CREDENTIALS is not set, gcloud has none, and the metadata server ({host}) {}",
                f.reason()
            ))
        })?;
        if status != 200 {
            return Err(Failure::Other(format!(
                "metadata server ({host}) has no service account ({status})"
            )));
        }
        rest::oauth_token(&v, "the metadata server")
    }
}

/// RS256 over `data` with a PKCS#8 PEM private key.
fn rs256(pem: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| "private_key is not PEM".to_string())?;
    let key = ring::rsa::KeyPair::from_pkcs8(&der)
        .map_err(|e| format!("private_key is not a PKCS#8 RSA key ({e})"))?;
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        data,
        &mut sig,
    )
    .map_err(|_| "signing failed".to_string())?;
    Ok(sig)
}

/// Google Cloud Secret Manager.
pub struct GcpBackend {
    opts: GcpOptions,
    agent: ureq::Agent,
    credentials: GcpCredentials,
    token: TokenCache,
}

impl std::fmt::Debug for GcpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpBackend")
            .field("project", &self.opts.project)
            .field("endpoint", &self.opts.endpoint)
            .finish_non_exhaustive()
    }
}

impl GcpBackend {
    /// A backend reading credentials through `env`.
    pub fn new(opts: GcpOptions, env: Box<Env>) -> Result<Self, SecretError> {
        let agent = rest::agent(opts.ca_cert.as_deref(), "gcp_secret_manager")?;
        Ok(Self {
            credentials: GcpCredentials::new(env, agent.clone()),
            agent,
            opts,
            token: TokenCache::default(),
        })
    }

    fn resource(&self, name: &str) -> String {
        format!(
            "projects/{}/secrets/{}{name}/versions/{}",
            self.opts.project, self.opts.prefix, self.opts.version
        )
    }

    fn read(&self, resource: &str) -> Result<Option<String>, Failure> {
        let url = format!("{}/v1/{resource}:access", self.opts.endpoint);
        let fetch = || self.credentials.token();
        let Some(v) = rest::authorized_get(&self.agent, &self.token, &fetch, &url, google_error)?
        else {
            return Ok(None);
        };
        let data = v
            .pointer("/payload/data")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::Other("the answer has no payload".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| Failure::Other("the payload is not base64".into()))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Failure::Other("the payload is not UTF-8 text".into()))
    }
}

#[async_trait::async_trait]
impl SecretBackend for GcpBackend {
    fn describe(&self) -> String {
        format!(
            "gcp_secret_manager ({} at {})",
            self.resource("<name>"),
            self.opts.endpoint
        )
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let resource = self.resource(name);
        self.read(&resource)
            .map(|v| v.map(Secret::new))
            .map_err(|f| SecretError::Backend {
                backend: format!("gcp_secret_manager ({})", self.opts.project),
                message: format!("reading `{resource}`: {}", f.reason()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_error_bodies() {
        let opts = GcpOptions::from_options(
            &[
                ("project".to_string(), "p1".to_string()),
                ("prefix".into(), "sluice-".into()),
            ]
            .into(),
            &|_| None,
        )
        .unwrap();
        let b = GcpBackend::new(opts, Box::new(|_| None)).unwrap();
        assert_eq!(
            b.resource("kafka"),
            "projects/p1/secrets/sluice-kafka/versions/latest"
        );
        let e = json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}});
        assert_eq!(google_error(&e).unwrap(), "PERMISSION_DENIED no");
        let e = json!({"error": "invalid_grant", "error_description": "bad jwt"});
        assert_eq!(google_error(&e).unwrap(), "invalid_grant: bad jwt");
        let e = GcpOptions::from_options(&BTreeMap::new(), &|_| None).unwrap_err();
        assert!(e.to_string().contains("GOOGLE_CLOUD_PROJECT"), "{e}");
    }
}
