//! Plan validation: every invalid plan is rejected with a precise error.

mod common;

use common::*;
use sluice_core::Classify;
use sluice_core::{AggregateKind as K, CompareOp, ErrorDomain, FieldType, Literal, WindowSpec};
use sluice_engine::{Engine, PlanError};

fn err(p: sluice_engine::EnginePlan) -> PlanError {
    Engine::new(p).expect_err("plan must be rejected")
}

#[test]
fn field_errors() {
    let e = err(plan(vec![agg(K::Sum, Some("nope"), tumbling(1000))]));
    assert!(
        matches!(e, PlanError::UnknownField { ref field, .. } if field == "nope"),
        "{e}"
    );
    assert_eq!(e.domain(), ErrorDomain::User);
    assert!(matches!(
        err(plan(vec![agg(K::Sum, Some("user"), tumbling(1000))])),
        PlanError::UnsupportedFieldType { .. }
    ));
    assert!(matches!(
        err(plan(vec![agg(K::Avg, None, tumbling(1000))])),
        PlanError::MissingField { .. }
    ));
    let mut a = agg(K::Count, None, tumbling(1000));
    a.group_by = vec!["x".into()];
    assert!(matches!(
        err(plan(vec![a])),
        PlanError::UnsupportedFieldType { .. }
    ));
    let mut a = agg(K::Count, None, tumbling(1000));
    a.event_types = vec!["view".into()];
    assert!(matches!(
        err(plan(vec![a])),
        PlanError::UnknownEventType { .. }
    ));
}

#[test]
fn window_errors() {
    for w in [
        tumbling(0),
        WindowSpec::Sliding {
            size: ms(1000),
            slide: ms(2000),
        },
        WindowSpec::Sliding {
            size: ms(100_000),
            slide: ms(1),
        },
        WindowSpec::Cumulative {
            step: ms(300),
            max_size: ms(1000),
        },
        WindowSpec::Session { gap: ms(0) },
    ] {
        assert!(
            matches!(
                err(plan(vec![agg(K::Count, None, w)])),
                PlanError::InvalidWindow { .. }
            ),
            "{w:?}"
        );
    }
}

#[test]
fn filter_errors() {
    for (field, op, lit) in [
        ("cat", CompareOp::Eq, Literal::Str("zzz".into())),
        ("cat", CompareOp::Lt, Literal::Str("a".into())),
        ("amt", CompareOp::Gt, Literal::Decimal("1.234".into())),
        ("n", CompareOp::Eq, Literal::Str("one".into())),
        ("n", CompareOp::Eq, Literal::List(vec![Literal::Int(1)])),
    ] {
        let mut a = agg(K::Count, None, tumbling(1000));
        a.filter = vec![pred(field, op, lit)];
        let e = err(plan(vec![a]));
        assert!(matches!(e, PlanError::InvalidFilter { .. }), "{e}");
    }
}

#[test]
fn other_errors() {
    let mut p = plan(vec![
        agg(K::Count, None, tumbling(1000)),
        agg(K::Count, None, tumbling(1000)),
    ]);
    p.aggregations[1].name = p.aggregations[0].name.clone();
    assert!(matches!(err(p), PlanError::DuplicateAggregation(_)));
    let mut a = agg(K::Percentile, Some("x"), tumbling(1000));
    assert!(matches!(
        err(plan(vec![a.clone()])),
        PlanError::InvalidQuantiles { .. }
    ));
    a.quantiles = vec![1.5];
    assert!(matches!(
        err(plan(vec![a])),
        PlanError::InvalidQuantiles { .. }
    ));
    let mut p = plan(vec![]);
    p.options.idle_timeout_ms = Some(0);
    assert!(matches!(err(p), PlanError::InvalidOption { .. }));
    let mut p = plan(vec![]);
    p.layouts.clear();
    assert_eq!(err(p), PlanError::NoLayouts);
}

#[test]
fn conflicting_types_across_event_types() {
    let mut p = plan(vec![agg(K::Sum, Some("n"), tumbling(1000))]);
    let f = p.layouts[1]
        .fields
        .iter_mut()
        .find(|f| f.name == "n")
        .unwrap();
    f.ty = FieldType::Double;
    assert!(matches!(err(p), PlanError::ConflictingFieldTypes { .. }));
}

#[test]
fn layout_without_event_time_is_rejected() {
    let mut p = plan(vec![]);
    p.layouts[0].fields.retain(|f| f.name != "event_time");
    assert!(matches!(err(p), PlanError::InvalidLayout { .. }));
}

#[test]
fn messages_follow_the_style() {
    let e = err(plan(vec![agg(K::Sum, Some("nope"), tumbling(1000))]));
    let msg = e.to_string();
    assert!(msg.contains("`nope`"), "{msg}");
    assert!(!msg.ends_with('.'));
    assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
}
