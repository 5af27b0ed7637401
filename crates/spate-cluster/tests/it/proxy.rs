//! A TCP fault proxy between a node and its database that can **blackhole** the link: open
//! connections stay open but go silent and new ones hang, the way a network partition looks
//! to the node (as opposed to a refused connection, which fails fast). Healing the partition
//! resets the silent connections, as routers dropping state would.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

pub struct PartitionProxy {
    pub port: u16,
    partitioned: watch::Sender<bool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    accept: AbortHandle,
}

impl PartitionProxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Result<PartitionProxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (partitioned, watch) = watch::channel(false);
        let held = Arc::new(Mutex::new(Vec::new()));
        let held2 = held.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, held, mut watch) = (upstream.clone(), held2.clone(), watch.clone());
                tokio::spawn(async move {
                    let mut client = client;
                    let healthy = !*watch.borrow_and_update();
                    if healthy && let Ok(mut server) = TcpStream::connect(&upstream).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                            _ = watch.wait_for(|p| *p) => {}
                        }
                    }
                    // Partitioned: keep the client's socket open and silent until healed.
                    if let Ok(mut all) = held.lock() {
                        all.push(client);
                    }
                });
            }
        })
        .abort_handle();
        Ok(PartitionProxy {
            port,
            partitioned,
            held,
            accept,
        })
    }

    /// Every connection goes silent; new ones are accepted and never answered.
    pub fn partition(&self) {
        self.partitioned.send_replace(true);
    }

    /// Forwards again; the connections silenced by the partition are reset.
    pub fn heal(&self) {
        self.partitioned.send_replace(false);
        if let Ok(mut all) = self.held.lock() {
            all.clear();
        }
    }
}

impl Drop for PartitionProxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut all) = self.held.lock() {
            all.clear();
        }
    }
}
