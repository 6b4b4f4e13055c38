//! `sluice dlq inspect|replay`: the Kafka dead-letter topic of a domain
//! (`kafka.dlq_topic_template`), listed readably or re-injected into the
//! source topics with the original bytes and keys.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use sluice_kafka::dlq::{feeds, read_dlq, replay_dlq, DlqEntry, DlqStart};
use sluice_kafka::KafkaSettings;

use crate::Cli;

/// Arguments of `sluice dlq`.
#[derive(Args, Debug)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
    /// Address the topics named with this prefix (see `generate --topic-prefix`).
    #[arg(long, global = true)]
    pub topic_prefix: Option<String>,
}

/// Dead-letter topic commands.
#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// Lists dead letters with why and where they came from.
    Inspect {
        /// Domain whose dead-letter topic to read.
        #[arg(long)]
        domain: String,
        /// Show at most this many (oldest first per partition).
        #[arg(long)]
        limit: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DlqFormat::Table)]
        format: DlqFormat,
    },
    /// Re-injects dead letters not replayed before into their source topics.
    Replay {
        /// Domain whose dead-letter topic to replay.
        #[arg(long)]
        domain: String,
        /// Replay at most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// How `inspect` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DlqFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per line.
    Json,
}

const TIMEOUT: Duration = Duration::from_secs(60);

fn settings(cli: &Cli, domain: &str, prefix: Option<&str>) -> anyhow::Result<KafkaSettings> {
    let cfg = super::load(cli, &[domain.to_string()])?;
    if cfg.domain(domain).is_none() {
        anyhow::bail!("unknown domain `{domain}`");
    }
    super::kafka_settings(cli, &cfg, prefix)
}

fn clip(s: &str, n: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= n {
        one_line
    } else {
        one_line
            .chars()
            .take(n.saturating_sub(1))
            .collect::<String>()
            + "…"
    }
}

fn time_text(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), |t| t.to_string())
}

fn table(entries: &[DlqEntry]) -> String {
    let mut rows = vec![[
        "dlq".to_string(),
        "kind".into(),
        "source".into(),
        "timestamp_ms".into(),
        "key".into(),
        "bytes".into(),
        "reason".into(),
    ]];
    for e in entries {
        let source = match (&e.source_topic, e.source_partition, e.source_offset) {
            (Some(t), Some(p), Some(o)) => format!("{t}[{p}]@{o}"),
            (Some(t), _, _) => t.clone(),
            _ => "-".into(),
        };
        rows.push([
            format!("{}@{}", e.partition, e.offset),
            e.kind.clone(),
            source,
            time_text(e.source_timestamp),
            e.key
                .as_ref()
                .map_or_else(|| "-".into(), |k| clip(&String::from_utf8_lossy(k), 24)),
            e.payload.len().to_string(),
            clip(&e.message, 100),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 6 {
                    c.clone()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Runs `sluice dlq ...`.
pub fn run(cli: &Cli, args: &DlqArgs) -> anyhow::Result<()> {
    match &args.command {
        DlqCommand::Inspect {
            domain,
            limit,
            format,
        } => {
            let s = settings(cli, domain, args.topic_prefix.as_deref())?;
            let read = read_dlq(&s, domain, &DlqStart::Beginning, *limit, TIMEOUT)?;
            match format {
                DlqFormat::Json => {
                    for e in &read.entries {
                        println!("{}", e.to_json());
                    }
                }
                DlqFormat::Table => {
                    if read.entries.is_empty() {
                        println!("no dead letters in `{}`", s.dlq_topic(domain));
                    } else {
                        print!("{}", table(&read.entries));
                        println!(
                            "{} dead letter{} in `{}`",
                            read.entries.len(),
                            if read.entries.len() == 1 { "" } else { "s" },
                            s.dlq_topic(domain)
                        );
                    }
                }
            }
        }
        DlqCommand::Replay { domain, limit } => {
            let cfg = super::load(cli, std::slice::from_ref(domain))?;
            let d = cfg
                .domain(domain)
                .ok_or_else(|| anyhow::anyhow!("unknown domain `{domain}`"))?;
            let s = super::kafka_settings(cli, &cfg, args.topic_prefix.as_deref())?;
            let r = replay_dlq(&s, domain, &feeds(d), *limit, TIMEOUT)?;
            for (topic, n) in &r.by_topic {
                println!("{n:>8}  {topic}");
            }
            println!(
                "replayed {} dead letter{} from `{}`{}",
                r.replayed,
                if r.replayed == 1 { "" } else { "s" },
                s.dlq_topic(domain),
                if r.skipped > 0 {
                    format!(" ({} skipped: no source topic)", r.skipped)
                } else {
                    String::new()
                }
            );
            if r.refused > 0 {
                println!(
                    "refused {} late event{}: an aggregation of their event type counted them the first time, and would count them twice",
                    r.refused,
                    if r.refused == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(())
}
