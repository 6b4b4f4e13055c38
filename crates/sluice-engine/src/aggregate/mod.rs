//! Aggregates as reducers over columnar state.
//!
//! A [`Reducer`] says how to `init` one group's state, `update` it with one
//! input, `merge` two states and `finish` into an [`AggValue`]. A generic
//! [`Column`] holds the states of many groups in one `Vec` indexed by group
//! id; [`Columns`] is the closed set of columns the engine uses, dispatched
//! with one `match` (no dynamic dispatch on the hot path).
//!
//! Inputs are prepared by the engine: integers, money (minor units) and
//! timestamps as [`Input::Int`], doubles as [`Input::Float`], and for the
//! distinct aggregates the value's canonical bytes as [`Input::Bytes`]:
//! UTF-8 for strings and enum symbols, 8 bytes little-endian for integers,
//! money and timestamps, the IEEE bits little-endian for doubles, one byte
//! for booleans. Nulls arrive as [`Input::Null`] and are ignored by every
//! aggregate except `count` without a field.

pub mod avg;
pub mod count;
pub mod distinct;
pub mod hll;
pub mod min_max;
pub mod percentile;
pub mod sum;

use std::fmt::Debug;

use crate::output::{AggState, AggValue};

/// One input value for a reducer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input<'a> {
    /// Null or absent.
    Null,
    /// An integer (int, long, timestamp, money minor units).
    Int(i64),
    /// A double.
    Float(f64),
    /// Canonical bytes of a value, for distinct aggregates.
    Bytes(&'a [u8]),
}

/// How one aggregate initialises, updates, merges and finishes its state.
pub trait Reducer: Clone + Debug {
    /// State of one group.
    type State: Clone + Debug + serde::Serialize + serde::de::DeserializeOwned;
    /// A fresh state (no input seen).
    fn init(&self) -> Self::State;
    /// Folds one input into a state.
    fn update(&self, state: &mut Self::State, input: Input<'_>);
    /// Folds `from` into `into`; the result equals updating one state with
    /// both input sequences.
    fn merge(&self, into: &mut Self::State, from: Self::State);
    /// The aggregate value.
    fn finish(&self, state: &Self::State) -> AggValue;
    /// Heap bytes owned by a state (beyond its inline size).
    fn heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
    /// The state in a form another store can merge, for aggregates whose
    /// finished value cannot be merged (avg, distinct counts, percentiles);
    /// `None` when the finished value merges as it is (count, sum, min, max).
    fn export(&self, _state: &Self::State) -> Option<AggState> {
        None
    }
}

/// States of many groups, indexed by group id.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "R: serde::Serialize, R::State: serde::Serialize",
    deserialize = "R: serde::Deserialize<'de>, R::State: serde::Deserialize<'de>"
))]
pub struct Column<R: Reducer> {
    reducer: R,
    states: Vec<R::State>,
    /// Inputs folded into each group (nulls included): the row version a
    /// store keeps the largest of.
    events: Vec<u64>,
}

impl<R: Reducer> Column<R> {
    /// An empty column.
    pub fn new(reducer: R) -> Self {
        Self {
            reducer,
            states: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no group exists.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Adds a fresh group; its id is the previous `len()`.
    #[inline]
    pub fn push_group(&mut self) {
        self.states.push(self.reducer.init());
        self.events.push(0);
    }

    /// Resets group `g` to a fresh state.
    pub fn reset(&mut self, g: usize) {
        if let Some(s) = self.states.get_mut(g) {
            *s = self.reducer.init();
        }
        if let Some(n) = self.events.get_mut(g) {
            *n = 0;
        }
    }

    /// Updates group `g` (ignored if it does not exist).
    #[inline(always)]
    pub fn update(&mut self, g: usize, input: Input<'_>) {
        if let (Some(s), Some(n)) = (self.states.get_mut(g), self.events.get_mut(g)) {
            self.reducer.update(s, input);
            *n += 1;
        }
    }

    /// Updates the groups `groups[i]` with `inputs[i]`: the batch form.
    pub fn update_batch(&mut self, groups: &[u32], inputs: &[Input<'_>]) {
        for (&g, &input) in groups.iter().zip(inputs) {
            self.update(g as usize, input);
        }
    }

    /// Merges group `from` into group `into` and resets `from`.
    pub fn merge(&mut self, into: usize, from: usize) {
        if into == from || into >= self.states.len() || from >= self.states.len() {
            return;
        }
        let taken = std::mem::replace(&mut self.states[from], self.reducer.init());
        self.reducer.merge(&mut self.states[into], taken);
        let n = std::mem::take(&mut self.events[from]);
        self.events[into] += n;
    }

    /// Merges group `from` of another column of the same kind into group
    /// `into` of this one.
    pub fn merge_from(&mut self, into: usize, other: &Self, from: usize) {
        if let (Some(dst), Some(src)) = (self.states.get_mut(into), other.states.get(from)) {
            self.reducer.merge(dst, src.clone());
            let n = other.events.get(from).copied().unwrap_or(0);
            if let Some(e) = self.events.get_mut(into) {
                *e += n;
            }
        }
    }

    /// Finishes group `g`.
    pub fn finish(&self, g: usize) -> AggValue {
        self.states
            .get(g)
            .map(|s| self.reducer.finish(s))
            .unwrap_or(AggValue::Null)
    }

    /// Inputs folded into group `g`.
    pub fn events(&self, g: usize) -> u64 {
        self.events.get(g).copied().unwrap_or(0)
    }

    /// Group `g`'s state in mergeable form (see [`Reducer::export`]).
    pub fn export(&self, g: usize) -> Option<AggState> {
        self.states.get(g).and_then(|s| self.reducer.export(s))
    }

    /// Approximate bytes held, inline states included.
    pub fn state_bytes(&self) -> usize {
        self.states.capacity() * (std::mem::size_of::<R::State>() + 8)
            + self
                .states
                .iter()
                .map(|s| self.reducer.heap_bytes(s))
                .sum::<usize>()
    }
}

/// Which numeric representation a value field has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumClass {
    /// Integers, money, timestamps.
    Int,
    /// Doubles.
    Float,
}

/// Every column kind the engine uses.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Columns {
    /// `count`.
    Count(Column<count::Count>),
    /// `sum` of integers.
    SumInt(Column<sum::SumInt>),
    /// `sum` of doubles.
    SumFloat(Column<sum::SumFloat>),
    /// `avg`.
    Avg(Column<avg::Avg>),
    /// `min`/`max` of integers.
    ExtremeInt(Column<min_max::ExtremeInt>),
    /// `min`/`max` of doubles.
    ExtremeFloat(Column<min_max::ExtremeFloat>),
    /// `count_distinct`.
    Distinct(Column<distinct::Distinct>),
    /// `approx_count_distinct`.
    Hll(Column<hll::HllReducer>),
    /// `percentile`.
    Percentile(Column<percentile::Percentile>),
}

macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Columns::Count($c) => $e,
            Columns::SumInt($c) => $e,
            Columns::SumFloat($c) => $e,
            Columns::Avg($c) => $e,
            Columns::ExtremeInt($c) => $e,
            Columns::ExtremeFloat($c) => $e,
            Columns::Distinct($c) => $e,
            Columns::Hll($c) => $e,
            Columns::Percentile($c) => $e,
        }
    };
}

impl Columns {
    /// The empty column for an aggregate. `star` is `count` without a field;
    /// `num` is the value field's class for numeric aggregates.
    pub fn new(
        kind: sluice_core::AggregateKind,
        star: bool,
        num: NumClass,
        quantiles: &[f64],
    ) -> Self {
        use sluice_core::AggregateKind as K;
        match (kind, num) {
            (K::Count, _) => Columns::Count(Column::new(count::Count { star })),
            (K::Sum, NumClass::Int) => Columns::SumInt(Column::new(sum::SumInt)),
            (K::Sum, NumClass::Float) => Columns::SumFloat(Column::new(sum::SumFloat)),
            (K::Avg, _) => Columns::Avg(Column::new(avg::Avg)),
            (K::Min | K::Max, NumClass::Int) => {
                Columns::ExtremeInt(Column::new(min_max::ExtremeInt {
                    max: kind == K::Max,
                }))
            }
            (K::Min | K::Max, NumClass::Float) => {
                Columns::ExtremeFloat(Column::new(min_max::ExtremeFloat {
                    max: kind == K::Max,
                }))
            }
            (K::CountDistinct, _) => Columns::Distinct(Column::new(distinct::Distinct)),
            (K::ApproxCountDistinct, _) => Columns::Hll(Column::new(hll::HllReducer)),
            (K::Percentile, _) => Columns::Percentile(Column::new(percentile::Percentile {
                quantiles: quantiles.to_vec(),
            })),
        }
    }

    /// A fresh, empty column of the same kind.
    pub fn empty_like(&self) -> Self {
        each!(self, c => {
            let mut c = c.clone();
            c.states.clear();
            c.states.shrink_to_fit();
            c.events.clear();
            c.events.shrink_to_fit();
            c.into()
        })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        each!(self, c => c.len())
    }

    /// True when no group exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a fresh group.
    #[inline]
    pub fn push_group(&mut self) {
        each!(self, c => c.push_group())
    }

    /// Resets group `g`.
    pub fn reset(&mut self, g: usize) {
        each!(self, c => c.reset(g))
    }

    /// Updates group `g`.
    #[inline(always)]
    pub fn update(&mut self, g: usize, input: Input<'_>) {
        each!(self, c => c.update(g, input))
    }

    /// Merges group `from` into `into`, resetting `from`.
    pub fn merge(&mut self, into: usize, from: usize) {
        each!(self, c => c.merge(into, from))
    }

    /// Finishes group `g`.
    pub fn finish(&self, g: usize) -> AggValue {
        each!(self, c => c.finish(g))
    }

    /// Inputs folded into group `g`.
    pub fn events(&self, g: usize) -> u64 {
        each!(self, c => c.events(g))
    }

    /// Group `g`'s state in mergeable form, when its value is not mergeable.
    pub fn export(&self, g: usize) -> Option<AggState> {
        each!(self, c => c.export(g))
    }

    /// Merges group `from` of `other` (a column of the same kind; otherwise
    /// nothing happens) into group `into` of `self`.
    pub fn merge_from(&mut self, into: usize, other: &Columns, from: usize) {
        match (self, other) {
            (Columns::Count(a), Columns::Count(b)) => a.merge_from(into, b, from),
            (Columns::SumInt(a), Columns::SumInt(b)) => a.merge_from(into, b, from),
            (Columns::SumFloat(a), Columns::SumFloat(b)) => a.merge_from(into, b, from),
            (Columns::Avg(a), Columns::Avg(b)) => a.merge_from(into, b, from),
            (Columns::ExtremeInt(a), Columns::ExtremeInt(b)) => a.merge_from(into, b, from),
            (Columns::ExtremeFloat(a), Columns::ExtremeFloat(b)) => a.merge_from(into, b, from),
            (Columns::Distinct(a), Columns::Distinct(b)) => a.merge_from(into, b, from),
            (Columns::Hll(a), Columns::Hll(b)) => a.merge_from(into, b, from),
            (Columns::Percentile(a), Columns::Percentile(b)) => a.merge_from(into, b, from),
            _ => {}
        }
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        each!(self, c => c.state_bytes())
    }
}

macro_rules! from_column {
    ($($v:ident: $r:ty),*) => {
        $(impl From<Column<$r>> for Columns {
            fn from(c: Column<$r>) -> Self {
                Columns::$v(c)
            }
        })*
    };
}

from_column!(
    Count: count::Count,
    SumInt: sum::SumInt,
    SumFloat: sum::SumFloat,
    Avg: avg::Avg,
    ExtremeInt: min_max::ExtremeInt,
    ExtremeFloat: min_max::ExtremeFloat,
    Distinct: distinct::Distinct,
    Hll: hll::HllReducer,
    Percentile: percentile::Percentile
);
