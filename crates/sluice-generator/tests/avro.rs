//! Every shipped domain generates output that apache-avro decodes with the
//! schemas from `sluice-schema`: plain datums (engine batches), `long` and
//! `decimal` money, and object container files. Decoded values equal the
//! generator's own typed events and its JSON lines.

mod common;

use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use serde_json::Value as Json;
use sluice_core::MoneyEncoding;
use sluice_generator::{BatchSet, EncodedBatch, Format, Generator, GeneratorOptions, Limit};

/// apache-avro value → the generator's JSON conventions.
fn to_json(v: &Avro) -> Json {
    match v {
        Avro::Null => Json::Null,
        Avro::Boolean(b) => Json::Bool(*b),
        Avro::Int(i) => Json::from(*i),
        Avro::Long(i) | Avro::TimestampMillis(i) => Json::from(*i),
        Avro::Double(d) => serde_json::Number::from_f64(*d).map(Json::Number).unwrap(),
        Avro::String(s) => Json::String(s.clone()),
        Avro::Enum(_, s) => Json::String(s.clone()),
        Avro::Union(_, inner) => to_json(inner),
        Avro::Decimal(d) => {
            let bytes = <Vec<u8>>::try_from(d).unwrap();
            let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                -1
            } else {
                0
            };
            for b in bytes {
                v = (v << 8) | b as i64;
            }
            Json::from(v)
        }
        Avro::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        other => panic!("unexpected avro value {other:?}"),
    }
}

/// Equality with a short report: the first differing element only.
#[track_caller]
fn same(got: &[Json], want: &[Json], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: element {i} differs:\n got  {}\n want {}",
            got[i], want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths");
}

fn schemas(g: &Generator) -> Vec<Schema> {
    g.layouts()
        .map(|l| Schema::parse_str(&sluice_schema::record_schema_json(l)).unwrap())
        .collect()
}

fn opts(seed: u64, n: u64) -> GeneratorOptions {
    GeneratorOptions {
        seed,
        limit: Limit {
            events: Some(n),
            duration_ms: None,
        },
        ..GeneratorOptions::default()
    }
}

fn check_domain(domain: &sluice_config::DomainConfig, n: u64) {
    let name = domain.domain.value.clone();
    // Reference: typed events.
    let mut reference = Generator::new(domain, opts(5, n)).unwrap();
    let mut expected = Vec::new();
    while let Some(e) = reference.next_event() {
        expected.push(e.to_json());
    }
    assert_eq!(expected.len() as u64, n);

    // Per-type batches.
    let mut g = Generator::new(domain, opts(5, n)).unwrap();
    let schemas = schemas(&g);
    let mut set = BatchSet::default();
    let mut decoded_by_type: Vec<Vec<Json>> = vec![Vec::new(); schemas.len()];
    while g.fill_batches(1000, &mut set) > 0 {
        for b in set.non_empty() {
            for i in 0..b.len() {
                let mut rec = b.record(i).unwrap();
                let v =
                    apache_avro::from_avro_datum(&schemas[b.event_type as usize], &mut rec, None)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(rec.is_empty(), "{name}: datum fully consumed");
                let j = to_json(&v);
                assert_eq!(j["event_time"], Json::from(b.event_times[i]));
                decoded_by_type[b.event_type as usize].push(j);
            }
        }
    }
    let mut expected_by_type: Vec<Vec<Json>> = vec![Vec::new(); schemas.len()];
    for e in &expected {
        let t = g
            .layouts()
            .position(|l| l.event_type == e["event_type"].as_str().unwrap())
            .unwrap();
        expected_by_type[t].push(e.clone());
    }
    for (got, want) in decoded_by_type.iter().zip(&expected_by_type) {
        same(
            got,
            want,
            &format!("{name}: batches decode to the typed events"),
        );
    }

    // Mixed batch, stream order.
    let mut g = Generator::new(domain, opts(5, n)).unwrap();
    let mut batch = EncodedBatch::default();
    let mut mixed = Vec::new();
    while g.fill_mixed(777, &mut batch) > 0 {
        for i in 0..batch.len() {
            let mut rec = batch.record(i).unwrap();
            let v = apache_avro::from_avro_datum(
                &schemas[batch.event_types[i] as usize],
                &mut rec,
                None,
            )
            .unwrap();
            mixed.push(to_json(&v));
        }
    }
    same(
        &mixed,
        &expected,
        &format!("{name}: mixed batches keep stream order"),
    );

    // JSON lines are the same objects.
    let mut g = Generator::new(domain, opts(5, n)).unwrap();
    let mut out = Vec::new();
    g.write_to(Format::Jsonl, &mut out, &mut |_| {}).unwrap();
    let lines: Vec<Json> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    same(&lines, &expected, &format!("{name}: JSON lines"));

    // OCF through apache-avro's Reader: union schema of all event types.
    let mut g = Generator::new(domain, opts(5, n)).unwrap();
    let mut out = Vec::new();
    let summary = g.write_to(Format::AvroOcf, &mut out, &mut |_| {}).unwrap();
    assert_eq!(summary.records, n);
    let reader = apache_avro::Reader::new(&out[..]).unwrap();
    let values: Vec<Json> = reader.map(|v| to_json(&v.unwrap())).collect();
    same(&values, &expected, &format!("{name}: OCF"));

    // Plain datums to a writer: union branch + record.
    let mut g = Generator::new(domain, opts(5, n)).unwrap();
    let mut out = Vec::new();
    g.write_to(Format::Avro, &mut out, &mut |_| {}).unwrap();
    let union = Schema::parse_str(&g.output_schema_json()).unwrap();
    let mut cur = &out[..];
    let mut datums = Vec::new();
    while !cur.is_empty() {
        datums.push(to_json(
            &apache_avro::from_avro_datum(&union, &mut cur, None).unwrap(),
        ));
    }
    same(&datums, &expected, &format!("{name}: avro datum stream"));
}

#[test]
fn every_shipped_domain_round_trips() {
    for d in common::DOMAINS {
        check_domain(&common::domain(d), 3_000);
    }
}

#[test]
fn decimal_money_round_trips() {
    for d in ["ecommerce", "fintech"] {
        let mut dom = common::domain(d);
        dom.money_encoding = MoneyEncoding::Decimal;
        check_domain(&dom, 2_000);
    }
}

#[test]
fn single_event_type_ocf_has_the_record_schema() {
    let dom = common::domain("ecommerce");
    let mut g = Generator::new(
        &dom,
        GeneratorOptions {
            only_event_type: Some("purchase".into()),
            ..opts(9, 500)
        },
    )
    .unwrap();
    let mut out = Vec::new();
    let s = g.write_to(Format::AvroOcf, &mut out, &mut |_| {}).unwrap();
    assert_eq!(s.records, 500);
    assert_eq!(
        s.by_type.iter().find(|(n, _)| n == "purchase").unwrap().1,
        500
    );
    let reader = apache_avro::Reader::new(&out[..]).unwrap();
    let schema = reader.writer_schema().clone();
    assert!(matches!(schema, Schema::Record(_)));
    let mut n = 0;
    for v in reader {
        let j = to_json(&v.unwrap());
        assert_eq!(j["event_type"], "purchase");
        n += 1;
    }
    assert_eq!(n, 500);
}

#[test]
fn ocf_spans_several_blocks() {
    // Enough data for more than one 256 KiB block.
    let dom = common::domain("apm");
    let mut g = Generator::new(&dom, opts(1, 20_000)).unwrap();
    let mut out = Vec::new();
    g.write_to(Format::AvroOcf, &mut out, &mut |_| {}).unwrap();
    assert!(out.len() > 600_000);
    let reader = apache_avro::Reader::new(&out[..]).unwrap();
    assert_eq!(reader.count(), 20_000);
}
