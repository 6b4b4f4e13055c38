//! Domain files: entity, event types and their fields, aggregations,
//! windows and filters.

use sluice_core::{
    AggregateKind, CompareOp, FieldType, Literal, MoneyEncoding, Predicate, WindowSpec,
};

use crate::diag::{one_of, Reporter};
use crate::model::*;
use crate::read::{self, join, MapReader};
use crate::yaml::{YNode, YValue};

/// Decodes one domain file.
pub fn domain(root: &YNode, rep: &mut Reporter<'_>) -> Option<DomainConfig> {
    let mut m = MapReader::new(root, "", rep)?;
    let name = m
        .required("domain", rep)
        .and_then(|n| read::ident_lenient(n, "domain", rep).map(|v| Spanned::new(v, n.pos)));
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, "description", rep));
    let entity = m.required("entity", rep).and_then(|n| entity(n, rep));
    let mut event_types = Vec::new();
    if let Some(n) = m.required("event_types", rep) {
        if let Some(items) = read::list(n, "event_types", rep) {
            for (i, item) in items.iter().enumerate() {
                if let Some(et) = event_type(item, &format!("event_types[{i}]"), rep) {
                    event_types.push(et);
                }
            }
        }
    }
    let mut aggregations = Vec::new();
    if let Some(n) = m.optional("aggregations") {
        if let Some(items) = read::list(n, "aggregations", rep) {
            for (i, item) in items.iter().enumerate() {
                if let Some(a) = aggregation(item, &format!("aggregations[{i}]"), rep) {
                    aggregations.push(a);
                }
            }
        }
    }
    let money_encoding = m
        .optional("money_encoding")
        .and_then(|n| {
            read::choice(
                n,
                "money_encoding",
                &[
                    ("long", MoneyEncoding::Long),
                    ("decimal", MoneyEncoding::Decimal),
                ],
                rep,
            )
        })
        .unwrap_or_default();
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(DomainConfig {
        domain: name?,
        description,
        entity: entity?,
        event_types,
        aggregations,
        money_encoding,
        generator,
        pos: root.pos,
    })
}

fn entity(node: &YNode, rep: &mut Reporter<'_>) -> Option<EntityConfig> {
    let mut m = MapReader::new(node, "entity", rep)?;
    let pk = m.required("primary_key", rep).and_then(|n| {
        read::ident_lenient(n, "entity.primary_key", rep).map(|v| Spanned::new(v, n.pos))
    });
    let name = m
        .optional("name")
        .and_then(|n| read::string(n, "entity.name", rep));
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(EntityConfig {
        primary_key: pk?,
        name,
        generator,
    })
}

fn event_type(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<EventTypeConfig> {
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, &join(path, "description"), rep));
    let mut lists = [Vec::new(), Vec::new()];
    for (slot, key) in lists.iter_mut().zip(["attributes", "dimensions"]) {
        if let Some(n) = m.optional(key) {
            let lp = join(path, key);
            if let Some(items) = read::list(n, &lp, rep) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(f) = field(item, &format!("{lp}[{i}]"), rep) {
                        slot.push(f);
                    }
                }
            }
        }
    }
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    let [attributes, dimensions] = lists;
    Some(EventTypeConfig {
        name: name?,
        description,
        attributes,
        dimensions,
        generator,
        pos: node.pos,
    })
}

/// A field's `type:` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TypeWord {
    String,
    Int,
    Long,
    Double,
    Boolean,
    Timestamp,
    Enum,
    Money,
}

impl TypeWord {
    /// The type of a word that takes no options.
    fn plain(self) -> Option<FieldType> {
        Some(match self {
            TypeWord::String => FieldType::String,
            TypeWord::Int => FieldType::Int,
            TypeWord::Long => FieldType::Long,
            TypeWord::Double => FieldType::Double,
            TypeWord::Boolean => FieldType::Boolean,
            TypeWord::Timestamp => FieldType::Timestamp,
            TypeWord::Enum | TypeWord::Money => return None,
        })
    }
}

const FIELD_TYPES: &[(&str, TypeWord)] = &[
    ("string", TypeWord::String),
    ("int", TypeWord::Int),
    ("long", TypeWord::Long),
    ("double", TypeWord::Double),
    ("boolean", TypeWord::Boolean),
    ("timestamp", TypeWord::Timestamp),
    ("enum", TypeWord::Enum),
    ("money", TypeWord::Money),
];

fn field(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<FieldConfig> {
    if let YValue::Scalar { .. } = node.value {
        let name = read::ident_lenient(node, path, rep)?;
        return Some(FieldConfig {
            name: Spanned::new(name, node.pos),
            ty: FieldType::String,
            optional: false,
            description: None,
            generator: None,
            pos: node.pos,
        });
    }
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let ty_node = m.optional("type");
    let code = match ty_node {
        Some(n) => read::choice(n, &join(path, "type"), FIELD_TYPES, rep),
        None => Some(TypeWord::String),
    };
    let symbols = m.optional("symbols");
    let currency = m.optional("currency");
    let scale = m.optional("scale");
    let ty = match code {
        Some(TypeWord::Enum) => {
            let mut syms = Vec::new();
            match symbols {
                None => {
                    rep.error(m.pos, path, "an enum needs `symbols`");
                }
                Some(s) => {
                    let sp = join(path, "symbols");
                    for (i, sym) in read::list(s, &sp, rep)
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                    {
                        let ip = format!("{sp}[{i}]");
                        let Some(t) = read::text(sym, &ip, "a symbol", rep) else {
                            continue;
                        };
                        let valid = t
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            rep.expected(
                                sym.pos,
                                &ip,
                                format!("`{t}` is not a valid enum symbol"),
                                "letters, digits and `_`, not starting with a digit (Avro rule)",
                            );
                        } else if syms.iter().any(|s: &String| s == t) {
                            rep.error(sym.pos, &ip, format!("duplicate enum symbol `{t}`"));
                        } else {
                            syms.push(t.to_string());
                        }
                    }
                    if matches!(&s.value, YValue::Seq(l) if l.is_empty()) {
                        rep.error(s.pos, &sp, "an enum needs at least one symbol");
                    }
                }
            }
            Some(FieldType::Enum { symbols: syms })
        }
        Some(TypeWord::Money) => {
            let currency = match currency {
                Some(c) => {
                    read::text(c, &join(path, "currency"), "a currency code", rep).and_then(|t| {
                        if t.len() == 3 && t.chars().all(|c| c.is_ascii_uppercase()) {
                            Some(t.to_string())
                        } else {
                            rep.expected(
                                c.pos,
                                &join(path, "currency"),
                                format!("`{t}` is not a currency code"),
                                "an ISO 4217 code such as `USD`",
                            );
                            None
                        }
                    })
                }
                None => Some("USD".to_string()),
            };
            let scale = match scale {
                Some(s) => read::uint(s, &join(path, "scale"), rep).and_then(|v| {
                    if v <= 9 {
                        Some(v as u32)
                    } else {
                        rep.expected(
                            s.pos,
                            &join(path, "scale"),
                            format!("scale `{v}` is too large"),
                            "0 to 9 digits",
                        );
                        None
                    }
                }),
                None => Some(2),
            };
            Some(FieldType::Money {
                currency: currency.unwrap_or_default(),
                scale: scale.unwrap_or(2),
            })
        }
        Some(c) => {
            for (key, n) in [
                ("symbols", symbols),
                ("currency", currency),
                ("scale", scale),
            ] {
                if let Some(n) = n {
                    let t = FIELD_TYPES
                        .iter()
                        .find(|(_, x)| *x == c)
                        .map(|(n, _)| *n)
                        .unwrap_or("?");
                    rep.error(
                        n.pos,
                        &join(path, key),
                        format!("`{key}` does not apply to type `{t}`"),
                    );
                }
            }
            c.plain()
        }
        None => None,
    };
    let optional = m
        .optional("optional")
        .and_then(|n| read::boolean(n, &join(path, "optional"), rep));
    let required = m
        .optional("required")
        .and_then(|n| read::boolean(n, &join(path, "required"), rep));
    if let (Some(o), Some(r)) = (optional, required) {
        if o == r {
            rep.error(
                m.pos,
                path,
                "`optional` and `required` contradict each other; keep one",
            );
        }
    }
    let optional = optional.unwrap_or(false) || required == Some(false);
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, &join(path, "description"), rep));
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(FieldConfig {
        name: name?,
        ty: ty?,
        optional,
        description,
        generator,
        pos: node.pos,
    })
}

fn names(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Vec<Spanned<String>> {
    if let YValue::Scalar { .. } = node.value {
        return read::ident(node, path, rep)
            .map(|v| vec![Spanned::new(v, node.pos)])
            .unwrap_or_default();
    }
    let mut out = Vec::new();
    for (i, item) in read::list(node, path, rep)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(v) = read::ident(item, &format!("{path}[{i}]"), rep) {
            out.push(Spanned::new(v, item.pos));
        }
    }
    out
}

fn aggregation(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<AggregationConfig> {
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let kind = m.required("type", rep).and_then(|n| {
        read::choice(n, &join(path, "type"), AggregateKind::ALL, rep)
            .map(|k| Spanned::new(k, n.pos))
    });
    let field = m
        .optional("field")
        .and_then(|n| read::ident(n, &join(path, "field"), rep).map(|v| Spanned::new(v, n.pos)));
    let mut quantiles = Vec::new();
    if let Some(q) = m.optional("quantiles") {
        let qp = join(path, "quantiles");
        let items = read::list(q, &qp, rep).unwrap_or_default();
        if matches!(&q.value, YValue::Seq(l) if l.is_empty()) {
            let d = rep.error(q.pos, &qp, "the `quantiles` list is empty");
            d.expected = Some("at least one quantile, e.g. `[0.5, 0.99]`".into());
            d.suggestion =
                Some("remove the key for the default quantiles 0.5, 0.9 and 0.99".into());
        }
        // (index, value) of each accepted quantile, to find repeats
        let mut seen: Vec<(usize, f64)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{qp}[{i}]");
            if let Some(v) = read::float(item, &ip, rep) {
                if v > 0.0 && v < 1.0 {
                    // Each quantile becomes a result column named after it
                    // with at most three decimals of the percentage
                    // (`sluice_connectors::table::quantile_column`), so two
                    // quantiles equal at that precision would share one.
                    let key = |q: f64| (q * 100.0 * 1000.0).round();
                    if let Some((j, w)) = seen.iter().find(|(_, w)| key(*w) == key(v)) {
                        let d = rep.error(
                            item.pos,
                            &ip,
                            if *w == v {
                                format!("quantile `{v}` is listed twice (also {qp}[{j}])")
                            } else {
                                format!("quantile `{v}` is the same as `{w}` ({qp}[{j}]) at the 5 decimals that name result columns")
                            },
                        );
                        d.suggestion = Some("remove the repeated quantile".into());
                    } else {
                        seen.push((i, v));
                        quantiles.push(v);
                    }
                } else {
                    rep.expected(
                        item.pos,
                        &ip,
                        format!("quantile `{v}` is out of range"),
                        "a number strictly between 0 and 1, e.g. `0.99`",
                    );
                }
            }
        }
    }
    let event_types = m
        .optional("event_types")
        .map(|n| names(n, &join(path, "event_types"), rep))
        .unwrap_or_default();
    let window = m
        .required("window", rep)
        .and_then(|n| window(n, &join(path, "window"), rep));
    let group_by = m
        .optional("group_by")
        .map(|n| names(n, &join(path, "group_by"), rep))
        .unwrap_or_default();
    let mut filter = Vec::new();
    if let Some(f) = m.optional("filter") {
        let fp = join(path, "filter");
        for (i, item) in read::list(f, &fp, rep)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(p) = predicate(item, &format!("{fp}[{i}]"), rep) {
                filter.push(Spanned::new(p, item.pos));
            }
        }
    }
    let watermark_delay = m
        .optional("watermark_delay")
        .and_then(|n| read::duration(n, &join(path, "watermark_delay"), rep));
    let allowed_lateness = m
        .optional("allowed_lateness")
        .and_then(|n| read::duration(n, &join(path, "allowed_lateness"), rep));
    let sink_table = m.optional("sink_table").and_then(|n| {
        read::ident(n, &join(path, "sink_table"), rep).map(|v| Spanned::new(v, n.pos))
    });
    m.finish(rep);
    let name = name?;
    let sink_table = sink_table.unwrap_or_else(|| name.clone());
    Some(AggregationConfig {
        name,
        kind: kind?,
        field,
        quantiles,
        event_types,
        window: window?,
        group_by,
        filter,
        watermark_delay,
        allowed_lateness,
        sink_table,
        pos: node.pos,
    })
}

fn window(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Spanned<WindowSpec>> {
    let mut m = MapReader::new(node, path, rep)?;
    #[derive(Clone, Copy)]
    enum Kind {
        Tumbling,
        Sliding,
        Session,
        Cumulative,
    }
    let kinds = [
        ("tumbling", Kind::Tumbling),
        ("sliding", Kind::Sliding),
        ("hopping", Kind::Sliding),
        ("session", Kind::Session),
        ("cumulative", Kind::Cumulative),
    ];
    let kind = m
        .required("type", rep)
        .and_then(|n| read::choice(n, &join(path, "type"), &kinds, rep));
    let dur = |m: &mut MapReader<'_>, key: &'static str, rep: &mut Reporter<'_>| {
        m.required(key, rep)
            .and_then(|n| read::duration(n, &join(path, key), rep).map(|d| (d, n.pos)))
    };
    let spec = match kind? {
        Kind::Tumbling => {
            dur(&mut m, "duration", rep).map(|(size, _)| WindowSpec::Tumbling { size })
        }
        Kind::Sliding => {
            let size = dur(&mut m, "duration", rep);
            let slide = dur(&mut m, "slide", rep);
            size.zip(slide)
                .map(|((size, _), (slide, _))| WindowSpec::Sliding { size, slide })
        }
        Kind::Session => dur(&mut m, "gap", rep).map(|(gap, _)| WindowSpec::Session { gap }),
        Kind::Cumulative => {
            let step = dur(&mut m, "step", rep);
            let max = dur(&mut m, "max_size", rep);
            step.zip(max)
                .map(|((step, _), (max_size, _))| WindowSpec::Cumulative { step, max_size })
        }
    };
    m.finish(rep);
    spec.map(|s| Spanned::new(s, node.pos))
}

fn literal(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Literal> {
    match &node.value {
        YValue::Scalar { text, quoted } => {
            if *quoted {
                return Some(Literal::Str(text.clone()));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Some(Literal::Int(i));
            }
            if text.parse::<f64>().is_ok()
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            {
                return Some(Literal::Decimal(text.clone()));
            }
            match text.as_str() {
                "true" => Some(Literal::Bool(true)),
                "false" => Some(Literal::Bool(false)),
                _ => Some(Literal::Str(text.clone())),
            }
        }
        YValue::Seq(items) => {
            let mut out = Vec::new();
            for (i, it) in items.iter().enumerate() {
                out.push(literal(it, &format!("{path}[{i}]"), rep)?);
            }
            Some(Literal::List(out))
        }
        YValue::Map(_) => {
            rep.expected(
                node.pos,
                path,
                "found a mapping",
                "a value or a list of values",
            );
            None
        }
    }
}

fn predicate(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Predicate> {
    let mut m = MapReader::new(node, path, rep)?;
    let field = m
        .required("field", rep)
        .and_then(|n| read::ident(n, &join(path, "field"), rep));
    let op = m.required("op", rep).and_then(|n| {
        let t = read::text(n, &join(path, "op"), "an operator", rep)?;
        CompareOp::parse(t).or_else(|| {
            let all: Vec<&str> = CompareOp::ALL.iter().map(|(n, _)| n[0]).collect();
            rep.expected(
                n.pos,
                &join(path, "op"),
                format!("unknown operator `{t}`"),
                one_of(&all),
            );
            None
        })
    });
    let value = m
        .required("value", rep)
        .and_then(|n| literal(n, &join(path, "value"), rep));
    m.finish(rep);
    let op = op?;
    let value = value?;
    let is_list = matches!(value, Literal::List(_));
    if matches!(op, CompareOp::In | CompareOp::NotIn) != is_list {
        rep.error(
            node.pos,
            path,
            if is_list {
                format!("a list value needs `in` or `not_in`, not `{op}`")
            } else {
                format!("`{op}` needs a list value such as `[a, b]`")
            },
        );
        return None;
    }
    Some(Predicate {
        field: field?,
        op,
        value,
    })
}
