//! Rendering the resolved configuration for `sluice config show`: secrets are
//! printed as `[redacted]`, everything else as YAML.

use serde_json::Value;

use crate::yaml::{YNode, YValue};

/// A raw YAML node as JSON (scalars stay strings).
pub fn node_to_json(n: &YNode) -> Value {
    match &n.value {
        YValue::Scalar { text, .. } => Value::String(text.clone()),
        YValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), node_to_json(v)))
                .collect(),
        ),
        YValue::Seq(items) => Value::Array(items.iter().map(node_to_json).collect()),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _-./:{}[],()".contains(c))
                && !s.starts_with(['{', '[', ' ', '-'])
                && !s.ends_with(' ')
                && !s.contains(": ")
                && !matches!(
                    s.as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off"
                )
                && s.parse::<f64>().is_err()
                && !s.contains('{')
                && !s.contains('[');
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        _ => String::new(),
    }
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match val {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(val, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(val, indent, out);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{k}: {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{pad}{k}: []\n")),
                    other => out.push_str(&format!("{pad}{k}: {}\n", scalar(other))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        let trimmed = inner.trim_start();
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        emit(item, indent + 2, out);
                    }
                    other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// Renders any serialisable value as YAML text.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut out = String::new();
    emit(&v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_yaml() {
        let v = serde_json::json!({"a": {"b": 1, "c": ["x", "y z"]}, "d": [{"e": "f", "g": "h"}], "s": "true"});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a:\n  b: 1\n  c:\n  - x\n  - y z\nd:\n- e: f\n  g: h\ns: \"true\"\n"
        );
    }
}
