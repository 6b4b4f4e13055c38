//! `count`: events (no field) or non-null values of a field.

use super::{Input, Reducer};
use crate::output::AggValue;

/// Counts inputs; nulls too when `star`.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Count {
    /// Count every event, nulls included (`count` without a field).
    pub star: bool,
}

impl Reducer for Count {
    type State = u64;

    fn init(&self) -> u64 {
        0
    }

    #[inline(always)]
    fn update(&self, state: &mut u64, input: Input<'_>) {
        if self.star || !matches!(input, Input::Null) {
            *state += 1;
        }
    }

    fn merge(&self, into: &mut u64, from: u64) {
        *into += from;
    }

    fn finish(&self, state: &u64) -> AggValue {
        AggValue::Count(*state)
    }
}
