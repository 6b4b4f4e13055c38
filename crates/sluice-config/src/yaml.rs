//! A small owned YAML tree that keeps the position of every node and key,
//! built from `marked-yaml`; deep merging of overlays; `${env:...}`
//! interpolation. Pure: the environment is passed in.

use std::collections::BTreeMap;

use crate::diag::{Pos, Reporter};

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct YNode {
    /// Where the node starts.
    pub pos: Pos,
    /// Its content.
    pub value: YValue,
}

/// The content of a YAML node. Scalars stay text until a typed reader asks.
#[derive(Clone, Debug, PartialEq)]
pub enum YValue {
    /// A scalar; `quoted` is true for `'..'` / `".."` scalars.
    Scalar {
        /// The text.
        text: String,
        /// True when written in quotes (never a number, boolean or null).
        quoted: bool,
    },
    /// A mapping, in file order.
    Map(Vec<(YKey, YNode)>),
    /// A sequence.
    Seq(Vec<YNode>),
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct YKey {
    /// The key text.
    pub name: String,
    /// Where the key is written.
    pub pos: Pos,
}

impl YNode {
    /// A plain scalar node.
    pub fn scalar(pos: Pos, text: impl Into<String>) -> Self {
        YNode {
            pos,
            value: YValue::Scalar {
                text: text.into(),
                quoted: false,
            },
        }
    }

    /// The value of `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&YNode> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, YValue::Scalar { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            YValue::Scalar { .. } if self.is_null() => "null",
            YValue::Scalar { .. } => "a scalar",
            YValue::Map(_) => "a mapping",
            YValue::Seq(_) => "a list",
        }
    }
}

fn pos_of(span: &marked_yaml::Span, source: usize) -> Pos {
    span.start()
        .map(|m| Pos {
            source,
            line: m.line(),
            col: m.column(),
        })
        .unwrap_or(Pos {
            source,
            line: 1,
            col: 1,
        })
}

fn convert(node: &marked_yaml::Node, source: usize) -> YNode {
    match node {
        marked_yaml::Node::Scalar(s) => YNode {
            pos: pos_of(s.span(), source),
            value: YValue::Scalar {
                text: s.as_str().to_string(),
                quoted: !s.may_coerce(),
            },
        },
        marked_yaml::Node::Mapping(m) => YNode {
            // A block mapping starts at its first key (marked-yaml reports the first value).
            pos: m
                .keys()
                .next()
                .map(|k| pos_of(k.span(), source))
                .unwrap_or_else(|| pos_of(m.span(), source)),
            value: YValue::Map(
                m.iter()
                    .map(|(k, v)| {
                        (
                            YKey {
                                name: k.as_str().to_string(),
                                pos: pos_of(k.span(), source),
                            },
                            convert(v, source),
                        )
                    })
                    .collect(),
            ),
        },
        marked_yaml::Node::Sequence(s) => YNode {
            pos: pos_of(s.span(), source),
            value: YValue::Seq(s.iter().map(|n| convert(n, source)).collect()),
        },
    }
}

/// Parses one YAML document whose top level is a mapping. Syntax errors,
/// duplicate keys, anchors and tags are reported at their position.
pub fn parse(text: &str, source: usize, rep: &mut Reporter<'_>) -> Option<YNode> {
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !meaningful {
        rep.expected(
            Pos {
                source,
                line: 1,
                col: 1,
            },
            "",
            "file is empty",
            "a mapping of settings",
        );
        return None;
    }
    second_document(text, source, rep);
    // `prevent_coercion` makes marked-yaml record which scalars were quoted
    // (`""` is then an empty string, not null)
    let opts = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    match marked_yaml::parse_yaml_with_options(source, text, opts) {
        Ok(node) => Some(convert(&node, source)),
        Err(err) => {
            use marked_yaml::LoadError as E;
            let at = |m: &marked_yaml::Marker| Pos {
                source,
                line: m.line(),
                col: m.column(),
            };
            match &err {
                E::TopLevelMustBeMapping(m) | E::TopLevelMustBeSequence(m) => {
                    rep.expected(
                        at(m),
                        "",
                        "top level is not a mapping",
                        "`key: value` settings",
                    );
                }
                E::UnexpectedAnchor(m) => {
                    rep.error(at(m), "", "YAML anchors and aliases are not supported; repeat the value or use an environment overlay");
                }
                E::MappingKeyMustBeScalar(m) => {
                    rep.error(at(m), "", "mapping keys must be plain names");
                }
                E::UnexpectedTag(m) => {
                    rep.error(at(m), "", "YAML tags (`!name`) are not supported");
                }
                E::ScanError(m, e) => {
                    rep.error(at(m), "", format!("YAML syntax error: {}", e.info()));
                }
                E::DuplicateKey(inner) => {
                    let first = pos_of(inner.prev_key.span(), source);
                    rep.error(
                        pos_of(inner.key.span(), source),
                        inner.key.as_str(),
                        format!(
                            "duplicate key `{}` (first defined at line {})",
                            inner.key.as_str(),
                            first.line
                        ),
                    );
                }
            }
            None
        }
    }
}

/// Reports a second YAML document, which the parser would silently skip: a
/// `---` (or, after a `...` end marker, any content) at the start of a line
/// once the first document has content. In YAML such a line is always a
/// document marker, never part of a value, so looking at lines is exact.
fn second_document(text: &str, source: usize, rep: &mut Reporter<'_>) {
    let marker = |l: &str, m: &str| {
        l.strip_prefix(m)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    };
    let mut content = false;
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        let start = marker(line, "---");
        let at_marker = start && content;
        let after_end = ended && !blank && !start;
        if at_marker || after_end {
            let d = rep.error(
                Pos {
                    source,
                    line: i + 1,
                    col: 1,
                },
                "",
                "a second YAML document starts here; only one YAML document per file is read",
            );
            d.suggestion =
                Some("remove the `---` line or move the second document to its own file".into());
            return;
        }
        if marker(line, "...") {
            ended = content;
        } else if start {
            // `--- {a: 1}`: the document starts on the marker line
            let rest = line[3..].trim();
            content = !rest.is_empty() && !rest.starts_with('#');
        } else if !blank {
            content = true;
        }
    }
}

/// Deep-merges `overlay` into `base`: mappings merge key by key, anything else
/// in the overlay replaces the base value (keeping the overlay's position, so
/// errors point at the file that set the value).
pub fn merge(base: &mut YNode, overlay: YNode) {
    match (&mut base.value, overlay.value) {
        (YValue::Map(base_entries), YValue::Map(over_entries)) => {
            for (k, v) in over_entries {
                if let Some((_, existing)) =
                    base_entries.iter_mut().find(|(bk, _)| bk.name == k.name)
                {
                    merge(existing, v);
                } else {
                    base_entries.push((k, v));
                }
            }
        }
        (_, value) => {
            base.value = value;
            base.pos = overlay.pos;
        }
    }
}

/// Replaces `${env:NAME}` and `${env:NAME:-default}` in every scalar using
/// `vars`; checks the syntax of `${secret:name}` but leaves it for the secret
/// resolver. Unknown `${kind:...}` and unset variables without default are
/// reported at the scalar.
pub fn interpolate_env(
    node: &mut YNode,
    vars: &BTreeMap<String, String>,
    path: &str,
    rep: &mut Reporter<'_>,
) {
    match &mut node.value {
        YValue::Scalar { text, .. } => {
            if text.contains("${") {
                match expand(text, vars) {
                    Ok(new) => *text = new,
                    Err(msg) => {
                        rep.error(node.pos, path, msg);
                    }
                }
            }
        }
        YValue::Map(entries) => {
            for (k, v) in entries {
                let p = if path.is_empty() {
                    k.name.clone()
                } else {
                    format!("{path}.{}", k.name)
                };
                interpolate_env(v, vars, &p, rep);
            }
        }
        YValue::Seq(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate_env(v, vars, &format!("{path}[{i}]"), rep);
            }
        }
    }
}

/// One piece of an interpolated string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `${secret:name}`.
    Secret(String),
}

/// Splits text into literal and `${secret:...}` parts, after env expansion.
pub fn secret_parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${secret:") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        if start > 0 {
            parts.push(Part::Lit(rest[..start].to_string()));
        }
        parts.push(Part::Secret(rest[start + 9..start + len].to_string()));
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    parts
}

/// `name` or `name#key` (a key of a secret holding a JSON object).
fn valid_secret_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
    };
    match name.split_once('#') {
        Some((n, key)) => part(n) && part(key),
        None => part(name),
    }
}

fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!(
                "unterminated `${{` in `{text}`; write `${{env:NAME}}` or `${{secret:name}}`"
            ));
        };
        let inner = &after[..end];
        let (kind, arg) = inner.split_once(':').unwrap_or((inner, ""));
        match kind {
            "env" => {
                let (name, default) = match arg.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (arg, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "bad environment variable name `{name}` in `${{{inner}}}`"
                    ));
                }
                match (vars.get(name), default) {
                    (Some(v), _) => out.push_str(v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(format!(
                            "environment variable `{name}` is not set; set it or give a default with `${{env:{name}:-value}}`"
                        ))
                    }
                }
            }
            "secret" => {
                if !valid_secret_name(arg) {
                    return Err(format!("bad secret name `{arg}` in `${{{inner}}}`; use letters, digits, `_`, `-`, `.` or `/`, and `#key` for one key of a JSON secret"));
                }
                out.push_str("${secret:");
                out.push_str(arg);
                out.push('}');
            }
            other => {
                let hint = crate::diag::suggest(other, ["env", "secret"])
                    .map(|s| format!("; {s}"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown interpolation `${{{inner}}}`: expected `${{env:NAME}}`, `${{env:NAME:-default}}` or `${{secret:name}}`{hint}"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;

    fn vars() -> BTreeMap<String, String> {
        [("HOST".to_string(), "kafka.local".to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn expands_env_with_default() {
        assert_eq!(
            expand("${env:HOST}:9092", &vars()).unwrap(),
            "kafka.local:9092"
        );
        assert_eq!(expand("${env:PORT:-9092}", &vars()).unwrap(), "9092");
        assert_eq!(
            expand("x${secret:db_pw}y", &vars()).unwrap(),
            "x${secret:db_pw}y"
        );
        assert!(expand("${env:MISSING}", &vars())
            .unwrap_err()
            .contains("`MISSING` is not set"));
        assert!(expand("${vault:x}", &vars())
            .unwrap_err()
            .contains("unknown interpolation"));
    }

    #[test]
    fn splits_secret_parts() {
        assert_eq!(
            secret_parts("u:${secret:pw}@h"),
            vec![
                Part::Lit("u:".into()),
                Part::Secret("pw".into()),
                Part::Lit("@h".into())
            ]
        );
    }

    #[test]
    fn merges_overlays_deeply() {
        let sources = SourceMap::default();
        let mut rep = Reporter::new(&sources);
        let mut base = parse("a:\n  b: 1\n  c: 2\nd: [1]\n", 0, &mut rep).unwrap();
        let over = parse("a:\n  c: 3\nd: [2, 3]\n", 1, &mut rep).unwrap();
        merge(&mut base, over);
        let a = base.get("a").unwrap();
        assert_eq!(
            a.get("b").unwrap().value,
            YNode::scalar(Pos::default(), "1").value
        );
        let c = a.get("c").unwrap();
        assert_eq!(c.pos.source, 1);
        assert!(matches!(&base.get("d").unwrap().value, YValue::Seq(v) if v.len() == 2));
    }

    #[test]
    fn a_second_document_is_an_error_at_its_marker() {
        let sources = SourceMap::default();
        let cases: [(&str, Option<usize>); 8] = [
            ("---\na: 1\n", None),
            ("a: 1\r\n---\r\nb: 2\r\n", Some(2)),
            ("# c\n--- # start\na: 1\n# end\n", None),
            ("a: 1\nb: |\n  ---\n  text\n", None),
            ("a: 1\n---\nb: 2\n", Some(2)),
            ("a: 1\n...\nb: 2\n", Some(3)),
            ("--- {a: 1}\n--- {b: 2}\n", Some(2)),
            ("a: 1\n---\n", Some(2)),
        ];
        for (text, line) in cases {
            let mut rep = Reporter::new(&sources);
            assert!(parse(text, 0, &mut rep).is_some(), "{text:?}");
            let d = rep.finish();
            assert_eq!(d.0.first().map(|d| d.line), line, "{text:?}: {d}");
            if line.is_some() {
                assert!(d.0[0].message.contains("only one YAML document"), "{d}");
            }
        }
    }

    #[test]
    fn quoted_empty_string_is_not_null() {
        let sources = SourceMap::default();
        let mut rep = Reporter::new(&sources);
        let n = parse("a: \"\"\nb:\nc: ''\n", 0, &mut rep).unwrap();
        assert!(!n.get("a").unwrap().is_null());
        assert!(n.get("b").unwrap().is_null());
        assert!(!n.get("c").unwrap().is_null());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let sources = SourceMap::default();
        let mut rep = Reporter::new(&sources);
        assert!(parse("a: [1, 2\nb: 3\n", 0, &mut rep).is_none());
        let d = rep.finish();
        assert_eq!(d.len(), 1);
        assert!(d.0[0].message.contains("syntax"), "{}", d);
    }
}
