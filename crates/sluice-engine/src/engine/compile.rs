//! Plan validation and compilation: per event type, the decoder and the list
//! of aggregations it feeds with their compiled filters, key parts and value
//! sources. Pure; every error names the aggregation, field and event type.

use std::collections::HashMap;

use sluice_core::{AggregateKind, FieldLayout, FieldType, RecordLayout};

use crate::aggregate::{Columns, Input, NumClass};
use crate::decode::{CompiledDecoder, FieldVal};
use crate::error::PlanError;
use crate::filter::CompiledPredicate;
use crate::keys;
use crate::plan::{AggregationPlan, EnginePlan};
use crate::window::{Windowing, MAX_SIZE_MS};

/// One part of a group key, read from a slot.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum KeyPart {
    /// Any scalar slot; enums need their symbols.
    Slot { slot: u16, symbols: Vec<Box<[u8]>> },
}

impl KeyPart {
    #[inline(always)]
    /// Appends this part; `data[base..]` is the record (the whole batch
    /// buffer is passed so short strings copy as one fixed block).
    pub(crate) fn push(&self, vals: &[FieldVal], data: &[u8], base: usize, buf: &mut keys::KeyBuf) {
        let KeyPart::Slot { slot, symbols } = self;
        match vals
            .get(usize::from(*slot))
            .copied()
            .unwrap_or(FieldVal::Null)
        {
            FieldVal::Null | FieldVal::Float(_) => buf.null(),
            FieldVal::Int(i) => buf.int(i),
            FieldVal::Bool(b) => buf.bool(b),
            FieldVal::Str { start, len } => buf.str_in(data, base + start as usize, len as usize),
            FieldVal::Enum(i) => buf.str(symbols.get(i as usize).map(|s| &s[..]).unwrap_or(&[])),
        }
    }
}

/// Where an aggregation's input comes from.
#[derive(Clone, Debug)]
pub(crate) enum ValueSrc {
    /// `count` without a field.
    Star,
    /// Numeric value, or presence (`count(field)`).
    Slot(u16),
    /// Canonical bytes (distinct aggregates).
    Bytes { slot: u16, symbols: Vec<Box<[u8]>> },
}

impl ValueSrc {
    #[inline(always)]
    pub(crate) fn input<'a>(
        &'a self,
        vals: &[FieldVal],
        rec: &'a [u8],
        buf: &'a mut [u8; 8],
    ) -> Input<'a> {
        match self {
            ValueSrc::Star => Input::Null,
            ValueSrc::Slot(slot) => match vals
                .get(usize::from(*slot))
                .copied()
                .unwrap_or(FieldVal::Null)
            {
                FieldVal::Null => Input::Null,
                FieldVal::Int(i) => Input::Int(i),
                FieldVal::Float(f) => Input::Float(f),
                _ => Input::Int(1),
            },
            ValueSrc::Bytes { slot, symbols } => match vals
                .get(usize::from(*slot))
                .copied()
                .unwrap_or(FieldVal::Null)
            {
                FieldVal::Null => Input::Null,
                FieldVal::Int(i) => {
                    *buf = i.to_le_bytes();
                    Input::Bytes(&buf[..])
                }
                FieldVal::Float(f) => {
                    *buf = f.to_bits().to_le_bytes();
                    Input::Bytes(&buf[..])
                }
                FieldVal::Bool(b) => {
                    buf[0] = u8::from(b);
                    Input::Bytes(&buf[..1])
                }
                s @ FieldVal::Str { .. } => Input::Bytes(s.str_bytes(rec)),
                FieldVal::Enum(i) => {
                    Input::Bytes(symbols.get(i as usize).map(|s| &s[..]).unwrap_or(&[]))
                }
            },
        }
    }
}

/// One aggregation fed by one event type.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    pub agg: usize,
    pub preds: Vec<CompiledPredicate>,
    pub key: Vec<KeyPart>,
    /// Index of the first feed of this event type with the same key parts:
    /// aggregations grouped alike build and hash the key once per record.
    pub key_of: usize,
    pub value: ValueSrc,
}

/// Checked, per-aggregation settings.
#[derive(Clone, Debug)]
pub(crate) struct AggSetup {
    pub windowing: Windowing,
    pub delay: i64,
    pub lateness: i64,
    pub columns: Columns,
}

/// Everything compiled from a plan.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub decoders: Vec<CompiledDecoder>,
    pub feeds: Vec<Vec<Feed>>,
    pub aggs: Vec<AggSetup>,
    pub slots: usize,
}

fn signature(ty: &FieldType) -> String {
    match ty {
        FieldType::Int | FieldType::Long => "integer".to_string(),
        FieldType::String | FieldType::Enum { .. } => "string".to_string(),
        FieldType::Money { currency, scale } => format!("money({currency}, scale {scale})"),
        other => other.name().to_string(),
    }
}

fn symbols_of(ty: &FieldType) -> Vec<Box<[u8]>> {
    match ty {
        FieldType::Enum { symbols } => symbols.iter().map(|s| s.as_bytes().into()).collect(),
        _ => Vec::new(),
    }
}

fn duration_ms(d: &sluice_core::HumanDuration, agg: &str, what: &str) -> Result<i64, PlanError> {
    let v = d.as_millis_i64();
    if v > MAX_SIZE_MS {
        return Err(PlanError::InvalidOption {
            option: format!("{agg}.{what}"),
            reason: format!("`{d}` is too large"),
        });
    }
    Ok(v)
}

/// Fields to decode: one slot per distinct field name across the plan,
/// and per event type the (field, slot) pairs its decoder fills.
struct Slots {
    of: HashMap<String, u16>,
    wanted: Vec<Vec<(String, u16)>>,
}

impl Slots {
    /// The slot of `name`, which event type `et` must decode.
    fn take(&mut self, et: usize, name: &str) -> u16 {
        let n = self.of.len() as u16;
        let s = *self.of.entry(name.to_string()).or_insert(n);
        self.wanted[et].push((name.to_string(), s));
        s
    }
}

/// Field signatures seen by one aggregation: they must agree across the
/// event types it reads.
struct Signatures<'a> {
    aggregation: &'a str,
    seen: HashMap<String, String>,
}

impl Signatures<'_> {
    fn check(&mut self, field: &str, ty: &FieldType, event_type: &str) -> Result<(), PlanError> {
        let sig = signature(ty);
        match self.seen.get(field) {
            Some(first) if *first != sig => Err(PlanError::ConflictingFieldTypes {
                aggregation: self.aggregation.to_string(),
                field: field.to_string(),
                first: first.clone(),
                second: sig,
                event_type: event_type.to_string(),
            }),
            Some(_) => Ok(()),
            None => {
                self.seen.insert(field.to_string(), sig);
                Ok(())
            }
        }
    }
}

/// Engine options in range.
fn check_options(o: &crate::plan::EngineOptions) -> Result<(), PlanError> {
    for (name, v, min) in [
        ("idle_timeout_ms", o.idle_timeout_ms, 1),
        ("max_future_skew_ms", o.max_future_skew_ms, 0),
        ("early_emit_interval_ms", o.early_emit_interval_ms, 1),
    ] {
        if let Some(v) = v {
            if v < min {
                return Err(PlanError::InvalidOption {
                    option: name.to_string(),
                    reason: format!("`{v}` must be at least {min}"),
                });
            }
        }
    }
    Ok(())
}

/// An aggregation's own settings: its windowing, watermark delay and
/// allowed lateness, its field and quantiles.
fn check_aggregation(a: &AggregationPlan) -> Result<(Windowing, i64, i64), PlanError> {
    let name = a.name.as_str();
    let windowing = Windowing::new(&a.window).map_err(|reason| PlanError::InvalidWindow {
        aggregation: a.name.clone(),
        reason,
    })?;
    let delay = duration_ms(&a.watermark_delay, name, "watermark_delay")?;
    let lateness = duration_ms(&a.allowed_lateness, name, "allowed_lateness")?;
    if a.kind.needs_field() && a.field.is_none() {
        return Err(PlanError::MissingField {
            aggregation: a.name.clone(),
            kind: a.kind.name().to_string(),
        });
    }
    if a.kind == AggregateKind::Percentile {
        if a.quantiles.is_empty() {
            return Err(PlanError::InvalidQuantiles {
                aggregation: a.name.clone(),
                reason: "percentile needs at least one quantile".to_string(),
            });
        }
        if let Some(q) = a.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(PlanError::InvalidQuantiles {
                aggregation: a.name.clone(),
                reason: format!("`{q}` is not within [0, 1]"),
            });
        }
    }
    Ok((windowing, delay, lateness))
}

/// The indexes of the event types an aggregation reads (all when it names
/// none).
fn event_types_of(plan: &EnginePlan, a: &AggregationPlan) -> Result<Vec<usize>, PlanError> {
    if a.event_types.is_empty() {
        return Ok((0..plan.layouts.len()).collect());
    }
    a.event_types
        .iter()
        .map(|et| {
            plan.layouts
                .iter()
                .position(|l| &l.event_type == et)
                .ok_or_else(|| PlanError::UnknownEventType {
                    aggregation: a.name.clone(),
                    event_type: et.clone(),
                })
        })
        .collect()
}

/// What one aggregation reads from one event type.
struct FeedBuilder<'a> {
    a: &'a AggregationPlan,
    layout: &'a RecordLayout,
    et: usize,
}

impl FeedBuilder<'_> {
    fn field(&self, f: &str) -> Result<&FieldLayout, PlanError> {
        self.layout.field(f).ok_or_else(|| PlanError::UnknownField {
            aggregation: self.a.name.clone(),
            field: f.to_string(),
            event_type: self.layout.event_type.clone(),
        })
    }

    /// The aggregated value's source and its numeric class.
    fn value(
        &self,
        slots: &mut Slots,
        sigs: &mut Signatures<'_>,
    ) -> Result<(ValueSrc, Option<NumClass>), PlanError> {
        let a = self.a;
        let Some(f) = &a.field else {
            return Ok((ValueSrc::Star, None));
        };
        let fl = self.field(f)?;
        sigs.check(f, &fl.ty, &self.layout.event_type)?;
        if a.kind.needs_numeric_field() && !fl.ty.is_numeric() {
            return Err(PlanError::UnsupportedFieldType {
                aggregation: a.name.clone(),
                kind: a.kind.name().to_string(),
                field: f.clone(),
                ty: fl.ty.name().to_string(),
            });
        }
        let num = if matches!(fl.ty, FieldType::Double) {
            NumClass::Float
        } else {
            NumClass::Int
        };
        let s = slots.take(self.et, f);
        let src = match a.kind {
            AggregateKind::CountDistinct | AggregateKind::ApproxCountDistinct => ValueSrc::Bytes {
                slot: s,
                symbols: symbols_of(&fl.ty),
            },
            _ => ValueSrc::Slot(s),
        };
        Ok((src, Some(num)))
    }

    /// The group key's parts.
    fn key(&self, slots: &mut Slots, sigs: &mut Signatures<'_>) -> Result<Vec<KeyPart>, PlanError> {
        let mut key = Vec::with_capacity(self.a.group_by.len());
        for g in &self.a.group_by {
            let fl = self.field(g)?;
            sigs.check(g, &fl.ty, &self.layout.event_type)?;
            if matches!(fl.ty, FieldType::Double) {
                return Err(PlanError::UnsupportedFieldType {
                    aggregation: self.a.name.clone(),
                    kind: "group_by".to_string(),
                    field: g.clone(),
                    ty: fl.ty.name().to_string(),
                });
            }
            key.push(KeyPart::Slot {
                slot: slots.take(self.et, g),
                symbols: symbols_of(&fl.ty),
            });
        }
        Ok(key)
    }

    /// The filter's predicates.
    fn preds(
        &self,
        slots: &mut Slots,
        sigs: &mut Signatures<'_>,
    ) -> Result<Vec<CompiledPredicate>, PlanError> {
        let mut preds = Vec::with_capacity(self.a.filter.len());
        for p in &self.a.filter {
            let fl = self.field(&p.field)?;
            sigs.check(&p.field, &fl.ty, &self.layout.event_type)?;
            let s = slots.take(self.et, &p.field);
            preds.push(
                CompiledPredicate::new(s, &fl.ty, p.op, &p.value).map_err(|reason| {
                    PlanError::InvalidFilter {
                        aggregation: self.a.name.clone(),
                        field: p.field.clone(),
                        reason,
                    }
                })?,
            );
        }
        Ok(preds)
    }
}

/// Validates and compiles a plan.
pub(crate) fn compile(plan: &EnginePlan) -> Result<Compiled, PlanError> {
    if plan.layouts.is_empty() {
        return Err(PlanError::NoLayouts);
    }
    check_options(&plan.options)?;
    let mut slots = Slots {
        of: HashMap::new(),
        wanted: vec![Vec::new(); plan.layouts.len()],
    };
    let mut feeds: Vec<Vec<Feed>> = vec![Vec::new(); plan.layouts.len()];
    let mut aggs = Vec::with_capacity(plan.aggregations.len());

    for (ai, a) in plan.aggregations.iter().enumerate() {
        if plan.aggregations[..ai].iter().any(|b| b.name == a.name) {
            return Err(PlanError::DuplicateAggregation(a.name.clone()));
        }
        let (windowing, delay, lateness) = check_aggregation(a)?;
        let mut sigs = Signatures {
            aggregation: &a.name,
            seen: HashMap::new(),
        };
        // the numeric class of the last event type read decides
        let mut num = NumClass::Int;
        for et in event_types_of(plan, a)? {
            let b = FeedBuilder {
                a,
                layout: &plan.layouts[et],
                et,
            };
            let (value, class) = b.value(&mut slots, &mut sigs)?;
            num = class.unwrap_or(num);
            let key = b.key(&mut slots, &mut sigs)?;
            let preds = b.preds(&mut slots, &mut sigs)?;
            let key_of = feeds[et]
                .iter()
                .position(|f| f.key == key)
                .unwrap_or(feeds[et].len());
            feeds[et].push(Feed {
                agg: ai,
                preds,
                key,
                key_of,
                value,
            });
        }
        aggs.push(AggSetup {
            windowing,
            delay,
            lateness,
            columns: Columns::new(a.kind, a.field.is_none(), num, &a.quantiles),
        });
    }
    if slots.of.len() >= usize::from(crate::decode::TIME) {
        return Err(PlanError::InvalidOption {
            option: "aggregations".to_string(),
            reason: "too many distinct fields".to_string(),
        });
    }
    let decoders = plan
        .layouts
        .iter()
        .zip(&slots.wanted)
        .map(|(l, w)| {
            let w: Vec<(&str, u16)> = w.iter().map(|(n, s)| (n.as_str(), *s)).collect();
            CompiledDecoder::new(l, &w)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Compiled {
        decoders,
        feeds,
        aggs,
        slots: slots.of.len(),
    })
}
