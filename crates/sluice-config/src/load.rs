//! Finding and reading the files: `platform.yaml`, the chosen environment's
//! overlay and the domains. Parsing and file reading happen here; everything
//! after is pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sluice_core::{layout::record_name, FieldLayout, FieldRole, RecordLayout};

use crate::diag::{one_of, suggest, Diagnostics, Pos, Reporter, SourceMap};
use crate::model::{DomainConfig, PlatformConfig};
use crate::{decode, validate, yaml};

/// What to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The directory holding `platform.yaml`, `environments/` and `domains/`.
    pub config_dir: PathBuf,
    /// Environment name (`dev`, `staging`, `prod`, ...).
    pub env: String,
    /// Domains to load; `None` loads every domain.
    pub domains: Option<Vec<String>>,
    /// Variables for `${env:...}` (normally the process environment).
    pub vars: BTreeMap<String, String>,
}

impl LoadOptions {
    /// Options for `config_dir` and `env`, all domains, the process environment.
    pub fn new(config_dir: impl Into<PathBuf>, env: impl Into<String>) -> Self {
        Self {
            config_dir: config_dir.into(),
            env: env.into(),
            domains: None,
            vars: std::env::vars().collect(),
        }
    }
}

/// A loaded and validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Files it came from.
    pub sources: SourceMap,
    /// Environment name.
    pub env: String,
    /// Platform settings after the environment overlay.
    pub platform: PlatformConfig,
    /// The requested domains.
    pub domains: Vec<DomainConfig>,
}

impl Config {
    /// A domain by name.
    pub fn domain(&self, name: &str) -> Option<&DomainConfig> {
        self.domains.iter().find(|d| d.domain.value == name)
    }
}

impl DomainConfig {
    /// The record layout of every event type, in declaration order.
    pub fn layouts(&self) -> Vec<RecordLayout> {
        self.event_types
            .iter()
            .map(|et| {
                let mut fields = RecordLayout::envelope(&self.entity.primary_key.value);
                for (role, list) in [
                    (FieldRole::Attribute, &et.attributes),
                    (FieldRole::Dimension, &et.dimensions),
                ] {
                    fields.extend(list.iter().map(|f| FieldLayout {
                        name: f.name.value.clone(),
                        ty: f.ty.clone(),
                        optional: f.optional,
                        role,
                        doc: f.description.clone(),
                    }));
                }
                RecordLayout {
                    namespace: format!("sluice.{}", self.domain.value),
                    domain: self.domain.value.clone(),
                    event_type: et.name.value.clone(),
                    entity_key: self.entity.primary_key.value.clone(),
                    money: self.money_encoding,
                    fields,
                }
            })
            .collect()
    }

    /// The Avro record name of an event type.
    pub fn record_name(&self, event_type: &str) -> String {
        record_name(event_type)
    }
}

/// Names of the YAML files (without extension) in `dir`, sorted.
pub fn list_yaml(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let ext = p.extension()?.to_str()?;
            (ext == "yaml" || ext == "yml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

fn find_yaml(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|e| dir.join(format!("{stem}.{e}")))
        .find(|p| p.is_file())
}

/// Loads, decodes and validates. Every problem in every file is returned at once.
pub fn load(opts: &LoadOptions) -> Result<Config, Diagnostics> {
    load_with(opts, &|_, _| {})
}

/// Like [`load`], with an extra check run on every decoded domain whose
/// problems are reported together with the rest (the generator's hints).
pub fn load_with(
    opts: &LoadOptions,
    extra: &dyn Fn(&DomainConfig, &mut Reporter<'_>),
) -> Result<Config, Diagnostics> {
    let mut sources = SourceMap::default();
    let dir = &opts.config_dir;
    // Register every file first so the reporter can borrow the source map.
    let platform_path = find_yaml(dir, "platform");
    let env_dir = dir.join("environments");
    let env_path = find_yaml(&env_dir, &opts.env);
    let dom_dir = dir.join("domains");
    let available = list_yaml(&dom_dir);
    let wanted: Vec<String> = match &opts.domains {
        Some(d) => d.clone(),
        None => available.clone(),
    };
    let mut texts: Vec<(usize, Result<String, String>)> = Vec::new();
    let mut register = |p: &Path, sources: &mut SourceMap| {
        let idx = sources.add(p);
        texts.push((idx, std::fs::read_to_string(p).map_err(|e| e.to_string())));
        idx
    };
    let platform_idx = platform_path.as_ref().map(|p| register(p, &mut sources));
    let env_idx = env_path.as_ref().map(|p| register(p, &mut sources));
    let mut domain_idx = Vec::new();
    let mut missing_domains = Vec::new();
    for name in &wanted {
        match find_yaml(&dom_dir, name) {
            Some(p) => domain_idx.push(register(&p, &mut sources)),
            None => missing_domains.push(name.clone()),
        }
    }
    let dir_idx = sources.add(dir);

    let mut rep = Reporter::new(&sources);
    let top = |idx| Pos {
        source: idx,
        line: 1,
        col: 1,
    };
    if !dir.is_dir() {
        rep.error(
            top(dir_idx),
            "",
            format!(
                "config directory `{}` does not exist; pass `--config-dir`",
                dir.display()
            ),
        );
        return Err(rep.finish());
    }
    if env_path.is_none() {
        let envs = list_yaml(&env_dir);
        let names: Vec<&str> = envs.iter().map(String::as_str).collect();
        let d = rep.error(
            top(dir_idx),
            "",
            format!(
                "unknown environment `{}`: no `environments/{}.yaml`",
                opts.env, opts.env
            ),
        );
        d.suggestion = suggest(&opts.env, names.iter().copied());
        d.expected = Some(one_of(&names));
    }
    for m in &missing_domains {
        let names: Vec<&str> = available.iter().map(String::as_str).collect();
        let d = rep.error(
            top(dir_idx),
            "",
            format!("unknown domain `{m}`: no `domains/{m}.yaml`"),
        );
        d.suggestion = suggest(m, names.iter().copied());
        d.expected = Some(one_of(&names));
    }
    if wanted.is_empty() {
        rep.error(
            top(dir_idx),
            "",
            format!("no domains found in `{}`", dom_dir.display()),
        );
    }

    let parse = |idx: usize, rep: &mut Reporter<'_>| -> Option<yaml::YNode> {
        let (_, text) = texts.iter().find(|(i, _)| *i == idx)?;
        match text {
            Ok(t) => {
                let mut node = yaml::parse(t, idx, rep)?;
                yaml::interpolate_env(&mut node, &opts.vars, "", rep);
                Some(node)
            }
            Err(e) => {
                rep.error(top(idx), "", format!("cannot read file: {e}"));
                None
            }
        }
    };

    let mut merged = platform_idx.and_then(|i| parse(i, &mut rep));
    if let Some(over) = env_idx.and_then(|i| parse(i, &mut rep)) {
        match &mut merged {
            Some(base) => yaml::merge(base, over),
            None => merged = Some(over),
        }
    }
    let empty = yaml::YNode {
        pos: top(dir_idx),
        value: yaml::YValue::Map(Vec::new()),
    };
    let platform = decode::platform(merged.as_ref().unwrap_or(&empty), &mut rep);

    let mut domains = Vec::new();
    for idx in domain_idx {
        if let Some(node) = parse(idx, &mut rep) {
            if let Some(mut d) = decode::domain(&node, &mut rep) {
                validate::domain(&mut d, &mut rep);
                extra(&d, &mut rep);
                domains.push(d);
            }
        }
    }
    if let Some(p) = &platform {
        validate::topics(p, &domains, &mut rep);
    }
    let mut seen = BTreeMap::new();
    for d in &domains {
        if let Some(prev) = seen.insert(d.domain.value.clone(), d.domain.pos) {
            rep.error(
                d.domain.pos,
                "domain",
                format!(
                    "domain `{}` is also defined in {}",
                    d.domain.value,
                    sources.path(prev.source).display()
                ),
            );
        }
    }
    let diags = rep.finish();
    match platform {
        Some(platform) if diags.is_empty() => Ok(Config {
            sources,
            env: opts.env.clone(),
            platform,
            domains,
        }),
        _ => Err(diags),
    }
}
