//! The shipped domains' hints are valid in every environment, and broken
//! hints are reported like any other config error: file:line:col, key path,
//! suggestion.

mod common;

use std::path::Path;

use sluice_config::diag::{Reporter, SourceMap};
use sluice_config::{decode, validate, yaml, Diagnostics};
use sluice_generator::validate_hints;

#[test]
fn shipped_domains_have_valid_hints_in_every_environment() {
    for env in ["dev", "staging", "prod"] {
        let cfg = common::load(env);
        assert_eq!(cfg.domains.len(), 4, "{env}");
        let mut rep = Reporter::new(&cfg.sources);
        for d in &cfg.domains {
            assert!(
                d.generator.is_some(),
                "{} has a generator section",
                d.domain.value
            );
            validate_hints(d, &mut rep);
        }
        let diags = rep.finish();
        assert!(diags.is_empty(), "{env}:\n{diags}");
    }
}

/// Decodes a domain from text and returns the hint diagnostics.
fn hint_diags(text: &str) -> Diagnostics {
    let mut sources = SourceMap::default();
    sources.add(Path::new("domains/broken.yaml"));
    let mut rep = Reporter::new(&sources);
    let node = yaml::parse(text, 0, &mut rep).expect("parses");
    let mut d = decode::domain(&node, &mut rep).expect("decodes");
    validate::domain(&mut d, &mut rep);
    assert_eq!(rep.count(), 0, "the domain itself is valid");
    validate_hints(&d, &mut rep);
    rep.finish()
}

const BASE: &str = "domain: shop
entity:
  primary_key: user_id
event_types:
  - name: page_view
    attributes:
      - page_url
      - { name: amount, type: money, currency: USD, scale: 2 }
      - { name: coupon, optional: true }
    dimensions:
      - { name: device, type: enum, symbols: [mobile, desktop] }
  - name: purchase
    attributes:
      - { name: quantity, type: int }
";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn one(d: &Diagnostics, needle: &str) -> String {
    let hit: Vec<String> =
        d.0.iter()
            .map(|x| x.to_string())
            .filter(|s| s.contains(needle))
            .collect();
    assert_eq!(
        hit.len(),
        1,
        "expected one diagnostic containing {needle:?} in:\n{d}"
    );
    hit[0].clone()
}

#[test]
fn unknown_keys_get_suggestions_and_positions() {
    let d = hint_diags(&with(
        "generator:
  sesions: { concurrent: 10 }
  journey:
    start: { page_veiw: 1 }
    purchase: { ends: 0.5 }
  fields:
    amount: { distribution: lognormal, medain: 20, sigma: 1 }
    devcie: { values: [mobile] }
",
    ));
    let s = one(&d, "unknown key `sesions`");
    assert!(
        s.starts_with("domains/broken.yaml:16:3: generator.sesions"),
        "{s}"
    );
    assert!(s.contains("did you mean `sessions`?"), "{s}");
    let s = one(&d, "unknown event type `page_veiw`");
    assert!(
        s.contains("did you mean `page_view`?") && s.contains(":18:14:"),
        "{s}"
    );
    let s = one(&d, "unknown event type `ends`");
    assert!(s.contains("did you mean `end`?"), "{s}");
    let s = one(&d, "unknown key `medain`");
    assert!(
        s.contains("did you mean `median`?") && s.contains("generator.fields.amount.medain"),
        "{s}"
    );
    let s = one(&d, "unknown field `devcie`");
    assert!(s.contains("did you mean `device`?"), "{s}");
}

#[test]
fn type_errors_in_hints() {
    let d = hint_diags(&with(
        "generator:
  journey:
    start: { page_view: 1 }
    page_view: { page_view: 0.7, purchase: 0.5 }
  fields:
    device: { values: { mobile: 3, tablet: 1 } }
    quantity: { template: \"{int:1..3}\" }
    page_url: { template: \"/p/{nit:1..3}\" }
    amount: { values: [\"1.999\"] }
    coupon: { null_rate: 1.5 }
",
    ));
    one(&d, "transition probabilities add up to 1.2");
    let s = one(&d, "`tablet` is not a symbol of this enum");
    assert!(s.contains("expected one of `mobile` or `desktop`"), "{s}");
    one(
        &d,
        "`template` applies to string fields; this field is `int`",
    );
    let s = one(&d, "unknown placeholder `{nit:1..3}`");
    assert!(s.contains("did you mean `int`?"), "{s}");
    one(&d, "`1.999` is not a valid money value");
    one(&d, "`1.5` is not a probability");
}

#[test]
fn depends_on_and_scope_errors() {
    let d = hint_diags(&with(
        "    generator:
      fields:
        quantity: { distribution: normal, mean: 3 }
generator:
  fields:
    page_url:
      depends_on: devise
      cases: { mobile: { values: [m] } }
    coupon: { depends_on: device, cases: { mobile: { values: [x] }, mobil: { values: [y] } } }
    amount: { scope: forever }
",
    ));
    let s = one(&d, "`depends_on: devise`");
    assert!(s.contains("did you mean `device`?"), "{s}");
    let s = one(&d, "`mobil` is not a value of `device`");
    assert!(s.contains("did you mean `mobile`?"), "{s}");
    one(&d, "unknown value `forever`");
    one(&d, "distribution `normal` needs `stddev`");
}

#[test]
fn null_rate_needs_an_optional_field() {
    let d = hint_diags(&with(
        "generator:
  fields:
    page_url: { null_rate: 0.5 }
",
    ));
    one(&d, "`null_rate` applies only to optional fields");
}

#[test]
fn entity_hints_are_checked() {
    let text = BASE.replace(
        "  primary_key: user_id\n",
        "  primary_key: user_id\n  generator:\n    population: 0\n    key: \"user\"\n    activty: zipf\n",
    );
    let d = hint_diags(&text);
    one(&d, "population `0`");
    one(&d, "does not make unique keys");
    let s = one(&d, "unknown key `activty`");
    assert!(s.contains("did you mean `activity`?"), "{s}");
}
