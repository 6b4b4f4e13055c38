//! Avro object container files, written by hand per the Avro specification:
//! magic `Obj\x01`, a metadata map (`avro.schema`, `avro.codec` = `null`), a
//! 16-byte sync marker chosen by the caller (the generator derives it from
//! its seed, so files are reproducible),
//! then blocks of `count`, `byte size`, datums, sync marker.
//!
//! When one file holds several event types its schema is the union of their
//! record schemas and each datum starts with its union branch index.

use std::io::Write;

use crate::avro::{write_bytes as put_str, write_long as put_long};

/// Bytes of datums buffered before a block is written.
pub const BLOCK_BYTES: usize = 256 * 1024;

/// The OCF magic.
pub const MAGIC: &[u8; 4] = b"Obj\x01";

/// The file header for a schema text.
pub fn header(schema_json: &str, sync: &[u8; 16]) -> Vec<u8> {
    let mut h = Vec::with_capacity(schema_json.len() + 64);
    h.extend_from_slice(MAGIC);
    put_long(&mut h, 2);
    put_str(&mut h, b"avro.schema");
    put_str(&mut h, schema_json.as_bytes());
    put_str(&mut h, b"avro.codec");
    put_str(&mut h, b"null");
    put_long(&mut h, 0);
    h.extend_from_slice(sync);
    h
}

/// Writes datums into blocks.
#[derive(Debug)]
pub struct OcfWriter {
    sync: [u8; 16],
    block: Vec<u8>,
    count: u64,
    frame: Vec<u8>,
}

impl OcfWriter {
    /// A writer with the file's sync marker; call [`OcfWriter::start`] first.
    pub fn new(sync: [u8; 16]) -> Self {
        Self {
            sync,
            block: Vec::with_capacity(BLOCK_BYTES + 4096),
            count: 0,
            frame: Vec::with_capacity(32),
        }
    }

    /// Writes the header.
    pub fn start<W: Write + ?Sized>(
        &mut self,
        out: &mut W,
        schema_json: &str,
    ) -> std::io::Result<()> {
        out.write_all(&header(schema_json, &self.sync))
    }

    /// The buffer the next datum is appended to; call [`OcfWriter::push_done`] after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }

    /// Counts one datum appended to [`OcfWriter::buffer`]; writes a block when full.
    pub fn push_done<W: Write + ?Sized>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.count += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Writes the pending block, if any.
    pub fn flush<W: Write + ?Sized>(&mut self, out: &mut W) -> std::io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        self.frame.clear();
        put_long(&mut self.frame, self.count as i64);
        put_long(&mut self.frame, self.block.len() as i64);
        out.write_all(&self.frame)?;
        out.write_all(&self.block)?;
        out.write_all(&self.sync)?;
        self.block.clear();
        self.count = 0;
        Ok(())
    }
}
