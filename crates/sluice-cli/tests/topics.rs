//! Isolated Kafka runs with a real broker and schema registry: `--topic-prefix`
//! gives `generate`, `run`, `dlq` and `topics` a set of topics of their own,
//! the shared topics stay untouched, and `topics --recreate` empties a set.

mod support;

use support::{available, sluice, stamp, up};

fn ok(args: &[&str]) -> (String, String) {
    let o = sluice(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?}: {err}");
    (out, err)
}

/// `(topic, partitions, messages)` of the domain's topics.
fn topics(extra: &[&str]) -> Vec<(String, i64, i64)> {
    let mut args = vec!["topics", "--domain", "ecommerce", "--format", "json"];
    args.extend_from_slice(extra);
    let (out, _) = ok(&args);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["topic"].as_str().unwrap().to_string(),
                r["partitions"].as_i64().unwrap(),
                r["messages"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_topic_prefix_isolates_generate_run_and_dlq() {
    if !available(
        up("127.0.0.1:9092") && up("127.0.0.1:8081"),
        "kafka and the schema registry (scripts/services.sh start kafka registry)",
    ) {
        return;
    }
    let prefix = format!("iso{}.", stamp());
    let p = ["--topic-prefix", prefix.as_str()];
    let shared_before = topics(&[]);
    // a fresh, empty set: every topic prefixed, configured partitions
    let fresh = topics(&[p[0], p[1], "--recreate"]);
    assert_eq!(fresh.len(), shared_before.len());
    for ((t, parts, n), (shared, _, _)) in fresh.iter().zip(&shared_before) {
        assert_eq!(t, &format!("{prefix}{shared}"));
        assert_eq!((*parts, *n), (6, 0), "{t}");
    }
    let (_, err) = ok(&[
        "generate",
        "--domain",
        "ecommerce",
        "--to",
        "kafka",
        "--count",
        "3000",
        "--malformed-share",
        "0.02",
        p[0],
        p[1],
    ]);
    assert!(err.contains(&prefix), "topics named in the summary: {err}");
    let filled = topics(p.as_slice());
    let (dlq, events) = filled.split_last().unwrap();
    let produced: i64 = events.iter().map(|(_, _, n)| n).sum();
    assert!(produced >= 3000, "{filled:?}");
    assert_eq!(dlq.2, 0, "{filled:?}");
    // the shared topics did not receive a single message
    assert_eq!(topics(&[]), shared_before);
    // run reads the prefixed topics and dead-letters into the prefixed DLQ
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let (_, err) = ok(&[
        "run",
        "--domain",
        "ecommerce",
        "--source",
        "kafka",
        "--until-end",
        "--quiet",
        "--sink",
        "jsonl",
        "--out",
        out.to_str().unwrap(),
        p[0],
        p[1],
    ]);
    assert!(
        err.contains(&format!("{produced} records")),
        "every produced record read: {err}"
    );
    let (lines, _) = ok(&[
        "dlq",
        "inspect",
        "--domain",
        "ecommerce",
        "--format",
        "json",
        p[0],
        p[1],
    ]);
    let dead = lines.lines().count() as i64;
    assert!(dead > 0, "malformed events dead-lettered: {err}");
    assert_eq!(topics(p.as_slice()).last().unwrap().2, dead);
    assert_eq!(topics(&[]), shared_before);
    // recreate empties the set; delete removes it
    assert!(topics(&[p[0], p[1], "--recreate"])
        .iter()
        .all(|(_, parts, n)| (*parts, *n) == (6, 0)));
    ok(&["topics", "--domain", "ecommerce", "--delete", p[0], p[1]]);
    assert!(topics(p.as_slice()).iter().all(|(_, parts, _)| *parts == 0));
    // a prefix Kafka cannot name topics with is refused before any I/O
    let o = sluice(&["topics", "--domain", "ecommerce", "--topic-prefix", "a/b"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("topic prefix `a/b`"), "{err}");
}
