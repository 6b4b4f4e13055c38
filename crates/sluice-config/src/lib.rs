//! sluice configuration: YAML with source positions → typed model → pure
//! validation.
//!
//! `config/platform.yaml` is deep-merged with `config/environments/<env>.yaml`;
//! each `config/domains/<domain>.yaml` describes one domain. `${env:NAME}` and
//! `${env:NAME:-default}` are expanded while loading; `${secret:name}` stays a
//! reference ([`model::Setting`]) that `sluice-secrets` resolves late, so
//! secret values never enter this crate. Every problem is reported at once,
//! each with file, line, column, key path, what was expected and, for near
//! misses, a suggestion.

pub mod decode;
pub mod diag;
pub mod load;
pub mod model;
pub mod read;
pub mod rules;
pub mod show;
pub mod validate;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Pos, Reporter, SourceMap};
pub use load::{load, load_with, Config, LoadOptions};
pub use model::*;
