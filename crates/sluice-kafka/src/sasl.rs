//! SASL credentials that come from secret backends, rotated without a
//! restart.
//!
//! librdkafka reads `sasl.username` / `sasl.password` when a client is
//! created and uses them for every later (re)authentication. When a broker
//! refuses them (the secret was rotated: the broker restarted with the new
//! password, or re-authentication under `connections.max.reauth.ms`), the
//! client's error callback reports `Authentication`. [`SaslRotation`], held
//! by each long-lived client's context, then reads the secrets again
//! (backends' cache bypassed) and, when they changed, hands them to the
//! live client (`rd_kafka_sasl_set_credentials`): its next connection
//! attempt authenticates with the new values. Consumer group membership,
//! assignment and buffered records are kept.

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::Client;
use rdkafka::error::KafkaError as RdError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use rdkafka_sys::RDKafka;

/// Username and password as the secret backends give them now.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    /// `sasl.username`.
    pub username: String,
    /// `sasl.password`.
    pub password: String,
}

impl std::fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaslCredentials(<redacted>)")
    }
}

/// Reads the SASL credentials again from the secret backends.
pub type SaslRefresh = Arc<dyn Fn() -> Result<SaslCredentials, String> + Send + Sync>;

/// How often, at most, a refused client reads the secrets again (librdkafka
/// reconnects with back-off; a backend is not asked on every attempt).
const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// Per-client state: what to re-read, the live client, the values in use.
pub struct SaslRotation {
    refresh: Option<SaslRefresh>,
    client: AtomicPtr<RDKafka>,
    state: Mutex<RotationState>,
}

struct RotationState {
    current: Option<SaslCredentials>,
    last_try: Option<Instant>,
}

impl std::fmt::Debug for SaslRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslRotation")
            .field("refresh", &self.refresh.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for SaslRotation {
    fn default() -> Self {
        Self::new(None, None)
    }
}

impl SaslRotation {
    /// Rotation for a client created with `current` credentials; `refresh`
    /// `None`: they are fixed (not from secrets), refusals are only logged.
    pub fn new(refresh: Option<SaslRefresh>, current: Option<SaslCredentials>) -> Self {
        Self {
            refresh,
            client: AtomicPtr::new(std::ptr::null_mut()),
            state: Mutex::new(RotationState {
                current,
                last_try: None,
            }),
        }
    }

    /// Remembers the client this context belongs to (call right after
    /// creating it).
    pub fn bind<C: ClientContext>(&self, client: &Client<C>) {
        self.client.store(client.native_ptr(), Ordering::Release);
    }

    /// The error callback of a client's context: logs like librdkafka's
    /// default, and on an authentication failure rotates the credentials.
    pub fn on_error(&self, error: &RdError, reason: &str) {
        tracing::error!("librdkafka: {error}: {reason}");
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication) {
            self.rotate();
        }
    }

    /// Reads the credentials again and gives changed ones to the client.
    /// Returns whether the client got new ones.
    pub fn rotate(&self) -> bool {
        let Some(refresh) = &self.refresh else {
            return false;
        };
        let client = self.client.load(Ordering::Acquire);
        if client.is_null() {
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.last_try.is_some_and(|t| t.elapsed() < MIN_INTERVAL) {
            return false;
        }
        state.last_try = Some(Instant::now());
        let fresh = match refresh() {
            Ok(f) => f,
            Err(why) => {
                tracing::warn!("kafka: reading the SASL credentials again failed: {why}");
                return false;
            }
        };
        if state.current.as_ref() == Some(&fresh) {
            tracing::warn!(
                "kafka: the broker refused the SASL credentials and the secret backends still give the same ones"
            );
            return false;
        }
        let (Ok(user), Ok(password)) = (
            CString::new(fresh.username.as_str()),
            CString::new(fresh.password.as_str()),
        ) else {
            tracing::warn!("kafka: the new SASL credentials hold a NUL byte; not used");
            return false;
        };
        if let Err(why) = set_credentials(client, &user, &password) {
            tracing::warn!("kafka: the client did not take the new SASL credentials: {why}");
            return false;
        }
        state.current = Some(fresh);
        tracing::info!("Kafka SASL credentials changed in the secret backends; using the new ones");
        true
    }
}

/// `rd_kafka_sasl_set_credentials`, which rust-rdkafka does not wrap.
#[allow(unsafe_code)]
fn set_credentials(client: *mut RDKafka, user: &CString, password: &CString) -> Result<(), String> {
    // SAFETY: `client` is the live client that owns the context calling
    // this (stored by `bind` right after creation; the context is dropped
    // with its client, so the pointer never outlives it); librdkafka
    // copies both strings under its own lock and documents the call as
    // thread-safe. A returned error object is owned by us and destroyed.
    unsafe {
        let err =
            rdkafka_sys::rd_kafka_sasl_set_credentials(client, user.as_ptr(), password.as_ptr());
        if err.is_null() {
            return Ok(());
        }
        let msg = std::ffi::CStr::from_ptr(rdkafka_sys::rd_kafka_error_string(err))
            .to_string_lossy()
            .into_owned();
        rdkafka_sys::rd_kafka_error_destroy(err);
        Err(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        let c = SaslCredentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn without_a_client_or_refresh_nothing_rotates() {
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        let r = SaslRotation::new(
            Some(Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Err("unused".into())
            })),
            None,
        );
        // not bound to a client: the backends are not asked
        assert!(!r.rotate());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(!SaslRotation::default().rotate());
    }
}
