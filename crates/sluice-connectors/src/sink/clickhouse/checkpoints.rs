//! Checkpoints of open windows in ClickHouse: table `_sluice_checkpoints`,
//! one row per lane and slot (`id % KEEP`), `ReplacingMergeTree(id)`, so
//! each lane holds its [`KEEP`] newest checkpoints once parts merge and
//! `FINAL` reads exactly those. Written as RowBinary; the state is read
//! back hex-encoded (answers are text). Works on every server version the
//! sink supports.

use super::{rowbinary, Client};
use crate::checkpoint::{Checkpoint, CheckpointStore, CHECKPOINT_TABLE, KEEP};
use crate::ConnectorError;

/// [`CheckpointStore`] over a ClickHouse database.
#[derive(Debug)]
pub struct ClickHouseCheckpoints {
    client: Client,
    database: String,
}

impl ClickHouseCheckpoints {
    /// Checkpoints in `database` through `client`.
    pub fn new(client: Client, database: &str) -> Self {
        Self {
            client,
            database: database.to_string(),
        }
    }

    fn table(&self) -> String {
        format!("`{}`.`{CHECKPOINT_TABLE}`", self.database)
    }
}

/// `s` as a single-quoted SQL string literal.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    b.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

fn bad_answer(what: &str) -> ConnectorError {
    ConnectorError::Remote {
        service: "clickhouse",
        message: format!("unexpected answer reading checkpoints: {what}"),
        retry: false,
    }
}

impl CheckpointStore for ClickHouseCheckpoints {
    fn prepare(&mut self) -> Result<(), ConnectorError> {
        self.client.query(&format!(
            "CREATE DATABASE IF NOT EXISTS `{}`",
            self.database
        ))?;
        self.client.query(&format!(
            "CREATE TABLE IF NOT EXISTS {} (lane String, slot UInt8, id UInt64, positions String, state String)\nENGINE = ReplacingMergeTree(id)\nORDER BY (lane, slot)",
            self.table()
        ))?;
        Ok(())
    }

    fn save(&mut self, checkpoints: &[Checkpoint]) -> Result<(), ConnectorError> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        let mut body = Vec::new();
        for c in checkpoints {
            rowbinary::string(&mut body, c.lane.as_bytes());
            body.push((c.id % KEEP) as u8);
            body.extend_from_slice(&c.id.to_le_bytes());
            rowbinary::string(&mut body, c.positions_text().as_bytes());
            rowbinary::string(&mut body, &c.state);
        }
        let insert = Client::insert_statement(
            &self.table(),
            &["lane", "slot", "id", "positions", "state"].map(String::from),
        );
        self.client.insert(&insert, &body)
    }

    fn load(&mut self, lane: &str) -> Result<Vec<Checkpoint>, ConnectorError> {
        let answer = self.client.query(&format!(
            "SELECT id, positions, hex(state) FROM {} FINAL WHERE lane = {} ORDER BY id DESC FORMAT TSV",
            self.table(),
            quoted(lane)
        ))?;
        let mut out = Vec::new();
        for line in answer.lines().filter(|l| !l.is_empty()) {
            let mut cols = line.split('\t');
            let (Some(id), Some(positions), Some(state)) = (cols.next(), cols.next(), cols.next())
            else {
                return Err(bad_answer("fewer than 3 columns"));
            };
            out.push(Checkpoint {
                lane: lane.to_string(),
                id: id.parse().map_err(|_| bad_answer("id"))?,
                positions: Checkpoint::parse_positions(positions)
                    .ok_or_else(|| bad_answer("positions"))?,
                state: unhex(state).ok_or_else(|| bad_answer("state"))?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_hex() {
        assert_eq!(quoted("g'1\\x/2"), "'g\\'1\\\\x/2'");
        assert_eq!(unhex("00ff7A").unwrap(), vec![0, 255, 0x7a]);
        assert!(unhex("0").is_none());
        assert!(unhex("zz").is_none());
    }
}
