//! `sluice validate`: load, decode and cross-check; report every problem.

use clap::Args;

use crate::Cli;

/// Arguments of `sluice validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Only these domains (default: every domain in config/domains).
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// Also resolve every `${secret:...}` through the configured backends.
    #[arg(long)]
    pub check_secrets: bool,
}

/// Runs the command.
pub fn run(cli: &Cli, args: &ValidateArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, &args.domains)?;
    if args.check_secrets {
        let resolved = super::check_secrets(cli, &cfg)?;
        println!("secrets: {} resolved", resolved.values.len());
    }
    for d in &cfg.domains {
        println!(
            "ok: domain `{}` ({} event types, {} aggregations) in environment `{}`",
            d.domain.value,
            d.event_types.len(),
            d.aggregations.len(),
            cfg.env
        );
    }
    Ok(())
}
