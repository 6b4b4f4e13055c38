//! `sluice config show`: the merged, resolved configuration with every secret
//! redacted.

use clap::Subcommand;
use serde_json::json;

use crate::Cli;

/// `sluice config ...`
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the merged configuration (platform + environment + domains), secrets redacted.
    Show {
        /// Only these domains.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Do not resolve secrets (show references as `[redacted]` without checking them).
        #[arg(long)]
        no_secrets: bool,
    },
}

/// Runs the command.
pub fn run(cli: &Cli, cmd: &ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show {
            domains,
            no_secrets,
        } => {
            let cfg = super::load(cli, domains)?;
            if !no_secrets {
                super::check_secrets(cli, &cfg)?;
            }
            let doc = json!({
                "environment": cfg.env,
                "platform": cfg.platform,
                "domains": cfg.domains,
            });
            print!("{}", sluice_config::show::to_yaml(&doc));
            Ok(())
        }
    }
}
