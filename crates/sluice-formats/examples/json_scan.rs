//! Single-thread throughput of the projecting JSON scanner over a JSON lines
//! file of the ecommerce domain: `cargo run --release --example json_scan -- FILE`.

use std::time::Instant;

use sluice_core::{FieldLayout, FieldRole, FieldType, MoneyEncoding, RecordLayout};
use sluice_formats::json_projector::{project_layout, Projector};

fn main() {
    let path = std::env::args().nth(1).expect("usage: json_scan FILE");
    let bytes = std::fs::read(&path).expect("read");
    let f = |name: &str, ty: FieldType| FieldLayout {
        name: name.into(),
        ty,
        optional: false,
        role: FieldRole::Dimension,
        doc: None,
    };
    let layout = |et: &str, money: bool| {
        let mut fields = RecordLayout::envelope("user_id");
        if money {
            fields.push(f(
                "amount",
                FieldType::Money {
                    currency: "USD".into(),
                    scale: 2,
                },
            ));
        }
        fields.push(f("device_type", FieldType::String));
        RecordLayout {
            namespace: "n".into(),
            domain: "ecommerce".into(),
            event_type: et.into(),
            entity_key: "user_id".into(),
            money: MoneyEncoding::Long,
            fields,
        }
    };
    let need: Vec<String> = ["amount", "device_type", "user_id"]
        .map(String::from)
        .to_vec();
    let layouts: Vec<RecordLayout> = [
        ("page_view", false),
        ("add_to_cart", true),
        ("purchase", true),
    ]
    .iter()
    .map(|(e, m)| project_layout(&layout(e, *m), &need))
    .collect();
    let mut p = Projector::new(&layouts);
    let mut out = Vec::with_capacity(1 << 20);
    let t0 = Instant::now();
    let (mut ok, mut bad) = (0u64, 0u64);
    for line in bytes.split(|&c| c == b'\n') {
        if line.is_empty() {
            continue;
        }
        if out.len() > (1 << 20) {
            out.clear();
        }
        match p.line(line, &mut out) {
            Ok(_) => ok += 1,
            Err(_) => bad += 1,
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{ok} ok, {bad} rejected, {:.0} lines/s, {:.0} MB/s",
        (ok + bad) as f64 / s,
        bytes.len() as f64 / s / 1e6
    );
}
