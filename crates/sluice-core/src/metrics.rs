//! Metric names, defined once. Names follow Prometheus conventions:
//! `sluice_<area>_<name>_<unit>[_total]`, base units (seconds, bytes),
//! bounded labels. Every series also carries the global label `domain`.
//! The dashboards and alert rules sluice generates refer to these constants,
//! so a rename cannot leave them behind.

/// Events read from a source (labels: source, event_type).
pub const EVENTS_IN_TOTAL: &str = "sluice_source_events_total";
/// Records the source or the decoder could not decode (labels: source).
pub const DECODE_ERRORS_TOTAL: &str = "sluice_source_decode_errors_total";
/// Records sent to the dead-letter output (labels: kind = malformed, late,
/// future_outlier).
pub const DEAD_LETTER_TOTAL: &str = "sluice_dead_letter_records_total";
/// Late events beyond allowed lateness (labels: aggregation).
pub const LATE_EVENTS_TOTAL: &str = "sluice_engine_late_events_total";
/// Window results emitted (labels: aggregation).
pub const RESULTS_TOTAL: &str = "sluice_engine_results_total";
/// Wall clock minus the smallest watermark, seconds.
pub const WATERMARK_LAG_SECONDS: &str = "sluice_engine_watermark_lag_seconds";
/// Windows currently held (open or within allowed lateness).
pub const OPEN_WINDOWS: &str = "sluice_engine_open_windows";
/// Approximate bytes of window state.
pub const STATE_BYTES: &str = "sluice_engine_state_bytes";
/// Result rows durably written (labels: sink).
pub const ROWS_OUT_TOTAL: &str = "sluice_sink_rows_total";
/// Time of one sink write (labels: sink), a histogram.
pub const SINK_WRITE_SECONDS: &str = "sluice_sink_write_duration_seconds";
/// Sink writes retried (labels: sink).
pub const SINK_RETRIES_TOTAL: &str = "sluice_sink_retries_total";
/// Sink writes that failed (each failed attempt; labels: sink).
pub const SINK_ERRORS_TOTAL: &str = "sluice_sink_errors_total";
/// 1 while the sink's last write failed, else 0 (labels: sink).
pub const SINK_DOWN: &str = "sluice_sink_down";
/// Checkpoints of open windows saved (then their positions committed).
pub const CHECKPOINTS_TOTAL: &str = "sluice_checkpoints_total";
/// Size of a lane's last checkpoint, bytes (labels: lane).
pub const CHECKPOINT_BYTES: &str = "sluice_checkpoint_bytes";
/// Batches between the source and the sink.
pub const BATCHES_IN_FLIGHT: &str = "sluice_pipeline_batches_in_flight";
/// Records of a Kafka partition not yet consumed by this group (labels:
/// topic, partition).
pub const KAFKA_CONSUMER_LAG: &str = "sluice_kafka_consumer_lag_records";
/// Kafka messages the producer could not deliver (labels: topic kind:
/// events, dlq).
pub const KAFKA_DELIVERY_ERRORS_TOTAL: &str = "sluice_kafka_producer_delivery_errors_total";
/// Always 1, with the version as a label.
pub const BUILD_INFO: &str = "sluice_build_info";
/// Resident memory, bytes.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
/// User and system CPU time, seconds.
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
/// Open file descriptors.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// Process start, seconds since the epoch.
pub const PROCESS_START_TIME_SECONDS: &str = "process_start_time_seconds";
