//! Pure rules that settings must follow so they do not fail later, at run
//! time: Kafka topic names and templates, partition and replication limits,
//! logging filter directives. Each rule returns a [`Problem`] that the caller
//! reports at the value's position.

use crate::diag::{one_of, suggest, Pos, Reporter};

/// Longest Kafka topic name.
pub const MAX_TOPIC_LEN: usize = 249;
/// Most partitions sluice creates a topic with. Kafka's wire format allows
/// up to `i32::MAX`, but no cluster holds topics of more than this, and a
/// sharded run keeps one engine per partition.
pub const MAX_PARTITIONS: u64 = 100_000;
/// Largest replication factor: Kafka sends it as a 16-bit integer.
pub const MAX_REPLICATION_FACTOR: u64 = i16::MAX as u64;
/// The placeholders of `kafka.topic_template`.
pub const TOPIC_PLACEHOLDERS: &[&str] = &["domain", "event_type"];
/// The placeholders of `kafka.dlq_topic_template` (one topic per domain).
pub const DLQ_PLACEHOLDERS: &[&str] = &["domain"];
/// Level names the logging filter accepts (any letter case).
pub const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Why a value breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// A likely fix.
    pub suggestion: Option<String>,
}

impl Problem {
    fn new(message: String, expected: impl Into<String>, suggestion: Option<String>) -> Self {
        Self {
            message,
            expected: Some(expected.into()),
            suggestion,
        }
    }
}

/// Reports `problem` at `pos`.
pub fn report(rep: &mut Reporter<'_>, pos: Pos, path: &str, problem: Problem) {
    let d = rep.error(pos, path, problem.message);
    d.expected = problem.expected;
    d.suggestion = problem.suggestion;
}

const TOPIC_CHARS: &str = "letters, digits, `.`, `_` and `-` (Kafka topic names)";

fn topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Kafka's rule for a topic name: 1 to 249 characters of `[a-zA-Z0-9._-]`,
/// and neither `.` nor `..`.
pub fn topic_name(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::new(
            "the topic name is empty".into(),
            TOPIC_CHARS,
            Some("name the topic, e.g. `{domain}.dlq`".into()),
        ));
    }
    if name == "." || name == ".." {
        return Err(Problem::new(
            format!("`{name}` is not allowed as a Kafka topic name"),
            "a name other than `.` and `..`",
            Some("add a name, e.g. `{domain}.dlq`".into()),
        ));
    }
    if let Some(c) = name.chars().find(|c| !topic_char(*c)) {
        return Err(Problem::new(
            format!("topic `{name}` contains {}", show_char(c)),
            TOPIC_CHARS,
            Some("use `.`, `_` or `-` as separators".into()),
        ));
    }
    let len = name.chars().count();
    if len > MAX_TOPIC_LEN {
        return Err(Problem::new(
            format!("topic `{name}` is {len} characters long"),
            format!("at most {MAX_TOPIC_LEN} characters (Kafka limit)"),
            Some("shorten the template or the names".into()),
        ));
    }
    Ok(())
}

fn show_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\0' => "a NUL character".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Checks a topic template: only `allowed` placeholders, and the text
/// between them legal in a topic name. `dlq` selects the messages for the
/// dead-letter template. Whether a rendered name is legal (length, `.`)
/// depends on the domains and is checked by validation.
pub fn topic_template(template: &str, allowed: &[&str], dlq: bool) -> Result<(), Problem> {
    let example = if dlq {
        "`{domain}.dlq`"
    } else {
        "`{domain}.{event_type}`"
    };
    let braced: Vec<String> = allowed.iter().map(|p| format!("{{{p}}}")).collect();
    let braced: Vec<&str> = braced.iter().map(String::as_str).collect();
    let expected_ph = one_of(&braced);
    let mut rest = template;
    let mut literal = String::new();
    while let Some(open) = rest.find('{') {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(Problem::new(
                format!("`{template}` has a `{{` without a closing `}}`"),
                format!("placeholders {expected_ph} and {TOPIC_CHARS}"),
                Some(format!("e.g. {example}")),
            ));
        };
        let name = &after[..close];
        if !allowed.contains(&name) {
            let message = if dlq && TOPIC_PLACEHOLDERS.contains(&name) {
                format!("`{{{name}}}` is not available in `{template}`: there is one dead-letter topic per domain")
            } else {
                format!("unknown placeholder `{{{name}}}` in `{template}`")
            };
            let suggestion = if dlq && TOPIC_PLACEHOLDERS.contains(&name) {
                Some(format!("e.g. {example}"))
            } else {
                suggest(&format!("{{{name}}}"), braced.iter().copied())
            };
            return Err(Problem::new(message, expected_ph, suggestion));
        }
        rest = &after[close + 1..];
    }
    literal.push_str(rest);
    if let Some(c) = literal.chars().find(|c| !topic_char(*c)) {
        return Err(Problem::new(
            format!(
                "`{template}` contains {}, which Kafka does not allow in topic names",
                show_char(c)
            ),
            format!("placeholders {expected_ph} and {TOPIC_CHARS}"),
            Some("use `.`, `_` or `-` as separators".into()),
        ));
    }
    if !dlq && !template.contains("{event_type}") {
        return Err(Problem::new(
            format!(
                "`{template}` has no `{{event_type}}`, so every event type would share one topic"
            ),
            "a template with `{event_type}` (one topic per event type)",
            Some(format!("e.g. {example}")),
        ));
    }
    Ok(())
}

/// Renders a template as the Kafka connector does.
pub fn render_topic(template: &str, domain: &str, event_type: Option<&str>) -> String {
    let t = template.replace("{domain}", domain);
    match event_type {
        Some(e) => t.replace("{event_type}", e),
        None => t,
    }
}

/// Checks a number of partitions for the topics sluice creates.
pub fn partitions(n: u64) -> Result<(), Problem> {
    let expected = format!("1 to {MAX_PARTITIONS}");
    if n == 0 {
        Err(Problem::new(
            "a topic needs at least one partition, not `0`".into(),
            expected,
            Some("e.g. `6`, or remove the key for the default 6".into()),
        ))
    } else if n > MAX_PARTITIONS {
        Err(Problem::new(
            format!("`{n}` partitions is more than sluice creates"),
            expected,
            Some(format!("use at most {MAX_PARTITIONS}")),
        ))
    } else {
        Ok(())
    }
}

/// Checks a replication factor for the topics sluice creates.
pub fn replication_factor(n: u64) -> Result<(), Problem> {
    let expected =
        format!("1 to {MAX_REPLICATION_FACTOR} (usually 3 in production, 1 on a laptop)");
    if n == 0 {
        Err(Problem::new(
            "a replication factor of `0` keeps no copy of the data".into(),
            expected,
            Some("e.g. `3`, or remove the key for the default 1".into()),
        ))
    } else if n > MAX_REPLICATION_FACTOR {
        Err(Problem::new(
            format!("replication factor `{n}` is more than Kafka accepts"),
            expected,
            Some("use at most the number of brokers".into()),
        ))
    } else {
        Ok(())
    }
}

/// Checks logging filter directives as the logging setup reads them:
/// comma-separated, each a level or `target=level`, with levels among
/// [`LOG_LEVELS`] in any letter case. A bare word that is not a level would
/// be read as a target and silently hide every other log line, so it is an
/// error here.
pub fn log_directives(text: &str) -> Result<(), Problem> {
    let expected = format!(
        "{}, or directives such as `info,sluice_engine=debug`",
        one_of(LOG_LEVELS)
    );
    if text.trim().is_empty() {
        return Err(Problem::new(
            "the logging level is empty".into(),
            expected,
            Some("did you mean `info`?".into()),
        ));
    }
    for directive in text.split(',') {
        let d = directive.trim();
        let (target, level) = match d.rsplit_once('=') {
            Some((t, l)) => (Some(t), l),
            None => (None, d),
        };
        if let Some(t) = target {
            // `target[span{field=value}]` selectors are the filter's business;
            // plain targets are Rust module paths
            let plain = t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
            if t.is_empty() || (!plain && !t.contains('[')) {
                return Err(Problem::new(
                    format!("`{d}` is not a logging directive"),
                    expected,
                    Some("write `target=level`, e.g. `sluice_engine=debug`".into()),
                ));
            }
        }
        if !LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            let lower = level.to_ascii_lowercase();
            let mut suggestion = suggest(&lower, LOG_LEVELS.iter().copied());
            if lower == "warning" {
                suggestion = Some("did you mean `warn`?".into());
            }
            let suggestion =
                suggestion.or_else(|| Some("e.g. `debug` for more detail, `warn` for less".into()));
            return Err(Problem::new(
                format!("unknown logging level `{level}`"),
                expected,
                suggestion,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(topic_name("shop.page_view").is_ok());
        assert!(topic_name("A-b_c.9").is_ok());
        assert!(topic_name(&"a".repeat(MAX_TOPIC_LEN)).is_ok());
        assert!(topic_name(&"a".repeat(MAX_TOPIC_LEN + 1)).is_err());
        for bad in ["", ".", "..", "a b", "a/b", "é"] {
            assert!(topic_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn templates_need_known_placeholders_and_event_type() {
        assert!(topic_template("{domain}.{event_type}", TOPIC_PLACEHOLDERS, false).is_ok());
        assert!(topic_template("{domain}.dlq", DLQ_PLACEHOLDERS, true).is_ok());
        let p = topic_template("{domain}.events", TOPIC_PLACEHOLDERS, false).unwrap_err();
        assert!(p.message.contains("no `{event_type}`"), "{p:?}");
        let p = topic_template("{domain}.{evnt_type}", TOPIC_PLACEHOLDERS, false).unwrap_err();
        assert_eq!(
            p.suggestion.as_deref(),
            Some("did you mean `{event_type}`?")
        );
        let p = topic_template("{domain}.{event_type}", DLQ_PLACEHOLDERS, true).unwrap_err();
        assert!(
            p.message.contains("one dead-letter topic per domain"),
            "{p:?}"
        );
        assert!(topic_template("my topic.{event_type}", TOPIC_PLACEHOLDERS, false).is_err());
        assert!(topic_template("{domain.{event_type}", TOPIC_PLACEHOLDERS, false).is_err());
    }

    #[test]
    fn limits() {
        assert!(partitions(0).is_err());
        assert!(partitions(1).is_ok());
        assert!(partitions(MAX_PARTITIONS).is_ok());
        assert!(partitions(1 << 31).is_err());
        assert!(replication_factor(0).is_err());
        assert!(replication_factor(3).is_ok());
        assert!(replication_factor(1 << 15).is_err());
    }

    #[test]
    fn log_directives_accept_what_the_filter_accepts() {
        for ok in [
            "info",
            "WARN",
            "info,sluice_engine=debug",
            "sluice::x=trace",
            "off",
        ] {
            assert!(log_directives(ok).is_ok(), "{ok}");
        }
        let p = log_directives("verbose").unwrap_err();
        assert!(p.message.contains("`verbose`"), "{p:?}");
        assert_eq!(
            log_directives("warning").unwrap_err().suggestion.as_deref(),
            Some("did you mean `warn`?")
        );
        assert!(log_directives("info,sluice=loud").is_err());
        assert!(log_directives("").is_err());
        assert!(log_directives("a b=info").is_err());
    }
}
