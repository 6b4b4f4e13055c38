//! Secret backends and late resolution of `${secret:name}` references.
//!
//! A [`SecretBackend`] is async and fallible so remote stores (HashiCorp
//! Vault: [`vault`]; AWS Secrets Manager: [`aws`]; Google Secret Manager:
//! [`gcp`]; Azure Key Vault: [`azure`]) fit the same trait;
//! [`Resolver`] tries the backends in the order `platform.yaml` lists them
//! and caches what it found. `${secret:name#key}` picks one key of a secret
//! holding a JSON object. Values only ever live in [`Secret`], which prints
//! as `[redacted]`.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
mod backends;
#[cfg(feature = "gcp")]
pub mod gcp;
mod resolve;
#[cfg(any(feature = "vault", feature = "aws", feature = "gcp", feature = "azure"))]
#[cfg_attr(
    not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code)
)]
mod rest;
#[cfg(feature = "vault")]
pub mod vault;

pub use backends::{build_backend, DotenvBackend, EnvBackend, FileBackend, BACKENDS};
pub use resolve::{resolve_config, Refresh, ResolvedSecrets, Resolver};
pub use sluice_core::Secret;

/// The environment variables a backend reads (the process's own in
/// production, see [`process_env`]; tests pass their own).
pub type Env = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process's environment variables.
pub fn process_env() -> Box<Env> {
    Box::new(|k: &str| std::env::var(k).ok())
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No backend has the secret.
    #[error("secret `{name}` not found (tried: {})", tried.join(", "))]
    Missing {
        /// Secret name.
        name: String,
        /// Backends tried, in order, with where they looked.
        tried: Vec<String>,
    },
    /// A backend failed (unreadable file, unreachable store).
    #[error("secret backend `{backend}` failed: {message}")]
    Backend {
        /// Backend description.
        backend: String,
        /// What went wrong (never contains a secret value).
        message: String,
    },
    /// Unknown backend type or bad options.
    #[error("bad secret backend configuration: {0}")]
    Config(String),
    /// `name#key` names a key the secret does not have.
    #[error("secret `{name}` has no usable key `{key}`: {reason}")]
    Key {
        /// Secret name.
        name: String,
        /// The key asked for.
        key: String,
        /// Why (never contains a value).
        reason: String,
    },
}

impl sluice_core::Classify for SecretError {
    /// Classification for the runtime.
    fn domain(&self) -> sluice_core::ErrorDomain {
        match self {
            SecretError::Missing { .. } | SecretError::Config(_) | SecretError::Key { .. } => {
                sluice_core::ErrorDomain::User
            }
            SecretError::Backend { .. } => sluice_core::ErrorDomain::External,
        }
    }
}

/// A place secrets come from.
#[async_trait::async_trait]
pub trait SecretBackend: Send + Sync + std::fmt::Debug {
    /// A short description for messages, e.g. `env(prefix SLUICE_SECRET_)`.
    fn describe(&self) -> String;

    /// Looks a secret up: `Ok(None)` when this backend does not have it.
    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError>;
}
