//! `sluice generate`: synthetic events from a domain's generator hints, as
//! JSON lines, Avro datums or an Avro container file, to stdout or a file,
//! with optional disorder and faults. Progress on stderr (only when it is a
//! terminal) and a summary at the end: events by type, injected faults,
//! throughput.
//!
//! `--duration` is a span of event time: in simulated mode (the default)
//! that is generated as fast as possible; with `--realtime` the output is
//! paced to the wall clock.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_core::HumanDuration;
use sluice_generator::{
    FaultOptions, Format, Generator, GeneratorOptions, Limit, MalformedKind, Summary, TimeMode,
};

/// Arguments of `sluice generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Domain to generate events for.
    #[arg(long)]
    pub domain: String,
    /// Where events go: files/stdout (default, see `--format` and `--out`) or
    /// `kafka` (topics per event type, Confluent wire format, schemas
    /// registered in the schema registry).
    #[arg(long, value_parser = ["file", "kafka"])]
    pub to: Option<String>,
    /// With `--to kafka`: put this in front of every topic name, so the
    /// events land in topics (and registry subjects) of their own; `run`,
    /// `dlq` and `topics` take the same option.
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Only this event type (the domain's journey still runs in full).
    #[arg(long)]
    pub event: Option<String>,
    /// Number of events (duplicates come on top).
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Span of event time to generate, e.g. `10m` or `1h`.
    #[arg(long)]
    pub duration: Option<String>,
    /// Target events per second of event time: `50000`, `50000/s`, `50k/s`,
    /// `3000/m`. Sets the number of concurrent sessions (and the pace with
    /// `--realtime`). Default: the domain's `sessions.concurrent`.
    #[arg(long)]
    pub rate: Option<String>,
    /// Seed: the same seed, configuration and options give the same bytes
    /// (the same default as `sluice run`).
    #[arg(long, default_value_t = sluice_generator::DEFAULT_SEED)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// Output file; `-` or absent for stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Event time starts now and output is paced to the wall clock.
    #[arg(long)]
    pub realtime: bool,
    /// Simulated start time (RFC 3339 such as `2024-01-01T00:00:00Z`, a date
    /// or epoch ms);
    /// default: the domain's `generator.start_time`.
    #[arg(long)]
    pub start_time: Option<String>,
    /// Disorder and faults to inject.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Disorder and faults to inject (shared by `generate` and `run`).
#[derive(clap::Args, Debug, Clone)]
pub struct FaultArgs {
    /// Share (0–1) of events moved back in event time by up to `--max-disorder`.
    #[arg(long, default_value_t = 0.0)]
    pub out_of_order_share: f64,
    /// Bound of out-of-order jitter.
    #[arg(long, default_value = "5s")]
    pub max_disorder: String,
    /// Share (0–1) of events moved back by more than `--lateness`.
    #[arg(long, default_value_t = 0.0)]
    pub late_share: f64,
    /// How far behind the newest event a late event is, at least.
    #[arg(long, default_value = "1m")]
    pub lateness: String,
    /// Share (0–1) of events written twice (same `event_id`).
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_share: f64,
    /// Share (0–1) of malformed records (for dead-letter tests; not with `avro-ocf`).
    #[arg(long, default_value_t = 0.0)]
    pub malformed_share: f64,
    /// Malformed kinds to cycle through: `wrong_type`, `truncated`, `missing_field`.
    #[arg(long, value_delimiter = ',')]
    pub malformed_kinds: Vec<String>,
}

impl FaultArgs {
    /// The fault flags given with a non-default value (usage checks).
    pub fn given(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (flag, set) in [
            ("--out-of-order-share", self.out_of_order_share != 0.0),
            ("--max-disorder", self.max_disorder != "5s"),
            ("--late-share", self.late_share != 0.0),
            ("--lateness", self.lateness != "1m"),
            ("--duplicate-share", self.duplicate_share != 0.0),
            ("--malformed-share", self.malformed_share != 0.0),
            ("--malformed-kinds", !self.malformed_kinds.is_empty()),
        ] {
            if set {
                out.push(flag);
            }
        }
        out
    }

    /// The generator's fault options.
    pub fn options(&self) -> anyhow::Result<FaultOptions> {
        let mut kinds = Vec::new();
        for k in &self.malformed_kinds {
            kinds.push(MalformedKind::parse(k).with_context(|| {
                format!("unknown malformed kind `{k}` (expected `wrong_type`, `truncated` or `missing_field`)")
            })?);
        }
        Ok(FaultOptions {
            out_of_order: self.out_of_order_share,
            max_disorder_ms: duration_ms(&self.max_disorder, "--max-disorder")?.max(1),
            late: self.late_share,
            lateness_ms: duration_ms(&self.lateness, "--lateness")?,
            duplicate: self.duplicate_share,
            malformed: self.malformed_share,
            malformed_kinds: kinds,
            ..FaultOptions::default()
        })
    }
}

/// Output formats on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line (money as integer minor units, times as epoch ms).
    Jsonl,
    /// Plain Avro datums (with several event types, each preceded by its type index).
    Avro,
    /// An Avro object container file with the schema in its header.
    AvroOcf,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Avro => Format::Avro,
            FormatArg::AvroOcf => Format::AvroOcf,
        }
    }
}

/// Parses `50000`, `50000/s`, `50k/s`, `1.5M/s`, `3000/m`, `100/h` into
/// events per second.
pub fn parse_rate(text: &str) -> anyhow::Result<f64> {
    let t = text.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, p)) => (n.trim(), p.trim()),
        None => (t, "s"),
    };
    let divisor = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => bail!("bad rate `{text}`: unknown unit `/{other}` (use /s, /m or /h)"),
    };
    let (digits, mult) = match num.chars().last() {
        Some('k' | 'K') => (&num[..num.len() - 1], 1e3),
        Some('M') => (&num[..num.len() - 1], 1e6),
        _ => (num, 1.0),
    };
    let v: f64 = digits.trim().parse().with_context(|| {
        format!("bad rate `{text}`: expected a number of events such as `50000/s`")
    })?;
    if !(v > 0.0 && v.is_finite()) {
        bail!("bad rate `{text}`: must be positive");
    }
    Ok(v * mult / divisor)
}

fn duration_ms(text: &str, what: &str) -> anyhow::Result<i64> {
    HumanDuration::parse(text)
        .map(|d| d.as_millis_i64())
        .map_err(|e| anyhow::anyhow!("bad {what} `{text}`: {e}"))
}

/// Builds generator options from the arguments.
pub fn options(args: &GenerateArgs) -> anyhow::Result<GeneratorOptions> {
    let duration = args
        .duration
        .as_deref()
        .map(|d| duration_ms(d, "--duration"))
        .transpose()?;
    if args.count.is_none() && duration.is_none() && !args.realtime {
        bail!("give `--count N` or `--duration 10m` (or `--realtime` to run until stopped)");
    }
    let start_time_ms = match &args.start_time {
        Some(t) => Some(
            sluice_generator::time::parse_utc_millis(t).with_context(|| {
                format!("bad --start-time `{t}`: expected e.g. `2024-01-01T00:00:00Z`")
            })?,
        ),
        None => None,
    };
    Ok(GeneratorOptions {
        seed: args.seed,
        start_time_ms,
        time: if args.realtime {
            TimeMode::RealTime
        } else {
            TimeMode::Simulated
        },
        rate: args.rate.as_deref().map(parse_rate).transpose()?,
        concurrent_sessions: None,
        only_event_type: args.event.clone(),
        limit: Limit {
            events: args.count,
            duration_ms: duration,
        },
        faults: args.faults.options()?,
    })
}

/// Runs `sluice generate`.
pub fn run(args: &GenerateArgs, cfg: &sluice_config::Config) -> anyhow::Result<()> {
    let opts = options(args)?;
    let limit = opts.limit;
    let mut g = Generator::from_config(cfg, &args.domain, opts)?;
    let start_ms = g.start_ms();

    let bar = match (limit.events, limit.duration_ms) {
        (Some(n), _) => ProgressBar::new(n),
        (None, Some(d)) => ProgressBar::new(d.max(0) as u64),
        _ => ProgressBar::new_spinner(),
    };
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let template = if limit.events.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec})"
        } else if limit.duration_ms.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let mut progress = |s: &Summary| {
        if limit.events.is_some() {
            bar.set_position(s.base_events);
        } else {
            let span = s.max_event_time.map_or(0, |t| (t - start_ms).max(0));
            if limit.duration_ms.is_some() {
                bar.set_position(span as u64);
            }
            bar.set_message(format!(
                "{} events, {} of event time",
                s.base_events,
                HumanDuration::from_millis(span as u64)
            ));
        }
    };

    let started = Instant::now();
    let format: Format = args.format.into();
    let summary = match args.out.as_deref() {
        None => g.write_to(format, &mut std::io::stdout().lock(), &mut progress)?,
        Some(p) if p.as_os_str() == "-" => {
            g.write_to(format, &mut std::io::stdout().lock(), &mut progress)?
        }
        Some(p) => {
            let mut f = std::fs::File::create(p)
                .with_context(|| format!("cannot create `{}`", p.display()))?;
            let s = g.write_to(format, &mut f, &mut progress)?;
            f.flush()?;
            s
        }
    };
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    eprint!("{}", render_summary(&summary, secs));
    Ok(())
}

/// The end-of-run summary shown on stderr.
pub fn render_summary(s: &Summary, secs: f64) -> String {
    let mut out = String::new();
    let rate = s.base_events as f64 / secs.max(1e-9);
    out.push_str(&format!(
        "generated {} events ({} records, {:.1} MB) in {:.2} s: {:.0} events/s\n",
        s.base_events,
        s.records,
        s.bytes as f64 / 1e6,
        secs,
        rate
    ));
    let width = s.by_type.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, n) in &s.by_type {
        out.push_str(&format!("  {name:<width$}  {n}\n"));
    }
    let f = &s.faults;
    if f.out_of_order + f.late + f.duplicates + f.malformed() > 0 {
        out.push_str(&format!(
            "  faults: out_of_order {}, late {}, duplicates {}, malformed {} (wrong_type {}, truncated {}, missing_field {})\n",
            f.out_of_order,
            f.late,
            f.duplicates,
            f.malformed(),
            f.wrong_type,
            f.truncated,
            f.missing_field
        ));
    }
    if let (Some(a), Some(b)) = (s.min_event_time, s.max_event_time) {
        out.push_str(&format!(
            "  event time {} .. {}\n",
            sluice_generator::time::format_utc_millis(a),
            sluice_generator::time::format_utc_millis(b)
        ));
    }
    out
}
