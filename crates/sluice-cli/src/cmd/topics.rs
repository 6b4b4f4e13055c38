//! `sluice topics`: a domain's Kafka topics (one per event type and the
//! dead-letter topic) with their partitions and retained messages; with
//! `--recreate`, deleted and created again empty, with `--delete`, removed.
//! `--topic-prefix` addresses an isolated set (see `generate --topic-prefix`).

use clap::Args;
use sluice_kafka::{delete_topics, recreate_topics, topic_states};

use super::query::{render, Format};
use crate::Cli;

/// Arguments of `sluice topics`.
#[derive(Args, Debug)]
pub struct TopicsArgs {
    /// Domain whose topics to show.
    #[arg(long)]
    pub domain: String,
    /// Address the topics (and consumer group) named with this prefix.
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Delete the topics and create them again, empty.
    #[arg(long, conflicts_with = "delete")]
    pub recreate: bool,
    /// Delete the topics.
    #[arg(long)]
    pub delete: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs the command.
pub fn run(cli: &Cli, args: &TopicsArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    let Some(domain) = cfg.domain(&args.domain) else {
        anyhow::bail!("unknown domain `{}`", args.domain);
    };
    let settings = super::kafka_settings(cli, &cfg, args.topic_prefix.as_deref())?;
    let topics = settings.domain_topics(domain);
    if args.delete {
        delete_topics(&settings, &topics)?;
        eprintln!("deleted {}", topics.join(", "));
        return Ok(());
    }
    if args.recreate {
        recreate_topics(&settings, &topics)?;
        eprintln!(
            "recreated {} topics with {} partitions each",
            topics.len(),
            settings.partitions
        );
    }
    let states = topic_states(&settings, &topics)?;
    let result = sluice_connectors::sink::duckdb::QueryResult {
        columns: vec!["topic".into(), "partitions".into(), "messages".into()],
        rows: states
            .into_iter()
            .map(|s| {
                use sluice_connectors::sink::duckdb::QueryCell;
                vec![
                    QueryCell::Text(s.topic),
                    QueryCell::Number(s.partitions.to_string()),
                    QueryCell::Number(s.messages.to_string()),
                ]
            })
            .collect(),
    };
    print!("{}", render(&result, args.format));
    Ok(())
}
