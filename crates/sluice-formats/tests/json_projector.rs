//! The projecting JSON scanner against a reference: `serde_json` parses the
//! line, the fields are mapped by the rules of the layouts, and the
//! engine's own Avro encoder writes the record. Lines come in batches
//! through one projector (so the key-order prediction learns and is
//! surprised), with keys in each event type's usual order or shuffled,
//! escapes, nested values the projection skips, and corruptions: structural
//! characters, truncation, raw control characters and bytes that break UTF-8
//! anywhere in the line, repeated keys and keys written with escapes. The one rule `serde_json` does not
//! have: a key that the projection reads may appear only once per object
//! (`serde_json` keeps the last), so the reference rejects such lines too.
//!
//! Case count: `PROPTEST_CASES` (default 64).

use proptest::prelude::*;
use sluice_core::{FieldLayout, FieldRole, FieldType, MoneyEncoding, RecordLayout};
use sluice_engine::value::{encode_record, Value};
use sluice_formats::json_projector::Projector;

/// A top-level JSON object as its key/value pairs in order, repeats kept.
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    v.push(kv);
                }
                Ok(Pairs(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn field(name: &str, ty: FieldType, optional: bool) -> FieldLayout {
    FieldLayout {
        name: name.into(),
        ty,
        optional,
        role: FieldRole::Attribute,
        doc: None,
    }
}

fn layout(event_type: &str, fields: Vec<FieldLayout>) -> RecordLayout {
    RecordLayout {
        namespace: "n".into(),
        domain: "d".into(),
        event_type: event_type.into(),
        entity_key: "user_id".into(),
        money: MoneyEncoding::Long,
        fields,
    }
}

/// Projected layouts (what the projector writes), index = event type id.
fn layouts() -> Vec<RecordLayout> {
    let device = FieldType::Enum {
        symbols: vec!["desktop".into(), "mobile".into(), "tablet".into()],
    };
    vec![
        layout(
            "view",
            vec![
                field("user_id", FieldType::String, false),
                field("event_time", FieldType::Timestamp, false),
                field("device", device.clone(), false),
                field("n", FieldType::Long, true),
            ],
        ),
        layout(
            "buy",
            vec![
                field("user_id", FieldType::String, false),
                field("event_time", FieldType::Timestamp, false),
                field(
                    "amount",
                    FieldType::Money {
                        currency: "USD".into(),
                        scale: 2,
                    },
                    false,
                ),
                field("ok", FieldType::Boolean, true),
                field("x", FieldType::Double, false),
            ],
        ),
    ]
}

/// What the projector must produce for `line`: the Avro record and its
/// type, or an error.
fn reference(layouts: &[RecordLayout], line: &[u8]) -> Option<(u32, Vec<u8>)> {
    let Pairs(pairs) = serde_json::from_slice(line).ok()?;
    // keys the projection reads: `event_type` and every projected field
    let read =
        |k: &str| k == "event_type" || layouts.iter().any(|l| l.fields.iter().any(|f| f.name == k));
    let mut obj = serde_json::Map::new();
    for (k, v) in pairs {
        if obj.insert(k.clone(), v).is_some() && read(&k) {
            return None;
        }
    }
    let et = obj.get("event_type")?.as_str()?;
    let ti = layouts.iter().position(|l| l.event_type == et)?;
    let l = &layouts[ti];
    let mut vals = Vec::new();
    for f in &l.fields {
        let x = obj.get(&f.name).filter(|x| !x.is_null());
        let val = match (x, &f.ty) {
            (None, _) if f.optional => Value::Null,
            (None, _) => return None,
            (Some(x), FieldType::Timestamp | FieldType::Long | FieldType::Money { .. }) => {
                Value::Int(x.as_i64()?)
            }
            (Some(x), FieldType::String | FieldType::Enum { .. }) => {
                Value::Str(x.as_str()?.to_string())
            }
            (Some(x), FieldType::Boolean) => Value::Bool(x.as_bool()?),
            (Some(x), FieldType::Double) => Value::Double(x.as_f64()?),
            (Some(_), _) => return None,
        };
        vals.push(val);
    }
    let mut out = Vec::new();
    encode_record(l, &vals, &mut out).ok()?;
    Some((ti as u32, out))
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_]{0,12}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z]{0,4}".prop_map(|s| format!("\"{s}\\\"q\\\\\\u00e9\\n{s}\"")),
        1 => "[a-zé€😀 ]{1,6}".prop_map(|s| format!("\"{s}\"")),
        // a lone surrogate escape, or a pair
        1 => prop::sample::select(vec!["\"\\ud800\"", "\"a\\udc00b\"", "\"\\ud83d\\ude00\""])
            .prop_map(str::to_string),
        // a raw control character
        1 => "[a-z]{0,3}".prop_map(|s| format!("\"{s}\u{0}{s}\u{1f}\"")),
    ]
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        json_string(),
        any::<i64>().prop_map(|i| i.to_string()),
        (-1000.0f64..1000.0).prop_map(|f| format!("{f:.2}")),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
        Just("1e5".to_string()),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{1,5}", inner), 0..4).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(" , "))
            }),
        ]
    })
}

/// A value for a field the projection reads: usually right, sometimes not.
fn typed_value(kind: u8) -> BoxedStrategy<String> {
    let good = match kind {
        // timestamps and integers
        0 => (0i64..2_000_000_000_000)
            .prop_map(|t| t.to_string())
            .boxed(),
        // strings
        1 => json_string().boxed(),
        // device symbols
        2 => prop::sample::select(vec!["\"desktop\"", "\"mobile\"", "\"tablet\""])
            .prop_map(str::to_string)
            .boxed(),
        // booleans
        3 => prop::sample::select(vec!["true", "false"])
            .prop_map(str::to_string)
            .boxed(),
        // doubles (few digits: serde_json's default float parsing, the
        // reference here, is only exact on those)
        _ => (-1e6f64..1e6).prop_map(|f| format!("{f:.3}")).boxed(),
    };
    prop_oneof![
        12 => good,
        1 => json_value(),
        1 => Just("null".to_string()),
        1 => Just("\"phone\"".to_string()),
        1 => Just("99999999999999999999".to_string()),
        1 => Just("\"raw\u{1}ctl\"".to_string()),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Line {
    text: Vec<u8>,
}

fn line() -> impl Strategy<Value = Line> {
    let view = vec![("user_id", 1u8), ("event_time", 0), ("device", 2), ("n", 0)];
    let buy = vec![
        ("user_id", 1u8),
        ("event_time", 0),
        ("amount", 0),
        ("ok", 3),
        ("x", 4),
    ];
    (
        0usize..3,
        prop::collection::vec((0u8..5, any::<bool>()), 5),
        prop::collection::vec(json_value(), 3),
        any::<bool>(),
        any::<prop::sample::Index>(),
        (0u8..10, any::<prop::sample::Index>(), 0usize..9),
    )
        .prop_flat_map(move |(ty, drop, extra, shuffle, perm, corrupt)| {
            let fields = if ty == 1 { buy.clone() } else { view.clone() };
            let values: Vec<BoxedStrategy<String>> =
                fields.iter().map(|(_, k)| typed_value(*k)).collect();
            (
                Just((ty, fields, drop, extra, shuffle, perm, corrupt)),
                values,
            )
        })
        .prop_map(
            |((ty, fields, drop, extra, shuffle, perm, corrupt), values)| {
                let type_name = match ty {
                    0 => "\"view\"",
                    1 => "\"buy\"",
                    _ => "\"vi\\u0065w\"", // an escaped type name
                };
                let mut kv: Vec<(String, String)> = vec![
                    ("event_id".into(), "\"e-1\"".into()),
                    ("event_type".into(), type_name.into()),
                ];
                for (i, ((name, _), v)) in fields.iter().zip(values).enumerate() {
                    // now and then a field is missing
                    let (roll, _) = drop[i % drop.len()];
                    if roll == 0 && i % 2 == 1 {
                        continue;
                    }
                    kv.push((name.to_string(), v));
                }
                kv.push(("pad".into(), extra[0].clone()));
                kv.push(("nested".into(), extra[1].clone()));
                kv.push(("z".into(), extra[2].clone()));
                if shuffle {
                    let n = kv.len();
                    let k = perm.index(n);
                    kv.swap(0, k);
                    kv.rotate_left(k % 3);
                }
                let (kind, at, what) = corrupt;
                if kind == 3 || kind == 4 {
                    // a key repeated (read or not), with another value
                    let (k, _) = kv[at.index(kv.len())].clone();
                    kv.push((k, extra[what % 3].clone()));
                }
                if kind == 4 || kind == 5 {
                    // a key written with an escape (the same key to a parser)
                    let n = kv.len();
                    let k = &mut kv[(what * 7) % n].0;
                    *k = format!("\\u{:04x}{}", u32::from(k.as_bytes()[0]), &k[1..]);
                }
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                let mut text = format!("{{{}}}", body.join(",")).into_bytes();
                if kind == 0 {
                    // a structural or blank character somewhere
                    let chars = b",:}{\" ]x";
                    text.insert(at.index(text.len() + 1), chars[what % chars.len()]);
                } else if kind == 1 {
                    text.truncate(at.index(text.len()));
                } else if kind == 2 {
                    // a raw byte that is a control character or breaks UTF-8
                    let bytes = [0x00, 0x01, 0x1f, b'\t', 0x80, 0xbf, 0xc3, 0xed, 0xff];
                    text.insert(at.index(text.len() + 1), bytes[what % bytes.len()]);
                }
                Line { text }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn projector_agrees_with_a_full_parse(lines in prop::collection::vec(line(), 1..40)) {
        let layouts = layouts();
        let mut p = Projector::new(&layouts);
        let mut out = vec![7u8];
        for l in &lines {
            let want = reference(&layouts, &l.text);
            let mark = out.len();
            let got = p.line(&l.text, &mut out);
            let shown = String::from_utf8_lossy(&l.text);
            match (got, want) {
                (Ok(et), Some((want_et, bytes))) => {
                    prop_assert_eq!(et, want_et, "{}", shown);
                    prop_assert_eq!(&out[mark..], &bytes[..], "{}", shown);
                }
                (Err(_), None) => prop_assert_eq!(out.len(), mark, "{}", shown),
                (got, want) => prop_assert!(
                    false,
                    "{:?}\nprojector: {:?}\nreference: {:?}",
                    shown,
                    got.map_err(|e| e.0),
                    want.map(|w| w.0)
                ),
            }
        }
    }
}
