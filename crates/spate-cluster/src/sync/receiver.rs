//! The passive side: the event-sync server. It accepts the active's connection, checks its
//! hello (version, group, epoch), queues entries into the [`Replica`] and acknowledges them
//! cumulatively per app once they are queued. A frame it cannot read closes that connection
//! with a `Refused(Malformed)` and is counted; the server keeps accepting.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use super::codec::{DEFAULT_MAX_FRAME_LEN, FrameCodec};
use super::frame::{Frame, Hello, PROTOCOL_VERSION};
use super::replica::{PushOutcome, Replica};
use crate::error::{ClusterError, RefusalCode, Result};

/// Acknowledge at least this often (in frames) under a continuous stream.
const ACK_EVERY: usize = 256;

/// The receiver's settings.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Bind address (`eventSyncServer.host:port`, e.g. `0.0.0.0:9893`).
    pub bind: String,
    /// The cluster group; senders of another group are refused.
    pub group_id: String,
    /// This node's id (sent in the welcome).
    pub node_id: String,
    /// The largest frame accepted.
    pub max_frame_len: usize,
    /// A connection that sends nothing (not even a ping) for this long is closed.
    pub idle_timeout: Duration,
}

impl ReceiverConfig {
    /// Defaults: 16 MiB frames, 10 s idle timeout.
    pub fn new(
        bind: impl Into<String>,
        group_id: impl Into<String>,
        node_id: impl Into<String>,
    ) -> Self {
        ReceiverConfig {
            bind: bind.into(),
            group_id: group_id.into(),
            node_id: node_id.into(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// A running event-sync server.
#[derive(Debug)]
pub struct SyncReceiver {
    local_addr: SocketAddr,
    replica: Arc<Replica>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SyncReceiver {
    /// Binds and starts accepting. The queues live in `replica`, which outlives the server (a
    /// restarted server can keep them).
    pub async fn bind(config: ReceiverConfig, replica: Arc<Replica>) -> Result<SyncReceiver> {
        let listener = TcpListener::bind(&config.bind)
            .await
            .map_err(|e| ClusterError::io(format!("bind {}", config.bind), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ClusterError::io("read the bound address", e))?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(config),
            replica.clone(),
            stop_rx,
        ));
        tracing::info!(addr = %local_addr, "Event-sync server listening.");
        Ok(SyncReceiver {
            local_addr,
            replica,
            stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The queues.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// Stops accepting and closes every connection (each sender is told `Closing`).
    pub async fn shutdown(mut self) {
        let _no_receivers = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _joined = task.await;
        }
    }

    /// Stops at once, as a crash would: connections are dropped without a word. Returns once
    /// the port is free.
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _aborted = task.await;
        }
    }
}

impl Drop for SyncReceiver {
    fn drop(&mut self) {
        let _no_receivers = self.stop.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ReceiverConfig>,
    replica: Arc<Replica>,
    mut stop: watch::Receiver<bool>,
) {
    static CONNECTIONS: AtomicU64 = AtomicU64::new(1);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
                let (config, replica, stop) = (config.clone(), replica.clone(), stop.clone());
                connections.spawn(async move {
                    if let Err(e) = serve(stream, &config, &replica, conn, stop).await {
                        tracing::warn!(%peer, error = %e, "Event-sync connection closed on an error.");
                        replica.rejected(e.to_string());
                    } else {
                        tracing::debug!(%peer, "Event-sync connection closed.");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "Event-sync server could not accept a connection.");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    // Each connection saw the stop and says `Closing` to its sender; give them a moment.
    let drained = async { while connections.join_next().await.is_some() {} };
    let _in_time = tokio::time::timeout(Duration::from_secs(1), drained).await;
    connections.shutdown().await;
}

/// Serves one sender connection until it closes, errs, or is superseded.
async fn serve(
    stream: TcpStream,
    config: &ReceiverConfig,
    replica: &Replica,
    conn: u64,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let _nodelay = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, FrameCodec::new(config.max_frame_len));
    let hello = match read(&mut framed, config.idle_timeout).await {
        Ok(Some(Frame::Hello(hello))) => hello,
        Ok(Some(_)) => {
            let message = "the first frame must be a hello".to_string();
            return refuse(&mut framed, RefusalCode::NotSpate, message).await;
        }
        Ok(None) => return Ok(()),
        Err(ClusterError::Refused { code, message }) => {
            return refuse(&mut framed, code, message).await;
        }
        Err(e) => return malformed(&mut framed, e).await,
    };
    let held = match check_hello(&hello, config).and_then(|()| {
        replica
            .admit(hello.epoch, conn)
            .map_err(|m| (RefusalCode::StaleEpoch, m))
    }) {
        Ok(held) => held,
        Err((code, message)) => return refuse(&mut framed, code, message).await,
    };
    tracing::info!(sender = %hello.node, epoch = hello.epoch, apps = held.len(),
        "Event-sync sender connected.");
    framed
        .send(Frame::Welcome {
            version: PROTOCOL_VERSION,
            node: config.node_id.clone(),
            held,
        })
        .await?;
    let mut acks: BTreeMap<String, u64> = BTreeMap::new();
    let mut unacked = 0usize;
    loop {
        let frame = tokio::select! {
            frame = read(&mut framed, config.idle_timeout) => frame,
            _ = stop.changed() => {
                let message = "the event-sync server is shutting down".to_string();
                return refuse(&mut framed, RefusalCode::Closing, message).await;
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return malformed(&mut framed, e).await,
        };
        let current = match frame {
            Frame::Entry(entry) => {
                let (app, seq) = (entry.app.clone(), entry.seq);
                match replica.push(conn, entry) {
                    PushOutcome::Queued | PushOutcome::Duplicate => {
                        let acked = acks.entry(app).or_insert(0);
                        *acked = (*acked).max(seq);
                        true
                    }
                    PushOutcome::Full => {
                        flush_acks(&mut framed, &mut acks).await?;
                        let message = format!(
                            "the queue of app `{app}` is full at seq {seq}; waiting for a snapshot \
                             to trim it (raise eventByteBufferQueueCapacity or persist more often)"
                        );
                        tracing::warn!(%app, seq, "Event-sync queue full; the sender will resend.");
                        return refuse(&mut framed, RefusalCode::QueueFull, message).await;
                    }
                    PushOutcome::Stale => false,
                }
            }
            Frame::Control(control) => replica.control(conn, control),
            Frame::Published(watermark) => replica.published(conn, watermark),
            Frame::Ping(n) => {
                framed.send(Frame::Pong(n)).await?;
                replica.is_current(conn)
            }
            Frame::Pong(_) => true,
            other => {
                let e =
                    ClusterError::Malformed(format!("unexpected frame from a sender: {other:?}"));
                return malformed(&mut framed, e).await;
            }
        };
        if !current {
            let message =
                "superseded by a newer connection or epoch, or this node became active".to_string();
            return refuse(&mut framed, RefusalCode::Closing, message).await;
        }
        // Acknowledge once everything already received has been queued (one ack per app per
        // burst of frames rather than per entry), and at least every ACK_EVERY entries so a
        // sender that never pauses still gets its window back steadily.
        unacked += 1;
        if framed.read_buffer().is_empty() || unacked >= ACK_EVERY {
            flush_acks(&mut framed, &mut acks).await?;
            unacked = 0;
        }
    }
}

fn check_hello(hello: &Hello, config: &ReceiverConfig) -> Result<(), (RefusalCode, String)> {
    if hello.version != PROTOCOL_VERSION {
        return Err((
            RefusalCode::VersionMismatch,
            format!(
                "this node speaks event-sync protocol version {PROTOCOL_VERSION}, the sender \
                 version {}; run the same Spate version on both nodes",
                hello.version
            ),
        ));
    }
    if hello.group != config.group_id {
        return Err((
            RefusalCode::WrongGroup,
            format!(
                "the sender belongs to cluster group `{}`, this node to `{}`",
                hello.group, config.group_id
            ),
        ));
    }
    Ok(())
}

type Conn = Framed<TcpStream, FrameCodec>;

async fn read(framed: &mut Conn, idle: Duration) -> Result<Option<Frame>> {
    match tokio::time::timeout(idle, framed.next()).await {
        Ok(Some(Ok(frame))) => Ok(Some(frame)),
        Ok(Some(Err(e))) => Err(e),
        Ok(None) => Ok(None),
        Err(_) => Err(ClusterError::io(
            "read from the sender",
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no frame within the idle timeout",
            ),
        )),
    }
}

async fn flush_acks(framed: &mut Conn, acks: &mut BTreeMap<String, u64>) -> Result<()> {
    for (app, seq) in std::mem::take(acks) {
        framed.feed(Frame::Ack { app, seq }).await?;
    }
    SinkExt::<Frame>::flush(framed).await
}

/// Tells the peer why the connection ends (best effort) and ends it.
async fn refuse(framed: &mut Conn, code: RefusalCode, message: String) -> Result<()> {
    let _best_effort = framed
        .send(Frame::Refused {
            code,
            message: message.clone(),
        })
        .await;
    match code {
        RefusalCode::Closing | RefusalCode::QueueFull => Ok(()),
        _ => Err(ClusterError::Refused { code, message }),
    }
}

async fn malformed(framed: &mut Conn, e: ClusterError) -> Result<()> {
    match e {
        ClusterError::Malformed(message) => {
            let _refused = refuse(framed, RefusalCode::Malformed, message.clone()).await;
            Err(ClusterError::Malformed(message))
        }
        other => Err(other),
    }
}
