//! Avro schemas generated from event layouts.
//!
//! One Avro record per event type, fields in [`RecordLayout`] order (the wire
//! order the data generator writes and the engine decodes). Output is
//! byte-deterministic: the same layout always gives the same bytes, so schema
//! files can be committed and diffed. Generation is pure; only
//! [`write_schemas`] touches the file system.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sluice_core::layout::record_name;
use sluice_core::{
    check_identifier, FieldLayout, FieldRole, FieldType, MoneyEncoding, RecordLayout,
};

use crate::SchemaError;

/// Precision of money written as Avro `decimal`: 18 digits fit in a signed
/// 64-bit integer, so decimal and `long` money carry the same range.
pub const DECIMAL_PRECISION: u32 = 18;

/// File extension of schema files, without the dot.
pub const SCHEMA_EXTENSION: &str = "avsc";

/// Record attribute: the domain the event type belongs to.
pub const ATTR_DOMAIN: &str = "sluice.domain";
/// Record attribute: the event type name (snake_case, as in the domain).
pub const ATTR_EVENT_TYPE: &str = "sluice.event_type";
/// Record attribute: the name of the entity key field.
pub const ATTR_ENTITY_KEY: &str = "sluice.entity_key";
/// Field attribute: `envelope`, `attribute` or `dimension`.
pub const ATTR_ROLE: &str = "sluice.role";
/// Field attribute on money fields: `{"currency": "USD", "scale": 2}`.
pub const ATTR_MONEY: &str = "sluice.money";

/// The Avro schema of one event type, as JSON.
///
/// Does not check the layout; [`check_layout`] says whether the result is a
/// valid Avro schema (config validation should already guarantee it).
pub fn record_schema(layout: &RecordLayout) -> Value {
    let name = record_name(&layout.event_type);
    let fields: Vec<Value> = layout
        .fields
        .iter()
        .map(|f| field_schema(layout, &name, f))
        .collect();
    let mut m = Map::new();
    m.insert("type".into(), json!("record"));
    m.insert("name".into(), json!(name));
    if !layout.namespace.is_empty() {
        m.insert("namespace".into(), json!(layout.namespace));
    }
    m.insert(
        "doc".into(),
        json!(format!(
            "Event `{}` of domain `{}`, keyed by `{}`",
            layout.event_type, layout.domain, layout.entity_key
        )),
    );
    m.insert(ATTR_DOMAIN.into(), json!(layout.domain));
    m.insert(ATTR_EVENT_TYPE.into(), json!(layout.event_type));
    m.insert(ATTR_ENTITY_KEY.into(), json!(layout.entity_key));
    m.insert("fields".into(), Value::Array(fields));
    Value::Object(m)
}

/// [`record_schema`] as pretty-printed JSON with a trailing newline.
pub fn record_schema_json(layout: &RecordLayout) -> String {
    let mut text = serde_json::to_string_pretty(&record_schema(layout))
        .expect("a serde_json::Value with string keys always serialises");
    text.push('\n');
    text
}

/// The file name of an event type's schema: `<event_type>.avsc`.
pub fn schema_file_name(layout: &RecordLayout) -> String {
    format!("{}.{SCHEMA_EXTENSION}", layout.event_type)
}

/// Checks every layout, then writes `<event_type>.avsc` for each into `dir`
/// (created if missing) and returns the written paths in input order.
///
/// Nothing is written when any layout is invalid or two share an event type.
/// Each file is written to a temporary name and renamed, so readers never see
/// a half-written schema.
pub fn write_schemas(layouts: &[RecordLayout], dir: &Path) -> Result<Vec<PathBuf>, SchemaError> {
    let mut seen = BTreeSet::new();
    for layout in layouts {
        check_layout(layout)?;
        if !seen.insert(layout.event_type.as_str()) {
            return Err(SchemaError::DuplicateEventType(layout.event_type.clone()));
        }
    }
    fs::create_dir_all(dir).map_err(|source| SchemaError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::with_capacity(layouts.len());
    for layout in layouts {
        let path = dir.join(schema_file_name(layout));
        let tmp = dir.join(format!(".{}.tmp", schema_file_name(layout)));
        let write_err = |source| SchemaError::Write {
            path: path.clone(),
            source,
        };
        fs::write(&tmp, record_schema_json(layout)).map_err(write_err)?;
        fs::rename(&tmp, &path).map_err(write_err)?;
        written.push(path);
    }
    Ok(written)
}

/// Checks that [`record_schema`] of `layout` is a valid Avro schema and can be
/// written to a file named after the event type: safe event type, valid and
/// unique field names, valid and unique enum symbols, no clashing enum type
/// names, decimal scale within the precision.
pub fn check_layout(layout: &RecordLayout) -> Result<(), SchemaError> {
    let bad = |reason: String| SchemaError::InvalidLayout {
        event_type: layout.event_type.clone(),
        reason,
    };
    check_identifier(&layout.event_type).map_err(|e| bad(e.to_string()))?;
    let name = record_name(&layout.event_type);
    if !is_avro_name(&name) {
        return Err(bad(format!(
            "record name `{name}` is not a valid Avro name"
        )));
    }
    if !layout.namespace.is_empty() && !layout.namespace.split('.').all(is_avro_name) {
        return Err(bad(format!(
            "namespace `{}` is not a dotted sequence of Avro names",
            layout.namespace
        )));
    }
    if layout.field(&layout.entity_key).is_none() {
        return Err(bad(format!(
            "entity key `{}` is not a field of the record",
            layout.entity_key
        )));
    }
    let mut field_names = BTreeSet::new();
    let mut type_names = BTreeSet::from([name.clone()]);
    for field in &layout.fields {
        if !is_avro_name(&field.name) {
            return Err(bad(format!(
                "field name `{}` is not a valid Avro name",
                field.name
            )));
        }
        if !field_names.insert(field.name.as_str()) {
            return Err(bad(format!(
                "field `{}` appears more than once",
                field.name
            )));
        }
        match &field.ty {
            FieldType::Enum { symbols } => {
                if symbols.is_empty() {
                    return Err(bad(format!("enum field `{}` has no symbols", field.name)));
                }
                let mut seen = BTreeSet::new();
                for s in symbols {
                    if !is_avro_name(s) {
                        return Err(bad(format!(
                            "enum symbol `{s}` of field `{}` is not a valid Avro name",
                            field.name
                        )));
                    }
                    if !seen.insert(s.as_str()) {
                        return Err(bad(format!(
                            "enum symbol `{s}` of field `{}` appears more than once",
                            field.name
                        )));
                    }
                }
                let enum_name = enum_type_name(&name, &field.name);
                if !type_names.insert(enum_name.clone()) {
                    return Err(bad(format!(
                        "enum type name `{enum_name}` of field `{}` clashes with another type",
                        field.name
                    )));
                }
            }
            FieldType::Money { currency, scale } => {
                if currency.is_empty() || !currency.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(bad(format!(
                        "currency `{currency}` of field `{}` is not a currency code",
                        field.name
                    )));
                }
                if layout.money == MoneyEncoding::Decimal && *scale > DECIMAL_PRECISION {
                    return Err(bad(format!(
                        "scale `{scale}` of money field `{}` exceeds the decimal precision {DECIMAL_PRECISION}",
                        field.name
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the Avro name rule.
pub(crate) fn is_avro_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Name of the Avro enum type of an enum field: record name + field name in
/// PascalCase (`Purchase` + `channel` → `PurchaseChannel`).
pub fn enum_type_name(record: &str, field: &str) -> String {
    format!("{record}{}", record_name(field))
}

fn role_name(role: FieldRole) -> &'static str {
    match role {
        FieldRole::Envelope => "envelope",
        FieldRole::Attribute => "attribute",
        FieldRole::Dimension => "dimension",
    }
}

fn field_schema(layout: &RecordLayout, record: &str, field: &FieldLayout) -> Value {
    let base = field_type(layout.money, record, field);
    let ty = if field.optional {
        json!(["null", base])
    } else {
        base
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(field.name));
    m.insert("type".into(), ty);
    let doc = match &field.ty {
        FieldType::Money { currency, scale } => {
            let how = match layout.money {
                MoneyEncoding::Long => "minor units",
                MoneyEncoding::Decimal => "decimal",
            };
            let note = format!("money in `{currency}`, {how}, scale {scale}");
            Some(match &field.doc {
                Some(d) => format!("{d} ({note})"),
                None => format!("M{}", &note[1..]),
            })
        }
        _ => field.doc.clone(),
    };
    if let Some(doc) = doc {
        m.insert("doc".into(), json!(doc));
    }
    if field.optional {
        m.insert("default".into(), Value::Null);
    }
    m.insert(ATTR_ROLE.into(), json!(role_name(field.role)));
    if let FieldType::Money { currency, scale } = &field.ty {
        m.insert(
            ATTR_MONEY.into(),
            json!({ "currency": currency, "scale": scale }),
        );
    }
    Value::Object(m)
}

fn field_type(money: MoneyEncoding, record: &str, field: &FieldLayout) -> Value {
    match &field.ty {
        FieldType::String => json!("string"),
        FieldType::Int => json!("int"),
        FieldType::Long => json!("long"),
        FieldType::Double => json!("double"),
        FieldType::Boolean => json!("boolean"),
        FieldType::Timestamp => json!({ "type": "long", "logicalType": "timestamp-millis" }),
        FieldType::Enum { symbols } => json!({
            "type": "enum",
            "name": enum_type_name(record, &field.name),
            "symbols": symbols,
        }),
        FieldType::Money { scale, .. } => match money {
            MoneyEncoding::Long => json!("long"),
            MoneyEncoding::Decimal => json!({
                "type": "bytes",
                "logicalType": "decimal",
                "precision": DECIMAL_PRECISION,
                "scale": scale,
            }),
        },
    }
}
