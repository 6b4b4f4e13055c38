//! Prints the Avro batch throughput of a shipped domain on one thread:
//! `cargo run --release -p sluice-generator --example throughput -- ecommerce 2000000 5`
//! (domain, events per run, runs; prints the best run).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ecommerce".into());
    let events: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut opts = sluice_config::LoadOptions::new(dir, "dev");
    opts.vars = Default::default();
    let cfg = sluice_config::load(&opts).map_err(|d| d.to_string())?;
    let d = cfg.domain(&name).ok_or("unknown domain")?;
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    // Best of several runs: on a shared machine the best run is the one
    // least disturbed by other processes.
    let mut best = 0.0f64;
    for _ in 0..runs {
        best = best.max(sluice_generator::measure_avro_throughput(d, 1, events)?);
    }
    println!(
        "{name}: {events} events, best of {runs}: {:.2} M events/s (Avro batches, one thread)",
        best / 1e6
    );
    Ok(())
}
