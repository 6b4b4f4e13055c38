//! `sluice`: the command-line tool. Thin by design: it parses arguments,
//! loads configuration and calls into the library crates; exit codes are
//! 0 (success), 1 (runtime failure) and 2 (invalid configuration or usage).

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// sluice: config-driven streaming analytics. Describe a domain in YAML;
/// sluice generates events, aggregates them in event-time windows and
/// stores the results (embedded DuckDB by default; Kafka and ClickHouse at
/// scale).
#[derive(Parser, Debug)]
#[command(name = "sluice", version, long_about = None)]
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
    /// Run a pipeline: generator, files or Kafka → engine → DuckDB (default), ClickHouse or JSON lines.
    Run(cmd::run::RunArgs),
    /// Run SQL against the store (DuckDB, also while a run writes it; ClickHouse when it is the environment's sink).
    Query(cmd::query::QueryArgs),
    /// List the store's tables with their row counts (DuckDB, also while a run writes it; ClickHouse when it is the environment's sink).
    Tables(cmd::query::TablesArgs),
    /// Measure throughput against a baseline measured in the same run.
    Bench(cmd::bench::BenchArgs),
    /// Generate synthetic events for a domain (files, stdout or Kafka).
    Generate(cmd::generate::GenerateArgs),
    /// Inspect or replay the dead-letter topic.
    Dlq(cmd::dlq::DlqArgs),
    /// A domain's Kafka topics with partitions and messages; recreate or delete them.
    Topics(cmd::topics::TopicsArgs),
    /// ClickHouse: print the tables and views `run` creates.
    Clickhouse(cmd::clickhouse::ClickHouseArgs),
    /// Prometheus alert rules for a domain's pipeline.
    Alerts(cmd::monitor::AlertsArgs),
    /// Grafana dashboards (pipeline health, results) and provisioning files.
    Dashboards(cmd::monitor::DashboardsArgs),
    /// The web console: the pipeline live, results as charts, dead letters, configuration.
    Ui(cmd::ui::UiArgs),
    /// The Spark runner: write the domain's Spark job, or run it.
    Spark(cmd::spark::SparkArgs),
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
        Command::Topics(a) => cmd::topics::run(&cli, a),
        Command::Clickhouse(a) => cmd::clickhouse::run(&cli, a),
        Command::Alerts(a) => cmd::monitor::alerts(&cli, a),
        Command::Dashboards(a) => cmd::monitor::dashboards(&cli, a),
        Command::Ui(a) => cmd::ui::run(&cli, a),
        Command::Spark(a) => cmd::spark::run(&cli, a),
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    const START: &str = "<!-- commands:start (generated from the CLI's help by `SLUICE_BLESS=1 cargo test -p sluice-cli --bin sluice`) -->";
    const END: &str = "<!-- commands:end -->";

    /// README's command list, rendered from the same doc comments as `--help`.
    fn command_table() -> String {
        fn walk(cmd: &clap::Command, prefix: &str, out: &mut String) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{prefix} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                let nested = sub.get_subcommands().any(|s| s.get_name() != "help");
                if !nested || !about.is_empty() {
                    out.push_str(&format!("| `{name}` | {} |\n", about.replace('|', "\\|")));
                }
                walk(sub, &name, out);
            }
        }
        let mut out = String::from("| command | what it does |\n|---|---|\n");
        walk(&super::Cli::command(), "sluice", &mut out);
        out
    }

    #[test]
    fn readme_command_list_is_the_cli_help() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
            panic!("README.md lacks the command list markers");
        };
        let have = &readme[a + START.len()..b];
        let want = format!("\n{}", command_table());
        if have != want {
            if std::env::var_os("SLUICE_BLESS").is_some() {
                let new = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
                std::fs::write(path, new).unwrap();
                return;
            }
            panic!("README.md's command list differs from the CLI's help; run `SLUICE_BLESS=1 cargo test -p sluice-cli --bin sluice`\nwant:\n{want}\nhave:\n{have}");
        }
    }

    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && !matches!(id, "help" | "version") {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "sluice", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }
}
