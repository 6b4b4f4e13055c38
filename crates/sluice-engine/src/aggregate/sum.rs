//! `sum`: exact for integers and money (128-bit accumulator; results that do
//! not fit 64 bits are reported as [`AggValue::BigInt`]), IEEE addition in
//! arrival order for doubles. A group with only nulls sums to null.

use super::{Input, Reducer};
use crate::output::AggValue;

/// Sum of integers.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct SumInt;

impl Reducer for SumInt {
    type State = Option<i128>;

    fn init(&self) -> Option<i128> {
        None
    }

    #[inline(always)]
    fn update(&self, state: &mut Option<i128>, input: Input<'_>) {
        if let Input::Int(v) = input {
            *state = Some(state.unwrap_or(0) + i128::from(v));
        }
    }

    fn merge(&self, into: &mut Option<i128>, from: Option<i128>) {
        if let Some(f) = from {
            *into = Some(into.unwrap_or(0) + f);
        }
    }

    fn finish(&self, state: &Option<i128>) -> AggValue {
        match *state {
            None => AggValue::Null,
            Some(s) => i64::try_from(s)
                .map(AggValue::Int)
                .unwrap_or(AggValue::BigInt(s)),
        }
    }
}

/// Sum of doubles.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct SumFloat;

impl Reducer for SumFloat {
    type State = Option<f64>;

    fn init(&self) -> Option<f64> {
        None
    }

    #[inline(always)]
    fn update(&self, state: &mut Option<f64>, input: Input<'_>) {
        if let Input::Float(v) = input {
            *state = Some(state.unwrap_or(0.0) + v);
        }
    }

    fn merge(&self, into: &mut Option<f64>, from: Option<f64>) {
        if let Some(f) = from {
            *into = Some(into.unwrap_or(0.0) + f);
        }
    }

    fn finish(&self, state: &Option<f64>) -> AggValue {
        state.map(AggValue::Float).unwrap_or(AggValue::Null)
    }
}
