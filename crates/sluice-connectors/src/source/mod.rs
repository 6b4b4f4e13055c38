//! Sources: where events come from. One small trait; each source's factory
//! ([`SourceFactory`](crate::SourceFactory)) lives in its file.

pub mod file;
pub mod generator;
pub mod json_parallel;

use sluice_engine::RawBatch;

use crate::{ConnectorError, DeadLetterRecord};

/// Where to resume a partition: everything before `next_offset` is done.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommitPosition {
    /// Topic (or another source's stream name).
    pub topic: String,
    /// Partition within the topic.
    pub partition: i32,
    /// The first offset not yet covered.
    pub next_offset: i64,
}

/// What one call to [`Source::next_batch`] produced.
#[derive(Clone, Debug, Default)]
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
    /// For sources with committable positions (Kafka): the position
    /// covering everything in this output.
    pub position: Option<CommitPosition>,
    /// Every partition id this source currently reads (empty: unknown). The
    /// runtime declares them to the engine so a partition not yet read holds
    /// the watermark back.
    pub partitions: Vec<u32>,
    /// The source's own partition number of each entry of `partitions`
    /// (Kafka: the partition within its topic).
    pub partition_numbers: Vec<i32>,
    /// For sources whose records are messages (Kafka): each record's key,
    /// timestamp and original value, so a dead letter the engine produces
    /// later (late, future outlier) is the original message.
    pub envelopes: Envelopes,
}

/// Message envelopes of a batch's records, parallel to the batch (empty when
/// the source has none). Kept flat: no allocation per record.
#[derive(Clone, Debug, Default)]
pub struct Envelopes {
    /// Per record: the message timestamp (epoch ms; `i64::MIN`: none).
    pub timestamps: Vec<i64>,
    /// Every record's key, back to back.
    pub keys: Vec<u8>,
    /// Per record: end of its key in `keys`, or `None` without a key.
    pub key_ends: Vec<Option<u32>>,
    /// Per record: the value bytes before the datum (the wire header).
    pub prefixes: Vec<[u8; 5]>,
    /// `(record index, original value)` of records whose datum was
    /// rewritten (resolved from an older writer schema).
    pub originals: Vec<(u32, Vec<u8>)>,
}

/// One record's original message, rebuilt from [`Envelopes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Timestamp (epoch ms).
    pub timestamp: Option<i64>,
    /// The value exactly as it was read.
    pub value: Vec<u8>,
}

impl Envelopes {
    /// Empties everything, keeping buffers.
    pub fn clear(&mut self) {
        self.timestamps.clear();
        self.keys.clear();
        self.key_ends.clear();
        self.prefixes.clear();
        self.originals.clear();
    }

    /// Records the envelope of the record just added to the batch.
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        timestamp: Option<i64>,
        prefix: [u8; 5],
        original: Option<&[u8]>,
    ) {
        self.timestamps.push(timestamp.unwrap_or(i64::MIN));
        let end = key.map(|k| {
            self.keys.extend_from_slice(k);
            u32::try_from(self.keys.len()).unwrap_or(u32::MAX)
        });
        self.key_ends.push(end);
        if let Some(o) = original {
            let i = u32::try_from(self.prefixes.len()).unwrap_or(u32::MAX);
            self.originals.push((i, o.to_vec()));
        }
        self.prefixes.push(prefix);
    }

    /// The original message of record `i`, whose datum (as the engine saw
    /// it) is `datum`; `None` when the source keeps no envelopes.
    pub fn get(&self, i: usize, datum: &[u8]) -> Option<Envelope> {
        let prefix = self.prefixes.get(i)?;
        let key = match self.key_ends.get(i).copied().flatten() {
            Some(end) => {
                let start = self.key_ends[..i]
                    .iter()
                    .rev()
                    .find_map(|e| *e)
                    .unwrap_or(0) as usize;
                self.keys.get(start..end as usize).map(<[u8]>::to_vec)
            }
            None => None,
        };
        let value = match self.originals.iter().find(|(j, _)| *j as usize == i) {
            Some((_, o)) => o.clone(),
            None => {
                let mut v = Vec::with_capacity(5 + datum.len());
                v.extend_from_slice(prefix);
                v.extend_from_slice(datum);
                v
            }
        };
        Some(Envelope {
            key,
            timestamp: self.timestamps.get(i).copied().filter(|&t| t != i64::MIN),
            value,
        })
    }
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
        self.envelopes.clear();
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

/// Shared fixture of the source tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use sluice_core::RecordLayout;

    /// Event type `e` with only its `event_time` (one long per datum).
    pub(crate) fn time_only() -> Vec<RecordLayout> {
        vec![RecordLayout::time_only("e")]
    }
}
