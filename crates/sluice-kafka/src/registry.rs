//! A blocking client for a Confluent-compatible schema registry, subject
//! naming strategies, and the Confluent wire format (magic byte 0, 4-byte
//! big-endian schema id, Avro datum).
//!
//! The client talks HTTP to one base URL (e.g. Apicurio's
//! `http://127.0.0.1:8081/apis/ccompat/v7`), caches schemas by id and ids by
//! (subject, schema text), and classifies every failure: network problems
//! and 5xx answers are external and retryable, 4xx answers (409 incompatible,
//! 422 invalid schema, 404 unknown) are the user's and not retryable, with
//! the registry's own message. The wire helpers never panic on short input.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sluice_core::{ErrorDomain, RetryHint};

use sluice_schema::{can_read, Schema};

/// Content type of the Confluent REST API.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// First byte of every Confluent-framed message.
pub const MAGIC_BYTE: u8 = 0;

/// Length of the wire header (magic byte + schema id).
pub const WIRE_HEADER_LEN: usize = 5;

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or the connection failed.
    #[error("schema registry `{url}` unreachable: {message}")]
    Network {
        /// The URL called.
        url: String,
        /// Cause.
        message: String,
    },
    /// The registry answered with an error status.
    #[error("schema registry answered {status} for `{url}`: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Confluent `error_code`, when given.
        code: Option<i64>,
        /// The registry's message.
        message: String,
        /// The URL called.
        url: String,
    },
    /// The subject or schema does not exist.
    #[error("not found in schema registry: {0}")]
    NotFound(String),
    /// The new schema is not compatible with the subject's latest version.
    #[error("schema for subject `{subject}` is incompatible: {}", messages.join("; "))]
    Incompatible {
        /// Subject.
        subject: String,
        /// Reasons (from the registry and from sluice's own check).
        messages: Vec<String>,
    },
    /// The registry's answer was not what the API promises.
    #[error("unexpected answer from schema registry `{url}`: {message}")]
    BadResponse {
        /// The URL called.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// Bad client settings (unknown subject strategy, bad URL).
    #[error("bad schema registry settings: {0}")]
    Config(String),
}

impl sluice_core::Classify for RegistryError {
    /// Whose fault it is.
    fn domain(&self) -> ErrorDomain {
        match self {
            RegistryError::Network { .. } | RegistryError::BadResponse { .. } => {
                ErrorDomain::External
            }
            RegistryError::Status { status, .. } if *status >= 500 || *status == 429 => {
                ErrorDomain::External
            }
            _ => ErrorDomain::User,
        }
    }

    /// Whether retrying may help: network problems, 5xx and 429 only.
    fn retry_hint(&self) -> RetryHint {
        match self {
            RegistryError::Network { .. } => RetryHint::Retry,
            RegistryError::Status { status, .. } if *status >= 500 || *status == 429 => {
                RetryHint::Retry
            }
            _ => RetryHint::NoRetry,
        }
    }
}

/// How subjects are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// `<topic>-value`.
    #[default]
    TopicName,
    /// `<namespace>.<Record>`.
    RecordName,
    /// `<topic>-<namespace>.<Record>`.
    TopicRecordName,
}

impl SubjectStrategy {
    /// Names accepted by [`SubjectStrategy::parse`].
    pub const NAMES: &'static [&'static str] = &["topic_name", "record_name", "topic_record_name"];

    /// Parses `topic_name`, `record_name` or `topic_record_name`.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "topic_name" => Ok(Self::TopicName),
            "record_name" => Ok(Self::RecordName),
            "topic_record_name" => Ok(Self::TopicRecordName),
            _ => Err(RegistryError::Config(format!(
                "unknown subject strategy `{s}` (expected one of {})",
                Self::NAMES.join(", ")
            ))),
        }
    }

    /// The subject of the value schema `record_full_name` (`namespace.Record`)
    /// written to `topic`.
    pub fn subject(self, topic: &str, record_full_name: &str) -> String {
        match self {
            Self::TopicName => format!("{topic}-value"),
            Self::RecordName => record_full_name.to_string(),
            Self::TopicRecordName => format!("{topic}-{record_full_name}"),
        }
    }
}

/// Resolved client settings (secrets already filled in).
#[derive(Clone, Default)]
pub struct RegistrySettings {
    /// Base URL, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`.
    pub url: String,
    /// Subject naming.
    pub strategy: SubjectStrategy,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// Per-request timeout (default 10 s).
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("url", &self.url)
            .field("strategy", &self.strategy)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A schema stored under a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    /// Subject.
    pub subject: String,
    /// Version within the subject.
    pub version: i64,
    /// Global schema id.
    pub id: u32,
    /// Schema text.
    pub schema: String,
}

/// Outcome of a compatibility check against a subject's latest version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompatCheck {
    /// True when the registry accepts the schema (or the subject is new) and
    /// sluice's own backward check passes.
    pub compatible: bool,
    /// False when the subject had no version yet.
    pub subject_exists: bool,
    /// Latest version the schema was checked against.
    pub latest_version: Option<i64>,
    /// Reasons for incompatibility (registry messages first, then sluice's).
    pub messages: Vec<String>,
}

/// Blocking schema-registry client; cheap to clone (shares its caches).
#[derive(Clone)]
pub struct RegistryClient {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
    strategy: SubjectStrategy,
    by_id: Arc<Mutex<HashMap<u32, Arc<str>>>>,
    ids: Arc<Mutex<HashMap<(String, String), u32>>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .field("strategy", &self.strategy)
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // a poisoned cache is still a valid cache: every insert is a single call
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RegistryClient {
    /// A client for `settings`.
    pub fn new(settings: &RegistrySettings) -> Result<Self, RegistryError> {
        let base = settings.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(RegistryError::Config(format!(
                "url `{base}` must start with http:// or https://"
            )));
        }
        let timeout = settings.timeout.unwrap_or(Duration::from_secs(10));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .build()
            .into();
        let auth = match (&settings.username, &settings.password) {
            (Some(u), p) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{u}:{}", p.as_deref().unwrap_or("")))
            )),
            (None, Some(_)) => {
                return Err(RegistryError::Config(
                    "password given without a username".into(),
                ))
            }
            (None, None) => None,
        };
        Ok(Self {
            agent,
            base,
            auth,
            strategy: settings.strategy,
            by_id: Arc::default(),
            ids: Arc::default(),
        })
    }

    /// The subject naming strategy.
    pub fn strategy(&self) -> SubjectStrategy {
        self.strategy
    }

    /// The subject of a record schema written to `topic`.
    pub fn subject_for(&self, topic: &str, record_full_name: &str) -> String {
        self.strategy.subject(topic, record_full_name)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), RegistryError> {
        let url = format!("{}{path}", self.base);
        let net = |e: ureq::Error| RegistryError::Network {
            url: url.clone(),
            message: e.to_string(),
        };
        let mut resp = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url).header("Accept", CONTENT_TYPE);
                if let Some(a) = &self.auth {
                    r = r.header("Authorization", a);
                }
                r.call().map_err(net)?
            }
            ("DELETE", _) => {
                let mut r = self.agent.delete(&url).header("Accept", CONTENT_TYPE);
                if let Some(a) = &self.auth {
                    r = r.header("Authorization", a);
                }
                r.call().map_err(net)?
            }
            (m, b) => {
                let mut r = if m == "PUT" {
                    self.agent.put(&url)
                } else {
                    self.agent.post(&url)
                }
                .header("Accept", CONTENT_TYPE)
                .header("Content-Type", CONTENT_TYPE);
                if let Some(a) = &self.auth {
                    r = r.header("Authorization", a);
                }
                let text = b.map(Value::to_string).unwrap_or_else(|| "{}".into());
                r.send(text.as_str()).map_err(net)?
            }
        };
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| RegistryError::Network {
                url: url.clone(),
                message: format!("reading the answer: {e}"),
            })?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if status >= 400 => Value::String(text.clone()),
                Err(e) => {
                    return Err(RegistryError::BadResponse {
                        url,
                        message: format!(
                            "not JSON ({e}): `{}`",
                            text.chars().take(200).collect::<String>()
                        ),
                    })
                }
            }
        };
        if status >= 400 {
            let code = value.get("error_code").and_then(Value::as_i64);
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| match &value {
                    Value::String(s) => s.chars().take(500).collect(),
                    v => v.to_string(),
                });
            if status == 404 {
                return Err(RegistryError::NotFound(format!("{path}: {message}")));
            }
            return Err(RegistryError::Status {
                status,
                code,
                message,
                url,
            });
        }
        Ok((status, value))
    }

    fn bad(&self, path: &str, message: &str) -> RegistryError {
        RegistryError::BadResponse {
            url: format!("{}{path}", self.base),
            message: message.to_string(),
        }
    }

    /// Registers `schema` (Avro JSON text) under `subject` and returns its
    /// global id. Registering the same schema again returns the same id
    /// (cached locally after the first call).
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let key = (subject.to_string(), schema.to_string());
        if let Some(id) = lock(&self.ids).get(&key) {
            return Ok(*id);
        }
        let path = format!("/subjects/{}/versions", enc(subject));
        let (_, v) = self.call(
            "POST",
            &path,
            Some(&json!({"schema": schema, "schemaType": "AVRO"})),
        )?;
        let id = v
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| self.bad(&path, &format!("no schema id in `{v}`")))?;
        lock(&self.ids).insert(key, id);
        lock(&self.by_id).insert(id, Arc::from(schema));
        Ok(id)
    }

    /// The schema text with global id `id` (cached).
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<str>, RegistryError> {
        if let Some(s) = lock(&self.by_id).get(&id) {
            return Ok(s.clone());
        }
        let path = format!("/schemas/ids/{id}");
        let (_, v) = self.call("GET", &path, None)?;
        let s: Arc<str> = v
            .get("schema")
            .and_then(Value::as_str)
            .map(Arc::from)
            .ok_or_else(|| self.bad(&path, &format!("no schema in `{v}`")))?;
        lock(&self.by_id).insert(id, s.clone());
        Ok(s)
    }

    /// Version `version` (a number or `latest`) of `subject`.
    pub fn subject_version(
        &self,
        subject: &str,
        version: &str,
    ) -> Result<SubjectVersion, RegistryError> {
        let path = format!("/subjects/{}/versions/{}", enc(subject), enc(version));
        let (_, v) = self.call("GET", &path, None)?;
        let id = v
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| self.bad(&path, &format!("no schema id in `{v}`")))?;
        let schema = v
            .get("schema")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad(&path, &format!("no schema in `{v}`")))?
            .to_string();
        let version = v.get("version").and_then(Value::as_i64).unwrap_or(0);
        lock(&self.by_id).insert(id, Arc::from(schema.as_str()));
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            schema,
        })
    }

    /// The latest version of `subject`, or `None` when it has none.
    pub fn latest(&self, subject: &str) -> Result<Option<SubjectVersion>, RegistryError> {
        match self.subject_version(subject, "latest") {
            Ok(v) => Ok(Some(v)),
            Err(RegistryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every subject.
    pub fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let (_, v) = self.call("GET", "/subjects", None)?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sets the compatibility level of `subject` (`BACKWARD`, `FORWARD`,
    /// `FULL`, `NONE`, and their `_TRANSITIVE` forms).
    pub fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), RegistryError> {
        let path = format!("/config/{}", enc(subject));
        self.call("PUT", &path, Some(&json!({"compatibility": level})))?;
        Ok(())
    }

    /// Asks the registry whether `schema` may be registered under `subject`
    /// (against its latest version, with the subject's compatibility level),
    /// and also checks locally that the new schema can read data written with
    /// the latest one (backward), so a registry configured with `NONE` still
    /// catches a breaking change. A subject without versions is compatible.
    pub fn check_compatible(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<CompatCheck, RegistryError> {
        let Some(latest) = self.latest(subject)? else {
            return Ok(CompatCheck {
                compatible: true,
                subject_exists: false,
                latest_version: None,
                messages: Vec::new(),
            });
        };
        let path = format!(
            "/compatibility/subjects/{}/versions/latest?verbose=true",
            enc(subject)
        );
        let (_, v) = match self.call(
            "POST",
            &path,
            Some(&json!({"schema": schema, "schemaType": "AVRO"})),
        ) {
            Ok(r) => r,
            // some registries answer 422/409 for an incompatible or invalid schema
            Err(RegistryError::Status {
                status: 409 | 422,
                message,
                ..
            }) => {
                return Ok(CompatCheck {
                    compatible: false,
                    subject_exists: true,
                    latest_version: Some(latest.version),
                    messages: vec![message],
                })
            }
            Err(e) => return Err(e),
        };
        let registry_ok = v
            .get("is_compatible")
            .and_then(Value::as_bool)
            .ok_or_else(|| self.bad(&path, &format!("no `is_compatible` in `{v}`")))?;
        let mut messages: Vec<String> = if registry_ok {
            Vec::new()
        } else {
            v.get("messages")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        if !registry_ok && messages.is_empty() {
            messages.push(format!(
                "the registry refuses it against version {}",
                latest.version
            ));
        }
        let local_ok = match (Schema::parse_str(schema), Schema::parse_str(&latest.schema)) {
            (Ok(new), Ok(old)) => match can_read(&new, &old) {
                Ok(()) => true,
                Err(list) => {
                    messages.extend(list.iter().map(|i| {
                        format!(
                            "cannot read version {}: {}: {}",
                            latest.version,
                            i.path,
                            i.reason(sluice_schema::Direction::Backward)
                        )
                    }));
                    false
                }
            },
            (Err(e), _) => {
                messages.push(format!("the new schema is invalid: {e}"));
                false
            }
            // the registry's own schema may use features sluice does not model
            (_, Err(_)) => true,
        };
        Ok(CompatCheck {
            compatible: registry_ok && local_ok,
            subject_exists: true,
            latest_version: Some(latest.version),
            messages,
        })
    }

    /// `sluice schema register --check`: registers `schema` under `subject`
    /// only if it is compatible with the latest version; otherwise fails with
    /// [`RegistryError::Incompatible`] listing the reasons.
    pub fn register_checked(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let check = self.check_compatible(subject, schema)?;
        if !check.compatible {
            return Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                messages: check.messages,
            });
        }
        match self.register(subject, schema) {
            Err(RegistryError::Status {
                status: 409,
                message,
                ..
            }) => Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                messages: vec![message],
            }),
            r => r,
        }
    }

    /// Deletes `subject` (soft, then hard when `permanent`); for tests and
    /// clean-up. Returns the deleted versions.
    pub fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i64>, RegistryError> {
        let path = format!("/subjects/{}", enc(subject));
        let (_, v) = self.call("DELETE", &path, None)?;
        if permanent {
            // best effort: a registry without hard delete answers 4xx, fine here
            let _ignored: Result<_, _> =
                self.call("DELETE", &format!("{path}?permanent=true"), None);
        }
        lock(&self.ids).retain(|(s, _), _| s != subject);
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default())
    }
}

/// Why a framed message could not be split.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the 5-byte header.
    #[error("message of {0} bytes is shorter than the 5-byte schema-registry header")]
    TooShort(usize),
    /// First byte is not the magic byte 0.
    #[error("bad magic byte `{0:#04x}` (expected 0x00)")]
    BadMagic(u8),
}

impl sluice_core::Classify for WireError {
    /// A message that is not Confluent-framed is bad input.
    fn domain(&self) -> ErrorDomain {
        ErrorDomain::User
    }
}

/// Appends the Confluent framing of `datum` (written with schema `id`) to `out`.
pub fn encode_wire(id: u32, datum: &[u8], out: &mut Vec<u8>) {
    out.reserve(WIRE_HEADER_LEN + datum.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(datum);
}

/// Splits a Confluent-framed message into schema id and datum.
pub fn decode_wire(message: &[u8]) -> Result<(u32, &[u8]), WireError> {
    let Some((&magic, rest)) = message.split_first() else {
        return Err(WireError::TooShort(0));
    };
    if magic != MAGIC_BYTE {
        return Err(WireError::BadMagic(magic));
    }
    match rest.split_first_chunk::<4>() {
        Some((id, datum)) => Ok((u32::from_be_bytes(*id), datum)),
        None => Err(WireError::TooShort(message.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::Classify;

    #[test]
    fn wire_round_trip_and_short_input() {
        let mut out = Vec::new();
        encode_wire(0x0102_0304, b"abc", &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4, b'a', b'b', b'c']);
        assert_eq!(decode_wire(&out), Ok((0x0102_0304, &b"abc"[..])));
        assert_eq!(decode_wire(&out[..5]), Ok((0x0102_0304, &b""[..])));
        for n in 0..5 {
            assert!(matches!(
                decode_wire(&out[..n]),
                Err(WireError::TooShort(_))
            ));
        }
        assert_eq!(decode_wire(b"\x07abcd"), Err(WireError::BadMagic(7)));
    }

    #[test]
    fn subject_strategies() {
        let r = "sluice.shop.PageView";
        assert_eq!(
            SubjectStrategy::TopicName.subject("shop.page_view", r),
            "shop.page_view-value"
        );
        assert_eq!(SubjectStrategy::RecordName.subject("shop.page_view", r), r);
        assert_eq!(
            SubjectStrategy::TopicRecordName.subject("shop.page_view", r),
            "shop.page_view-sluice.shop.PageView"
        );
        assert!(SubjectStrategy::parse("topic").is_err());
        assert_eq!(
            SubjectStrategy::parse("record_name").unwrap(),
            SubjectStrategy::RecordName
        );
    }

    #[test]
    fn errors_are_classified() {
        let s = |status| RegistryError::Status {
            status,
            code: None,
            message: String::new(),
            url: String::new(),
        };
        assert_eq!(s(409).domain(), ErrorDomain::User);
        assert_eq!(s(422).retry_hint(), RetryHint::NoRetry);
        assert_eq!(s(503).retry_hint(), RetryHint::Retry);
        let n = RegistryError::Network {
            url: String::new(),
            message: String::new(),
        };
        assert_eq!(
            (n.domain(), n.retry_hint()),
            (ErrorDomain::External, RetryHint::Retry)
        );
    }
}
