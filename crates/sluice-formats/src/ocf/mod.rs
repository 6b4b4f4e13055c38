//! Avro object container files: [`read`] (headers, blocks, damaged-file
//! recovery, several event types in one file) and [`write`] (what
//! `sluice generate --format avro-ocf` writes).

pub mod read;
pub mod write;
