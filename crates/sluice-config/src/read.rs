//! Typed reading of [`YNode`]s with accumulated diagnostics: the consume-and-
//! check pattern. A [`MapReader`] hands out keys as they are asked for; at
//! [`MapReader::finish`] every key nobody asked for is an "unknown key" error
//! with a suggestion among the keys that were asked for.
//!
//! Public so other crates (the data generator's hints) decode their parts of
//! the YAML with the same quality of errors.

use sluice_core::{check_identifier, HumanDuration};

use crate::diag::{one_of, suggest, Pos, Reporter};
use crate::yaml::{YKey, YNode, YValue};

/// `parent.key` or `key`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Reads the keys of one mapping.
#[derive(Debug)]
pub struct MapReader<'a> {
    entries: &'a [(YKey, YNode)],
    taken: Vec<bool>,
    known: Vec<&'static str>,
    /// Position of the mapping.
    pub pos: Pos,
    /// Key path of the mapping.
    pub path: String,
}

impl<'a> MapReader<'a> {
    /// Starts reading `node` as a mapping; reports and returns `None` if it is not one.
    pub fn new(node: &'a YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Self> {
        match &node.value {
            YValue::Map(entries) => Some(Self {
                entries,
                taken: vec![false; entries.len()],
                known: Vec::new(),
                pos: node.pos,
                path: path.to_string(),
            }),
            _ => {
                rep.expected(
                    node.pos,
                    path,
                    format!("found {}", node.kind()),
                    "a mapping of `key: value`",
                );
                None
            }
        }
    }

    /// The path of a key of this mapping.
    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// An optional key (a `null` value counts as absent).
    pub fn optional(&mut self, key: &'static str) -> Option<&'a YNode> {
        self.known.push(key);
        let idx = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.taken[idx] = true;
        let node = &self.entries[idx].1;
        (!node.is_null()).then_some(node)
    }

    /// A required key; reports when missing.
    pub fn required(&mut self, key: &'static str, rep: &mut Reporter<'_>) -> Option<&'a YNode> {
        let node = self.optional(key);
        if node.is_none() {
            rep.error(
                self.pos,
                &self.path,
                format!("missing required key `{key}`"),
            );
        }
        node
    }

    /// Marks a key as known without reading it (accepted and ignored).
    pub fn ignore(&mut self, key: &'static str) {
        let _ = self.optional(key);
    }

    /// Keys not yet taken, as (key, value) pairs: for free-form maps.
    pub fn rest(&mut self) -> Vec<(&'a YKey, &'a YNode)> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if !self.taken[i] {
                self.taken[i] = true;
                out.push((k, v));
            }
        }
        out
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, rep: &mut Reporter<'_>) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if self.taken[i] {
                continue;
            }
            let mut known = self.known.clone();
            known.sort_unstable();
            known.dedup();
            let d = rep.error(
                k.pos,
                &join(&self.path, &k.name),
                format!("unknown key `{}`", k.name),
            );
            d.suggestion = suggest(&k.name, known.iter().copied());
            d.expected = Some(one_of(&known));
        }
    }
}

/// The text of a scalar, or a report.
pub fn text<'a>(
    node: &'a YNode,
    path: &str,
    what: &str,
    rep: &mut Reporter<'_>,
) -> Option<&'a str> {
    match &node.value {
        YValue::Scalar { text, .. } => Some(text),
        _ => {
            rep.expected(
                node.pos,
                path,
                format!("found {}", node.kind()),
                what.to_string(),
            );
            None
        }
    }
}

/// A string scalar.
pub fn string(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<String> {
    text(node, path, "a string", rep).map(str::to_string)
}

/// A safe identifier (`[a-z_][a-z0-9_]*`, ≤ 64 chars).
pub fn ident(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<String> {
    let t = text(node, path, "a name", rep)?;
    match check_identifier(t) {
        Ok(()) => Some(t.to_string()),
        Err(e) => {
            rep.expected(
                node.pos,
                path,
                format!("unsafe name: {e}"),
                "a name of lowercase letters, digits and `_` (it becomes a topic, table or column name)",
            );
            None
        }
    }
}

/// Like [`ident`] but keeps the raw text after reporting, so validation
/// can go on and report everything else in the same run.
pub fn ident_lenient(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<String> {
    let before = rep.count();
    match ident(node, path, rep) {
        Some(v) => Some(v),
        None if rep.count() > before => match &node.value {
            YValue::Scalar { text, .. } => Some(text.clone()),
            _ => None,
        },
        None => None,
    }
}

/// An unsigned integer.
pub fn uint(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<u64> {
    let t = text(node, path, "a whole number", rep)?;
    match t.replace('_', "").parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            rep.expected(
                node.pos,
                path,
                format!("`{t}` is not a whole number"),
                "a whole number such as `6`",
            );
            None
        }
    }
}

/// A floating point number.
pub fn float(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<f64> {
    let t = text(node, path, "a number", rep)?;
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            rep.expected(
                node.pos,
                path,
                format!("`{t}` is not a number"),
                "a number such as `0.95`",
            );
            None
        }
    }
}

/// A boolean (`true`/`false`, also `yes`/`no`, `on`/`off`).
pub fn boolean(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<bool> {
    let t = text(node, path, "`true` or `false`", rep)?;
    match t.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => {
            rep.expected(
                node.pos,
                path,
                format!("`{t}` is not a boolean"),
                "`true` or `false`",
            );
            None
        }
    }
}

/// A human duration such as `10 seconds` or `500ms`.
pub fn duration(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<HumanDuration> {
    let t = text(node, path, "a duration", rep)?;
    match HumanDuration::parse(t) {
        Ok(d) => Some(d),
        Err(e) => {
            rep.expected(
                node.pos,
                path,
                format!("bad duration `{t}`: {e}"),
                "a duration such as `10 seconds`, `1 minute`, `10m` or `500ms`",
            );
            None
        }
    }
}

/// One of a fixed set of words, with a suggestion when it is a near miss.
pub fn choice<T: Copy>(
    node: &YNode,
    path: &str,
    options: &[(&str, T)],
    rep: &mut Reporter<'_>,
) -> Option<T> {
    let t = text(node, path, "a name", rep)?;
    if let Some((_, v)) = options.iter().find(|(n, _)| *n == t) {
        return Some(*v);
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let d = rep.error(node.pos, path, format!("unknown value `{t}`"));
    d.suggestion = suggest(t, names.iter().copied());
    d.expected = Some(one_of(&names));
    None
}

/// A list; a single scalar is accepted as a one-element list when `lenient`.
pub fn list<'a>(node: &'a YNode, path: &str, rep: &mut Reporter<'_>) -> Option<&'a [YNode]> {
    match &node.value {
        YValue::Seq(items) => Some(items),
        _ => {
            rep.expected(
                node.pos,
                path,
                format!("found {}", node.kind()),
                "a list (`- item` lines or `[a, b]`)",
            );
            None
        }
    }
}

impl MapReader<'_> {
    /// True when the mapping has `key` (taken or not).
    pub fn has_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }
}
