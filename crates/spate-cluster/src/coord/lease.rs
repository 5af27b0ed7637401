//! The leader lease and the role loop.
//!
//! The lease row holds `(holder, epoch, expires_at)`; `expires_at` is written by the database as
//! its own `now + ttl`, and every comparison with it is made by the database against its own
//! clock, so node clocks never meet. Taking the lease is a compare-and-set on the epoch it was
//! seen with (`... WHERE EPOCH = ? AND EXPIRES_AT <= now`), so two nodes racing for an expired
//! lease cannot both win, and every new term has a larger epoch: the fencing token.
//!
//! An active node keeps a **local deadline**: the instant it *sent* its last successful
//! renewal, plus the ttl, minus a safety margin. The database executed that renewal after it
//! was sent, so the lease cannot expire for others before `sent + ttl`; stopping at the deadline
//! leaves at least the margin between "the old active stopped" and "anyone else may start". The
//! deadline is enforced by the loop (it sleeps until `min(next renewal, deadline)` and bounds each
//! renewal by the deadline) and by [`RoleState::holds`], which compares with the clock itself.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout_at};

use super::db::{CoordDb, LeaseRow};
use super::members::{NodeInfo, live_members};
use super::{ClusterEvent, Role, RoleState, Settings};
use crate::error::ClusterError;

/// The lease's timing, derived from `heartbeatInterval` and `heartbeatMaxRetry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How often the active renews and every node beats: `heartbeatInterval`.
    pub renew_every: Duration,
    /// How long a renewal keeps the lease: `heartbeatInterval × heartbeatMaxRetry`, the same
    /// window after which a node without heartbeats is taken for dead.
    pub ttl: Duration,
    /// How long before the lease can expire for others the active stops (fences itself).
    pub margin: Duration,
}

impl LeaseTiming {
    /// The timing for the given settings; `margin` defaults to a quarter of the ttl (at least
    /// 10 ms), and is capped at half the ttl.
    pub fn new(heartbeat_interval: Duration, max_retry: u32, margin: Option<Duration>) -> Self {
        let ttl = heartbeat_interval.saturating_mul(max_retry.max(1));
        let margin = margin
            .unwrap_or_else(|| (ttl / 4).max(Duration::from_millis(10)))
            .min(ttl / 2);
        LeaseTiming {
            renew_every: heartbeat_interval,
            ttl,
            margin,
        }
    }

    /// The local deadline after a renewal (or acquisition) sent at `sent` succeeded.
    pub fn deadline(&self, sent: Instant) -> Instant {
        sent + self.ttl.saturating_sub(self.margin)
    }
}

/// The role loop's state.
enum Term {
    Passive { cooldown_until: Option<Instant> },
    Active { epoch: u64, deadline: Instant },
}

/// Runs the role loop until `shutdown` turns true. On a clean shutdown an active node releases
/// its lease so the peer need not wait for it to expire.
pub(super) async fn run(
    db: CoordDb,
    settings: Settings,
    role: watch::Sender<RoleState>,
    events: mpsc::UnboundedSender<ClusterEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let s = &settings;
    let timing = s.timing;
    let mut term = Term::Passive {
        cooldown_until: None,
    };
    let mut first = true;
    let mut out = Announce {
        s,
        role: &role,
        events: &events,
        db_down: false,
    };
    let mut next = Instant::now();
    loop {
        let wake = match &term {
            Term::Active { deadline, .. } => next.min(*deadline),
            Term::Passive { .. } => next,
        };
        tokio::select! {
            _ = sleep_until(wake.into()) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        let now = Instant::now();
        next = now + timing.renew_every;
        match term {
            Term::Active { epoch, deadline } => {
                if now >= deadline {
                    term = out.fence(epoch, "the lease could not be renewed in time");
                    continue;
                }
                let sent = Instant::now();
                match timeout_at(
                    deadline.into(),
                    db.renew(&s.group, &s.node, epoch, timing.ttl),
                )
                .await
                {
                    Ok(Ok(true)) => {
                        out.restored();
                        let deadline = timing.deadline(sent);
                        term = Term::Active { epoch, deadline };
                        role.send_modify(|r| r.deadline = Some(deadline));
                    }
                    Ok(Ok(false)) => {
                        term = out.fence(epoch, "the lease was lost (expired or taken)");
                        continue;
                    }
                    Ok(Err(e)) => {
                        out.failed(&e);
                        // Retry sooner than a full interval: the deadline is approaching.
                        next = Instant::now() + timing.renew_every / 4;
                        continue;
                    }
                    Err(_) => {
                        term = out.fence(
                            epoch,
                            "the lease renewal did not answer before the deadline",
                        );
                        continue;
                    }
                }
                // The node row matters less than the lease: never let it delay the deadline.
                let beat = db.heartbeat(&s.group, &s.node, &s.props_json);
                if let Ok(Err(e)) = timeout_at(deadline.into(), beat).await {
                    out.failed(&e);
                }
            }
            Term::Passive { cooldown_until } => {
                if let Err(e) = db.heartbeat(&s.group, &s.node, &s.props_json).await {
                    out.failed(&e);
                    continue;
                }
                let lease = match db.lease(&s.group).await {
                    Ok(lease) => lease,
                    Err(e) => {
                        out.failed(&e);
                        continue;
                    }
                };
                out.restored();
                let cooling = cooldown_until.is_some_and(|until| now < until);
                if lease.is_live() || cooling {
                    if first {
                        first = false;
                        out.passive(&lease);
                    }
                    if lease.is_live() {
                        // Wake just after the lease would expire, if that is before the next beat.
                        let expiry = Instant::now() + lease.remaining() + Duration::from_millis(2);
                        next = next.min(expiry);
                    }
                    continue;
                }
                let sent = Instant::now();
                match db.acquire(&s.group, &s.node, lease.epoch, timing.ttl).await {
                    Ok(true) => {
                        let epoch = lease.epoch + 1;
                        let deadline = timing.deadline(sent);
                        term = Term::Active { epoch, deadline };
                        let peers = peers(&db, s).await;
                        out.active(epoch, deadline, first, &lease.holder, peers);
                        first = false;
                    }
                    Ok(false) => {
                        // Someone else won the race; look again right away.
                        next = Instant::now();
                    }
                    Err(e) => out.failed(&e),
                }
            }
        }
    }
    if let Term::Active { epoch, .. } = term {
        match db.release(&s.group, &s.node, epoch).await {
            Ok(_) => {
                tracing::info!(group = %s.group, node = %s.node, epoch, "Lease released on shutdown.")
            }
            Err(e) => tracing::warn!(group = %s.group, node = %s.node, epoch, error = %e,
                "Could not release the lease on shutdown; the peer takes over when it expires."),
        }
        role.send_modify(|r| {
            r.role = Role::Passive;
            r.deadline = None;
        });
    }
}

/// The live peers (not this node), best effort.
async fn peers(db: &CoordDb, s: &Settings) -> Vec<NodeInfo> {
    match db.select_nodes(&s.group).await {
        Ok(rows) => live_members(&rows, s.timing.ttl)
            .into_iter()
            .filter(|n| n.node_id != s.node)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Where role changes and outages are told: the role watch, the event stream, the log.
struct Announce<'a> {
    s: &'a Settings,
    role: &'a watch::Sender<RoleState>,
    events: &'a mpsc::UnboundedSender<ClusterEvent>,
    db_down: bool,
}

impl Announce<'_> {
    fn send(&self, event: ClusterEvent) {
        // Nobody listening is fine: the role watch carries the same news.
        let _unobserved = self.events.send(event);
    }

    fn active(
        &self,
        epoch: u64,
        deadline: Instant,
        first: bool,
        previous: &str,
        peers: Vec<NodeInfo>,
    ) {
        let s = self.s;
        if first {
            tracing::info!(group = %s.group, node = %s.node, epoch, "HA Deployment: Starting up as Active Node");
        } else {
            tracing::info!(group = %s.group, node = %s.node, epoch, previous,
                "Lease taken over; this node is now the active node.");
        }
        if peers
            .iter()
            .any(|p| p.properties.event_sync_address().is_some())
        {
            tracing::info!(group = %s.group, node = %s.node, "Active node retrieved node details of passive node");
        }
        self.role.send_modify(|r| {
            r.role = Role::Active;
            r.epoch = epoch;
            r.leader = Some(s.node.clone());
            r.deadline = Some(deadline);
        });
        self.send(ClusterEvent::BecameActive {
            epoch,
            at: Instant::now(),
            peers,
        });
    }

    fn passive(&self, lease: &LeaseRow) {
        tracing::info!(leader = %lease.holder, epoch = lease.epoch, "HA Deployment: Starting up as Passive Node");
        let leader = lease.is_live().then(|| lease.holder.clone());
        self.role.send_modify(|r| {
            r.role = Role::Passive;
            r.epoch = lease.epoch;
            r.leader = leader.clone();
        });
        self.send(ClusterEvent::BecamePassive {
            leader,
            epoch: lease.epoch,
        });
    }

    fn fence(&self, epoch: u64, reason: &str) -> Term {
        let (s, at) = (self.s, Instant::now());
        self.role.send_modify(|r| {
            r.role = Role::Passive;
            r.leader = None;
            r.deadline = None;
        });
        tracing::error!(group = %s.group, node = %s.node, epoch, reason,
            "Fenced: this node stops acting as the active node before its lease can expire for others.");
        self.send(ClusterEvent::Fenced {
            epoch,
            at,
            reason: reason.to_string(),
        });
        // Give the peer one lease period to take over before competing for the lease again:
        // the fenced node has stopped its runtimes, the passive holds the events since the
        // snapshot.
        Term::Passive {
            cooldown_until: Some(at + s.timing.ttl),
        }
    }

    /// A database call failed: reported once per outage.
    fn failed(&mut self, e: &ClusterError) {
        if !self.db_down {
            self.db_down = true;
            tracing::warn!(error = %e, "Cluster database unavailable; retrying every heartbeat.");
            self.send(ClusterEvent::DbUnavailable {
                error: e.to_string(),
            });
        } else {
            tracing::debug!(error = %e, "Cluster database still unavailable.");
        }
    }

    /// A database call succeeded: the end of an outage, if there was one.
    fn restored(&mut self) {
        if self.db_down {
            self.db_down = false;
            tracing::info!("Cluster database reachable again.");
            self.send(ClusterEvent::DbRestored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_from_heartbeat_settings() {
        let t = LeaseTiming::new(Duration::from_millis(250), 3, None);
        assert_eq!(t.ttl, Duration::from_millis(750));
        assert_eq!(
            t.margin,
            Duration::from_millis(187) + Duration::from_micros(500)
        );
        let sent = Instant::now();
        assert_eq!(t.deadline(sent), sent + t.ttl - t.margin);
        let capped = LeaseTiming::new(Duration::from_millis(100), 2, Some(Duration::from_secs(1)));
        assert_eq!(capped.margin, Duration::from_millis(100));
    }
}
