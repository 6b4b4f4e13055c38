//! Pure cross-checks over the decoded model: no files, network or secrets.
//! Every problem is reported, each at the position that caused it.

use std::collections::{BTreeMap, BTreeSet};

use sluice_core::layout::{EVENT_ID, EVENT_TIME, EVENT_TYPE, RESERVED_FIELDS, SESSION_ID};
use sluice_core::window::MAX_WINDOWS_PER_EVENT;
use sluice_core::{
    filter::decimal_to_minor, AggregateKind, CompareOp, FieldType, HumanDuration, Literal,
    WindowSpec,
};

use crate::diag::{suggest, Pos, Reporter};
use crate::model::*;
use crate::rules;

/// Checks one domain; fills in each aggregation's `event_types` when the YAML
/// left it empty (every event type that has the fields the aggregation needs).
pub fn domain(d: &mut DomainConfig, rep: &mut Reporter<'_>) {
    let pk = d.entity.primary_key.value.clone();
    let mut seen_types: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, et) in d.event_types.iter().enumerate() {
        if let Some(first) = seen_types.insert(&et.name.value, i) {
            rep.error(
                et.name.pos,
                &format!("event_types[{i}].name"),
                format!(
                    "duplicate event type `{}` (also event_types[{first}])",
                    et.name.value
                ),
            );
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for f in et.fields() {
            let path = format!("event_types[{i}]");
            if RESERVED_FIELDS.contains(&f.name.value.as_str()) || f.name.value == pk {
                rep.error(
                    f.name.pos,
                    &path,
                    format!(
                        "field `{}` clashes with the event envelope (event_id, event_type, event_time, session_id and the entity key `{pk}` are added to every event)",
                        f.name.value
                    ),
                );
            } else if !seen.insert(&f.name.value) {
                rep.error(
                    f.name.pos,
                    &path,
                    format!(
                        "duplicate field `{}` in event type `{}`",
                        f.name.value, et.name.value
                    ),
                );
            }
        }
    }
    if d.event_types.is_empty() {
        rep.error(
            d.pos,
            "event_types",
            "a domain needs at least one event type",
        );
    }

    let mut agg_names: BTreeSet<String> = BTreeSet::new();
    let mut tables: BTreeSet<String> = BTreeSet::new();
    for i in 0..d.aggregations.len() {
        let path = format!("aggregations[{i}]");
        {
            let a = &d.aggregations[i];
            if !agg_names.insert(a.name.value.clone()) {
                rep.error(
                    a.name.pos,
                    &format!("{path}.name"),
                    format!("duplicate aggregation `{}`", a.name.value),
                );
            } else if !tables.insert(a.sink_table.value.clone()) {
                rep.error(
                    a.sink_table.pos,
                    &format!("{path}.sink_table"),
                    format!(
                        "sink table `{}` is used by another aggregation",
                        a.sink_table.value
                    ),
                );
            }
        }
        let resolved = aggregation(d, i, &path, rep);
        d.aggregations[i].event_types = resolved;
    }
}

/// The type of `name` on event type `et`, including envelope fields.
pub fn field_type<'a>(
    et: &'a EventTypeConfig,
    pk: &str,
    name: &str,
) -> Option<std::borrow::Cow<'a, FieldType>> {
    use std::borrow::Cow;
    if name == EVENT_TYPE || name == EVENT_ID || name == SESSION_ID || name == pk {
        return Some(Cow::Owned(FieldType::String));
    }
    if name == EVENT_TIME {
        return Some(Cow::Owned(FieldType::Timestamp));
    }
    et.fields()
        .find(|f| f.name.value == name)
        .map(|f| Cow::Borrowed(&f.ty))
}

fn all_field_names(d: &DomainConfig) -> BTreeSet<&str> {
    let mut s: BTreeSet<&str> = d
        .event_types
        .iter()
        .flat_map(|e| e.fields().map(|f| f.name.value.as_str()))
        .collect();
    s.extend([
        EVENT_TYPE,
        EVENT_ID,
        SESSION_ID,
        EVENT_TIME,
        d.entity.primary_key.value.as_str(),
    ]);
    s
}

fn aggregation(
    d: &DomainConfig,
    i: usize,
    path: &str,
    rep: &mut Reporter<'_>,
) -> Vec<Spanned<String>> {
    let a = &d.aggregations[i];
    field_presence(a, path, rep);
    aggregation_window(a, path, rep);
    if !known_names(d, a, path, rep) {
        return a.event_types.clone();
    }
    let feeding = feeding_event_types(d, a, path, rep);
    field_types(d, a, &feeding, path, rep);
    feeding
}

/// A field where the aggregate needs one (and none where it does not);
/// quantiles only on percentiles.
fn field_presence(a: &AggregationConfig, path: &str, rep: &mut Reporter<'_>) {
    let kind = a.kind.value;
    match (&a.field, kind.needs_field()) {
        (None, true) => {
            rep.error(
                a.kind.pos,
                path,
                format!("`{kind}` needs a `field` to read"),
            );
        }
        (Some(f), false) => {
            rep.error(f.pos, &format!("{path}.field"), "`count` counts events and takes no `field`; use a `filter` to count only some events");
        }
        _ => {}
    }
    if !a.quantiles.is_empty() && kind != AggregateKind::Percentile {
        rep.error(
            a.pos,
            &format!("{path}.quantiles"),
            format!("`quantiles` only applies to `percentile`, not `{kind}`"),
        );
    }
}

/// The window: positive sizes, steps that divide, a bounded number of
/// windows per event.
fn aggregation_window(a: &AggregationConfig, path: &str, rep: &mut Reporter<'_>) {
    let w = &a.window;
    let wpath = format!("{path}.window");
    let positive = |d: sluice_core::HumanDuration| d.0.as_millis() > 0;
    match w.value {
        WindowSpec::Tumbling { size } if !positive(size) => {
            rep.error(w.pos, &wpath, "window duration must be greater than zero");
        }
        WindowSpec::Sliding { size, slide } => {
            if !positive(size) || !positive(slide) {
                rep.error(
                    w.pos,
                    &wpath,
                    "window duration and slide must be greater than zero",
                );
            } else if slide > size {
                rep.error(w.pos, &wpath, format!("slide `{slide}` is longer than the window `{size}`; events would fall between windows"));
            } else if size.0.as_millis() % slide.0.as_millis() != 0 {
                rep.expected(
                    w.pos,
                    &wpath,
                    format!("slide `{slide}` does not divide the window duration `{size}`"),
                    "a slide that divides the duration, e.g. duration `5m` with slide `1m`",
                );
            } else {
                too_many_windows(size, slide, "duration", "slide", w.pos, &wpath, rep);
            }
        }
        WindowSpec::Session { gap } if !positive(gap) => {
            rep.error(w.pos, &wpath, "session gap must be greater than zero");
        }
        WindowSpec::Cumulative { step, max_size } => {
            if !positive(step) || !positive(max_size) {
                rep.error(
                    w.pos,
                    &wpath,
                    "cumulative step and max_size must be greater than zero",
                );
            } else if max_size.0.as_millis() % step.0.as_millis() != 0 {
                rep.error(
                    w.pos,
                    &wpath,
                    format!("step `{step}` does not divide max_size `{max_size}`"),
                );
            } else {
                too_many_windows(max_size, step, "max_size", "step", w.pos, &wpath, rep);
            }
        }
        _ => {}
    }
}

/// Every field the aggregation names (its field, group-by, filters) exists
/// in some event type of the domain; `false` when one does not.
fn known_names(
    d: &DomainConfig,
    a: &AggregationConfig,
    path: &str,
    rep: &mut Reporter<'_>,
) -> bool {
    let known_fields = all_field_names(d);
    let check_known = |name: &Spanned<String>, p: String, rep: &mut Reporter<'_>| -> bool {
        if known_fields.contains(name.value.as_str()) {
            return true;
        }
        let d = rep.error(
            name.pos,
            &p,
            format!("unknown field `{}`: no event type declares it", name.value),
        );
        d.suggestion = suggest(&name.value, known_fields.iter().copied());
        false
    };
    let mut fields_ok = true;
    if let Some(f) = &a.field {
        fields_ok &= check_known(f, format!("{path}.field"), rep);
    }
    let mut seen_group: BTreeSet<&str> = BTreeSet::new();
    for (j, g) in a.group_by.iter().enumerate() {
        fields_ok &= check_known(g, format!("{path}.group_by[{j}]"), rep);
        if !seen_group.insert(&g.value) {
            rep.error(
                g.pos,
                &format!("{path}.group_by[{j}]"),
                format!("`{}` is listed twice in group_by", g.value),
            );
        }
    }
    for (j, p) in a.filter.iter().enumerate() {
        let name = Spanned::new(p.value.field.clone(), p.pos);
        fields_ok &= check_known(&name, format!("{path}.filter[{j}].field"), rep);
    }
    fields_ok
}

/// The event types that feed the aggregation: the listed ones, each
/// checked to carry every field it needs, or every event type that does.
fn feeding_event_types(
    d: &DomainConfig,
    a: &AggregationConfig,
    path: &str,
    rep: &mut Reporter<'_>,
) -> Vec<Spanned<String>> {
    let pk = d.entity.primary_key.value.as_str();
    let needed: Vec<&str> = a
        .field
        .iter()
        .map(|f| f.value.as_str())
        .chain(a.group_by.iter().map(|g| g.value.as_str()))
        .chain(a.filter.iter().map(|p| p.value.field.as_str()))
        .collect();
    if a.event_types.is_empty() {
        let auto: Vec<Spanned<String>> = d
            .event_types
            .iter()
            .filter(|et| needed.iter().all(|n| field_type(et, pk, n).is_some()))
            .map(|et| Spanned::new(et.name.value.clone(), a.pos))
            .collect();
        if auto.is_empty() {
            rep.error(
                a.pos,
                path,
                format!(
                    "no event type has all of the fields this aggregation needs ({})",
                    needed
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        auto
    } else {
        let type_names: Vec<&str> = d
            .event_types
            .iter()
            .map(|e| e.name.value.as_str())
            .collect();
        for (j, et_name) in a.event_types.iter().enumerate() {
            let p = format!("{path}.event_types[{j}]");
            match d.event_types.iter().find(|e| e.name.value == et_name.value) {
                None => {
                    let diag = rep.error(
                        et_name.pos,
                        &p,
                        format!("unknown event type `{}`", et_name.value),
                    );
                    diag.suggestion = suggest(&et_name.value, type_names.iter().copied());
                }
                Some(et) => {
                    for (j, g) in a.group_by.iter().enumerate() {
                        if field_type(et, pk, &g.value).is_none() {
                            rep.error(
                                g.pos,
                                &format!("{path}.group_by[{j}]"),
                                format!("dimension `{}` is not defined on event type `{}`, which feeds this aggregation", g.value, et.name.value),
                            );
                        }
                    }
                    if let Some(f) = &a.field {
                        if field_type(et, pk, &f.value).is_none() {
                            rep.error(f.pos, &format!("{path}.field"), format!("field `{}` is not defined on event type `{}`, which feeds this aggregation", f.value, et.name.value));
                        }
                    }
                    for (j, pr) in a.filter.iter().enumerate() {
                        if field_type(et, pk, &pr.value.field).is_none() {
                            rep.error(
                                pr.pos,
                                &format!("{path}.filter[{j}]"),
                                format!(
                                    "filter field `{}` is not defined on event type `{}`",
                                    pr.value.field, et.name.value
                                ),
                            );
                        }
                    }
                }
            }
        }
        a.event_types.clone()
    }
}

/// Field types across the feeding event types: numeric where the aggregate
/// needs it, one type everywhere, filter literals of the field's type.
fn field_types(
    d: &DomainConfig,
    a: &AggregationConfig,
    feeding: &[Spanned<String>],
    path: &str,
    rep: &mut Reporter<'_>,
) {
    let pk = d.entity.primary_key.value.as_str();
    let kind = a.kind.value;
    let feeding_types: Vec<&EventTypeConfig> = feeding
        .iter()
        .filter_map(|n| d.event_types.iter().find(|e| e.name.value == n.value))
        .collect();
    if let Some(f) = &a.field {
        let mut first: Option<FieldType> = None;
        for et in &feeding_types {
            let Some(t) = field_type(et, pk, &f.value) else {
                continue;
            };
            if kind.needs_numeric_field() && !t.is_numeric() {
                rep.expected(
                    f.pos,
                    &format!("{path}.field"),
                    format!(
                        "`{kind}` over field `{}` of type `{}` on event type `{}`",
                        f.value,
                        t.name(),
                        et.name.value
                    ),
                    "a numeric field (int, long, double or money)",
                );
                break;
            }
            match &first {
                None => first = Some(t.into_owned()),
                Some(ft) if *ft != *t => {
                    rep.error(
                        f.pos,
                        &format!("{path}.field"),
                        format!("field `{}` has type `{}` on event type `{}` but `{}` elsewhere; an aggregation needs one type (and one currency)", f.value, t.name(), et.name.value, ft.name()),
                    );
                    break;
                }
                _ => {}
            }
        }
    }
    for (j, pr) in a.filter.iter().enumerate() {
        let Some(t) = feeding_types
            .iter()
            .find_map(|et| field_type(et, pk, &pr.value.field))
        else {
            continue;
        };
        if let Err(msg) = check_literal(&t, pr.value.op, &pr.value.value) {
            rep.error(pr.pos, &format!("{path}.filter[{j}]"), msg);
        }
    }
}

/// The engine refuses windows that put one event in more than
/// [`MAX_WINDOWS_PER_EVENT`] windows (`size / step`, rounded up, as the engine
/// counts them).
fn too_many_windows(
    size: HumanDuration,
    step: HumanDuration,
    size_key: &str,
    step_key: &str,
    pos: Pos,
    path: &str,
    rep: &mut Reporter<'_>,
) {
    let (size_ms, step_ms) = (size.0.as_millis(), step.0.as_millis());
    let limit = MAX_WINDOWS_PER_EVENT as u128;
    let count = size_ms.div_ceil(step_ms);
    if count <= limit {
        return;
    }
    let d = rep.error(
        pos,
        path,
        format!("{size_key} `{size}` with {step_key} `{step}` puts each event in {count} windows"),
    );
    d.expected = Some(format!(
        "at most {MAX_WINDOWS_PER_EVENT} windows per event ({size_key} / {step_key})"
    ));
    let min_step = size_ms.div_ceil(limit);
    d.suggestion = Some(match smallest_divisor(size_ms, min_step) {
        Some(ms) => format!(
            "use a {step_key} of `{}` or longer that divides the {size_key}",
            HumanDuration(std::time::Duration::from_millis(
                u64::try_from(ms).unwrap_or(u64::MAX)
            ))
        ),
        None => format!("use a longer {step_key}, one that divides the {size_key}"),
    });
}

/// The smallest divisor of `size` (ms) that is at least `min`, preferring
/// whole seconds; `None` when a short search finds none.
fn smallest_divisor(size: u128, min: u128) -> Option<u128> {
    for unit in [1000u128, 1] {
        let first = min.div_ceil(unit) * unit;
        let found = (0..100_000u128)
            .map(|k| first + k * unit)
            .take_while(|c| *c <= size)
            .find(|c| size % c == 0);
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Checks the Kafka topics every domain gets: each rendered name legal, and
/// the dead-letter topic of a domain not also an event type's topic. Reports
/// at the template when it was written in a file, otherwise at the domain
/// name or event type that produced the clash.
pub fn topics(p: &PlatformConfig, domains: &[DomainConfig], rep: &mut Reporter<'_>) {
    let k = &p.kafka;
    let mut event_topics: Vec<(String, &DomainConfig, &EventTypeConfig, String)> = Vec::new();
    // names that are not safe identifiers are reported on their own
    let safe = |n: &str| sluice_core::check_identifier(n).is_ok();
    let domains: Vec<&DomainConfig> = domains.iter().filter(|d| safe(&d.domain.value)).collect();
    for d in domains.iter().copied() {
        for (i, et) in d.event_types.iter().enumerate() {
            if !safe(&et.name.value) {
                continue;
            }
            let et_path = format!("event_types[{i}].name");
            let t = rules::render_topic(&k.topic_template, &d.domain.value, Some(&et.name.value));
            if let Err(mut pr) = rules::topic_name(&t) {
                pr.message = format!(
                    "event type `{}` of domain `{}`: {}",
                    et.name.value, d.domain.value, pr.message
                );
                let (pos, path) = match k.topic_template_pos {
                    Some(pos) => (pos, "kafka.topic_template"),
                    None => (et.name.pos, et_path.as_str()),
                };
                rules::report(rep, pos, path, pr);
            }
            event_topics.push((t, d, et, et_path));
        }
    }
    // a template without `{domain}` gives equally named event types of two
    // domains one topic, with two different schemas
    for (i, (t, d, et, et_path)) in event_topics.iter().enumerate() {
        let Some((_, first, _, _)) = event_topics[..i]
            .iter()
            .find(|(u, od, _, _)| u == t && od.domain.value != d.domain.value)
        else {
            continue;
        };
        let (pos, path) = match k.topic_template_pos {
            Some(pos) => (pos, "kafka.topic_template"),
            None => (et.name.pos, et_path.as_str()),
        };
        let diag = rep.error(
            pos,
            path,
            format!(
                "topic `{t}` is shared by event type `{}` of domains `{}` and `{}`",
                et.name.value, first.domain.value, d.domain.value
            ),
        );
        diag.expected = Some("one topic per event type of each domain".into());
        diag.suggestion =
            Some("add `{domain}` to the template, e.g. `{domain}.{event_type}`".into());
    }
    for d in domains.iter().copied() {
        let dlq = rules::render_topic(&k.dlq_topic_template, &d.domain.value, None);
        let (pos, path) = match k.dlq_topic_template_pos {
            Some(pos) => (pos, "kafka.dlq_topic_template"),
            None => (d.domain.pos, "domain"),
        };
        if let Err(mut pr) = rules::topic_name(&dlq) {
            pr.message = format!(
                "dead-letter topic of domain `{}`: {}",
                d.domain.value, pr.message
            );
            rules::report(rep, pos, path, pr);
            continue;
        }
        for (t, od, et, et_path) in &event_topics {
            if *t != dlq {
                continue;
            }
            let message = format!(
                "dead-letter topic `{dlq}` of domain `{}` is also the topic of event type `{}` of domain `{}`",
                d.domain.value, et.name.value, od.domain.value
            );
            let (pos, path, suggestion) = match k.dlq_topic_template_pos {
                Some(_) => (
                    pos,
                    path,
                    "use a name no event type gets, e.g. `{domain}.dlq`",
                ),
                None => (
                    et.name.pos,
                    et_path.as_str(),
                    "rename the event type or set `kafka.dlq_topic_template`",
                ),
            };
            let diag = rep.error(pos, path, message);
            diag.expected = Some("a dead-letter topic separate from every event topic".into());
            diag.suggestion = Some(suggestion.into());
        }
    }
}

fn check_literal(ty: &FieldType, op: CompareOp, lit: &Literal) -> Result<(), String> {
    if let Literal::List(items) = lit {
        return items
            .iter()
            .try_for_each(|l| check_literal(ty, CompareOp::Eq, l));
    }
    let ordered = matches!(
        op,
        CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
    );
    match (ty, lit) {
        (FieldType::Enum { symbols }, Literal::Str(s)) => {
            if ordered {
                Err(format!("`{op}` does not apply to enum values"))
            } else if symbols.contains(s) {
                Ok(())
            } else {
                Err(format!(
                    "`{s}` is not a symbol of this enum{}",
                    suggest(s, symbols.iter().map(String::as_str))
                        .map(|s| format!("; {s}"))
                        .unwrap_or_default()
                ))
            }
        }
        (FieldType::String, Literal::Str(_)) => Ok(()),
        (FieldType::String, Literal::Int(_) | Literal::Decimal(_) | Literal::Bool(_)) => {
            Err("compare a string field with a quoted string".into())
        }
        (FieldType::Boolean, Literal::Bool(_)) => {
            if ordered {
                Err(format!("`{op}` does not apply to booleans"))
            } else {
                Ok(())
            }
        }
        (FieldType::Int | FieldType::Long | FieldType::Timestamp, Literal::Int(_)) => Ok(()),
        (FieldType::Double, Literal::Int(_) | Literal::Decimal(_)) => Ok(()),
        (FieldType::Money { scale, .. }, Literal::Int(_)) => {
            let _ = scale;
            Ok(())
        }
        (FieldType::Money { scale, currency }, Literal::Decimal(t)) => {
            decimal_to_minor(t, *scale).map(|_| ()).ok_or_else(|| {
                format!("`{t}` is not an exact {currency} amount with at most {scale} decimals")
            })
        }
        (t, l) => Err(format!(
            "value {l:?} cannot be compared with a `{}` field",
            t.name()
        )),
    }
}
