//! A lane: one engine and the bookkeeping that turns its state into safe
//! commit positions (one lane for the whole input, or one per partition
//! number in sharded mode).

use sluice_connectors::{CommitPosition, SourceOutput};
use sluice_core::time::now_ms;
use sluice_engine::{Engine, EnginePlan};

use crate::RuntimeError;

/// A source partition: (topic, partition).
pub(super) type PartitionKey = (String, i32);

/// One engine and the bookkeeping that turns its state into safe offsets.
pub(super) struct Lane {
    pub(super) engine: Engine,
    /// The partition number in sharded mode (`None`: the whole input).
    pub(super) number: Option<i32>,
    /// `number` as the rows' shard tag, empty for the whole input.
    pub(super) shard: String,
    /// Dense ids of the source partitions this lane reads (sharded mode).
    pub(super) dense: Vec<u32>,
    /// Per partition: `(first offset of a batch, largest event time seen
    /// once it was processed)`, oldest first.
    pub(super) marks:
        std::collections::BTreeMap<PartitionKey, std::collections::VecDeque<(i64, i64)>>,
    /// Per partition: the next offset after everything processed.
    pub(super) next: std::collections::BTreeMap<PartitionKey, i64>,
    /// Running record number: each batch's `first_offset`, so the engine
    /// names every record by a number unique in the lane.
    pub(super) seq: i64,
    /// Source outputs kept while the engine holds records from them (its
    /// late output then names records of earlier batches).
    pub(super) kept: std::collections::VecDeque<SourceOutput>,
    /// Checkpointing: whether the lane looked for a checkpoint to resume.
    pub(super) resumed: bool,
    /// Whether the lane's state descends from a checkpoint (restored or
    /// taken): from then on it commits only checkpoint positions.
    pub(super) restored: bool,
    /// The positions of the lane's last checkpoint.
    pub(super) checkpointed: Vec<CommitPosition>,
    /// The id of the lane's next checkpoint.
    pub(super) next_checkpoint: u64,
    /// Each source partition id's label (`topic:partition`), which names it
    /// in checkpoints.
    pub(super) names: std::collections::HashMap<u32, String>,
}

impl Lane {
    pub(super) fn new(plan: &EnginePlan, number: Option<i32>) -> Result<Self, RuntimeError> {
        Ok(Self {
            engine: Engine::new(plan.clone()).map_err(RuntimeError::Plan)?,
            number,
            shard: number.map(|n| n.to_string()).unwrap_or_default(),
            dense: Vec::new(),
            marks: Default::default(),
            next: Default::default(),
            seq: 0,
            kept: Default::default(),
            resumed: false,
            restored: false,
            checkpointed: Vec::new(),
            next_checkpoint: 0,
            names: Default::default(),
        })
    }

    /// Names source partition `id` (`topic`, `partition`) before its first
    /// batch: a restored checkpoint's progress for it applies from here.
    pub(super) fn name_partition(&mut self, id: u32, topic: &str, partition: i32) {
        if !self.names.contains_key(&id) {
            let label = format!("{topic}:{partition}");
            self.engine.bind_partition(id, &label);
            self.names.insert(id, label);
        }
    }

    pub(super) fn note_batch(&mut self, key: PartitionKey, first: i64, next: i64) {
        let max = self.engine.max_event_time().unwrap_or(i64::MIN);
        self.marks
            .entry(key.clone())
            .or_default()
            .push_back((first, max));
        let e = self.next.entry(key).or_insert(next);
        *e = (*e).max(next);
    }

    /// Per partition, the smallest offset a held window may still need.
    pub(super) fn safe_positions(&mut self, out: &mut Vec<CommitPosition>) {
        let held_from = self.engine.retained_from().unwrap_or(i64::MAX);
        for (key, next) in &self.next {
            let marks = self.marks.entry(key.clone()).or_default();
            while marks.front().is_some_and(|&(_, max)| max < held_from) {
                marks.pop_front();
            }
            let safe = marks.front().map(|&(first, _)| first).unwrap_or(*next);
            out.push(CommitPosition {
                topic: key.0.clone(),
                partition: key.1,
                next_offset: safe,
            });
        }
    }
}

/// The index of the lane of partition number `number` (created when
/// missing), with the dense source partition `dense` declared to its engine.
pub(super) fn lane_for(
    lanes: &mut Vec<Lane>,
    plan: &EnginePlan,
    number: Option<i32>,
    dense: u32,
) -> Result<usize, RuntimeError> {
    let li = match lanes.iter().position(|l| l.number == number) {
        Some(i) => i,
        None => {
            lanes.push(Lane::new(plan, number)?);
            lanes.len() - 1
        }
    };
    let lane = &mut lanes[li];
    if !lane.dense.contains(&dense) {
        lane.dense.push(dense);
        lane.engine.declare_partitions(&[dense], now_ms());
    }
    Ok(li)
}
