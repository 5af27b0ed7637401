//! `spate bench`: throughput on in-memory events, comparable with `oracle bench`.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use spate_engine::event::ChunkRef;
use spate_engine::plan::{self, StreamId, StreamOrigin};
use spate_engine::runtime::{AppRuntime, OutputSink};

use crate::events::read_events;

/// Most events handed over in one call.
const MAX_RUN: usize = 1024;

/// Counts output events.
struct Counter(u64);

impl OutputSink for Counter {
    fn on_events(&mut self, _stream: StreamId, _first_seq: u64, events: ChunkRef<'_>) {
        self.0 += events.len() as u64;
    }
}

pub fn run(app: &Path, events: &Path, warmup: usize, repeat: usize) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(app).with_context(|| format!("cannot read {}", app.display()))?;
    let plan = match plan::compile_text(&text) {
        Ok(p) => Arc::new(p),
        Err((text, diags)) => {
            let msg = diags.first().map(|d| d.one_line(&text)).unwrap_or_default();
            println!("{}", serde_json::json!({ "error": msg }));
            return Ok(ExitCode::from(1));
        }
    };
    let input = std::fs::read_to_string(events)
        .with_context(|| format!("cannot read {}", events.display()))?;
    let events = read_events(&input, &plan, &events.display().to_string())?;
    let inputs: HashSet<StreamId> = events.iter().map(|e| e.stream).collect();
    // Lay the rows out contiguously, as a source would hand over a batch.
    let count = events.len();
    let mut offsets = Vec::with_capacity(count + 1);
    let mut values = Vec::new();
    offsets.push(0);
    for e in &events {
        values.extend_from_slice(&e.row);
        offsets.push(values.len());
    }
    let meta: Vec<(StreamId, i64)> = events.iter().map(|e| (e.stream, e.ts)).collect();
    let times: Vec<i64> = events.iter().map(|e| e.ts).collect();
    drop(events);
    let mut rates = Vec::with_capacity(repeat);
    let mut outputs = 0;
    for pass in 0..warmup + repeat {
        let mut runtime =
            AppRuntime::new(plan.clone()).map_err(|d| anyhow::anyhow!(d.one_line(&text)))?;
        for (id, s) in plan.streams.iter().enumerate() {
            if !inputs.contains(&(id as StreamId)) && s.origin != StreamOrigin::Inner {
                runtime.observe(id as StreamId);
            }
        }
        let mut counter = Counter(0);
        runtime.start(&mut counter);
        let t0 = Instant::now();
        // Runs of one stream's events go in together, as a source hands over a batch.
        let mut i = 0;
        while i < count {
            let stream = meta[i].0;
            let mut j = i + 1;
            while j < count && j - i < MAX_RUN && meta[j].0 == stream {
                j += 1;
            }
            runtime.send_batch(
                stream,
                &times[i..j],
                &values[offsets[i]..offsets[j]],
                &mut counter,
            );
            i = j;
        }
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        let rate = count as f64 / secs;
        let label = if pass < warmup { "warmup" } else { "pass" };
        eprintln!(
            "bench: {label} {}: {rate:.0} events/s, {} outputs",
            if pass < warmup {
                pass + 1
            } else {
                pass - warmup + 1
            },
            counter.0
        );
        if pass >= warmup {
            rates.push(rate);
            outputs = counter.0;
        }
    }
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    let median = if n % 2 == 1 {
        rates[n / 2]
    } else {
        (rates[n / 2 - 1] + rates[n / 2]) / 2.0
    };
    println!(
        "{{\"engine\":\"spate-{}\",\"events\":{},\"repeat\":{},\"best_events_per_sec\":{:.1},\"median_events_per_sec\":{:.1},\"outputs\":{}}}",
        env!("CARGO_PKG_VERSION"),
        count,
        n,
        rates[n - 1],
        median,
        outputs
    );
    Ok(ExitCode::SUCCESS)
}
