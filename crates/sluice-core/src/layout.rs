//! The shape of one event type's record, shared by the schema generator, the
//! data generator and the engine's decoder so all three agree on field order.
//!
//! Every record starts with the envelope (`event_id`, `event_type`, the entity
//! key, `event_time`, `session_id`) followed by the attributes and then the
//! dimensions, in the order the domain declares them.

use crate::FieldType;

/// Name of the envelope field holding a unique event id.
pub const EVENT_ID: &str = "event_id";
/// Name of the envelope field holding the event type name.
pub const EVENT_TYPE: &str = "event_type";
/// Name of the envelope field holding event time (timestamp-millis).
pub const EVENT_TIME: &str = "event_time";
/// Name of the optional envelope field holding the session id.
pub const SESSION_ID: &str = "session_id";
/// Envelope names a domain may not reuse for its own fields.
pub const RESERVED_FIELDS: &[&str] = &[EVENT_ID, EVENT_TYPE, EVENT_TIME, SESSION_ID];

/// Where a field comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldRole {
    /// Part of the common envelope.
    Envelope,
    /// A descriptive attribute.
    Attribute,
    /// A dimension aggregations can group by.
    Dimension,
}

/// How money fields are written in Avro.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MoneyEncoding {
    /// `long` in minor units (cents), currency and scale as schema attributes.
    #[default]
    Long,
    /// Avro `bytes` with logical type `decimal` (precision 18, the field's scale).
    Decimal,
}

/// One field of a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldLayout {
    /// Field name (a safe identifier).
    pub name: String,
    /// Declared type.
    pub ty: FieldType,
    /// True when the field is a union with null, default null.
    pub optional: bool,
    /// Envelope, attribute or dimension.
    pub role: FieldRole,
    /// Optional description, carried into the Avro `doc`.
    pub doc: Option<String>,
}

/// The full, ordered layout of one event type's record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordLayout {
    /// Avro namespace, derived from the domain (e.g. `sluice.ecommerce`).
    pub namespace: String,
    /// Domain name.
    pub domain: String,
    /// Event type name; also the record name (in PascalCase) in Avro.
    pub event_type: String,
    /// Name of the entity key field (e.g. `user_id`).
    pub entity_key: String,
    /// How money is encoded.
    pub money: MoneyEncoding,
    /// Every field, envelope first, in wire order.
    pub fields: Vec<FieldLayout>,
}

impl RecordLayout {
    /// Index of a field by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldLayout> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The smallest layout: event type `event_type` (domain `d`, namespace
    /// `n`, entity key `id`) with only its `event_time`, one long per datum
    /// (tests and probes).
    pub fn time_only(event_type: &str) -> RecordLayout {
        let mut fields = RecordLayout::envelope("id");
        fields.retain(|x| x.name == "event_time");
        RecordLayout {
            namespace: "n".into(),
            domain: "d".into(),
            event_type: event_type.into(),
            entity_key: "id".into(),
            money: MoneyEncoding::Long,
            fields,
        }
    }

    /// The envelope fields every record starts with, for an entity key.
    pub fn envelope(entity_key: &str) -> Vec<FieldLayout> {
        let f = |name: &str, ty: FieldType, optional: bool, doc: &str| FieldLayout {
            name: name.to_string(),
            ty,
            optional,
            role: FieldRole::Envelope,
            doc: Some(doc.to_string()),
        };
        vec![
            f(
                EVENT_ID,
                FieldType::String,
                false,
                "Unique id of this event",
            ),
            f(
                EVENT_TYPE,
                FieldType::String,
                false,
                "Name of the event type",
            ),
            f(
                entity_key,
                FieldType::String,
                false,
                "Key of the entity the event is about",
            ),
            f(
                EVENT_TIME,
                FieldType::Timestamp,
                false,
                "When the event happened (UTC)",
            ),
            f(
                SESSION_ID,
                FieldType::String,
                true,
                "Session the event belongs to, if any",
            ),
        ]
    }
}

/// `page_view` → `PageView`: the Avro record name of an event type.
pub fn record_name(event_type: &str) -> String {
    event_type
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_pascal_case() {
        assert_eq!(record_name("page_view"), "PageView");
        assert_eq!(record_name("purchase"), "Purchase");
    }
}
