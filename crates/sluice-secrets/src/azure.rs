//! The `azure_key_vault` backend: Azure Key Vault's secrets REST API
//! (`GET <vault_url>/secrets/<name>?api-version=7.4`).
//!
//! - Secret `kafka_password` is the Key Vault secret `kafka-password` (Key
//!   Vault names allow letters, digits and `-` only: `_`, `.` and `/`
//!   become `-`); its value is text (often JSON: `${secret:kafka#password}`
//!   picks a key).
//! - Credentials, in the Azure SDKs' order: a service principal's client
//!   secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`),
//!   workload identity (`AZURE_FEDERATED_TOKEN_FILE` with the tenant and
//!   client ids: AKS), then managed identity (App Service's
//!   `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, else the instance metadata
//!   service). Tokens are for `https://vault.azure.net`, refreshed before
//!   they expire and after a 401.
//! - `endpoint` replaces `vault_url` (a private endpoint; a contract-test
//!   server in the tests), with `ca_cert` for a private CA;
//!   `AZURE_AUTHORITY_HOST` moves the token endpoint (sovereign clouds) and
//!   `AZURE_IMDS_ENDPOINT` (sluice's own) the instance metadata service.
//! - 404 moves on to the next backend; 403 is "access denied"; 429, 5xx
//!   and transport failures are retried.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sluice_core::Secret;

use crate::rest::{self, Call, Failure, Token, TokenCache};
use crate::{Env, SecretBackend, SecretError};

/// The Key Vault API version used.
pub const API_VERSION: &str = "7.4";
const RESOURCE: &str = "https://vault.azure.net";

/// Where to read secrets.
#[derive(Clone, Debug)]
pub struct AzureOptions {
    /// `https://<name>.vault.azure.net`.
    pub vault_url: String,
    /// PEM file of a private CA.
    pub ca_cert: Option<PathBuf>,
}

impl AzureOptions {
    /// Options from a `secrets.backends` entry.
    pub fn from_options(opt: &BTreeMap<String, String>) -> Result<Self, SecretError> {
        let get = |k: &str| opt.get(k).filter(|v| !v.is_empty()).cloned();
        let bad = |m: String| SecretError::Config(format!("azure_key_vault: {m}"));
        let vault_url = get("endpoint")
            .or_else(|| get("vault_url"))
            .ok_or_else(|| bad("`vault_url` is required".into()))?;
        if !(vault_url.starts_with("https://") || vault_url.starts_with("http://")) {
            return Err(bad(format!(
                "`{vault_url}` must start with https:// (https://<name>.vault.azure.net)"
            )));
        }
        Ok(Self {
            vault_url: vault_url.trim_end_matches('/').to_string(),
            ca_cert: get("ca_cert").map(PathBuf::from),
        })
    }
}

/// `kafka_password` → `kafka-password`.
pub fn vault_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The error text of an Azure error body (Key Vault or Entra ID).
fn azure_error(v: &Value) -> Option<String> {
    if let Some(e) = v.get("error") {
        if let Some(code) = e.as_str() {
            return Some(format!(
                "{code}{}",
                v.get("error_description")
                    .and_then(Value::as_str)
                    .map(|d| format!(": {}", d.lines().next().unwrap_or(d)))
                    .unwrap_or_default()
            ));
        }
        return Some(format!(
            "{}: {}",
            e.get("code").and_then(Value::as_str).unwrap_or(""),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        ));
    }
    None
}

/// The Azure credential chain.
pub struct AzureCredentials {
    env: Box<Env>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AzureCredentials")
    }
}

impl AzureCredentials {
    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.trim().is_empty())
    }

    /// A fresh token for Key Vault from the first source that has
    /// credentials.
    fn token(&self) -> Result<Token, Failure> {
        let tenant = self.var("AZURE_TENANT_ID");
        let client = self.var("AZURE_CLIENT_ID");
        if let (Some(t), Some(c), Some(secret)) =
            (&tenant, &client, self.var("AZURE_CLIENT_SECRET"))
        {
            return self.entra(t, &[("client_id", c), ("client_secret", &secret)]);
        }
        if let (Some(t), Some(c), Some(file)) =
            (&tenant, &client, self.var("AZURE_FEDERATED_TOKEN_FILE"))
        {
            let assertion = std::fs::read_to_string(&file).map_err(|e| {
                Failure::Other(format!("cannot read federated token file `{file}`: {e}"))
            })?;
            return self.entra(
                t,
                &[
                    ("client_id", c),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                ],
            );
        }
        self.managed_identity(client.as_deref())
    }

    /// Microsoft Entra ID's client-credentials grant.
    fn entra(&self, tenant: &str, creds: &[(&str, &str)]) -> Result<Token, Failure> {
        let authority = self
            .var("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| "https://login.microsoftonline.com".into());
        let url = format!(
            "{}/{tenant}/oauth2/v2.0/token",
            authority.trim_end_matches('/')
        );
        let mut pairs = vec![
            ("grant_type", "client_credentials"),
            ("scope", "https://vault.azure.net/.default"),
        ];
        pairs.extend_from_slice(creds);
        let body = rest::form(&pairs);
        let v = rest::send_found(
            &self.agent,
            &Call {
                method: "POST",
                url: &url,
                headers: &[],
                body: Some((&body, "application/x-www-form-urlencoded")),
            },
            azure_error,
        )
        .map_err(|f| Failure::Other(format!("token request at {url}: {}", f.reason())))?;
        rest::oauth_token(&v, &url)
    }

    /// App Service's identity endpoint, else the instance metadata service.
    fn managed_identity(&self, client: Option<&str>) -> Result<Token, Failure> {
        let id = client
            .map(|c| format!("&client_id={}", rest::urlencode(c)))
            .unwrap_or_default();
        let (url, header) = match (self.var("IDENTITY_ENDPOINT"), self.var("IDENTITY_HEADER")) {
            (Some(ep), Some(h)) => (
                format!(
                    "{ep}?api-version=2019-08-01&resource={}{id}",
                    rest::urlencode(RESOURCE)
                ),
                ("X-IDENTITY-HEADER", h),
            ),
            _ => (
                format!(
                    "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}{id}",
                    self.var("AZURE_IMDS_ENDPOINT")
                        .unwrap_or_else(|| "http://169.254.169.254".into())
                        .trim_end_matches('/'),
                    rest::urlencode(RESOURCE)
                ),
                ("Metadata", "true".to_string()),
            ),
        };
        let (status, v) = rest::send(
            &self.agent,
            &Call {
                method: "GET",
                url: &url,
                headers: &[(header.0, &header.1)],
                body: None,
            },
            azure_error,
        )
        .map_err(|f| {
            Failure::Other(format!(
                "no Azure credentials: no client secret or federated token in the environment, and managed identity {}",
                f.reason()
            ))
        })?;
        if status != 200 {
            return Err(Failure::Other(format!(
                "managed identity has no identity ({status})"
            )));
        }
        rest::oauth_token(&v, "managed identity")
    }
}

/// Azure Key Vault.
pub struct AzureBackend {
    opts: AzureOptions,
    agent: ureq::Agent,
    credentials: AzureCredentials,
    token: TokenCache,
}

impl std::fmt::Debug for AzureBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBackend")
            .field("vault_url", &self.opts.vault_url)
            .finish_non_exhaustive()
    }
}

impl AzureBackend {
    /// A backend reading credentials through `env`.
    pub fn new(opts: AzureOptions, env: Box<Env>) -> Result<Self, SecretError> {
        let agent = rest::agent(opts.ca_cert.as_deref(), "azure_key_vault")?;
        Ok(Self {
            credentials: AzureCredentials {
                env,
                agent: agent.clone(),
            },
            agent,
            opts,
            token: TokenCache::default(),
        })
    }

    fn read(&self, name: &str) -> Result<Option<String>, Failure> {
        let url = format!(
            "{}/secrets/{name}?api-version={API_VERSION}",
            self.opts.vault_url
        );
        let fetch = || self.credentials.token();
        match rest::authorized_get(&self.agent, &self.token, &fetch, &url, azure_error)? {
            None => Ok(None),
            Some(v) => v
                .get("value")
                .and_then(Value::as_str)
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| Failure::Other("the answer has no `value`".into())),
        }
    }
}

#[async_trait::async_trait]
impl SecretBackend for AzureBackend {
    fn describe(&self) -> String {
        format!("azure_key_vault ({}/secrets/<name>)", self.opts.vault_url)
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let n = vault_name(name);
        self.read(&n)
            .map(|v| v.map(Secret::new))
            .map_err(|f| SecretError::Backend {
                backend: format!("azure_key_vault ({})", self.opts.vault_url),
                message: format!("reading secret `{n}`: {}", f.reason()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_error_bodies() {
        assert_eq!(vault_name("kafka_password"), "kafka-password");
        assert_eq!(vault_name("a.b/c"), "a-b-c");
        let e = json!({"error": {"code": "Forbidden", "message": "no access"}});
        assert_eq!(azure_error(&e).unwrap(), "Forbidden: no access");
        let e = json!({"error": "invalid_client", "error_description": "AADSTS7000215: bad secret\r\nTrace ID: x"});
        assert_eq!(
            azure_error(&e).unwrap(),
            "invalid_client: AADSTS7000215: bad secret"
        );
        assert!(AzureOptions::from_options(&BTreeMap::new()).is_err());
    }
}
