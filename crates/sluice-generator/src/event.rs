//! A decoded event with typed values, for the convenience API
//! (`generate_event`, `generate_session`, `generate_events`) and tests.
//! Allocates; the fast paths never build these.

use serde_json::{Map, Value as Json};
use sluice_core::{FieldType, RecordLayout};

use crate::sim::{Scratch, Val};

/// A typed field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Null (optional fields only).
    Null,
    /// Text.
    String(String),
    /// 32-bit integer.
    Int(i32),
    /// 64-bit integer.
    Long(i64),
    /// Double.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// An enum symbol.
    Enum {
        /// Symbol index.
        index: u32,
        /// Symbol.
        symbol: String,
    },
    /// Money in minor units.
    Money {
        /// Amount in minor units (cents).
        minor: i64,
        /// ISO currency code.
        currency: String,
        /// Digits after the decimal point.
        scale: u32,
    },
}

impl Value {
    /// As JSON: money as integer minor units, timestamps as epoch millis,
    /// enums as their symbol.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::String(s) => Json::String(s.clone()),
            Value::Int(v) => Json::from(*v),
            Value::Long(v) | Value::Timestamp(v) => Json::from(*v),
            Value::Double(v) => serde_json::Number::from_f64(*v)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Value::Boolean(b) => Json::Bool(*b),
            Value::Enum { symbol, .. } => Json::String(symbol.clone()),
            Value::Money { minor, .. } => Json::from(*minor),
        }
    }

    /// The text of a string or enum value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Enum { symbol, .. } => Some(symbol),
            _ => None,
        }
    }

    /// The number of an integer, timestamp or money (minor units) value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v as i64),
            Value::Long(v) | Value::Timestamp(v) => Some(*v),
            Value::Money { minor, .. } => Some(*minor),
            _ => None,
        }
    }

    /// Any number as a double (money in major units).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            Value::Money { minor, scale, .. } => Some(*minor as f64 / 10f64.powi(*scale as i32)),
            other => other.as_i64().map(|v| v as f64),
        }
    }
}

/// One generated event: its type and every field in schema order.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Event type name.
    pub event_type: String,
    /// Index of the event type in the domain.
    pub event_type_index: usize,
    /// `(field name, value)` in wire order, envelope first.
    pub fields: Vec<(String, Value)>,
}

impl Event {
    pub(crate) fn from_scratch(layout: &RecordLayout, s: &Scratch) -> Self {
        let fields = layout
            .fields
            .iter()
            .zip(&s.vals)
            .map(|(f, v)| {
                let value = match (*v, &f.ty) {
                    (Val::Null, _) => Value::Null,
                    (Val::Str(..), _) => {
                        Value::String(String::from_utf8_lossy(s.text(*v)).into_owned())
                    }
                    (Val::Int(x), FieldType::Int) => Value::Int(x as i32),
                    (Val::Int(x), FieldType::Timestamp) => Value::Timestamp(x),
                    (Val::Int(x), FieldType::Money { currency, scale }) => Value::Money {
                        minor: x,
                        currency: currency.clone(),
                        scale: *scale,
                    },
                    (Val::Int(x), _) => Value::Long(x),
                    (Val::Double(x), _) => Value::Double(x),
                    (Val::Bool(b), _) => Value::Boolean(b),
                    (Val::Enum(i), FieldType::Enum { symbols }) => Value::Enum {
                        index: i,
                        symbol: symbols.get(i as usize).cloned().unwrap_or_default(),
                    },
                    (Val::Enum(i), _) => Value::Long(i as i64),
                };
                (f.name.clone(), value)
            })
            .collect();
        Self {
            event_type: layout.event_type.clone(),
            event_type_index: s.event_type,
            fields,
        }
    }

    /// A field's value by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// `event_time` in epoch milliseconds.
    pub fn event_time(&self) -> i64 {
        self.get(sluice_core::layout::EVENT_TIME)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// `event_id`.
    pub fn event_id(&self) -> &str {
        self.get(sluice_core::layout::EVENT_ID)
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `session_id`, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.get(sluice_core::layout::SESSION_ID)
            .and_then(Value::as_str)
    }

    /// As a JSON object with fields in schema order.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.to_json());
        }
        Json::Object(m)
    }
}
