//! YAML tree → typed model. Collects every problem; never stops at the first.

use std::collections::BTreeMap;

use sluice_core::{
    AggregateKind, CompareOp, FieldType, HumanDuration, Literal, MoneyEncoding, Predicate,
    WindowSpec,
};

use crate::diag::{one_of, Reporter};
use crate::model::*;
use crate::read::{self, join, MapReader};
use crate::rules;
use crate::yaml::{secret_parts, YNode, YValue};

/// Text handed to C libraries (librdkafka) or the file system cannot hold a
/// NUL character; reports it at the value.
fn no_nul(node: &YNode, path: &str, t: &str, rep: &mut Reporter<'_>) -> Option<()> {
    if !t.contains('\0') {
        return Some(());
    }
    let d = rep.error(node.pos, path, "the value contains a NUL character");
    d.expected = Some("text without NUL (`\\0`) characters".into());
    d.suggestion = Some("remove the `\\0` escape".into());
    None
}

fn setting(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Setting> {
    let t = read::text(node, path, "a string", rep)?;
    no_nul(node, path, t, rep)?;
    Some(Setting {
        parts: secret_parts(t),
        pos: node.pos,
    })
}

fn plain_string(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<String> {
    let t = read::text(node, path, "a string", rep)?;
    if t.contains("${secret:") {
        rep.error(
            node.pos,
            path,
            "secrets are only allowed in connection settings (urls, users, passwords, kafka properties)",
        );
        return None;
    }
    no_nul(node, path, t, rep)?;
    Some(t.to_string())
}

fn default_setting(text: &str) -> Setting {
    Setting {
        parts: secret_parts(text),
        pos: Default::default(),
    }
}

/// Decodes the merged platform tree.
pub fn platform(root: &YNode, rep: &mut Reporter<'_>) -> Option<PlatformConfig> {
    let before = rep.count();
    let mut m = MapReader::new(root, "", rep)?;
    let kafka = kafka(m.optional("kafka"), rep);
    let spark = m.optional("spark").and_then(|n| spark(n, rep));
    let mut engine = engine(m.optional("engine"), rep);
    if let Some(sp) = &spark {
        // explicit engine settings win over the seed's spark section
        if root.get("engine").is_none() {
            if let Some(t) = sp.trigger_interval {
                engine.trigger_interval = t;
            }
            if let Some(d) = sp.watermark_delay {
                engine.watermark_delay = d;
            }
        }
    }
    let sinks = sinks(m.optional("sinks"), rep);
    let metrics = metrics(m.optional("metrics"), rep);
    let secrets = secrets(m.optional("secrets"), rep);
    let logging = logging(m.optional("logging"), rep);
    m.ignore("environment");
    m.finish(rep);
    (rep.count() == before).then_some(PlatformConfig {
        kafka,
        engine,
        sinks,
        metrics,
        secrets,
        logging,
        spark,
    })
}

fn kafka(node: Option<&YNode>, rep: &mut Reporter<'_>) -> KafkaConfig {
    let mut k = KafkaConfig {
        bootstrap_servers: default_setting("127.0.0.1:9092"),
        schema_registry: SchemaRegistryConfig {
            url: default_setting("http://127.0.0.1:8081"),
            subject_strategy: "topic_name".into(),
            username: None,
            password: None,
        },
        topic_template: "{domain}.{event_type}".into(),
        dlq_topic_template: "{domain}.dlq".into(),
        topic_template_pos: None,
        dlq_topic_template_pos: None,
        partitions: 6,
        replication_factor: 1,
        retention: HumanDuration::parse("7d").unwrap_or_default(),
        compression: "lz4".into(),
        group_id: "sluice".into(),
        properties: BTreeMap::new(),
    };
    let Some(node) = node else { return k };
    let Some(mut m) = MapReader::new(node, "kafka", rep) else {
        return k;
    };
    if let Some(n) = m.optional("bootstrap_servers") {
        if let Some(s) = setting(n, "kafka.bootstrap_servers", rep) {
            k.bootstrap_servers = s;
        }
    }
    if let Some(n) = m.optional("schema_registry") {
        if let Some(mut r) = MapReader::new(n, "kafka.schema_registry", rep) {
            if let Some(n) = r.optional("url") {
                if let Some(s) = setting(n, "kafka.schema_registry.url", rep) {
                    k.schema_registry.url = s;
                }
            }
            if let Some(n) = r.optional("subject_strategy") {
                let opts = [
                    ("topic_name", "topic_name"),
                    ("record_name", "record_name"),
                    ("topic_record_name", "topic_record_name"),
                ];
                if let Some(s) =
                    read::choice(n, "kafka.schema_registry.subject_strategy", &opts, rep)
                {
                    k.schema_registry.subject_strategy = s.to_string();
                }
            }
            k.schema_registry.username = r
                .optional("username")
                .and_then(|n| setting(n, "kafka.schema_registry.username", rep));
            k.schema_registry.password = r
                .optional("password")
                .and_then(|n| setting(n, "kafka.schema_registry.password", rep));
            r.finish(rep);
        }
    }
    let templates = [
        ("topic_template", rules::TOPIC_PLACEHOLDERS, false),
        ("dlq_topic_template", rules::DLQ_PLACEHOLDERS, true),
    ];
    for (key, placeholders, dlq) in templates {
        let Some(n) = m.optional(key) else { continue };
        let path = join("kafka", key);
        let Some(s) = plain_string(n, &path, rep) else {
            continue;
        };
        if let Err(p) = rules::topic_template(&s, placeholders, dlq) {
            rules::report(rep, n.pos, &path, p);
            continue;
        }
        if dlq {
            k.dlq_topic_template = s;
            k.dlq_topic_template_pos = Some(n.pos);
        } else {
            k.topic_template = s;
            k.topic_template_pos = Some(n.pos);
        }
    }
    if let Some(n) = m.optional("partitions") {
        if let Some(v) = read::uint(n, "kafka.partitions", rep) {
            match rules::partitions(v) {
                Ok(()) => k.partitions = u32::try_from(v).unwrap_or(u32::MAX),
                Err(p) => rules::report(rep, n.pos, "kafka.partitions", p),
            }
        }
    }
    if let Some(n) = m.optional("replication_factor") {
        if let Some(v) = read::uint(n, "kafka.replication_factor", rep) {
            match rules::replication_factor(v) {
                Ok(()) => k.replication_factor = u32::try_from(v).unwrap_or(u32::MAX),
                Err(p) => rules::report(rep, n.pos, "kafka.replication_factor", p),
            }
        }
    }
    if let Some(n) = m.optional("retention") {
        if let Some(v) = read::duration(n, "kafka.retention", rep) {
            k.retention = v;
        }
    }
    if let Some(n) = m.optional("compression") {
        let opts = [
            ("none", "none"),
            ("gzip", "gzip"),
            ("snappy", "snappy"),
            ("lz4", "lz4"),
            ("zstd", "zstd"),
        ];
        if let Some(v) = read::choice(n, "kafka.compression", &opts, rep) {
            k.compression = v.to_string();
        }
    }
    if let Some(n) = m.optional("group_id") {
        if let Some(v) = plain_string(n, "kafka.group_id", rep) {
            if v.trim().is_empty() {
                let d = rep.error(n.pos, "kafka.group_id", "the consumer group id is empty");
                d.expected = Some("a consumer group name such as `sluice`".into());
                d.suggestion = Some("remove the key to use `sluice`".into());
            } else {
                k.group_id = v;
            }
        }
    }
    if let Some(n) = m.optional("properties") {
        if let Some(mut p) = MapReader::new(n, "kafka.properties", rep) {
            for (key, v) in p.rest() {
                let path = join("kafka.properties", &key.name);
                if let Some(s) = setting(v, &path, rep) {
                    k.properties.insert(key.name.clone(), s);
                }
            }
        }
    }
    m.finish(rep);
    k
}

fn spark(node: &YNode, rep: &mut Reporter<'_>) -> Option<SparkConfig> {
    let mut m = MapReader::new(node, "spark", rep)?;
    let app_name = m
        .optional("app_name")
        .and_then(|n| plain_string(n, "spark.app_name", rep));
    let master = m
        .optional("master")
        .and_then(|n| plain_string(n, "spark.master", rep));
    let trigger_interval = m
        .optional("trigger_interval")
        .and_then(|n| read::duration(n, "spark.trigger_interval", rep));
    let mut watermark_delay = None;
    if let Some(w) = m.optional("watermark") {
        if let Some(mut wm) = MapReader::new(w, "spark.watermark", rep) {
            watermark_delay = wm
                .optional("delay")
                .and_then(|n| read::duration(n, "spark.watermark.delay", rep));
            wm.finish(rep);
        }
    }
    m.ignore("checkpoint_location");
    m.ignore("shuffle_partitions");
    m.finish(rep);
    Some(SparkConfig {
        app_name,
        master,
        trigger_interval,
        watermark_delay,
    })
}

fn engine(node: Option<&YNode>, rep: &mut Reporter<'_>) -> EngineConfig {
    let d = |s: &str| HumanDuration::parse(s).unwrap_or_default();
    let mut e = EngineConfig {
        watermark_delay: d("10s"),
        allowed_lateness: d("0s"),
        trigger_interval: d("1s"),
        idle_timeout: d("30s"),
        max_future_skew: d("1h"),
        early_results: false,
        max_open_groups: None,
        late_events: "dead_letter".into(),
    };
    let Some(node) = node else { return e };
    let Some(mut m) = MapReader::new(node, "engine", rep) else {
        return e;
    };
    let durations: [(&'static str, &mut HumanDuration); 5] = [
        ("watermark_delay", &mut e.watermark_delay),
        ("allowed_lateness", &mut e.allowed_lateness),
        ("trigger_interval", &mut e.trigger_interval),
        ("idle_timeout", &mut e.idle_timeout),
        ("max_future_skew", &mut e.max_future_skew),
    ];
    for (key, slot) in durations {
        if let Some(n) = m.optional(key) {
            if let Some(v) = read::duration(n, &join("engine", key), rep) {
                *slot = v;
            }
        }
    }
    if let Some(n) = m.optional("early_results") {
        if let Some(v) = read::boolean(n, "engine.early_results", rep) {
            e.early_results = v;
        }
    }
    if let Some(n) = m.optional("max_open_groups") {
        if let Some(v) = read::uint(n, "engine.max_open_groups", rep) {
            if v == 0 {
                rep.expected(
                    n.pos,
                    "engine.max_open_groups",
                    "0 would refuse every event".to_string(),
                    "a positive number of groups such as `1000000`, or leave the key out for no limit",
                );
            } else {
                e.max_open_groups = Some(v);
            }
        }
    }
    if let Some(n) = m.optional("late_events") {
        let opts = [("dead_letter", "dead_letter")];
        if let Some(v) = read::choice(n, "engine.late_events", &opts, rep) {
            e.late_events = v.to_string();
        }
    }
    m.finish(rep);
    e
}

fn sinks(node: Option<&YNode>, rep: &mut Reporter<'_>) -> SinksConfig {
    let mut s = SinksConfig {
        default: "duckdb".into(),
        duckdb: DuckDbConfig {
            path: "./data/sluice.duckdb".into(),
        },
        clickhouse: ClickHouseConfig {
            url: default_setting("http://127.0.0.1:8123"),
            database: "sluice".into(),
            user: default_setting("default"),
            password: default_setting(""),
            create_tables: true,
            ttl: None,
        },
        jsonl: JsonlConfig { path: "-".into() },
    };
    let Some(node) = node else { return s };
    let Some(mut m) = MapReader::new(node, "sinks", rep) else {
        return s;
    };
    if let Some(n) = m.optional("default") {
        let opts = [
            ("duckdb", "duckdb"),
            ("clickhouse", "clickhouse"),
            ("jsonl", "jsonl"),
        ];
        if let Some(v) = read::choice(n, "sinks.default", &opts, rep) {
            s.default = v.to_string();
        }
    }
    if let Some(n) = m.optional("duckdb") {
        if let Some(mut d) = MapReader::new(n, "sinks.duckdb", rep) {
            if let Some(p) = d
                .optional("path")
                .and_then(|n| plain_string(n, "sinks.duckdb.path", rep))
            {
                s.duckdb.path = p;
            }
            d.finish(rep);
        }
    }
    if let Some(n) = m.optional("clickhouse") {
        if let Some(mut c) = MapReader::new(n, "sinks.clickhouse", rep) {
            if let Some(v) = c
                .optional("url")
                .and_then(|n| setting(n, "sinks.clickhouse.url", rep))
            {
                s.clickhouse.url = v;
            }
            if let Some(v) = c.optional("database") {
                let path = "sinks.clickhouse.database";
                if matches!(&v.value, YValue::Scalar { text, .. } if text.trim().is_empty()) {
                    let d = rep.error(v.pos, path, "the ClickHouse database name is empty");
                    d.expected = Some(
                        "a name of lowercase letters, digits and `_` (it is quoted as `name` in DDL)"
                            .into(),
                    );
                    d.suggestion = Some("remove the key to use `sluice`".into());
                } else if let Some(v) = read::ident(v, path, rep) {
                    s.clickhouse.database = v;
                }
            }
            if let Some(v) = c
                .optional("user")
                .and_then(|n| setting(n, "sinks.clickhouse.user", rep))
            {
                s.clickhouse.user = v;
            }
            if let Some(v) = c
                .optional("password")
                .and_then(|n| setting(n, "sinks.clickhouse.password", rep))
            {
                s.clickhouse.password = v;
            }
            if let Some(v) = c
                .optional("create_tables")
                .and_then(|n| read::boolean(n, "sinks.clickhouse.create_tables", rep))
            {
                s.clickhouse.create_tables = v;
            }
            s.clickhouse.ttl = c
                .optional("ttl")
                .and_then(|n| read::duration(n, "sinks.clickhouse.ttl", rep));
            c.finish(rep);
        }
    }
    if let Some(n) = m.optional("jsonl") {
        if let Some(mut j) = MapReader::new(n, "sinks.jsonl", rep) {
            if let Some(p) = j
                .optional("path")
                .and_then(|n| plain_string(n, "sinks.jsonl.path", rep))
            {
                s.jsonl.path = p;
            }
            j.finish(rep);
        }
    }
    m.finish(rep);
    s
}

fn metrics(node: Option<&YNode>, rep: &mut Reporter<'_>) -> MetricsConfig {
    let mut c = MetricsConfig {
        enabled: false,
        address: "127.0.0.1:9464".into(),
    };
    let Some(node) = node else { return c };
    let Some(mut m) = MapReader::new(node, "metrics", rep) else {
        return c;
    };
    if let Some(v) = m
        .optional("enabled")
        .and_then(|n| read::boolean(n, "metrics.enabled", rep))
    {
        c.enabled = v;
    }
    if let Some(v) = m
        .optional("address")
        .and_then(|n| plain_string(n, "metrics.address", rep))
    {
        c.address = v;
    }
    m.finish(rep);
    c
}

fn logging(node: Option<&YNode>, rep: &mut Reporter<'_>) -> LoggingConfig {
    let mut c = LoggingConfig {
        level: "info".into(),
        format: "pretty".into(),
    };
    let Some(node) = node else { return c };
    let Some(mut m) = MapReader::new(node, "logging", rep) else {
        return c;
    };
    if let Some(n) = m.optional("level") {
        if let Some(v) = plain_string(n, "logging.level", rep) {
            match rules::log_directives(&v) {
                Ok(()) => c.level = v,
                Err(p) => rules::report(rep, n.pos, "logging.level", p),
            }
        }
    }
    if let Some(n) = m.optional("format") {
        if let Some(v) = read::choice(
            n,
            "logging.format",
            &[("pretty", "pretty"), ("json", "json")],
            rep,
        ) {
            c.format = v.to_string();
        }
    }
    m.finish(rep);
    c
}

/// Secret backend names and the options each accepts.
pub const SECRET_BACKENDS: &[(&str, &[&str])] = &[
    ("env", &["prefix"]),
    ("dotenv", &["path"]),
    ("file", &["dir"]),
];

fn secrets(node: Option<&YNode>, rep: &mut Reporter<'_>) -> Vec<SecretBackendConfig> {
    // Without a `secrets:` section: environment variables, then `./.env`
    // (the seed's setup).
    let backend = |kind: &str, opt: Option<(&str, &str)>| SecretBackendConfig {
        kind: Spanned::new(kind.into(), Default::default()),
        options: opt
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        pos: Default::default(),
    };
    let default = vec![
        backend("env", None),
        backend("dotenv", Some(("path", ".env"))),
    ];
    let Some(node) = node else { return default };
    let Some(mut m) = MapReader::new(node, "secrets", rep) else {
        return default;
    };
    let mut out = Vec::new();
    if let Some(list) = m.optional("backends") {
        if let Some(items) = read::list(list, "secrets.backends", rep) {
            for (i, item) in items.iter().enumerate() {
                let path = format!("secrets.backends[{i}]");
                let Some(mut b) = MapReader::new(item, &path, rep) else {
                    continue;
                };
                let Some(kn) = b.required("type", rep) else {
                    b.finish(rep);
                    continue;
                };
                let names: Vec<(&str, usize)> = SECRET_BACKENDS
                    .iter()
                    .enumerate()
                    .map(|(i, (n, _))| (*n, i))
                    .collect();
                let Some(idx) = read::choice(kn, &join(&path, "type"), &names, rep) else {
                    b.rest();
                    continue;
                };
                let mut options = BTreeMap::new();
                for opt in SECRET_BACKENDS[idx].1 {
                    if let Some(v) = b
                        .optional(opt)
                        .and_then(|n| plain_string(n, &join(&path, opt), rep))
                    {
                        options.insert(opt.to_string(), v);
                    }
                }
                b.finish(rep);
                out.push(SecretBackendConfig {
                    kind: Spanned::new(SECRET_BACKENDS[idx].0.to_string(), kn.pos),
                    options,
                    pos: item.pos,
                });
            }
        }
    }
    m.finish(rep);
    if out.is_empty() {
        default
    } else {
        out
    }
}

/// Decodes one domain file.
pub fn domain(root: &YNode, rep: &mut Reporter<'_>) -> Option<DomainConfig> {
    let mut m = MapReader::new(root, "", rep)?;
    let name = m
        .required("domain", rep)
        .and_then(|n| read::ident_lenient(n, "domain", rep).map(|v| Spanned::new(v, n.pos)));
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, "description", rep));
    let entity = m.required("entity", rep).and_then(|n| entity(n, rep));
    let mut event_types = Vec::new();
    if let Some(n) = m.required("event_types", rep) {
        if let Some(items) = read::list(n, "event_types", rep) {
            for (i, item) in items.iter().enumerate() {
                if let Some(et) = event_type(item, &format!("event_types[{i}]"), rep) {
                    event_types.push(et);
                }
            }
        }
    }
    let mut aggregations = Vec::new();
    if let Some(n) = m.optional("aggregations") {
        if let Some(items) = read::list(n, "aggregations", rep) {
            for (i, item) in items.iter().enumerate() {
                if let Some(a) = aggregation(item, &format!("aggregations[{i}]"), rep) {
                    aggregations.push(a);
                }
            }
        }
    }
    let money_encoding = m
        .optional("money_encoding")
        .and_then(|n| {
            read::choice(
                n,
                "money_encoding",
                &[
                    ("long", MoneyEncoding::Long),
                    ("decimal", MoneyEncoding::Decimal),
                ],
                rep,
            )
        })
        .unwrap_or_default();
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(DomainConfig {
        domain: name?,
        description,
        entity: entity?,
        event_types,
        aggregations,
        money_encoding,
        generator,
        pos: root.pos,
    })
}

fn entity(node: &YNode, rep: &mut Reporter<'_>) -> Option<EntityConfig> {
    let mut m = MapReader::new(node, "entity", rep)?;
    let pk = m.required("primary_key", rep).and_then(|n| {
        read::ident_lenient(n, "entity.primary_key", rep).map(|v| Spanned::new(v, n.pos))
    });
    let name = m
        .optional("name")
        .and_then(|n| read::string(n, "entity.name", rep));
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(EntityConfig {
        primary_key: pk?,
        name,
        generator,
    })
}

fn event_type(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<EventTypeConfig> {
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, &join(path, "description"), rep));
    let mut lists = [Vec::new(), Vec::new()];
    for (slot, key) in lists.iter_mut().zip(["attributes", "dimensions"]) {
        if let Some(n) = m.optional(key) {
            let lp = join(path, key);
            if let Some(items) = read::list(n, &lp, rep) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(f) = field(item, &format!("{lp}[{i}]"), rep) {
                        slot.push(f);
                    }
                }
            }
        }
    }
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    let [attributes, dimensions] = lists;
    Some(EventTypeConfig {
        name: name?,
        description,
        attributes,
        dimensions,
        generator,
        pos: node.pos,
    })
}

/// A field's `type:` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TypeWord {
    String,
    Int,
    Long,
    Double,
    Boolean,
    Timestamp,
    Enum,
    Money,
}

impl TypeWord {
    /// The type of a word that takes no options.
    fn plain(self) -> Option<FieldType> {
        Some(match self {
            TypeWord::String => FieldType::String,
            TypeWord::Int => FieldType::Int,
            TypeWord::Long => FieldType::Long,
            TypeWord::Double => FieldType::Double,
            TypeWord::Boolean => FieldType::Boolean,
            TypeWord::Timestamp => FieldType::Timestamp,
            TypeWord::Enum | TypeWord::Money => return None,
        })
    }
}

const FIELD_TYPES: &[(&str, TypeWord)] = &[
    ("string", TypeWord::String),
    ("int", TypeWord::Int),
    ("long", TypeWord::Long),
    ("double", TypeWord::Double),
    ("boolean", TypeWord::Boolean),
    ("timestamp", TypeWord::Timestamp),
    ("enum", TypeWord::Enum),
    ("money", TypeWord::Money),
];

fn field(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<FieldConfig> {
    if let YValue::Scalar { .. } = node.value {
        let name = read::ident_lenient(node, path, rep)?;
        return Some(FieldConfig {
            name: Spanned::new(name, node.pos),
            ty: FieldType::String,
            optional: false,
            description: None,
            generator: None,
            pos: node.pos,
        });
    }
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let ty_node = m.optional("type");
    let code = match ty_node {
        Some(n) => read::choice(n, &join(path, "type"), FIELD_TYPES, rep),
        None => Some(TypeWord::String),
    };
    let symbols = m.optional("symbols");
    let currency = m.optional("currency");
    let scale = m.optional("scale");
    let ty = match code {
        Some(TypeWord::Enum) => {
            let mut syms = Vec::new();
            match symbols {
                None => {
                    rep.error(m.pos, path, "an enum needs `symbols`");
                }
                Some(s) => {
                    let sp = join(path, "symbols");
                    for (i, sym) in read::list(s, &sp, rep)
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                    {
                        let ip = format!("{sp}[{i}]");
                        let Some(t) = read::text(sym, &ip, "a symbol", rep) else {
                            continue;
                        };
                        let valid = t
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            rep.expected(
                                sym.pos,
                                &ip,
                                format!("`{t}` is not a valid enum symbol"),
                                "letters, digits and `_`, not starting with a digit (Avro rule)",
                            );
                        } else if syms.iter().any(|s: &String| s == t) {
                            rep.error(sym.pos, &ip, format!("duplicate enum symbol `{t}`"));
                        } else {
                            syms.push(t.to_string());
                        }
                    }
                    if matches!(&s.value, YValue::Seq(l) if l.is_empty()) {
                        rep.error(s.pos, &sp, "an enum needs at least one symbol");
                    }
                }
            }
            Some(FieldType::Enum { symbols: syms })
        }
        Some(TypeWord::Money) => {
            let currency = match currency {
                Some(c) => {
                    read::text(c, &join(path, "currency"), "a currency code", rep).and_then(|t| {
                        if t.len() == 3 && t.chars().all(|c| c.is_ascii_uppercase()) {
                            Some(t.to_string())
                        } else {
                            rep.expected(
                                c.pos,
                                &join(path, "currency"),
                                format!("`{t}` is not a currency code"),
                                "an ISO 4217 code such as `USD`",
                            );
                            None
                        }
                    })
                }
                None => Some("USD".to_string()),
            };
            let scale = match scale {
                Some(s) => read::uint(s, &join(path, "scale"), rep).and_then(|v| {
                    if v <= 9 {
                        Some(v as u32)
                    } else {
                        rep.expected(
                            s.pos,
                            &join(path, "scale"),
                            format!("scale `{v}` is too large"),
                            "0 to 9 digits",
                        );
                        None
                    }
                }),
                None => Some(2),
            };
            Some(FieldType::Money {
                currency: currency.unwrap_or_default(),
                scale: scale.unwrap_or(2),
            })
        }
        Some(c) => {
            for (key, n) in [
                ("symbols", symbols),
                ("currency", currency),
                ("scale", scale),
            ] {
                if let Some(n) = n {
                    let t = FIELD_TYPES
                        .iter()
                        .find(|(_, x)| *x == c)
                        .map(|(n, _)| *n)
                        .unwrap_or("?");
                    rep.error(
                        n.pos,
                        &join(path, key),
                        format!("`{key}` does not apply to type `{t}`"),
                    );
                }
            }
            c.plain()
        }
        None => None,
    };
    let optional = m
        .optional("optional")
        .and_then(|n| read::boolean(n, &join(path, "optional"), rep));
    let required = m
        .optional("required")
        .and_then(|n| read::boolean(n, &join(path, "required"), rep));
    if let (Some(o), Some(r)) = (optional, required) {
        if o == r {
            rep.error(
                m.pos,
                path,
                "`optional` and `required` contradict each other; keep one",
            );
        }
    }
    let optional = optional.unwrap_or(false) || required == Some(false);
    let description = m
        .optional("description")
        .and_then(|n| read::string(n, &join(path, "description"), rep));
    let generator = m.optional("generator").cloned();
    m.finish(rep);
    Some(FieldConfig {
        name: name?,
        ty: ty?,
        optional,
        description,
        generator,
        pos: node.pos,
    })
}

fn names(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Vec<Spanned<String>> {
    if let YValue::Scalar { .. } = node.value {
        return read::ident(node, path, rep)
            .map(|v| vec![Spanned::new(v, node.pos)])
            .unwrap_or_default();
    }
    let mut out = Vec::new();
    for (i, item) in read::list(node, path, rep)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(v) = read::ident(item, &format!("{path}[{i}]"), rep) {
            out.push(Spanned::new(v, item.pos));
        }
    }
    out
}

fn aggregation(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<AggregationConfig> {
    let mut m = MapReader::new(node, path, rep)?;
    let name = m.required("name", rep).and_then(|n| {
        read::ident_lenient(n, &join(path, "name"), rep).map(|v| Spanned::new(v, n.pos))
    });
    let kind = m.required("type", rep).and_then(|n| {
        read::choice(n, &join(path, "type"), AggregateKind::ALL, rep)
            .map(|k| Spanned::new(k, n.pos))
    });
    let field = m
        .optional("field")
        .and_then(|n| read::ident(n, &join(path, "field"), rep).map(|v| Spanned::new(v, n.pos)));
    let mut quantiles = Vec::new();
    if let Some(q) = m.optional("quantiles") {
        let qp = join(path, "quantiles");
        let items = read::list(q, &qp, rep).unwrap_or_default();
        if matches!(&q.value, YValue::Seq(l) if l.is_empty()) {
            let d = rep.error(q.pos, &qp, "the `quantiles` list is empty");
            d.expected = Some("at least one quantile, e.g. `[0.5, 0.99]`".into());
            d.suggestion =
                Some("remove the key for the default quantiles 0.5, 0.9 and 0.99".into());
        }
        // (index, value) of each accepted quantile, to find repeats
        let mut seen: Vec<(usize, f64)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{qp}[{i}]");
            if let Some(v) = read::float(item, &ip, rep) {
                if v > 0.0 && v < 1.0 {
                    // Each quantile becomes a result column named after it
                    // with at most three decimals of the percentage
                    // (`sluice_connectors::table::quantile_column`), so two
                    // quantiles equal at that precision would share one.
                    let key = |q: f64| (q * 100.0 * 1000.0).round();
                    if let Some((j, w)) = seen.iter().find(|(_, w)| key(*w) == key(v)) {
                        let d = rep.error(
                            item.pos,
                            &ip,
                            if *w == v {
                                format!("quantile `{v}` is listed twice (also {qp}[{j}])")
                            } else {
                                format!("quantile `{v}` is the same as `{w}` ({qp}[{j}]) at the 5 decimals that name result columns")
                            },
                        );
                        d.suggestion = Some("remove the repeated quantile".into());
                    } else {
                        seen.push((i, v));
                        quantiles.push(v);
                    }
                } else {
                    rep.expected(
                        item.pos,
                        &ip,
                        format!("quantile `{v}` is out of range"),
                        "a number strictly between 0 and 1, e.g. `0.99`",
                    );
                }
            }
        }
    }
    let event_types = m
        .optional("event_types")
        .map(|n| names(n, &join(path, "event_types"), rep))
        .unwrap_or_default();
    let window = m
        .required("window", rep)
        .and_then(|n| window(n, &join(path, "window"), rep));
    let group_by = m
        .optional("group_by")
        .map(|n| names(n, &join(path, "group_by"), rep))
        .unwrap_or_default();
    let mut filter = Vec::new();
    if let Some(f) = m.optional("filter") {
        let fp = join(path, "filter");
        for (i, item) in read::list(f, &fp, rep)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(p) = predicate(item, &format!("{fp}[{i}]"), rep) {
                filter.push(Spanned::new(p, item.pos));
            }
        }
    }
    let watermark_delay = m
        .optional("watermark_delay")
        .and_then(|n| read::duration(n, &join(path, "watermark_delay"), rep));
    let allowed_lateness = m
        .optional("allowed_lateness")
        .and_then(|n| read::duration(n, &join(path, "allowed_lateness"), rep));
    let sink_table = m.optional("sink_table").and_then(|n| {
        read::ident(n, &join(path, "sink_table"), rep).map(|v| Spanned::new(v, n.pos))
    });
    m.finish(rep);
    let name = name?;
    let sink_table = sink_table.unwrap_or_else(|| name.clone());
    Some(AggregationConfig {
        name,
        kind: kind?,
        field,
        quantiles,
        event_types,
        window: window?,
        group_by,
        filter,
        watermark_delay,
        allowed_lateness,
        sink_table,
        pos: node.pos,
    })
}

fn window(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Spanned<WindowSpec>> {
    let mut m = MapReader::new(node, path, rep)?;
    #[derive(Clone, Copy)]
    enum Kind {
        Tumbling,
        Sliding,
        Session,
        Cumulative,
    }
    let kinds = [
        ("tumbling", Kind::Tumbling),
        ("sliding", Kind::Sliding),
        ("hopping", Kind::Sliding),
        ("session", Kind::Session),
        ("cumulative", Kind::Cumulative),
    ];
    let kind = m
        .required("type", rep)
        .and_then(|n| read::choice(n, &join(path, "type"), &kinds, rep));
    let dur = |m: &mut MapReader<'_>, key: &'static str, rep: &mut Reporter<'_>| {
        m.required(key, rep)
            .and_then(|n| read::duration(n, &join(path, key), rep).map(|d| (d, n.pos)))
    };
    let spec = match kind? {
        Kind::Tumbling => {
            dur(&mut m, "duration", rep).map(|(size, _)| WindowSpec::Tumbling { size })
        }
        Kind::Sliding => {
            let size = dur(&mut m, "duration", rep);
            let slide = dur(&mut m, "slide", rep);
            size.zip(slide)
                .map(|((size, _), (slide, _))| WindowSpec::Sliding { size, slide })
        }
        Kind::Session => dur(&mut m, "gap", rep).map(|(gap, _)| WindowSpec::Session { gap }),
        Kind::Cumulative => {
            let step = dur(&mut m, "step", rep);
            let max = dur(&mut m, "max_size", rep);
            step.zip(max)
                .map(|((step, _), (max_size, _))| WindowSpec::Cumulative { step, max_size })
        }
    };
    m.finish(rep);
    spec.map(|s| Spanned::new(s, node.pos))
}

fn literal(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Literal> {
    match &node.value {
        YValue::Scalar { text, quoted } => {
            if *quoted {
                return Some(Literal::Str(text.clone()));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Some(Literal::Int(i));
            }
            if text.parse::<f64>().is_ok()
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            {
                return Some(Literal::Decimal(text.clone()));
            }
            match text.as_str() {
                "true" => Some(Literal::Bool(true)),
                "false" => Some(Literal::Bool(false)),
                _ => Some(Literal::Str(text.clone())),
            }
        }
        YValue::Seq(items) => {
            let mut out = Vec::new();
            for (i, it) in items.iter().enumerate() {
                out.push(literal(it, &format!("{path}[{i}]"), rep)?);
            }
            Some(Literal::List(out))
        }
        YValue::Map(_) => {
            rep.expected(
                node.pos,
                path,
                "found a mapping",
                "a value or a list of values",
            );
            None
        }
    }
}

fn predicate(node: &YNode, path: &str, rep: &mut Reporter<'_>) -> Option<Predicate> {
    let mut m = MapReader::new(node, path, rep)?;
    let field = m
        .required("field", rep)
        .and_then(|n| read::ident(n, &join(path, "field"), rep));
    let op = m.required("op", rep).and_then(|n| {
        let t = read::text(n, &join(path, "op"), "an operator", rep)?;
        CompareOp::parse(t).or_else(|| {
            let all: Vec<&str> = CompareOp::ALL.iter().map(|(n, _)| n[0]).collect();
            rep.expected(
                n.pos,
                &join(path, "op"),
                format!("unknown operator `{t}`"),
                one_of(&all),
            );
            None
        })
    });
    let value = m
        .required("value", rep)
        .and_then(|n| literal(n, &join(path, "value"), rep));
    m.finish(rep);
    let op = op?;
    let value = value?;
    let is_list = matches!(value, Literal::List(_));
    if matches!(op, CompareOp::In | CompareOp::NotIn) != is_list {
        rep.error(
            node.pos,
            path,
            if is_list {
                format!("a list value needs `in` or `not_in`, not `{op}`")
            } else {
                format!("`{op}` needs a list value such as `[a, b]`")
            },
        );
        return None;
    }
    Some(Predicate {
        field: field?,
        op,
        value,
    })
}
