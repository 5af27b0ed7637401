//! The node's Prometheus metrics: one explicit registry, label sets bounded by the deployed
//! apps and their streams (removed on undeploy), served as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Events appended to an app's input log, per input stream.
pub const EVENTS_IN: &str = "spate_events_in";
/// Events published by sinks, per output stream.
pub const EVENTS_OUT: &str = "spate_events_out";
/// Payloads a source rejected (malformed, mistyped) or could not append (queue full).
pub const SOURCE_ERRORS: &str = "spate_source_errors";
/// Events a sink could not deliver (dropped after retries or with its queue full).
pub const SINK_ERRORS: &str = "spate_sink_errors";
/// Time to process one batch of input-log entries in an app.
pub const PROCESSING_SECONDS: &str = "spate_processing_seconds";
/// Time to take and store one app snapshot.
pub const SNAPSHOT_SECONDS: &str = "spate_snapshot_seconds";
/// Size of the last stored snapshot of an app.
pub const SNAPSHOT_BYTES: &str = "spate_snapshot_bytes";
/// Snapshots that could not be taken or stored.
pub const SNAPSHOT_FAILURES: &str = "spate_snapshot_failures";

/// An app and one of its streams.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    pub app: String,
    pub stream: String,
}

/// An app.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    pub app: String,
}

type HistogramFamily = Family<AppLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 10 µs .. ~2.6 s
    Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
}

fn snapshot_histogram() -> Histogram {
    // 100 µs .. ~26 s
    Histogram::new(exponential_buckets(0.000_1, 4.0, 10))
}

/// Every metric the node records.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub events_in: Family<StreamLabels, Counter>,
    pub events_out: Family<StreamLabels, Counter>,
    pub source_errors: Family<StreamLabels, Counter>,
    pub sink_errors: Family<StreamLabels, Counter>,
    pub processing_seconds: HistogramFamily,
    pub snapshot_seconds: HistogramFamily,
    pub snapshot_bytes: Family<AppLabels, Gauge>,
    pub snapshot_failures: Family<AppLabels, Counter>,
    /// HA (refreshed when scraped): role 0 unknown / 1 passive / 2 active, epoch, entries the
    /// passive has not acknowledged, entries queued on the passive, last snapshot (epoch ms).
    pub ha: [Gauge; 5],
}

/// The names of [`Metrics::ha`], with their help.
const HA_GAUGES: [(&str, &str); 5] = [
    ("spate_ha_role", "HA role: 0 unknown, 1 passive, 2 active"),
    (
        "spate_ha_epoch",
        "HA lease epoch of the current term (or the last seen)",
    ),
    (
        "spate_ha_sync_lag_entries",
        "Input-log entries forwarded but not yet acknowledged by the passive node",
    ),
    (
        "spate_ha_passive_queue_entries",
        "Entries queued on this (passive) node for replay",
    ),
    (
        "spate_ha_last_snapshot_timestamp_ms",
        "When the active node last persisted and sent a control message",
    ),
];

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let events_in = Family::<StreamLabels, Counter>::default();
        let events_out = Family::<StreamLabels, Counter>::default();
        let source_errors = Family::<StreamLabels, Counter>::default();
        let sink_errors = Family::<StreamLabels, Counter>::default();
        let processing_seconds = HistogramFamily::new_with_constructor(latency_histogram);
        let snapshot_seconds = HistogramFamily::new_with_constructor(snapshot_histogram);
        let snapshot_bytes = Family::<AppLabels, Gauge>::default();
        let snapshot_failures = Family::<AppLabels, Counter>::default();
        registry.register(
            EVENTS_IN,
            "Events appended to an app's input log",
            events_in.clone(),
        );
        registry.register(
            EVENTS_OUT,
            "Events published by an app's sinks",
            events_out.clone(),
        );
        registry.register(
            SOURCE_ERRORS,
            "Payloads a source rejected or could not append",
            source_errors.clone(),
        );
        registry.register(
            SINK_ERRORS,
            "Events a sink could not deliver",
            sink_errors.clone(),
        );
        registry.register(
            PROCESSING_SECONDS,
            "Time to process one batch of input-log entries",
            processing_seconds.clone(),
        );
        registry.register(
            SNAPSHOT_SECONDS,
            "Time to take and store an app snapshot",
            snapshot_seconds.clone(),
        );
        registry.register(
            SNAPSHOT_BYTES,
            "Size of the last stored app snapshot",
            snapshot_bytes.clone(),
        );
        registry.register(
            SNAPSHOT_FAILURES,
            "App snapshots that could not be taken or stored",
            snapshot_failures.clone(),
        );
        let ha: [Gauge; 5] = Default::default();
        for ((name, help), gauge) in HA_GAUGES.iter().zip(&ha) {
            registry.register(*name, *help, gauge.clone());
        }
        Metrics {
            registry,
            ha,
            events_in,
            events_out,
            source_errors,
            sink_errors,
            processing_seconds,
            snapshot_seconds,
            snapshot_bytes,
            snapshot_failures,
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "Could not encode the metrics.");
        }
        out
    }

    /// Drops every label set of `app` (on undeploy).
    pub fn forget_app(&self, app: &str, streams: &[String]) {
        for stream in streams {
            let labels = StreamLabels {
                app: app.to_string(),
                stream: stream.clone(),
            };
            self.events_in.remove(&labels);
            self.events_out.remove(&labels);
            self.source_errors.remove(&labels);
            self.sink_errors.remove(&labels);
        }
        let labels = AppLabels {
            app: app.to_string(),
        };
        self.processing_seconds.remove(&labels);
        self.snapshot_seconds.remove(&labels);
        self.snapshot_bytes.remove(&labels);
        self.snapshot_failures.remove(&labels);
    }
}

/// Labels for `stream` of `app`.
pub fn stream_labels(app: &str, stream: &str) -> StreamLabels {
    StreamLabels {
        app: app.to_string(),
        stream: stream.to_string(),
    }
}

/// Labels for `app`.
pub fn app_labels(app: &str) -> AppLabels {
    AppLabels {
        app: app.to_string(),
    }
}
