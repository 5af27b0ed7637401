//! `@source(type='http', receiver.url='http://0.0.0.0:8006/path', basic.auth.enabled='false',
//! @map(type='json'))`: events POSTed over HTTP.
//!
//! Sources on the same port share one listener, routed by path. A request is answered 200
//! only once all its events are in the app's input log; 400 with the reason when the payload
//! is malformed or mistyped; 401 without valid credentials (when basic auth is on); 503 when
//! the app's input queue is full or the app is still starting; 413 when the body is too large.
//! On the active node of an HA pair in `ack` mode, 200 also waits until the passive node holds
//! the events; 503 (events not acknowledged) when it has not within `spate.ha.ackTimeoutMillis`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use spate_engine::plan::StreamId;
use tokio::task::JoinHandle;

use super::listeners::{Listeners, Owner, Routes, route};
use super::mapper::{self, SourceMapper, json, keyvalue, text};
use super::{ConnectorSpec, OptionReader, SourceContext, SourceFactory, SourceGuard};
use crate::auth::Users;
use crate::ha::HaState;
use crate::ha::forward::wait_acked;
use crate::input_log::{AppendError, InputLog};
use crate::metrics::stream_labels;

const WHAT: &str = "@source(type='http')";
/// The payload formats it takes.
const MAPPERS: &[&str] = &[json::JSON, text::TEXT, keyvalue::KEYVALUE];
/// `receiver.url`: where to listen (default `http://0.0.0.0:9763/<app>/<stream>`).
pub const RECEIVER_URL: &str = "receiver.url";
/// `basic.auth.enabled`: require the node's users' credentials (default false).
pub const BASIC_AUTH_ENABLED: &str = "basic.auth.enabled";
/// Siddhi's tuning options, accepted without effect (tokio sizes its own workers).
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &["worker.count", "socket.idle.timeout"];
const DEFAULT_PORT: u16 = 9763;
/// Largest request body taken (bigger ones get 413).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The `http` source.
pub struct HttpSourceFactory;

struct HttpSourceOptions {
    addr: SocketAddr,
    path: String,
    basic_auth: bool,
}

impl HttpSourceOptions {
    fn read(spec: &ConnectorSpec, app: &str, stream: &str) -> Result<HttpSourceOptions, String> {
        let r = OptionReader::new(WHAT, &spec.options);
        let default_url = format!("http://0.0.0.0:{DEFAULT_PORT}/{app}/{stream}");
        let url = r.string(RECEIVER_URL).unwrap_or(&default_url);
        let basic_auth = r.bool(BASIC_AUTH_ENABLED, false)?;
        for key in ACCEPTED_WITHOUT_EFFECT {
            r.string(key);
        }
        let mut accepted = vec!["type", RECEIVER_URL, BASIC_AUTH_ENABLED];
        accepted.extend_from_slice(ACCEPTED_WITHOUT_EFFECT);
        r.finish(&accepted)?;
        let (addr, path) = parse_url(url)?;
        Ok(HttpSourceOptions {
            addr,
            path,
            basic_auth,
        })
    }
}

/// `http://host:port/path` → the address to bind and the path.
fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    let bad = |why: &str| format!("receiver.url '{url}': {why}");
    if url.starts_with("https://") {
        return Err(bad("https is not supported yet; use http://"));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("must start with http://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| bad(&format!("cannot resolve the host: {e}")))?
        .next()
        .ok_or_else(|| bad("the host resolves to no address"))?;
    Ok((addr, path.trim_end_matches('/').to_string()))
}

impl SourceFactory for HttpSourceFactory {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        HttpSourceOptions::read(spec, "app", "stream")?;
        mapper::check(spec, true, WHAT, json::JSON, MAPPERS)
    }

    fn start(&self, spec: &ConnectorSpec, ctx: &SourceContext<'_>) -> Result<SourceGuard, String> {
        let options = HttpSourceOptions::read(spec, ctx.app, ctx.stream_name)?;
        let mapper =
            mapper::source_mapper(spec, ctx.stream_name, ctx.schema, WHAT, json::JSON, MAPPERS)?;
        let labels = stream_labels(ctx.app, ctx.stream_name);
        let endpoint = Endpoint {
            app: ctx.app.to_string(),
            stream: ctx.stream,
            stream_name: ctx.stream_name.to_string(),
            mapper,
            log: ctx.log.clone(),
            users: options.basic_auth.then(|| ctx.services.users.clone()),
            ha: ctx.services.ha.clone().filter(|ha| ha.ack),
            events_in: ctx
                .services
                .metrics
                .events_in
                .get_or_create(&labels)
                .clone(),
            errors: ctx
                .services
                .metrics
                .source_errors
                .get_or_create(&labels)
                .clone(),
        };
        let route = ctx.services.http.register(
            options.addr,
            &options.path,
            endpoint,
            "http source",
            serve,
        )?;
        tracing::info!(app = ctx.app, stream = ctx.stream_name, url = %format!("http://{}{}", route.addr, options.path), "HTTP source listening.");
        Ok(Box::new(route))
    }
}

/// Where one source's requests go.
pub struct Endpoint {
    app: String,
    stream: StreamId,
    stream_name: String,
    mapper: Box<dyn SourceMapper>,
    log: Arc<InputLog>,
    users: Option<Arc<Users>>,
    /// HA in `ack` mode: answer only once the passive node holds the events.
    ha: Option<Arc<HaState>>,
    events_in: Counter,
    errors: Counter,
}

impl Owner for Endpoint {
    fn owner(&self) -> String {
        format!("stream `{}` of app `{}`", self.stream_name, self.app)
    }
}

/// The HTTP listeners of all `http` sources, one per address.
pub type HttpListeners = Listeners<Endpoint>;

/// Serves requests on `listener` until the node exits.
fn serve(listener: tokio::net::TcpListener, routes: Routes<Endpoint>) -> JoinHandle<()> {
    let app = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(routes);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "The http source listener stopped.");
        }
    })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "type": "error", "message": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn receive(
    State(routes): State<Routes<Endpoint>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/');
    let Some(endpoint) = route(&routes, path) else {
        return error(StatusCode::NOT_FOUND, format!("no http source at {path}"));
    };
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "send events with POST");
    }
    if let Some(users) = &endpoint.users
        && !users.allows(&headers)
    {
        let mut response = error(StatusCode::UNAUTHORIZED, "valid credentials are required");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"spate\""),
        );
        return response;
    }
    let rows = match endpoint.mapper.read(&body) {
        Ok(rows) => rows,
        Err(message) => {
            endpoint.errors.inc();
            tracing::warn!(app = endpoint.app, stream = endpoint.stream_name, error = %message, "Rejected an HTTP payload.");
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    let n = rows.len() as u64;
    let wait = endpoint.ha.is_some();
    match endpoint
        .log
        .append_events_acked(endpoint.stream, rows, wait)
    {
        Ok((_, acked)) => {
            endpoint.events_in.inc_by(n);
            if let (Some(ha), Some(acked)) = (&endpoint.ha, acked)
                && let Err(message) = wait_acked(ha, acked).await
            {
                endpoint.errors.inc();
                tracing::warn!(app = endpoint.app, stream = endpoint.stream_name, error = %message, "Events not acknowledged: the passive node does not hold them.");
                return error(StatusCode::SERVICE_UNAVAILABLE, message);
            }
            StatusCode::OK.into_response()
        }
        Err(e) => {
            endpoint.errors.inc();
            let status = match e {
                AppendError::Full | AppendError::NotReady | AppendError::Journal => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                AppendError::Closed => StatusCode::GONE,
            };
            error(status, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_receiver_urls() {
        let (addr, path) = parse_url("http://0.0.0.0:8006/foo/").expect("valid");
        assert_eq!((addr.port(), path.as_str()), (8006, "/foo"));
        assert!(parse_url("https://0.0.0.0:8006/x").is_err());
        assert!(parse_url("ftp://x").is_err());
    }
}
