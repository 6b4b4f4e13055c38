//! Input batches: contiguous record bytes plus end offsets, so filling one
//! allocates nothing per record and can reuse its buffers. Filled by the
//! generator and the sources, consumed by the engine.

/// A batch of plain Avro binary datums (one record each; no container header,
/// no schema-registry prefix) from one source partition.
///
/// Record `i` is `data[ends[i-1]..ends[i]]` (with `ends[-1] = 0`) and has
/// offset `first_offset + i`. `partition` identifies a source partition for
/// watermarking and must be unique across all topics feeding the engine (the
/// runtime assigns it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawBatch {
    /// Event type id of every record (index into the plan's layouts), unless
    /// `event_types` is non-empty.
    pub event_type: u32,
    /// Per-record event type ids, for sources mixing event types in one
    /// partition; empty when all records are `event_type`.
    pub event_types: Vec<u32>,
    /// Source partition id.
    pub partition: u32,
    /// Offset of the first record.
    pub first_offset: i64,
    /// Concatenated record bytes.
    pub data: Vec<u8>,
    /// End offset (exclusive) of each record in `data`.
    pub ends: Vec<u32>,
    /// Event time (ms) of each record when the producer knows it without
    /// decoding (the generator fills it); empty otherwise. The engine reads
    /// event time from the records themselves.
    pub event_times: Vec<i64>,
}

impl RawBatch {
    /// An empty batch of one event type.
    pub fn new(event_type: u32, partition: u32, first_offset: i64) -> Self {
        Self {
            event_type,
            partition,
            first_offset,
            ..Self::default()
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.event_types.clear();
        self.event_times.clear();
    }

    /// Closes the record whose bytes were appended to `data` since the last
    /// call. Returns false (and closes nothing) past 4 GiB of data.
    pub fn end_record(&mut self) -> bool {
        match u32::try_from(self.data.len()) {
            Ok(end) => {
                self.ends.push(end);
                true
            }
            Err(_) => false,
        }
    }

    /// Appends one record's bytes.
    pub fn push(&mut self, record: &[u8]) -> bool {
        self.data.extend_from_slice(record);
        self.end_record()
    }

    /// Appends one record of another event type; switches the batch to
    /// per-record event types.
    pub fn push_typed(&mut self, event_type: u32, record: &[u8]) -> bool {
        if self.event_types.is_empty() {
            self.event_types.resize(self.ends.len(), self.event_type);
        }
        self.event_types.push(event_type);
        self.push(record)
    }

    /// Event type id of record `i`.
    pub fn event_type_of(&self, i: usize) -> u32 {
        if self.event_types.is_empty() {
            self.event_type
        } else {
            self.event_types.get(i).copied().unwrap_or(u32::MAX)
        }
    }

    /// Bytes of record `i`, or `None` when the offsets are inconsistent.
    pub fn record(&self, i: usize) -> Option<&[u8]> {
        let start = if i == 0 {
            0
        } else {
            *self.ends.get(i - 1)? as usize
        };
        let end = *self.ends.get(i)? as usize;
        self.data.get(start..end)
    }
}
