//! Schema compatibility against the registry, for the Config page: for
//! each event type of a domain, the schema the configuration generates
//! against the latest version registered under its subject: identical,
//! `full`, `backward`, `forward` or `none` (with the reasons of each
//! direction that fails, from `sluice_schema::compare`), whether the
//! registry itself would accept it (`sluice schema register --check`'s
//! question), or not registered yet.

use serde_json::{json, Value};
use sluice_config::DomainConfig;
use sluice_kafka::producer::subject_of;
use sluice_kafka::registry::RegistryClient;
use sluice_kafka::KafkaSettings;
use sluice_schema::{compare, record_schema_json, Direction, Incompatibility, Schema};

fn reasons(list: &[Incompatibility], direction: Direction) -> Vec<String> {
    list.iter()
        .map(|i| format!("{}: {}", i.path, i.reason(direction)))
        .collect()
}

/// One row per event type of `d` (in configuration order).
pub fn check(settings: &KafkaSettings, d: &DomainConfig) -> Result<Vec<Value>, String> {
    let client = RegistryClient::new(&settings.registry).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for layout in d.layouts() {
        let topic = settings.topic(&d.domain.value, &layout.event_type);
        let subject = subject_of(&client, &topic, &layout);
        let schema = record_schema_json(&layout);
        let Some(latest) = client.latest(&subject).map_err(|e| e.to_string())? else {
            out.push(json!({
                "event_type": layout.event_type,
                "subject": subject,
                "status": "not registered",
                "note": "registered by the first `generate --to kafka` or `schema register`",
            }));
            continue;
        };
        let (status, backward, forward) = match (
            Schema::parse_str(&latest.schema),
            Schema::parse_str(&schema),
        ) {
            (Ok(old), Ok(new)) if old == new => ("registered".to_string(), vec![], vec![]),
            (Ok(old), Ok(new)) => {
                let r = compare(&old, &new);
                (
                    r.compatibility.to_string(),
                    reasons(&r.backward, Direction::Backward),
                    reasons(&r.forward, Direction::Forward),
                )
            }
            (Err(e), _) => (
                "unknown".to_string(),
                vec![format!("the registered schema cannot be read here: {e}")],
                vec![],
            ),
            (_, Err(e)) => (
                "unknown".to_string(),
                vec![format!("the configured schema is invalid: {e}")],
                vec![],
            ),
        };
        let registry = client
            .check_compatible(&subject, &schema)
            .map_err(|e| e.to_string())?;
        out.push(json!({
            "event_type": layout.event_type,
            "subject": subject,
            "version": latest.version,
            "id": latest.id,
            "status": status,
            "backward": backward,
            "forward": forward,
            "registry_accepts": registry.compatible,
            "registry_messages": registry.messages,
        }));
    }
    Ok(out)
}
