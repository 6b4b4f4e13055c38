//! Metric names, defined once. Names follow Prometheus conventions:
//! `sluice_<area>_<name>_<unit>[_total]`, base units, bounded labels.

/// Events read from a source (labels: source, event_type).
pub const EVENTS_IN_TOTAL: &str = "sluice_source_events_total";
/// Result rows written to a sink (labels: sink, aggregation).
pub const ROWS_OUT_TOTAL: &str = "sluice_sink_rows_total";
/// Records sent to the dead-letter output (labels: reason).
pub const DEAD_LETTER_TOTAL: &str = "sluice_dead_letter_records_total";
/// Late events beyond allowed lateness (labels: aggregation).
pub const LATE_EVENTS_TOTAL: &str = "sluice_engine_late_events_total";
/// Wall clock minus watermark.
pub const WATERMARK_LAG_SECONDS: &str = "sluice_engine_watermark_lag_seconds";
/// Windows currently open (labels: aggregation).
pub const OPEN_WINDOWS: &str = "sluice_engine_open_windows";
