//! `@sink(type='http', publisher.url='http://host:port/path', method='POST',
//! headers="'Name:value','Other:value'", @map(type='json'))`: each event as its own request,
//! in order, with the header `X-Spate-Event-Id: <app>/<stream>/<seq>` so a receiver can drop
//! duplicates (ids are deterministic: the same output after a restore has the same id).
//!
//! Requests are made by a worker task so the app never waits on the network. A connection
//! error, a 5xx or a 429 is retried with exponential backoff; other answers are final. An
//! event still failing after the last retry, or arriving while the queue is full, is dropped
//! with an ERROR and counted in `spate_sink_errors`.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use reqwest::Method;
use tokio::sync::mpsc;

use std::sync::Arc;

use super::mapper::{self, SinkMapper, json, keyvalue, text};
use super::{ConnectorSpec, OptionReader, OutputBatch, Sink, SinkContext, SinkFactory};
use crate::ha::HaState;
use crate::metrics::stream_labels;

const WHAT: &str = "@sink(type='http')";
/// The payload formats it writes.
const MAPPERS: &[&str] = &[json::JSON, text::TEXT, keyvalue::KEYVALUE];
/// `publisher.url`: where to send (http only in this build).
pub const PUBLISHER_URL: &str = "publisher.url";
/// `method`: POST (default), PUT, PATCH, DELETE or GET.
pub const METHOD: &str = "method";
/// `headers`: `"'Name:value','Name2:value2'"`.
pub const HEADERS: &str = "headers";
/// `basic.auth.username` / `basic.auth.password`: credentials sent with each request.
pub const BASIC_AUTH_USERNAME: &str = "basic.auth.username";
pub const BASIC_AUTH_PASSWORD: &str = "basic.auth.password";
/// `socket.idle.timeout`: per-request timeout in milliseconds (default 6000).
pub const SOCKET_IDLE_TIMEOUT: &str = "socket.idle.timeout";
/// `retry.count`: attempts after the first (Spate's; default 5).
pub const RETRY_COUNT: &str = "retry.count";
/// The header that carries each event's id.
pub const EVENT_ID_HEADER: &str = "X-Spate-Event-Id";
/// The HA term (lease epoch) an output belongs to; a consumer can refuse an older epoch after
/// it saw a newer one.
pub const EPOCH_HEADER: &str = "X-Spate-Epoch";
/// Events waiting to be sent before new ones are dropped.
const QUEUE_CAPACITY: usize = 10_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const ACCEPTED: &[&str] = &[
    "type",
    PUBLISHER_URL,
    METHOD,
    HEADERS,
    BASIC_AUTH_USERNAME,
    BASIC_AUTH_PASSWORD,
    SOCKET_IDLE_TIMEOUT,
    RETRY_COUNT,
];

/// The `http` sink.
pub struct HttpSinkFactory;

#[derive(Debug, Clone)]
struct HttpSinkOptions {
    url: reqwest::Url,
    method: Method,
    headers: Vec<(String, String)>,
    auth: Option<(String, String)>,
    timeout: Duration,
    retries: u32,
}

impl HttpSinkOptions {
    fn read(spec: &ConnectorSpec) -> Result<HttpSinkOptions, String> {
        let what = WHAT;
        let r = OptionReader::new(what, &spec.options);
        let url = r.required(PUBLISHER_URL)?;
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| format!("{what}: publisher.url '{url}' is not a URL: {e}"))?;
        if parsed.scheme() != "http" {
            return Err(format!(
                "{what}: publisher.url '{url}': only http:// is supported by this build"
            ));
        }
        let method = match r.string(METHOD).map(str::to_ascii_uppercase).as_deref() {
            None | Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some("PATCH") => Method::PATCH,
            Some("DELETE") => Method::DELETE,
            Some("GET") => Method::GET,
            Some(other) => {
                return Err(format!(
                    "{what}: method '{other}' is not POST, PUT, PATCH, DELETE or GET"
                ));
            }
        };
        let headers = match r.string(HEADERS) {
            Some(h) => parse_headers(h).map_err(|e| format!("{what}: {e}"))?,
            None => Vec::new(),
        };
        let auth = match (r.string(BASIC_AUTH_USERNAME), r.string(BASIC_AUTH_PASSWORD)) {
            (Some(u), p) => Some((u.to_string(), p.unwrap_or_default().to_string())),
            (None, Some(_)) => {
                return Err(format!(
                    "{what}: basic.auth.password needs basic.auth.username"
                ));
            }
            (None, None) => None,
        };
        let timeout = Duration::from_millis(r.number(SOCKET_IDLE_TIMEOUT, 6000u64)?);
        let retries = r.number(RETRY_COUNT, 5u32)?;
        r.finish(ACCEPTED)?;
        Ok(HttpSinkOptions {
            url: parsed,
            method,
            headers,
            auth,
            timeout,
            retries,
        })
    }
}

/// Siddhi's header list: `'Name:value','Name2:value2'` (quotes optional).
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            let h = h.trim_matches('\'').trim_matches('"');
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("header '{h}' is not Name:value"))?;
            let name = name.trim();
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("'{name}' is not a header name"))?;
            Ok((name.to_string(), value.trim().to_string()))
        })
        .collect()
}

impl SinkFactory for HttpSinkFactory {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        HttpSinkOptions::read(spec)?;
        mapper::check(spec, false, WHAT, json::JSON, MAPPERS)
    }

    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String> {
        let options = HttpSinkOptions::read(spec)?;
        let mapper =
            mapper::sink_mapper(spec, ctx.stream_name, ctx.schema, WHAT, json::JSON, MAPPERS)?;
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| format!("@sink(type='http'): cannot make an HTTP client: {e}"))?;
        let errors = ctx
            .services
            .metrics
            .sink_errors
            .get_or_create(&stream_labels(ctx.app, ctx.stream_name))
            .clone();
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let ha = ctx.services.ha.clone();
        let worker = Worker {
            content_type: mapper.content_type(),
            client,
            options,
            errors: errors.clone(),
            ha: ha
                .clone()
                .map(|ha| (ha, ctx.app.to_string(), ctx.stream_name.to_string())),
        };
        tokio::spawn(worker.run(rx));
        Ok(Box::new(HttpSink {
            tx,
            errors,
            mapper,
            reports: ha.is_some(),
        }))
    }
}

/// One event to send: its id and body.
struct Request {
    id: String,
    seq: u64,
    epoch: u64,
    body: String,
}

struct HttpSink {
    tx: mpsc::Sender<Request>,
    errors: Counter,
    mapper: Box<dyn SinkMapper>,
    /// HA: the worker reports delivered outputs.
    reports: bool,
}

impl Sink for HttpSink {
    fn reports_delivery(&self) -> bool {
        self.reports
    }

    fn publish(&mut self, batch: &OutputBatch<'_>) {
        for i in 0..batch.events.len() {
            let request = Request {
                id: batch.event_id(i),
                seq: batch.first_seq + i as u64,
                epoch: batch.epoch,
                body: {
                    let mut body = String::new();
                    self.mapper.write(batch.events.row(i), &mut body);
                    body
                },
            };
            if let Err(e) = self.tx.try_send(request) {
                self.errors.inc();
                let id = match &e {
                    mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                        &r.id
                    }
                };
                tracing::error!(
                    event = id,
                    "The http sink's queue is full; the event is dropped."
                );
            }
        }
    }
}

struct Worker {
    content_type: &'static str,
    client: reqwest::Client,
    options: HttpSinkOptions,
    errors: Counter,
    /// HA: the state (output gate, delivery reports), the app and the stream.
    ha: Option<(Arc<HaState>, String, String)>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Request>) {
        while let Some(request) = rx.recv().await {
            if self.send(&request).await
                && let Some((ha, app, stream)) = &self.ha
            {
                ha.published(app, stream, request.seq);
            }
        }
    }

    /// Whether this node may still publish outputs of `epoch` (always, when standalone).
    fn gate_open(&self, epoch: u64) -> bool {
        self.ha
            .as_ref()
            .is_none_or(|(ha, _, _)| ha.epoch() == epoch && ha.may_publish())
    }

    /// Sends one event, retrying what may succeed later; false when it was not delivered
    /// because this node lost its HA term (the new active node publishes it).
    async fn send(&self, request: &Request) -> bool {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..=self.options.retries {
            if !self.gate_open(request.epoch) {
                tracing::debug!(
                    event = request.id,
                    "Not the active node any more; the output is left to the new active node."
                );
                return false;
            }
            let mut builder = self
                .client
                .request(self.options.method.clone(), self.options.url.clone())
                .header(reqwest::header::CONTENT_TYPE, self.content_type)
                .header(EVENT_ID_HEADER, &request.id)
                .body(request.body.clone());
            if self.ha.is_some() {
                builder = builder.header(EPOCH_HEADER, request.epoch);
            }
            for (name, value) in &self.options.headers {
                builder = builder.header(name, value);
            }
            if let Some((user, password)) = &self.options.auth {
                builder = builder.basic_auth(user, Some(password));
            }
            let retryable = match builder.send().await {
                Ok(answer) if answer.status().is_success() => return true,
                Ok(answer) => {
                    let status = answer.status();
                    let retry = status.is_server_error() || status.as_u16() == 429;
                    tracing::warn!(event = request.id, %status, attempt, "The http sink's receiver refused an event.");
                    retry
                }
                Err(e) => {
                    tracing::warn!(event = request.id, error = %e, attempt, "The http sink could not send an event.");
                    true
                }
            };
            if !retryable {
                break;
            }
            if attempt < self.options.retries {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        self.errors.inc();
        tracing::error!(event = request.id, url = %self.options.url, "The http sink gave up on an event; it is dropped.");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_siddhi_header_lists() {
        let h = parse_headers("'Content-Type:application/json', 'X-Team: ops'").expect("valid");
        assert_eq!(
            h,
            vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-Team".to_string(), "ops".to_string())
            ]
        );
        assert!(parse_headers("'nocolon'").is_err());
    }
}
