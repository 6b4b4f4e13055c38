//! `min` and `max`. Integers compare exactly; doubles with `f64::min`/`max`,
//! which ignore NaN unless every input is NaN.

use super::{Input, Reducer};
use crate::output::AggValue;

/// Min or max of integers.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExtremeInt {
    /// Max instead of min.
    pub max: bool,
}

impl Reducer for ExtremeInt {
    type State = Option<i64>;

    fn init(&self) -> Option<i64> {
        None
    }

    #[inline(always)]
    fn update(&self, state: &mut Option<i64>, input: Input<'_>) {
        if let Input::Int(v) = input {
            *state = Some(match *state {
                None => v,
                Some(s) if self.max => s.max(v),
                Some(s) => s.min(v),
            });
        }
    }

    fn merge(&self, into: &mut Option<i64>, from: Option<i64>) {
        if let Some(v) = from {
            self.update(into, Input::Int(v));
        }
    }

    fn finish(&self, state: &Option<i64>) -> AggValue {
        state.map(AggValue::Int).unwrap_or(AggValue::Null)
    }
}

/// Min or max of doubles.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExtremeFloat {
    /// Max instead of min.
    pub max: bool,
}

impl Reducer for ExtremeFloat {
    type State = Option<f64>;

    fn init(&self) -> Option<f64> {
        None
    }

    #[inline(always)]
    fn update(&self, state: &mut Option<f64>, input: Input<'_>) {
        if let Input::Float(v) = input {
            *state = Some(match *state {
                None => v,
                Some(s) if self.max => s.max(v),
                Some(s) => s.min(v),
            });
        }
    }

    fn merge(&self, into: &mut Option<f64>, from: Option<f64>) {
        if let Some(v) = from {
            self.update(into, Input::Float(v));
        }
    }

    fn finish(&self, state: &Option<f64>) -> AggValue {
        state.map(AggValue::Float).unwrap_or(AggValue::Null)
    }
}
