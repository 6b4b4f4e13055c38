//! Checkpoints of the engine's state: every open window (and every window
//! kept for allowed lateness) with its groups and aggregate states, and the
//! event-time progress (frontier, largest time seen, each partition's
//! largest time). A runtime that stores a snapshot together with the source
//! positions it covers can restart from there instead of re-reading the
//! oldest open window's input.
//!
//! Source partitions are named by labels the caller gives (the engine's own
//! partition ids are dense numbers a source assigns per run): a restored
//! partition's progress waits until [`Engine::bind_partition`] names the id
//! it has in the new run.
//!
//! The encoding is `postcard` behind a header with a format number and a
//! fingerprint of the state-bearing part of the plan (names, kinds, fields,
//! quantiles, windows and group keys of the aggregations, in order): a
//! snapshot from another format or plan is refused, never misread.

use serde::{Deserialize, Serialize};

use super::{Engine, Probation, State};
use crate::plan::EnginePlan;

/// Seed of the body checksum.
const CHECK_SEED: u64 = 0x5ee5_c0de;

/// The encoding's version: bumped whenever a state type changes shape.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Why a snapshot could not be taken or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Records are held on probation (a partition's first records): they
    /// belong to no window yet, so no snapshot is consistent now.
    #[error("records are held on probation; no consistent snapshot until they are judged")]
    Holding,
    /// The state could not be encoded.
    #[error("encode the engine state: {0}")]
    Encode(String),
    /// The bytes are not an engine snapshot (or are damaged).
    #[error("not a readable engine snapshot: {0}")]
    Decode(String),
    /// Written by another version of the encoding.
    #[error("the snapshot has format {found}; this sluice reads format {expected}")]
    Format {
        /// The format this build reads.
        expected: u32,
        /// The snapshot's format.
        found: u32,
    },
    /// Written for another plan: aggregations, their fields, windows or
    /// group keys changed.
    #[error("the snapshot was taken for other aggregations (plan fingerprint {found:016x}, this plan {expected:016x}): names, kinds, fields, windows or group keys changed")]
    Plan {
        /// This plan's fingerprint.
        expected: u64,
        /// The snapshot's.
        found: u64,
    },
}

impl sluice_core::Classify for SnapshotError {
    fn domain(&self) -> sluice_core::ErrorDomain {
        match self {
            // another plan or format: the user changed the configuration
            Self::Format { .. } | Self::Plan { .. } => sluice_core::ErrorDomain::User,
            Self::Decode(_) => sluice_core::ErrorDomain::External,
            Self::Holding | Self::Encode(_) => sluice_core::ErrorDomain::Internal,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    plan: u64,
    /// [`hash_bytes`](crate::hash::hash_bytes) of the body: damage is
    /// detected before anything is decoded.
    check: u64,
    len: u64,
}

#[derive(Serialize)]
struct BodyOut<'a> {
    frontier: i64,
    max_seen: Option<i64>,
    partitions: Vec<(String, i64)>,
    states: Vec<&'a State>,
}

#[derive(Deserialize)]
struct BodyIn {
    frontier: i64,
    max_seen: Option<i64>,
    partitions: Vec<(String, i64)>,
    states: Vec<State>,
}

/// The fingerprint of what a snapshot's state depends on in `plan`.
pub fn plan_fingerprint(plan: &EnginePlan) -> u64 {
    let mut text = String::new();
    for a in &plan.aggregations {
        text.push_str(&format!(
            "{}|{:?}|{:?}|{:?}|{:?}|{:?}\n",
            a.name, a.kind, a.field, a.quantiles, a.window, a.group_by
        ));
    }
    crate::hash::hash_bytes(text.as_bytes(), u64::from(SNAPSHOT_FORMAT))
}

impl Engine {
    /// Encodes the engine's window state and event-time progress. `label`
    /// names a partition id (partitions it cannot name keep no progress of
    /// their own; the frontier is kept whatever). Refused while records are
    /// held on probation ([`Engine::holding`]).
    pub fn snapshot(
        &self,
        label: &dyn Fn(u32) -> Option<String>,
    ) -> Result<Vec<u8>, SnapshotError> {
        if self.holding() {
            return Err(SnapshotError::Holding);
        }
        let (parts, frontier, max_seen) = self.wm.progress();
        let body = BodyOut {
            frontier,
            max_seen,
            partitions: parts
                .into_iter()
                .filter_map(|(id, max)| label(id).map(|l| (l, max)))
                .collect(),
            states: self.aggs.iter().map(|a| &a.state).collect(),
        };
        let body = postcard::to_stdvec(&body).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        let header = Header {
            format: SNAPSHOT_FORMAT,
            plan: plan_fingerprint(&self.plan),
            check: crate::hash::hash_bytes(&body, CHECK_SEED),
            len: body.len() as u64,
        };
        let mut bytes =
            postcard::to_stdvec(&header).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }

    /// Replaces the window state with a snapshot's. Call it before the
    /// first record; each restored partition's progress applies once
    /// [`Engine::bind_partition`] names its id. On error the engine is
    /// unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let (header, rest): (Header, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| SnapshotError::Decode(e.to_string()))?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format {
                expected: SNAPSHOT_FORMAT,
                found: header.format,
            });
        }
        let expected = plan_fingerprint(&self.plan);
        if header.plan != expected {
            return Err(SnapshotError::Plan {
                expected,
                found: header.plan,
            });
        }
        if rest.len() as u64 != header.len
            || crate::hash::hash_bytes(rest, CHECK_SEED) != header.check
        {
            return Err(SnapshotError::Decode(format!(
                "damaged: {} bytes of state, checksum mismatch or length {} expected",
                rest.len(),
                header.len
            )));
        }
        let body: BodyIn =
            postcard::from_bytes(rest).map_err(|e| SnapshotError::Decode(e.to_string()))?;
        let same_kinds = body.states.len() == self.aggs.len()
            && body
                .states
                .iter()
                .zip(&self.aggs)
                .all(|(s, a)| std::mem::discriminant(s) == std::mem::discriminant(&a.state));
        if !same_kinds {
            return Err(SnapshotError::Decode(
                "window state kinds do not match the plan".into(),
            ));
        }
        for (agg, state) in self.aggs.iter_mut().zip(body.states) {
            agg.state = state;
        }
        self.wm.restore_progress(body.frontier, body.max_seen);
        self.restored = body.partitions;
        // the next frontier move re-derives what is due
        self.due = i64::MIN;
        Ok(())
    }

    /// Names partition `id` of this run: if a restored snapshot knew a
    /// partition by `label`, its largest event time applies to `id` from
    /// now on and its first records are not held on probation again.
    pub fn bind_partition(&mut self, id: u32, label: &str) {
        let Some(i) = self.restored.iter().position(|(l, _)| l == label) else {
            return;
        };
        let (_, max) = self.restored.swap_remove(i);
        self.wm.restore_partition(id, max, self.proc_now);
        let pidx = self.wm.partition_index(id);
        if self.probation.len() <= pidx {
            self.probation.resize_with(pidx + 1, Probation::default);
        }
        self.probation[pidx].settled = true;
    }
}
