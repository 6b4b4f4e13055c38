//! sluice schemas: Avro schemas generated from event layouts, and checks that
//! a schema change keeps old and new data readable.
//!
//! - [`avro`]: one deterministic Avro record schema per event type, from
//!   [`sluice_core::RecordLayout`], and `.avsc` files for a set of layouts.
//! - [`model`]: a parsed Avro schema (any schema, not only generated ones).
//! - [`compat`]: Avro schema resolution rules as reader/writer checks,
//!   old/new compatibility verdicts with reasons, and directory diffs.
//!
//! ```
//! use sluice_schema::{compare, Compatibility, Schema};
//!
//! let old = Schema::parse_str(r#"{"type": "record", "name": "PageView",
//!     "fields": [{"name": "url", "type": "string"}]}"#)?;
//! let new = Schema::parse_str(r#"{"type": "record", "name": "PageView",
//!     "fields": [{"name": "url", "type": "string"},
//!                {"name": "coupon", "type": "string"}]}"#)?;
//! let report = compare(&old, &new);
//! assert_eq!(report.compatibility, Compatibility::Forward);
//! assert_eq!(
//!     report.to_string(),
//!     "forward compatible (not backward: PageView.coupon: field `coupon` added without a default)"
//! );
//! # Ok::<(), sluice_schema::SchemaError>(())
//! ```
//!
//! Only [`write_schemas`] and [`diff_dirs`] touch the file system; nothing
//! talks to a network (the schema-registry client is in `sluice-kafka`).

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compatibility_meet_and_display() {
        use Compatibility::*;
        assert_eq!(Full.meet(Backward), Backward);
        assert_eq!(Backward.meet(Forward), None);
        assert_eq!(Forward.meet(Full), Forward);
        assert_eq!(Backward.to_string(), "backward");
    }

    #[test]
    fn names_resolve_against_the_enclosing_namespace() {
        let s = Schema::parse(&json!({
            "type": "record", "name": "Outer", "namespace": "a.b",
            "fields": [
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["x"]}},
                {"name": "again", "type": "E"},
                {"name": "full", "type": "a.b.E"}
            ]
        }))
        .unwrap();
        assert_eq!(s.full_name(), Some("a.b.Outer"));
        assert!(s.named("a.b.E").is_some());
    }

    #[test]
    fn money_doc_without_field_doc_is_capitalised() {
        let mut layout = sluice_core::RecordLayout {
            namespace: "sluice.shop".into(),
            domain: "shop".into(),
            event_type: "sale".into(),
            entity_key: "user_id".into(),
            money: sluice_core::MoneyEncoding::Long,
            fields: sluice_core::RecordLayout::envelope("user_id"),
        };
        layout.fields.push(sluice_core::FieldLayout {
            name: "total".into(),
            ty: sluice_core::FieldType::Money {
                currency: "GBP".into(),
                scale: 2,
            },
            optional: false,
            role: sluice_core::FieldRole::Attribute,
            doc: None,
        });
        let schema = record_schema(&layout);
        assert_eq!(
            schema["fields"][5]["doc"],
            "Money in `GBP`, minor units, scale 2"
        );
    }
}
