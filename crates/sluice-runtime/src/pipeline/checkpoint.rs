//! Checkpoints of open windows: every `interval` each lane's engine state is
//! snapshotted with the positions it covers; the sink thread saves it after
//! the rows before it are durable and only then commits those positions.
//! A lane that starts (at launch, or when a rebalance hands this instance
//! its partitions) restores the checkpoint whose positions equal the
//! committed offsets, so a restart re-reads at most one interval whatever
//! the longest window. Without such a checkpoint (first run, or a commit of
//! safe positions before the first checkpoint) the lane rebuilds its windows
//! by re-reading from the committed offsets, as before checkpoints existed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_connectors::{Checkpoint, CheckpointStore, Committed};

use super::lane::Lane;
use crate::RuntimeError;

/// How a pipeline checkpoints (only with a source that commits positions
/// and a sink that keeps checkpoints).
#[derive(Clone)]
pub struct Checkpointing {
    /// At most this long between two checkpoints of a lane that read data.
    pub interval: Duration,
    /// Where checkpoints live (shared by the engine and sink threads).
    pub store: Arc<Mutex<Box<dyn CheckpointStore>>>,
    /// Reads the committed offsets a lane resumes from.
    pub committed: Committed,
}

impl std::fmt::Debug for Checkpointing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointing")
            .field("interval", &self.interval)
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

impl Checkpointing {
    fn store(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn CheckpointStore>>, RuntimeError> {
        self.store
            .lock()
            .map_err(|_| RuntimeError::Checkpoint("checkpoint store poisoned".into()))
    }

    /// Saves checkpoints (sink thread).
    pub(super) fn save(
        &self,
        checkpoints: &[Checkpoint],
    ) -> Result<(), sluice_connectors::ConnectorError> {
        match self.store.lock() {
            Ok(mut s) => s.save(checkpoints),
            Err(_) => Err(sluice_connectors::ConnectorError::Config {
                connector: "checkpoints",
                message: "checkpoint store poisoned".into(),
            }),
        }
    }

    /// The lane's name in the store.
    pub(super) fn lane_name(&self, number: Option<i32>) -> String {
        match number {
            Some(n) => format!("{}/{n}", self.committed.scope),
            None => format!("{}/all", self.committed.scope),
        }
    }

    /// Restores `lane` from the checkpoint matching its committed offsets,
    /// if there is one (called once, before the lane's first batch).
    pub(super) fn resume(&self, lane: &mut Lane) -> Result<(), RuntimeError> {
        lane.resumed = true;
        let name = self.lane_name(lane.number);
        let found = self.store()?.load(&name).map_err(|e| {
            RuntimeError::Checkpoint(format!("read the checkpoints of lane {name}: {e}"))
        })?;
        lane.next_checkpoint = found.first().map_or(0, |c| c.id + 1);
        if found.is_empty() {
            return Ok(());
        }
        let mut partitions: Vec<(String, i32)> = found
            .iter()
            .flat_map(|c| c.positions.iter().map(|p| (p.topic.clone(), p.partition)))
            .collect();
        partitions.sort();
        partitions.dedup();
        let committed = (self.committed.read)(&partitions).map_err(|e| {
            RuntimeError::Checkpoint(format!("read the committed offsets of lane {name}: {e}"))
        })?;
        let Some(cp) = found.iter().find(|c| c.matches(&committed)) else {
            tracing::info!(lane = %name, "no checkpoint matches the committed offsets; the lane rebuilds its windows from them");
            return Ok(());
        };
        lane.engine.restore(&cp.state).map_err(|e| {
            RuntimeError::Checkpoint(format!(
                "lane {name}: checkpoint {} cannot be restored: {e}. Its open windows hold events before the committed offsets. \
                 Either run the configuration that wrote it, or accept losing those events with \
                 `ALTER TABLE {table} DELETE WHERE lane = '{name}'` in the sink's database, \
                 or read everything again under a new consumer group (--group)",
                cp.id,
                table = sluice_connectors::checkpoint::CHECKPOINT_TABLE,
            ))
        })?;
        for p in &cp.positions {
            lane.next
                .insert((p.topic.clone(), p.partition), p.next_offset);
        }
        lane.checkpointed.clone_from(&cp.positions);
        lane.restored = true;
        tracing::info!(lane = %name, checkpoint = cp.id, bytes = cp.state.len(), "restored open windows from a checkpoint");
        Ok(())
    }

    /// A checkpoint of `lane` when it read something since its last one and
    /// nothing is on probation.
    pub(super) fn take(&self, lane: &mut Lane) -> Option<Checkpoint> {
        let positions: Vec<sluice_connectors::CommitPosition> = lane
            .next
            .iter()
            .map(
                |((topic, partition), next)| sluice_connectors::CommitPosition {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: *next,
                },
            )
            .collect();
        if positions.is_empty() || positions == lane.checkpointed {
            return None;
        }
        let names = &lane.names;
        let state = match lane.engine.snapshot(&|id| names.get(&id).cloned()) {
            Ok(s) => s,
            Err(sluice_engine::SnapshotError::Holding) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "engine snapshot failed; no checkpoint this time");
                return None;
            }
        };
        let cp = Checkpoint {
            lane: self.lane_name(lane.number),
            id: lane.next_checkpoint,
            positions,
            state,
        };
        lane.next_checkpoint += 1;
        lane.checkpointed.clone_from(&cp.positions);
        lane.restored = true;
        Some(cp)
    }
}
