//! `sluice clickhouse ddl`: the tables and views `sluice run` creates in
//! ClickHouse, printed for review or for a DBA to apply; and the ClickHouse
//! side of `sluice query`.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sluice_connectors::sink::clickhouse::{ddl, Client, Dialect};
use sluice_connectors::sink::duckdb::{QueryCell, QueryResult};

use crate::Cli;

/// Arguments of `sluice clickhouse`.
#[derive(Args, Debug)]
pub struct ClickHouseArgs {
    #[command(subcommand)]
    pub command: ClickHouseCommand,
}

/// Server generation the statements are for.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DialectArg {
    /// Before 20.1 (e.g. Debian's 18.16): DateTime, String.
    Legacy,
    /// 20.1 and later: DateTime64(3), LowCardinality, TTL.
    Modern,
    /// Ask the configured server.
    Detect,
}

/// `sluice clickhouse` subcommands.
#[derive(Subcommand, Debug)]
pub enum ClickHouseCommand {
    /// Print the CREATE statements for a domain's aggregations.
    Ddl {
        /// Domain.
        #[arg(long)]
        domain: String,
        /// Only these aggregations.
        #[arg(long = "aggregation")]
        aggregations: Vec<String>,
        /// Server generation.
        #[arg(long, value_enum, default_value_t = DialectArg::Modern)]
        dialect: DialectArg,
    },
}

/// Runs the command.
pub fn run(cli: &Cli, args: &ClickHouseArgs) -> anyhow::Result<()> {
    match &args.command {
        ClickHouseCommand::Ddl {
            domain,
            aggregations,
            dialect,
        } => {
            let cfg = super::load(cli, std::slice::from_ref(domain))?;
            let d = cfg.domain(domain).context("domain not loaded")?;
            let built = sluice_runtime::plan::build(d, &cfg.platform.engine, aggregations)?;
            let settings = super::run::clickhouse_settings(cli, &cfg)?;
            let dialect = match dialect {
                DialectArg::Legacy => Dialect::Legacy,
                DialectArg::Modern => Dialect::Modern,
                DialectArg::Detect => Dialect::from_version(&Client::new(&settings)?.version()?),
            };
            for stmt in ddl(
                &built.tables,
                dialect,
                &settings.database,
                settings.ttl_days,
            ) {
                println!("{stmt};\n");
            }
            Ok(())
        }
    }
}

/// Runs `sql` on the configured ClickHouse server (its database is the
/// default one), as a printable result.
pub fn query(cli: &Cli, cfg: &sluice_config::Config, sql: &str) -> anyhow::Result<QueryResult> {
    let settings = super::run::clickhouse_settings(cli, cfg)?;
    let client = Client::new(&settings)?;
    let q = format!("{} FORMAT JSONCompact", sql.trim().trim_end_matches(';'));
    let text = client
        .query_in(&settings.database, &q)
        .context("ClickHouse query failed")?;
    let v: serde_json::Value = serde_json::from_str(&text).context("bad JSON from ClickHouse")?;
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
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|row| {
            row.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .zip(&numeric)
                .map(|(c, num)| match c {
                    serde_json::Value::Null => QueryCell::Null,
                    serde_json::Value::String(s) if *num => QueryCell::Number(s),
                    serde_json::Value::String(s) => QueryCell::Text(s),
                    serde_json::Value::Bool(b) => QueryCell::Bool(b),
                    serde_json::Value::Number(n) => QueryCell::Number(n.to_string()),
                    other => QueryCell::Text(other.to_string()),
                })
                .collect()
        })
        .collect();
    Ok(QueryResult { columns, rows })
}
