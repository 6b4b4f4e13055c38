//! ClickHouse as a [`Store`](crate::Store): SQL in ClickHouse's dialect,
//! run in the configured database, answers read as `JSONCompact` (numeric
//! columns stay numbers, whatever the server quotes).

use super::{ClickHouseSettings, Client};
use crate::store::{QueryCell, QueryResult};
use crate::ConnectorError;

/// The configured ClickHouse database, read with SQL.
#[derive(Debug)]
pub struct ClickHouseStore {
    client: Client,
    database: String,
}

impl ClickHouseStore {
    /// A store over `settings`' server and database.
    pub fn new(settings: &ClickHouseSettings) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: Client::new(settings)?,
            database: settings.database.clone(),
        })
    }
}

fn bad_answer(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Remote {
        service: "clickhouse",
        message: format!("ClickHouse answered something that is not JSONCompact: {e}"),
        retry: false,
    }
}

impl crate::Store for ClickHouseStore {
    fn query(&self, sql: &str) -> Result<QueryResult, ConnectorError> {
        let q = format!("{} FORMAT JSONCompact", sql.trim().trim_end_matches(';'));
        let text = self.client.query_in(&self.database, &q)?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(bad_answer)?;
        let meta = v["meta"].as_array().cloned().unwrap_or_default();
        let columns: Vec<String> = meta
            .iter()
            .map(|m| m["name"].as_str().unwrap_or("").to_string())
            .collect();
        let numeric: Vec<bool> = meta
            .iter()
            .map(|m| {
                let t = m["type"].as_str().unwrap_or("");
                t.contains("Int") || t.contains("Float") || t.contains("Decimal")
            })
            .collect();
        let rows = v["data"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|cells| {
                                cells
                                    .iter()
                                    .zip(&numeric)
                                    .map(|(c, num)| cell(c, *num))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(QueryResult { columns, rows })
    }

    fn tables(&self) -> Result<Vec<(String, i64)>, ConnectorError> {
        // rows of active parts (what 18.16 and later both have); views
        // count 0
        let r = self.query(
            "SELECT t.name, toInt64(ifNull(p.rows, 0)) AS rows FROM system.tables AS t \
             ANY LEFT JOIN (SELECT table AS name, sum(rows) AS rows FROM system.parts \
             WHERE active AND database = currentDatabase() GROUP BY table) AS p USING name \
             WHERE t.database = currentDatabase() ORDER BY t.name",
        )?;
        Ok(crate::store::name_counts(r))
    }
}

fn cell(c: &serde_json::Value, numeric: bool) -> QueryCell {
    match c {
        serde_json::Value::Null => QueryCell::Null,
        serde_json::Value::String(s) if numeric => QueryCell::Number(s.clone()),
        serde_json::Value::String(s) => QueryCell::Text(s.clone()),
        serde_json::Value::Bool(b) => QueryCell::Bool(*b),
        serde_json::Value::Number(n) => QueryCell::Number(n.to_string()),
        other => QueryCell::Text(other.to_string()),
    }
}
