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
    /// Register the domain's schemas in the schema registry; with `--check`,
    /// refuse (exit 1, with the reasons) any change that would break consumers.
    Register {
        /// Domain whose schemas to register.
        #[arg(long)]
        domain: String,
        /// Only this event type.
        #[arg(long)]
        event: Option<String>,
        /// Check compatibility against the latest registered version first.
        #[arg(long)]
        check: bool,
    },
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
    if let Some(SchemaCommand::Register {
        domain,
        event,
        check,
    }) = &args.command
    {
        return register(cli, domain, event.as_deref(), *check);
    }
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
    super::args::check_event(args.event.as_ref(), d)?;
    if let Some(e) = &args.event {
        layouts.retain(|l| &l.event_type == e);
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

fn register(cli: &Cli, domain: &str, event: Option<&str>, check: bool) -> anyhow::Result<()> {
    use sluice_kafka::producer::subject_of;
    use sluice_kafka::registry::RegistryClient;
    use sluice_kafka::KafkaSettings;

    let cfg = super::load(cli, &[domain.to_string()])?;
    let d = cfg.domain(domain).context("domain not loaded")?;
    let secrets = super::check_secrets(cli, &cfg)?;
    let settings = KafkaSettings::from_config(&cfg.platform.kafka, &secrets)?;
    let client = RegistryClient::new(&settings.registry)?;
    let mut refused = 0;
    for layout in d
        .layouts()
        .iter()
        .filter(|l| event.is_none_or(|e| l.event_type == e))
    {
        let topic = settings.topic(domain, &layout.event_type);
        let subject = subject_of(&client, &topic, layout);
        let schema = sluice_schema::record_schema_json(layout);
        if check {
            let c = client.check_compatible(&subject, &schema)?;
            if !c.compatible {
                refused += 1;
                println!("{subject}: REFUSED, the change would break consumers:");
                for m in &c.messages {
                    println!("  - {m}");
                }
                continue;
            }
        }
        let id = client.register(&subject, &schema)?;
        println!("{subject}: schema id {id}");
    }
    if refused > 0 {
        eprintln!(
            "{refused} schema{} refused",
            if refused == 1 { "" } else { "s" }
        );
        return Err(Exit(1).into());
    }
    Ok(())
}
