//! Benchmark fixtures and the `sluice bench` commands' measurements, in one
//! place so every crate below stays free of bench-only public APIs; the CLI
//! parses arguments, calls one function here and prints its [`Report`].
//! Every figure comes with a baseline measured in the same run.
//!
//! - [`engine`]: a deterministic e-commerce fixture and the three standard
//!   engine cases, each measured against the decode-only loop over the same
//!   bytes (criterion: `benches/engine.rs`).
//! - [`in_memory`]: `sluice bench engine` and `sluice bench metrics`.
//! - [`file`]: `sluice bench file` (JSON lines replay against DuckDB).
//! - [`kafka`]: `sluice bench kafka` (produce, then consume and aggregate,
//!   against a bare librdkafka consumer).
//! - [`e2e`]: `sluice bench e2e` (Kafka → pipeline → ClickHouse against the
//!   same pipeline into a sink that drops everything).
//! - [`spark`]: `sluice bench spark` (the native runner against the Spark
//!   runner on the same events, aggregations and sink).

pub mod e2e;
pub mod engine;
pub mod file;
pub mod in_memory;
pub mod kafka;
pub mod report;
pub mod spark;

pub use report::{BenchError, Measured, Report};
