//! Every library error type answers the same two questions through
//! `sluice_core::Classify`, and a run's error passes its inner error's
//! answer on, so retry and exit decisions never depend on which crate failed.

use sluice_connectors::ConnectorError;
use sluice_core::{Classify, ErrorDomain, RetryHint};
use sluice_runtime::RuntimeError;

fn classified<E: Classify + std::error::Error>() {}

#[test]
fn every_library_error_type_is_classified() {
    classified::<sluice_core::IdentError>();
    classified::<sluice_core::DurationParseError>();
    classified::<sluice_config::Diagnostics>();
    classified::<sluice_secrets::SecretError>();
    classified::<sluice_schema::SchemaError>();
    classified::<sluice_generator::GeneratorError>();
    classified::<sluice_engine::PlanError>();
    classified::<sluice_engine::DecodeError>();
    classified::<sluice_engine::EncodeError>();
    classified::<ConnectorError>();
    classified::<sluice_kafka::KafkaError>();
    classified::<sluice_kafka::registry::RegistryError>();
    classified::<sluice_kafka::registry::WireError>();
    classified::<RuntimeError>();
}

#[test]
fn a_run_error_passes_its_inner_class_on() {
    let down = RuntimeError::Sink(ConnectorError::Database("connection refused".into()));
    assert_eq!(down.domain(), ErrorDomain::External);
    assert_eq!(down.retry_hint(), RetryHint::Retry);
    let bad = RuntimeError::Source(ConnectorError::Config {
        connector: "file",
        message: "no such file".into(),
    });
    assert_eq!(bad.domain(), ErrorDomain::User);
    assert_eq!(bad.retry_hint(), RetryHint::NoRetry);
    let bug = RuntimeError::Panic("engine");
    assert_eq!(bug.domain(), ErrorDomain::Internal);
    assert_eq!(bug.retry_hint(), RetryHint::NoRetry);
    assert_eq!(RuntimeError::Usage("x".into()).domain(), ErrorDomain::User);
}
