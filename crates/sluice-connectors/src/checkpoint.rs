//! Checkpoints of open-window state, stored beside the results.
//!
//! A [`Checkpoint`] is one lane's engine state (see the runtime's pipeline:
//! one lane per partition number in sharded runs) together with the source
//! positions it covers. The runtime saves it after the rows emitted before
//! it are durable and only then commits exactly those positions, so the
//! committed offsets always name a checkpoint that exists. A restarted lane
//! reads its recent checkpoints ([`CheckpointStore::load`]) and resumes from
//! the one whose positions equal the committed offsets: a restart re-reads
//! at most one checkpoint interval, however long the open windows are.
//!
//! A store keeps at least the [`KEEP`] most recent checkpoints per lane
//! (the committed one is always among the two newest).

use crate::{CommitPosition, ConnectorError};
use std::sync::Arc;

/// The table every store keeps checkpoints in.
pub const CHECKPOINT_TABLE: &str = "_sluice_checkpoints";

/// Checkpoints a store keeps per lane, at least.
pub const KEEP: u64 = 4;

/// One lane's state and the positions it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The lane: `<scope>/<shard>` (scope: the consumer group).
    pub lane: String,
    /// Increases by one per checkpoint of the lane (across restarts).
    pub id: u64,
    /// Per source partition, the next offset after everything the state
    /// includes.
    pub positions: Vec<CommitPosition>,
    /// The engine's snapshot.
    pub state: Vec<u8>,
}

impl Checkpoint {
    /// Whether every position of the checkpoint equals the committed one
    /// (`committed`: the committed offsets, `None` where nothing is).
    pub fn matches(&self, committed: &[(CommitPosition, bool)]) -> bool {
        !self.positions.is_empty()
            && self
                .positions
                .iter()
                .all(|p| committed.iter().any(|(c, known)| *known && c == p))
    }

    /// Positions as text: `topic:partition:offset` joined by `,` (topic
    /// names are `[a-zA-Z0-9._-]`).
    pub fn positions_text(&self) -> String {
        self.positions
            .iter()
            .map(|p| format!("{}:{}:{}", p.topic, p.partition, p.next_offset))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses [`Checkpoint::positions_text`].
    pub fn parse_positions(text: &str) -> Option<Vec<CommitPosition>> {
        if text.is_empty() {
            return Some(Vec::new());
        }
        text.split(',')
            .map(|item| {
                let mut it = item.rsplitn(3, ':');
                let offset = it.next()?.parse().ok()?;
                let partition = it.next()?.parse().ok()?;
                let topic = it.next()?.to_string();
                Some(CommitPosition {
                    topic,
                    partition,
                    next_offset: offset,
                })
            })
            .collect()
    }
}

/// Where checkpoints live (a table in the sink's store).
pub trait CheckpointStore: Send + std::fmt::Debug {
    /// Creates what the store needs (idempotent).
    fn prepare(&mut self) -> Result<(), ConnectorError>;
    /// Saves checkpoints durably; a lane's older ones beyond [`KEEP`] may go.
    fn save(&mut self, checkpoints: &[Checkpoint]) -> Result<(), ConnectorError>;
    /// The lane's recent checkpoints, newest first.
    fn load(&mut self, lane: &str) -> Result<Vec<Checkpoint>, ConnectorError>;
}

/// Reads the committed offsets of the given `(topic, partition)`s (the
/// group's, whoever owns them now); each with `false` where nothing is
/// committed.
pub type CommittedHook =
    Arc<dyn Fn(&[(String, i32)]) -> Result<Vec<(CommitPosition, bool)>, String> + Send + Sync>;

/// How a source with committed positions tells the pipeline where a lane
/// resumes.
#[derive(Clone)]
pub struct Committed {
    /// Names the pipeline's lanes in the checkpoint store (the consumer
    /// group).
    pub scope: String,
    /// Reads the committed offsets.
    pub read: CommittedHook,
}

impl std::fmt::Debug for Committed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committed")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(t: &str, p: i32, o: i64) -> CommitPosition {
        CommitPosition {
            topic: t.into(),
            partition: p,
            next_offset: o,
        }
    }

    #[test]
    fn positions_round_trip_and_match() {
        let cp = Checkpoint {
            lane: "g/1".into(),
            id: 3,
            positions: vec![pos("shop.page_view", 1, 10), pos("shop-x_y", 1, 0)],
            state: vec![],
        };
        let text = cp.positions_text();
        assert_eq!(text, "shop.page_view:1:10,shop-x_y:1:0");
        assert_eq!(Checkpoint::parse_positions(&text).unwrap(), cp.positions);
        assert_eq!(Checkpoint::parse_positions("").unwrap(), vec![]);
        assert!(Checkpoint::parse_positions("t:1").is_none());
        let committed = vec![
            (pos("shop.page_view", 1, 10), true),
            (pos("shop-x_y", 1, 0), true),
            (pos("other", 1, 5), true),
        ];
        assert!(cp.matches(&committed));
        let moved = vec![
            (pos("shop.page_view", 1, 11), true),
            (pos("shop-x_y", 1, 0), true),
        ];
        assert!(!cp.matches(&moved));
        let unknown = vec![
            (pos("shop.page_view", 1, 10), true),
            (pos("shop-x_y", 1, 0), false),
        ];
        assert!(!cp.matches(&unknown));
    }
}
