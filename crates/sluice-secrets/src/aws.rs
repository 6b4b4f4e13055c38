//! The `aws_secrets_manager` backend: AWS Secrets Manager's
//! `GetSecretValue` over its JSON API, signed with Signature Version 4.
//!
//! - Secret `kafka` is the secret `<prefix>kafka` (its `AWSCURRENT`
//!   version). Secrets Manager secrets are text, often a JSON document:
//!   `${secret:kafka#password}` picks a key (see the resolver).
//! - Credentials come from the standard chain, in the SDKs' order: the
//!   environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`), the shared files (`~/.aws/credentials` and
//!   `~/.aws/config`, profile `AWS_PROFILE` or the option `profile`), web
//!   identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, exchanged with
//!   STS), the container endpoint (ECS, EKS Pod Identity) and the instance
//!   metadata service (IMDSv2). Temporary credentials are refreshed before
//!   they expire; a request refused as unauthenticated is retried once with
//!   credentials read afresh, so a rotation is picked up without a restart.
//! - `endpoint` (or `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`)
//!   points it at another endpoint (a VPC endpoint, or a local emulator in
//!   tests); STS follows `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`.
//! - Not found moves on to the next backend; access denied, a bad
//!   signature or an unreachable endpoint is an error naming the secret id
//!   and the reason, never a value or a key. Throttling, 5xx and transport
//!   failures are retried with the one retry policy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_core::{RetryHint, RetryPolicy, Secret};

use crate::{Env, SecretBackend, SecretError};

/// Where and how to read secrets.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    /// Region (`eu-west-1`).
    pub region: String,
    /// Put in front of every secret name.
    pub prefix: String,
    /// Secrets Manager endpoint (`https://secretsmanager.<region>.amazonaws.com`).
    pub endpoint: String,
    /// Profile of the shared files.
    pub profile: String,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl AwsOptions {
    /// Options from a `secrets.backends` entry; the region falls back to
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub fn from_options(opt: &BTreeMap<String, String>, env: &Env) -> Result<Self, SecretError> {
        let get = |k: &str| opt.get(k).filter(|v| !v.is_empty()).cloned();
        let region = get("region")
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                SecretError::Config(
                    "aws_secrets_manager: no `region` and neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set"
                        .into(),
                )
            })?;
        let endpoint = get("endpoint")
            .or_else(|| env("AWS_ENDPOINT_URL_SECRETS_MANAGER"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(SecretError::Config(format!(
                "aws_secrets_manager: endpoint `{endpoint}` must start with http:// or https://"
            )));
        }
        Ok(Self {
            prefix: get("prefix").unwrap_or_default(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            profile: get("profile")
                .or_else(|| env("AWS_PROFILE"))
                .unwrap_or_else(|| "default".into()),
            region,
            retry: RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(2), 5),
        })
    }
}

/// A set of credentials and when they expire.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<Secret<String>>,
    /// Expiry of temporary credentials.
    pub expires: Option<SystemTime>,
    /// Where they came from (for messages).
    pub source: &'static str,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length
    let mut m = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// `20150830T123600Z` for a time.
fn amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, mo, d) = sluice_formats::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// A request to sign (path `/`, no query string: the JSON and form APIs).
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `POST`, `GET`.
    pub method: &'a str,
    /// `host[:port]` as the client sends it.
    pub host: &'a str,
    /// Headers to sign besides `host`, `x-amz-date` and the session token.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
    /// Region (`us-east-1`).
    pub region: &'a str,
    /// Service (`secretsmanager`).
    pub service: &'a str,
}

/// A request signed with Signature Version 4 at `now`: the headers to send
/// (besides `host`, which the client sets from the URL and which is signed
/// too).
pub fn sign(creds: &Credentials, req: &Request<'_>, now: SystemTime) -> Vec<(String, String)> {
    let Request {
        method,
        host,
        headers,
        payload,
        region,
        service,
    } = *req;
    let date_time = amz_date(now);
    let date = &date_time[..8];
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    signed.push(("host".into(), host.to_string()));
    signed.push(("x-amz-date".into(), date_time.clone()));
    if let Some(t) = &creds.session_token {
        signed.push(("x-amz-security-token".into(), t.expose().clone()));
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_names = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{method}\n/\n\n{canonical_headers}\n{signed_names}\n{}",
        sha256_hex(payload)
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(
        format!("AWS4{}", creds.secret_access_key.expose()).as_bytes(),
        date,
    );
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    let mut out: Vec<(String, String)> = signed.into_iter().filter(|(k, _)| k != "host").collect();
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    out
}

/// One request's failure.
#[derive(Debug)]
enum Failure {
    Unreachable(String),
    /// An AWS error answer: status, `__type` (without its namespace), message.
    Aws(u16, String, String),
    Other(String),
}

impl Failure {
    fn hint(&self) -> RetryHint {
        match self {
            Failure::Unreachable(_) => RetryHint::Retry,
            Failure::Aws(s, t, _)
                if *s >= 500 || t.contains("Throttl") || t == "RequestLimitExceeded" =>
            {
                RetryHint::Retry
            }
            _ => RetryHint::NoRetry,
        }
    }

    /// Refused for its credentials (expired, rotated, wrong).
    fn unauthenticated(&self) -> bool {
        matches!(self, Failure::Aws(_, t, _) if matches!(t.as_str(),
            "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException"
            | "InvalidClientTokenId" | "SignatureDoesNotMatch"))
    }

    fn reason(&self) -> String {
        match self {
            Failure::Unreachable(m) => format!("unreachable: {m}"),
            Failure::Aws(_, t, m) if t == "AccessDeniedException" || t == "AccessDenied" => {
                format!("access denied ({t}: {m})")
            }
            f @ Failure::Aws(_, t, m) if f.unauthenticated() => {
                format!(
                    "access denied: the credentials were refused, also when read again ({t}: {m})"
                )
            }
            Failure::Aws(s, t, m) => format!("{t} ({s}): {m}"),
            Failure::Other(m) => m.clone(),
        }
    }
}

/// The text of the first `<name>…</name>` element of `xml`.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

/// The credential chain's sources, in order.
pub struct CredentialChain {
    env: Box<Env>,
    profile: String,
    region: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialChain")
            .field("profile", &self.profile)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl CredentialChain {
    /// A chain reading variables and files through `env`.
    pub fn new(env: Box<Env>, profile: &str, region: &str) -> Self {
        Self {
            env,
            profile: profile.to_string(),
            region: region.to_string(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .timeout_connect(Some(Duration::from_secs(1)))
                .build()
                .into(),
        }
    }

    /// The first source that has credentials.
    pub fn resolve(&self) -> Result<Credentials, String> {
        if let Some(c) = self.env_keys() {
            return Ok(c);
        }
        if let Some(c) = self.shared_files()? {
            return Ok(c);
        }
        if let Some(c) = self.web_identity()? {
            return Ok(c);
        }
        if let Some(c) = self.container()? {
            return Ok(c);
        }
        self.instance_metadata()?.ok_or_else(|| {
            "no AWS credentials: none in the environment, the shared files (profile `".to_string()
                + &self.profile
                + "`), web identity, the container endpoint or the instance metadata service"
        })
    }

    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.trim().is_empty())
    }

    fn env_keys(&self) -> Option<Credentials> {
        Some(Credentials {
            access_key_id: self.var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: Secret::new(self.var("AWS_SECRET_ACCESS_KEY")?),
            session_token: self.var("AWS_SESSION_TOKEN").map(Secret::new),
            expires: None,
            source: "environment",
        })
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    /// Static keys of the profile in `~/.aws/credentials` or `~/.aws/config`.
    fn shared_files(&self) -> Result<Option<Credentials>, String> {
        let files = [
            self.var("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| self.home().map(|h| h.join(".aws/credentials"))),
            self.var("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| self.home().map(|h| h.join(".aws/config"))),
        ];
        for (i, f) in files.iter().enumerate() {
            let Some(f) = f else { continue };
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            // the config file names profiles `[profile x]`, except default
            let section = if i == 1 && self.profile != "default" {
                format!("profile {}", self.profile)
            } else {
                self.profile.clone()
            };
            let keys = ini_section(&text, &section);
            if let (Some(id), Some(secret)) = (
                keys.get("aws_access_key_id"),
                keys.get("aws_secret_access_key"),
            ) {
                return Ok(Some(Credentials {
                    access_key_id: id.clone(),
                    secret_access_key: Secret::new(secret.clone()),
                    session_token: keys.get("aws_session_token").cloned().map(Secret::new),
                    expires: None,
                    source: "shared credentials file",
                }));
            }
        }
        Ok(None)
    }

    /// `AssumeRoleWithWebIdentity` with the token file (EKS IRSA).
    fn web_identity(&self) -> Result<Option<Credentials>, String> {
        let (Some(file), Some(role)) = (
            self.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
            self.var("AWS_ROLE_ARN"),
        ) else {
            return Ok(None);
        };
        let token = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read web identity token file `{file}`: {e}"))?;
        let session = self
            .var("AWS_ROLE_SESSION_NAME")
            .unwrap_or_else(|| "sluice".into());
        let endpoint = self
            .var("AWS_ENDPOINT_URL_STS")
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", self.region));
        let body = crate::rest::form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", &role),
            ("RoleSessionName", &session),
            ("WebIdentityToken", token.trim()),
        ]);
        let mut resp = self
            .agent
            .post(endpoint.trim_end_matches('/'))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body.as_str())
            .map_err(|e| format!("STS at {endpoint} unreachable: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("STS at {endpoint}: {e}"))?;
        if status != 200 {
            let code = xml_tag(&text, "Code").unwrap_or_default();
            let msg = xml_tag(&text, "Message").unwrap_or_default();
            return Err(format!(
                "STS AssumeRoleWithWebIdentity for `{role}` refused ({status} {code}: {msg})"
            ));
        }
        let field = |t: &str| {
            xml_tag(&text, t).ok_or_else(|| format!("STS answered without `{t}` for role `{role}`"))
        };
        Ok(Some(Credentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: Secret::new(field("SecretAccessKey")?),
            session_token: Some(Secret::new(field("SessionToken")?)),
            expires: xml_tag(&text, "Expiration").and_then(|e| parse_time(&e)),
            source: "web identity",
        }))
    }

    /// The container credentials endpoint (ECS task roles, EKS Pod Identity).
    fn container(&self) -> Result<Option<Credentials>, String> {
        let url = match (
            self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(rel), _) => format!("http://169.254.170.2{rel}"),
            (None, Some(full)) => full,
            (None, None) => return Ok(None),
        };
        let auth = match self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Some(f) => Some(
                std::fs::read_to_string(&f)
                    .map_err(|e| format!("cannot read `{f}`: {e}"))?
                    .trim()
                    .to_string(),
            ),
            None => self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        };
        let mut req = self.agent.get(&url);
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let text = req
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .map_err(|e| format!("container credentials endpoint {url}: {e}"))?;
        metadata_credentials(&text, "container endpoint").map(Some)
    }

    /// IMDSv2, unless `AWS_EC2_METADATA_DISABLED` is `true`.
    fn instance_metadata(&self) -> Result<Option<Credentials>, String> {
        if self
            .var("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let base = self
            .var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or_else(|| "http://169.254.169.254".into());
        let base = base.trim_end_matches('/');
        let Ok(mut r) = self
            .agent
            .put(format!("{base}/latest/api/token"))
            .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
            .send_empty()
        else {
            // not on EC2
            return Ok(None);
        };
        if r.status().as_u16() != 200 {
            return Ok(None);
        }
        let token = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        let get = |path: &str| -> Result<String, String> {
            let mut r = self
                .agent
                .get(format!(
                    "{base}/latest/meta-data/iam/security-credentials/{path}"
                ))
                .header("X-aws-ec2-metadata-token", token.trim())
                .call()
                .map_err(|e| format!("instance metadata: {e}"))?;
            if r.status().as_u16() != 200 {
                return Err(format!(
                    "instance metadata: no instance profile ({})",
                    r.status()
                ));
            }
            r.body_mut().read_to_string().map_err(|e| e.to_string())
        };
        let role = get("")?;
        let role = role.lines().next().unwrap_or("").trim().to_string();
        metadata_credentials(&get(&role)?, "instance metadata").map(Some)
    }
}

/// `key = value` lines of INI section `[name]`.
fn ini_section(text: &str, name: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = s.trim() == name;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` (STS answers; no nesting needed).
fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(
        text[start..end]
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'"),
    )
}

fn parse_time(s: &str) -> Option<SystemTime> {
    let ms = sluice_formats::time::parse_rfc3339(s.trim())?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).ok()?))
}

/// Credentials in the metadata services' JSON.
fn metadata_credentials(text: &str, source: &'static str) -> Result<Credentials, String> {
    let v: Value = serde_json::from_str(text).map_err(|_| format!("{source}: not JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Credentials {
        access_key_id: s("AccessKeyId").ok_or_else(|| format!("{source}: no AccessKeyId"))?,
        secret_access_key: Secret::new(
            s("SecretAccessKey").ok_or_else(|| format!("{source}: no SecretAccessKey"))?,
        ),
        session_token: s("Token").map(Secret::new),
        expires: s("Expiration").and_then(|e| parse_time(&e)),
        source,
    })
}

/// AWS Secrets Manager.
pub struct AwsBackend {
    opts: AwsOptions,
    chain: CredentialChain,
    agent: ureq::Agent,
    creds: crate::rest::Cached<Credentials>,
}

impl std::fmt::Debug for AwsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsBackend")
            .field("region", &self.opts.region)
            .field("endpoint", &self.opts.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsBackend {
    /// A backend; credentials are looked up on first use.
    pub fn new(opts: AwsOptions, chain: CredentialChain) -> Self {
        Self {
            agent: crate::rest::plain_agent(),
            opts,
            chain,
            creds: Default::default(),
        }
    }

    /// Credentials good for the next request (`fresh`: read them again).
    fn credentials(&self, fresh: bool) -> Result<Credentials, Failure> {
        self.creds.get(fresh, || {
            let c = self.chain.resolve().map_err(Failure::Other)?;
            let expires = c.expires;
            Ok((c, expires))
        })
    }

    fn host(&self) -> &str {
        self.opts
            .endpoint
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&self.opts.endpoint)
            .split('/')
            .next()
            .unwrap_or("")
    }

    /// One `GetSecretValue`.
    fn call(&self, creds: &Credentials, secret_id: &str) -> Result<Option<Value>, Failure> {
        let body = json!({ "SecretId": secret_id }).to_string();
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let signed = sign(
            creds,
            &Request {
                method: "POST",
                host: self.host(),
                headers: &headers,
                payload: body.as_bytes(),
                region: &self.opts.region,
                service: "secretsmanager",
            },
            SystemTime::now(),
        );
        let mut req = self.agent.post(format!("{}/", self.opts.endpoint));
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        let unreachable =
            |e: ureq::Error| Failure::Unreachable(format!("{}: {e}", self.opts.endpoint));
        let mut resp = req.send(body.as_str()).map_err(unreachable)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .map_err(unreachable)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(Some(v));
        }
        // JSON (`__type`, `message`), or the XML some front ends answer
        // authentication failures with (`<Code>`, `<Message>`)
        let kind = v
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .or_else(|| xml_element(&text, "Code"))
            .unwrap_or_else(|| format!("HTTP {status}"));
        if kind == "ResourceNotFoundException" {
            return Ok(None);
        }
        let message = v
            .get("message")
            .or_else(|| v.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| xml_element(&text, "Message"))
            .unwrap_or_default();
        Err(Failure::Aws(status, kind, message))
    }

    fn read(&self, secret_id: &str) -> Result<Option<Value>, Failure> {
        let mut fresh = false;
        loop {
            let creds = self.credentials(fresh)?;
            let r = sluice_core::retry_blocking(
                &self.opts.retry,
                || self.call(&creds, secret_id),
                Failure::hint,
                |_| true,
            );
            match r {
                Err(f) if f.unauthenticated() && !fresh => fresh = true,
                other => return other,
            }
        }
    }
}

#[async_trait::async_trait]
impl SecretBackend for AwsBackend {
    fn describe(&self) -> String {
        format!(
            "aws_secrets_manager ({} at {}, secret `{}<name>`)",
            self.opts.region, self.opts.endpoint, self.opts.prefix
        )
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let id = format!("{}{name}", self.opts.prefix);
        let failed = |reason: String| SecretError::Backend {
            backend: format!("aws_secrets_manager ({})", self.opts.region),
            message: format!("reading `{id}`: {reason}"),
        };
        match self.read(&id) {
            Ok(None) => Ok(None),
            Ok(Some(v)) => match v.get("SecretString").and_then(Value::as_str) {
                Some(s) => Ok(Some(Secret::new(s.to_string()))),
                None => Err(failed(
                    "the secret has no text value (binary secrets are not supported)".into(),
                )),
            },
            Err(f) => Err(failed(f.reason())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
            expires: None,
            source: "test",
        }
    }

    #[test]
    fn signature_v4_matches_the_aws_test_suite() {
        // "get-vanilla" of AWS's Signature Version 4 test suite
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
        let req = Request {
            method: "GET",
            host: "example.amazonaws.com",
            headers: &[],
            payload: b"",
            region: "us-east-1",
            service: "service",
        };
        let h = sign(&creds(), &req, t);
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn shared_files_and_sts_answers_are_read() {
        let ini = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[profile ci]\naws_access_key_id=C\n";
        assert_eq!(
            ini_section(ini, "default")
                .get("aws_access_key_id")
                .unwrap(),
            "A"
        );
        assert_eq!(
            ini_section(ini, "profile ci")
                .get("aws_access_key_id")
                .unwrap(),
            "C"
        );
        let xml = "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>X</AccessKeyId><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>";
        assert_eq!(xml_tag(xml, "AccessKeyId").as_deref(), Some("X"));
        assert!(parse_time(&xml_tag(xml, "Expiration").unwrap()).is_some());
        assert_eq!(crate::rest::form(&[("a b", "x/y=z")]), "a%20b=x%2Fy%3Dz");
    }
}
