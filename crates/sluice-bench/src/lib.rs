//! Benchmark fixtures and measurements, in one place so every crate below
//! stays free of bench-only public APIs:
//!
//! - [`engine`]: a deterministic e-commerce fixture and the three standard
//!   engine cases, each measured against the decode-only loop over the same
//!   bytes (`sluice bench engine`, `benches/engine.rs`).
//! - [`kafka`]: produce generated events through the registry and broker,
//!   then consume and aggregate them (`sluice bench kafka`).

pub mod engine;
pub mod kafka;
