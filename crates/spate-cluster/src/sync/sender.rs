//! The active side: forwards input-log entries to the passive and tells each caller when its
//! entry is acknowledged.
//!
//! At most `window` entries are unacknowledged at once: [`SyncSender::send`] waits for room
//! (backpressure for the sources). Each entry is encoded once and kept until the passive
//! acknowledges it; after a reconnect the passive's welcome says what it already holds and the
//! sender resends only what follows, so nothing is lost or delivered twice. Control messages
//! and watermarks are state, not log: the latest per app (per stream) is sent ahead of entries
//! and again after every reconnect.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::codec::{DEFAULT_MAX_FRAME_LEN, FrameCodec, encode_body, encode_entry};
use super::frame::{Control, Entry, Frame, Hello, PROTOCOL_VERSION, Watermark};
use crate::error::{ClusterError, RefusalCode, Result};

/// The sender's settings.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The cluster group.
    pub group_id: String,
    /// This node's id.
    pub node_id: String,
    /// This node's lease epoch (the receiver refuses older epochs than it has seen).
    pub epoch: u64,
    /// The most unacknowledged entries at once.
    pub window: usize,
    /// The largest frame sent.
    pub max_frame_len: usize,
    /// How long a connection attempt (and the handshake) may take.
    pub connect_timeout: Duration,
    /// First and longest wait between reconnection attempts (doubling in between).
    pub backoff: (Duration, Duration),
    /// A ping is sent after this long without traffic; no frame from the receiver for three
    /// times this long ends the connection.
    pub keepalive: Duration,
}

impl SenderConfig {
    /// Defaults: window 1024, 16 MiB frames, 2 s connect timeout, backoff 50 ms to 2 s,
    /// keepalive 1 s.
    pub fn new(group_id: impl Into<String>, node_id: impl Into<String>, epoch: u64) -> Self {
        SenderConfig {
            group_id: group_id.into(),
            node_id: node_id.into(),
            epoch,
            window: 1024,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            connect_timeout: Duration::from_secs(2),
            backoff: (Duration::from_millis(50), Duration::from_secs(2)),
            keepalive: Duration::from_secs(1),
        }
    }
}

/// How an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The passive queued it.
    Acked,
    /// No passive was attached (none configured, or it was detached as dead): the active goes
    /// on alone, and the passive needs a fresh snapshot when it returns.
    Unreplicated,
}

/// Resolves when the passive acknowledges the entry (or it is released unreplicated).
#[derive(Debug)]
pub struct AckFuture(oneshot::Receiver<Delivery>);

impl Future for AckFuture {
    type Output = Result<Delivery>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|_| ClusterError::Closed("the event-sync sender")))
    }
}

/// Counters for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Whether a connection is up and welcomed.
    pub connected: bool,
    /// Entries sent but not yet acknowledged (the sync lag).
    pub in_flight: usize,
    /// Entries acknowledged since start.
    pub acked: u64,
    /// Entries resent after a reconnect.
    pub resent: u64,
    /// Successful connections (the first one included).
    pub connections: u64,
    /// The last error, for `/health`.
    pub last_error: Option<String>,
}

struct Pending {
    app: Arc<str>,
    seq: u64,
    body: Bytes,
    done: Option<oneshot::Sender<Delivery>>,
    _permit: OwnedSemaphorePermit,
}

#[derive(Default)]
struct State {
    unacked: VecDeque<Pending>,
    /// How many of `unacked` (from the front) were written on the current connection.
    written: usize,
    last_seq: HashMap<Arc<str>, u64>,
    controls: BTreeMap<String, Bytes>,
    watermarks: BTreeMap<(String, String), (u64, Bytes)>,
    /// Controls and watermarks not yet written on the current connection.
    dirty: Vec<Bytes>,
    attached: bool,
    closed: bool,
    stats: SenderStats,
}

impl State {
    /// Resolves every entry of `app` up to `seq`.
    fn ack(&mut self, app: &str, seq: u64) {
        let mut written_removed = 0;
        let mut index = 0;
        let written = self.written;
        let mut acked = 0;
        self.unacked.retain_mut(|p| {
            let hit = &*p.app == app && p.seq <= seq;
            if hit {
                if index < written {
                    written_removed += 1;
                }
                if let Some(done) = p.done.take() {
                    let _caller_gone = done.send(Delivery::Acked);
                }
                acked += 1;
            }
            index += 1;
            !hit
        });
        self.written -= written_removed;
        self.stats.acked += acked;
    }

    /// Releases everything unreplicated (the passive is gone).
    fn release_all(&mut self) {
        for mut p in self.unacked.drain(..) {
            if let Some(done) = p.done.take() {
                let _caller_gone = done.send(Delivery::Unreplicated);
            }
        }
        self.written = 0;
    }

    /// A new connection: everything is to be (re)written, state messages first.
    fn reset_for_connection(&mut self) {
        self.stats.resent += self.written as u64;
        self.written = 0;
        self.dirty = self.controls.values().cloned().collect();
        self.dirty
            .extend(self.watermarks.values().map(|(_, body)| body.clone()));
    }
}

struct Shared {
    config: SenderConfig,
    state: Mutex<State>,
    window: Arc<Semaphore>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running sender. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct SyncSender {
    shared: Arc<Shared>,
    peer: watch::Sender<Option<String>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SyncSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSender")
            .field("node", &self.shared.config.node_id)
            .field("epoch", &self.shared.config.epoch)
            .field("peer", &*self.peer.borrow())
            .finish()
    }
}

impl SyncSender {
    /// Starts a sender towards `peer` (`host:port`, the passive's advertised event-sync
    /// address), or detached (`None`): entries then resolve at once as unreplicated.
    pub fn start(config: SenderConfig, peer: Option<String>) -> SyncSender {
        let shared = Arc::new(Shared {
            window: Arc::new(Semaphore::new(config.window.max(1))),
            state: Mutex::new(State {
                attached: peer.is_some(),
                ..State::default()
            }),
            wake: Notify::new(),
            config,
        });
        let (peer_tx, peer_rx) = watch::channel(peer);
        let task = tokio::spawn(connection_loop(shared.clone(), peer_rx));
        SyncSender {
            shared,
            peer: peer_tx,
            task,
        }
    }

    /// Points the sender at another passive, or detaches it (`None`: the passive was declared
    /// dead). Detaching releases every unacknowledged entry as [`Delivery::Unreplicated`].
    pub fn set_peer(&self, peer: Option<String>) {
        {
            let mut s = self.shared.lock();
            s.attached = peer.is_some();
            if peer.is_none() {
                s.release_all();
            }
        }
        self.peer.send_replace(peer);
    }

    /// Queues an entry, waiting while the window is full. Entries of one app must come in
    /// increasing seq order. The returned future resolves when the passive has it.
    pub async fn send(&self, entry: Entry) -> Result<AckFuture> {
        let permit = self
            .shared
            .window
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ClusterError::Closed("the event-sync sender"))?;
        self.enqueue(entry, permit)
    }

    /// Like [`SyncSender::send`] but gives the entry back instead of waiting when the window is
    /// full.
    pub fn try_send(&self, entry: Entry) -> Result<Result<AckFuture, Entry>> {
        match self.shared.window.clone().try_acquire_owned() {
            Ok(permit) => self.enqueue(entry, permit).map(Ok),
            Err(tokio::sync::TryAcquireError::NoPermits) => Ok(Err(entry)),
            Err(tokio::sync::TryAcquireError::Closed) => {
                Err(ClusterError::Closed("the event-sync sender"))
            }
        }
    }

    fn enqueue(&self, entry: Entry, permit: OwnedSemaphorePermit) -> Result<AckFuture> {
        let body = encode_entry(&entry);
        if body.len() > self.shared.config.max_frame_len {
            return Err(ClusterError::Malformed(format!(
                "an entry of app `{}` encodes to {} bytes, over the frame limit of {}",
                entry.app,
                body.len(),
                self.shared.config.max_frame_len
            )));
        }
        let (done, ack) = oneshot::channel();
        let mut s = self.shared.lock();
        if s.closed {
            return Err(ClusterError::Closed("the event-sync sender"));
        }
        let app: Arc<str> = match s.last_seq.get_key_value(entry.app.as_str()) {
            Some((_, &last)) if entry.seq <= last => {
                return Err(ClusterError::OutOfOrder {
                    app: entry.app,
                    seq: entry.seq,
                    last,
                });
            }
            Some((app, _)) => app.clone(),
            None => Arc::from(entry.app.as_str()),
        };
        s.last_seq.insert(app.clone(), entry.seq);
        if !s.attached {
            let _caller_gone = done.send(Delivery::Unreplicated);
            return Ok(AckFuture(ack));
        }
        s.unacked.push_back(Pending {
            app,
            seq: entry.seq,
            body,
            done: Some(done),
            _permit: permit,
        });
        s.stats.in_flight = s.unacked.len();
        drop(s);
        self.shared.wake.notify_one();
        Ok(AckFuture(ack))
    }

    /// Sends a control message after a persist (the latest per app is kept and resent after
    /// every reconnect, ahead of entries).
    pub fn control(&self, control: Control) {
        let body = encode_body(&Frame::Control(control.clone()));
        let mut s = self.shared.lock();
        s.controls.insert(control.app, body.clone());
        s.dirty.push(body);
        drop(s);
        self.shared.wake.notify_one();
    }

    /// Reports the highest output seq published for `(app, stream)`.
    pub fn published(&self, watermark: Watermark) {
        let mut s = self.shared.lock();
        let key = (watermark.app.clone(), watermark.stream.clone());
        if s.watermarks
            .get(&key)
            .is_some_and(|(seq, _)| *seq >= watermark.seq)
        {
            return;
        }
        let body = encode_body(&Frame::Published(watermark.clone()));
        s.watermarks.insert(key, (watermark.seq, body.clone()));
        s.dirty.push(body);
        drop(s);
        self.shared.wake.notify_one();
    }

    /// Counters.
    pub fn stats(&self) -> SenderStats {
        let s = self.shared.lock();
        let mut stats = s.stats.clone();
        stats.in_flight = s.unacked.len();
        stats
    }

    /// Waits until every entry sent so far is acknowledged or released (for a planned
    /// handover), or `limit` passes; returns whether it drained.
    pub async fn drain(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.shared.lock().unacked.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.shared.lock().unacked.is_empty()
    }

    /// Stops the sender; unacknowledged entries fail with [`ClusterError::Closed`].
    pub fn shutdown(self) {
        {
            let mut s = self.shared.lock();
            s.closed = true;
            s.unacked.clear();
        }
        self.shared.window.close();
        self.task.abort();
    }
}

impl Drop for SyncSender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection_loop(shared: Arc<Shared>, mut peer: watch::Receiver<Option<String>>) {
    let config = &shared.config;
    let mut backoff = config.backoff.0;
    let mut last_logged: Option<String> = None;
    loop {
        let Some(addr) = peer.borrow_and_update().clone() else {
            if peer.changed().await.is_err() {
                return;
            }
            continue;
        };
        let outcome = connect_and_run(&shared, &addr, &mut peer).await;
        {
            let mut s = shared.lock();
            s.stats.connected = false;
            if let Err(e) = &outcome {
                s.stats.last_error = Some(e.to_string());
            }
        }
        match outcome {
            Ok(Ran::PeerChanged) => continue,
            Ok(Ran::Welcomed) => backoff = config.backoff.0,
            Err(e) => {
                let text = e.to_string();
                if last_logged.as_deref() != Some(&text) {
                    match &e {
                        ClusterError::Refused { code, .. }
                            if !matches!(code, RefusalCode::QueueFull | RefusalCode::Closing) =>
                        {
                            tracing::error!(peer = %addr, error = %e, "Event-sync passive refused this node.");
                        }
                        _ => {
                            tracing::warn!(peer = %addr, error = %e, "Event-sync connection lost; reconnecting.")
                        }
                    }
                    last_logged = Some(text);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = peer.changed() => {}
        }
        backoff = (backoff * 2).min(config.backoff.1);
    }
}

enum Ran {
    /// A connection was welcomed and later ended.
    Welcomed,
    /// The peer address changed (or was removed) while connecting or connected.
    PeerChanged,
}

async fn connect_and_run(
    shared: &Arc<Shared>,
    addr: &str,
    peer: &mut watch::Receiver<Option<String>>,
) -> Result<Ran> {
    let config = &shared.config;
    let connect = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ClusterError::io(format!("connect to {addr}"), e))?;
        let _nodelay = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let mut reader = FramedRead::new(read, FrameCodec::new(config.max_frame_len));
        let mut writer = FramedWrite::new(write, FrameCodec::new(config.max_frame_len));
        writer
            .send(Frame::Hello(Hello {
                version: PROTOCOL_VERSION,
                group: config.group_id.clone(),
                node: config.node_id.clone(),
                epoch: config.epoch,
            }))
            .await?;
        match reader.next().await {
            Some(Ok(Frame::Welcome { held, node, .. })) => Ok((reader, writer, held, node)),
            Some(Ok(Frame::Refused { code, message })) => {
                Err(ClusterError::Refused { code, message })
            }
            Some(Ok(other)) => Err(ClusterError::Malformed(format!(
                "expected a welcome, got {other:?}"
            ))),
            Some(Err(e)) => Err(e),
            None => Err(ClusterError::io(
                "handshake",
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the passive closed the connection",
                ),
            )),
        }
    };
    let (reader, writer, held, node) = tokio::select! {
        done = tokio::time::timeout(config.connect_timeout, connect) => match done {
            Ok(result) => result?,
            Err(_) => return Err(ClusterError::io(
                format!("connect to {addr}"),
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no welcome within the connect timeout"),
            )),
        },
        _ = peer.changed() => return Ok(Ran::PeerChanged),
    };
    {
        let mut s = shared.lock();
        for (app, seq) in &held {
            s.ack(app, *seq);
        }
        s.reset_for_connection();
        s.stats.connected = true;
        s.stats.connections += 1;
        s.stats.in_flight = s.unacked.len();
    }
    tracing::info!(peer = %addr, passive = %node, epoch = config.epoch, "Event-sync connected to the passive node.");
    tokio::select! {
        end = read_acks(shared, reader) => end.map(|()| Ran::Welcomed),
        end = write_frames(shared, writer) => end.map(|()| Ran::Welcomed),
        _ = peer.changed() => Ok(Ran::PeerChanged),
    }
}

type Reader = FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>;
type Writer = FramedWrite<tokio::net::tcp::OwnedWriteHalf, FrameCodec>;

async fn read_acks(shared: &Shared, mut reader: Reader) -> Result<()> {
    let silence = shared.config.keepalive * 3;
    loop {
        let frame = match tokio::time::timeout(silence, reader.next()).await {
            Ok(Some(frame)) => frame?,
            Ok(None) => {
                return Err(ClusterError::io(
                    "read acknowledgements",
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the passive closed the connection",
                    ),
                ));
            }
            Err(_) => {
                return Err(ClusterError::io(
                    "read acknowledgements",
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "the passive went silent"),
                ));
            }
        };
        match frame {
            Frame::Ack { app, seq } => {
                let mut s = shared.lock();
                s.ack(&app, seq);
                s.stats.in_flight = s.unacked.len();
            }
            Frame::Pong(_) => {}
            Frame::Ping(_) => {} // the writer's traffic keeps the passive's idle timer alive
            Frame::Refused { code, message } => {
                return Err(ClusterError::Refused { code, message });
            }
            other => {
                return Err(ClusterError::Malformed(format!(
                    "unexpected frame from the passive: {other:?}"
                )));
            }
        }
    }
}

/// The most frames written per flush.
const BATCH: usize = 512;

async fn write_frames(shared: &Shared, mut writer: Writer) -> Result<()> {
    let mut ping = 0u64;
    loop {
        let batch: Vec<Bytes> = {
            let mut s = shared.lock();
            let mut batch = std::mem::take(&mut s.dirty);
            let start = s.written;
            let end = (start + BATCH).min(s.unacked.len());
            batch.extend(s.unacked.range(start..end).map(|p| p.body.clone()));
            s.written = end;
            batch
        };
        if batch.is_empty() {
            let notified = shared.wake.notified();
            if tokio::time::timeout(shared.config.keepalive, notified)
                .await
                .is_err()
            {
                ping += 1;
                writer.send(Frame::Ping(ping)).await?;
            }
            continue;
        }
        for body in batch {
            writer.feed(body).await?;
        }
        SinkExt::<Bytes>::flush(&mut writer).await?;
    }
}
