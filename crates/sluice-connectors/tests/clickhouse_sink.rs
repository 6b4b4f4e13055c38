//! The ClickHouse sink against the real server on 127.0.0.1:8123
//! (`scripts/services.sh start clickhouse`): a result table detached under
//! a running sink (what a graceful server stop does) is a retryable error
//! and the write succeeds once it is back; credentials never show in errors.
//!
//! Skips with a message when the server is down, unless
//! `SLUICE_REQUIRE_SERVICES` is set.
#![cfg(feature = "clickhouse")]

use sluice_connectors::sink::clickhouse::{ClickHouseSettings, ClickHouseSink, Client};
use sluice_connectors::{
    Cell, Column, ConnectorError, DeadLetterKind, DeadLetterRecord, ResultRow, Sink, SqlType,
    TableSpec,
};
use sluice_core::Classify;
use sluice_core::{AggregateKind, RetryHint};

fn url() -> String {
    std::env::var("SLUICE_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Settings for a fresh scratch database, or `None` (skip).
fn scratch(tag: &str) -> Option<ClickHouseSettings> {
    let settings = ClickHouseSettings::new(&url(), &format!("t{}_{tag}", stamp()));
    if !Client::new(&settings).unwrap().ping() {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "SLUICE_REQUIRE_SERVICES is set but ClickHouse is not answering at {}",
            url()
        );
        eprintln!("skipping: ClickHouse not running (scripts/services.sh start clickhouse)");
        return None;
    }
    Some(settings)
}

fn spec() -> TableSpec {
    TableSpec {
        name: "views".into(),
        aggregation: "views".into(),
        kind: AggregateKind::Count,
        session: false,
        dims: vec![Column {
            name: "device_type".into(),
            ty: SqlType::Text,
            comment: None,
        }],
        values: vec![Column {
            name: "value".into(),
            ty: SqlType::BigInt,
            comment: None,
        }],
    }
}

fn row(start: i64, device: &str, n: i64) -> ResultRow {
    ResultRow {
        table: 0,
        window_start: start,
        window_end: start + 60_000,
        dims: vec![Cell::Text(device.into())],
        values: vec![Cell::Int(n)],
        revision: 0,
        provisional: false,
        emitted_at: 1_700_000_000_000,
        events: u64::try_from(n).unwrap(),
        shard: "t:0".into(),
        state: None,
    }
}

#[test]
fn a_detached_result_table_is_retried_and_the_write_lands_once_it_is_back() {
    let Some(settings) = scratch("detach") else {
        return;
    };
    let db = settings.database.clone();
    let mut sink = ClickHouseSink::connect(settings).unwrap();
    let client = sink.client().clone();
    sink.prepare(&[spec()]).unwrap();
    sink.write(&[row(0, "mobile", 3)], &[]).unwrap();
    client
        .query(&format!("DETACH TABLE `{db}`.`views_parts`"))
        .unwrap();
    let second = [row(60_000, "desktop", 5)];
    let e = sink.write(&second, &[]).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("Code: 60"), "{shown}");
    assert_eq!(
        e.retry_hint(),
        RetryHint::Retry,
        "a verified table that vanished mid-run must be retried: {shown}"
    );
    client
        .query(&format!("ATTACH TABLE `{db}`.`views_parts`"))
        .unwrap();
    sink.write(&second, &[]).unwrap();
    let got = client
        .query(&format!(
            "SELECT device_type, value FROM `{db}`.`views` ORDER BY window_start_ms FORMAT TSV"
        ))
        .unwrap();
    assert_eq!(got, "mobile\t3\ndesktop\t5\n");
    // the dead-letter table too
    let letter = DeadLetterRecord {
        kind: DeadLetterKind::Malformed,
        reason: "bad".into(),
        source: "s".into(),
        partition: 0,
        offset: 1,
        event_type: None,
        aggregation: None,
        event_time: None,
        payload: b"x".to_vec(),
        key: None,
        timestamp: None,
    };
    client
        .query(&format!("DETACH TABLE `{db}`.`_sluice_dead_letters`"))
        .unwrap();
    let e = sink.write(&[], std::slice::from_ref(&letter)).unwrap_err();
    assert_eq!(e.retry_hint(), RetryHint::Retry, "{e}");
    client
        .query(&format!("ATTACH TABLE `{db}`.`_sluice_dead_letters`"))
        .unwrap();
    sink.write(&[], &[letter]).unwrap();
    // a table sluice never verified is still a mistake, not an outage
    let e = client
        .insert(
            &Client::insert_statement(&format!("`{db}`.`nope`"), &["a".to_string()]),
            b"",
        )
        .unwrap_err();
    assert_eq!(e.retry_hint(), RetryHint::NoRetry, "{e}");
    client.query(&format!("DROP DATABASE `{db}`")).unwrap();
}

#[test]
fn a_user_given_as_a_secret_never_shows_in_errors() {
    let Some(mut settings) = scratch("redact") else {
        return;
    };
    let user = format!("sluice_nobody_{}", stamp());
    let password = format!("pw_{}", stamp());
    settings.user = Some(user.clone());
    settings.password = Some(password.clone());
    // what `sluice run` passes for `user: ${secret:clickhouse_user}`
    settings.redact = vec![user.clone()];
    let shown_settings = format!("{settings:?}");
    assert!(
        !shown_settings.contains(&user) && !shown_settings.contains(&password),
        "{shown_settings}"
    );
    let e: ConnectorError = ClickHouseSink::connect(settings).unwrap_err();
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(&user), "user name leaked: {text}");
        assert!(!text.contains(&password), "password leaked: {text}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(text.contains("authentication failed"), "{text}");
    }
    assert_eq!(e.retry_hint(), RetryHint::NoRetry);
}

#[test]
fn credentials_in_the_url_never_show_in_errors() {
    let Some(settings) = scratch("urlcred") else {
        return;
    };
    // a port nothing listens on: the transport error names the URL
    let s = ClickHouseSettings::new("http://carol:s3cr%21t@127.0.0.1:9", &settings.database);
    let e = ClickHouseSink::connect(s).unwrap_err();
    for text in [e.to_string(), format!("{e:?}")] {
        for secret in ["carol", "s3cr%21t", "s3cr!t"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("127.0.0.1:9"), "{text}");
    }
    assert_eq!(e.retry_hint(), RetryHint::Retry);
}
