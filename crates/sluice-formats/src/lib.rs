//! Byte formats of sluice, below the engine and the generator: pure
//! functions over bytes, no I/O beyond a caller's `Write`.
//!
//! - [`avro`]: the one Avro varint/zig-zag, length-prefixed bytes and
//!   decimal codec.
//! - [`ocf`]: Avro object container files, read and written.
//! - [`json_projector`]: the projecting JSON lines scanner that writes only
//!   the fields the aggregations need straight into Avro records.
//! - [`time`]: the one civil-time module (RFC 3339 parsing, UTC formatting).
//! - [`bytes`]: byte-slice helpers shared with the engine's key tables.

pub mod avro;
pub mod bytes;
pub mod json_projector;
pub mod ocf;
pub mod time;
