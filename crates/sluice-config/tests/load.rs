//! Loading the shipped configuration and small inline ones through the library.

use std::path::{Path, PathBuf};

use sluice_config::{load, LoadOptions};
use sluice_core::{layout, AggregateKind, FieldRole, WindowSpec};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn opts(dir: &Path, env: &str) -> LoadOptions {
    let mut o = LoadOptions::new(dir, env);
    o.vars.clear();
    o
}

#[test]
fn shipped_config_loads_in_every_environment() {
    for env in ["dev", "staging", "prod"] {
        let cfg = load(&opts(&shipped(), env)).unwrap_or_else(|d| panic!("{env}:\n{d}"));
        let names: Vec<&str> = cfg
            .domains
            .iter()
            .map(|d| d.domain.value.as_str())
            .collect();
        assert_eq!(names, ["apm", "ecommerce", "fintech", "iot"]);
    }
    let prod = load(&opts(&shipped(), "prod")).unwrap();
    assert_eq!(prod.platform.kafka.partitions, 12);
    assert_eq!(prod.platform.sinks.default, "clickhouse");
    assert_eq!(
        prod.platform.engine.allowed_lateness.as_millis_i64(),
        300_000
    );
    // untouched by the overlay: inherited from platform.yaml
    assert_eq!(prod.platform.kafka.compression, "lz4");
    let dev = load(&opts(&shipped(), "dev")).unwrap();
    assert_eq!(dev.platform.kafka.partitions, 6);
    assert_eq!(dev.platform.sinks.default, "duckdb");
}

#[test]
fn env_interpolation_uses_the_given_variables() {
    let mut o = opts(&shipped(), "dev");
    o.vars
        .insert("SLUICE_KAFKA_BOOTSTRAP".into(), "broker-a:9092".into());
    let cfg = load(&o).unwrap();
    assert_eq!(
        cfg.platform.kafka.bootstrap_servers.plain().as_deref(),
        Some("broker-a:9092")
    );
    let cfg = load(&opts(&shipped(), "dev")).unwrap();
    assert_eq!(
        cfg.platform.kafka.bootstrap_servers.plain().as_deref(),
        Some("127.0.0.1:9092")
    );
}

#[test]
fn secret_references_are_kept_not_resolved() {
    let cfg = load(&opts(&shipped(), "staging")).unwrap();
    let pw = &cfg.platform.sinks.clickhouse.password;
    assert_eq!(
        pw.secret_names().collect::<Vec<_>>(),
        ["clickhouse_password"]
    );
    assert_eq!(pw.plain(), None);
    let file = cfg.sources.path(pw.pos.source);
    assert!(
        file.ends_with("environments/staging.yaml"),
        "{}",
        file.display()
    );
}

#[test]
fn layouts_put_the_envelope_first_then_attributes_then_dimensions() {
    let cfg = load(&opts(&shipped(), "dev")).unwrap();
    let d = cfg.domain("ecommerce").unwrap();
    let layouts = d.layouts();
    let purchase = layouts.iter().find(|l| l.event_type == "purchase").unwrap();
    let names: Vec<&str> = purchase.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            layout::EVENT_ID,
            layout::EVENT_TYPE,
            "user_id",
            layout::EVENT_TIME,
            layout::SESSION_ID,
            "order_id",
            "items",
            "amount",
            "payment_method",
            "coupon",
            "device_type",
            "platform",
            "country"
        ]
    );
    assert_eq!(
        purchase.field("country").unwrap().role,
        FieldRole::Dimension
    );
    assert!(purchase.field("coupon").unwrap().optional);
    assert_eq!(purchase.namespace, "sluice.ecommerce");
}

#[test]
fn aggregations_resolve_their_feeding_event_types() {
    let cfg = load(&opts(&shipped(), "dev")).unwrap();
    let d = cfg.domain("ecommerce").unwrap();
    let get = |n: &str| d.aggregations.iter().find(|a| a.name.value == n).unwrap();
    let feeding = |n: &str| {
        get(n)
            .event_types
            .iter()
            .map(|e| e.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        feeding("events_per_minute"),
        ["page_view", "add_to_cart", "purchase"]
    );
    assert_eq!(feeding("revenue_by_country_5m"), ["purchase"]);
    let r = get("revenue_by_country_5m");
    assert_eq!(r.kind.value, AggregateKind::Sum);
    assert!(
        matches!(r.window.value, WindowSpec::Sliding { size, slide } if size.as_millis_i64() == 300_000 && slide.as_millis_i64() == 60_000)
    );
}

fn write(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir.join("environments")).unwrap();
    std::fs::create_dir_all(dir.join("domains")).unwrap();
    std::fs::write(
        dir.join("platform.yaml"),
        "engine:\n  watermark_delay: 5s\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("environments/dev.yaml"),
        "engine:\n  allowed_lateness: 1m\n",
    )
    .unwrap();
    std::fs::write(dir.join("domains/d.yaml"), domain).unwrap();
}

#[test]
fn every_error_in_every_file_is_reported_in_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "domain: d\nentity:\n  primary_key: id\nevent_types:\n  - name: e\n    attributes: [{ name: v, type: duble }]\n    dimenssions: [x]\naggregations:\n  - name: a\n    type: sum\n    field: w\n    window: { type: tumbling, duration: 1 fortnight }\n",
    );
    std::fs::write(
        tmp.path().join("environments/dev.yaml"),
        "engine:\n  allowed_latenes: 1m\n",
    )
    .unwrap();
    let diags = load(&opts(tmp.path(), "dev")).unwrap_err();
    let text = diags.to_string();
    assert!(
        text.contains("unknown value `duble`; did you mean `double`?"),
        "{text}"
    );
    assert!(
        text.contains("unknown key `dimenssions`; did you mean `dimensions`?"),
        "{text}"
    );
    assert!(text.contains("bad duration `1 fortnight`"), "{text}");
    assert!(
        text.contains("unknown key `allowed_latenes`; did you mean `allowed_lateness`?"),
        "{text}"
    );
    assert!(diags.len() >= 4, "{text}");
    // sorted by file then position
    let files: Vec<_> = diags.0.iter().map(|d| d.file.clone()).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
}

#[test]
fn overlay_values_and_defaults_combine() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "domain: d\nentity:\n  primary_key: id\nevent_types:\n  - name: e\n",
    );
    let cfg = load(&opts(tmp.path(), "dev")).unwrap();
    assert_eq!(cfg.platform.engine.watermark_delay.as_millis_i64(), 5_000);
    assert_eq!(cfg.platform.engine.allowed_lateness.as_millis_i64(), 60_000);
    assert_eq!(cfg.platform.engine.idle_timeout.as_millis_i64(), 30_000);
}
