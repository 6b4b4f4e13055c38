//! What every bench command returns and how it fails: a [`Report`] (one
//! JSON object and the same figures as text), [`Measured`] (which plan was
//! measured), and [`BenchError`].

use serde_json::{json, Value};
use sluice_core::{Classify, ErrorDomain};

/// A bench's figures: `json` for `--json`, `text` for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// One JSON object.
    pub json: Value,
    /// The same figures as lines of text.
    pub text: String,
}

/// What a bench measures: a fixed plan (the default) or a domain's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measured {
    /// Domain whose events are generated.
    pub domain: String,
    /// One line for humans: which plan.
    pub plan: String,
    /// The aggregations' names.
    pub aggregations: Vec<String>,
}

impl Measured {
    /// A fixed plan on ecommerce events.
    pub fn fixed(plan: &str, aggregations: &[&str]) -> Self {
        Self {
            domain: "ecommerce".into(),
            plan: format!("fixed plan: {plan}"),
            aggregations: aggregations.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A domain's configured aggregations.
    pub fn domain(d: &sluice_config::DomainConfig) -> Self {
        let aggregations: Vec<String> = d
            .aggregations
            .iter()
            .map(|a| a.name.value.clone())
            .collect();
        Self {
            domain: d.domain.value.clone(),
            plan: format!(
                "domain `{}`: its {} configured aggregation{} ({})",
                d.domain.value,
                aggregations.len(),
                if aggregations.len() == 1 { "" } else { "s" },
                aggregations.join(", ")
            ),
            aggregations,
        }
    }

    /// The `measured` object of every bench's JSON.
    pub fn json(&self) -> Value {
        json!({ "domain": self.domain, "plan": self.plan, "aggregations": self.aggregations })
    }
}

/// Why a bench could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The request cannot be measured (unknown domain, invalid plan).
    #[error("{0}")]
    Usage(String),
    /// A measurement's own check failed (nothing read, results disagree).
    #[error("{0}")]
    Check(String),
    /// The pipeline failed.
    #[error(transparent)]
    Runtime(#[from] sluice_runtime::RuntimeError),
    /// A source or sink failed.
    #[error(transparent)]
    Connector(#[from] sluice_connectors::ConnectorError),
    /// The generator failed.
    #[error(transparent)]
    Generator(#[from] sluice_generator::GeneratorError),
    /// The engine refused a plan.
    #[error(transparent)]
    Plan(#[from] sluice_engine::PlanError),
    /// Kafka or the registry failed.
    #[error(transparent)]
    Kafka(#[from] sluice_kafka::KafkaError),
    /// The DuckDB baseline failed.
    #[error("duckdb: {0}")]
    DuckDb(#[from] duckdb::Error),
    /// A file could not be written or read.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Classify for BenchError {
    fn domain(&self) -> ErrorDomain {
        match self {
            BenchError::Usage(_) => ErrorDomain::User,
            BenchError::Check(_) => ErrorDomain::Internal,
            BenchError::Runtime(e) => e.domain(),
            BenchError::Connector(e) => e.domain(),
            BenchError::Generator(e) => e.domain(),
            BenchError::Plan(e) => e.domain(),
            BenchError::Kafka(e) => e.domain(),
            BenchError::DuckDb(_) | BenchError::Io(_) => ErrorDomain::External,
        }
    }
}

/// `Err(BenchError::Check(what))` unless `ok`.
pub(crate) fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), BenchError> {
    if ok {
        Ok(())
    } else {
        Err(BenchError::Check(what()))
    }
}

/// `x` rounded to three decimals (ratios in JSON).
pub(crate) fn ratio(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
