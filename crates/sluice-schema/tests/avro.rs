//! Generated schemas: golden files, validity and round trips through the real
//! `apache-avro` crate, and the hand-encoded wire layout.

mod common;

use apache_avro::types::Value as AValue;
use apache_avro::{from_avro_datum, to_avro_datum, Decimal, Schema as AvroSchema};
use proptest::prelude::*;
use sluice_core::Classify;
use sluice_core::{FieldType, MoneyEncoding, RecordLayout};
use sluice_schema::{check_layout, record_schema, record_schema_json, write_schemas, SchemaError};

fn avro_schema(layout: &RecordLayout) -> AvroSchema {
    AvroSchema::parse_str(&record_schema_json(layout)).unwrap()
}

/// Big-endian two's complement, minimal length (as Avro decimal bytes).
fn decimal_bytes(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let redundant = (bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

/// A sample value for every field; `n` varies values and which optionals are null.
fn sample(layout: &RecordLayout, n: i64) -> AValue {
    let fields = layout
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v = match &f.ty {
                FieldType::String => AValue::String(format!("{}-{n}", f.name)),
                FieldType::Int => AValue::Int((n as i32).wrapping_mul(7).wrapping_sub(3)),
                FieldType::Long => AValue::Long(n.wrapping_mul(1_000_003)),
                FieldType::Double => AValue::Double(n as f64 / 8.0),
                FieldType::Boolean => AValue::Boolean(n % 2 == 0),
                FieldType::Timestamp => AValue::TimestampMillis(1_700_000_000_000 + n),
                FieldType::Enum { symbols } => {
                    let idx = (n.unsigned_abs() as usize + i) % symbols.len();
                    AValue::Enum(idx as u32, symbols[idx].clone())
                }
                FieldType::Money { .. } => match layout.money {
                    MoneyEncoding::Long => AValue::Long(n * 199),
                    MoneyEncoding::Decimal => {
                        AValue::Decimal(Decimal::from(decimal_bytes(n * 199)))
                    }
                },
            };
            let v = if !f.optional {
                v
            } else if (n + i as i64) % 2 == 0 {
                AValue::Union(0, Box::new(AValue::Null))
            } else {
                AValue::Union(1, Box::new(v))
            };
            (f.name.clone(), v)
        })
        .collect();
    AValue::Record(fields)
}

fn round_trip(layout: &RecordLayout, value: &AValue) -> AValue {
    let schema = avro_schema(layout);
    let bytes = to_avro_datum(&schema, value.clone()).unwrap();
    let mut reader = bytes.as_slice();
    let back = from_avro_datum(&schema, &mut reader, None).unwrap();
    assert!(reader.is_empty(), "trailing bytes after decoding");
    back
}

#[test]
fn golden_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = common::all_layouts();
    let written = write_schemas(&layouts, dir.path()).unwrap();
    assert_eq!(written.len(), layouts.len());
    let mut names = Vec::new();
    for (path, layout) in written.iter().zip(&layouts) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("{}.avsc", layout.event_type));
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text, record_schema_json(layout));
        common::assert_golden(&name, &text);
        names.push(name);
    }
    // Every golden file belongs to a layout, so stale files are noticed.
    for entry in std::fs::read_dir(common::golden_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(names.contains(&name), "stale golden file `{name}`");
    }
}

#[test]
fn output_is_deterministic_and_ends_with_newline() {
    for layout in common::all_layouts() {
        let a = record_schema_json(&layout);
        let b = record_schema_json(&layout.clone());
        assert_eq!(a, b);
        assert!(a.ends_with("}\n"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&a).unwrap(),
            record_schema(&layout)
        );
    }
}

#[test]
fn every_schema_parses_with_apache_avro() {
    for layout in common::all_layouts() {
        match avro_schema(&layout) {
            AvroSchema::Record(r) => {
                assert_eq!(
                    r.name.name,
                    sluice_core::layout::record_name(&layout.event_type)
                );
                assert_eq!(r.name.namespace.as_deref(), Some(layout.namespace.as_str()));
                let names: Vec<_> = r.fields.iter().map(|f| f.name.clone()).collect();
                let expected: Vec<_> = layout.fields.iter().map(|f| f.name.clone()).collect();
                assert_eq!(names, expected, "fields in layout order");
                assert_eq!(
                    r.attributes.get("sluice.entity_key"),
                    Some(&serde_json::json!(layout.entity_key))
                );
            }
            other => panic!("expected a record, got {other:?}"),
        }
    }
}

#[test]
fn money_attributes_and_types() {
    let schema = record_schema(&common::purchase());
    let amount = &schema["fields"][5];
    assert_eq!(amount["name"], "amount");
    assert_eq!(amount["type"], "long");
    assert_eq!(
        amount["sluice.money"],
        serde_json::json!({"currency": "USD", "scale": 2})
    );
    assert!(amount["doc"].as_str().unwrap().contains("`USD`"));
    let discount = &schema["fields"][6];
    assert_eq!(discount["type"], serde_json::json!(["null", "long"]));
    assert_eq!(discount["default"], serde_json::Value::Null);

    let schema = record_schema(&common::payout());
    let fee = &schema["fields"][6];
    assert_eq!(
        fee["type"],
        serde_json::json!(["null", {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 0}])
    );
    assert_eq!(fee["sluice.money"]["currency"], "JPY");
}

#[test]
fn samples_round_trip_through_apache_avro() {
    for layout in common::all_layouts() {
        for n in [-5, 0, 1, 2, 1_000_000] {
            let value = sample(&layout, n);
            assert_eq!(
                round_trip(&layout, &value),
                value,
                "{} sample {n}",
                layout.event_type
            );
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_samples_round_trip(n in any::<i32>(), which in 0usize..3) {
        let layout = &common::all_layouts()[which];
        let value = sample(layout, i64::from(n));
        prop_assert_eq!(round_trip(layout, &value), value);
    }
}

/// A minimal Avro encoder written from the specification, independent of
/// apache-avro: it pins the wire layout the generator and engine decoder use.
mod wire {
    pub fn long(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return out;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }
    pub fn bytes(b: &[u8]) -> Vec<u8> {
        let mut out = long(b.len() as i64);
        out.extend_from_slice(b);
        out
    }
    pub fn string(s: &str) -> Vec<u8> {
        bytes(s.as_bytes())
    }
    pub fn null_branch() -> Vec<u8> {
        long(0)
    }
    pub fn value_branch(v: Vec<u8>) -> Vec<u8> {
        let mut out = long(1);
        out.extend(v);
        out
    }
}

#[test]
fn zigzag_varints_match_the_specification() {
    assert_eq!(wire::long(0), [0x00]);
    assert_eq!(wire::long(-1), [0x01]);
    assert_eq!(wire::long(1), [0x02]);
    assert_eq!(wire::long(-64), [0x7f]);
    assert_eq!(wire::long(64), [0x80, 0x01]);
}

#[test]
fn hand_encoded_purchase_decodes_with_apache_avro() {
    let layout = common::purchase();
    let ts = 1_700_000_000_123_i64;
    let parts: Vec<Vec<u8>> = vec![
        wire::string("e-1"),                    // event_id
        wire::string("purchase"),               // event_type
        wire::string("u-7"),                    // user_id
        wire::long(ts),                         // event_time
        wire::null_branch(),                    // session_id: null
        wire::long(1999),                       // amount, cents
        wire::value_branch(wire::long(-250)),   // discount: 1 then value
        wire::long(1),                          // channel: index of `app`
        wire::long(-3),                         // quantity (int)
        wire::value_branch(wire::long(ts + 5)), // shipped_at
        wire::null_branch(),                    // gift_wrap: null
    ];
    let bytes: Vec<u8> = parts.concat();
    let expected = AValue::Record(vec![
        ("event_id".into(), AValue::String("e-1".into())),
        ("event_type".into(), AValue::String("purchase".into())),
        ("user_id".into(), AValue::String("u-7".into())),
        ("event_time".into(), AValue::TimestampMillis(ts)),
        (
            "session_id".into(),
            AValue::Union(0, Box::new(AValue::Null)),
        ),
        ("amount".into(), AValue::Long(1999)),
        (
            "discount".into(),
            AValue::Union(1, Box::new(AValue::Long(-250))),
        ),
        ("channel".into(), AValue::Enum(1, "app".into())),
        ("quantity".into(), AValue::Int(-3)),
        (
            "shipped_at".into(),
            AValue::Union(1, Box::new(AValue::TimestampMillis(ts + 5))),
        ),
        ("gift_wrap".into(), AValue::Union(0, Box::new(AValue::Null))),
    ]);
    let schema = avro_schema(&layout);
    let mut reader = bytes.as_slice();
    assert_eq!(
        from_avro_datum(&schema, &mut reader, None).unwrap(),
        expected
    );
    assert!(reader.is_empty());
    assert_eq!(
        to_avro_datum(&schema, expected).unwrap(),
        bytes,
        "apache-avro writes the same bytes"
    );
}

#[test]
fn hand_encoded_payout_decodes_with_apache_avro() {
    let layout = common::payout();
    let parts: Vec<Vec<u8>> = vec![
        wire::string("e-2"),
        wire::string("payout"),
        wire::string("acc-1"),
        wire::long(0),
        wire::value_branch(wire::string("s-9")),
        wire::bytes(&[0x30, 0x39]), // amount 12345 → 123.45 EUR
        wire::value_branch(wire::bytes(&[0xff, 0x38])), // fee -200 JPY
        (0.5f64).to_le_bytes().to_vec(), // rate
        wire::string("DE"),
    ];
    let bytes = parts.concat();
    let expected = AValue::Record(vec![
        ("event_id".into(), AValue::String("e-2".into())),
        ("event_type".into(), AValue::String("payout".into())),
        ("account_id".into(), AValue::String("acc-1".into())),
        ("event_time".into(), AValue::TimestampMillis(0)),
        (
            "session_id".into(),
            AValue::Union(1, Box::new(AValue::String("s-9".into()))),
        ),
        (
            "amount".into(),
            AValue::Decimal(Decimal::from(vec![0x30, 0x39])),
        ),
        (
            "fee".into(),
            AValue::Union(
                1,
                Box::new(AValue::Decimal(Decimal::from(vec![0xff, 0x38]))),
            ),
        ),
        ("rate".into(), AValue::Double(0.5)),
        ("country".into(), AValue::String("DE".into())),
    ]);
    assert_eq!(decimal_bytes(12345), [0x30, 0x39]);
    assert_eq!(decimal_bytes(-200), [0xff, 0x38]);
    let schema = avro_schema(&layout);
    let mut reader = bytes.as_slice();
    assert_eq!(
        from_avro_datum(&schema, &mut reader, None).unwrap(),
        expected
    );
    assert!(reader.is_empty());
}

#[test]
fn generated_schemas_parse_with_own_model_and_read_themselves() {
    for layout in common::all_layouts() {
        let s = sluice_schema::Schema::parse(&record_schema(&layout)).unwrap();
        assert_eq!(
            s.full_name(),
            Some(
                format!(
                    "{}.{}",
                    layout.namespace,
                    sluice_core::layout::record_name(&layout.event_type)
                )
                .as_str()
            )
        );
        assert_eq!(sluice_schema::can_read(&s, &s), Ok(()));
    }
}

#[test]
fn invalid_layouts_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");

    let mut bad_symbol = common::page_view();
    bad_symbol.fields.push(common::field(
        "kind",
        FieldType::Enum {
            symbols: vec!["in-store".into()],
        },
        false,
        sluice_core::FieldRole::Dimension,
    ));
    let err = write_schemas(&[common::purchase(), bad_symbol], &out).unwrap_err();
    assert!(matches!(err, SchemaError::InvalidLayout { .. }));
    assert_eq!(
        err.to_string(),
        "invalid layout for event type `page_view`: enum symbol `in-store` of field `kind` is not a valid Avro name"
    );
    assert!(!out.exists(), "nothing written");

    let err = write_schemas(&[common::purchase(), common::purchase()], &out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event type `purchase` appears more than once"
    );

    let mut traversal = common::purchase();
    traversal.event_type = "../evil".into();
    assert!(check_layout(&traversal).is_err());

    let mut dup = common::purchase();
    dup.fields.push(dup.fields[5].clone());
    assert!(check_layout(&dup)
        .unwrap_err()
        .to_string()
        .contains("field `amount` appears more than once"));

    let mut scale = common::payout();
    scale.fields[5].ty = FieldType::Money {
        currency: "EUR".into(),
        scale: 19,
    };
    assert!(check_layout(&scale)
        .unwrap_err()
        .to_string()
        .contains("scale `19`"));

    for layout in common::all_layouts() {
        check_layout(&layout).unwrap();
    }
}

#[test]
fn write_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not_a_dir");
    std::fs::write(&file, "x").unwrap();
    let err = write_schemas(&common::all_layouts(), &file).unwrap_err();
    assert!(matches!(err, SchemaError::Write { .. }));
    assert!(err.to_string().contains("not_a_dir"));
    assert_eq!(err.domain(), sluice_core::ErrorDomain::External);
}
