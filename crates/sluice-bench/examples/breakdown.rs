//! Cost breakdown of case (a): decode only, engine without aggregations,
//! engine without group key, full plan. `cargo run --release -p
//! sluice-engine --example breakdown [mode records]` (a mode 0..=3 runs one
//! variant once, for instruction counting under cachegrind).

use sluice_bench::engine::{case_tumbling_count, ecommerce_fixture};
use sluice_engine::{Engine, EnginePlan, Output};

fn rate(plan: &EnginePlan, batches: &[sluice_engine::RawBatch], decode: bool) -> f64 {
    let n: usize = batches.iter().map(|b| b.len()).sum();
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let mut e = Engine::new(plan.clone()).expect("valid");
        let mut out = Output::new();
        let t0 = std::time::Instant::now();
        for b in batches {
            if decode {
                std::hint::black_box(e.decode_only(b));
            } else {
                e.process(b, &mut out);
            }
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    n as f64 / best / 1e6
}

fn main() {
    let mode: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let (layouts, batches) = ecommerce_fixture(n, 42);
    let full = case_tumbling_count(&layouts);
    let mut nokey = full.clone();
    nokey.aggregations[0].group_by.clear();
    let mut noagg = full.clone();
    noagg.aggregations.clear();
    if let Some(m) = mode.filter(|&m| m < 5) {
        // One pass of one variant (for instruction counting).
        let plans = [&full, &noagg, &nokey, &full, &nokey];
        let mut e = Engine::new(plans[m].clone()).expect("valid");
        let mut out = Output::new();
        for b in &batches {
            if m == 0 {
                std::hint::black_box(e.decode_only(b));
            } else if m < 5 {
                e.process(b, &mut out);
            }
        }
        if m == 4 {
            for _ in 0..20 {
                let mut e = Engine::new(nokey.clone()).expect("valid");
                for b in &batches {
                    e.process(b, &mut out);
                }
            }
        }
        return;
    }
    for _ in 0..2 {
        println!(
            "decode {:.1}  no-agg {:.1}  no-key {:.1}  full {:.1}  (M/s)",
            rate(&full, &batches, true),
            rate(&noagg, &batches, false),
            rate(&nokey, &batches, false),
            rate(&full, &batches, false)
        );
    }
}
