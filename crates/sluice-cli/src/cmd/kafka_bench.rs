//! `sluice bench kafka`: produce N generated events through the schema
//! registry and the broker (fresh topics), then consume them with the Kafka
//! source and aggregate them with the engine. Needs both services running
//! (`scripts/services.sh start kafka`, `... start registry`).

use std::time::Duration;

use clap::Args;
use sluice_bench::kafka::run_bench;
use sluice_kafka::KafkaSettings;

use crate::Cli;

/// Arguments of `sluice bench kafka`.
#[derive(Args, Debug)]
pub struct KafkaBenchArgs {
    /// Events to produce and consume.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Domain whose events to generate.
    #[arg(long, default_value = "ecommerce")]
    pub domain: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice bench kafka`.
pub fn run(cli: &Cli, args: &KafkaBenchArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    let Some(d) = cfg.domain(&args.domain) else {
        anyhow::bail!("unknown domain `{}`", args.domain);
    };
    let secrets = super::check_secrets(cli, &cfg)?;
    let settings = KafkaSettings::from_config(&cfg.platform.kafka, &secrets)?;
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
    let r = run_bench(
        &cfg,
        &settings,
        &args.domain,
        built.plan,
        args.events,
        Duration::from_secs(args.timeout_secs),
    )?;
    let measured = super::bench::Measured::domain(d);
    if args.json {
        let mut out = r.to_json();
        out["measured"] = measured.json();
        println!("{out}");
    } else {
        println!("measured                    {}", measured.plan);
        println!("events                      {}", r.events);
        println!(
            "produce events/s            {:.0}",
            r.produce_events_per_sec
        );
        println!(
            "consume+aggregate events/s  {:.0}  (group join {:.1}s not counted; {} results)",
            r.consume_aggregate_events_per_sec, r.join_seconds, r.results
        );
        println!(
            "raw consume events/s        {:.0}  (bare librdkafka, same topics and settings; ratio {:.3})",
            r.raw_consume_events_per_sec,
            r.consume_aggregate_events_per_sec / r.raw_consume_events_per_sec.max(1e-9)
        );
    }
    Ok(())
}
