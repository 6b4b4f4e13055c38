//! The Spark application generated from a domain: what it reads, what it
//! computes and where it writes, as reviewable Python. Pure: text in memory,
//! written by [`crate::write_job`].
//!
//! PySpark, because the design note's users wrote their jobs in it and can
//! review it; the work runs in Spark SQL expressions on the executors (no
//! Python UDF touches an event), Python only shapes each micro-batch's result
//! rows on the driver.

use std::fmt::Write as _;

use sluice_core::{
    AggregateKind, CompareOp, FieldType, Literal, MoneyEncoding, Predicate, RecordLayout,
    WindowSpec,
};
use sluice_engine::AggregationPlan;

use crate::SparkError;

/// The shared helpers, the same for every domain (shipped beside `job.py`).
pub const RUNTIME_PY: &str = include_str!("sluice_spark_runtime.py");
/// File name of the helpers module.
pub const RUNTIME_FILE: &str = "sluice_spark_runtime.py";
/// pyspark release the job is written for (from PyPI).
pub const PYSPARK_VERSION: &str = "4.3.0";
/// The Kafka and Avro connectors, from Maven Central (the 4.3.0 artifacts
/// are not published there yet; 4.2.0 runs under pyspark 4.3.0).
pub const PACKAGES: &[&str] = &[
    "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0",
    "org.apache.spark:spark-avro_2.13:4.2.0",
];

/// One event type the job reads.
#[derive(Clone, Debug)]
pub struct TopicSpec {
    /// Its layout (the reader schema).
    pub layout: RecordLayout,
    /// Its Kafka topic.
    pub topic: String,
    /// Its subject in the schema registry.
    pub subject: String,
}

/// Connection defaults written into the job: only values that are not
/// secrets (`None`: the job needs the environment variable).
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    /// Kafka bootstrap servers.
    pub bootstrap: Option<String>,
    /// Schema registry URL (Confluent API).
    pub registry: Option<String>,
    /// ClickHouse HTTP URL.
    pub clickhouse_url: Option<String>,
    /// ClickHouse database.
    pub clickhouse_database: Option<String>,
    /// ClickHouse user.
    pub clickhouse_user: Option<String>,
}

/// Everything a job is generated from.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// Domain name.
    pub domain: String,
    /// Spark application name.
    pub app_name: String,
    /// The event types, in the domain's order.
    pub topics: Vec<TopicSpec>,
    /// The dead-letter topic.
    pub dead_letter_topic: String,
    /// The aggregations with their result table names.
    pub aggregations: Vec<(AggregationPlan, String)>,
    /// Micro-batch trigger interval, ms.
    pub trigger_ms: i64,
    /// Shuffle partitions of the aggregations (fixed once a checkpoint exists).
    pub shuffle_partitions: u32,
    /// Connection defaults.
    pub defaults: Defaults,
}

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFile {
    /// Path relative to the job directory.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// Python literal of a string (JSON string syntax is Python syntax).
fn py(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn py_opt(s: &Option<String>) -> String {
    s.as_deref().map(py).unwrap_or_else(|| "None".into())
}

fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| py(s)).collect::<Vec<_>>().join(", ")
    )
}

/// Spark interval text of `ms` (whole hours, minutes or seconds when exact).
fn interval(ms: i64) -> String {
    for (unit, size) in [
        ("hours", 3_600_000),
        ("minutes", 60_000),
        ("seconds", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{} {unit}", ms / size);
        }
    }
    format!("{ms} milliseconds")
}

/// The type of `field` in the first feeding layout that has it.
fn field_type<'a>(
    topics: &'a [TopicSpec],
    a: &AggregationPlan,
    field: &str,
) -> Option<&'a FieldType> {
    topics
        .iter()
        .filter(|t| a.event_types.is_empty() || a.event_types.contains(&t.layout.event_type))
        .find_map(|t| t.layout.fields.iter().find(|f| f.name == field))
        .map(|f| &f.ty)
}

fn integer(t: Option<&FieldType>) -> bool {
    matches!(
        t,
        Some(FieldType::Int | FieldType::Long | FieldType::Money { .. })
    )
}

/// A filter literal as Python, in the field's own units (money literals are
/// written in major units and compared exactly in minor units).
fn literal(
    aggregation: &str,
    p: &Predicate,
    ty: Option<&FieldType>,
    v: &Literal,
) -> Result<String, SparkError> {
    let refuse = |why: String| SparkError::Unsupported {
        aggregation: aggregation.to_string(),
        why,
    };
    Ok(match (v, ty) {
        (Literal::Str(s), _) => py(s),
        (Literal::Bool(b), _) => if *b { "True" } else { "False" }.into(),
        (Literal::Int(i), Some(FieldType::Money { scale, .. })) => 10i64
            .checked_pow(*scale)
            .and_then(|m| i.checked_mul(m))
            .map(|x| x.to_string())
            .ok_or_else(|| refuse(format!("filter value {i} on `{}` overflows", p.field)))?,
        (Literal::Int(i), _) => i.to_string(),
        (Literal::Decimal(d), Some(FieldType::Money { scale, .. })) => {
            sluice_core::filter::decimal_to_minor(d, *scale)
                .map(|x| x.to_string())
                .ok_or_else(|| {
                    refuse(format!(
                        "filter value {d} on `{}` has more digits than scale {scale}",
                        p.field
                    ))
                })?
        }
        (Literal::Decimal(d), _) => d.clone(),
        (Literal::List(items), _) => format!(
            "[{}]",
            items
                .iter()
                .map(|x| literal(aggregation, p, ty, x))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        ),
    })
}

fn filter_expr(
    topics: &[TopicSpec],
    a: &AggregationPlan,
    p: &Predicate,
) -> Result<String, SparkError> {
    let ty = field_type(topics, a, &p.field);
    let v = literal(&a.name, p, ty, &p.value)?;
    let c = format!("F.col({})", py(&p.field));
    Ok(match p.op {
        CompareOp::Eq => format!("({c} == F.lit({v}))"),
        CompareOp::Ne => format!("({c} != F.lit({v}))"),
        CompareOp::Lt => format!("({c} < F.lit({v}))"),
        CompareOp::Le => format!("({c} <= F.lit({v}))"),
        CompareOp::Gt => format!("({c} > F.lit({v}))"),
        CompareOp::Ge => format!("({c} >= F.lit({v}))"),
        CompareOp::In => format!("{c}.isin({v})"),
        // null is no member and no non-member, as in the native engine
        CompareOp::NotIn => format!("({c}.isNotNull() & ~{c}.isin({v}))"),
    })
}

/// The Spark window expression of `w`, or why Spark cannot compute it as
/// the native engine does.
fn window_expr(a: &AggregationPlan) -> Result<(String, String), SparkError> {
    Ok(match a.window {
        WindowSpec::Tumbling { size } => (
            format!(
                "F.window(\"event_time\", {})",
                py(&interval(size.as_millis_i64()))
            ),
            format!("tumbling windows of {size}"),
        ),
        WindowSpec::Sliding { size, slide } => (
            format!(
                "F.window(\"event_time\", {}, {})",
                py(&interval(size.as_millis_i64())),
                py(&interval(slide.as_millis_i64()))
            ),
            format!("sliding windows of {size} every {slide}"),
        ),
        WindowSpec::Session { gap } => (
            format!(
                "F.session_window(\"event_time\", {})",
                py(&interval(gap.as_millis_i64()))
            ),
            format!("sessions closed after {gap} without events"),
        ),
        WindowSpec::Cumulative { .. } => {
            return Err(SparkError::Unsupported {
                aggregation: a.name.clone(),
                why: "cumulative windows have no Spark Structured Streaming equivalent \
                      (one streaming aggregation per query, no running prefixes over panes); \
                      run it with the native runner or pass the other aggregations with --aggregation"
                    .into(),
            })
        }
    })
}

/// Why Spark cannot compute `a` as the native engine does, if it cannot.
pub fn refusal(topics: &[TopicSpec], a: &AggregationPlan) -> Option<SparkError> {
    window_expr(a).and_then(|_| states(topics, a)).err()
}

/// The state columns of `a` as Spark aggregate expressions.
fn states(topics: &[TopicSpec], a: &AggregationPlan) -> Result<Vec<String>, SparkError> {
    let field = || {
        a.field.as_ref().ok_or_else(|| SparkError::Unsupported {
            aggregation: a.name.clone(),
            why: format!("`{}` needs a field", a.kind.name()),
        })
    };
    let col = |f: &str| format!("F.col({})", py(f));
    Ok(match a.kind {
        AggregateKind::Count => vec!["F.count(F.lit(1)).alias(\"st_count\")".into()],
        AggregateKind::Sum | AggregateKind::Min | AggregateKind::Max => {
            let f = field()?;
            let name = a.kind.name();
            let cast = if integer(field_type(topics, a, f)) {
                "long"
            } else {
                "double"
            };
            vec![format!(
                "F.{name}({}.cast(\"{cast}\")).alias(\"st_{name}\")",
                col(f)
            )]
        }
        AggregateKind::Avg => {
            let f = field()?;
            let (isum, fsum) = if integer(field_type(topics, a, f)) {
                (
                    format!("F.sum({}.cast(\"long\"))", col(f)),
                    "F.lit(0.0)".to_string(),
                )
            } else {
                (
                    "F.lit(0)".to_string(),
                    format!("F.sum({}.cast(\"double\"))", col(f)),
                )
            };
            vec![
                format!("F.coalesce({isum}, F.lit(0)).alias(\"st_isum\")"),
                format!("F.coalesce({fsum}, F.lit(0.0)).alias(\"st_fsum\")"),
                format!("F.count({}).alias(\"st_n\")", col(f)),
            ]
        }
        AggregateKind::CountDistinct => vec![format!(
            "F.collect_set({}.cast(\"string\")).alias(\"st_set\")",
            col(field()?)
        )],
        AggregateKind::ApproxCountDistinct => vec![format!(
            "F.collect_set(rt.hll_entry({})).alias(\"st_hll\")",
            col(field()?)
        )],
        AggregateKind::Percentile => vec![format!(
            "F.collect_list(rt.sketch_key({})).alias(\"_st_keys\")",
            col(field()?)
        )],
    })
}

/// The Spark type a field is cast to when read (money in minor units).
fn read_cast(t: &FieldType, money: MoneyEncoding) -> Option<String> {
    match (t, money) {
        (FieldType::Money { .. }, MoneyEncoding::Decimal) => None, // scaled below
        (FieldType::Money { .. }, MoneyEncoding::Long) => Some("long".into()),
        (FieldType::Int, _) => Some("int".into()),
        (FieldType::Long, _) => Some("long".into()),
        (FieldType::Double, _) => Some("double".into()),
        (FieldType::Boolean, _) => Some("boolean".into()),
        (FieldType::Timestamp, _) => Some("timestamp".into()),
        (FieldType::String | FieldType::Enum { .. }, _) => Some("string".into()),
    }
}

/// Every field an aggregation reads (plus `event_type` and `event_time`),
/// in a stable order, with its cast.
fn fields(spec: &JobSpec) -> Result<Vec<(String, String)>, SparkError> {
    let mut out: Vec<(String, String)> = vec![
        ("event_type".into(), "string".into()),
        ("event_time".into(), "timestamp".into()),
    ];
    for (a, _) in &spec.aggregations {
        let names = a
            .field
            .iter()
            .chain(a.group_by.iter())
            .chain(a.filter.iter().map(|p| &p.field));
        for n in names {
            if out.iter().any(|(f, _)| f == n) {
                continue;
            }
            let layout = spec
                .topics
                .iter()
                .find(|t| t.layout.fields.iter().any(|f| &f.name == n));
            let Some(t) = layout else {
                return Err(SparkError::Unsupported {
                    aggregation: a.name.clone(),
                    why: format!("no event type has field `{n}`"),
                });
            };
            let f = t.layout.fields.iter().find(|f| &f.name == n);
            let cast = f
                .and_then(|f| read_cast(&f.ty, t.layout.money))
                .unwrap_or_default();
            if cast.is_empty() {
                return Err(SparkError::Unsupported {
                    aggregation: a.name.clone(),
                    why: format!(
                        "money field `{n}` is encoded as Avro decimal; the Spark runner reads money as `long` minor units (set `money_encoding: long`)"
                    ),
                });
            }
            out.push((n.clone(), cast));
        }
    }
    Ok(out)
}

/// The Python function of one aggregation.
fn aggregation_fn(spec: &JobSpec, a: &AggregationPlan, table: &str) -> Result<String, SparkError> {
    let (window, window_text) = window_expr(a)?;
    let states = states(&spec.topics, a)?;
    let mut feeding: Vec<String> = if a.event_types.is_empty() {
        spec.topics
            .iter()
            .map(|t| t.layout.event_type.clone())
            .collect()
    } else {
        a.event_types.clone()
    };
    feeding.dedup();
    let mut conditions = vec![format!("F.col(\"event_type\").isin({})", py_list(&feeding))];
    for p in &a.filter {
        conditions.push(filter_expr(&spec.topics, a, p)?);
    }
    let delay = a
        .watermark_delay
        .as_millis_i64()
        .saturating_add(a.allowed_lateness.as_millis_i64());
    let what = match &a.field {
        Some(f) => format!("{} of `{f}`", a.kind.name()),
        None => a.kind.name().to_string(),
    };
    let by = if a.group_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", a.group_by.join(", "))
    };
    let mut s = String::new();
    writeln!(s, "def {}(events):", a.name).ok();
    writeln!(
        s,
        "    \"\"\"{what} over {}, {window_text}{by}; into `{table}_parts`.",
        feeding.join(", ")
    )
    .ok();
    writeln!(
        s,
        "\n    A window is written once Spark's watermark ({} behind the largest\n    event time: the watermark delay {} plus the allowed lateness {}) passes its end.\n    \"\"\"",
        interval(delay),
        a.watermark_delay,
        a.allowed_lateness
    ).ok();
    writeln!(s, "    chosen = events.where(").ok();
    for (i, c) in conditions.iter().enumerate() {
        let sep = if i + 1 < conditions.len() { " &" } else { "" };
        writeln!(s, "        {c}{sep}").ok();
    }
    writeln!(s, "    )").ok();
    writeln!(s, "    return rt.aggregate(").ok();
    writeln!(s, "        chosen,").ok();
    writeln!(s, "        window={window},").ok();
    writeln!(s, "        dims={},", py_list(&a.group_by)).ok();
    writeln!(s, "        delay={},", py(&interval(delay))).ok();
    writeln!(s, "        states=[").ok();
    for st in &states {
        writeln!(s, "            {st},").ok();
    }
    writeln!(s, "        ],").ok();
    writeln!(s, "    )").ok();
    Ok(s)
}

/// The generated files: `job.py`, the helpers, one reader schema per event
/// type, `submit.sh` and a README.
pub fn render(spec: &JobSpec) -> Result<Vec<JobFile>, SparkError> {
    let mut unsupported = Vec::new();
    let mut functions = Vec::new();
    for (a, table) in &spec.aggregations {
        match aggregation_fn(spec, a, table) {
            Ok(f) => functions.push((a, table, f)),
            Err(e) => unsupported.push(e.to_string()),
        }
    }
    if !unsupported.is_empty() {
        return Err(SparkError::Refused(unsupported));
    }
    let fields = fields(spec)?;
    let mut py_text = String::new();
    writeln!(
        py_text,
        "\"\"\"Spark Structured Streaming job for the sluice domain `{}`.\n\nGenerated by `sluice spark job --domain {}`: regenerate it rather than\nedit it. Submit it with `./submit.sh` (or `sluice spark run`); the\nhelpers it calls are in `{RUNTIME_FILE}`.\n\"\"\"\n",
        spec.domain, spec.domain
    ).ok();
    py_text.push_str(
        "from pyspark.sql import functions as F\n\nimport sluice_spark_runtime as rt\n\n",
    );
    writeln!(py_text, "DOMAIN = {}", py(&spec.domain)).ok();
    writeln!(py_text, "APP_NAME = {}", py(&spec.app_name)).ok();
    writeln!(py_text, "TRIGGER = {}", py(&interval(spec.trigger_ms))).ok();
    writeln!(py_text, "SHUFFLE_PARTITIONS = {}", spec.shuffle_partitions).ok();
    writeln!(
        py_text,
        "DEAD_LETTER_TOPIC = {}",
        py(&spec.dead_letter_topic)
    )
    .ok();
    let d = &spec.defaults;
    writeln!(
        py_text,
        "\n# Connection defaults (no secrets: those come from the environment only).\nDEFAULTS = {{\n    \"bootstrap\": {},\n    \"registry\": {},\n    \"clickhouse_url\": {},\n    \"clickhouse_database\": {},\n    \"clickhouse_user\": {},\n}}",
        py_opt(&d.bootstrap),
        py_opt(&d.registry),
        py_opt(&d.clickhouse_url),
        py_opt(&d.clickhouse_database),
        py_opt(&d.clickhouse_user)
    ).ok();
    let headers = [
        ("kind", sluice_kafka::H_ERROR_KIND),
        ("message", sluice_kafka::H_ERROR_MESSAGE),
        ("topic", sluice_kafka::H_SOURCE_TOPIC),
        ("partition", sluice_kafka::H_SOURCE_PARTITION),
        ("offset", sluice_kafka::H_SOURCE_OFFSET),
        ("timestamp", sluice_kafka::H_SOURCE_TIMESTAMP),
        ("event_type", sluice_kafka::H_EVENT_TYPE),
        ("id", sluice_kafka::H_DEAD_LETTER_ID),
    ];
    writeln!(
        py_text,
        "\n# Dead-letter headers, as the native runner writes them.\nDEAD_LETTER_HEADERS = {{"
    )
    .ok();
    for (k, v) in headers {
        writeln!(py_text, "    {}: {},", py(k), py(v)).ok();
    }
    writeln!(py_text, "}}").ok();
    let metrics = [
        ("events_in", sluice_core::metrics::EVENTS_IN_TOTAL),
        ("decode_errors", sluice_core::metrics::DECODE_ERRORS_TOTAL),
        ("dead_letters", sluice_core::metrics::DEAD_LETTER_TOTAL),
        ("late_events", sluice_core::metrics::LATE_EVENTS_TOTAL),
        ("results", sluice_core::metrics::RESULTS_TOTAL),
        ("rows_out", sluice_core::metrics::ROWS_OUT_TOTAL),
        (
            "sink_write_seconds",
            sluice_core::metrics::SINK_WRITE_SECONDS,
        ),
        ("watermark_lag", sluice_core::metrics::WATERMARK_LAG_SECONDS),
        ("build_info", sluice_core::metrics::BUILD_INFO),
    ];
    writeln!(
        py_text,
        "\n# Metric names, as the native runner's (the generated dashboards read both).\nMETRICS = {{"
    )
    .ok();
    for (k, v) in metrics {
        writeln!(py_text, "    {}: {},", py(k), py(v)).ok();
    }
    writeln!(py_text, "}}").ok();
    writeln!(
        py_text,
        "\n# Event types: topic, registry subject, reader schema, the fields it has\n# and those it requires (a null there means the datum did not decode).\nEVENT_TYPES = ["
    ).ok();
    for t in &spec.topics {
        let names: Vec<String> = t.layout.fields.iter().map(|f| f.name.clone()).collect();
        let required: Vec<String> = t
            .layout
            .fields
            .iter()
            .filter(|f| !f.optional)
            .map(|f| f.name.clone())
            .collect();
        writeln!(
            py_text,
            "    {{\n        \"event_type\": {},\n        \"topic\": {},\n        \"subject\": {},\n        \"schema\": {},\n        \"fields\": {},\n        \"required\": {},\n    }},",
            py(&t.layout.event_type),
            py(&t.topic),
            py(&t.subject),
            py(&format!("schemas/{}", sluice_schema::schema_file_name(&t.layout))),
            py_list(&names),
            py_list(&required)
        ).ok();
    }
    writeln!(py_text, "]").ok();
    writeln!(
        py_text,
        "\n# Fields the aggregations read, with their Spark types (money: minor units).\nFIELDS = ["
    )
    .ok();
    for (f, cast) in &fields {
        writeln!(py_text, "    ({}, {}),", py(f), py(cast)).ok();
    }
    writeln!(py_text, "]\n").ok();
    for (_, _, f) in &functions {
        writeln!(py_text, "\n{f}").ok();
    }
    writeln!(py_text, "\nAGGREGATIONS = [").ok();
    for (a, table, _) in &functions {
        writeln!(
            py_text,
            "    rt.Aggregation({}, {}, {}, {}, {}),",
            py(&a.name),
            py(table),
            py(a.kind.name()),
            py_list(&a.group_by),
            a.name
        )
        .ok();
    }
    writeln!(py_text, "]\n").ok();
    py_text.push_str(
        "\nif __name__ == \"__main__\":\n    import sys\n\n    rt.main(sys.modules[__name__])\n",
    );

    let mut files = vec![
        JobFile {
            path: "job.py".into(),
            text: py_text,
        },
        JobFile {
            path: RUNTIME_FILE.into(),
            text: RUNTIME_PY.into(),
        },
    ];
    for t in &spec.topics {
        files.push(JobFile {
            path: format!("schemas/{}", sluice_schema::schema_file_name(&t.layout)),
            text: format!("{}\n", sluice_schema::record_schema_json(&t.layout)),
        });
    }
    files.push(JobFile {
        path: "submit.sh".into(),
        text: submit_sh(spec),
    });
    Ok(files)
}

fn submit_sh(spec: &JobSpec) -> String {
    let schemas: Vec<String> = spec
        .topics
        .iter()
        .map(|t| format!("schemas/{}", sluice_schema::schema_file_name(&t.layout)))
        .collect();
    format!(
        r#"#!/usr/bin/env bash
# Submits the sluice Spark job of domain `{domain}` (generated by
# `sluice spark job`). Extra arguments go to spark-submit before the job,
# arguments after `--` to the job itself:
#   ./submit.sh --master 'local[2]' -- --until-end
#   ./submit.sh --master yarn --deploy-mode cluster
# Needs spark-submit (pyspark {pyspark}) on PATH and, for the connectors,
# Maven Central or a mirror (spark.jars.repositories).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
spark_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do spark_args+=("$1"); shift; done
[ "${{1:-}}" = "--" ] && shift
exec spark-submit \
  --name {app} \
  --packages {packages} \
  --py-files "$here/{runtime}" \
  --files {files} \
  "${{spark_args[@]}}" \
  "$here/job.py" "$@"
"#,
        domain = spec.domain,
        pyspark = PYSPARK_VERSION,
        app = shell_word(&spec.app_name),
        packages = PACKAGES.join(","),
        runtime = RUNTIME_FILE,
        files = schemas
            .iter()
            .map(|s| format!("\"$here/{s}\""))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `s` quoted for a POSIX shell.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_exact() {
        assert_eq!(interval(60_000), "1 minutes");
        assert_eq!(interval(90_000), "90 seconds");
        assert_eq!(interval(1_500), "1500 milliseconds");
        assert_eq!(interval(7_200_000), "2 hours");
    }

    #[test]
    fn python_strings_escape_quotes_and_backslashes() {
        assert_eq!(py("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
