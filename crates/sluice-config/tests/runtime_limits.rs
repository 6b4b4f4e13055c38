//! Validation refuses exactly what would fail at run time: the window limit
//! agrees with the engine's own check case by case, quoted scalars stay
//! strings, and the Kafka topic rules look at every domain.

use std::path::Path;

use sluice_config::{load, Diagnostics, LoadOptions};
use sluice_core::{HumanDuration, WindowSpec};
use sluice_engine::window::{Windowing, MAX_WINDOWS_PER_EVENT};

fn load_dir(dir: &Path) -> Result<sluice_config::Config, Diagnostics> {
    let mut o = LoadOptions::new(dir, "dev");
    o.vars.clear();
    load(&o)
}

fn errors(dir: &Path) -> Diagnostics {
    match load_dir(dir) {
        Ok(_) => panic!("the configuration loaded without errors"),
        Err(d) => d,
    }
}

fn write(dir: &Path, platform: &str, domains: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("environments")).unwrap();
    std::fs::create_dir_all(dir.join("domains")).unwrap();
    std::fs::write(dir.join("platform.yaml"), platform).unwrap();
    std::fs::write(
        dir.join("environments/dev.yaml"),
        "logging:\n  level: info\n",
    )
    .unwrap();
    for (name, text) in domains {
        std::fs::write(dir.join(format!("domains/{name}.yaml")), text).unwrap();
    }
}

fn ms(v: u64) -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(v))
}

#[test]
fn window_limit_agrees_with_the_engine() {
    let limit = MAX_WINDOWS_PER_EVENT as u64;
    let mut specs = Vec::new();
    for step in [1u64, 250, 1000, 60_000] {
        for count in [1, 2, limit - 1, limit, limit + 1, 2 * limit, 86_400] {
            specs.push(WindowSpec::Sliding {
                size: ms(step * count),
                slide: ms(step),
            });
            specs.push(WindowSpec::Cumulative {
                step: ms(step),
                max_size: ms(step * count),
            });
        }
    }
    let mut yaml = String::from(
        "domain: d\nentity:\n  primary_key: id\nevent_types:\n  - name: e\naggregations:\n",
    );
    for (i, s) in specs.iter().enumerate() {
        let window = match s {
            WindowSpec::Sliding { size, slide } => {
                format!("{{ type: sliding, duration: {size}, slide: {slide} }}")
            }
            WindowSpec::Cumulative { step, max_size } => {
                format!("{{ type: cumulative, step: {step}, max_size: {max_size} }}")
            }
            _ => unreachable!(),
        };
        yaml.push_str(&format!(
            "  - name: a{i}\n    type: count\n    window: {window}\n"
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "kafka: {}\n", &[("d", &yaml)]);
    let diags = errors(tmp.path());
    let mut rejected_by_engine = 0;
    for (i, s) in specs.iter().enumerate() {
        let path = format!("aggregations[{i}].window");
        let config_rejects = diags
            .0
            .iter()
            .any(|d| d.path == path && d.message.contains("windows"));
        let engine_rejects = Windowing::new(s).is_err();
        rejected_by_engine += usize::from(engine_rejects);
        assert_eq!(
            config_rejects, engine_rejects,
            "{s:?}: config rejects {config_rejects}, engine rejects {engine_rejects}\n{diags}"
        );
    }
    assert_eq!(diags.len(), rejected_by_engine, "{diags}");
    assert!(rejected_by_engine > 0 && rejected_by_engine < specs.len());
}

#[test]
fn quoted_scalars_are_strings_not_numbers_or_null() {
    // a quoted number compared with a string field is a string
    let tmp = tempfile::tempdir().unwrap();
    let domain = "domain: d\nentity:\n  primary_key: id\nevent_types:\n  - name: e\n    dimensions: [zip]\naggregations:\n  - name: a\n    type: count\n    filter:\n      - { field: zip, op: eq, value: \"01234\" }\n    window: { type: tumbling, duration: 1m }\n";
    write(tmp.path(), "kafka: {}\n", &[("d", domain)]);
    let cfg = load_dir(tmp.path()).unwrap_or_else(|d| panic!("{d}"));
    let f = &cfg.domains[0].aggregations[0].filter[0].value;
    assert_eq!(f.value, sluice_core::Literal::Str("01234".into()));
}

#[test]
fn topic_rules_see_every_domain() {
    // the dead-letter topic of one domain is an event topic of another
    let tmp = tempfile::tempdir().unwrap();
    let a = "domain: a\nentity:\n  primary_key: id\nevent_types:\n  - name: b_dlq\n";
    let b = "domain: b\nentity:\n  primary_key: id\nevent_types:\n  - name: e\n";
    write(
        tmp.path(),
        "kafka:\n  topic_template: \"t.{event_type}\"\n  dlq_topic_template: \"t.{domain}_dlq\"\n",
        &[("a", a), ("b", b)],
    );
    let diags = errors(tmp.path());
    assert_eq!(diags.len(), 1, "{diags}");
    let d = &diags.0[0];
    assert_eq!(
        (d.path.as_str(), d.line, d.col),
        ("kafka.dlq_topic_template", 3, 23)
    );
    assert!(
        d.message.contains(
            "dead-letter topic `t.b_dlq` of domain `b` is also the topic of event type `b_dlq` of domain `a`"
        ),
        "{diags}"
    );
}

#[test]
fn event_types_of_two_domains_do_not_share_a_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = "domain: a\nentity:\n  primary_key: id\nevent_types:\n  - name: click\n";
    let b =
        "domain: b\nentity:\n  primary_key: id\nevent_types:\n  - name: view\n  - name: click\n";
    write(
        tmp.path(),
        "kafka:\n  topic_template: \"events.{event_type}\"\n",
        &[("a", a), ("b", b)],
    );
    let diags = errors(tmp.path());
    assert_eq!(diags.len(), 1, "{diags}");
    let d = &diags.0[0];
    assert_eq!(
        (d.path.as_str(), d.line, d.col),
        ("kafka.topic_template", 2, 19)
    );
    assert!(
        d.message.contains(
            "topic `events.click` is shared by event type `click` of domains `a` and `b`"
        ),
        "{diags}"
    );
    // with `{domain}` the same names are fine
    write(
        tmp.path(),
        "kafka:\n  topic_template: \"{domain}.{event_type}\"\n",
        &[],
    );
    load_dir(tmp.path()).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn quantiles_naming_the_same_result_column_are_refused() {
    // p99_999 for both: result columns keep three decimals of the percentage
    let tmp = tempfile::tempdir().unwrap();
    let domain = "domain: d\nentity:\n  primary_key: id\nevent_types:\n  - name: e\n    attributes: [{ name: v, type: double }]\naggregations:\n  - name: a\n    type: percentile\n    field: v\n    quantiles: [0.5, 0.999991, 0.999994]\n    window: { type: tumbling, duration: 1m }\n";
    write(tmp.path(), "kafka: {}\n", &[("d", domain)]);
    let diags = errors(tmp.path());
    assert_eq!(diags.len(), 1, "{diags}");
    let d = &diags.0[0];
    assert_eq!(d.path, "aggregations[0].quantiles[2]");
    assert!(
        d.message.contains(
            "quantile `0.999994` is the same as `0.999991` (aggregations[0].quantiles[1])"
        ),
        "{diags}"
    );
}
