//! `@sink(type='tcp', url='tcp://host:port/context', @map(type='binary'))`: every batch of
//! output events as one EVENTS frame of Spate's TCP protocol (`docs/tcp-protocol.md`), to a
//! `tcp` source of another (or the same) node. The frame's batch id is the stream's output
//! number of its first event, so a receiver can tell a resent batch.
//!
//! A worker task sends the frames in order, each after the previous one was acknowledged, so
//! the app never waits on the network: `retry` answers and connection failures are retried
//! with backoff (reconnecting), `rejected` batches are dropped with an ERROR. A batch arriving
//! while the queue is full is dropped with an ERROR; drops count in `spate_sink_errors`.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::tcp_protocol::{self as wire, Answer, Status, Writer};
use super::tcp_source::{check_binary_map, normalize_context};
use super::{ConnectorSpec, OptionReader, OutputBatch, Sink, SinkContext, SinkFactory};

/// `url`: `tcp://host:port/context`.
pub const URL: &str = "url";
/// Siddhi's options, accepted without effect: frames are always acknowledged, Nagle is off.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &["sync", "tcp.no.delay", "keep.alive", "worker.threads"];
/// Batches waiting to be sent before new ones are dropped.
const QUEUE_CAPACITY: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const WHAT: &str = "@sink(type='tcp')";

/// The `tcp` sink.
pub struct TcpSinkFactory;

struct TcpSinkOptions {
    addr: String,
    context: String,
}

impl TcpSinkOptions {
    fn read(spec: &ConnectorSpec) -> Result<TcpSinkOptions, String> {
        check_binary_map(spec, WHAT)?;
        let r = OptionReader::new(WHAT, &spec.options);
        let url = r.required(URL)?;
        for key in ACCEPTED_WITHOUT_EFFECT {
            r.string(key);
        }
        let mut accepted = vec!["type", URL];
        accepted.extend_from_slice(ACCEPTED_WITHOUT_EFFECT);
        r.finish(&accepted)?;
        let rest = url
            .strip_prefix("tcp://")
            .ok_or_else(|| format!("{WHAT}: url '{url}' must be tcp://host:port/context"))?;
        let (addr, context) = rest
            .split_once('/')
            .ok_or_else(|| format!("{WHAT}: url '{url}' has no /context after the port"))?;
        let context = normalize_context(context);
        if !addr.contains(':') || context.is_empty() {
            return Err(format!(
                "{WHAT}: url '{url}' must be tcp://host:port/context"
            ));
        }
        Ok(TcpSinkOptions {
            addr: addr.to_string(),
            context: context.to_string(),
        })
    }
}

impl SinkFactory for TcpSinkFactory {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        TcpSinkOptions::read(spec).map(|_| ())
    }

    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String> {
        let options = TcpSinkOptions::read(spec)?;
        let errors = ctx.errors();
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(
            Worker {
                addr: options.addr,
                errors: errors.clone(),
                conn: None,
            }
            .run(rx),
        );
        Ok(Box::new(TcpSink {
            tx,
            errors,
            context: options.context,
            writer: Writer::new(),
        }))
    }
}

/// One encoded frame and what it holds (for logs).
struct Frame {
    id: String,
    bytes: Vec<u8>,
}

struct TcpSink {
    tx: mpsc::Sender<Frame>,
    errors: Counter,
    context: String,
    writer: Writer,
}

impl Sink for TcpSink {
    fn publish(&mut self, batch: &OutputBatch<'_>) {
        let n = batch.events.len();
        if n == 0 {
            return;
        }
        let bytes = self
            .writer
            .events(
                batch.first_seq,
                &self.context,
                (0..n).map(|i| batch.events.row(i)),
            )
            .to_vec();
        let frame = Frame {
            id: batch.event_id(0),
            bytes,
        };
        if let Err(e) = self.tx.try_send(frame) {
            self.errors.inc();
            let id = match &e {
                mpsc::error::TrySendError::Full(f) | mpsc::error::TrySendError::Closed(f) => &f.id,
            };
            tracing::error!(
                first = id,
                events = n,
                "The tcp sink's queue is full; the events are dropped."
            );
        }
    }
}

struct Worker {
    addr: String,
    errors: Counter,
    conn: Option<BufReader<TcpStream>>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Frame>) {
        while let Some(frame) = rx.recv().await {
            self.deliver(&frame).await;
        }
    }

    /// Sends one frame until it is taken or refused for good.
    async fn deliver(&mut self, frame: &Frame) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.exchange(&frame.bytes).await {
                Ok(Answer::Ack {
                    status: Status::Ok, ..
                }) => return,
                Ok(Answer::Ack {
                    status: Status::Rejected,
                    message,
                    ..
                }) => {
                    self.errors.inc();
                    tracing::error!(
                        first = frame.id,
                        addr = self.addr,
                        reason = message,
                        "The tcp sink's receiver rejected a batch; it is dropped."
                    );
                    return;
                }
                Ok(Answer::Ack {
                    status: Status::Retry,
                    message,
                    ..
                }) => {
                    tracing::debug!(
                        first = frame.id,
                        reason = message,
                        "The tcp sink's receiver asked for a retry."
                    );
                }
                Ok(Answer::Error(message)) => {
                    self.conn = None;
                    tracing::warn!(
                        first = frame.id,
                        addr = self.addr,
                        reason = message,
                        "The tcp sink's receiver closed the connection; reconnecting."
                    );
                }
                Err(e) => {
                    self.conn = None;
                    tracing::warn!(first = frame.id, addr = self.addr, error = %e, "The tcp sink cannot reach its receiver; retrying.");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sends `bytes` and reads the answer, connecting first if needed.
    async fn exchange(&mut self, bytes: &[u8]) -> Result<Answer, String> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| e.to_string())?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            self.conn = Some(BufReader::new(stream));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err("not connected".into());
        };
        conn.get_mut()
            .write_all(bytes)
            .await
            .map_err(|e| e.to_string())?;
        let len = conn.read_u32().await.map_err(|e| e.to_string())?;
        let len = wire::check_len(len, wire::DEFAULT_MAX_FRAME_LEN).map_err(|e| e.to_string())?;
        let mut body = vec![0; len];
        conn.read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        wire::read_answer(&body).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::options::Options;

    fn read(url: &str) -> Result<TcpSinkOptions, String> {
        TcpSinkOptions::read(&ConnectorSpec {
            kind: "tcp".into(),
            options: Options::from_pairs([("type", "tcp"), (URL, url)]),
            map: None,
            span: Default::default(),
        })
    }

    #[test]
    fn reads_urls() {
        let o = read("tcp://localhost:9892/Trades").expect("valid");
        assert_eq!(
            (o.addr.as_str(), o.context.as_str()),
            ("localhost:9892", "Trades")
        );
        for bad in ["http://h:1/x", "tcp://h:1", "tcp://h/x", "tcp://h:1/"] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
