//! `count_distinct`: exact, a set of canonical value bytes per group. Memory
//! grows with the number of distinct values; use `approx_count_distinct` for
//! high cardinality.

use std::collections::HashSet;

use super::{Input, Reducer};
use crate::hash::FastBuild;
use crate::output::{AggState, AggValue};

/// Exact distinct count.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Distinct;

impl Reducer for Distinct {
    type State = HashSet<Box<[u8]>, FastBuild>;

    fn init(&self) -> Self::State {
        HashSet::with_hasher(FastBuild)
    }

    fn update(&self, state: &mut Self::State, input: Input<'_>) {
        if let Input::Bytes(b) = input {
            if !state.contains(b) {
                state.insert(b.into());
            }
        }
    }

    fn merge(&self, into: &mut Self::State, from: Self::State) {
        into.extend(from);
    }

    fn finish(&self, state: &Self::State) -> AggValue {
        AggValue::Count(state.len() as u64)
    }

    fn export(&self, state: &Self::State) -> Option<AggState> {
        let mut v: Vec<Vec<u8>> = state.iter().map(|b| b.to_vec()).collect();
        v.sort_unstable();
        Some(AggState::Distinct(v))
    }

    fn heap_bytes(&self, state: &Self::State) -> usize {
        state.capacity() * (std::mem::size_of::<Box<[u8]>>() + 1)
            + state.iter().map(|b| b.len()).sum::<usize>()
    }
}
