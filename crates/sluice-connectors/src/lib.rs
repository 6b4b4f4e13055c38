//! Sources and sinks of sluice, each behind a small trait, each with its
//! factory beside it ([`factory`]); the runtime's `topology` module lists
//! the factories in its registries and builds a run from them.
//!
//! Sources turn external input (files, the in-process generator; Kafka's
//! source is in `sluice-kafka`)
//! into the engine's [`RawBatch`](sluice_engine::RawBatch)es plus rejected
//! records; sinks store result rows and dead letters. Neither knows about the
//! runtime that drives them.

pub mod checkpoint;
pub mod dead_letter;
pub mod error;
pub mod factory;
pub mod sink;
pub mod source;
pub mod store;
pub mod table;

pub use checkpoint::{Checkpoint, CheckpointStore, Committed, CommittedHook};
pub use dead_letter::{DeadLetterKind, DeadLetterRecord};
pub use error::ConnectorError;
pub use factory::{
    BuildError, BuiltSource, CommitHook, Context, DeadLetterHook, RunSpec, SinkFactory,
    SourceFactory, SourceHooks,
};
pub use sink::Sink;
pub use source::{CommitPosition, Source, SourceOutput, SourceStatus};
pub use store::{QueryCell, QueryResult, Store};
pub use table::{Cell, Column, ResultRow, SqlType, TableSpec};
