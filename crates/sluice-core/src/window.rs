//! Window specifications, aligned to the Unix epoch (UTC) as Spark and Flink do.

use crate::HumanDuration;

/// Most windows one event may belong to: `duration / slide` for sliding
/// windows, `max_size / step` for cumulative ones. The engine refuses plans
/// above it and configuration validation reports them, from this one value.
pub const MAX_WINDOWS_PER_EVENT: i64 = 4096;

/// How events are grouped in event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowSpec {
    /// Fixed, non-overlapping windows of `size`.
    Tumbling {
        /// Window length.
        size: HumanDuration,
    },
    /// Overlapping windows of `size`, one starting every `slide`; an event
    /// belongs to `size / slide` windows.
    Sliding {
        /// Window length.
        size: HumanDuration,
        /// Distance between window starts.
        slide: HumanDuration,
    },
    /// Per-key activity sessions closed after `gap` without events.
    Session {
        /// Inactivity gap that ends a session.
        gap: HumanDuration,
    },
    /// Windows sharing a start (aligned to `max_size`) that grow by `step`
    /// up to `max_size`: "so far today, updated every minute".
    Cumulative {
        /// Growth step.
        step: HumanDuration,
        /// Final window length.
        max_size: HumanDuration,
    },
}

impl WindowSpec {
    /// The YAML name of the window type.
    pub fn type_name(&self) -> &'static str {
        match self {
            WindowSpec::Tumbling { .. } => "tumbling",
            WindowSpec::Sliding { .. } => "sliding",
            WindowSpec::Session { .. } => "session",
            WindowSpec::Cumulative { .. } => "cumulative",
        }
    }

    /// Every window type name accepted in YAML.
    pub const TYPE_NAMES: &'static [&'static str] =
        &["tumbling", "sliding", "session", "cumulative"];
}
