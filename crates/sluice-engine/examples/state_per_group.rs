//! Memory a user should plan per open group: one aggregation (`count`,
//! grouped by a 36-character id, one-day tumbling window) fed `N` distinct
//! ids (`STATE_GROUPS`, default 1 000 000), then the engine's own state
//! estimate and the process's resident memory growth, each per group.
//! `STATE_AGG=sum|avg|count_distinct|approx_count_distinct|percentile`
//! measures that aggregate over an int field instead of `count`.
//!
//! `cargo run --release -p sluice-engine --example state_per_group`

use sluice_core::{AggregateKind, FieldLayout, FieldRole, FieldType, HumanDuration, RecordLayout};
use sluice_core::{MoneyEncoding, WindowSpec};
use sluice_engine::{AggregationPlan, Engine, EngineOptions, EnginePlan, Output, Value};

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let n: u64 = std::env::var("STATE_GROUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut fields = RecordLayout::envelope("user");
    fields.push(FieldLayout {
        name: "n".into(),
        ty: FieldType::Int,
        optional: false,
        role: FieldRole::Attribute,
        doc: None,
    });
    let layout = RecordLayout {
        namespace: "sluice.example".into(),
        domain: "example".into(),
        event_type: "hit".into(),
        entity_key: "user".into(),
        money: MoneyEncoding::Long,
        fields,
    };
    let kind = std::env::var("STATE_AGG").unwrap_or_else(|_| "count".into());
    let (kind, field) = match kind.as_str() {
        "sum" => (AggregateKind::Sum, Some("n")),
        "avg" => (AggregateKind::Avg, Some("n")),
        "count_distinct" => (AggregateKind::CountDistinct, Some("n")),
        "approx_count_distinct" => (AggregateKind::ApproxCountDistinct, Some("n")),
        "percentile" => (AggregateKind::Percentile, Some("n")),
        _ => (AggregateKind::Count, None),
    };
    let mut agg = AggregationPlan::new(
        "per_event",
        kind,
        field,
        WindowSpec::Tumbling {
            size: HumanDuration::parse("1 day").expect("a duration"),
        },
    );
    agg.group_by = vec!["event_id".into()];
    agg.quantiles = vec![0.5, 0.9, 0.99];
    let plan = EnginePlan {
        layouts: vec![layout],
        aggregations: vec![agg],
        options: EngineOptions::default(),
    };
    let mut engine = Engine::new(plan).expect("a valid plan");
    let mut out = Output::new();
    let before = rss_bytes();
    let batch = 10_000u64;
    let mut i = 0u64;
    while i < n {
        let records: Vec<Vec<Value>> = (i..(i + batch).min(n))
            .map(|k| {
                vec![
                    Value::Str(format!("{k:08x}-0000-4000-8000-{k:012x}")),
                    Value::Str("hit".into()),
                    Value::Str(format!("u{}", k % 1000)),
                    Value::Int(1_700_000_000_000 + (k % 1000) as i64),
                    Value::Null,
                    Value::Int(1),
                ]
            })
            .collect();
        engine
            .process_values(0, 0, i as i64, &records, &mut out)
            .expect("records match the layout");
        out.clear();
        i += batch;
    }
    let m = engine.metrics();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{} open groups: engine estimate {:.0} bytes/group, resident memory +{:.0} bytes/group",
        m.open_groups,
        m.state_bytes as f64 / m.open_groups.max(1) as f64,
        grown as f64 / m.open_groups.max(1) as f64
    );
}
