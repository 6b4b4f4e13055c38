//! The built-in backends and the registry that builds them by name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sluice_config::SecretBackendConfig;

use crate::{Secret, SecretBackend, SecretError};

/// Names of the built-in backends, in the order documented.
pub const BACKENDS: &[&str] = &[
    "env",
    "dotenv",
    "file",
    "vault",
    "aws_secrets_manager",
    "gcp_secret_manager",
    "azure_key_vault",
];

/// Builds a backend from its configuration: the one registry of backends.
pub fn build_backend(
    cfg: &SecretBackendConfig,
    base_dir: &std::path::Path,
) -> Result<Box<dyn SecretBackend>, SecretError> {
    let opt = |k: &str| cfg.options.get(k).cloned();
    match cfg.kind.value.as_str() {
        "env" => Ok(Box::new(EnvBackend::new(
            opt("prefix").unwrap_or_default(),
            std::env::vars().collect(),
        ))),
        "dotenv" => {
            let p = PathBuf::from(opt("path").unwrap_or_else(|| ".env".into()));
            Ok(Box::new(DotenvBackend::new(if p.is_absolute() {
                p
            } else {
                base_dir.join(p)
            })))
        }
        "file" => {
            let d = PathBuf::from(opt("dir").unwrap_or_else(|| "/run/secrets".into()));
            Ok(Box::new(FileBackend::new(if d.is_absolute() {
                d
            } else {
                base_dir.join(d)
            })))
        }
        #[cfg(feature = "vault")]
        "vault" => {
            let mut opts =
                crate::vault::VaultOptions::from_options(&cfg.options, &|k| std::env::var(k).ok())?;
            // relative to the configuration's directory (an absolute path
            // stays as it is)
            opts.ca_cert = opts.ca_cert.map(|c| base_dir.join(c));
            Ok(Box::new(crate::vault::VaultBackend::new(opts)?))
        }
        #[cfg(feature = "aws")]
        "aws_secrets_manager" => {
            let env = crate::process_env();
            let opts = crate::aws::AwsOptions::from_options(&cfg.options, &*env)?;
            let chain = crate::aws::CredentialChain::new(env, &opts.profile, &opts.region);
            Ok(Box::new(crate::aws::AwsBackend::new(opts, chain)))
        }
        #[cfg(feature = "gcp")]
        "gcp_secret_manager" => {
            let env = crate::process_env();
            let mut opts = crate::gcp::GcpOptions::from_options(&cfg.options, &*env)?;
            opts.ca_cert = opts.ca_cert.map(|c| base_dir.join(c));
            Ok(Box::new(crate::gcp::GcpBackend::new(opts, env)?))
        }
        #[cfg(feature = "azure")]
        "azure_key_vault" => {
            let mut opts = crate::azure::AzureOptions::from_options(&cfg.options)?;
            opts.ca_cert = opts.ca_cert.map(|c| base_dir.join(c));
            Ok(Box::new(crate::azure::AzureBackend::new(
                opts,
                crate::process_env(),
            )?))
        }
        #[cfg(not(feature = "vault"))]
        "vault" => Err(built_without("vault")),
        #[cfg(not(feature = "aws"))]
        "aws_secrets_manager" => Err(built_without("aws_secrets_manager")),
        #[cfg(not(feature = "gcp"))]
        "gcp_secret_manager" => Err(built_without("gcp_secret_manager")),
        #[cfg(not(feature = "azure"))]
        "azure_key_vault" => Err(built_without("azure_key_vault")),
        other => Err(SecretError::Config(format!(
            "unknown backend `{other}` (expected one of {})",
            BACKENDS.join(", ")
        ))),
    }
}

/// The error for a backend this build does not have.
#[allow(dead_code)] // used only when a backend's feature is off
fn built_without(kind: &str) -> SecretError {
    SecretError::Config(format!(
        "this sluice was built without the `{kind}` backend (a cargo feature of sluice-secrets; the default build has every backend)"
    ))
}

/// `db-password` → `DB_PASSWORD`: a secret's name as the env backend
/// spells its variable (after the prefix).
pub(crate) fn env_style(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Environment variables: secret `db_password` is `<PREFIX>DB_PASSWORD`
/// (upper-cased, `-`, `.` and `/` become `_`), or the exact name.
#[derive(Debug)]
pub struct EnvBackend {
    prefix: String,
    vars: BTreeMap<String, String>,
}

impl EnvBackend {
    /// A backend over a snapshot of variables.
    pub fn new(prefix: String, vars: BTreeMap<String, String>) -> Self {
        Self { prefix, vars }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, env_style(name))
    }
}

#[async_trait::async_trait]
impl SecretBackend for EnvBackend {
    fn describe(&self) -> String {
        format!("env (variable `{}<NAME>`)", self.prefix)
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let v = self.vars.get(&self.key(name)).or_else(|| {
            if self.prefix.is_empty() {
                self.vars.get(name)
            } else {
                None
            }
        });
        Ok(v.map(|v| Secret::new(v.clone())))
    }
}

/// A `.env` file of `name=value` lines (`#` comments, optional `export `,
/// optional single or double quotes). Read on each lookup; the resolver caches.
#[derive(Debug)]
pub struct DotenvBackend {
    path: PathBuf,
}

impl DotenvBackend {
    /// A backend over the file at `path` (a missing file has no secrets).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

/// Parses `.env` text; malformed lines are reported by number, never by content.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else {
            return Err(format!("line {} is not `name=value`", i + 1));
        };
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v
        };
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

#[async_trait::async_trait]
impl SecretBackend for DotenvBackend {
    fn describe(&self) -> String {
        format!("dotenv (`{}`)", self.path.display())
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SecretError::Backend {
                    backend: self.describe(),
                    message: e.to_string(),
                })
            }
        };
        let map = parse_dotenv(&text).map_err(|message| SecretError::Backend {
            backend: self.describe(),
            message,
        })?;
        Ok(map.get(name).map(|v| Secret::new(v.clone())))
    }
}

/// A directory with one file per secret, as Docker and Kubernetes mount them;
/// one trailing newline is removed.
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// A backend over `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait::async_trait]
impl SecretBackend for FileBackend {
    fn describe(&self) -> String {
        format!("file (`{}/<name>`)", self.dir.display())
    }

    async fn get(&self, name: &str) -> Result<Option<Secret<String>>, SecretError> {
        if name.contains("..") || name.starts_with('/') {
            return Err(SecretError::Config(format!(
                "secret name `{name}` may not leave the secrets directory"
            )));
        }
        match std::fs::read_to_string(self.dir.join(name)) {
            Ok(mut v) => {
                if v.ends_with('\n') {
                    v.pop();
                    if v.ends_with('\r') {
                        v.pop();
                    }
                }
                Ok(Some(Secret::new(v)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SecretError::Backend {
                backend: self.describe(),
                message: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_and_the_registry_know_the_same_backends() {
        // the config accepts exactly the backends this crate builds, with
        // each option it documents
        let config: Vec<&str> = sluice_config::decode::SECRET_BACKENDS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(config, BACKENDS);
        // a valid value for every option (one of its choices where it has
        // some; a CA file is read when built, so it is left out)
        let sample = |name: &str, opt: &str| -> Option<String> {
            let choices = sluice_config::decode::SECRET_OPTION_CHOICES
                .iter()
                .find(|(n, o, _)| *n == name && *o == opt);
            match (opt, choices) {
                ("ca_cert", _) => None,
                (_, Some((_, _, values))) => Some(values[0].to_string()),
                ("address" | "endpoint", None) => Some("http://127.0.0.1:8200".into()),
                _ => Some("x".into()),
            }
        };
        for (name, opts) in sluice_config::decode::SECRET_BACKENDS {
            let cfg = SecretBackendConfig {
                kind: sluice_config::Spanned::new((*name).into(), Default::default()),
                options: opts
                    .iter()
                    .filter_map(|o| Some((o.to_string(), sample(name, o)?)))
                    .collect(),
                pos: Default::default(),
            };
            assert!(
                build_backend(&cfg, std::path::Path::new("/tmp")).is_ok(),
                "`{name}` is accepted by the config but not built"
            );
        }
        let unknown = SecretBackendConfig {
            kind: sluice_config::Spanned::new("vaultt".into(), Default::default()),
            options: BTreeMap::new(),
            pos: Default::default(),
        };
        assert!(build_backend(&unknown, std::path::Path::new("/tmp")).is_err());
    }

    #[tokio::test]
    async fn env_backend_maps_names() {
        let vars = [("SLUICE_SECRET_DB_PASSWORD".to_string(), "pw".to_string())]
            .into_iter()
            .collect();
        let b = EnvBackend::new("SLUICE_SECRET_".into(), vars);
        assert_eq!(b.get("db_password").await.unwrap().unwrap().expose(), "pw");
        assert_eq!(b.get("db.password").await.unwrap().unwrap().expose(), "pw");
        assert!(b.get("other").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn dotenv_and_file_backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "# c\nexport a=1\nb=\"two words\"\n",
        )
        .unwrap();
        let d = DotenvBackend::new(dir.path().join(".env"));
        assert_eq!(d.get("a").await.unwrap().unwrap().expose(), "1");
        assert_eq!(d.get("b").await.unwrap().unwrap().expose(), "two words");
        assert!(d.get("c").await.unwrap().is_none());
        std::fs::write(dir.path().join("tok"), "s3cr3t\n").unwrap();
        let f = FileBackend::new(dir.path().to_path_buf());
        assert_eq!(f.get("tok").await.unwrap().unwrap().expose(), "s3cr3t");
        assert!(f.get("nope").await.unwrap().is_none());
        assert!(f.get("../etc/passwd").await.is_err());
    }

    #[test]
    fn dotenv_errors_never_echo_values() {
        let e = parse_dotenv("good=1\nsupersecretvalue\n").unwrap_err();
        assert!(!e.contains("supersecret"));
        assert!(e.contains("line 2"));
    }
}
