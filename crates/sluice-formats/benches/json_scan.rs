//! The projecting JSON scanner's speed on shop-like lines (the shape
//! `sluice generate --format jsonl` writes for the ecommerce domain), reading
//! four fields of each line as an aggregation plan would: ASCII text, and
//! the same lines with non-ASCII text in a string that is not read (every
//! string is checked, read or not).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_core::{FieldLayout, FieldRole, FieldType, MoneyEncoding, RecordLayout};
use sluice_formats::json_projector::Projector;

fn field(name: &str, ty: FieldType) -> FieldLayout {
    FieldLayout {
        name: name.into(),
        ty,
        optional: false,
        role: FieldRole::Attribute,
        doc: None,
    }
}

/// Projected layouts: what a plan reading user, time, device and amount keeps.
fn layouts() -> Vec<RecordLayout> {
    let device = FieldType::Enum {
        symbols: vec!["desktop".into(), "mobile".into(), "tablet".into()],
    };
    let base = vec![
        field("user_id", FieldType::String),
        field("event_time", FieldType::Timestamp),
        field("device_type", device),
    ];
    let mut cart = base.clone();
    cart.push(field(
        "amount",
        FieldType::Money {
            currency: "USD".into(),
            scale: 2,
        },
    ));
    [("page_view", base), ("add_to_cart", cart)]
        .into_iter()
        .map(|(et, fields)| RecordLayout {
            namespace: "n".into(),
            domain: "shop".into(),
            event_type: et.into(),
            entity_key: "user_id".into(),
            money: MoneyEncoding::Long,
            fields,
        })
        .collect()
}

/// `n` lines, alternating event types; `title` is the unread text.
fn lines(n: usize, title: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let devices = ["desktop", "mobile", "tablet"];
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let dev = devices[(x % 3) as usize];
        let t = 1_704_067_200_000 + i as u64;
        if i % 3 == 0 {
            out.extend_from_slice(format!(
                r#"{{"event_id":"{x:016x}","event_type":"add_to_cart","user_id":"user_{:06}","event_time":{t},"session_id":"{:016x}","product_id":"prod_{}","quantity":1,"amount":{},"device_type":"{dev}","platform":"android","country":"BR"}}"#,
                x % 100_000, x.rotate_left(17), x % 5000, x % 10_000
            ).as_bytes());
        } else {
            out.extend_from_slice(format!(
                r#"{{"event_id":"{x:016x}","event_type":"page_view","user_id":"user_{:06}","event_time":{t},"session_id":"{:016x}","page_url":"https://shop.example/product/{}","page_title":"{title} {} | Shop","device_type":"{dev}","platform":"web","country":"US"}}"#,
                x % 100_000, x.rotate_left(17), x % 5000, x % 5000
            ).as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn scan(c: &mut Criterion) {
    let layouts = layouts();
    let mut g = c.benchmark_group("json_scan");
    for (name, title) in [
        ("ascii", "Product"),
        ("non_ascii_unread", "Prödukt für Größe €"),
    ] {
        let text = lines(20_000, title);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            let mut p = Projector::new(&layouts);
            let mut out = Vec::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                let mut good = 0usize;
                for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                    good += usize::from(p.line(line, &mut out).is_ok());
                }
                assert_eq!(good, 20_000);
                good
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
