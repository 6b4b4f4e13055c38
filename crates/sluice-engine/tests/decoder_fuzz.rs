//! Decoder safety: random bytes, truncations and mutations of valid records
//! never panic; every record is either decoded or dead-lettered with a
//! reason; the compiled decoder agrees with the plain reference decoder.
//!
//! Case count: `PROPTEST_CASES` (default 256).

mod common;

use common::*;
use proptest::prelude::*;
use sluice_core::AggregateKind as K;
use sluice_engine::decode::{CompiledDecoder, FieldVal};
use sluice_engine::value::decode_record;
use sluice_engine::{DecodeError, Engine, Output, RawBatch};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// A plan reading every field, so the decoder checks as much as it can.
fn full_engine() -> Engine {
    let mut a = agg(K::Sum, Some("amt"), tumbling(1000));
    a.group_by = vec![
        "cat".into(),
        "dim".into(),
        "flag".into(),
        "user".into(),
        "event_type".into(),
    ];
    let mut b = agg(K::Max, Some("x"), tumbling(1000));
    b.group_by = vec!["n".into(), "session_id".into(), "event_id".into()];
    Engine::new(plan(vec![a, b])).unwrap()
}

fn valid_record(et: u32, seed: u64) -> Vec<u8> {
    let mut e = Ev::at((seed % 1_000_000_000) as i64);
    e.et = et;
    e.user = (seed % 7) as u8;
    e.dim = if seed % 3 == 0 {
        None
    } else {
        Some((seed % 5) as u8)
    };
    e.amt = (seed as i64).wrapping_mul(7919) % 10_000_000 - 5_000_000;
    e.x = (seed % 100) as i32;
    batches(&[e], &[]).remove(0).data
}

fn run_one(engine: &mut Engine, et: u32, bytes: &[u8]) -> Output {
    let mut b = RawBatch::new(et, 0, 0);
    b.push(bytes);
    let mut out = Output::new();
    engine.process(&b, &mut out);
    out
}

fn decoders() -> Vec<CompiledDecoder> {
    let names = [
        "event_id",
        "event_type",
        "user",
        "session_id",
        "cat",
        "dim",
        "flag",
        "n",
        "x",
        "amt",
    ];
    let wanted: Vec<(&str, u16)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u16))
        .collect();
    layouts()
        .iter()
        .map(|l| CompiledDecoder::new(l, &wanted).unwrap())
        .collect()
}

/// The compiled decoder accepts exactly what the plain decoder accepts,
/// except invalid UTF-8 in strings it does not read (here it reads all).
fn agree(et: u32, bytes: &[u8]) {
    let layouts = layouts();
    let plain = decode_record(&layouts[et as usize], bytes);
    let mut vals = vec![FieldVal::Null; 16];
    let compiled = decoders()[et as usize].decode(bytes, &mut vals);
    match (&plain, &compiled) {
        (Ok(v), Ok(t)) => assert_eq!(v[3], sluice_engine::Value::Int(*t)),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(DecodeError::TimeOutOfRange(_))) => {}
        _ => panic!("decoders disagree on {bytes:?}: plain {plain:?}, compiled {compiled:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(et in 0u32..3, bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut e = full_engine();
        let out = run_one(&mut e, et, &bytes);
        let m = e.metrics();
        prop_assert_eq!(m.events_in, 1);
        prop_assert_eq!(m.decoded + m.dead_lettered, 1);
        if let Some(d) = out.dead_letters.first() {
            prop_assert!(!d.reason.to_string().is_empty());
            prop_assert_eq!(&d.bytes, &bytes);
        }
        if et < 2 {
            agree(et, &bytes);
        }
    }

    #[test]
    fn truncated_records_are_dead_letters(et in 0u32..2, seed in any::<u64>(), cut in 0usize..200) {
        let rec = valid_record(et, seed);
        let cut = cut % rec.len();
        let mut e = full_engine();
        let out = run_one(&mut e, et, &rec[..cut]);
        prop_assert_eq!(out.dead_letters.len(), 1);
        prop_assert!(matches!(
            out.dead_letters[0].reason,
            DecodeError::Truncated { .. } | DecodeError::BadLength { .. }
        ), "{:?}", out.dead_letters[0].reason);
        agree(et, &rec[..cut]);
    }

    #[test]
    fn mutated_records_never_panic(
        et in 0u32..2,
        seed in any::<u64>(),
        edits in prop::collection::vec((0u8..4, any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut rec = valid_record(et, seed);
        for (op, at, byte) in edits {
            let i = at % (rec.len() + 1);
            match op {
                0 if i < rec.len() => rec[i] = byte,
                1 => rec.insert(i, byte),
                2 if i < rec.len() => { rec.remove(i); }
                _ => if i < rec.len() { rec[i] ^= 1 << (byte % 8) },
            }
        }
        let mut e = full_engine();
        let out = run_one(&mut e, et, &rec);
        let m = e.metrics();
        prop_assert_eq!(m.decoded + m.dead_lettered, 1);
        prop_assert_eq!(out.dead_letters.len() as u64, m.dead_lettered);
        agree(et, &rec);
    }
}

#[test]
fn valid_records_decode() {
    for et in 0..2 {
        for seed in 0..200 {
            let rec = valid_record(et, seed);
            let mut e = full_engine();
            let out = run_one(&mut e, et, &rec);
            assert!(out.dead_letters.is_empty(), "{:?}", out.dead_letters);
            agree(et, &rec);
        }
    }
}

#[test]
fn bad_batch_bounds_and_unknown_types_are_dead_letters() {
    let mut e = full_engine();
    let mut b = RawBatch::new(0, 3, 10);
    b.data = valid_record(0, 1);
    b.ends = vec![5, 3, 10_000];
    let mut out = Output::new();
    e.process(&b, &mut out);
    let offsets: Vec<i64> = out.dead_letters.iter().map(|d| d.offset).collect();
    assert_eq!(offsets, vec![10, 11, 12]);
    assert!(matches!(
        out.dead_letters[1].reason,
        DecodeError::BadBounds { .. }
    ));
    let out = run_one(&mut e, 9, &valid_record(0, 1));
    assert_eq!(out.dead_letters[0].reason, DecodeError::UnknownEventType(9));
}

#[test]
fn specific_malformations_have_specific_reasons() {
    let rec = valid_record(0, 4);
    let mut e = full_engine();
    // Trailing garbage.
    let mut long = rec.clone();
    long.push(0);
    assert_eq!(
        run_one(&mut e, 0, &long).dead_letters[0].reason,
        DecodeError::TrailingBytes { extra: 1 }
    );
    // Overlong varint in the first string length.
    let bad = vec![0xff; 12];
    assert!(matches!(
        run_one(&mut e, 0, &bad).dead_letters[0].reason,
        DecodeError::BadVarint { .. }
    ));
    // Negative string length.
    assert!(matches!(
        run_one(&mut e, 0, &[1]).dead_letters[0].reason,
        DecodeError::BadLength { len: -1, .. }
    ));
}
