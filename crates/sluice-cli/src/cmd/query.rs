//! `sluice query` and `sluice tables`: SQL over the store the results are
//! in (the DuckDB file, or ClickHouse when it is the configured sink).

use clap::{Args, ValueEnum};
use sluice_connectors::sink::duckdb::DuckDbStore;
use sluice_connectors::{QueryCell, QueryResult, Store};
use sluice_runtime::topology::RunSpec;

use crate::Cli;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// RFC 4180 CSV with a header.
    Csv,
    /// One JSON array of objects.
    Json,
}

/// Arguments of `sluice query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The SQL to run (DuckDB's dialect; ClickHouse's when the environment's
    /// sink is ClickHouse, e.g. `--env staging`).
    pub sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// DuckDB file (default from `sinks.duckdb.path`).
    #[arg(long)]
    pub db: Option<String>,
}

/// Arguments of `sluice tables`.
#[derive(Args, Debug)]
pub struct TablesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// DuckDB file (default from `sinks.duckdb.path`).
    #[arg(long)]
    pub db: Option<String>,
}

/// The store to read: the DuckDB file `--db` names, else the store of the
/// configured sink (`sinks.default`: the DuckDB file, or ClickHouse).
fn store(cli: &Cli, db: &Option<String>) -> anyhow::Result<Box<dyn Store>> {
    if let Some(path) = db {
        return Ok(Box::new(DuckDbStore { path: path.clone() }));
    }
    let cfg = super::load(cli, &[])?;
    let secrets = super::secrets_on_demand(cli, &cfg);
    super::library(sluice_runtime::topology::open_store(
        &cfg,
        &RunSpec::default(),
        &secrets,
    ))
}

fn text(c: &QueryCell) -> String {
    match c {
        QueryCell::Null => "NULL".into(),
        QueryCell::Number(s) | QueryCell::Text(s) => s.clone(),
        QueryCell::Bool(b) => b.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders a result in a format.
pub fn render(r: &QueryResult, format: Format) -> String {
    match format {
        Format::Csv => {
            let mut out = r
                .columns
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",")
                + "\n";
            for row in &r.rows {
                out += &(row
                    .iter()
                    .map(|c| {
                        if *c == QueryCell::Null {
                            String::new()
                        } else {
                            csv_field(&text(c))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n");
            }
            out
        }
        Format::Json => {
            let arr: Vec<serde_json::Value> =
                r.rows
                    .iter()
                    .map(|row| {
                        let m: serde_json::Map<String, serde_json::Value> =
                            r.columns
                                .iter()
                                .zip(row)
                                .map(|(c, v)| {
                                    let j = match v {
                                        QueryCell::Null => serde_json::Value::Null,
                                        QueryCell::Bool(b) => (*b).into(),
                                        QueryCell::Number(s) => serde_json::from_str(s)
                                            .unwrap_or_else(|_| s.clone().into()),
                                        QueryCell::Text(s) => s.clone().into(),
                                    };
                                    (c.clone(), j)
                                })
                                .collect();
                        serde_json::Value::Object(m)
                    })
                    .collect();
            serde_json::to_string_pretty(&arr).unwrap_or_default() + "\n"
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = r
                .rows
                .iter()
                .map(|row| row.iter().map(text).collect())
                .collect();
            let mut w: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
            for row in &cells {
                for (i, c) in row.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let numeric: Vec<bool> = (0..r.columns.len())
                .map(|i| {
                    r.rows
                        .iter()
                        .all(|row| matches!(row[i], QueryCell::Number(_) | QueryCell::Null))
                })
                .collect();
            let line = |vals: &[String]| -> String {
                vals.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if numeric[i] {
                            format!("{v:>width$}", width = w[i])
                        } else {
                            format!("{v:<width$}", width = w[i])
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" │ ")
                    .trim_end()
                    .to_string()
            };
            let mut out = line(&r.columns) + "\n";
            out += &(w
                .iter()
                .map(|n| "─".repeat(*n))
                .collect::<Vec<_>>()
                .join("─┼─")
                + "\n");
            for row in &cells {
                out += &(line(row) + "\n");
            }
            out += &format!(
                "({} row{})\n",
                r.rows.len(),
                if r.rows.len() == 1 { "" } else { "s" }
            );
            out
        }
    }
}

/// Runs `sluice query`.
pub fn run_query(cli: &Cli, args: &QueryArgs) -> anyhow::Result<()> {
    let r = store(cli, &args.db)?.query(&args.sql)?;
    print!("{}", render(&r, args.format));
    Ok(())
}

/// Runs `sluice tables`.
pub fn run_tables(cli: &Cli, args: &TablesArgs) -> anyhow::Result<()> {
    let t = store(cli, &args.db)?.tables()?;
    let r = QueryResult {
        columns: vec!["table".into(), "rows".into()],
        rows: t
            .into_iter()
            .map(|(n, c)| vec![QueryCell::Text(n), QueryCell::Number(c.to_string())])
            .collect(),
    };
    print!("{}", render(&r, args.format));
    Ok(())
}
