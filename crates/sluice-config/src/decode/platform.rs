//! The platform file (`platform.yaml` merged with its environment overlay):
//! Kafka, registry, engine, sinks, metrics, logging, secrets, Spark.

use std::collections::BTreeMap;

use sluice_core::HumanDuration;

use crate::diag::Reporter;
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
        checkpoint_interval: d("10s"),
    };
    let Some(node) = node else { return e };
    let Some(mut m) = MapReader::new(node, "engine", rep) else {
        return e;
    };
    let durations: [(&'static str, &mut HumanDuration); 6] = [
        ("watermark_delay", &mut e.watermark_delay),
        ("allowed_lateness", &mut e.allowed_lateness),
        ("trigger_interval", &mut e.trigger_interval),
        ("idle_timeout", &mut e.idle_timeout),
        ("max_future_skew", &mut e.max_future_skew),
        ("checkpoint_interval", &mut e.checkpoint_interval),
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
    (
        "vault",
        &[
            "address",
            "mount",
            "kv_version",
            "path",
            "namespace",
            "ca_cert",
            "auth",
            "auth_mount",
            "token_env",
            "token_file",
            "role_id",
            "secret_id_env",
            "secret_id_file",
            "role",
            "jwt_file",
        ],
    ),
    (
        "aws_secrets_manager",
        &["region", "prefix", "endpoint", "profile"],
    ),
    (
        "gcp_secret_manager",
        &["project", "version", "prefix", "endpoint", "ca_cert"],
    ),
    ("azure_key_vault", &["vault_url", "endpoint", "ca_cert"]),
];

/// Options of a backend whose value is one of a few (backend, option,
/// values).
pub const SECRET_OPTION_CHOICES: &[(&str, &str, &[&str])] = &[
    ("vault", "kv_version", &["1", "2"]),
    ("vault", "auth", &["token", "approle", "kubernetes"]),
];

/// Options an option value requires: (backend, option, value, needed).
const SECRET_OPTION_NEEDS: &[(&str, &str, &str, &[&str])] = &[
    ("vault", "auth", "approle", &["role_id"]),
    ("vault", "auth", "kubernetes", &["role"]),
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
                let kind = SECRET_BACKENDS[idx].0;
                let mut options = BTreeMap::new();
                for opt in SECRET_BACKENDS[idx].1 {
                    let Some(n) = b.optional(opt) else { continue };
                    let opt_path = join(&path, opt);
                    let Some(v) = plain_string(n, &opt_path, rep) else {
                        continue;
                    };
                    if let Some((_, _, values)) = SECRET_OPTION_CHOICES
                        .iter()
                        .find(|(k, o, _)| *k == kind && o == opt)
                    {
                        let choices: Vec<(&str, ())> = values.iter().map(|v| (*v, ())).collect();
                        if read::choice(n, &opt_path, &choices, rep).is_none() {
                            continue;
                        }
                    }
                    options.insert(opt.to_string(), v);
                }
                for (_, opt, value, needs) in SECRET_OPTION_NEEDS
                    .iter()
                    .filter(|(k, o, v, _)| *k == kind && options.get(*o).is_some_and(|x| x == v))
                {
                    for need in needs.iter().filter(|n| !options.contains_key(**n)) {
                        rep.error(item.pos, &path, format!("`{opt}: {value}` needs `{need}`"));
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
