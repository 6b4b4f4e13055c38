//! Configuration → engine plan and result tables. Pure.

use sluice_config::{validate::field_type, AggregationConfig, DomainConfig, EngineConfig};
use sluice_connectors::table::quantile_column;
use sluice_connectors::{Column, SqlType, TableSpec};
use sluice_core::{AggregateKind, FieldType, WindowSpec};
use sluice_engine::{AggregationPlan, EngineOptions, EnginePlan};

use crate::RuntimeError;

/// What a pipeline computes.
#[derive(Clone, Debug)]
pub struct BuiltPlan {
    /// The engine's plan.
    pub plan: EnginePlan,
    /// One result table per aggregation, same order as `plan.aggregations`.
    pub tables: Vec<TableSpec>,
}

fn sql_type_of(t: &FieldType) -> SqlType {
    match t {
        FieldType::String | FieldType::Enum { .. } => SqlType::Text,
        FieldType::Int | FieldType::Long | FieldType::Money { .. } => SqlType::BigInt,
        FieldType::Double => SqlType::Double,
        FieldType::Boolean => SqlType::Boolean,
        FieldType::Timestamp => SqlType::Timestamp,
    }
}

fn money_comment(t: &FieldType) -> Option<String> {
    match t {
        FieldType::Money { currency, scale } => {
            Some(format!("{currency} in minor units (scale {scale})"))
        }
        _ => None,
    }
}

/// The type of `name` in the first event type of `a` that has it.
fn type_in(d: &DomainConfig, a: &AggregationConfig, name: &str) -> Option<FieldType> {
    a.event_types
        .iter()
        .filter_map(|et| d.event_types.iter().find(|e| e.name.value == et.value))
        .find_map(|et| field_type(et, &d.entity.primary_key.value, name).map(|t| t.into_owned()))
}

/// The result table of one aggregation.
pub fn table_spec(d: &DomainConfig, a: &AggregationConfig) -> TableSpec {
    let dims = a
        .group_by
        .iter()
        .map(|g| {
            let t = type_in(d, a, &g.value).unwrap_or(FieldType::String);
            Column {
                name: g.value.clone(),
                ty: sql_type_of(&t),
                comment: None,
            }
        })
        .collect();
    let field_ty = a.field.as_ref().and_then(|f| type_in(d, a, &f.value));
    let comment = field_ty.as_ref().and_then(money_comment);
    let scalar = |ty| {
        vec![Column {
            name: "value".into(),
            ty,
            comment: comment.clone(),
        }]
    };
    let integer = matches!(
        field_ty,
        Some(FieldType::Int | FieldType::Long | FieldType::Money { .. })
    );
    let values = match a.kind.value {
        AggregateKind::Count
        | AggregateKind::CountDistinct
        | AggregateKind::ApproxCountDistinct => scalar(SqlType::BigInt),
        AggregateKind::Sum if integer => scalar(SqlType::HugeInt),
        AggregateKind::Min | AggregateKind::Max if integer => scalar(SqlType::BigInt),
        AggregateKind::Sum | AggregateKind::Min | AggregateKind::Max | AggregateKind::Avg => {
            scalar(SqlType::Double)
        }
        AggregateKind::Percentile => quantiles(a)
            .iter()
            .map(|q| Column {
                name: quantile_column(*q),
                ty: SqlType::Double,
                comment: comment.clone(),
            })
            .collect(),
    };
    TableSpec {
        name: a.sink_table.value.clone(),
        aggregation: a.name.value.clone(),
        kind: a.kind.value,
        session: matches!(a.window.value, WindowSpec::Session { .. }),
        dims,
        values,
    }
}

/// Quantiles of a percentile aggregation (default p50, p90, p99).
pub fn quantiles(a: &AggregationConfig) -> Vec<f64> {
    if a.quantiles.is_empty() {
        vec![0.5, 0.9, 0.99]
    } else {
        a.quantiles.clone()
    }
}

/// Builds the plan for `selected` aggregations (all when empty).
pub fn build(
    d: &DomainConfig,
    engine: &EngineConfig,
    selected: &[String],
) -> Result<BuiltPlan, RuntimeError> {
    for s in selected {
        if !d.aggregations.iter().any(|a| &a.name.value == s) {
            let names: Vec<&str> = d
                .aggregations
                .iter()
                .map(|a| a.name.value.as_str())
                .collect();
            return Err(RuntimeError::Usage(format!(
                "unknown aggregation `{s}` in domain `{}` (expected one of {})",
                d.domain.value,
                names.join(", ")
            )));
        }
    }
    let chosen: Vec<&AggregationConfig> = d
        .aggregations
        .iter()
        .filter(|a| selected.is_empty() || selected.contains(&a.name.value))
        .collect();
    let aggregations = chosen
        .iter()
        .map(|a| AggregationPlan {
            name: a.name.value.clone(),
            kind: a.kind.value,
            field: a.field.as_ref().map(|f| f.value.clone()),
            quantiles: if a.kind.value == AggregateKind::Percentile {
                quantiles(a)
            } else {
                Vec::new()
            },
            event_types: a.event_types.iter().map(|e| e.value.clone()).collect(),
            window: a.window.value,
            group_by: a.group_by.iter().map(|g| g.value.clone()).collect(),
            filter: a.filter.iter().map(|p| p.value.clone()).collect(),
            watermark_delay: a.watermark_delay.unwrap_or(engine.watermark_delay),
            allowed_lateness: a.allowed_lateness.unwrap_or(engine.allowed_lateness),
        })
        .collect();
    let options = EngineOptions {
        idle_timeout_ms: Some(engine.idle_timeout.as_millis_i64()),
        max_future_skew_ms: Some(engine.max_future_skew.as_millis_i64()),
        early_emit_interval_ms: engine
            .early_results
            .then(|| engine.trigger_interval.as_millis_i64()),
        emit_state: false,
        max_groups: engine.max_open_groups,
    };
    Ok(BuiltPlan {
        plan: EnginePlan {
            layouts: d.layouts(),
            aggregations,
            options,
        },
        tables: chosen.iter().map(|a| table_spec(d, a)).collect(),
    })
}

/// The fields each event type must provide to the plan's aggregations (the
/// engine always reads `event_time` too).
pub fn needed_fields(plan: &sluice_engine::EnginePlan) -> Vec<Vec<String>> {
    plan.layouts
        .iter()
        .map(|l| {
            let mut need: Vec<String> = Vec::new();
            for a in &plan.aggregations {
                if !a.event_types.is_empty() && !a.event_types.contains(&l.event_type) {
                    continue;
                }
                let names = a
                    .field
                    .iter()
                    .chain(a.group_by.iter())
                    .chain(a.filter.iter().map(|p| &p.field));
                for n in names {
                    if l.field(n).is_some() && !need.contains(n) {
                        need.push(n.clone());
                    }
                }
            }
            need
        })
        .collect()
}

/// The same plan over layouts restricted to the fields it reads: for sources
/// that project while parsing (JSON lines).
pub fn projected(built: &BuiltPlan) -> BuiltPlan {
    let need = needed_fields(&built.plan);
    let mut b = built.clone();
    b.plan.layouts = built
        .plan
        .layouts
        .iter()
        .zip(&need)
        .map(|(l, n)| sluice_formats::json_projector::project_layout(l, n))
        .collect();
    b
}
