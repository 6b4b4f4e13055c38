//! The schema-registry client against a real Confluent-compatible registry
//! (`scripts/services.sh start registry`, Apicurio's ccompat API).
//!
//! Skips with a message when the registry is not running, unless
//! `SLUICE_REQUIRE_SERVICES` is set, in which case it fails.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sluice_core::Classify;
use sluice_kafka::registry::{RegistryClient, RegistryError, RegistrySettings, SubjectStrategy};

fn url() -> String {
    std::env::var("SLUICE_SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8081/apis/ccompat/v7".into())
}

fn client() -> Option<RegistryClient> {
    let c = RegistryClient::new(&RegistrySettings {
        url: url(),
        strategy: SubjectStrategy::TopicName,
        timeout: Some(Duration::from_secs(10)),
        ..RegistrySettings::default()
    })
    .unwrap();
    match c.subjects() {
        Ok(_) => Some(c),
        Err(e) if std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some() => {
            panic!("schema registry required (SLUICE_REQUIRE_SERVICES is set) but not usable at {}: {e}", url())
        }
        Err(e) => {
            eprintln!(
                "skipping: schema registry not running at {} ({e}); start it with `scripts/services.sh start registry`",
                url()
            );
            None
        }
    }
}

fn fresh_subject(tag: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("sluice-test-{tag}-{n}-value")
}

fn schema(fields: Value) -> String {
    json!({"type": "record", "name": "PageView", "namespace": "sluice.test", "fields": fields})
        .to_string()
}

fn v1() -> String {
    schema(json!([{"name": "url", "type": "string"}]))
}
/// Adds an optional field with a default: backward compatible.
fn v2() -> String {
    schema(json!([{"name": "url", "type": "string"},
                  {"name": "referrer", "type": ["null", "string"], "default": null}]))
}
/// Adds a required field without a default: not backward compatible.
fn v3() -> String {
    schema(json!([{"name": "url", "type": "string"},
                  {"name": "coupon", "type": "string"}]))
}

fn same_json(a: &str, b: &str) -> bool {
    serde_json::from_str::<Value>(a).unwrap() == serde_json::from_str::<Value>(b).unwrap()
}

#[test]
fn register_fetch_by_id_and_by_version() {
    let Some(c) = client() else { return };
    let subject = fresh_subject("fetch");
    let id = c.register(&subject, &v1()).unwrap();
    assert_eq!(
        c.register(&subject, &v1()).unwrap(),
        id,
        "same schema, same id"
    );

    // a fresh client has no cache: this really asks the registry
    let fresh = RegistryClient::new(&RegistrySettings {
        url: url(),
        ..RegistrySettings::default()
    })
    .unwrap();
    let by_id = fresh.schema_by_id(id).unwrap();
    assert!(same_json(&by_id, &v1()), "{by_id}");
    let v = fresh.subject_version(&subject, "1").unwrap();
    assert_eq!((v.version, v.id), (1, id));
    assert!(same_json(&v.schema, &v1()));
    let latest = fresh.latest(&subject).unwrap().unwrap();
    assert_eq!(latest.id, id);
    assert!(fresh.latest(&fresh_subject("none")).unwrap().is_none());

    match fresh.schema_by_id(u32::MAX - 7) {
        Err(e @ RegistryError::NotFound(_)) => {
            assert_eq!(e.retry_hint(), sluice_core::RetryHint::NoRetry)
        }
        other => panic!("expected not found, got {other:?}"),
    }
    c.delete_subject(&subject, true).unwrap();
}

#[test]
fn compatibility_check_accepts_compatible_and_refuses_incompatible() {
    let Some(c) = client() else { return };
    let subject = fresh_subject("compat");
    // a new subject is always compatible
    let first = c.check_compatible(&subject, &v1()).unwrap();
    assert!(first.compatible && !first.subject_exists);
    let id1 = c.register_checked(&subject, &v1()).unwrap();
    c.set_compatibility(&subject, "BACKWARD").unwrap();

    let ok = c.check_compatible(&subject, &v2()).unwrap();
    assert!(ok.compatible, "{:?}", ok.messages);
    assert_eq!(ok.latest_version, Some(1));

    let bad = c.check_compatible(&subject, &v3()).unwrap();
    assert!(!bad.compatible);
    assert!(
        bad.messages.iter().any(|m| m.contains("coupon")),
        "reasons should name the field: {:?}",
        bad.messages
    );

    // `sluice schema register --check`
    match c.register_checked(&subject, &v3()) {
        Err(RegistryError::Incompatible {
            subject: s,
            messages,
        }) => {
            assert_eq!(s, subject);
            assert!(!messages.is_empty());
        }
        other => panic!("expected incompatible, got {other:?}"),
    }
    let id2 = c.register_checked(&subject, &v2()).unwrap();
    assert_ne!(id1, id2);
    assert_eq!(c.latest(&subject).unwrap().unwrap().version, 2);

    // the registry itself refuses an incompatible registration (409)
    match c.register(&subject, &v3()) {
        Err(e @ RegistryError::Status { status: 409, .. }) => {
            assert_eq!(e.domain(), sluice_core::ErrorDomain::User);
            assert_eq!(e.retry_hint(), sluice_core::RetryHint::NoRetry);
        }
        other => panic!("expected 409, got {other:?}"),
    }
    c.delete_subject(&subject, true).unwrap();
}

#[test]
fn invalid_schema_is_a_user_error_with_the_registry_message() {
    let Some(c) = client() else { return };
    let subject = fresh_subject("invalid");
    match c.register(
        &subject,
        r#"{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}"#,
    ) {
        Err(e @ RegistryError::Status { .. }) => {
            assert_eq!(e.domain(), sluice_core::ErrorDomain::User, "{e}");
            assert!(!e.to_string().is_empty());
        }
        other => panic!("expected a 4xx, got {other:?}"),
    }
}

#[test]
fn unreachable_registry_is_external_and_retryable() {
    let c = RegistryClient::new(&RegistrySettings {
        url: "http://127.0.0.1:9/apis/ccompat/v7".into(),
        timeout: Some(Duration::from_secs(2)),
        ..RegistrySettings::default()
    })
    .unwrap();
    let e = c.schema_by_id(1).unwrap_err();
    assert!(matches!(e, RegistryError::Network { .. }), "{e:?}");
    assert_eq!(e.domain(), sluice_core::ErrorDomain::External);
    assert_eq!(e.retry_hint(), sluice_core::RetryHint::Retry);
}

#[test]
fn basic_auth_and_subject_names() {
    let c = RegistryClient::new(&RegistrySettings {
        url: url(),
        strategy: SubjectStrategy::TopicRecordName,
        username: Some("u".into()),
        password: Some("secret".into()),
        timeout: None,
    })
    .unwrap();
    assert!(!format!("{c:?}").contains("secret"));
    assert_eq!(
        c.subject_for("shop.page_view", "sluice.shop.PageView"),
        "shop.page_view-sluice.shop.PageView"
    );
    assert!(RegistryClient::new(&RegistrySettings {
        url: "127.0.0.1:8081".into(),
        ..RegistrySettings::default()
    })
    .is_err());
}
