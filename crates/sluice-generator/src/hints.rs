//! Generator hints: decoding the raw `generator:` YAML nodes of a domain into
//! a compiled [`Plan`], reporting every problem through the configuration's
//! [`Reporter`] (file, line, column, key path, suggestion), exactly like the
//! rest of the configuration.
//!
//! Where a field has no hint, a default is chosen by field name (`country`,
//! `device_type`, `*_url`, `*_id`, `latency_ms`, money, ...) and then by type.
//! Defaults are written as YAML snippets and decoded through the same code as
//! user hints, so they obey the same rules (a test checks each one).
//!
//! The reference is the README section "Generator hints".

use std::collections::BTreeMap;

use sluice_config::diag::{one_of, suggest, Pos, Reporter, SourceMap};
use sluice_config::read::{self, MapReader};
use sluice_config::yaml::{YNode, YValue};
use sluice_config::DomainConfig;
use sluice_core::filter::decimal_to_minor;
use sluice_core::FieldType;

use crate::dist::{Alias, Continuous, Zipf};
use crate::plan::*;
use crate::rng::hash_str;
use crate::template::Template;

/// Default simulated start: 2024-01-01T00:00:00Z.
pub const DEFAULT_START_MS: i64 = 1_704_067_200_000;
/// Default number of entities.
pub const DEFAULT_POPULATION: u64 = 10_000;
/// Default concurrent sessions.
pub const DEFAULT_CONCURRENT: u64 = 1_000;
/// Default null rate of optional fields.
pub const DEFAULT_NULL_RATE: f64 = 0.1;

/// Checks the generator hints of a domain, reporting every problem into
/// `rep` (so `sluice validate` shows hint errors with all other config errors).
pub fn validate_hints(domain: &DomainConfig, rep: &mut Reporter<'_>) {
    let _ = compile(domain, rep);
}

/// Compiles the hints of a domain. Returns `None` when anything was reported.
pub fn compile(domain: &DomainConfig, rep: &mut Reporter<'_>) -> Option<Plan> {
    let before = rep.count();
    let all_fields: BTreeMap<&str, &FieldType> = domain
        .event_types
        .iter()
        .flat_map(|e| e.fields().map(|f| (f.name.value.as_str(), &f.ty)))
        .collect();
    let field_names: Vec<&str> = all_fields.keys().copied().collect();
    let type_names: Vec<&str> = domain
        .event_types
        .iter()
        .map(|e| e.name.value.as_str())
        .collect();
    let d = domain_hints(domain, &field_names, rep);
    let e = entity_hints(domain, &field_names, rep)?;
    let activity = match e.activity {
        Some(s) => Zipf::new(e.population, s),
        None => None,
    };
    let (mut events, choice_texts, pending) = event_plans(domain, &d, &e, rep);
    resolve_depends(&mut events, &choice_texts, pending, rep);
    order_fields(domain, &mut events, rep);
    let tracked = track_previous(domain, &mut events, rep);
    let journey = match d.journey {
        Some(n) => journey(n, &type_names, rep),
        None => default_journey(&events, d.mean_events),
    };
    if rep.count() != before {
        return None;
    }
    Some(Plan {
        domain: domain.domain.value.clone(),
        events,
        entity: EntityPlan {
            population: e.population,
            key: e.key,
            activity,
        },
        journey: journey?,
        sessions: SessionPlan {
            concurrent: d.concurrent,
            gap: d.gap,
            max_events: d.max_events,
        },
        start_time: d.start_time,
        tracked,
    })
}

/// The domain's `generator:` hints: time, sessions, think time, journey and
/// domain-wide field hints (defaults where absent).
struct DomainHints<'a> {
    start_time: i64,
    concurrent: u64,
    gap: Continuous,
    max_events: u32,
    mean_events: f64,
    think: Continuous,
    journey: Option<&'a YNode>,
    fields: BTreeMap<String, &'a YNode>,
}

fn domain_hints<'a>(
    domain: &'a DomainConfig,
    field_names: &[&str],
    rep: &mut Reporter<'_>,
) -> DomainHints<'a> {
    let mut start_time = DEFAULT_START_MS;
    let mut concurrent = DEFAULT_CONCURRENT;
    let mut gap = Continuous::Exponential { mean: 300_000.0 };
    let mut max_events: u32 = 1_000;
    let mut mean_events = 5.0;
    let mut think = Continuous::Exponential { mean: 10_000.0 };
    let mut journey_node: Option<&YNode> = None;
    let mut domain_fields: BTreeMap<String, &YNode> = BTreeMap::new();
    if let Some(g) = &domain.generator {
        if let Some(mut m) = MapReader::new(g, "generator", rep) {
            if let Some(n) = m.optional("start_time") {
                let p = m.key_path("start_time");
                if let Some(t) = read::text(n, &p, "a UTC time", rep) {
                    match crate::time::parse_utc_millis(t) {
                        Some(ms) => start_time = ms,
                        None => rep.expected(n.pos, &p, format!("bad time `{t}`"), "a UTC time such as `2024-01-01T00:00:00Z`, a date, or epoch milliseconds"),
                    }
                }
            }
            if let Some(n) = m.optional("sessions") {
                let p = m.key_path("sessions");
                if let Some(mut s) = MapReader::new(n, &p, rep) {
                    if let Some(v) = s
                        .optional("concurrent")
                        .and_then(|v| read::uint(v, &s.key_path("concurrent"), rep))
                    {
                        if v == 0 || v > crate::generator::MAX_CONCURRENT {
                            rep.expected(
                                s.pos,
                                &s.key_path("concurrent"),
                                format!("`{v}` concurrent sessions"),
                                "1 to 1000000",
                            );
                        } else {
                            concurrent = v;
                        }
                    }
                    if let Some(v) = s.optional("gap") {
                        if let Some(d) = duration_dist(v, &s.key_path("gap"), rep) {
                            gap = d;
                        }
                    }
                    if let Some(v) = s
                        .optional("max_events")
                        .and_then(|v| read::uint(v, &s.key_path("max_events"), rep))
                    {
                        if v == 0 || v > u32::MAX as u64 {
                            rep.expected(
                                s.pos,
                                &s.key_path("max_events"),
                                format!("`{v}` events"),
                                "at least 1",
                            );
                        } else {
                            max_events = v as u32;
                        }
                    }
                    if let Some(v) = s
                        .optional("mean_events")
                        .and_then(|v| read::float(v, &s.key_path("mean_events"), rep))
                    {
                        if v < 1.0 {
                            rep.expected(
                                s.pos,
                                &s.key_path("mean_events"),
                                format!("`{v}` events"),
                                "a mean of at least 1 event per session",
                            );
                        } else {
                            mean_events = v;
                        }
                    }
                    s.finish(rep);
                }
            }
            if let Some(n) = m.optional("think_time") {
                if let Some(d) = duration_dist(n, "generator.think_time", rep) {
                    think = d;
                }
            }
            journey_node = m.optional("journey");
            if let Some(n) = m.optional("fields") {
                domain_fields = fields_map(n, "generator.fields", field_names, rep);
            }
            m.finish(rep);
        }
    }

    DomainHints {
        start_time,
        concurrent,
        gap,
        max_events,
        mean_events,
        think,
        journey: journey_node,
        fields: domain_fields,
    }
}

/// The entity's `generator:` hints: population, key template, activity
/// skew and entity-scoped field hints. `None` when the default key
/// template cannot be built.
struct EntityHints<'a> {
    population: u64,
    key: Template,
    activity: Option<f64>,
    fields: BTreeMap<String, &'a YNode>,
}

fn entity_hints<'a>(
    domain: &'a DomainConfig,
    field_names: &[&str],
    rep: &mut Reporter<'_>,
) -> Option<EntityHints<'a>> {
    let stem = entity_stem(domain);
    let mut population = DEFAULT_POPULATION;
    let mut key_template = Template::parse(&format!("{stem}_{{seq}}")).ok()?;
    let mut activity: Option<f64> = None;
    let mut entity_fields: BTreeMap<String, &YNode> = BTreeMap::new();
    if let Some(g) = &domain.entity.generator {
        let path = "entity.generator";
        if let Some(mut m) = MapReader::new(g, path, rep) {
            if let Some(v) = m
                .optional("population")
                .and_then(|n| read::uint(n, &m.key_path("population"), rep))
            {
                if v == 0 || v > u32::MAX as u64 {
                    rep.expected(
                        m.pos,
                        &m.key_path("population"),
                        format!("population `{v}`"),
                        "1 to 4294967295 entities",
                    );
                } else {
                    population = v;
                }
            }
            if let Some(n) = m.optional("key") {
                let p = m.key_path("key");
                if let Some(t) = read::text(n, &p, "a template", rep) {
                    match Template::parse(t) {
                        Ok(tp) if t.contains("{seq") || t.contains("{entity}") => key_template = tp,
                        Ok(_) => rep.expected(
                            n.pos,
                            &p,
                            format!("key template `{t}` does not make unique keys"),
                            "a template containing `{seq}` or `{entity}`, e.g. `user_{seq:06}`",
                        ),
                        Err(e) => rep.error(n.pos, &p, e).suggestion = None,
                    }
                }
            }
            if let Some(n) = m.optional("activity") {
                activity = activity_hint(n, &m.key_path("activity"), rep);
            }
            if let Some(n) = m.optional("fields") {
                entity_fields = fields_map(n, &m.key_path("fields"), field_names, rep);
            }
            m.finish(rep);
        }
    }
    Some(EntityHints {
        population,
        key: key_template,
        activity,
        fields: entity_fields,
    })
}

/// Per event type: texts of each field's `values` (for `depends_on`), `None`
/// where the field is not generated from a list.
type ChoiceTexts = Vec<Vec<Option<Vec<String>>>>;

/// One plan per event type, each field's generator decoded from the most
/// specific hint (field, event type, domain, entity); `depends_on` hints are
/// returned as `(event type, field, hint)` for [`resolve_depends`].
fn event_plans<'a>(
    domain: &'a DomainConfig,
    d: &DomainHints<'a>,
    e: &EntityHints<'a>,
    rep: &mut Reporter<'_>,
) -> (
    Vec<EventPlan>,
    ChoiceTexts,
    Vec<(usize, usize, Depends<'a>)>,
) {
    let (domain_fields, entity_fields, think) = (&d.fields, &e.fields, &d.think);
    let layouts = domain.layouts();
    let mut events = Vec::new();
    let mut choice_texts: ChoiceTexts = Vec::new();
    let mut pending_depends = Vec::new();
    for (i, (et, layout)) in domain.event_types.iter().zip(layouts).enumerate() {
        let epath = format!("event_types[{i}].generator");
        let own_names: Vec<&str> = et.fields().map(|f| f.name.value.as_str()).collect();
        let mut ev_think = None;
        let mut weight = 1.0;
        let mut ev_fields: BTreeMap<String, &YNode> = BTreeMap::new();
        if let Some(g) = &et.generator {
            if let Some(mut m) = MapReader::new(g, &epath, rep) {
                if let Some(n) = m.optional("think_time") {
                    ev_think = duration_dist(n, &m.key_path("think_time"), rep);
                }
                if let Some(w) = m
                    .optional("weight")
                    .and_then(|n| read::float(n, &m.key_path("weight"), rep))
                {
                    if w < 0.0 {
                        rep.expected(
                            m.pos,
                            &m.key_path("weight"),
                            format!("weight `{w}`"),
                            "a weight of 0 or more",
                        );
                    } else {
                        weight = w;
                    }
                }
                if let Some(n) = m.optional("fields") {
                    ev_fields = fields_map(n, &m.key_path("fields"), &own_names, rep);
                }
                m.finish(rep);
            }
        }
        let mut fields = Vec::new();
        let mut texts = Vec::new();
        let fpaths: Vec<String> = et
            .attributes
            .iter()
            .enumerate()
            .map(|(j, _)| format!("event_types[{i}].attributes[{j}].generator"))
            .chain(
                et.dimensions
                    .iter()
                    .enumerate()
                    .map(|(j, _)| format!("event_types[{i}].dimensions[{j}].generator")),
            )
            .collect();
        for (j, f) in et.fields().enumerate() {
            let name = f.name.value.as_str();
            let (node, path, default_scope) = if let Some(n) = &f.generator {
                (Some(n), fpaths[j].clone(), Scope::Event)
            } else if let Some(n) = ev_fields.get(name) {
                (Some(*n), format!("{epath}.fields.{name}"), Scope::Event)
            } else if let Some(n) = domain_fields.get(name) {
                (Some(*n), format!("generator.fields.{name}"), Scope::Event)
            } else if let Some(n) = entity_fields.get(name) {
                (
                    Some(*n),
                    format!("entity.generator.fields.{name}"),
                    Scope::Entity,
                )
            } else {
                (None, String::new(), Scope::Event)
            };
            let decoded = match node {
                Some(n) => decode_field(n, &path, name, &f.ty, f.optional, default_scope, rep),
                None => Some(default_field(name, &f.ty, f.optional)),
            };
            let Some(d) = decoded else {
                fields.push(placeholder_field(name, &f.ty));
                texts.push(None);
                continue;
            };
            if let Some(dep) = d.depends {
                pending_depends.push((i, j, dep));
            }
            texts.push(d.texts);
            fields.push(FieldGen {
                name: name.to_string(),
                ty: f.ty.clone(),
                scope: d.scope,
                key: hash_str(name),
                null_rate: d.null_rate,
                gen: d.gen,
                tracked: None,
            });
        }
        let think_time = ev_think.unwrap_or_else(|| think.clone());
        let mut type_bytes = Vec::new();
        crate::encode::put_str(&mut type_bytes, et.name.value.as_bytes());
        events.push(EventPlan {
            name: et.name.value.clone(),
            layout,
            order: (0..fields.len()).collect(),
            fields,
            think_time,
            weight,
            type_bytes,
            name_padded: crate::template::padded(et.name.value.as_bytes()),
        });
        choice_texts.push(texts);
    }

    (events, choice_texts, pending_depends)
}

/// Turns each `depends_on` hint into a per-parent-value generator.
fn resolve_depends(
    events: &mut [EventPlan],
    choice_texts: &ChoiceTexts,
    pending_depends: Vec<(usize, usize, Depends<'_>)>,
    rep: &mut Reporter<'_>,
) {
    for (i, j, dep) in pending_depends {
        let ev = &events[i];
        let Some(parent) = ev.fields.iter().position(|f| f.name == dep.parent) else {
            let names: Vec<&str> = ev.fields.iter().map(|f| f.name.as_str()).collect();
            let d = rep.error(
                dep.parent_pos,
                &dep.path,
                format!(
                    "`depends_on: {}`: event type `{}` has no such field",
                    dep.parent, ev.name
                ),
            );
            d.suggestion = suggest(&dep.parent, names.iter().copied());
            continue;
        };
        if parent == j {
            rep.error(dep.parent_pos, &dep.path, "a field cannot depend on itself");
            continue;
        }
        let Some(ptexts) = choice_texts[i][parent].clone() else {
            rep.expected(
                dep.parent_pos,
                &dep.path,
                format!(
                    "`depends_on: {}`: that field is not generated from `values`",
                    dep.parent
                ),
                "a parent field with a `values` list (or an enum)",
            );
            continue;
        };
        let fty = ev.fields[j].ty.clone();
        let fname = ev.fields[j].name.clone();
        let mut cases: Vec<Option<ValueGen>> = vec![None; ptexts.len()];
        for (key, kpos, node) in &dep.cases {
            let cpath = format!("{}.cases.{key}", dep.path);
            let Some(idx) = ptexts.iter().position(|t| t == key) else {
                let d = rep.error(
                    *kpos,
                    &cpath,
                    format!("`{key}` is not a value of `{}`", dep.parent),
                );
                d.suggestion = suggest(key, ptexts.iter().map(String::as_str));
                d.expected = Some(one_of(
                    &ptexts.iter().map(String::as_str).collect::<Vec<_>>(),
                ));
                continue;
            };
            let Some(mut m) = MapReader::new(node, &cpath, rep) else {
                continue;
            };
            let v = decode_value(&mut m, &cpath, &fname, &fty, rep);
            m.finish(rep);
            if let Some((g, _)) = v {
                cases[idx] = Some(g);
            }
        }
        let fallback = match dep.default {
            Some(node) => {
                let dpath = format!("{}.default", dep.path);
                MapReader::new(node, &dpath, rep).and_then(|mut m| {
                    let v = decode_value(&mut m, &dpath, &fname, &fty, rep);
                    m.finish(rep);
                    v.map(|(g, _)| g)
                })
            }
            None => None,
        };
        let missing: Vec<&str> = ptexts
            .iter()
            .zip(&cases)
            .filter(|(_, c)| c.is_none())
            .map(|(t, _)| t.as_str())
            .collect();
        if fallback.is_none() && dep.default.is_none() && !missing.is_empty() {
            rep.expected(
                dep.pos,
                &dep.path,
                format!(
                    "no case for {}",
                    one_of(&missing).trim_start_matches("one of ")
                ),
                "a case for every value of the parent, or a `default`",
            );
            continue;
        }
        let Some(fallback) = fallback.or_else(|| cases.iter().flatten().next().cloned()) else {
            continue;
        };
        let cases: Vec<ValueGen> = cases
            .into_iter()
            .map(|c| c.unwrap_or_else(|| fallback.clone()))
            .collect();
        let ev = &mut events[i];
        ev.fields[j].gen = ValueGen::Depends {
            parent,
            cases,
            fallback: Box::new(fallback),
        };
    }
}

/// Orders each event type's fields so a parent is generated before the
/// fields that depend on it; a cycle is an error.
fn order_fields(domain: &DomainConfig, events: &mut [EventPlan], rep: &mut Reporter<'_>) {
    for (i, ev) in events.iter_mut().enumerate() {
        match generation_order(&ev.fields) {
            Some(o) => ev.order = o,
            None => {
                rep.error(
                    domain.event_types[i].pos,
                    &format!("event_types[{i}]"),
                    "`depends_on` forms a cycle",
                );
            }
        }
    }
}

/// Numbers the fields with `scope: previous` across event types (the
/// generator keeps their last value per entity); returns how many.
fn track_previous(
    domain: &DomainConfig,
    events: &mut [EventPlan],
    rep: &mut Reporter<'_>,
) -> usize {
    let mut tracked_names: BTreeMap<String, (usize, FieldType)> = BTreeMap::new();
    for ev in events.iter() {
        for f in &ev.fields {
            if f.scope == Scope::Previous && !tracked_names.contains_key(&f.name) {
                let k = tracked_names.len();
                tracked_names.insert(f.name.clone(), (k, f.ty.clone()));
            }
        }
    }
    for (ei, ev) in events.iter_mut().enumerate() {
        for f in ev.fields.iter_mut() {
            if let Some((k, ty)) = tracked_names.get(&f.name) {
                if *ty != f.ty {
                    rep.error(
                        domain.event_types[ei].pos,
                        &format!("event_types[{ei}]"),
                        format!("`scope: previous` on `{}` needs the field to have the same type in every event type (`{}` here, `{}` elsewhere)", f.name, f.ty, ty),
                    );
                }
                f.tracked = Some(*k);
            }
        }
    }

    tracked_names.len()
}

/// Compiles with a throwaway source map: positions print as `<unknown>`.
pub fn compile_standalone(domain: &DomainConfig) -> Result<Plan, sluice_config::Diagnostics> {
    let sources = SourceMap::default();
    compile_with_sources(domain, &sources)
}

/// Compiles, resolving positions through the configuration's source map.
pub fn compile_with_sources(
    domain: &DomainConfig,
    sources: &SourceMap,
) -> Result<Plan, sluice_config::Diagnostics> {
    let mut rep = Reporter::new(sources);
    let plan = compile(domain, &mut rep);
    let diags = rep.finish();
    match plan {
        Some(p) if diags.is_empty() => Ok(p),
        _ => Err(diags),
    }
}

fn entity_stem(domain: &DomainConfig) -> String {
    if let Some(n) = &domain.entity.name {
        if !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return n.clone();
        }
    }
    let pk = domain.entity.primary_key.value.as_str();
    pk.strip_suffix("_id")
        .or_else(|| pk.strip_suffix("_name"))
        .unwrap_or(pk)
        .to_string()
}

fn placeholder_field(name: &str, ty: &FieldType) -> FieldGen {
    let d = default_field(name, ty, false);
    FieldGen {
        name: name.to_string(),
        ty: ty.clone(),
        scope: d.scope,
        key: hash_str(name),
        null_rate: 0.0,
        gen: d.gen,
        tracked: None,
    }
}

/// Parents before dependants; `None` on a cycle.
fn generation_order(fields: &[FieldGen]) -> Option<Vec<usize>> {
    let parent = |i: usize| match &fields[i].gen {
        ValueGen::Depends { parent, .. } => Some(*parent),
        _ => None,
    };
    let mut order = Vec::with_capacity(fields.len());
    let mut done = vec![false; fields.len()];
    while order.len() < fields.len() {
        let mut progressed = false;
        for i in 0..fields.len() {
            if !done[i] && parent(i).is_none_or(|p| done[p]) {
                done[i] = true;
                order.push(i);
                progressed = true;
            }
        }
        if !progressed {
            return None;
        }
    }
    Some(order)
}

/// A `fields:` mapping of field name → hint, checking the names.
fn fields_map<'a>(
    node: &'a YNode,
    path: &str,
    known: &[&str],
    rep: &mut Reporter<'_>,
) -> BTreeMap<String, &'a YNode> {
    let mut out = BTreeMap::new();
    let YValue::Map(entries) = &node.value else {
        rep.expected(
            node.pos,
            path,
            format!("found {}", node.kind()),
            "a mapping of field name to hint",
        );
        return out;
    };
    for (k, v) in entries {
        if known.contains(&k.name.as_str()) {
            out.insert(k.name.clone(), v);
        } else {
            let d = rep.error(
                k.pos,
                &format!("{path}.{}", k.name),
                format!("unknown field `{}`", k.name),
            );
            d.suggestion = suggest(&k.name, known.iter().copied());
            d.expected = Some(one_of(known));
        }
    }
    out
}

/// How activity spreads over entities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activity {
    Uniform,
    Zipf,
}

const ACTIVITY: &[(&str, Activity)] = &[("uniform", Activity::Uniform), ("zipf", Activity::Zipf)];

fn activity_hint(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<f64> {
    if let YValue::Scalar { .. } = node.value {
        return match read::choice(node, path, ACTIVITY, rep)? {
            Activity::Uniform => None,
            Activity::Zipf => Some(1.1),
        };
    }
    let mut m = MapReader::new(node, path, rep)?;
    let kind = m
        .required("distribution", rep)
        .and_then(|n| read::choice(n, &join(path, "distribution"), ACTIVITY, rep));
    let exponent = m
        .optional("exponent")
        .and_then(|n| positive(n, &join(path, "exponent"), rep));
    m.finish(rep);
    match kind? {
        Activity::Uniform => None,
        Activity::Zipf => Some(exponent.unwrap_or(1.1)),
    }
}

fn join(path: &str, key: &str) -> String {
    read::join(path, key)
}

fn positive(n: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<f64> {
    let v = read::float(n, path, rep)?;
    if v > 0.0 {
        Some(v)
    } else {
        rep.expected(
            n.pos,
            path,
            format!("`{v}` is not positive"),
            "a number greater than 0",
        );
        None
    }
}

fn rate(n: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<f64> {
    let v = read::float(n, path, rep)?;
    if (0.0..=1.0).contains(&v) {
        Some(v)
    } else {
        rep.expected(
            n.pos,
            path,
            format!("`{v}` is not a probability"),
            "a number from 0 to 1",
        );
        None
    }
}

// ------------------------------------------------------------------ journeys

fn journey(node: &YNode, types: &[&str], rep: &mut Reporter<'_>) -> Option<JourneyPlan> {
    let path = "generator.journey";
    let YValue::Map(entries) = &node.value else {
        rep.expected(
            node.pos,
            path,
            format!("found {}", node.kind()),
            "a mapping of state (`start` or an event type) to `{next_event: probability}`",
        );
        return None;
    };
    let mut states: Vec<&str> = vec!["start"];
    states.extend(types.iter().copied());
    let mut start = None;
    let mut next: Vec<Option<(Alias, Vec<u32>)>> = vec![None; types.len()];
    let mut ok = true;
    for (k, v) in entries {
        let kpath = format!("{path}.{}", k.name);
        let Some(si) = states.iter().position(|s| *s == k.name) else {
            let d = rep.error(k.pos, &kpath, format!("unknown journey state `{}`", k.name));
            d.suggestion = suggest(&k.name, states.iter().copied());
            d.expected = Some(one_of(&states));
            ok = false;
            continue;
        };
        let YValue::Map(targets) = &v.value else {
            rep.expected(
                v.pos,
                &kpath,
                format!("found {}", v.kind()),
                "a mapping of next event type (or `end`) to probability",
            );
            ok = false;
            continue;
        };
        let mut weights = Vec::new();
        let mut outs = Vec::new();
        let mut total = 0.0;
        for (tk, tv) in targets {
            let tpath = format!("{kpath}.{}", tk.name);
            let target = if tk.name == "end" && si != 0 {
                Some(END)
            } else {
                types.iter().position(|t| *t == tk.name).map(|x| x as u32)
            };
            let Some(target) = target else {
                let mut cands: Vec<&str> = types.to_vec();
                if si != 0 {
                    cands.push("end");
                }
                let d = rep.error(tk.pos, &tpath, format!("unknown event type `{}`", tk.name));
                d.suggestion = suggest(&tk.name, cands.iter().copied());
                d.expected = Some(one_of(&cands));
                ok = false;
                continue;
            };
            let Some(p) = (if si == 0 {
                read::float(tv, &tpath, rep).filter(|p| *p >= 0.0)
            } else {
                rate(tv, &tpath, rep)
            }) else {
                ok = false;
                continue;
            };
            total += p;
            weights.push(p);
            outs.push(target);
        }
        if si == 0 {
            match Alias::new(&weights) {
                Some(a) => start = Some((a, outs)),
                None => {
                    rep.expected(
                        v.pos,
                        &kpath,
                        "the start weights add up to 0",
                        "at least one event type with a positive weight",
                    );
                    ok = false;
                }
            }
        } else {
            if total > 1.0 + 1e-9 {
                rep.expected(
                    v.pos,
                    &kpath,
                    format!("transition probabilities add up to {total}"),
                    "probabilities adding up to at most 1 (the rest ends the session)",
                );
                ok = false;
                continue;
            }
            if total < 1.0 {
                weights.push(1.0 - total);
                outs.push(END);
            }
            match Alias::new(&weights) {
                Some(a) => next[si - 1] = Some((a, outs)),
                None => ok = false,
            }
        }
    }
    let Some((start, start_targets)) = start else {
        if ok {
            rep.expected(
                node.pos,
                path,
                "the journey has no `start` state",
                "`start: { <event type>: weight, ... }`",
            );
        }
        return None;
    };
    if !ok {
        return None;
    }
    let end_only = || (Alias::new(&[1.0]).expect("one positive weight"), vec![END]);
    Some(JourneyPlan {
        start,
        start_targets,
        next: next
            .into_iter()
            .map(|n| n.unwrap_or_else(end_only))
            .collect(),
    })
}

fn default_journey(events: &[EventPlan], mean_events: f64) -> Option<JourneyPlan> {
    let weights: Vec<f64> = events.iter().map(|e| e.weight).collect();
    let targets: Vec<u32> = (0..events.len() as u32).collect();
    let start = Alias::new(&weights)?;
    let stay = 1.0 - 1.0 / mean_events;
    let sum: f64 = weights.iter().sum();
    let mut w: Vec<f64> = weights.iter().map(|x| x / sum * stay).collect();
    w.push(1.0 - stay);
    let mut t = targets.clone();
    t.push(END);
    let table = Alias::new(&w)?;
    Some(JourneyPlan {
        start,
        start_targets: targets,
        next: events.iter().map(|_| (table.clone(), t.clone())).collect(),
    })
}

// ------------------------------------------------------------ distributions

/// A distribution's name in `distribution:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dist {
    Uniform,
    Normal,
    LogNormal,
    Exponential,
    Zipf,
}

const DISTRIBUTIONS: &[(&str, Dist)] = &[
    ("uniform", Dist::Uniform),
    ("normal", Dist::Normal),
    ("lognormal", Dist::LogNormal),
    ("exponential", Dist::Exponential),
    ("zipf", Dist::Zipf),
];

/// A duration distribution in milliseconds: `10s` (constant) or a mapping
/// with `distribution` and duration-valued parameters.
fn duration_dist(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Continuous> {
    if let YValue::Scalar { .. } = node.value {
        return read::duration(node, path, rep)
            .map(|d| Continuous::Constant(d.as_millis_i64() as f64));
    }
    let mut m = MapReader::new(node, path, rep)?;
    let ms = |n: &YNode, p: &str, rep: &mut Reporter<'_>| {
        read::duration(n, p, rep).map(|d| d.as_millis_i64() as f64)
    };
    let d = dist_params(&mut m, path, &ms, rep);
    m.finish(rep);
    d
}

/// Reads `distribution` and its parameters from an open mapping; `num`
/// reads one parameter value (plain number, money in major units, or a
/// duration). Absent `distribution` with `min` and `max` means uniform.
fn dist_params(
    m: &mut MapReader<'_>,
    path: &str,
    num: &dyn Fn(&YNode, &str, &mut Reporter<'_>) -> Option<f64>,
    rep: &mut Reporter<'_>,
) -> Option<Continuous> {
    let kind_node = m.optional("distribution");
    let mut p = BTreeMap::new();
    let mut pos = BTreeMap::new();
    for key in [
        "min", "max", "mean", "stddev", "median", "mu", "sigma", "n", "exponent",
    ] {
        if let Some(n) = m.optional(key) {
            pos.insert(key, n.pos);
            // `mu`, `sigma`, `n` and `exponent` are plain numbers whatever the unit.
            let v = if matches!(key, "mu" | "sigma" | "n" | "exponent") {
                read::float(n, &join(path, key), rep)
            } else {
                num(n, &join(path, key), rep)
            };
            if let Some(v) = v {
                p.insert(key, v);
            }
        }
    }
    let kind = match kind_node {
        Some(n) => read::choice(n, &join(path, "distribution"), DISTRIBUTIONS, rep)?,
        None if p.contains_key("min") && p.contains_key("max") => Dist::Uniform,
        None => {
            rep.expected(
                m.pos,
                path,
                "missing `distribution`",
                one_of(&DISTRIBUTIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
            );
            return None;
        }
    };
    let name = DISTRIBUTIONS
        .iter()
        .find(|(_, d)| *d == kind)
        .map_or("?", |(n, _)| *n);
    let need = |key: &'static str, rep: &mut Reporter<'_>| -> Option<f64> {
        let v = p.get(key).copied();
        if v.is_none() && !pos.contains_key(key) {
            rep.error(m.pos, path, format!("distribution `{name}` needs `{key}`"));
        }
        v
    };
    let bad = |rep: &mut Reporter<'_>, key: &str, msg: &str| {
        rep.expected(
            m.pos,
            &join(path, key),
            msg.to_string(),
            format!("valid parameters for `{name}`"),
        );
    };
    match kind {
        Dist::Uniform => {
            let (lo, hi) = (need("min", rep)?, need("max", rep)?);
            if hi < lo {
                bad(rep, "max", "`max` is below `min`");
                return None;
            }
            Some(Continuous::Uniform { min: lo, max: hi })
        }
        Dist::Normal => {
            let (mean, sd) = (need("mean", rep)?, need("stddev", rep)?);
            if sd < 0.0 {
                bad(rep, "stddev", "`stddev` is negative");
                return None;
            }
            Some(Continuous::Normal { mean, stddev: sd })
        }
        Dist::LogNormal => {
            let mu = match (p.get("median"), p.get("mu")) {
                (Some(med), _) if *med > 0.0 => med.ln(),
                (Some(_), _) => {
                    bad(rep, "median", "`median` must be positive");
                    return None;
                }
                (None, Some(mu)) => *mu,
                (None, None) => {
                    rep.error(
                        m.pos,
                        path,
                        "distribution `lognormal` needs `median` (or `mu`)",
                    );
                    return None;
                }
            };
            let sigma = need("sigma", rep)?;
            if sigma < 0.0 {
                bad(rep, "sigma", "`sigma` is negative");
                return None;
            }
            Some(Continuous::LogNormal { mu, sigma })
        }
        Dist::Exponential => {
            let mean = need("mean", rep)?;
            if mean <= 0.0 {
                bad(rep, "mean", "`mean` must be positive");
                return None;
            }
            Some(Continuous::Exponential { mean })
        }
        Dist::Zipf => {
            let n = need("n", rep)?;
            let s = p.get("exponent").copied().unwrap_or(1.1);
            if n < 1.0 || n.fract() != 0.0 || s <= 0.0 {
                bad(
                    rep,
                    "n",
                    "`n` must be a whole number ≥ 1 and `exponent` positive",
                );
                return None;
            }
            Zipf::new(n as u64, s).map(Continuous::Zipf)
        }
    }
}

// ------------------------------------------------------------------- fields

/// A pending `depends_on`, resolved once every field of the event is compiled.
#[derive(Debug)]
struct Depends<'a> {
    parent: String,
    parent_pos: Pos,
    pos: Pos,
    path: String,
    cases: Vec<(String, Pos, &'a YNode)>,
    default: Option<&'a YNode>,
}

#[derive(Debug)]
struct Decoded<'a> {
    gen: ValueGen,
    texts: Option<Vec<String>>,
    scope: Scope,
    null_rate: f64,
    depends: Option<Depends<'a>>,
}

fn decode_field<'a>(
    node: &'a YNode,
    path: &str,
    name: &str,
    ty: &FieldType,
    optional: bool,
    default_scope: Scope,
    rep: &mut Reporter<'_>,
) -> Option<Decoded<'a>> {
    let before = rep.count();
    let mut m = MapReader::new(node, path, rep)?;
    let scope = m
        .optional("scope")
        .and_then(|n| read::choice(n, &join(path, "scope"), Scope::NAMES, rep))
        .unwrap_or(default_scope);
    let null_rate = match m.optional("null_rate") {
        Some(n) => {
            let r = rate(n, &join(path, "null_rate"), rep);
            if !optional {
                rep.error(n.pos, &join(path, "null_rate"), "`null_rate` applies only to optional fields; add `optional: true` to the field");
            }
            r.unwrap_or(0.0)
        }
        None if optional => DEFAULT_NULL_RATE,
        None => 0.0,
    };
    let depends = match m.optional("depends_on") {
        Some(n) => {
            let parent = read::string(n, &join(path, "depends_on"), rep);
            let mut cases = Vec::new();
            match m.optional("cases") {
                Some(c) => match &c.value {
                    YValue::Map(entries) => {
                        cases.extend(entries.iter().map(|(k, v)| (k.name.clone(), k.pos, v)))
                    }
                    _ => rep.expected(
                        c.pos,
                        &join(path, "cases"),
                        format!("found {}", c.kind()),
                        "a mapping of parent value to hint",
                    ),
                },
                None => {
                    rep.error(n.pos, path, "`depends_on` needs `cases`");
                }
            }
            let default = m.optional("default");
            parent.map(|parent| Depends {
                parent,
                parent_pos: n.pos,
                pos: node.pos,
                path: path.to_string(),
                cases,
                default,
            })
        }
        None => {
            for k in ["cases", "default"] {
                if let Some(n) = m.optional(k) {
                    rep.error(n.pos, &join(path, k), format!("`{k}` needs `depends_on`"));
                }
            }
            None
        }
    };
    let value = if depends.is_some() {
        // The cases give the values; anything else is an error caught as an unknown key.
        Some((default_field("", ty, false).gen, None))
    } else {
        decode_value(&mut m, path, name, ty, rep)
    };
    m.finish(rep);
    let (gen, texts) = value?;
    if rep.count() != before {
        return None;
    }
    Some(Decoded {
        gen,
        texts,
        scope,
        null_rate,
        depends,
    })
}

/// The value part of a hint (everything except scope, null rate and depends).
fn decode_value(
    m: &mut MapReader<'_>,
    path: &str,
    name: &str,
    ty: &FieldType,
    rep: &mut Reporter<'_>,
) -> Option<(ValueGen, Option<Vec<String>>)> {
    let values = m.optional("values");
    let weights = m.optional("weights");
    let template = m.optional("template");
    let true_rate = m.optional("true_rate");
    let has_dist = m.has_key("distribution") || (m.has_key("min") && m.has_key("max"));
    let num_keys = [
        "distribution",
        "min",
        "max",
        "mean",
        "stddev",
        "median",
        "mu",
        "sigma",
        "n",
        "exponent",
        "decimals",
        "drift_per_hour",
        "anomaly",
        "offset",
    ];
    let kinds = [
        values.is_some(),
        template.is_some(),
        true_rate.is_some(),
        has_dist,
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        rep.expected(
            m.pos,
            path,
            "conflicting hints",
            "only one of `values`, `template`, `true_rate` or a `distribution`",
        );
        return None;
    }
    let numeric = num_kind(ty);
    if let Some(n) = weights {
        if values.is_none_or(|v| !matches!(v.value, YValue::Seq(_))) {
            rep.error(
                n.pos,
                &join(path, "weights"),
                "`weights` goes with a `values` list",
            );
        }
    }
    if let Some(v) = values {
        for k in num_keys {
            if let Some(n) = m.optional(k) {
                rep.error(
                    n.pos,
                    &join(path, k),
                    format!("`{k}` does not combine with `values`"),
                );
            }
        }
        return choice_values(v, weights, &join(path, "values"), ty, rep)
            .map(|(g, t)| (g, Some(t)));
    }
    if let Some(n) = template {
        if !matches!(ty, FieldType::String) {
            rep.error(
                n.pos,
                &join(path, "template"),
                format!("`template` applies to string fields; this field is `{ty}`"),
            );
            return None;
        }
        let t = read::text(n, &join(path, "template"), "a template", rep)?;
        return match Template::parse(t) {
            Ok(t) => Some((ValueGen::Template(t), None)),
            Err(e) => {
                rep.error(n.pos, &join(path, "template"), e);
                None
            }
        };
    }
    if let Some(n) = true_rate {
        if !matches!(ty, FieldType::Boolean) {
            rep.error(
                n.pos,
                &join(path, "true_rate"),
                format!("`true_rate` applies to boolean fields; this field is `{ty}`"),
            );
            return None;
        }
        return rate(n, &join(path, "true_rate"), rep)
            .map(|p| (ValueGen::Bool { p_true: p }, None));
    }
    let Some(kind) = numeric else {
        // Only numeric keys can be left; report them as not applicable.
        for k in num_keys {
            if let Some(n) = m.optional(k) {
                rep.error(n.pos, &join(path, k), format!("`{k}` applies to numeric fields; this field is `{ty}` (use `values` or `template`)"));
            }
        }
        let d = default_field(name, ty, false);
        return Some((d.gen, d.texts));
    };
    if !num_keys.iter().any(|k| m.has_key(k)) {
        let d = default_field(name, ty, false);
        return Some((d.gen, d.texts));
    }
    numeric_value(m, path, name, ty, kind, has_dist, rep)
}

/// A numeric field's generator: its distribution, bounds, decimals, drift,
/// anomalies and offset (`has_dist`: a distribution, or `min` and `max`, is
/// given).
fn numeric_value(
    m: &mut MapReader<'_>,
    path: &str,
    name: &str,
    ty: &FieldType,
    kind: NumKind,
    has_dist: bool,
    rep: &mut Reporter<'_>,
) -> Option<(ValueGen, Option<Vec<String>>)> {
    let num = num_reader(kind);
    let dist = if has_dist {
        dist_params(m, path, &num, rep)?
    } else {
        for k in [
            "mean", "stddev", "median", "mu", "sigma", "n", "exponent", "min", "max",
        ] {
            if let Some(n) = m.optional(k) {
                rep.error(
                    n.pos,
                    &join(path, k),
                    format!("`{k}` needs a `distribution`"),
                );
            }
        }
        match default_field(name, ty, false).gen {
            ValueGen::Num(g) => g.dist,
            _ => Continuous::Constant(0.0),
        }
    };
    let (min, max) = bounds(kind, &dist);
    let min = m
        .optional("min")
        .and_then(|n| {
            num(
                n,
                &join(path, "min"),
                &mut Reporter::new(&SourceMap::default()),
            )
        })
        .unwrap_or(min);
    let max = m
        .optional("max")
        .and_then(|n| {
            num(
                n,
                &join(path, "max"),
                &mut Reporter::new(&SourceMap::default()),
            )
        })
        .unwrap_or(max);
    let dist = match (kind, dist) {
        (NumKind::Int | NumKind::Long, Continuous::Uniform { min, max }) => Continuous::Uniform {
            min: min - 0.5,
            max: max + 0.5,
        },
        (_, d) => d,
    };
    let decimals = match m.optional("decimals") {
        Some(n) => {
            let d = read::uint(n, &join(path, "decimals"), rep);
            if kind != NumKind::Double {
                rep.error(
                    n.pos,
                    &join(path, "decimals"),
                    "`decimals` applies to double fields",
                );
            }
            match d {
                Some(d) if d <= 12 => Some(d as u32),
                Some(d) => {
                    rep.expected(
                        n.pos,
                        &join(path, "decimals"),
                        format!("`{d}` decimals"),
                        "0 to 12",
                    );
                    None
                }
                None => None,
            }
        }
        None => None,
    };
    let drift_per_hour = m
        .optional("drift_per_hour")
        .and_then(|n| num(n, &join(path, "drift_per_hour"), rep))
        .unwrap_or(0.0);
    let anomaly = match m.optional("anomaly") {
        Some(n) => {
            let ap = join(path, "anomaly");
            let mut am = MapReader::new(n, &ap, rep)?;
            let r = am
                .required("rate", rep)
                .and_then(|n| rate(n, &join(&ap, "rate"), rep));
            let d = dist_params(&mut am, &ap, &num, rep);
            am.finish(rep);
            Some((r?, d?))
        }
        None => None,
    };
    let offset = match m.optional("offset") {
        Some(n) => {
            let op = join(path, "offset");
            let mut om = MapReader::new(n, &op, rep)?;
            let sc = om
                .optional("scope")
                .and_then(|n| read::choice(n, &join(&op, "scope"), Scope::NAMES, rep))
                .unwrap_or(Scope::Entity);
            let d = dist_params(&mut om, &op, &num, rep);
            om.finish(rep);
            if sc == Scope::Previous {
                rep.error(
                    n.pos,
                    &join(&op, "scope"),
                    "an offset's scope is `entity`, `session` or `event`",
                );
            }
            Some((sc, hash_str(path).wrapping_add(1), d?))
        }
        None => None,
    };
    if min > max {
        rep.error(m.pos, path, format!("`min` {min} is above `max` {max}"));
        return None;
    }
    Some((
        ValueGen::Num(Box::new(NumGen {
            dist,
            min,
            max,
            decimals,
            kind,
            drift_per_hour,
            anomaly,
            offset,
        })),
        None,
    ))
}

fn num_kind(ty: &FieldType) -> Option<NumKind> {
    Some(match ty {
        FieldType::Int => NumKind::Int,
        FieldType::Long => NumKind::Long,
        FieldType::Double => NumKind::Double,
        FieldType::Money { scale, .. } => NumKind::Money {
            factor: 10f64.powi(*scale as i32),
        },
        FieldType::Timestamp => NumKind::TimestampBefore,
        _ => return None,
    })
}

/// Default clamp bounds for a kind.
fn bounds(kind: NumKind, dist: &Continuous) -> (f64, f64) {
    let (lo, hi) = match kind {
        NumKind::Int => (i32::MIN as f64, i32::MAX as f64),
        NumKind::Long => (-9.0e18, 9.0e18),
        NumKind::Double => (f64::MIN, f64::MAX),
        NumKind::Money { factor } => (-9.0e18 / factor, 9.0e18 / factor),
        NumKind::TimestampBefore => (0.0, 1.0e13),
    };
    match dist {
        // Positive distributions stay positive.
        Continuous::LogNormal { .. } | Continuous::Exponential { .. } | Continuous::Zipf(_) => {
            (lo.max(0.0), hi)
        }
        _ => (lo, hi),
    }
}

fn num_reader(kind: NumKind) -> impl Fn(&YNode, &str, &mut Reporter<'_>) -> Option<f64> {
    move |n: &YNode, p: &str, rep: &mut Reporter<'_>| match kind {
        NumKind::TimestampBefore => {
            if let YValue::Scalar { text, .. } = &n.value {
                if let Ok(v) = text.parse::<f64>() {
                    return Some(v);
                }
            }
            read::duration(n, p, rep).map(|d| d.as_millis_i64() as f64)
        }
        _ => read::float(n, p, rep),
    }
}

/// `values: [a, b]` (+ `weights`) or `values: {a: 3, b: 1}`.
fn choice_values(
    node: &YNode,
    weights: Option<&YNode>,
    path: &str,
    ty: &FieldType,
    rep: &mut Reporter<'_>,
) -> Option<(ValueGen, Vec<String>)> {
    let mut items: Vec<(&str, Pos, f64)> = Vec::new();
    let before = rep.count();
    match &node.value {
        YValue::Seq(list) => {
            let ws: Vec<Option<f64>> = match weights {
                Some(w) => {
                    let wp = path.trim_end_matches(".values").to_string() + ".weights";
                    let wl = read::list(w, &wp, rep)?;
                    if wl.len() != list.len() {
                        rep.error(
                            w.pos,
                            &wp,
                            format!("{} weights for {} values", wl.len(), list.len()),
                        );
                        return None;
                    }
                    wl.iter()
                        .enumerate()
                        .map(|(i, n)| read::float(n, &format!("{wp}[{i}]"), rep))
                        .collect()
                }
                None => vec![Some(1.0); list.len()],
            };
            for (i, (n, w)) in list.iter().zip(ws).enumerate() {
                if let (Some(t), Some(w)) =
                    (read::text(n, &format!("{path}[{i}]"), "a value", rep), w)
                {
                    items.push((t, n.pos, w));
                }
            }
        }
        YValue::Map(entries) => {
            for (k, v) in entries {
                if let Some(w) = read::float(v, &format!("{path}.{}", k.name), rep) {
                    items.push((k.name.as_str(), k.pos, w));
                }
            }
        }
        _ => {
            rep.expected(
                node.pos,
                path,
                format!("found {}", node.kind()),
                "a list of values or a mapping of value to weight",
            );
            return None;
        }
    }
    if items.is_empty() && rep.count() == before {
        rep.error(node.pos, path, "`values` is empty");
        return None;
    }
    let mut values = Vec::new();
    let mut texts = Vec::new();
    let mut ws = Vec::new();
    for (t, pos, w) in items {
        if w < 0.0 {
            rep.expected(
                pos,
                path,
                format!("negative weight `{w}` for `{t}`"),
                "weights of 0 or more",
            );
            continue;
        }
        if let Some(v) = scalar_of(t, pos, path, ty, rep) {
            values.push(v);
            texts.push(t.to_string());
            ws.push(w);
        }
    }
    if rep.count() != before {
        return None;
    }
    let Some(table) = Alias::new(&ws) else {
        rep.expected(
            node.pos,
            path,
            "the weights add up to 0",
            "at least one positive weight",
        );
        return None;
    };
    Some((ValueGen::Choice { table, values }, texts))
}

fn scalar_of(
    t: &str,
    pos: Pos,
    path: &str,
    ty: &FieldType,
    rep: &mut Reporter<'_>,
) -> Option<Scalar> {
    let fail = |rep: &mut Reporter<'_>, what: &str| {
        rep.expected(
            pos,
            path,
            format!("`{t}` is not a valid {ty} value"),
            what.to_string(),
        );
        None
    };
    match ty {
        FieldType::String => Some(Scalar::Str(crate::template::padded(t.as_bytes()))),
        FieldType::Int => match t.parse::<i32>() {
            Ok(v) => Some(Scalar::Int(v as i64)),
            Err(_) => fail(rep, "a 32-bit integer"),
        },
        FieldType::Long => match t.parse::<i64>() {
            Ok(v) => Some(Scalar::Int(v)),
            Err(_) => fail(rep, "an integer"),
        },
        FieldType::Double => match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(Scalar::Double(v)),
            _ => fail(rep, "a number"),
        },
        FieldType::Boolean => match t {
            "true" => Some(Scalar::Bool(true)),
            "false" => Some(Scalar::Bool(false)),
            _ => fail(rep, "`true` or `false`"),
        },
        FieldType::Timestamp => match crate::time::parse_utc_millis(t) {
            Some(v) => Some(Scalar::Int(v)),
            None => fail(rep, "a UTC time such as `2024-01-01T00:00:00Z`"),
        },
        FieldType::Money { scale, .. } => match decimal_to_minor(t, *scale) {
            Some(v) => Some(Scalar::Int(v)),
            None => fail(
                rep,
                &format!("an amount in major units with at most {scale} decimals, e.g. `19.99`"),
            ),
        },
        FieldType::Enum { symbols } => match symbols.iter().position(|s| s == t) {
            Some(i) => Some(Scalar::Enum(i as u32)),
            None => {
                let d = rep.error(pos, path, format!("`{t}` is not a symbol of this enum"));
                d.suggestion = suggest(t, symbols.iter().map(String::as_str));
                d.expected = Some(one_of(
                    &symbols.iter().map(String::as_str).collect::<Vec<_>>(),
                ));
                None
            }
        },
    }
}

// ----------------------------------------------------------------- defaults

/// The built-in hint for a field name, as YAML, before type defaults.
pub fn name_default(name: &str, ty: &FieldType) -> Option<String> {
    let stem = |suffix: &str| name.strip_suffix(suffix).unwrap_or(name).to_string();
    let is = |n: &str| name == n;
    let s = match ty {
        FieldType::String | FieldType::Enum { .. } => {
            if is("country") || name.ends_with("_country") {
                "{ values: { US: 34, GB: 9, DE: 8, IN: 8, FR: 6, BR: 6, JP: 5, CA: 5, MX: 3, AU: 3, ES: 3, IT: 3, NL: 2, PL: 2, SE: 2, KR: 1 }, scope: entity }".into()
            } else if is("device_type") || is("device") {
                "{ values: { mobile: 58, desktop: 36, tablet: 6 }, scope: session }".into()
            } else if is("platform") {
                "{ values: { web: 46, ios: 28, android: 26 }, scope: session }".into()
            } else if is("os") {
                "{ values: { android: 40, ios: 28, windows: 22, macos: 8, linux: 2 }, scope: session }".into()
            } else if is("browser") {
                "{ values: { chrome: 64, safari: 19, edge: 5, firefox: 4, samsung: 4, opera: 2 }, scope: session }".into()
            } else if is("region") {
                "{ values: { us-east-1: 30, us-west-2: 20, eu-west-1: 20, eu-central-1: 12, ap-southeast-1: 10, ap-northeast-1: 8 } }".into()
            } else if is("currency") {
                "{ values: { USD: 50, EUR: 30, GBP: 20 } }".into()
            } else if is("language") || is("locale") {
                "{ values: { en-US: 40, en-GB: 10, de-DE: 10, fr-FR: 8, es-ES: 8, pt-BR: 8, ja-JP: 8, hi-IN: 8 }, scope: entity }".into()
            } else if is("email") {
                "{ template: \"user{entity}@example.com\", scope: entity }".into()
            } else if is("ip") || name.ends_with("_ip") {
                "{ template: \"10.{int:0..255}.{int:0..255}.{int:1..254}\", scope: session }".into()
            } else if is("url") || name.ends_with("_url") {
                "{ template: \"https://shop.example/{choice:home|product|product|product|category|search|cart}/{zipf:5000}\" }".into()
            } else if is("route") || is("path") || is("endpoint") {
                "{ values: { \"/api/items\": 30, \"/api/items/:id\": 25, \"/api/search\": 15, \"/api/cart\": 12, \"/api/checkout\": 8, \"/api/users/:id\": 7, \"/healthz\": 3 } }".into()
            } else if is("title") || name.ends_with("_title") {
                "{ template: \"Page {zipf:5000}\" }".into()
            } else if is("firmware") || is("version") || name.ends_with("_version") {
                "{ values: { \"1.4.2\": 50, \"1.5.0\": 35, \"2.0.0\": 15 }, scope: entity }".into()
            } else if is("site") {
                "{ template: \"site-{zipf:50:0.8}\", scope: entity }".into()
            } else if is("user_agent") {
                "{ values: { \"Mozilla/5.0 (iPhone)\": 30, \"Mozilla/5.0 (Windows NT 10.0)\": 40, \"Mozilla/5.0 (Macintosh)\": 15, \"Mozilla/5.0 (Linux; Android)\": 15 }, scope: session }".into()
            } else if is("trace_id") {
                "{ template: \"{hex:32}\" }".into()
            } else if is("span_id") || is("request_id") {
                "{ template: \"{hex:16}\" }".into()
            } else if is("product_id") || is("sku") {
                "{ template: \"prod_{zipf:10000}\" }".into()
            } else if is("merchant_id") {
                "{ template: \"m_{zipf:5000}\" }".into()
            } else if name.ends_with("_id") {
                format!("{{ template: \"{}_{{hex:12}}\" }}", stem("_id"))
            } else if name.ends_with("_name") {
                format!("{{ template: \"{}-{{zipf:100}}\" }}", stem("_name"))
            } else if is("coupon") || name.ends_with("_code") || is("code") {
                "{ template: \"{alnum:8}\" }".into()
            } else if is("message") {
                "{ values: [\"sensor reading out of range\", \"battery low\", \"connection lost\", \"firmware update failed\", \"door open\"] }".into()
            } else {
                return None;
            }
        }
        FieldType::Int | FieldType::Long | FieldType::Double => {
            if name.contains("latency") || name.ends_with("_ms") || name.starts_with("duration") {
                "{ distribution: lognormal, median: 80, sigma: 0.8, min: 0 }".into()
            } else if name.starts_with("temperature") {
                "{ distribution: normal, mean: 21, stddev: 2.5 }".into()
            } else if name.starts_with("humidity")
                || name.ends_with("_pct")
                || name.ends_with("percent")
            {
                "{ distribution: normal, mean: 45, stddev: 10, min: 0, max: 100 }".into()
            } else if name.starts_with("battery") {
                "{ distribution: normal, mean: 3700, stddev: 150, min: 2800, max: 4200 }".into()
            } else if is("quantity") || is("items") || name.ends_with("_count") || is("count") {
                "{ distribution: zipf, n: 10, exponent: 1.6 }".into()
            } else if is("status_code") || is("status") {
                "{ values: { 200: 86, 201: 3, 204: 2, 301: 1, 304: 2, 400: 1.5, 401: 1, 404: 2, 429: 0.5, 500: 0.6, 502: 0.2, 503: 0.2 } }".into()
            } else if name.starts_with("bytes") || name.ends_with("_bytes") || is("size") {
                "{ distribution: lognormal, median: 4096, sigma: 1.2, min: 0 }".into()
            } else if is("age") {
                "{ distribution: uniform, min: 18, max: 80 }".into()
            } else if is("amount") || is("price") || name.ends_with("_amount") {
                "{ distribution: lognormal, median: 25, sigma: 1.0, min: 0 }".into()
            } else {
                return None;
            }
        }
        FieldType::Boolean => {
            if is("approved") || is("success") || is("ok") {
                "{ true_rate: 0.95 }".into()
            } else {
                return None;
            }
        }
        FieldType::Money { .. } => {
            "{ distribution: lognormal, median: 25, sigma: 1.0, min: 0.01, max: 100000 }".into()
        }
        FieldType::Timestamp => return None,
    };
    Some(s)
}

/// The built-in hint for a type.
fn type_default(ty: &FieldType) -> (ValueGen, Option<Vec<String>>) {
    let num = |dist: Continuous, kind: NumKind, min: f64, max: f64| {
        ValueGen::Num(Box::new(NumGen {
            dist,
            min,
            max,
            decimals: None,
            kind,
            drift_per_hour: 0.0,
            anomaly: None,
            offset: None,
        }))
    };
    match ty {
        FieldType::String => (
            ValueGen::Template(Template::parse("v{zipf:1000}").expect("valid template")),
            None,
        ),
        FieldType::Int => (
            num(
                Continuous::Uniform {
                    min: -0.5,
                    max: 1000.5,
                },
                NumKind::Int,
                0.0,
                1000.0,
            ),
            None,
        ),
        FieldType::Long => (
            num(
                Continuous::Uniform {
                    min: -0.5,
                    max: 1_000_000.5,
                },
                NumKind::Long,
                0.0,
                1_000_000.0,
            ),
            None,
        ),
        FieldType::Double => (
            num(
                Continuous::Uniform {
                    min: 0.0,
                    max: 100.0,
                },
                NumKind::Double,
                0.0,
                100.0,
            ),
            None,
        ),
        FieldType::Boolean => (ValueGen::Bool { p_true: 0.5 }, None),
        FieldType::Timestamp => (
            num(
                Continuous::Uniform {
                    min: 0.0,
                    max: 86_400_000.0,
                },
                NumKind::TimestampBefore,
                0.0,
                86_400_000.0,
            ),
            None,
        ),
        FieldType::Enum { symbols } => {
            let w = vec![1.0; symbols.len().max(1)];
            (
                ValueGen::Choice {
                    table: Alias::new(&w).expect("positive weights"),
                    values: (0..symbols.len().max(1) as u32).map(Scalar::Enum).collect(),
                },
                Some(symbols.clone()),
            )
        }
        FieldType::Money { scale, .. } => (
            num(
                Continuous::LogNormal {
                    mu: 25f64.ln(),
                    sigma: 1.0,
                },
                NumKind::Money {
                    factor: 10f64.powi(*scale as i32),
                },
                0.01,
                100_000.0,
            ),
            None,
        ),
    }
}

/// The hint used for a field without one: by name, then by type.
fn default_field(name: &str, ty: &FieldType, optional: bool) -> Decoded<'static> {
    let null_rate = if optional {
        if name == "coupon" {
            0.8
        } else {
            DEFAULT_NULL_RATE
        }
    } else {
        0.0
    };
    if let Some(text) = name_default(name, ty) {
        if let Some(d) = decode_snippet(&text, ty) {
            return Decoded { null_rate, ..d };
        }
    }
    let (gen, texts) = type_default(ty);
    Decoded {
        gen,
        texts,
        scope: Scope::Event,
        null_rate,
        depends: None,
    }
}

/// Decodes a built-in YAML snippet; `None` when it does not fit the type.
fn decode_snippet(text: &str, ty: &FieldType) -> Option<Decoded<'static>> {
    let sources = SourceMap::default();
    let mut rep = Reporter::new(&sources);
    let node = sluice_config::yaml::parse(text, 0, &mut rep)?;
    let d = decode_field(&node, "", "", ty, false, Scope::Event, &mut rep)?;
    if rep.count() != 0 {
        return None;
    }
    Some(Decoded {
        gen: d.gen,
        texts: d.texts,
        scope: d.scope,
        null_rate: d.null_rate,
        depends: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_default_decodes_for_its_type() {
        let names = [
            "country",
            "device_type",
            "platform",
            "os",
            "browser",
            "region",
            "currency",
            "language",
            "email",
            "client_ip",
            "page_url",
            "route",
            "page_title",
            "firmware",
            "site",
            "user_agent",
            "trace_id",
            "span_id",
            "product_id",
            "merchant_id",
            "order_id",
            "service_name",
            "coupon",
            "message",
        ];
        for n in names {
            let text =
                name_default(n, &FieldType::String).unwrap_or_else(|| panic!("{n} has a default"));
            assert!(
                decode_snippet(&text, &FieldType::String).is_some(),
                "{n}: {text}"
            );
        }
        for (n, ty) in [
            ("latency_ms", FieldType::Double),
            ("temperature_c", FieldType::Double),
            ("humidity_pct", FieldType::Double),
            ("battery_mv", FieldType::Int),
            ("quantity", FieldType::Int),
            ("status_code", FieldType::Int),
            ("bytes_out", FieldType::Long),
            ("age", FieldType::Int),
            ("amount", FieldType::Double),
            ("approved", FieldType::Boolean),
            (
                "amount",
                FieldType::Money {
                    currency: "USD".into(),
                    scale: 2,
                },
            ),
        ] {
            let text = name_default(n, &ty).unwrap();
            assert!(decode_snippet(&text, &ty).is_some(), "{n}: {text}");
        }
    }
}
