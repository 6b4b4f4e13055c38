//! Compiles and exercises `sluice-cli/src/cmd/generate.rs` (the `sluice
//! generate` command) against this crate, so it is checked before the CLI
//! wires it in.

mod common;

#[path = "../../sluice-cli/src/cmd/generate.rs"]
#[allow(dead_code)]
mod generate;

use clap::Parser;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: generate::GenerateArgs,
}

fn args(line: &[&str]) -> generate::GenerateArgs {
    let mut v = vec!["sluice-generate"];
    v.extend_from_slice(line);
    Cli::try_parse_from(v).unwrap().args
}

#[test]
fn parses_rates() {
    assert_eq!(generate::parse_rate("50000/s").unwrap(), 50_000.0);
    assert_eq!(generate::parse_rate("50000").unwrap(), 50_000.0);
    assert_eq!(generate::parse_rate("50k/s").unwrap(), 50_000.0);
    assert_eq!(generate::parse_rate("1.5M/s").unwrap(), 1_500_000.0);
    assert_eq!(generate::parse_rate("3000/m").unwrap(), 50.0);
    assert!(generate::parse_rate("fast").is_err());
    assert!(generate::parse_rate("10/week").is_err());
}

#[test]
fn writes_files_in_every_format() {
    let cfg = common::load("dev");
    let dir = tempfile::tempdir().unwrap();
    for (fmt, name) in [
        ("jsonl", "out.jsonl"),
        ("avro", "out.avro"),
        ("avro-ocf", "out.ocf"),
    ] {
        let path = dir.path().join(name);
        let a = args(&[
            "--domain",
            "ecommerce",
            "--count",
            "2000",
            "--seed",
            "9",
            "--format",
            fmt,
            "--out",
            path.to_str().unwrap(),
            "--duplicate-share",
            "0.01",
            "--late-share",
            "0.01",
        ]);
        generate::run(&a, &cfg).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty(), "{fmt}");
        if fmt == "avro-ocf" {
            assert_eq!(apache_avro::Reader::new(&bytes[..]).unwrap().count(), 2020);
        }
        if fmt == "jsonl" {
            assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 2020);
        }
    }
}

#[test]
fn duration_event_filter_and_errors() {
    let cfg = common::load("dev");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let a = args(&[
        "--domain",
        "ecommerce",
        "--event",
        "purchase",
        "--duration",
        "10m",
        "--rate",
        "5/s",
        "--out",
        path.to_str().unwrap(),
    ]);
    generate::run(&a, &cfg).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() > 1_500, "{}", text.lines().count());
    assert!(text
        .lines()
        .all(|l| l.contains("\"event_type\":\"purchase\"")));

    let err = generate::run(&args(&["--domain", "ecomerce", "--count", "1"]), &cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `ecommerce`?"), "{err}");
    let err = generate::run(&args(&["--domain", "ecommerce"]), &cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--count"), "{err}");
    let err = generate::run(
        &args(&[
            "--domain",
            "ecommerce",
            "--count",
            "1",
            "--event",
            "purchace",
        ]),
        &cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did you mean `purchase`?"), "{err}");
    let err = generate::run(
        &args(&[
            "--domain",
            "ecommerce",
            "--count",
            "1",
            "--malformed-kinds",
            "garbled",
        ]),
        &cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("garbled"), "{err}");
}

#[test]
fn summary_lists_types_and_faults() {
    let mut g = common::generator("fintech", 1, 1000);
    let s = g
        .write_to(
            sluice_generator::Format::Jsonl,
            &mut std::io::sink(),
            &mut |_| {},
        )
        .unwrap();
    let text = generate::render_summary(&s, 0.5);
    assert!(
        text.starts_with("generated 1000 events (1000 records"),
        "{text}"
    );
    assert!(
        text.contains("payment")
            && text.contains("refund")
            && text.contains("event time 2024-01-01T"),
        "{text}"
    );
}
