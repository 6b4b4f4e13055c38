//! `sluice clickhouse ddl`: the tables and views `sluice run` creates in
//! ClickHouse, printed for review or for a DBA to apply.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sluice_connectors::sink::clickhouse::{ddl, Client, Dialect};

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
