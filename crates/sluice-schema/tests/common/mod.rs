//! Shared test fixtures: layouts covering every field type and both money
//! encodings, and the golden-file helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sluice_core::{FieldLayout, FieldRole, FieldType, MoneyEncoding, RecordLayout};

pub fn field(name: &str, ty: FieldType, optional: bool, role: FieldRole) -> FieldLayout {
    FieldLayout {
        name: name.to_string(),
        ty,
        optional,
        role,
        doc: None,
    }
}

fn with_doc(mut f: FieldLayout, doc: &str) -> FieldLayout {
    f.doc = Some(doc.to_string());
    f
}

fn symbols(s: &[&str]) -> FieldType {
    FieldType::Enum {
        symbols: s.iter().map(|x| x.to_string()).collect(),
    }
}

fn money(currency: &str, scale: u32) -> FieldType {
    FieldType::Money {
        currency: currency.to_string(),
        scale,
    }
}

fn layout(
    domain: &str,
    event_type: &str,
    key: &str,
    money: MoneyEncoding,
    extra: Vec<FieldLayout>,
) -> RecordLayout {
    let mut fields = RecordLayout::envelope(key);
    fields.extend(extra);
    RecordLayout {
        namespace: format!("sluice.{domain}"),
        domain: domain.to_string(),
        event_type: event_type.to_string(),
        entity_key: key.to_string(),
        money,
        fields,
    }
}

/// No money; string, int, long, double, boolean, enum, optional string.
pub fn page_view() -> RecordLayout {
    use FieldRole::*;
    layout(
        "ecommerce",
        "page_view",
        "user_id",
        MoneyEncoding::Long,
        vec![
            with_doc(
                field("url", FieldType::String, false, Attribute),
                "Page address",
            ),
            field("referrer", FieldType::String, true, Attribute),
            field("item_count", FieldType::Int, false, Attribute),
            field("duration_ms", FieldType::Long, false, Attribute),
            field("scroll_depth", FieldType::Double, false, Attribute),
            field("is_bot", FieldType::Boolean, false, Dimension),
            with_doc(
                field(
                    "device",
                    symbols(&["desktop", "mobile", "tablet"]),
                    false,
                    Dimension,
                ),
                "Device class",
            ),
        ],
    )
}

/// Money as `long`; optional money, optional timestamp, optional enum.
pub fn purchase() -> RecordLayout {
    use FieldRole::*;
    layout(
        "ecommerce",
        "purchase",
        "user_id",
        MoneyEncoding::Long,
        vec![
            with_doc(
                field("amount", money("USD", 2), false, Attribute),
                "Order total",
            ),
            field("discount", money("USD", 2), true, Attribute),
            field(
                "channel",
                symbols(&["web", "app", "store"]),
                false,
                Dimension,
            ),
            field("quantity", FieldType::Int, false, Attribute),
            field("shipped_at", FieldType::Timestamp, true, Attribute),
            field(
                "gift_wrap",
                symbols(&["none", "paper", "box"]),
                true,
                Dimension,
            ),
        ],
    )
}

/// Money as `decimal`, several currencies and scales.
pub fn payout() -> RecordLayout {
    use FieldRole::*;
    layout(
        "finance",
        "payout",
        "account_id",
        MoneyEncoding::Decimal,
        vec![
            with_doc(
                field("amount", money("EUR", 2), false, Attribute),
                "Paid amount",
            ),
            field("fee", money("JPY", 0), true, Attribute),
            field("rate", FieldType::Double, false, Attribute),
            field("country", FieldType::String, false, Dimension),
        ],
    )
}

pub fn all_layouts() -> Vec<RecordLayout> {
    vec![page_view(), purchase(), payout()]
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// Compares `actual` with `tests/golden/<name>`; with `UPDATE_GOLDEN=1`,
/// rewrites the file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the generated output (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
