//! Sources: where events come from. One small trait and a registry by name.

pub mod avro;
pub mod file;
pub mod generator;
pub mod json_fast;
pub mod json_parallel;
pub mod rfc3339;

use sluice_core::RecordLayout;
use sluice_engine::RawBatch;

use crate::{ConnectorError, DeadLetterRecord};

/// Names of the built-in sources.
pub const SOURCES: &[&str] = &["generator", "file"];

/// What one call to [`Source::next_batch`] produced.
#[derive(Debug, Default)]
pub struct SourceOutput {
    /// Records for the engine (Avro datums in the layouts' field order).
    pub batch: RawBatch,
    /// Records the source itself could not turn into Avro, with reasons.
    pub rejects: Vec<DeadLetterRecord>,
    /// Source offset of each record in `batch` (the batch's own
    /// `first_offset` is 0, so the engine reports record indexes).
    pub offsets: Vec<i64>,
    /// Source description for each record's dead letters (e.g. the file).
    pub origin: String,
    /// For sources with committable positions (Kafka): `(topic, partition,
    /// next offset)` covering everything in this output.
    pub position: Option<(String, i32, i64)>,
    /// Every partition id this source currently reads (empty: unknown). The
    /// runtime declares them to the engine so a partition not yet read holds
    /// the watermark back.
    pub partitions: Vec<u32>,
    /// The source's own partition number of each entry of `partitions`
    /// (Kafka: the partition within its topic).
    pub partition_numbers: Vec<i32>,
}

impl SourceOutput {
    /// Empties everything, keeping buffers.
    pub fn clear(&mut self) {
        self.batch.clear();
        self.batch.first_offset = 0;
        self.rejects.clear();
        self.offsets.clear();
        self.position = None;
        self.partitions.clear();
        self.partition_numbers.clear();
    }

    /// Records the source offset of the record just pushed to `batch`.
    pub fn batch_offsets_push(&mut self, offset: i64) {
        self.offsets.push(offset);
    }

    /// Source offset of the engine's record index `i`.
    pub fn offset_of(&self, i: i64) -> i64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.offsets.get(i).copied())
            .unwrap_or(i)
    }

    /// Number of records read (good and rejected).
    pub fn len(&self) -> usize {
        self.batch.len() + self.rejects.len()
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// More to come or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// Call again.
    More,
    /// Bounded input is exhausted.
    End,
}

/// A source of events for one domain.
pub trait Source: Send {
    /// Short description for logs and dead letters.
    fn describe(&self) -> String;

    /// Reads up to `max_records` records into `out` (cleared first).
    fn next_batch(
        &mut self,
        max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError>;

    /// A handle through which the consumer's thread can do the source's
    /// background work (e.g. parse) while it would otherwise wait for input.
    /// Taken before the source moves to its own thread.
    fn assist(&self) -> Option<std::sync::Arc<dyn Assist>> {
        None
    }
}

/// See [`Source::assist`].
pub trait Assist: Send + Sync {
    /// Does one bounded unit of the source's work on the calling thread;
    /// false when there was none (the caller should wait instead). Never
    /// blocks.
    fn assist(&self) -> bool;
}

/// Index of an event type by name.
pub fn event_type_index(layouts: &[RecordLayout], name: &str) -> Option<u32> {
    layouts
        .iter()
        .position(|l| l.event_type == name)
        .and_then(|i| u32::try_from(i).ok())
}

/// Reads a bounded source to its end and keeps its batches (rejects are
/// dropped): for benchmarks and tests that replay the same input.
pub fn read_all(
    source: &mut dyn Source,
    batch_size: usize,
) -> Result<Vec<RawBatch>, ConnectorError> {
    let mut batches = Vec::new();
    loop {
        let mut out = SourceOutput::default();
        let status = source.next_batch(batch_size, &mut out)?;
        if !out.batch.is_empty() {
            batches.push(out.batch);
        }
        if status == SourceStatus::End {
            return Ok(batches);
        }
    }
}
