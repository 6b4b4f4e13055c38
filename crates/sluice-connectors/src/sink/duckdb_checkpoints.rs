//! Checkpoints of open windows in the DuckDB file: table
//! `_sluice_checkpoints`, one row per lane and slot (`id % KEEP`), on a
//! second connection to the sink's database (the engine thread reads, the
//! sink thread writes).

use duckdb::{params, Connection};

use crate::checkpoint::{Checkpoint, CheckpointStore, CHECKPOINT_TABLE, KEEP};
use crate::ConnectorError;

fn db(e: duckdb::Error) -> ConnectorError {
    ConnectorError::Database(format!("checkpoints: {e}"))
}

/// [`CheckpointStore`] in a DuckDB database.
pub struct DuckDbCheckpoints {
    conn: Connection,
}

impl std::fmt::Debug for DuckDbCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DuckDbCheckpoints")
    }
}

impl DuckDbCheckpoints {
    /// Checkpoints through `conn` (a clone of the sink's connection).
    pub fn new(conn: Connection) -> Self {
        Self { conn }
    }
}

impl CheckpointStore for DuckDbCheckpoints {
    fn prepare(&mut self) -> Result<(), ConnectorError> {
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (lane VARCHAR, slot UTINYINT, id UBIGINT, positions VARCHAR, state BLOB, PRIMARY KEY (lane, slot))"
            ))
            .map_err(db)
    }

    fn save(&mut self, checkpoints: &[Checkpoint]) -> Result<(), ConnectorError> {
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut stmt = tx
                .prepare(&format!(
                    "INSERT INTO {CHECKPOINT_TABLE} VALUES (?, ?, ?, ?, ?) ON CONFLICT (lane, slot) DO UPDATE SET id = excluded.id, positions = excluded.positions, state = excluded.state"
                ))
                .map_err(db)?;
            for c in checkpoints {
                stmt.execute(params![
                    c.lane,
                    (c.id % KEEP) as u8,
                    c.id,
                    c.positions_text(),
                    c.state
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn load(&mut self, lane: &str) -> Result<Vec<Checkpoint>, ConnectorError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT id, positions, state FROM {CHECKPOINT_TABLE} WHERE lane = ? ORDER BY id DESC"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(params![lane], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, positions, state) = row.map_err(db)?;
            out.push(Checkpoint {
                lane: lane.to_string(),
                id,
                positions: Checkpoint::parse_positions(&positions)
                    .ok_or_else(|| db_text("unreadable positions"))?,
                state,
            });
        }
        Ok(out)
    }
}

fn db_text(what: &str) -> ConnectorError {
    ConnectorError::Database(format!("checkpoints: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommitPosition;

    #[test]
    fn a_lane_keeps_its_newest_checkpoints() {
        let conn = Connection::open_in_memory().unwrap();
        let mut s = DuckDbCheckpoints::new(conn);
        s.prepare().unwrap();
        s.prepare().unwrap(); // idempotent
        for id in 0..7u64 {
            let cp = |lane: &str| Checkpoint {
                lane: lane.into(),
                id,
                positions: vec![CommitPosition {
                    topic: "t".into(),
                    partition: 0,
                    next_offset: id as i64 * 10,
                }],
                state: vec![id as u8, 0, 255],
            };
            s.save(&[cp("g/all"), cp("h/all")]).unwrap();
        }
        let got = s.load("g/all").unwrap();
        assert_eq!(
            got.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![6, 5, 4, 3]
        );
        assert_eq!(got[0].state, vec![6, 0, 255]);
        assert_eq!(got[0].positions[0].next_offset, 60);
        assert!(s.load("other").unwrap().is_empty());
    }
}
