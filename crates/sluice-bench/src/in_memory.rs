//! `sluice bench engine` and `sluice bench metrics`: the engine on Avro
//! events generated into memory, one core, against a baseline measured in
//! the same run (the decode-only loop; the same loop without metrics).

use std::time::Instant;

use serde_json::json;
use sluice_config::Config;
use sluice_connectors::source::generator::GeneratorSource;
use sluice_engine::{EnginePlan, RawBatch};
use sluice_generator::{Generator, GeneratorOptions};

use crate::engine::{case_tumbling_count, measure_decode, run_cases, standard_cases};
use crate::report::{check, ratio, BenchError, Measured, Report};

/// `n` events of `domain`, generated (seed 1) as Avro batches.
pub fn generate_batches(cfg: &Config, domain: &str, n: u64) -> Result<Vec<RawBatch>, BenchError> {
    let opts = GeneratorOptions::events(1, n);
    let mut src = GeneratorSource::new(Generator::from_config(cfg, domain, opts)?, domain);
    Ok(sluice_connectors::source::read_all(&mut src, 8192)?)
}

/// The bench's domain (the configuration's first) and its events in memory.
fn in_memory<'c>(
    cfg: &'c Config,
    events: u64,
    note: &mut dyn FnMut(&str),
) -> Result<(&'c sluice_config::DomainConfig, Vec<RawBatch>), BenchError> {
    let d = cfg
        .domains
        .first()
        .ok_or_else(|| BenchError::Usage("no domain to measure".into()))?;
    note(&format!(
        "generating {events} {} events (Avro, in memory)...",
        d.domain.value
    ));
    let batches = generate_batches(cfg, &d.domain.value, events)?;
    Ok((d, batches))
}

/// `sluice bench engine`: the three standard cases and the domain's whole
/// plan (`all_ecommerce`) (or, with `configured`,
/// the domain's whole plan and each aggregation alone), each against the
/// decode-only loop over the same bytes.
pub fn engine(
    cfg: &Config,
    configured: bool,
    events: u64,
    rounds: u32,
    note: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    let (d, batches) = in_memory(cfg, events, note)?;
    let layouts = d.layouts();
    let (cases, measured): (Vec<(String, EnginePlan)>, Measured) = if configured {
        // the whole plan, then each aggregation alone: what each costs
        let mut cases = vec![(
            format!("all {} aggregations", d.aggregations.len()),
            sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?.plan,
        )];
        for a in &d.aggregations {
            let name = a.name.value.clone();
            let plan =
                sluice_runtime::plan::build(d, &cfg.platform.engine, std::slice::from_ref(&name))?
                    .plan;
            cases.push((name, plan));
        }
        (cases, Measured::domain(d))
    } else {
        let mut cases: Vec<(String, EnginePlan)> = standard_cases(&layouts)
            .into_iter()
            .map(|(n, p)| (n.to_string(), p))
            .collect();
        // and the shipped domain's whole plan: many aggregations at the
        // cost of few? (its own decode baseline: the fields it reads)
        cases.push((
            format!("all_{}", d.domain.value),
            sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?.plan,
        ));
        (
            cases,
            Measured::fixed(
                "three standard cases on ecommerce events",
                &[
                    "tumbling_count_by_device_event_type",
                    "sliding_sum_amount_by_country",
                    "tumbling_approx_distinct_users_by_platform",
                    "all_ecommerce",
                ],
            ),
        )
    };
    let report = run_cases(&cases, &batches, rounds)?;
    // one decode-only baseline over the same bytes, reading every field any
    // case reads (the domain's whole plan is the first case and reads them all)
    let Some((_, first)) = cases.first() else {
        return Err(BenchError::Usage("the domain has no aggregation".into()));
    };
    let mut union = first.clone();
    if !configured {
        // the three standard cases' fields (the whole-plan case has its own
        // same-fields baseline)
        for (_, p) in cases.iter().skip(1).filter(|(n, _)| !n.starts_with("all_")) {
            union.aggregations.extend(p.aggregations.iter().cloned());
        }
    }
    let decode = measure_decode(&union, &batches, rounds)?;
    let json_cases: Vec<_> = report
        .cases
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "events_per_sec": c.events_per_sec.round(),
                "ratio_to_decode_only": ratio(c.events_per_sec / decode),
                "decode_same_fields_events_per_sec": c.decode_events_per_sec.round(),
                "ratio_to_decode_same_fields": ratio(c.ratio_to_decode),
                "state_bytes": c.state_bytes,
                "open_groups": c.open_groups,
            })
        })
        .collect();
    let json = json!({
        "measured": measured.json(),
        "events": report.records,
        "mean_record_bytes": (report.mean_record_bytes * 10.0).round() / 10.0,
        "decode_only_events_per_sec": decode.round(),
        "cases": json_cases,
    });
    let mut text = format!(
        "engine, one core, {} {} events of {:.1} bytes, best of {rounds}; {}\n",
        report.records, measured.domain, report.mean_record_bytes, measured.plan
    );
    text.push_str(&format!(
        "  {:<44} {:>12.0} events/s\n",
        "decode only (every field the cases read)", decode
    ));
    for c in &report.cases {
        text.push_str(&format!(
            "  {:<44} {:>12.0} events/s  {:.2}x decode-only  ({:.2}x decoding the same fields)\n",
            c.name,
            c.events_per_sec,
            c.events_per_sec / decode,
            c.ratio_to_decode
        ));
    }
    Ok(Report { json, text })
}

/// `sluice bench metrics`: the engine (case (a), or with `configured` the
/// domain's plan) with the pipeline's per-batch metric recording and the
/// Prometheus recorder installed, against the same loop without recording,
/// alternating runs.
pub fn metrics_cost(
    cfg: &Config,
    configured: bool,
    events: u64,
    rounds: u32,
    note: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    let (d, batches) = in_memory(cfg, events, note)?;
    let layouts = d.layouts();
    let (plan, tables, measured) = if configured {
        let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
        (built.plan, built.tables, Measured::domain(d))
    } else {
        let built = sluice_runtime::plan::build(
            d,
            &cfg.platform.engine,
            &["events_by_device_and_type".to_string()],
        )?;
        (
            case_tumbling_count(&layouts),
            built.tables,
            Measured::fixed(
                "engine case (a), tumbling 1 minute count by device_type and event_type",
                &["events_per_minute"],
            ),
        )
    };
    let event_types: Vec<String> = layouts.iter().map(|l| l.event_type.clone()).collect();
    let handle = sluice_runtime::observe::install_recorder(&d.domain.value, &[])?;
    let run = |record: bool| -> Result<f64, BenchError> {
        let mut engine = sluice_engine::Engine::new(plan.clone())?;
        let mut out = sluice_engine::Output::new();
        let m = sluice_runtime::pipeline::BatchMetrics::new("generator", &event_types, &tables);
        let t = Instant::now();
        for b in &batches {
            engine.process(b, &mut out);
            if record {
                m.batch(b, 0);
                m.results(&out.results);
            }
            out.clear();
        }
        engine.finish(&mut out);
        Ok(events as f64 / t.elapsed().as_secs_f64().max(1e-9))
    };
    let (mut off, mut on) = (0.0f64, 0.0f64);
    // alternate, and swap which goes first each round, so drift and
    // warm-up favour neither
    for i in 0..rounds {
        if i % 2 == 0 {
            off = off.max(run(false)?);
            on = on.max(run(true)?);
        } else {
            on = on.max(run(true)?);
            off = off.max(run(false)?);
        }
    }
    // the recorder really counted
    check(
        handle
            .render()
            .contains(sluice_core::metrics::EVENTS_IN_TOTAL),
        || "the recorder saw no events".into(),
    )?;
    let json = json!({
        "measured": measured.json(),
        "events": events,
        "metrics_off_events_per_sec": off.round(),
        "metrics_on_events_per_sec": on.round(),
        "ratio": ratio(on / off),
    });
    let text = format!(
        "{}, one core, best of {rounds}\n  metrics off {off:.0} events/s, on {on:.0} events/s, ratio {:.3}\n",
        measured.plan,
        on / off
    );
    Ok(Report { json, text })
}
