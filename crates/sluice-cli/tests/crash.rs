//! Exactly-once under crashes, with real Kafka, schema registry and
//! ClickHouse: produce N events, run `sluice run --source kafka --sink
//! clickhouse`, SIGKILL it at random moments (10 times by default), restart
//! each time, and finally let it finish: the final views equal the reference
//! model on the same events.
//!
//! Two variants: without checkpoints of open windows (every restart re-reads
//! from the oldest open window, so every run has work and is killed), and
//! with a checkpoint every 300 ms (restarts resume from checkpoints; runs are
//! killed before, between and just after checkpoints until the input is
//! consumed, and at least 3 kills must land after their run saved one).
//!
//! `SLUICE_CRASH_EVENTS` and `SLUICE_CRASH_KILLS` size it (CI: 150 000 events,
//! 10 kills); `SLUICE_CRASH_SEED` replays a run's kill schedule.

#[path = "../../sluice-runtime/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
mod support;
use sluice_config::{load, LoadOptions};
use sluice_connectors::source::generator::GeneratorSource;
use sluice_generator::{Generator, GeneratorOptions};
use support::{repo, shipped_config_with};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A copy of the shipped configuration with this run's topics, group,
/// database, 10 minutes of allowed lateness and the checkpoint interval.
fn config_dir(tag: &str, checkpoint_interval: &str) -> tempfile::TempDir {
    let topics = format!("topic_template: \"{tag}.{{domain}}.{{event_type}}\"");
    let dlq = format!("dlq_topic_template: \"{tag}.{{domain}}.dlq\"");
    let group = format!("group_id: {tag}");
    // static membership: a restarted instance takes its partitions back at
    // once instead of waiting for the killed one's session to expire
    let props = format!("properties: {{ \"group.instance.id\": \"{tag}-a\" }}");
    let database = format!("database: {tag}");
    let checkpoints = format!("checkpoint_interval: {checkpoint_interval}");
    shipped_config_with(&[
        ("topic_template: \"{domain}.{event_type}\"", &topics),
        ("dlq_topic_template: \"{domain}.dlq\"", &dlq),
        ("group_id: sluice", &group),
        ("properties: {}", &props),
        ("allowed_lateness: 0s", "allowed_lateness: 10 minutes"),
        ("database: sluice", &database),
        ("checkpoint_interval: 10 seconds", &checkpoints),
    ])
}

fn sluice(cfg: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env("SLUICE_CONFIG_DIR", cfg)
        .env_remove("SLUICE_ENV")
        .env("RUST_LOG", "warn")
        .current_dir(repo());
    c
}

/// xorshift: a reproducible kill schedule from one seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_counts_nothing_twice() {
    crash("0s", false);
}

#[test]
fn sigkill_between_checkpoints_loses_nothing_and_counts_nothing_twice() {
    crash("300ms", true);
}

/// Produces, kills and restarts, then compares the final views with the
/// reference. `checkpointed`: runs stop being killed once one finishes (its
/// restarts resume from checkpoints, so the input is consumed), and kills
/// after a saved checkpoint are counted instead of kills after writes.
fn crash(checkpoint_interval: &str, checkpointed: bool) {
    let Some((_, client)) = clickhouse("crashprobe") else {
        return;
    };
    let kafka_up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9092".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok();
    if !kafka_up {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_SERVICES").is_none(),
            "SLUICE_REQUIRE_SERVICES is set but Kafka is down"
        );
        eprintln!("skipping: Kafka not running");
        return;
    }
    // resumed runs consume the input: give the checkpointed variant more
    let n = env_u64(
        "SLUICE_CRASH_EVENTS",
        if checkpointed { 300_000 } else { 150_000 },
    );
    let kills = env_u64("SLUICE_CRASH_KILLS", 10);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut rng = env_u64("SLUICE_CRASH_SEED", stamp) | 1;
    eprintln!("kill schedule seed: SLUICE_CRASH_SEED={rng}");
    let tag = format!("crash{stamp}");
    let tag = format!("{tag}{}", if checkpointed { "c" } else { "" });
    let cfg_dir = config_dir(&tag, checkpoint_interval);
    let domain = "ecommerce";
    let seed = 77u64;

    let out = sluice(cfg_dir.path())
        .args(["generate", "--domain", domain, "--to", "kafka"])
        .args(["--count", &n.to_string(), "--seed", &seed.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = |stderr: Stdio| {
        sluice(cfg_dir.path())
            .args([
                "run",
                "--domain",
                domain,
                "--source",
                "kafka",
                "--sink",
                "clickhouse",
            ])
            .args(["--until-end", "--quiet"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };
    // the newest row this run wrote, as seconds since the epoch
    let newest = || {
        client
            .query(&format!(
                "SELECT toUInt32(max(emitted)) FROM `{tag}`.events_per_minute_parts"
            ))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // grows with every checkpoint any lane saves (a lane's new checkpoint
    // replaces the one four before it; -1: none yet)
    let newest_checkpoint = || {
        client
            .query(&format!(
                "SELECT toInt64(sum(id)) FROM `{tag}`._sluice_checkpoints FINAL"
            ))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|_| checkpointed)
            .unwrap_or(-1)
    };
    let mut killed_after_writes = 0;
    let mut killed_after_checkpoints = 0;
    let mut killed = 0;
    let mut i = 0;
    while killed < kills && i < 3 * kills {
        i += 1;
        let checkpoint_before = newest_checkpoint();
        let log = cfg_dir.path().join(format!("run{i}.log"));
        let started_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut child = run(Stdio::from(std::fs::File::create(&log).unwrap()));
        let started = Instant::now();
        // every other kill lands once this run has written results, the
        // others at a random moment (often during startup or the replay)
        let after_write = i % 2 == 0 && !checkpointed;
        // with checkpoints, every other kill lands just after this run saved
        // one (at most 300 ms later), whatever the machine's pace
        let after_checkpoint = i % 2 == 0 && checkpointed;
        let mut saved = false;
        // resumed runs make progress: kill them within 1-3 s (startup takes
        // about one), so several are killed before the input is consumed
        let (from, spread) = if checkpointed {
            (1000, 2000)
        } else {
            (200, 2800)
        };
        let mut wait = Duration::from_millis(from + next(&mut rng) % spread);
        let mut finished = false;
        let mut wrote = false;
        loop {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            if !wrote && newest() > started_secs {
                wrote = true;
                if after_write {
                    wait = started.elapsed() + Duration::from_millis(next(&mut rng) % 800);
                }
            }
            if after_checkpoint && !saved && newest_checkpoint() > checkpoint_before {
                saved = true;
                wait = started.elapsed() + Duration::from_millis(next(&mut rng) % 300);
            }
            let deadline = if (after_write && !wrote) || (after_checkpoint && !saved) {
                Duration::from_secs(30)
            } else {
                wait
            };
            if started.elapsed() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        if finished {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("run {i} finished before its kill: {said}");
            if checkpointed {
                break; // resumed from checkpoints, the input is consumed
            }
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        killed += 1;
        if wrote {
            killed_after_writes += 1;
        }
        if newest_checkpoint() > checkpoint_before {
            killed_after_checkpoints += 1;
        }
        eprintln!(
            "killed run {i} after {:?} ({})",
            started.elapsed(),
            if wrote {
                "after it wrote results"
            } else {
                "before it wrote anything"
            }
        );
    }
    let last = run(Stdio::piped()).wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&last.stderr);
    assert!(last.status.success(), "final run failed: {said}");
    eprintln!("final run: {said}");
    if checkpointed {
        assert!(
            killed_after_checkpoints >= 3,
            "only {killed_after_checkpoints} of {killed} kills landed after their run saved a checkpoint; raise SLUICE_CRASH_EVENTS"
        );
    } else {
        assert_eq!(
            killed, kills,
            "runs ended before they could be killed; raise SLUICE_CRASH_EVENTS"
        );
        assert!(
            killed_after_writes * 2 >= kills.saturating_sub(1),
            "only {killed_after_writes} of {kills} kills landed after results were written; raise SLUICE_CRASH_EVENTS"
        );
    }

    let cfg = {
        let mut o = LoadOptions::new(cfg_dir.path().to_path_buf(), "dev");
        o.vars.clear();
        load(&o).unwrap()
    };
    let d = cfg.domain(domain).unwrap();
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[]).unwrap();
    let generator =
        Generator::from_config(&cfg, domain, GeneratorOptions::events(seed, n)).unwrap();
    let batches = drain(Box::new(GeneratorSource::new(generator, domain)));
    assert_tables_eq(
        &stored_clickhouse(&client, &tag, &built),
        &expected_with(&built, &batches, false),
    );
    client.query(&format!("DROP DATABASE `{tag}`")).ok();
}
