//! The event-time frontier across source partitions.
//!
//! Each partition remembers the largest event time it delivered and when (in
//! processing time) it last delivered anything. The frontier is the minimum
//! of the maxima of *active* partitions (delivered at least one event and not
//! idle); when every partition that delivered events is idle, it is the
//! largest maximum, so a stalled stream still closes its windows. The
//! frontier is monotonic. Aggregations subtract their own delay from it.

use sluice_core::Watermark;

#[derive(Clone, Debug)]
struct Partition {
    id: u32,
    max: Option<i64>,
    last_active: i64,
    idle: bool,
    /// Declared by the source (e.g. an assigned Kafka partition): holds the
    /// frontier back until it delivers or goes idle.
    declared: bool,
}

/// A partition's part in the frontier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionRole {
    /// The frontier waits for it: the active partition with the smallest
    /// maximum, or one assigned that has not delivered yet.
    Holds,
    /// Assigned, no event yet (and not idle): it holds the frontier back.
    Waiting,
    /// Silent for the idle timeout: it does not hold the frontier back.
    Idle,
    /// Active and past the frontier.
    Ahead,
}

impl PartitionRole {
    /// In words, for a live view.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionRole::Holds => "holds the watermark",
            PartitionRole::Waiting => "waiting for its first event",
            PartitionRole::Idle => "idle",
            PartitionRole::Ahead => "ahead",
        }
    }
}

/// One source partition's event-time progress, for a live view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionProgress {
    /// The source's partition id.
    pub id: u32,
    /// The largest event time it delivered.
    pub max: Option<i64>,
    /// Its part in the frontier.
    pub role: PartitionRole,
}

/// Tracks partitions and the combined frontier.
#[derive(Clone, Debug)]
pub struct WatermarkTracker {
    parts: Vec<Partition>,
    frontier: i64,
    max_seen: Option<i64>,
    idle_timeout: Option<i64>,
}

impl WatermarkTracker {
    /// A tracker; `idle_timeout` in processing-time milliseconds.
    pub fn new(idle_timeout: Option<i64>) -> Self {
        Self {
            parts: Vec::new(),
            frontier: i64::MIN,
            max_seen: None,
            idle_timeout,
        }
    }

    /// The combined frontier (`i64::MIN` before any event).
    #[inline]
    pub fn frontier(&self) -> i64 {
        self.frontier
    }

    /// Largest event time accepted from any partition.
    #[inline]
    pub fn max_seen(&self) -> Option<i64> {
        self.max_seen
    }

    /// The largest event time partition `idx` delivered, if any.
    #[inline]
    pub fn partition_max(&self, idx: usize) -> Option<i64> {
        self.parts.get(idx).and_then(|p| p.max)
    }

    /// Index of partition `id`, registering it.
    pub fn partition_index(&mut self, id: u32) -> usize {
        if let Some(i) = self.parts.iter().position(|p| p.id == id) {
            return i;
        }
        self.parts.push(Partition {
            id,
            max: None,
            last_active: i64::MIN,
            idle: false,
            declared: false,
        });
        self.parts.len() - 1
    }

    /// Declares partition `id` as expected at processing time `now`: until it
    /// delivers an event or is idle for the idle timeout, it holds the
    /// frontier back (a partition assigned but not yet read must not let the
    /// others' events make its own late).
    pub fn declare(&mut self, id: u32, now: i64) {
        let i = self.partition_index(id);
        let p = &mut self.parts[i];
        p.declared = true;
        if p.last_active == i64::MIN {
            p.last_active = now;
        }
    }

    /// Records activity (any record) on partition `idx` at processing time
    /// `now`. Returns true when the frontier moved.
    pub fn touch(&mut self, idx: usize, now: i64) -> bool {
        let Some(p) = self.parts.get_mut(idx) else {
            return false;
        };
        p.last_active = now;
        if p.idle {
            p.idle = false;
            return self.recompute();
        }
        false
    }

    /// Records an accepted event time on partition `idx`. Returns true when
    /// the frontier moved.
    #[inline]
    pub fn observe(&mut self, idx: usize, t: i64) -> bool {
        if self.parts.len() == 1 {
            // One partition: its maximum, the largest time seen and the
            // frontier are the same number, so one comparison decides.
            if t > self.frontier {
                self.frontier = t;
                self.max_seen = Some(t);
                if let Some(p) = self.parts.get_mut(0) {
                    p.max = Some(t);
                }
                return true;
            }
            return false;
        }
        if self.max_seen.is_none_or(|m| t > m) {
            self.max_seen = Some(t);
        }
        let Some(p) = self.parts.get_mut(idx) else {
            return false;
        };
        match p.max {
            Some(m) if m >= t => false,
            _ => {
                p.max = Some(t);
                self.recompute()
            }
        }
    }

    /// Marks partitions silent for the idle timeout as idle at processing
    /// time `now`. Returns true when the frontier moved.
    pub fn mark_idle(&mut self, now: i64) -> bool {
        let Some(timeout) = self.idle_timeout else {
            return false;
        };
        let mut changed = false;
        for p in &mut self.parts {
            if !p.idle && p.last_active != i64::MIN && now.saturating_sub(p.last_active) >= timeout
            {
                p.idle = true;
                changed = true;
            }
        }
        changed && self.recompute()
    }

    fn recompute(&mut self) -> bool {
        if self
            .parts
            .iter()
            .any(|p| p.declared && !p.idle && p.max.is_none())
        {
            return false;
        }
        let active = self
            .parts
            .iter()
            .filter(|p| !p.idle)
            .filter_map(|p| p.max)
            .min();
        let candidate = active.or_else(|| self.parts.iter().filter_map(|p| p.max).max());
        match candidate {
            Some(c) if c > self.frontier => {
                self.frontier = c;
                true
            }
            _ => false,
        }
    }

    /// The frontier as a watermark message for partition `id`: `Idle` when the
    /// partition is idle.
    pub fn partition_watermark(&self, id: u32) -> Option<Watermark> {
        let p = self.parts.iter().find(|p| p.id == id)?;
        if p.idle {
            return Some(Watermark::Idle);
        }
        p.max
            .map(|m| Watermark::EventTime(sluice_core::EventTime(m)))
    }

    /// `(partition id, largest event time)` of every partition that
    /// delivered an event, the frontier and the largest time seen: what a
    /// checkpoint keeps of the tracker.
    pub fn progress(&self) -> (Vec<(u32, i64)>, i64, Option<i64>) {
        let parts = self
            .parts
            .iter()
            .filter_map(|p| p.max.map(|m| (p.id, m)))
            .collect();
        (parts, self.frontier, self.max_seen)
    }

    /// Every partition's progress, and which ones hold the frontier back.
    pub fn partitions(&self) -> Vec<PartitionProgress> {
        let waiting = |p: &Partition| p.declared && !p.idle && p.max.is_none();
        // a partition still waiting holds the frontier; else the slowest
        // active one does
        let any_waiting = self.parts.iter().any(waiting);
        let slowest = self
            .parts
            .iter()
            .filter(|p| !p.idle)
            .filter_map(|p| p.max)
            .min();
        self.parts
            .iter()
            .map(|p| {
                let role = if p.idle {
                    PartitionRole::Idle
                } else if waiting(p) {
                    PartitionRole::Waiting
                } else if !any_waiting && p.max.is_some() && p.max == slowest {
                    PartitionRole::Holds
                } else {
                    PartitionRole::Ahead
                };
                PartitionProgress {
                    id: p.id,
                    max: p.max,
                    role,
                }
            })
            .collect()
    }

    /// Restores the frontier and the largest time seen from a checkpoint
    /// (neither goes back).
    pub fn restore_progress(&mut self, frontier: i64, max_seen: Option<i64>) {
        self.frontier = self.frontier.max(frontier);
        self.max_seen = self.max_seen.max(max_seen);
    }

    /// Restores partition `id`'s largest event time from a checkpoint, as
    /// active at processing time `now`.
    pub fn restore_partition(&mut self, id: u32, max: i64, now: i64) {
        let i = self.partition_index(id);
        let p = &mut self.parts[i];
        p.max = p.max.max(Some(max));
        if p.last_active == i64::MIN {
            p.last_active = now;
        }
    }

    /// Forces the frontier to the end of time (bounded input finished).
    pub fn finish(&mut self) {
        self.frontier = i64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_silent_partition_holds_the_frontier_until_idle() {
        let mut w = WatermarkTracker::new(Some(1_000));
        w.declare(0, 0);
        w.declare(1, 0);
        let a = w.partition_index(0);
        assert!(
            !w.observe(a, 50_000),
            "partition 1 has not delivered: no frontier yet"
        );
        assert_eq!(w.frontier(), i64::MIN);
        let b = w.partition_index(1);
        assert!(w.observe(b, 10_000));
        assert_eq!(w.frontier(), 10_000);
        // a third declared partition that never delivers goes idle after the timeout
        w.declare(2, 2_000);
        assert!(!w.observe(b, 20_000));
        assert_eq!(w.frontier(), 10_000);
        w.touch(a, 3_000);
        w.touch(b, 3_000);
        assert!(w.mark_idle(3_500));
        assert_eq!(w.frontier(), 20_000);
    }

    #[test]
    fn the_view_names_the_partition_that_holds_the_frontier() {
        let mut w = WatermarkTracker::new(Some(1_000));
        w.declare(0, 0);
        w.declare(1, 0);
        let a = w.partition_index(0);
        w.observe(a, 50_000);
        // partition 1 has delivered nothing: it is the one holding
        let v = w.partitions();
        assert_eq!(v[1].role, PartitionRole::Waiting, "{v:?}");
        assert!(
            v[0].role == PartitionRole::Ahead && v[0].max == Some(50_000),
            "{v:?}"
        );
        let b = w.partition_index(1);
        w.observe(b, 10_000);
        let v = w.partitions();
        assert!(v.iter().all(|p| p.role != PartitionRole::Waiting));
        assert_eq!(
            v.iter()
                .filter(|p| p.role == PartitionRole::Holds)
                .map(|p| p.id)
                .collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(v[1].max, Some(w.frontier()));
        // 1 goes quiet: idle, and 0 is the only one left
        w.touch(a, 2_000);
        w.mark_idle(1_500);
        let v = w.partitions();
        assert_eq!(v[1].role, PartitionRole::Idle, "{v:?}");
        assert_eq!(v[0].role, PartitionRole::Holds, "{v:?}");
        assert_eq!(w.frontier(), 50_000);
    }
}
