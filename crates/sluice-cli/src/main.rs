//! `sluice`: the command-line tool. Thin by design: it parses arguments,
//! loads configuration and calls into the library crates; exit codes are
//! 0 (success), 1 (runtime failure) and 2 (invalid configuration or usage).

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// sluice: config-driven streaming analytics.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, about, long_about = None)]
pub struct Cli {
    /// Directory holding platform.yaml, environments/ and domains/.
    #[arg(
        long,
        global = true,
        env = "SLUICE_CONFIG_DIR",
        default_value = "config"
    )]
    pub config_dir: PathBuf,
    /// Environment overlay to apply (config/environments/<env>.yaml).
    #[arg(long, global = true, env = "SLUICE_ENV", default_value = "dev")]
    pub env: String,
    /// Log line format (stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Pretty)]
    pub log_format: LogFormatArg,
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormatArg {
    /// Human-friendly.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check configuration: every problem at once, with file:line:col.
    Validate(cmd::validate::ValidateArgs),
    /// Inspect the merged configuration.
    Config {
        #[command(subcommand)]
        command: cmd::config::ConfigCommand,
    },
    /// Write Avro schemas for a domain, or compare two schema directories.
    Schema(cmd::schema::SchemaArgs),
    /// Run a pipeline: generator or files → engine → DuckDB (embedded default).
    Run(cmd::run::RunArgs),
    /// Run SQL against the store (DuckDB, or ClickHouse when it is the environment's sink).
    Query(cmd::query::QueryArgs),
    /// List the tables of the embedded store with their row counts.
    Tables(cmd::query::TablesArgs),
    /// Measure throughput against a baseline measured in the same run.
    Bench(cmd::bench::BenchArgs),
    /// Generate synthetic events for a domain (files, stdout or Kafka).
    Generate(cmd::generate::GenerateArgs),
    /// Inspect or replay the dead-letter topic.
    Dlq(cmd::dlq::DlqArgs),
    /// ClickHouse: print the tables and views `run` creates.
    Clickhouse(cmd::clickhouse::ClickHouseArgs),
    /// Prometheus alert rules for a domain's pipeline.
    Alerts(cmd::monitor::AlertsArgs),
    /// Grafana dashboards (pipeline health, results) and provisioning files.
    Dashboards(cmd::monitor::DashboardsArgs),
}

/// An error that already printed itself and maps to an exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format {
        LogFormatArg::Pretty => sluice_runtime::logging::LogFormat::Pretty,
        LogFormatArg::Json => sluice_runtime::logging::LogFormat::Json,
    };
    sluice_runtime::logging::init(format, "info");
    let result = match &cli.command {
        Command::Validate(a) => cmd::validate::run(&cli, a),
        Command::Config { command } => cmd::config::run(&cli, command),
        Command::Schema(a) => cmd::schema::run(&cli, a),
        Command::Run(a) => cmd::run::run(&cli, a),
        Command::Query(a) => cmd::query::run_query(&cli, a),
        Command::Tables(a) => cmd::query::run_tables(&cli, a),
        Command::Bench(a) => cmd::bench::run(&cli, a),
        Command::Generate(a) if a.to.as_deref() == Some("kafka") => cmd::produce::run(&cli, a),
        Command::Generate(a) => cmd::load(&cli, std::slice::from_ref(&a.domain)).and_then(|cfg| {
            cmd::args::check_generate(a, &cfg)?;
            cmd::generate::run(a, &cfg)
        }),
        Command::Dlq(a) => cmd::dlq::run(&cli, a),
        Command::Clickhouse(a) => cmd::clickhouse::run(&cli, a),
        Command::Alerts(a) => cmd::monitor::alerts(&cli, a),
        Command::Dashboards(a) => cmd::monitor::dashboards(&cli, a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
