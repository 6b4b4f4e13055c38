//! One module per subcommand.

pub mod args;
pub mod bench;
pub mod clickhouse;
pub mod config;
pub mod dlq;
pub mod generate;
pub mod monitor;
pub mod produce;
pub mod query;
pub mod run;
pub mod schema;
pub mod spark;
pub mod topics;
pub mod ui;
pub mod validate;

use sluice_config::{Config, LoadOptions};

use crate::{Cli, Exit};

/// Loads and validates the configuration, printing every diagnostic and
/// returning exit code 2 when there are any.
pub fn load(cli: &Cli, domains: &[String]) -> anyhow::Result<Config> {
    let mut opts = LoadOptions::new(&cli.config_dir, &cli.env);
    if !domains.is_empty() {
        opts.domains = Some(domains.to_vec());
    }
    match sluice_config::load_with(&opts, &sluice_generator::validate_hints) {
        Ok(cfg) => Ok(cfg),
        Err(diags) => {
            eprintln!("{diags}");
            eprintln!(
                "{} problem{} found",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            Err(Exit(2).into())
        }
    }
}

/// A small runtime for the async parts (secret backends).
pub fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

/// Resolves every secret the configuration references; prints and fails
/// with exit code 2 when some are missing.
pub fn check_secrets(cli: &Cli, cfg: &Config) -> anyhow::Result<sluice_secrets::ResolvedSecrets> {
    let _ = cli;
    match resolve_secrets(cfg)? {
        Ok(r) => Ok(r),
        Err(diags) => {
            eprintln!("{diags}");
            Err(Exit(2).into())
        }
    }
}

/// Resolves every secret the configuration references, with the refresh
/// hook set (a connection refused for its credentials reads them again);
/// `Ok(Err(..))` holds the problems, each at the line of its reference.
pub fn resolve_secrets(
    cfg: &Config,
) -> anyhow::Result<Result<sluice_secrets::ResolvedSecrets, sluice_config::Diagnostics>> {
    let base = std::env::current_dir()?;
    let resolver = match sluice_secrets::Resolver::from_config(cfg, &base) {
        Ok(r) => r,
        Err(diags) => return Ok(Err(diags)),
    };
    Ok(
        match block_on(sluice_secrets::resolve_config(cfg, &resolver))? {
            Ok(mut r) => {
                let (cfg, resolver) = (
                    std::sync::Arc::new(cfg.clone()),
                    std::sync::Arc::new(resolver),
                );
                r.refresh = Some(std::sync::Arc::new(move || {
                    let again = async {
                        resolver.forget().await;
                        sluice_secrets::resolve_config(&cfg, &resolver).await
                    };
                    block_on(again)
                        .map_err(|e| e.to_string())?
                        .map_err(|d| d.to_string())
                }));
                Ok(r)
            }
            Err(diags) => Err(diags),
        },
    )
}

pub use sluice_connectors::source::json_parallel::parser_threads;

/// Kafka settings with the configuration's secrets resolved and, when
/// given, `--topic-prefix` applied to every topic and the consumer group.
pub fn kafka_settings(
    cli: &Cli,
    cfg: &Config,
    topic_prefix: Option<&str>,
) -> anyhow::Result<sluice_kafka::KafkaSettings> {
    let secrets = check_secrets(cli, cfg)?;
    Ok(sluice_kafka::KafkaSettings::resolve(
        &cfg.platform.kafka,
        &secrets,
        topic_prefix,
    )?)
}

/// Secrets resolved when the library's topology asks for them: each
/// problem is printed, and [`library`] turns the failure into exit 2.
pub fn secrets_on_demand<'a>(
    cli: &'a Cli,
    cfg: &'a Config,
) -> impl Fn() -> Result<sluice_secrets::ResolvedSecrets, sluice_connectors::BuildError> + 'a {
    move || {
        check_secrets(cli, cfg).map_err(|e| sluice_connectors::BuildError::Secrets(e.to_string()))
    }
}

/// A library result for the CLI: secrets problems were printed already
/// (exit 2), anything else is an error to show.
pub fn library<T>(r: Result<T, sluice_runtime::RuntimeError>) -> anyhow::Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(sluice_runtime::RuntimeError::Secrets(_)) => Err(Exit(2).into()),
        Err(e) => Err(e.into()),
    }
}
