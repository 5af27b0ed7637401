//! `@source(type='tcp', context='StreamName', host='0.0.0.0', port='9892')`: events sent in
//! Spate's binary TCP protocol ([`super::tcp_protocol`], `docs/tcp-protocol.md`), e.g. by
//! `spate send --tcp`.
//!
//! Sources on the same host and port share one listener and are told apart by `context`
//! (default `<app>/<stream>`, a leading `/` ignored) as in Siddhi. Each EVENTS frame is
//! answered with an ACK once its events are in the app's input log (`ok`), or with nothing
//! taken: `retry` when the app is busy or starting, `rejected` when the values do not fit
//! the stream (the message names the event and attribute). A frame that breaks the protocol
//! (bad magic or version, truncated, oversized, bad UTF-8, unknown tag) is answered with an
//! ERROR frame and the connection is closed, with the reason in a WARN; the node goes on.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use spate_engine::plan::{Schema, StreamId};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::listeners::{Listeners, Owner, Routes, keys, route};
use super::tcp_protocol::{self as wire, FrameError, Reader, Status, Writer};
use super::{ConnectorSpec, OptionReader, SourceContext, SourceFactory, SourceGuard};
use crate::input_log::{AppendError, InputLog};

/// `context`: which stream a frame is for (default `<app>/<stream>`).
pub const CONTEXT: &str = "context";
/// `host`: the address to listen on (default `0.0.0.0`).
pub const HOST: &str = "host";
/// `port`: the port to listen on (default 9892).
pub const PORT: &str = "port";
/// The mapper: frames carry typed values, so only `binary` (the default).
pub const BINARY: &str = "binary";
/// Siddhi's tuning options, accepted without effect (tokio sizes its workers; Nagle is off).
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "receiver.threads",
    "worker.threads",
    "tcp.no.delay",
    "keep.alive",
];
const DEFAULT_PORT: u16 = 9892;
const WHAT: &str = "@source(type='tcp')";

/// The `tcp` source.
pub struct TcpSourceFactory;

struct TcpSourceOptions {
    bind: SocketAddr,
    context: String,
}

/// `context` without a leading `/`.
pub fn normalize_context(context: &str) -> &str {
    context.trim().trim_start_matches('/')
}

impl TcpSourceOptions {
    fn read(spec: &ConnectorSpec, app: &str, stream: &str) -> Result<TcpSourceOptions, String> {
        check_binary_map(spec, WHAT)?;
        let r = OptionReader::new(WHAT, &spec.options);
        let default_context = format!("{app}/{stream}");
        let context = normalize_context(r.string(CONTEXT).unwrap_or(&default_context)).to_string();
        if context.is_empty() {
            return Err(format!("{WHAT}: `{CONTEXT}` is empty"));
        }
        let host = r.string(HOST).unwrap_or("0.0.0.0");
        let port: u16 = r.number(PORT, DEFAULT_PORT)?;
        for key in ACCEPTED_WITHOUT_EFFECT {
            r.string(key);
        }
        let mut accepted = vec!["type", CONTEXT, HOST, PORT];
        accepted.extend_from_slice(ACCEPTED_WITHOUT_EFFECT);
        r.finish(&accepted)?;
        let bind = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{WHAT}: cannot resolve host '{host}': {e}"))?
            .next()
            .ok_or_else(|| format!("{WHAT}: host '{host}' resolves to no address"))?;
        Ok(TcpSourceOptions { bind, context })
    }
}

/// Fails unless `spec` has no `@map` or `@map(type='binary')` without options.
pub fn check_binary_map(spec: &ConnectorSpec, what: &str) -> Result<(), String> {
    match &spec.map {
        None => Ok(()),
        Some(m) if m.kind == BINARY && m.custom.is_none() => {
            OptionReader::new(format!("@map(type='{BINARY}')"), &m.options).finish(&["type"])
        }
        Some(m) => Err(format!(
            "{what} carries typed values in Spate's binary frames; use @map(type='{BINARY}') \
             or no @map, not @map(type='{}')",
            m.kind
        )),
    }
}

impl SourceFactory for TcpSourceFactory {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        TcpSourceOptions::read(spec, "app", "stream").map(|_| ())
    }

    fn start(&self, spec: &ConnectorSpec, ctx: &SourceContext<'_>) -> Result<SourceGuard, String> {
        let options = TcpSourceOptions::read(spec, ctx.app, ctx.stream_name)?;
        let (events_in, errors) = ctx.counters();
        let endpoint = Endpoint {
            app: ctx.app.to_string(),
            stream: ctx.stream,
            stream_name: ctx.stream_name.to_string(),
            schema: ctx.schema.clone(),
            log: ctx.log.clone(),
            events_in,
            errors,
        };
        let route = ctx.services.tcp.register(
            options.bind,
            &options.context,
            endpoint,
            "tcp source",
            accept,
        )?;
        tracing::info!(app = ctx.app, stream = ctx.stream_name, addr = %route.addr, context = options.context, "TCP source listening.");
        Ok(Box::new(route))
    }
}

/// Where one source's frames go.
pub struct Endpoint {
    app: String,
    stream: StreamId,
    stream_name: String,
    schema: Arc<Schema>,
    log: Arc<InputLog>,
    events_in: Counter,
    errors: Counter,
}

impl Owner for Endpoint {
    fn owner(&self) -> String {
        format!("stream `{}` of app `{}`", self.stream_name, self.app)
    }
}

/// The listeners of all `tcp` sources, one per address.
pub type TcpListeners = Listeners<Endpoint>;

/// Accepts connections on `listener` until the node exits.
fn accept(listener: tokio::net::TcpListener, routes: Routes<Endpoint>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((conn, peer)) => {
                    tokio::spawn(serve(conn, peer, routes.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "The tcp source could not accept a connection.");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}

/// Serves one connection until the client closes it or breaks the protocol.
async fn serve(conn: TcpStream, peer: SocketAddr, routes: Routes<Endpoint>) {
    if let Err(e) = conn.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "Cannot turn Nagle off.");
    }
    let (rd, wr) = conn.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut wr = BufWriter::new(wr);
    let mut connection = Connection {
        routes,
        writer: Writer::new(),
        awaiting_resend: None,
    };
    let mut body = Vec::new();
    loop {
        let len = match rd.read_u32().await {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "A TCP source connection broke.");
                return;
            }
        };
        let answer = match wire::check_len(len, wire::DEFAULT_MAX_FRAME_LEN) {
            Ok(len) => {
                body.resize(len, 0);
                if let Err(e) = rd.read_exact(&mut body).await {
                    tracing::warn!(%peer, error = %e, "A TCP client closed its connection in the middle of a frame.");
                    return;
                }
                connection.handle(&body)
            }
            Err(e) => Err(e.to_string()),
        };
        let (bytes, close) = match &answer {
            Ok(ack) => (ack.as_slice(), false),
            Err(reason) => {
                tracing::warn!(%peer, reason, "Closed a TCP connection that sent a malformed frame.");
                (connection.writer.error(reason), true)
            }
        };
        let sent = match wr.write_all(bytes).await {
            Ok(()) => wr.flush().await,
            Err(e) => Err(e),
        };
        if close || sent.is_err() {
            return;
        }
    }
}

struct Connection {
    routes: Routes<Endpoint>,
    writer: Writer,
    /// After a `retry`, the batch that must come again before anything else is taken.
    awaiting_resend: Option<u64>,
}

impl Connection {
    /// The ACK for one body, or why the connection must close.
    fn handle(&mut self, body: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = Reader::new(body);
        let head = wire::read_events_head(&mut r).map_err(|e| e.to_string())?;
        let batch = head.batch;
        let Some(endpoint) = route(&self.routes, normalize_context(head.context)) else {
            let known = keys(&self.routes);
            let message = format!(
                "no tcp source has the context '{}' here; known contexts: {}",
                head.context,
                known.join(", ")
            );
            return Ok(self.ack(batch, Status::Rejected, &message));
        };
        if let Some(awaited) = self.awaiting_resend
            && awaited != batch
        {
            let message = format!("batch {awaited} was not taken; send from it again");
            return Ok(self.ack(batch, Status::Retry, &message));
        }
        let rows = match wire::read_rows(
            &mut r,
            head.count,
            &endpoint.stream_name,
            &endpoint.schema,
        ) {
            Ok(rows) => rows,
            Err(FrameError::Malformed(m)) => {
                endpoint.errors.inc();
                return Err(format!("malformed frame: {m}"));
            }
            Err(FrameError::Rejected(m)) => {
                endpoint.errors.inc();
                tracing::warn!(app = endpoint.app, stream = endpoint.stream_name, error = %m, "Rejected a TCP batch.");
                return Ok(self.ack(batch, Status::Rejected, &m));
            }
        };
        let n = rows.len() as u64;
        match endpoint.log.append_events(endpoint.stream, rows) {
            Ok(_) => {
                endpoint.events_in.inc_by(n);
                self.awaiting_resend = None;
                Ok(self.ack(batch, Status::Ok, ""))
            }
            Err(e) => {
                if e != AppendError::Full {
                    endpoint.errors.inc();
                }
                self.awaiting_resend = Some(batch);
                Ok(self.ack(batch, Status::Retry, &e.to_string()))
            }
        }
    }

    fn ack(&mut self, batch: u64, status: Status, message: &str) -> Vec<u8> {
        self.writer.ack(batch, status, message).to_vec()
    }
}
