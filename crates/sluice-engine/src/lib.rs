//! The native streaming engine of sluice.
//!
//! The runtime translates configuration into an [`EnginePlan`]: one
//! [`RecordLayout`](sluice_core::RecordLayout) per event type and a list of
//! [`AggregationPlan`]s. [`Engine::new`] validates the plan and compiles, per
//! event type, a decoder that reads only the fields the aggregations need.
//! Raw Avro datums arrive in [`RawBatch`]es; [`Engine::process`] decodes each
//! record once, feeds every aggregation in one pass, tracks watermarks per
//! source partition and appends closed windows, late events and dead letters
//! to an [`Output`].
//!
//! Semantics in one paragraph (each point is pinned by a test, and
//! [`reference`](mod@reference) re-implements them in the most direct way):
//!
//! * **Event time** is the `event_time` field. Times outside ±2^53 ms are
//!   dead-lettered ([`DecodeError::TimeOutOfRange`]).
//! * **Watermarks.** Each source partition remembers the largest event time it
//!   delivered. The combined event-time frontier is the minimum of these over
//!   partitions that are *active*: a partition that never delivered an event
//!   does not count, and one silent for `idle_timeout_ms` of processing time is
//!   idle and excluded (if every partition is idle the frontier is the largest
//!   maximum). The frontier never goes back. An aggregation's watermark is the
//!   frontier minus its `watermark_delay`. Watermarks move after every record,
//!   so results do not depend on batch boundaries.
//! * **Outliers.** An event more than `max_future_skew_ms` ahead of the largest
//!   event time seen so far is routed to late output with
//!   [`LateReason::TooFarInFuture`] (once, `aggregation: None`) and does not
//!   move any watermark.
//! * **Windows** are aligned to the Unix epoch and half-open `[start, end)`;
//!   see [`window`]. Empty windows are never emitted.
//! * **Emission** (append mode): a window is emitted once when the watermark
//!   reaches its end, as [`WindowResult`]s with `revision: 0`, in the order
//!   aggregation, window end, window start, group key. With
//!   `early_emit_interval_ms`, open windows that changed are also emitted as
//!   `provisional: true` results on processing-time ticks.
//! * **Late data.** An event whose window was already emitted but with
//!   `watermark < window_end + allowed_lateness` updates the state and the
//!   group is re-emitted at once with the next revision. If every window the
//!   event belongs to (for one aggregation) is beyond that, the event goes to
//!   late output once for that aggregation with
//!   [`LateReason::BeyondAllowedLateness`]. Nothing is dropped silently.
//!   State is freed once the watermark passes `window_end + allowed_lateness`.
//! * **Duplicates** (same `event_id`) are counted twice: deduplication is not
//!   the engine's job.
//! * **Malformed records** become [`DeadLetter`]s with a [`DecodeError`]
//!   reason; nothing on the data path panics.
#![forbid(missing_docs)]

pub mod aggregate;
pub mod batch;
pub mod decode;
pub mod engine;
pub mod error;
pub mod filter;
pub mod hash;
pub mod keys;
pub mod late;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod reference;
pub mod value;
pub mod watermark;
pub mod window;

pub use batch::RawBatch;
pub use engine::{Engine, SnapshotError, SNAPSHOT_FORMAT};
pub use error::{DecodeError, EncodeError, PlanError};
pub use late::{DeadLetter, LateEvent, LateReason};
pub use metrics::EngineMetrics;
pub use output::{AggState, AggValue, KeyValue, Output, WindowResult};
pub use plan::{AggregationPlan, EngineOptions, EnginePlan};
pub use value::Value;
