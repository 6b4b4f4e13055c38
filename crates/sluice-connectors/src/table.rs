//! The shape of result tables and rows, independent of any store.
//!
//! Every result table has `window_start`, `window_end`, one column per
//! group-by field, the value column(s), `revision`, `provisional`,
//! `emitted_at` and `group_key` (a canonical text form of the group, so the
//! key `(window_start, window_end, group_key)` is never null).

use sluice_core::AggregateKind;

/// Column types, mapped to each store's types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    /// Text.
    Text,
    /// 64-bit integer.
    BigInt,
    /// 128-bit integer (exact integer sums).
    HugeInt,
    /// 64-bit float.
    Double,
    /// Boolean.
    Boolean,
    /// Timestamp (millisecond precision, UTC).
    Timestamp,
}

/// A column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Name (a safe identifier).
    pub name: String,
    /// Type.
    pub ty: SqlType,
    /// Optional comment (e.g. the currency of a money column).
    pub comment: Option<String>,
}

/// A result table for one aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// Aggregation name.
    pub aggregation: String,
    /// Aggregate kind.
    pub kind: AggregateKind,
    /// True for session windows: a re-emission supersedes overlapping rows of the same group.
    pub session: bool,
    /// Group-by columns.
    pub dims: Vec<Column>,
    /// Value columns (`value`, or `p50`, `p99`, ... for percentiles).
    pub values: Vec<Column>,
}

/// Fixed columns every result table has, besides dims and values.
pub const FIXED_COLUMNS: &[&str] = &[
    "window_start",
    "window_end",
    "revision",
    "provisional",
    "emitted_at",
    "group_key",
];

/// `0.5` → `p50`, `0.99` → `p99`, `0.999` → `p99_9`.
pub fn quantile_column(q: f64) -> String {
    let pct = format!("{}", (q * 100.0 * 1000.0).round() / 1000.0);
    format!("p{}", pct.replace('.', "_"))
}

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Null.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// 128-bit integer.
    HugeInt(i128),
    /// Float.
    Float(f64),
    /// Text.
    Text(String),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

impl Cell {
    /// Canonical text, used for `group_key`.
    pub fn canonical(&self) -> String {
        match self {
            Cell::Null => "\u{2205}".into(),
            Cell::Bool(b) => b.to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::HugeInt(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Timestamp(t) => t.to_string(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => (*b).into(),
            Cell::Int(i) => (*i).into(),
            Cell::HugeInt(i) => i64::try_from(*i)
                .map(Into::into)
                .unwrap_or_else(|_| i.to_string().into()),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Cell::Text(s) => s.clone().into(),
            Cell::Timestamp(t) => (*t).into(),
        }
    }
}

/// The group key as one text value: cells joined by the unit separator.
pub fn group_key(dims: &[Cell]) -> String {
    dims.iter()
        .map(Cell::canonical)
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// One result row for table `table` (index into the sink's table list).
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow {
    /// Index of the table.
    pub table: usize,
    /// Window start, ms since the epoch.
    pub window_start: i64,
    /// Window end, ms since the epoch.
    pub window_end: i64,
    /// Group-by values, in the table's dim order.
    pub dims: Vec<Cell>,
    /// Values, in the table's value order.
    pub values: Vec<Cell>,
    /// 0 first, +1 per late re-emission.
    pub revision: u32,
    /// Early (update-mode) result of a still-open window.
    pub provisional: bool,
    /// When the row was produced, ms since the epoch.
    pub emitted_at: i64,
    /// Inputs folded into the row: the version a store keeps the largest of
    /// (see [`sluice_engine::WindowResult::events`]).
    pub events: u64,
    /// Source shard the row aggregates (`topic:partition`), empty when the
    /// row covers the whole input.
    pub shard: String,
    /// Mergeable state, for stores combining shards.
    pub state: Option<sluice_engine::AggState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_columns() {
        assert_eq!(quantile_column(0.5), "p50");
        assert_eq!(quantile_column(0.99), "p99");
        assert_eq!(quantile_column(0.999), "p99_9");
        assert_eq!(quantile_column(0.95), "p95");
    }
}
