//! Sources and sinks, declared with Siddhi's annotations (`@source(type='http', ...)`,
//! `@sink(type='log', ...)`) and found in an explicit registry: adding a connector is one file
//! and one line in [`SOURCES`] or [`SINKS`].
//!
//! A source turns payloads into typed rows and appends them to its app's
//! [`InputLog`](crate::input_log::InputLog); it acknowledges its client only once they are
//! there. A sink receives what reaches its stream from the app task and must not block it.

pub mod file_sink;
pub mod file_source;
pub mod file_uri;
pub mod http_sink;
pub mod http_source;
pub mod in_memory;
pub mod listeners;
pub mod log_sink;
pub mod mapper;
pub mod options;
pub mod tcp_protocol;
pub mod tcp_sink;
pub mod tcp_source;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use spate_engine::event::ChunkRef;
use spate_engine::plan::{Schema, StreamId};

use crate::auth::Users;
use crate::input_log::InputLog;
use crate::metrics::Metrics;

pub use options::{ConnectorSpec, MapSpec, OptionReader, Options};

/// What connectors share across the node.
#[derive(Debug)]
pub struct Services {
    /// HTTP listeners of `http` sources, shared by port.
    pub http: Arc<http_source::HttpListeners>,
    /// Listeners of `tcp` sources, shared by address.
    pub tcp: Arc<tcp_source::TcpListeners>,
    /// Topics of `inMemory` sources and sinks.
    pub in_memory: in_memory::Broker,
    /// Users for sources with `basic.auth.enabled='true'`.
    pub users: Arc<Users>,
    pub metrics: Arc<Metrics>,
    /// `wso2.datasources`, for `@store(type='rdbms', datasource='...')` tables.
    pub datasources: Arc<Vec<spate_store::Datasource>>,
    /// Where relative SQLite paths of `@store` tables resolve (the data directory).
    pub data_dir: std::path::PathBuf,
    /// The HA state when the node is one of an HA pair (the output gate, event sync).
    pub ha: Option<Arc<crate::ha::HaState>>,
}

/// The stream a source feeds.
pub struct SourceContext<'a> {
    pub app: &'a str,
    pub stream: StreamId,
    pub stream_name: &'a str,
    pub schema: &'a Arc<Schema>,
    pub log: &'a Arc<InputLog>,
    pub services: &'a Arc<Services>,
}

/// The stream a sink publishes.
pub struct SinkContext<'a> {
    pub app: &'a str,
    pub stream_name: &'a str,
    pub schema: &'a Arc<Schema>,
    pub services: &'a Arc<Services>,
}

impl SourceContext<'_> {
    /// This stream's `spate_events_in` and `spate_source_errors` counters.
    pub fn counters(&self) -> (Counter, Counter) {
        let labels = crate::metrics::stream_labels(self.app, self.stream_name);
        let metrics = &self.services.metrics;
        (
            metrics.events_in.get_or_create(&labels).clone(),
            metrics.source_errors.get_or_create(&labels).clone(),
        )
    }
}

impl SinkContext<'_> {
    /// This stream's `spate_sink_errors` counter.
    pub fn errors(&self) -> Counter {
        let labels = crate::metrics::stream_labels(self.app, self.stream_name);
        self.services
            .metrics
            .sink_errors
            .get_or_create(&labels)
            .clone()
    }
}

/// A running source: dropping it stops the source.
pub type SourceGuard = Box<dyn Send + Sync>;

/// A kind of source.
pub trait SourceFactory: Sync {
    /// The `type` it answers to (lower case).
    fn kind(&self) -> &'static str;
    /// Checks the options without starting anything.
    fn check(&self, spec: &ConnectorSpec) -> Result<(), String>;
    /// Starts the source; it appends to `ctx.log` until the guard is dropped.
    fn start(&self, spec: &ConnectorSpec, ctx: &SourceContext<'_>) -> Result<SourceGuard, String>;
}

/// Events that reached a sink's stream: `first_seq` is the stream's output number of the first.
pub struct OutputBatch<'a> {
    pub app: &'a str,
    /// The epoch of the HA term the outputs belong to (0 when standalone).
    pub epoch: u64,
    pub stream: &'a str,
    pub schema: &'a Schema,
    pub first_seq: u64,
    pub events: ChunkRef<'a>,
}

impl OutputBatch<'_> {
    /// The deterministic id of event `i`: `<app>/<stream>/<seq>`.
    pub fn event_id(&self, i: usize) -> String {
        format!("{}/{}/{}", self.app, self.stream, self.first_seq + i as u64)
    }
}

/// A running sink.
pub trait Sink: Send {
    /// Publishes the batch without blocking the app task.
    fn publish(&mut self, batch: &OutputBatch<'_>);

    /// Whether the sink reports delivered outputs to the HA state itself (it delivers later
    /// than `publish`); otherwise an output counts as delivered once `publish` returned.
    fn reports_delivery(&self) -> bool {
        false
    }
}

/// A kind of sink.
pub trait SinkFactory: Sync {
    /// The `type` it answers to (lower case).
    fn kind(&self) -> &'static str;
    /// Checks the options without creating anything.
    fn check(&self, spec: &ConnectorSpec) -> Result<(), String>;
    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String>;
}

/// Every source kind.
pub static SOURCES: &[&dyn SourceFactory] = &[
    &http_source::HttpSourceFactory,
    &in_memory::InMemorySourceFactory,
    &file_source::FileSourceFactory,
    &tcp_source::TcpSourceFactory,
];

/// Every sink kind.
pub static SINKS: &[&dyn SinkFactory] = &[
    &log_sink::LogSinkFactory,
    &in_memory::InMemorySinkFactory,
    &http_sink::HttpSinkFactory,
    &file_sink::FileSinkFactory,
    &tcp_sink::TcpSinkFactory,
];

/// The source factory for `kind`.
pub fn source(kind: &str) -> Result<&'static dyn SourceFactory, String> {
    SOURCES
        .iter()
        .copied()
        .find(|f| f.kind() == kind)
        .ok_or_else(|| {
            let known: Vec<&str> = SOURCES.iter().map(|f| f.kind()).collect();
            format!(
                "no source of type '{kind}'; this build has {}",
                known.join(", ")
            )
        })
}

/// The sink factory for `kind`.
pub fn sink(kind: &str) -> Result<&'static dyn SinkFactory, String> {
    SINKS
        .iter()
        .copied()
        .find(|f| f.kind() == kind)
        .ok_or_else(|| {
            let known: Vec<&str> = SINKS.iter().map(|f| f.kind()).collect();
            format!(
                "no sink of type '{kind}'; this build has {}",
                known.join(", ")
            )
        })
}

/// Fails unless the `@map` of `spec` is one of `mappers` (lower case) with no options beyond
/// `type`; `what` names the connector in the message.
pub fn check_mapper(
    spec: &ConnectorSpec,
    what: &str,
    default: &str,
    mappers: &[&str],
) -> Result<(), String> {
    let kind = spec.map_kind(default);
    if !mappers.contains(&kind) {
        return Err(format!(
            "{what} cannot use @map(type='{kind}'); it takes {}",
            mappers.join(", ")
        ));
    }
    if let Some(map) = &spec.map {
        if let Some(custom) = &map.custom {
            return Err(format!(
                "{what}: custom mappings (`@{custom}` inside `@map`) are not supported yet; \
                 use the default mapping"
            ));
        }
        OptionReader::new(format!("@map(type='{kind}')"), &map.options).finish(&["type"])?;
    }
    Ok(())
}
