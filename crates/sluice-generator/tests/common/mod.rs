//! Helpers shared by the integration tests: loading the shipped config.
#![allow(dead_code)]

use std::path::PathBuf;

use sluice_config::{Config, DomainConfig, LoadOptions};
use sluice_generator::{Generator, GeneratorOptions, Limit};

/// `<repo>/config`.
pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// The shipped configuration for an environment, with an empty environment
/// (so `${env:...}` defaults apply).
pub fn load(env: &str) -> Config {
    let mut opts = LoadOptions::new(config_dir(), env);
    opts.vars = Default::default();
    match sluice_config::load(&opts) {
        Ok(c) => c,
        Err(d) => panic!("shipped config does not load:\n{d}"),
    }
}

/// One shipped domain (dev environment).
pub fn domain(name: &str) -> DomainConfig {
    load("dev")
        .domain(name)
        .unwrap_or_else(|| panic!("no domain {name}"))
        .clone()
}

/// The four shipped domains.
pub const DOMAINS: [&str; 4] = ["apm", "ecommerce", "fintech", "iot"];

/// A generator over `n` events with a seed.
pub fn generator(domain_name: &str, seed: u64, n: u64) -> Generator {
    Generator::new(
        &domain(domain_name),
        GeneratorOptions {
            seed,
            limit: Limit {
                events: Some(n),
                duration_ms: None,
            },
            ..GeneratorOptions::default()
        },
    )
    .unwrap()
}
