//! `sluice generate --to kafka`: generated events to the domain's topics,
//! schemas registered, every message delivered or the command fails.

use std::io::IsTerminal;

use sluice_generator::Generator;
use sluice_kafka::producer::{produce_generated, ProduceOptions};

use super::generate::{options, GenerateArgs};
use crate::Cli;

/// Runs the command.
pub fn run(cli: &Cli, args: &GenerateArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    super::args::check_generate(args, &cfg)?;
    let settings = super::kafka_settings(cli, &cfg, args.topic_prefix.as_deref())?;
    let mut g = Generator::from_config(&cfg, &args.domain, options(args)?)?;
    let tty = std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let mut progress = |n: u64| {
        if tty && last.elapsed().as_millis() >= 250 {
            last = std::time::Instant::now();
            eprint!("\r\x1b[2Kproduced {n} events");
        }
    };
    let s = produce_generated(
        &cfg,
        &settings,
        &args.domain,
        &mut g,
        &ProduceOptions::default(),
        &mut progress,
    )?;
    if tty {
        eprint!("\r\x1b[2K");
    }
    eprintln!(
        "produced {} events ({} delivered, {:.1} MiB) in {:.2}s: {:.0} events/s",
        s.records,
        s.delivered,
        s.bytes as f64 / 1_048_576.0,
        s.seconds,
        s.events_per_sec()
    );
    for (topic, subject, id, n) in &s.topics {
        eprintln!("  {topic}: {n} messages, subject `{subject}`, schema id {id}");
    }
    let f = g.summary().faults;
    if f.malformed() + f.duplicates + f.late + f.out_of_order > 0 {
        eprintln!("  injected: {f:?}");
    }
    Ok(())
}
