//! `avg`: mean as a float. Integer inputs are summed exactly (128 bits) and
//! divided once at the end; doubles are summed in arrival order.

use super::{Input, Reducer};
use crate::output::{AggState, AggValue};

/// Mean of a numeric field.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Avg;

/// Running sums of one group.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AvgState {
    int_sum: i128,
    float_sum: f64,
    n: u64,
}

impl Reducer for Avg {
    type State = AvgState;

    fn init(&self) -> AvgState {
        AvgState::default()
    }

    #[inline(always)]
    fn update(&self, s: &mut AvgState, input: Input<'_>) {
        match input {
            Input::Int(v) => {
                s.int_sum += i128::from(v);
                s.n += 1;
            }
            Input::Float(v) => {
                s.float_sum += v;
                s.n += 1;
            }
            Input::Null | Input::Bytes(_) => {}
        }
    }

    fn merge(&self, into: &mut AvgState, from: AvgState) {
        into.int_sum += from.int_sum;
        into.float_sum += from.float_sum;
        into.n += from.n;
    }

    fn finish(&self, s: &AvgState) -> AggValue {
        if s.n == 0 {
            return AggValue::Null;
        }
        AggValue::Float((s.int_sum as f64 + s.float_sum) / s.n as f64)
    }

    fn export(&self, s: &AvgState) -> Option<AggState> {
        Some(AggState::Avg {
            int_sum: s.int_sum,
            float_sum: s.float_sum,
            n: s.n,
        })
    }
}
