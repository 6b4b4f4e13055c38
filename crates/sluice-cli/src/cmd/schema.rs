//! `sluice schema`: write Avro schemas; `sluice schema diff`: compatibility.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::{Cli, Exit};

/// Arguments of `sluice schema`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: Option<SchemaCommand>,
    /// Domain whose schemas to write.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only this event type.
    #[arg(long)]
    pub event: Option<String>,
    /// Write `<event_type>.avsc` files here instead of printing.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `sluice schema ...`
#[derive(Subcommand, Debug)]
pub enum SchemaCommand {
    /// Compare two directories of .avsc files: backward, forward or fully compatible.
    Diff {
        /// Directory with the old schemas.
        old: PathBuf,
        /// Directory with the new schemas.
        new: PathBuf,
    },
}

/// Runs the command.
pub fn run(cli: &Cli, args: &SchemaArgs) -> anyhow::Result<()> {
    if let Some(SchemaCommand::Diff { old, new }) = &args.command {
        let report =
            sluice_schema::diff_dirs(old, new).context("cannot compare schema directories")?;
        println!("{report}");
        // Exit 1 when neither old readers nor new readers can cope: a breaking change.
        return if report.compatibility() == sluice_schema::Compatibility::None {
            Err(Exit(1).into())
        } else {
            Ok(())
        };
    }
    let Some(domain) = &args.domain else {
        anyhow::bail!("`sluice schema` needs `--domain <name>` (or the `diff` subcommand)");
    };
    let cfg = super::load(cli, std::slice::from_ref(domain))?;
    let d = cfg.domain(domain).context("domain not loaded")?;
    let mut layouts = d.layouts();
    if let Some(e) = &args.event {
        layouts.retain(|l| &l.event_type == e);
        if layouts.is_empty() {
            let names: Vec<&str> = d
                .event_types
                .iter()
                .map(|e| e.name.value.as_str())
                .collect();
            anyhow::bail!(
                "unknown event type `{e}` in domain `{domain}` (expected one of {})",
                names.join(", ")
            );
        }
    }
    match &args.out {
        Some(dir) => {
            let written = sluice_schema::write_schemas(&layouts, dir)?;
            for p in written {
                println!("wrote {}", p.display());
            }
        }
        None => {
            for l in &layouts {
                print!("{}", sluice_schema::record_schema_json(l));
            }
        }
    }
    Ok(())
}
