//! Schema compatibility: resolution rules on schemas, verdicts, directory
//! diffs, and a cross-check that compatible verdicts really let apache-avro
//! read old data with the new schema.

mod common;

use apache_avro::types::Value as AValue;
use serde_json::{json, Value};
use sluice_core::Classify;
use sluice_schema::{
    can_read, compare, diff_dirs, record_schema_json, write_schemas, Compatibility, Schema,
    SchemaError,
};

fn base() -> Value {
    json!({
        "type": "record", "name": "PageView", "namespace": "sluice.web",
        "fields": [
            {"name": "event_id", "type": "string"},
            {"name": "count", "type": "int"},
            {"name": "device", "type": {"type": "enum", "name": "Device", "symbols": ["desktop", "mobile"]}},
            {"name": "coupon", "type": ["null", "string"], "default": null}
        ]
    })
}

fn sample() -> Value {
    json!({"event_id": "e1", "count": 3, "device": "mobile", "coupon": null})
}

fn fields(v: &mut Value) -> &mut Vec<Value> {
    v["fields"].as_array_mut().unwrap()
}

fn parse(v: &Value) -> Schema {
    Schema::parse(v).unwrap()
}

/// Checks the verdict, and for backward-compatible pairs that apache-avro
/// reads `old_datum` written with `old` through the `new` reader schema.
fn verdict(old: &Value, new: &Value, old_datum: &Value) -> sluice_schema::CompatReport {
    let report = compare(&parse(old), &parse(new));
    if report.compatibility.is_backward() {
        let w = apache_avro::Schema::parse_str(&old.to_string()).unwrap();
        let r = apache_avro::Schema::parse_str(&new.to_string()).unwrap();
        let value = AValue::from(old_datum.clone()).resolve(&w).unwrap();
        let bytes = apache_avro::to_avro_datum(&w, value).unwrap();
        apache_avro::from_avro_datum(&w, &mut bytes.as_slice(), Some(&r))
            .unwrap_or_else(|e| panic!("apache-avro cannot read old data with new schema: {e}"));
    }
    report
}

#[test]
fn identical_schemas_are_fully_compatible() {
    let r = verdict(&base(), &base(), &sample());
    assert_eq!(r.compatibility, Compatibility::Full);
    assert_eq!(r.to_string(), "fully compatible");
}

#[test]
fn adding_an_optional_field_with_default_is_full() {
    let mut new = base();
    fields(&mut new).push(json!({"name": "referrer", "type": ["null", "string"], "default": null}));
    assert_eq!(
        verdict(&base(), &new, &sample()).compatibility,
        Compatibility::Full
    );
}

#[test]
fn removing_a_field_that_had_a_default_is_full() {
    let mut new = base();
    fields(&mut new).retain(|f| f["name"] != "coupon");
    assert_eq!(
        verdict(&base(), &new, &sample()).compatibility,
        Compatibility::Full
    );
}

#[test]
fn removing_a_field_without_default_is_backward_only() {
    let mut new = base();
    fields(&mut new).retain(|f| f["name"] != "count");
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::Backward);
    assert_eq!(
        r.to_string(),
        "backward compatible (not forward: PageView.count: field `count` removed but the old schema has no default for it)"
    );
}

#[test]
fn adding_an_enum_symbol_is_backward_only() {
    let mut new = base();
    new["fields"][2]["type"]["symbols"] = json!(["desktop", "mobile", "tablet"]);
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::Backward);
    assert_eq!(
        r.to_string(),
        "backward compatible (not forward: PageView.device: enum symbol `tablet` added but the old enum has no default)"
    );
}

#[test]
fn enum_default_makes_added_symbols_forward_compatible() {
    let mut old = base();
    old["fields"][2]["type"]["default"] = json!("desktop");
    let mut new = old.clone();
    new["fields"][2]["type"]["symbols"] = json!(["desktop", "mobile", "tablet"]);
    assert_eq!(
        verdict(&old, &new, &sample()).compatibility,
        Compatibility::Full
    );
}

#[test]
fn int_to_long_is_backward_only() {
    let mut new = base();
    new["fields"][1]["type"] = json!("long");
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::Backward);
    assert_eq!(r.forward.len(), 1);
    assert_eq!(r.forward[0].path, "PageView.count");
    assert_eq!(
        r.forward[0].reason(sluice_schema::Direction::Forward),
        "type changed from `int` to `long`"
    );
}

#[test]
fn numeric_promotions_follow_the_specification() {
    let chain = ["int", "long", "float", "double"];
    for (i, w) in chain.iter().enumerate() {
        for (j, r) in chain.iter().enumerate() {
            let ok = can_read(&parse(&json!(r)), &parse(&json!(w))).is_ok();
            assert_eq!(ok, j >= i, "reader {r}, writer {w}");
        }
    }
    assert!(can_read(&parse(&json!("bytes")), &parse(&json!("string"))).is_ok());
    assert!(can_read(&parse(&json!("string")), &parse(&json!("bytes"))).is_ok());
    assert!(can_read(&parse(&json!("string")), &parse(&json!("int"))).is_err());
    assert!(can_read(&parse(&json!("boolean")), &parse(&json!("null"))).is_err());
}

#[test]
fn string_to_bytes_is_full() {
    let mut new = base();
    new["fields"][0]["type"] = json!("bytes");
    assert_eq!(
        verdict(&base(), &new, &sample()).compatibility,
        Compatibility::Full
    );
}

#[test]
fn type_change_is_incompatible() {
    let mut new = base();
    new["fields"][0]["type"] = json!("int");
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::None);
    assert_eq!(
        r.to_string(),
        "incompatible (not backward: PageView.event_id: type changed from `string` to `int`; \
         not forward: PageView.event_id: type changed from `string` to `int`)"
    );
    let err = can_read(&parse(&new), &parse(&base())).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "PageView.event_id: type changed from `string` to `int`"
    );
}

#[test]
fn required_field_added_without_default_is_forward_only() {
    let mut new = base();
    fields(&mut new).push(json!({"name": "url", "type": "string"}));
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::Forward);
    assert_eq!(
        r.to_string(),
        "forward compatible (not backward: PageView.url: field `url` added without a default)"
    );
}

#[test]
fn enum_symbol_removed_is_forward_only() {
    let mut new = base();
    new["fields"][2]["type"]["symbols"] = json!(["desktop"]);
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::Forward);
    let err = can_read(&parse(&new), &parse(&base())).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "PageView.device: enum symbol `mobile` missing from reader without default"
    );
}

#[test]
fn renamed_record_is_incompatible_unless_aliased() {
    let mut new = base();
    new["name"] = json!("PageHit");
    let r = verdict(&base(), &new, &sample());
    assert_eq!(r.compatibility, Compatibility::None);
    assert_eq!(
        r.backward[0].to_string(),
        "PageHit: record renamed from `sluice.web.PageView` to `sluice.web.PageHit` without an alias `sluice.web.PageView`"
    );
    new["aliases"] = json!(["PageView"]);
    assert_eq!(
        verdict(&base(), &new, &sample()).compatibility,
        Compatibility::Backward
    );
}

#[test]
fn namespace_change_alone_is_compatible() {
    let mut new = base();
    new["namespace"] = json!("sluice.site");
    assert_eq!(
        compare(&parse(&base()), &parse(&new)).compatibility,
        Compatibility::Full
    );
}

#[test]
fn field_aliases_match_renamed_fields() {
    let mut new = base();
    new["fields"][1] = json!({"name": "views", "type": "int", "aliases": ["count"]});
    // Not cross-checked: apache-avro 0.20 ignores reader field aliases.
    let r = compare(&parse(&base()), &parse(&new));
    assert_eq!(r.compatibility, Compatibility::Backward);
}

#[test]
fn unions_on_either_side() {
    // Optional → required: a written null cannot be read as string.
    let mut new = base();
    new["fields"][3] = json!({"name": "coupon", "type": "string", "default": ""});
    let r = verdict(
        &base(),
        &new,
        &json!({"event_id": "e", "count": 1, "device": "desktop", "coupon": "c"}),
    );
    assert_eq!(r.compatibility, Compatibility::Forward);
    assert_eq!(
        r.backward[0].to_string(),
        "PageView.coupon: type changed from `union<null, string>` to `string`; `null` values cannot be read as `string`"
    );
    // A union branch widened by promotion.
    let old = json!(["null", "int"]);
    let new = json!(["null", "string", "long"]);
    assert!(can_read(&parse(&new), &parse(&old)).is_ok());
    assert!(can_read(&parse(&old), &parse(&new)).is_err());
}

#[test]
fn arrays_maps_and_fixed() {
    let arr = |t: &str| json!({"type": "record", "name": "R", "fields": [{"name": "xs", "type": {"type": "array", "items": t}}]});
    let err = can_read(&parse(&arr("int")), &parse(&arr("string"))).unwrap_err();
    assert_eq!(err[0].path, "R.xs[]");
    assert!(can_read(&parse(&arr("long")), &parse(&arr("int"))).is_ok());
    let map = |t: &str| json!({"type": "map", "values": t});
    assert_eq!(
        can_read(&parse(&map("int")), &parse(&map("double"))).unwrap_err()[0].path,
        "map<int>{}"
    );
    let fixed = |n: u64| json!({"type": "fixed", "name": "Hash", "size": n});
    let err = can_read(&parse(&fixed(16)), &parse(&fixed(32))).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "Hash: fixed size changed from `32` to `16`"
    );
}

#[test]
fn decimal_scale_and_money_changes_are_incompatible() {
    let mut old = serde_json::from_str::<Value>(&record_schema_json(&common::payout())).unwrap();
    let mut new = old.clone();
    new["fields"][5]["type"]["scale"] = json!(3);
    let r = compare(&parse(&old), &parse(&new));
    assert_eq!(r.compatibility, Compatibility::None);
    assert_eq!(
        r.backward[0].to_string(),
        "Payout.amount: precision or scale changed from `decimal(18, 2)` to `decimal(18, 3)`"
    );

    old = serde_json::from_str(&record_schema_json(&common::purchase())).unwrap();
    new = old.clone();
    new["fields"][5]["sluice.money"]["currency"] = json!("EUR");
    let r = compare(&parse(&old), &parse(&new));
    assert_eq!(r.compatibility, Compatibility::None);
    assert!(
        r.backward[0]
            .to_string()
            .contains("money currency or scale changed"),
        "{r}"
    );
}

#[test]
fn recursive_records_resolve() {
    let list = json!({"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"], "default": null}
    ]});
    let mut wider = list.clone();
    wider["fields"][0]["type"] = json!("long");
    assert!(can_read(&parse(&list), &parse(&list)).is_ok());
    assert!(can_read(&parse(&wider), &parse(&list)).is_ok());
    assert!(can_read(&parse(&list), &parse(&wider)).is_err());
}

#[test]
fn every_incompatibility_is_reported() {
    let mut new = base();
    new["fields"][0]["type"] = json!("int");
    new["fields"][2]["type"]["symbols"] = json!(["desktop"]);
    fields(&mut new).push(json!({"name": "url", "type": "string"}));
    let err = can_read(&parse(&new), &parse(&base())).unwrap_err();
    let paths: Vec<_> = err.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["PageView.event_id", "PageView.device", "PageView.url"]
    );
}

#[test]
fn invalid_schemas_are_rejected() {
    let cases = [
        (
            json!("Missing"),
            "invalid schema at `$`: unknown type `Missing`",
        ),
        (
            json!(["null", "null"]),
            "invalid schema at `$`: union contains `null` more than once",
        ),
        (
            json!(["null", ["int"]]),
            "invalid schema at `$`: a union may not directly contain a union",
        ),
        (
            json!({"type": "record", "name": "R", "fields": [{"name": "x", "type": ["string", "null"], "default": null}]}),
            "invalid schema at `R.x`: default `null` does not match type `union<string, null>`",
        ),
        (
            json!({"type": "record", "name": "9R", "fields": []}),
            "invalid schema at `$`: `9R` is not a valid Avro name",
        ),
        (
            json!({"type": "enum", "name": "E", "symbols": ["a", "a"]}),
            "invalid schema at `$`: enum symbol `a` appears more than once",
        ),
        (
            json!({"type": "bytes", "logicalType": "decimal", "precision": 2, "scale": 3}),
            "invalid schema at `$`: decimal precision `2` and scale `3` are invalid",
        ),
        (
            json!(42),
            "invalid schema at `$`: expected a type name, object or array, found `42`",
        ),
    ];
    for (schema, message) in cases {
        assert_eq!(Schema::parse(&schema).unwrap_err().to_string(), message);
    }
    assert!(matches!(Schema::parse_str("{"), Err(SchemaError::Json(_))));
}

#[test]
fn diff_dirs_pairs_reports_and_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    let mut purchase = common::purchase();
    write_schemas(
        &[common::page_view(), purchase.clone(), common::payout()],
        &old_dir,
    )
    .unwrap();

    // purchase gains a required field; payout is gone; refund is new;
    // page_view is unchanged.
    purchase.fields.push(common::field(
        "coupon",
        sluice_core::FieldType::String,
        false,
        sluice_core::FieldRole::Attribute,
    ));
    let mut refund = common::purchase();
    refund.event_type = "refund".into();
    write_schemas(&[common::page_view(), purchase, refund], &new_dir).unwrap();

    let report = diff_dirs(&old_dir, &new_dir).unwrap();
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.removed.len(), 1);
    assert_eq!(report.compared.len(), 2);
    assert_eq!(report.compatibility(), Compatibility::Forward);
    assert_eq!(
        report.to_string(),
        "page_view: unchanged\n\
         payout: removed\n\
         purchase: forward compatible (not backward: Purchase.coupon: field `coupon` added without a default)\n\
         refund: added\n"
    );
}

#[test]
fn diff_dirs_pairs_renamed_records_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&new_dir).unwrap();
    std::fs::write(old_dir.join("page_view.avsc"), base().to_string()).unwrap();
    let mut renamed = base();
    renamed["name"] = json!("PageHit");
    std::fs::write(new_dir.join("page_view.avsc"), renamed.to_string()).unwrap();
    // Paired by full name although the file was renamed.
    let mut moved = base();
    moved["name"] = json!("Click");
    std::fs::write(old_dir.join("click.avsc"), moved.to_string()).unwrap();
    std::fs::write(new_dir.join("clicks.avsc"), moved.to_string()).unwrap();
    std::fs::write(new_dir.join("notes.txt"), "ignored").unwrap();

    let report = diff_dirs(&old_dir, &new_dir).unwrap();
    assert!(report.added.is_empty() && report.removed.is_empty());
    assert_eq!(report.compatibility(), Compatibility::None);
    let text = report.to_string();
    assert_eq!(text, "clicks (was click): unchanged\npage_view: incompatible (not backward: PageHit: record renamed from `sluice.web.PageView` to `sluice.web.PageHit` without an alias `sluice.web.PageView`; not forward: PageHit: record renamed from `sluice.web.PageView` to `sluice.web.PageHit`)\n");
}

#[test]
fn diff_dirs_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&new_dir).unwrap();
    std::fs::write(new_dir.join("bad.avsc"), "{\"type\": \"record\"}").unwrap();
    let err = diff_dirs(&old_dir, &new_dir).unwrap_err();
    assert!(err.to_string().starts_with("in `"), "{err}");
    assert!(err.to_string().contains("bad.avsc"));
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "invalid schema at `$`: named type has no `name`");

    std::fs::write(new_dir.join("bad.avsc"), base().to_string()).unwrap();
    std::fs::write(new_dir.join("copy.avsc"), base().to_string()).unwrap();
    let err = diff_dirs(&old_dir, &new_dir).unwrap_err();
    assert!(matches!(err, SchemaError::DuplicateSchema { .. }));

    let err = diff_dirs(&dir.path().join("missing"), &new_dir).unwrap_err();
    assert!(matches!(err, SchemaError::Read { .. }));
    assert_eq!(err.retry_hint(), sluice_core::RetryHint::Retry);
}
