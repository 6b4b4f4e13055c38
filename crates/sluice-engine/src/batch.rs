//! Input batches. [`RawBatch`] itself is shared vocabulary
//! (`sluice_core::batch`): the generator fills it, sources produce it, the
//! engine consumes it. This module adds encoding decoded values into one.

pub use sluice_core::batch::RawBatch;
use sluice_core::RecordLayout;

use crate::error::EncodeError;
use crate::value::{encode_record, Value};

/// Encodes decoded records (values in layout order) into a batch of one
/// event type.
pub fn from_values(
    layouts: &[RecordLayout],
    event_type: u32,
    partition: u32,
    first_offset: i64,
    records: &[Vec<Value>],
) -> Result<RawBatch, EncodeError> {
    let layout = layouts
        .get(event_type as usize)
        .ok_or(EncodeError::UnknownEventType(event_type))?;
    let mut b = RawBatch::new(event_type, partition, first_offset);
    for r in records {
        encode_record(layout, r, &mut b.data)?;
        b.end_record();
    }
    Ok(b)
}
