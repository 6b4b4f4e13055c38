//! The plan the runtime builds from configuration: record layouts, the
//! aggregations to compute and engine options. Pure data; validation happens
//! in [`Engine::new`](crate::Engine::new).

use sluice_core::{AggregateKind, HumanDuration, Predicate, RecordLayout, WindowSpec};

/// Everything the engine needs to run.
#[derive(Clone, Debug, PartialEq)]
pub struct EnginePlan {
    /// One layout per event type; the index is the event type id used in
    /// [`RawBatch`](crate::RawBatch).
    pub layouts: Vec<RecordLayout>,
    /// Aggregations, all computed in one pass; the index is the aggregation id
    /// used in results.
    pub aggregations: Vec<AggregationPlan>,
    /// Engine-wide options.
    pub options: EngineOptions,
}

/// One windowed aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregationPlan {
    /// Name, unique within the plan.
    pub name: String,
    /// What to compute.
    pub kind: AggregateKind,
    /// Field read by the aggregate. `count` with a field counts non-null values
    /// of it; without, it counts events.
    pub field: Option<String>,
    /// Quantiles in `[0, 1]` reported by `percentile`.
    pub quantiles: Vec<f64>,
    /// Event types feeding the aggregation; empty means all.
    pub event_types: Vec<String>,
    /// Window in event time.
    pub window: WindowSpec,
    /// Group key fields (strings, enums, integers, money, timestamps, booleans;
    /// envelope fields such as `event_type` included). Null is a group value.
    pub group_by: Vec<String>,
    /// Predicates, ANDed. A null field fails every predicate (SQL semantics).
    pub filter: Vec<Predicate>,
    /// How far the watermark trails the event-time frontier.
    pub watermark_delay: HumanDuration,
    /// How long after a window's end late events still update it.
    pub allowed_lateness: HumanDuration,
}

impl AggregationPlan {
    /// A plan with no filter, no grouping, no delay and no lateness.
    pub fn new(name: &str, kind: AggregateKind, field: Option<&str>, window: WindowSpec) -> Self {
        Self {
            name: name.to_string(),
            kind,
            field: field.map(str::to_string),
            quantiles: Vec::new(),
            event_types: Vec::new(),
            window,
            group_by: Vec::new(),
            filter: Vec::new(),
            watermark_delay: HumanDuration::default(),
            allowed_lateness: HumanDuration::default(),
        }
    }
}

/// Engine-wide options.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EngineOptions {
    /// A partition that delivered nothing for this long (processing time, as
    /// given to `advance_processing_time`) is idle and stops holding back the
    /// watermark. `None`: partitions never become idle.
    pub idle_timeout_ms: Option<i64>,
    /// An event more than this far ahead of the largest event time seen is an
    /// outlier: routed to late output, never moving a watermark. `None`: no
    /// limit.
    pub max_future_skew_ms: Option<i64>,
    /// Update mode: every this many milliseconds of processing time, open
    /// windows that changed are emitted as provisional results.
    pub early_emit_interval_ms: Option<i64>,
    /// Attach each result's mergeable state ([`crate::AggState`]) for stores
    /// that combine partial rows from several source partitions.
    pub emit_state: bool,
    /// Most open groups one aggregation may hold (summed over its open
    /// windows; sessions count one each). While an aggregation is at the
    /// limit, an event that would open a new group for it is routed to late
    /// output with [`crate::LateReason::StateLimit`] (counted, never
    /// dropped); events of groups already open still update them. Checked
    /// once per batch, so the limit may be passed by one batch's new
    /// groups. `None`: no limit.
    pub max_groups: Option<u64>,
}
