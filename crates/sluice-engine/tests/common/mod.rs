//! Shared helpers for the engine's integration tests: a small two-event-type
//! layout (one with `long` money, one with `decimal` money), record builders
//! and plan shortcuts.
#![allow(dead_code)]

use sluice_core::{
    AggregateKind, CompareOp, FieldLayout, FieldRole, FieldType, HumanDuration, Literal,
    MoneyEncoding, Predicate, RecordLayout, WindowSpec,
};
use sluice_engine::reference::{run_engine, run_reference, Op};
use sluice_engine::{AggregationPlan, EngineOptions, EnginePlan, Output, RawBatch, Value};

pub const CLICK: u32 = 0;
pub const BUY: u32 = 1;

pub fn layouts() -> Vec<RecordLayout> {
    let f = |name: &str, ty: FieldType, optional: bool| FieldLayout {
        name: name.to_string(),
        ty,
        optional,
        role: FieldRole::Attribute,
        doc: None,
    };
    [
        ("click", MoneyEncoding::Long),
        ("buy", MoneyEncoding::Decimal),
    ]
    .into_iter()
    .map(|(et, money)| {
        let mut fields = RecordLayout::envelope("user");
        fields.extend([
            f(
                "cat",
                FieldType::Enum {
                    symbols: vec!["a".into(), "b".into(), "c".into()],
                },
                false,
            ),
            f("dim", FieldType::String, true),
            f("flag", FieldType::Boolean, false),
            f("n", FieldType::Int, false),
            f("x", FieldType::Double, false),
            f(
                "amt",
                FieldType::Money {
                    currency: "USD".into(),
                    scale: 2,
                },
                false,
            ),
        ]);
        RecordLayout {
            namespace: "sluice.test".into(),
            domain: "test".into(),
            event_type: et.into(),
            entity_key: "user".into(),
            money,
            fields,
        }
    })
    .collect()
}

/// One test event.
#[derive(Clone, Debug, PartialEq)]
pub struct Ev {
    pub partition: u32,
    pub et: u32,
    pub t: i64,
    pub user: u8,
    pub cat: u8,
    pub dim: Option<u8>,
    pub flag: bool,
    pub n: i32,
    pub x: i32,
    pub amt: i64,
}

impl Ev {
    pub fn at(t: i64) -> Self {
        Ev {
            partition: 0,
            et: CLICK,
            t,
            user: 0,
            cat: 0,
            dim: None,
            flag: false,
            n: 1,
            x: 1,
            amt: 100,
        }
    }

    pub fn values(&self, id: usize) -> Vec<Value> {
        vec![
            Value::Str(format!("ev-{id}")),
            Value::Str(if self.et == CLICK { "click" } else { "buy" }.into()),
            Value::Str(format!("u{}", self.user)),
            Value::Int(self.t),
            if id % 3 == 0 {
                Value::Null
            } else {
                Value::Str(format!("s{}", id % 7))
            },
            Value::Str(["a", "b", "c"][self.cat as usize % 3].into()),
            self.dim
                .map_or(Value::Null, |d| Value::Str(format!("d{d}"))),
            Value::Bool(self.flag),
            Value::Int(i64::from(self.n)),
            Value::Double(f64::from(self.x)),
            Value::Int(self.amt),
        ]
    }
}

/// Encodes events into one batch per run of equal partitions, additionally
/// cut before every index in `cuts`. Offsets are the event indexes.
pub fn batches(events: &[Ev], cuts: &[usize]) -> Vec<RawBatch> {
    let layouts = layouts();
    let mut out: Vec<RawBatch> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let new = match out.last() {
            None => true,
            Some(b) => b.partition != e.partition || cuts.contains(&i),
        };
        if new {
            out.push(RawBatch::new(CLICK, e.partition, i as i64));
        }
        let b = out.last_mut().unwrap();
        let mut rec = Vec::new();
        sluice_engine::value::encode_record(&layouts[e.et as usize], &e.values(i), &mut rec)
            .unwrap();
        b.push_typed(e.et, &rec);
    }
    out
}

pub fn ops(events: &[Ev], cuts: &[usize]) -> Vec<Op> {
    batches(events, cuts).into_iter().map(Op::Batch).collect()
}

pub fn ms(v: u64) -> HumanDuration {
    HumanDuration::from_millis(v)
}

pub fn tumbling(size: u64) -> WindowSpec {
    WindowSpec::Tumbling { size: ms(size) }
}

pub fn agg(kind: AggregateKind, field: Option<&str>, window: WindowSpec) -> AggregationPlan {
    AggregationPlan::new(&format!("agg_{}", kind.name()), kind, field, window)
}

pub fn plan(aggs: Vec<AggregationPlan>) -> EnginePlan {
    let mut aggs = aggs;
    for (i, a) in aggs.iter_mut().enumerate() {
        a.name = format!("{}_{i}", a.name);
    }
    EnginePlan {
        layouts: layouts(),
        aggregations: aggs,
        options: EngineOptions::default(),
    }
}

pub fn pred(field: &str, op: CompareOp, value: Literal) -> Predicate {
    Predicate {
        field: field.into(),
        op,
        value,
    }
}

/// Runs the engine and the reference on the same ops and checks they agree;
/// returns the engine's output.
pub fn check(plan: &EnginePlan, ops: &[Op]) -> Output {
    let e = run_engine(plan, ops).expect("plan is valid");
    let r = run_reference(plan, ops).expect("plan is valid");
    assert_eq!(e.results, r.results, "results differ from the reference");
    assert_eq!(e.late, r.late, "late events differ from the reference");
    let pos = |o: &Output| {
        o.dead_letters
            .iter()
            .map(|d| (d.partition, d.offset))
            .collect::<Vec<_>>()
    };
    assert_eq!(pos(&e), pos(&r), "dead letters differ from the reference");
    e
}
