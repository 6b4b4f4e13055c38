//! Deterministic synthetic events for sluice.
//!
//! A domain's `generator:` hints (see the README section "Generator hints") are compiled into a
//! [`plan::Plan`]: an entity population with stable attributes, sessions
//! walking a journey state machine with think times, and one value
//! generator per field (weighted choices, distributions, templates, money,
//! per-entity / per-session / per-event scope, null rates). A [`Generator`]
//! runs the plan in simulated time (as fast as possible) or real time
//! (paced), optionally injecting out-of-order, late, duplicate and malformed
//! records in exactly counted numbers, and encodes straight to Avro datums,
//! Avro object container files or JSON lines.
//!
//! * Seed-style API: [`Generator::generate_event`],
//!   [`Generator::generate_session`], [`Generator::generate_events`].
//! * Engine feed: [`Generator::fill_batches`] / [`Generator::fill_mixed`]
//!   fill reusable [`EncodedBatch`]es (contiguous datums + end offsets).
//! * Files and stdout: [`Generator::write_to`].
//! * Config checks: [`validate_hints`].
//!
//! Same seed + configuration + options ⇒ byte-identical output. The library
//! performs no I/O of its own except writing to the writer it is given, and
//! reads the clock only in [`TimeMode::RealTime`].

pub mod dist;
pub mod encode;
pub mod error;
pub mod event;
pub mod faults;
pub mod generator;
pub mod heap;
pub mod hints;
pub mod plan;
pub mod rng;
pub mod sim;
pub mod template;
pub mod time;

pub use error::GeneratorError;
pub use event::{Event, Value};
pub use faults::{FaultCounts, FaultOptions, MalformedKind};
pub use generator::{
    measure_avro_throughput, BatchSet, EncodedBatch, Format, Generator, GeneratorOptions, Limit,
    Summary, TimeMode,
};
pub use hints::validate_hints;

/// The seed `sluice generate` and `sluice run` use unless told otherwise
/// (one default, so both produce the same events for the same flags).
pub const DEFAULT_SEED: u64 = 42;
