//! Enumerated arguments clap does not check itself (`--source file:PATH`,
//! `--sink`), with the config's "did you mean" treatment, and usage errors
//! that print every problem at once and exit 2.

use sluice_config::diag::{one_of, suggest};

use crate::Exit;

/// How `--source` is written, per registered source (`file:PATH`).
fn sources() -> Vec<&'static str> {
    sluice_runtime::topology::source_usages()
}

/// The names `--sink` takes: the runtime's registry.
fn sinks() -> Vec<&'static str> {
    sluice_runtime::topology::sink_names()
}

/// A parsed `--source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceArg {
    /// The in-process generator.
    Generator,
    /// Files: a file, a directory or a glob pattern.
    File(String),
    /// The domain's Kafka topics, as a consumer-group member.
    Kafka,
}

impl SourceArg {
    /// The flag value as the user would write it (for messages).
    pub fn name(&self) -> &'static str {
        match self {
            SourceArg::Generator => "generator",
            SourceArg::File(_) => "file:PATH",
            SourceArg::Kafka => "kafka",
        }
    }
}

/// "unknown X `v` (expected a, b or c); did you mean `y`?"
pub fn unknown(what: &str, given: &str, expected: &[&str]) -> String {
    let bare: Vec<&str> = expected
        .iter()
        .map(|e| e.split(':').next().unwrap_or(e))
        .collect();
    let mut msg = format!("unknown {what} `{given}` (expected {})", one_of(expected));
    let head = given.split(':').next().unwrap_or(given);
    if let Some(s) = suggest(head, bare.iter().copied()) {
        let s = if head == "file" || s.contains("`file`") {
            "did you mean `file:PATH`?".to_string()
        } else {
            s
        };
        msg.push_str("; ");
        msg.push_str(&s);
    }
    msg
}

/// One problem per name in `given` that is not in `known`, e.g. `unknown
/// aggregation `x` in domain `d` (expected one of …); did you mean `y`?`.
pub fn unknown_names<'a>(
    what: &str,
    given: impl IntoIterator<Item = &'a String>,
    known: &[&str],
    domain: &str,
) -> Vec<String> {
    given
        .into_iter()
        .filter(|g| !known.contains(&g.as_str()))
        .map(|g| {
            let mut msg = format!(
                "unknown {what} `{g}` in domain `{domain}` (expected {})",
                one_of(known)
            );
            if let Some(s) = suggest(g, known.iter().copied()) {
                msg.push_str("; ");
                msg.push_str(&s);
            }
            msg
        })
        .collect()
}

/// Checks `--event` against the domain's event types.
pub fn check_event(event: Option<&String>, d: &sluice_config::DomainConfig) -> anyhow::Result<()> {
    let names: Vec<&str> = d
        .event_types
        .iter()
        .map(|e| e.name.value.as_str())
        .collect();
    usage(unknown_names("event type", event, &names, &d.domain.value))
}

/// Refuses flags the chosen destination would ignore and unknown names
/// (exit 2, every problem at once).
pub fn check_generate(
    args: &super::generate::GenerateArgs,
    cfg: &sluice_config::Config,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    if args.to.as_deref() == Some("kafka") {
        if args.out.is_some() {
            problems.push(
                "`--out` names an output file, but `--to kafka` writes to the domain's topics"
                    .to_string(),
            );
        }
        if args.format != super::generate::FormatArg::Jsonl {
            problems.push("`--format` sets the file format, but `--to kafka` always writes Avro in the Confluent wire format".to_string());
        }
    } else if args.topic_prefix.is_some() {
        problems.push(
            "`--topic-prefix` names Kafka topics, but this writes files (add `--to kafka`)"
                .to_string(),
        );
    }
    usage(problems)?;
    if let Some(d) = cfg.domain(&args.domain) {
        check_event(args.event.as_ref(), d)?;
    }
    Ok(())
}

/// Parses `--source`.
pub fn parse_source(text: &str) -> Result<SourceArg, String> {
    if let Some(path) = text.strip_prefix("file:") {
        if path.is_empty() {
            return Err("`--source file:` needs a path: `file:events.jsonl`, `file:dir/` or `file:'events/*.jsonl'`".into());
        }
        return Ok(SourceArg::File(path.to_string()));
    }
    match text {
        "generator" => Ok(SourceArg::Generator),
        "kafka" => Ok(SourceArg::Kafka),
        "file" => Err("`--source file` needs a path: `file:PATH`".into()),
        other => Err(unknown("source", other, &sources())),
    }
}

/// Checks a `--sink` (or `sinks.default`) name.
pub fn check_sink(text: &str) -> Result<(), String> {
    if sinks().contains(&text) {
        Ok(())
    } else {
        Err(unknown("sink", text, &sinks()))
    }
}

/// Prints every usage problem and fails with exit code 2 when there are any.
pub fn usage(problems: Vec<String>) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    Err(Exit(2).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_near_misses_are_named() {
        assert_eq!(parse_source("kafka"), Ok(SourceArg::Kafka));
        assert_eq!(
            parse_source("file:a/b.jsonl"),
            Ok(SourceArg::File("a/b.jsonl".into()))
        );
        let e = parse_source("kafak").unwrap_err();
        assert!(e.contains("did you mean `kafka`?"), "{e}");
        assert!(e.contains("`kafka`"), "{e}");
        let e = parse_source("generater").unwrap_err();
        assert!(e.contains("did you mean `generator`?"), "{e}");
        let e = parse_source("fiel:x").unwrap_err();
        assert!(e.contains("did you mean `file:PATH`?"), "{e}");
        let e = parse_source("postgres").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(parse_source("file:").is_err());
    }

    #[test]
    fn sinks_near_misses() {
        assert!(check_sink("duckdb").is_ok());
        let e = check_sink("clikhouse").unwrap_err();
        assert!(e.contains("did you mean `clickhouse`?"), "{e}");
        let e = check_sink("json").unwrap_err();
        assert!(e.contains("did you mean `jsonl`?"), "{e}");
    }
}
