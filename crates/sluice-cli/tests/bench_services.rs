//! `sluice bench kafka` and `sluice bench e2e` against the real broker,
//! registry and ClickHouse: each reads every event it produced, reports a
//! baseline from the same run, and leaves no benchmark topic behind.

mod support;

use support::{available, sluice, up};

fn bench(args: &[&str]) -> serde_json::Value {
    let o = sluice(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{args:?}: {err}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"))
}

/// `(topic, partitions, messages)` of the shared ecommerce topics.
fn topics() -> Vec<(String, i64, i64)> {
    let out = sluice(&["topics", "--domain", "ecommerce", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    rows.iter()
        .map(|r| {
            (
                r["topic"].as_str().unwrap_or_default().to_string(),
                r["partitions"].as_i64().unwrap_or(-1),
                r["messages"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[test]
fn kafka_and_end_to_end_benches_measure_every_event_against_a_baseline() {
    if !available(
        up("127.0.0.1:9092") && up("127.0.0.1:8081") && up("127.0.0.1:8123"),
        "kafka, the schema registry and ClickHouse (scripts/services.sh start all)",
    ) {
        return;
    }
    let before = topics();
    let k = bench(&["bench", "kafka", "--events", "5000", "--json"]);
    assert_eq!(k["events"], 5000, "{k}");
    assert_eq!(k["measured"]["domain"], "ecommerce", "{k}");
    for f in [
        "produce_events_per_sec",
        "consume_aggregate_events_per_sec",
        "raw_consume_events_per_sec",
        "raw_produce_events_per_sec",
    ] {
        assert!(k[f].as_f64().unwrap_or(0.0) > 0.0, "{f}: {k}");
    }
    let e = bench(&["bench", "e2e", "--events", "20000", "--json"]);
    assert_eq!(e["events"], 20000, "{e}");
    assert!(e["rows_written"].as_u64().unwrap_or(0) > 0, "{e}");
    assert!(e["events_per_sec"].as_f64().unwrap_or(0.0) > 0.0, "{e}");
    assert_eq!(
        e["consume_aggregate_events_per_sec"], e["baseline_discard_sink_events_per_sec"],
        "{e}"
    );
    assert!(
        e["baseline_discard_sink_events_per_sec"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0,
        "{e}"
    );
    assert!(
        e["ratio_vs_discard_sink"].as_f64().unwrap_or(0.0) > 0.0,
        "{e}"
    );
    // the shared topics hold what they held (the benches use their own)
    assert_eq!(topics(), before);
}
