//! Stores: sinks whose results can be read back with SQL (`sluice query`,
//! `sluice tables`). One small trait; the runtime's topology opens the
//! store of the sink a configuration names.

use crate::ConnectorError;

/// A query result: column names and rows of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<QueryCell>>,
}

/// A cell of a query result, ready to print.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryCell {
    /// NULL.
    Null,
    /// A number (kept as text, exactly as the store printed it).
    Number(String),
    /// Boolean.
    Bool(bool),
    /// Anything else, as text.
    Text(String),
}

/// `(name, count)` pairs from a two-column result of a text and a number
/// (rows of another shape are skipped).
pub fn name_counts(r: QueryResult) -> Vec<(String, i64)> {
    r.rows
        .into_iter()
        .filter_map(|row| match (row.first(), row.get(1)) {
            (Some(QueryCell::Text(n)), Some(QueryCell::Number(c))) => {
                Some((n.clone(), c.parse().ok()?))
            }
            _ => None,
        })
        .collect()
}

/// Results that can be read back with SQL in the store's own dialect.
pub trait Store: Send {
    /// Runs one SQL statement and returns its rows.
    fn query(&self, sql: &str) -> Result<QueryResult, ConnectorError>;
    /// The store's tables (sluice's own included) with their row counts.
    fn tables(&self) -> Result<Vec<(String, i64)>, ConnectorError>;
}
