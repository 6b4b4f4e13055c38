//! The `generator` source: the in-process synthetic data generator, one
//! partition (0), offsets counting records from 0. Bounded by the
//! generator's own limit (`--count`, `--duration`) or unbounded.

use sluice_generator::{EncodedBatch, Generator, GeneratorOptions, Limit, TimeMode};

use super::{Source, SourceOutput, SourceStatus};
use crate::{BuildError, BuiltSource, ConnectorError, Context, SourceFactory};

/// `generator`: realistic synthetic events, in simulated time as fast as
/// possible when bounded, else paced to the wall clock.
#[derive(Debug)]
pub struct GeneratorFactory;

impl SourceFactory for GeneratorFactory {
    fn name(&self) -> &'static str {
        "generator"
    }

    fn build(&self, cx: &Context<'_>, _arg: Option<&str>) -> Result<BuiltSource, BuildError> {
        let g = &cx.spec.generator;
        let bounded = g.count.is_some() || g.duration_ms.is_some();
        let opts = GeneratorOptions {
            seed: g.seed.unwrap_or(sluice_generator::DEFAULT_SEED),
            time: if g.realtime || !bounded {
                TimeMode::RealTime
            } else {
                TimeMode::Simulated
            },
            rate: g.rate,
            limit: Limit {
                events: g.count,
                duration_ms: g.duration_ms,
            },
            faults: g.faults.clone(),
            ..GeneratorOptions::default()
        };
        let realtime = opts.time == TimeMode::RealTime;
        let name = &cx.domain.domain.value;
        let gen = Generator::from_config(cx.cfg, name, opts)
            .map_err(|e| BuildError::Usage(e.to_string()))?;
        let per_second = g.rate.unwrap_or_else(|| gen.natural_rate());
        let mut src = GeneratorSource::new(gen, name);
        if realtime {
            // about 100 ms of events per batch
            src = src.with_max_batch((per_second / 10.0).ceil() as usize);
        }
        Ok(BuiltSource::plain(Box::new(src), g.count))
    }
}

/// Pulls batches from a [`Generator`].
#[derive(Debug)]
pub struct GeneratorSource {
    generator: Generator,
    scratch: EncodedBatch,
    next_offset: i64,
    domain: String,
    max_batch: Option<usize>,
}

impl GeneratorSource {
    /// Wraps a configured generator.
    pub fn new(generator: Generator, domain: &str) -> Self {
        Self {
            generator,
            scratch: EncodedBatch::default(),
            next_offset: 0,
            domain: domain.to_string(),
            max_batch: None,
        }
    }

    /// Caps the records per batch. In real time the generator sleeps until
    /// the wall clock reaches a batch's last event, so batches must be small
    /// (about 100 ms of events) for results and stop requests to flow.
    pub fn with_max_batch(mut self, n: usize) -> Self {
        self.max_batch = Some(n.max(1));
        self
    }

    /// The generator (for its summary of injected faults).
    pub fn generator(&self) -> &Generator {
        &self.generator
    }
}

impl Source for GeneratorSource {
    fn describe(&self) -> String {
        format!("generator ({})", self.domain)
    }

    fn next_batch(
        &mut self,
        max_records: usize,
        out: &mut SourceOutput,
    ) -> Result<SourceStatus, ConnectorError> {
        out.clear();
        out.origin = "generator".into();
        out.batch.partition = 0;
        // duplicates may add records beyond `max_records` base events
        let max = self.max_batch.map_or(max_records, |m| m.min(max_records));
        self.generator.fill_mixed(max, &mut self.scratch);
        if self.scratch.is_empty() {
            return Ok(SourceStatus::End);
        }
        // the generator fills the engine's batch type: hand the buffers over
        std::mem::swap(&mut out.batch, &mut self.scratch);
        let b = &mut out.batch;
        b.partition = 0;
        b.first_offset = 0;
        let n = b.ends.len() as i64;
        out.offsets.extend(self.next_offset..self.next_offset + n);
        self.next_offset += n;
        Ok(SourceStatus::More)
    }
}
