//! sluice schemas: Avro schemas generated from event layouts, and checks that
//! a schema change keeps old and new data readable.
//!
//! - [`avro`]: one deterministic Avro record schema per event type, from
//!   [`sluice_core::RecordLayout`], and `.avsc` files for a set of layouts.
//! - [`model`]: a parsed Avro schema (any schema, not only generated ones).
//! - [`compat`]: Avro schema resolution rules as reader/writer checks,
//!   old/new compatibility verdicts with reasons, and directory diffs.
//!
//! Only [`write_schemas`] and [`diff_dirs`] touch the file system; nothing
//! talks to a network (a schema-registry client is a separate concern).

pub mod avro;
pub mod compat;
mod error;
pub mod model;

pub use avro::{check_layout, record_schema, record_schema_json, schema_file_name, write_schemas};
pub use compat::{
    can_read, compare, diff_dirs, CompatReport, Compatibility, DiffReport, Direction,
    Incompatibility, IncompatibilityKind, SchemaDiff, SchemaFile,
};
pub use error::SchemaError;
pub use model::Schema;
