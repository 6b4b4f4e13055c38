//! Runs one standard case repeatedly, for profilers: `cargo run --release -p
//! sluice-engine --example profile_case -- <case 0..3> [records] [rounds]`.

use sluice_bench::engine::{ecommerce_fixture, standard_cases};
use sluice_engine::{Engine, Output};

fn main() {
    let mut args = std::env::args().skip(1);
    let case: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let (layouts, batches) = ecommerce_fixture(n, 42);
    let Some((name, plan)) = standard_cases(&layouts).into_iter().nth(case) else {
        eprintln!("no case {case}");
        return;
    };
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let mut e = Engine::new(plan.clone()).expect("valid plan");
        let mut out = Output::new();
        let t0 = std::time::Instant::now();
        for b in &batches {
            e.process(b, &mut out);
        }
        e.finish(&mut out);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!("{name}: {:.2} M events/s", n as f64 / best / 1e6);
}
