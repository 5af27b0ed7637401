//! The active forwards every input-log entry of an app to the passive, in seq order: the log
//! hands each numbered batch (under its lock, so in order) to the app's forwarder queue; a
//! task converts the entries and sends them through the term's [`SyncSender`]. In `ack` mode
//! the source waits for the passive's acknowledgements before it answers its client.

use std::sync::Arc;

use spate_cluster::sync::{AckFuture, Delivery};
use spate_engine::plan::AppPlan;
use tokio::sync::{mpsc, oneshot};

use super::HaState;
use super::convert::entry_to_sync;
use crate::input_log::{AppendError, Entry};

/// Batches waiting to be forwarded before appends are refused (backpressure).
const QUEUE_CAPACITY: usize = 4096;

/// What the source waits on in `ack` mode.
pub type AckWait = oneshot::Receiver<Result<Vec<AckFuture>, String>>;

struct Job {
    entries: Vec<Entry>,
    reply: Option<oneshot::Sender<Result<Vec<AckFuture>, String>>>,
}

/// An app's forwarding queue.
#[derive(Debug, Clone)]
pub struct Forwarder {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} entries)", self.entries.len())
    }
}

impl Forwarder {
    /// Starts the forwarding task of `app`; it ends when the log (every clone) is dropped.
    pub fn start(ha: Arc<HaState>, app: String, plan: Arc<AppPlan>) -> Forwarder {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(ha, app, plan, rx));
        Forwarder { tx }
    }

    /// Queues a numbered batch (called under the log's lock, so batches stay in seq order);
    /// with `wait`, returns what resolves once the passive holds them.
    pub fn forward(&self, entries: &[Entry], wait: bool) -> Result<Option<AckWait>, AppendError> {
        let permit = self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => AppendError::Full,
            mpsc::error::TrySendError::Closed(()) => AppendError::Closed,
        })?;
        let (reply, waiter) = if wait {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        permit.send(Job {
            entries: entries.to_vec(),
            reply,
        });
        Ok(waiter)
    }
}

async fn run(ha: Arc<HaState>, app: String, plan: Arc<AppPlan>, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.recv().await {
        let sender = ha.sender();
        let mut acks = Ok(Vec::with_capacity(job.entries.len()));
        if let Some(sender) = sender {
            for entry in &job.entries {
                match sender.send(entry_to_sync(&app, &plan, entry)).await {
                    Ok(ack) => {
                        if let Ok(a) = acks.as_mut() {
                            a.push(ack);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(app, seq = entry.seq(), error = %e, "An entry could not be forwarded to the passive node.");
                        acks = Err(e.to_string());
                    }
                }
            }
        } else {
            acks = Err("this node is not the active node".to_string());
        }
        if let Some(reply) = job.reply {
            let _gone = reply.send(acks);
        }
    }
}

/// Waits until the passive holds the entries (or no passive is attached), at most
/// `ha.ack_timeout`; an error says why the client must not take the events as acknowledged.
pub async fn wait_acked(ha: &HaState, wait: AckWait) -> Result<(), String> {
    let all = async {
        let acks = wait
            .await
            .map_err(|_| "the forwarder stopped".to_string())??;
        for ack in acks {
            match ack.await {
                Ok(Delivery::Acked | Delivery::Unreplicated) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(ha.ack_timeout, all).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the passive node did not acknowledge the events within {} ms; retry",
            ha.ack_timeout.as_millis()
        )),
    }
}
