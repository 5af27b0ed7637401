//! `spate replay`: run an app in event time over a file of events and print the outputs.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use spate_engine::event::ChunkRef;
use spate_engine::plan::{self, AppPlan, StreamId, StreamOrigin};
use spate_engine::runtime::{AppRuntime, OutputSink};
use spate_ql::Diagnostic;

use crate::events::{read_events, write_event};

/// Prints events as JSON lines.
struct Printer<'p> {
    plan: &'p AppPlan,
    out: &'p mut dyn Write,
    error: Option<std::io::Error>,
}

impl OutputSink for Printer<'_> {
    fn on_events(&mut self, stream: StreamId, _first_seq: u64, events: ChunkRef<'_>) {
        let name = &self.plan.stream(stream).name;
        for i in 0..events.len() {
            if let Err(e) = write_event(self.out, name, events.ts(i), events.row(i)) {
                self.error.get_or_insert(e);
            }
        }
    }
}

/// The one-line error answer for a rejected app.
fn error_line(text: &str, diags: &[Diagnostic]) -> String {
    let mut msg = diags.first().map(|d| d.one_line(text)).unwrap_or_default();
    if diags.len() > 1 {
        msg.push_str(&format!(" (and {} more)", diags.len() - 1));
    }
    serde_json::json!({ "error": msg }).to_string()
}

/// Compiles the app text and builds a runtime, or returns the error line to print.
fn build(text: &str) -> Result<(Arc<AppPlan>, AppRuntime), String> {
    let plan = plan::compile_text(text).map_err(|(text, d)| error_line(&text, &d))?;
    let plan = Arc::new(plan);
    let runtime = AppRuntime::new(plan.clone()).map_err(|d| error_line(text, &[d]))?;
    Ok((plan, runtime))
}

/// Observes every stream that is neither fed by the input nor an inner stream.
fn observe_outputs(plan: &AppPlan, runtime: &mut AppRuntime, inputs: &HashSet<StreamId>) {
    for (id, s) in plan.streams.iter().enumerate() {
        let id = id as StreamId;
        if !inputs.contains(&id) && s.origin != StreamOrigin::Inner {
            runtime.observe(id);
        }
    }
}

pub fn run(app: &Path, events: &Path, restore_every: Option<usize>) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(app).with_context(|| format!("cannot read {}", app.display()))?;
    let input = std::fs::read_to_string(events)
        .with_context(|| format!("cannot read {}", events.display()))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    replay(
        &text,
        &input,
        &events.display().to_string(),
        restore_every,
        &mut out,
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `text` over the events in `input` (named `file` in messages), writing output lines to
/// `out`. A rejected app writes one `{"error":...}` line and succeeds.
pub fn replay(
    text: &str,
    input: &str,
    file: &str,
    restore_every: Option<usize>,
    out: &mut dyn Write,
) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (plan, mut runtime) = match build(text) {
        Ok(b) => b,
        Err(line) => {
            writeln!(out, "{line}")?;
            return Ok(());
        }
    };
    let events = read_events(input, &plan, file)?;
    let inputs: HashSet<StreamId> = events.iter().map(|e| e.stream).collect();
    observe_outputs(&plan, &mut runtime, &inputs);
    let mut printer = Printer {
        plan: &plan,
        out,
        error: None,
    };
    runtime.start(&mut printer);
    let every = restore_every.filter(|&n| n > 0);
    let (mut times, mut values) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < events.len() {
        // Consecutive events of one stream go in as a batch (the engine gives the same
        // output as one at a time); never across a restore point.
        let stream = events[i].stream;
        let limit = every
            .map_or(events.len(), |n| (i / n + 1) * n)
            .min(events.len());
        let mut j = i;
        times.clear();
        values.clear();
        while j < limit && events[j].stream == stream {
            times.push(events[j].ts);
            values.extend_from_slice(&events[j].row);
            j += 1;
        }
        runtime.send_batch(stream, &times, &values, &mut printer);
        i = j;
        if let Some(n) = every
            && i % n == 0
        {
            let bytes = runtime.snapshot();
            drop(runtime);
            let (fresh_plan, mut fresh) = build(text).map_err(anyhow::Error::msg)?;
            fresh
                .restore(&bytes)
                .context("restoring the snapshot into a fresh runtime")?;
            observe_outputs(&fresh_plan, &mut fresh, &inputs);
            runtime = fresh;
        }
        if let Some(e) = printer.error.take() {
            return Err(e).context("writing output");
        }
    }
    Ok(())
}
