//! Sinks: where results and dead letters land. One small trait; each sink's
//! factory ([`SinkFactory`](crate::SinkFactory)) lives in its file.

#[cfg(feature = "clickhouse")]
pub mod clickhouse;
#[cfg(feature = "duckdb")]
pub mod duckdb;
#[cfg(feature = "duckdb")]
pub mod duckdb_checkpoints;
#[cfg(feature = "duckdb")]
pub mod duckdb_live;
pub mod jsonl;

use crate::{ConnectorError, DeadLetterRecord, ResultRow, TableSpec};

/// A store for result rows and dead letters.
///
/// `write` is all-or-nothing where the store allows (DuckDB: one
/// transaction) and idempotent: rows are keyed by table, window and group, a
/// higher revision replaces a lower one, and writing the same rows again
/// changes nothing.
pub trait Sink: Send {
    /// Short description for logs.
    fn describe(&self) -> String;

    /// Creates the tables when missing; fails when an existing table has
    /// different columns.
    fn prepare(&mut self, tables: &[TableSpec]) -> Result<(), ConnectorError>;

    /// Writes rows (for the tables given to `prepare`) and dead letters durably.
    fn write(
        &mut self,
        rows: &[ResultRow],
        dead: &[DeadLetterRecord],
    ) -> Result<(), ConnectorError>;

    /// Flushes and releases the store.
    fn close(&mut self) -> Result<(), ConnectorError>;

    /// A handle on the table where this store keeps checkpoints of open
    /// windows (stores several instances share), if it keeps them.
    fn checkpoint_store(&self) -> Option<Box<dyn crate::CheckpointStore>> {
        None
    }
}

/// Keeps only the last row per (table, window, group): a batch may hold a
/// window's first emission and its late revision; the latest wins. Returns
/// each kept row with its group key, in input order.
pub fn last_per_key(rows: &[ResultRow]) -> Vec<(&ResultRow, String)> {
    let mut seen = std::collections::HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        seen.insert(
            (
                r.table,
                r.window_start,
                r.window_end,
                crate::table::group_key(&r.dims),
            ),
            i,
        );
    }
    let mut kept: Vec<(usize, String)> = seen
        .into_iter()
        .map(|((_, _, _, key), i)| (i, key))
        .collect();
    kept.sort_unstable_by_key(|(i, _)| *i);
    kept.into_iter().map(|(i, key)| (&rows[i], key)).collect()
}
