//! Prints the engine benchmark report: `cargo run --release -p sluice-engine
//! --example bench_engine -- [records] [rounds]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    match sluice_bench::engine::run(n, 42, rounds) {
        Ok(r) => {
            println!(
                "records {} mean bytes {:.1} rounds {}",
                r.records, r.mean_record_bytes, r.rounds
            );
            for c in &r.cases {
                println!(
                    "{:<45} decode {:>7.2} M/s  engine {:>7.2} M/s  ratio {:.2}  results {}  state {} B  groups {}  ({:.0} B/group)",
                    c.name,
                    c.decode_events_per_sec / 1e6,
                    c.events_per_sec / 1e6,
                    c.ratio_to_decode,
                    c.results,
                    c.state_bytes,
                    c.open_groups,
                    c.bytes_per_group
                );
            }
        }
        Err(e) => eprintln!("error: {e}"),
    }
}
