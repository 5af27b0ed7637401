//! Coordinators against a real cluster database: roles, epochs, fencing before takeover,
//! crash takeover, clean handover and member events, on SQLite, MariaDB and PostgreSQL.

use std::time::{Duration, Instant};

use libtest_mimic::{Completion, Failed, Trial};
use spate_cluster::coord::{ClusterEvent, CoordConfig, Coordinator, Role};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::ensure;
use crate::proxy::PartitionProxy;
use crate::services::{self, Backend, ClusterDb};
use crate::support::{Context, runtime};

/// Heartbeat 200 ms × 3: a 600 ms lease, fenced 150 ms before it can expire.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
pub const MAX_RETRY: u32 = 3;

pub fn trials() -> Vec<Trial> {
    let cases: [(&str, CaseFn); 7] = [
        (
            "active_restarted_within_the_lease_does_not_resume_it",
            quick_restart,
        ),
        (
            "network_partition_fences_the_active_before_takeover",
            partition,
        ),
        ("db_blip_inside_the_fence_window_changes_nothing", blip),
        (
            "first_active_then_passive_and_fenced_before_takeover",
            fenced_before_takeover,
        ),
        ("crashed_active_is_replaced_after_the_lease", crash_takeover),
        ("clean_shutdown_hands_over_at_once", clean_handover),
        ("two_processes_kill_9", crate::child::two_processes),
    ];
    let mut trials = Vec::new();
    for (name, case) in cases {
        for backend in services::ALL {
            if name.starts_with("network_partition") && backend == Backend::Sqlite {
                continue; // a file has no network to cut
            }
            trials.push(Trial::ignorable_test(
                format!("coord::{name}::{}", backend.name()),
                move || run(backend, case),
            ));
        }
    }
    for backend in services::ALL {
        let name = format!("coord::failover_benchmark::{}", backend.name());
        trials.push(
            Trial::ignorable_test(name, move || run(backend, crate::child::failover_benchmark))
                .with_ignored_flag(true),
        );
    }
    trials
}

/// Runs `body` on a runtime, then drops the test's tables whatever the outcome.
fn with_cleanup(
    db: &ClusterDb,
    body: impl AsyncFnOnce() -> Result<(), String>,
) -> Result<(), String> {
    runtime()?.block_on(async {
        let result = body().await;
        db.cleanup().await;
        result
    })
}

pub type CaseFn = fn(ClusterDb) -> Result<(), String>;

fn run(backend: Backend, case: CaseFn) -> Result<Completion, Failed> {
    if let Some(skip) = services::check(backend)? {
        return Ok(skip);
    }
    let db = ClusterDb::new(backend)?;
    case(db).map_err(Failed::from)?;
    Ok(Completion::Completed)
}

pub fn config(db: &ClusterDb, node: &str) -> CoordConfig {
    let mut config = CoordConfig::new(format!("group_{}", db.prefix), node);
    config.heartbeat_interval = HEARTBEAT;
    config.heartbeat_max_retry = MAX_RETRY;
    config.event_polling_interval = HEARTBEAT;
    config.table_prefix = db.prefix.clone();
    config.properties.event_sync_host = Some("127.0.0.1".into());
    config.properties.event_sync_port = Some(9893);
    config
}

pub async fn start(db: &ClusterDb, node: &str) -> Result<Coordinator, String> {
    let pool = db.pool()?;
    Coordinator::start(pool, db.target.backend.dialect(), config(db, node))
        .await
        .ctx(&format!("start {node}"))
}

/// Waits for the first event matching `want`, up to `limit`.
pub async fn wait_for(
    events: &mut UnboundedReceiver<ClusterEvent>,
    limit: Duration,
    what: &str,
    want: impl Fn(&ClusterEvent) -> bool,
) -> Result<ClusterEvent, String> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Some(event)) if want(&event) => return Ok(event),
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("event stream ended while waiting for {what}")),
            Err(_) => return Err(format!("no {what} within {limit:?}")),
        }
    }
}

fn events(c: &Coordinator) -> Result<UnboundedReceiver<ClusterEvent>, String> {
    c.take_events()
        .ok_or_else(|| "events already taken".to_string())
}

fn active_epoch(e: &ClusterEvent) -> Option<u64> {
    match e {
        ClusterEvent::BecameActive { epoch, .. } => Some(*epoch),
        _ => None,
    }
}

const LONG: Duration = Duration::from_secs(10);

/// Two coordinators with their event streams: A (active) and B (passive).
type Pair = (
    Coordinator,
    UnboundedReceiver<ClusterEvent>,
    Coordinator,
    UnboundedReceiver<ClusterEvent>,
);

/// Starts A (active, epoch 1) and B (passive); returns both with their event streams.
async fn pair(db: &ClusterDb) -> Result<Pair, String> {
    pair_with(db, db.pool()?).await
}

/// [`pair`] with A's connections from `a_pool` (e.g. through a fault proxy).
async fn pair_with(db: &ClusterDb, a_pool: sqlx::AnyPool) -> Result<Pair, String> {
    let dialect = db.target.backend.dialect();
    let a = Coordinator::start(a_pool, dialect, config(db, "node-a"))
        .await
        .ctx("start node-a")?;
    let mut a_events = events(&a)?;
    let first = wait_for(&mut a_events, LONG, "A active", |e| {
        active_epoch(e).is_some()
    })
    .await?;
    ensure!(
        active_epoch(&first) == Some(1),
        "A should start active at epoch 1: {first:?}"
    );
    let b = start(db, "node-b").await?;
    let mut b_events = events(&b)?;
    let passive = wait_for(&mut b_events, LONG, "B passive", |e| {
        matches!(e, ClusterEvent::BecamePassive { .. })
    })
    .await?;
    ensure!(
        passive
            == ClusterEvent::BecamePassive {
                leader: Some("node-a".into()),
                epoch: 1
            },
        "B should start passive behind A: {passive:?}"
    );
    wait_for(&mut a_events, LONG, "A sees B", |e| {
        matches!(e, ClusterEvent::MemberAdded(n) if n.node_id == "node-b"
            && n.properties.event_sync_address().as_deref() == Some("127.0.0.1:9893"))
    })
    .await?;
    Ok((a, a_events, b, b_events))
}

fn fenced_before_takeover(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let (a, mut a_events, b, mut b_events) = pair(&db).await?;
        ensure!(
            a.holds_lease(1) && a.is_leader(1).await.ctx("is_leader")?,
            "A leads"
        );
        ensure!(!b.is_leader(1).await.ctx("is_leader")?, "B does not lead");
        let cut = Instant::now();
        a.inject_db_outage(true);
        let (fenced_at, active_at) = fenced_then_taken(&mut a_events, &mut b_events).await?;
        eprintln!(
            "{}: DB cut from A → A fenced after {:?}, B active after {:?} (gap {:?})",
            db.target.backend.dialect().name(),
            fenced_at - cut,
            active_at - cut,
            active_at - fenced_at
        );
        ensure!(!a.holds_lease(1), "A's local check turned false");
        a.inject_db_outage(false);
        ensure!(!a.is_leader(1).await.ctx("is_leader")?, "epoch 1 is over");
        ensure!(b.is_leader(2).await.ctx("is_leader")?, "B leads at epoch 2");
        // Writes conditional on the epoch: only the current term's land.
        ensure!(
            conditional_write(&db, &a, 1).await? == 0,
            "A's epoch-1 write is refused"
        );
        ensure!(
            conditional_write(&db, &b, 2).await? == 1,
            "B's epoch-2 write lands"
        );
        // A reaches the DB again and stays passive behind B.
        tokio::time::sleep(HEARTBEAT * 4).await;
        ensure!(
            a.role().borrow().role == Role::Passive,
            "A rejoins as passive"
        );
        ensure!(b.role().borrow().role == Role::Active, "B stays active");
        a.shutdown().await;
        b.shutdown().await;
        Ok(())
    })
}

fn crash_takeover(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let (a, _a_events, b, mut b_events) = pair(&db).await?;
        let crash = Instant::now();
        drop(a); // loops stop; the lease is not released, the row stays
        // Both happen about one lease after the crash, in either order.
        let (mut taken, mut removed) = (None, false);
        while taken.is_none() || !removed {
            let event = wait_for(&mut b_events, LONG, "B active and A removed", |e| {
                active_epoch(e).is_some()
                    || matches!(e, ClusterEvent::MemberRemoved(n) if n.node_id == "node-a")
            })
            .await?;
            match active_epoch(&event) {
                Some(epoch) => taken = Some((epoch, crash.elapsed())),
                None => removed = true,
            }
        }
        let Some((epoch, after)) = taken else {
            return Err("unreachable".into());
        };
        ensure!(epoch == 2, "epoch 2, got {epoch}");
        eprintln!(
            "{}: crash of the active → takeover after {after:?} (heartbeat {HEARTBEAT:?} × {MAX_RETRY})",
            db.target.backend.dialect().name(),
        );
        b.shutdown().await;
        Ok(())
    })
}

fn clean_handover(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let (a, _a_events, b, mut b_events) = pair(&db).await?;
        let leave = Instant::now();
        a.shutdown().await;
        let taken = wait_for(&mut b_events, LONG, "B active", |e| {
            active_epoch(e).is_some()
        })
        .await?;
        ensure!(active_epoch(&taken) == Some(2), "epoch 2: {taken:?}");
        eprintln!(
            "{}: clean shutdown of the active → takeover after {:?}",
            db.target.backend.dialect().name(),
            leave.elapsed()
        );
        b.shutdown().await;
        Ok(())
    })
}

/// `INSERT INTO <prefix>WRITES SELECT ... WHERE <leader predicate>`: rows inserted.
async fn conditional_write(db: &ClusterDb, c: &Coordinator, epoch: u64) -> Result<u64, String> {
    let pool = db.pool()?;
    let dialect = db.target.backend.dialect();
    let table = dialect.identifier(&format!("{}WRITES", db.prefix));
    let create = format!("CREATE TABLE IF NOT EXISTS {table} (epoch BIGINT NOT NULL)");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await
        .ctx("create")?;
    let insert = format!(
        "INSERT INTO {table} (epoch) SELECT {} FROM (SELECT 1 AS one) AS one WHERE {}",
        dialect.placeholder(1),
        c.leader_predicate(2).ctx("predicate")?
    );
    let (group, node, epoch_bind) = c.leader_binds(epoch);
    let done = sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(epoch_bind)
        .bind(group)
        .bind(node)
        .bind(epoch_bind)
        .execute(&pool)
        .await
        .ctx("conditional insert")?;
    pool.close().await;
    Ok(done.rows_affected())
}

fn blip(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let (a, mut a_events, b, mut b_events) = pair(&db).await?;
        // Tolerated: an outage shorter than ttl - margin - interval (600 - 150 - 200 ms),
        // wherever it falls between two renewals (docs/ha.md, "Timing").
        a.inject_db_outage(true);
        tokio::time::sleep(HEARTBEAT * 3 / 4).await;
        a.inject_db_outage(false);
        tokio::time::sleep(HEARTBEAT * 5).await;
        while let Ok(event) = a_events.try_recv() {
            ensure!(
                !matches!(event, ClusterEvent::Fenced { .. }),
                "A fenced: {event:?}"
            );
        }
        while let Ok(event) = b_events.try_recv() {
            ensure!(active_epoch(&event).is_none(), "B took over: {event:?}");
        }
        ensure!(
            a.holds_lease(1) && a.is_leader(1).await.ctx("is_leader")?,
            "A still leads"
        );
        a.shutdown().await;
        b.shutdown().await;
        Ok(())
    })
}

/// Waits for A's `Fenced` (epoch 1) and B's `BecameActive` (epoch 2); checks that A stopped
/// first and returns both instants.
async fn fenced_then_taken(
    a_events: &mut UnboundedReceiver<ClusterEvent>,
    b_events: &mut UnboundedReceiver<ClusterEvent>,
) -> Result<(Instant, Instant), String> {
    let fenced = wait_for(a_events, LONG, "A fenced", |e| {
        matches!(e, ClusterEvent::Fenced { .. })
    })
    .await?;
    let taken = wait_for(b_events, LONG, "B active", |e| active_epoch(e).is_some()).await?;
    let (
        ClusterEvent::Fenced {
            at: fenced_at,
            epoch: 1,
            ..
        },
        ClusterEvent::BecameActive {
            at: active_at,
            epoch: 2,
            ..
        },
    ) = (&fenced, &taken)
    else {
        return Err(format!(
            "expected epoch 1 fenced, then epoch 2 active: {fenced:?} / {taken:?}"
        ));
    };
    ensure!(fenced_at < active_at, "A must stop before B starts");
    Ok((*fenced_at, *active_at))
}

/// A real partition: A reaches the database through a proxy that goes silent. A's renewals hang;
/// it fences itself at its deadline, before B can take the lease; after healing, A is passive.
fn partition(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let upstream = db.upstream().ok_or("no server")?;
        let proxy = PartitionProxy::start(upstream).await?;
        let a_pool = db.target_via(proxy.port)?.connect_lazy().ctx("pool")?;
        let (a, mut a_events, b, mut b_events) = pair_with(&db, a_pool).await?;
        let cut = Instant::now();
        proxy.partition();
        let (fenced_at, active_at) = fenced_then_taken(&mut a_events, &mut b_events).await?;
        eprintln!(
            "{}: partition between A and the DB → A fenced after {:?}, B active after {:?}",
            dialect_name(&db),
            fenced_at - cut,
            active_at - cut
        );
        proxy.heal();
        tokio::time::sleep(HEARTBEAT * 8).await;
        ensure!(
            a.role().borrow().role == Role::Passive,
            "A rejoins as passive"
        );
        ensure!(!a.is_leader(1).await.ctx("is_leader")?, "epoch 1 is over");
        ensure!(b.is_leader(2).await.ctx("is_leader")?, "B leads");
        a.shutdown().await;
        b.shutdown().await;
        Ok(())
    })
}

fn dialect_name(db: &ClusterDb) -> &'static str {
    db.target.backend.dialect().name()
}

/// SI resumed a restarted active inside the heartbeat window; here the new incarnation has no
/// state, so it starts passive, the lease changes hands with a new epoch, and the peer sees the
/// restart as removed + added.
fn quick_restart(db: ClusterDb) -> Result<(), String> {
    with_cleanup(&db, async || {
        let (a, _a_events, b, mut b_events) = pair(&db).await?;
        drop(a);
        let a = start(&db, "node-a").await?;
        let mut a_events = events(&a)?;
        let first = wait_for(&mut a_events, LONG, "A's role", |e| {
            matches!(e, ClusterEvent::BecamePassive { .. }) || active_epoch(e).is_some()
        })
        .await?;
        ensure!(
            matches!(first, ClusterEvent::BecamePassive { epoch: 1, .. }),
            "the restarted node must not resume epoch 1: {first:?}"
        );
        let (mut removed, mut added) = (false, false);
        while !(removed && added) {
            match wait_for(&mut b_events, LONG, "A's restart seen by B", |e| {
                matches!(e, ClusterEvent::MemberRemoved(n) | ClusterEvent::MemberAdded(n) if n.node_id == "node-a")
            })
            .await?
            {
                ClusterEvent::MemberRemoved(_) => removed = true,
                _ => added = removed,
            }
        }
        // The lease expires and someone takes epoch 2 (B normally, waking at the expiry).
        let until = Instant::now() + LONG;
        loop {
            let (ra, rb) = (a.role().borrow().clone(), b.role().borrow().clone());
            if ra.role == Role::Active || rb.role == Role::Active {
                let leader = if ra.role == Role::Active { ra } else { rb };
                ensure!(leader.epoch == 2, "new term, new epoch: {leader:?}");
                break;
            }
            ensure!(Instant::now() < until, "nobody took the lease");
            tokio::time::sleep(HEARTBEAT / 4).await;
        }
        a.shutdown().await;
        b.shutdown().await;
        Ok(())
    })
}
