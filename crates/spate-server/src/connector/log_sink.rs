//! `@sink(type='log', prefix='...', priority='INFO')`: writes each event to the node's log, as
//! Siddhi's LogSink does (`<prefix> : Event{timestamp=..., data=[...], isExpired=false}`, or the
//! JSON text with `@map(type='json')`).

use super::mapper::{PASS_THROUGH, json};
use super::{ConnectorSpec, OptionReader, OutputBatch, Sink, SinkContext, SinkFactory};

/// `prefix`: text before each event (default `<app> : <stream>`).
pub const PREFIX: &str = "prefix";
/// `priority`: TRACE, DEBUG, INFO (default), WARN, ERROR or FATAL.
pub const PRIORITY: &str = "priority";
const ACCEPTED: &[&str] = &["type", PREFIX, PRIORITY];

/// The `log` sink.
pub struct LogSinkFactory;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Priority {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

struct LogSinkOptions {
    prefix: Option<String>,
    priority: Priority,
    json: bool,
}

impl LogSinkOptions {
    fn read(spec: &ConnectorSpec) -> Result<LogSinkOptions, String> {
        super::check_mapper(
            spec,
            "@sink(type='log')",
            PASS_THROUGH,
            &[PASS_THROUGH, json::JSON],
        )?;
        let r = OptionReader::new("@sink(type='log')", &spec.options);
        let prefix = r.string(PREFIX).map(str::to_string);
        let priority = match r.string(PRIORITY).map(str::to_ascii_uppercase).as_deref() {
            None | Some("INFO") => Priority::Info,
            Some("TRACE") => Priority::Trace,
            Some("DEBUG") => Priority::Debug,
            Some("WARN") => Priority::Warn,
            Some("ERROR" | "FATAL") => Priority::Error,
            Some(other) => {
                return Err(format!(
                    "@sink(type='log'): priority '{other}' is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
                ));
            }
        };
        r.finish(ACCEPTED)?;
        Ok(LogSinkOptions {
            prefix,
            priority,
            json: spec.map_kind(PASS_THROUGH) == json::JSON,
        })
    }
}

impl SinkFactory for LogSinkFactory {
    fn kind(&self) -> &'static str {
        "log"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        LogSinkOptions::read(spec).map(|_| ())
    }

    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String> {
        let options = LogSinkOptions::read(spec)?;
        let prefix = options
            .prefix
            .clone()
            .unwrap_or_else(|| format!("{} : {}", ctx.app, ctx.stream_name));
        Ok(Box::new(LogSink { prefix, options }))
    }
}

struct LogSink {
    prefix: String,
    options: LogSinkOptions,
}

impl Sink for LogSink {
    fn publish(&mut self, batch: &OutputBatch<'_>) {
        for i in 0..batch.events.len() {
            let row = batch.events.row(i);
            let payload = if self.options.json {
                json::write_event(batch.schema, row)
            } else {
                let data: Vec<String> = row.iter().map(|v| v.to_java_string()).collect();
                format!(
                    "Event{{timestamp={}, data=[{}], isExpired=false}}",
                    batch.events.ts(i),
                    data.join(", ")
                )
            };
            let prefix = &self.prefix;
            match self.options.priority {
                Priority::Trace => {
                    tracing::trace!(target: "spate::sink::log", "{prefix} : {payload}")
                }
                Priority::Debug => {
                    tracing::debug!(target: "spate::sink::log", "{prefix} : {payload}")
                }
                Priority::Info => {
                    tracing::info!(target: "spate::sink::log", "{prefix} : {payload}")
                }
                Priority::Warn => {
                    tracing::warn!(target: "spate::sink::log", "{prefix} : {payload}")
                }
                Priority::Error => {
                    tracing::error!(target: "spate::sink::log", "{prefix} : {payload}")
                }
            }
        }
    }
}
