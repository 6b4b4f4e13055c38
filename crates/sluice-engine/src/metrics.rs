//! Engine counters and gauges, read with
//! [`Engine::metrics`](crate::Engine::metrics). The runtime publishes them
//! under the names in `sluice_core::metrics`; the engine itself emits nothing.

/// A snapshot of engine counters (monotonic) and gauges (current).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineMetrics {
    /// Records received.
    pub events_in: u64,
    /// Records decoded successfully.
    pub decoded: u64,
    /// Records dead-lettered.
    pub dead_lettered: u64,
    /// (event, aggregation) pairs rejected by the aggregation's filter.
    pub filtered: u64,
    /// (event, aggregation) pairs routed to late output beyond lateness.
    pub late: u64,
    /// Events routed to late output as too far in the future.
    pub outliers: u64,
    /// Events an aggregation at its `max_groups` limit refused (they would
    /// have opened a new group).
    pub over_limit: u64,
    /// (event, window) updates skipped because that one window was beyond
    /// lateness while another window of the same event was not (sliding and
    /// cumulative windows only).
    pub late_window_updates_skipped: u64,
    /// Results emitted (final, revisions and provisional).
    pub results: u64,
    /// Of which re-emissions (revision > 0).
    pub revisions: u64,
    /// Of which provisional.
    pub provisional: u64,
    /// Windows (sessions included) currently held.
    pub open_windows: u64,
    /// (window, group) states currently held.
    pub open_groups: u64,
    /// Approximate bytes of state held.
    pub state_bytes: u64,
}
