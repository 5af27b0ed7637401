//! The two-process tests: two coordinators in two OS processes sharing one cluster database, the
//! second-process one being this test binary run again with [`CHILD_ENV`] set. The child
//! reports on stdout (`ACTIVE <epoch> <unix ms>`, `PASSIVE ...`, `FENCED ...`) and obeys stdin
//! (`outage on`, `outage off`); the parent kills it with SIGKILL.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spate_cluster::coord::{ClusterEvent, Coordinator};

use crate::coord::config;
use crate::ensure;
use crate::services::{Backend, ClusterDb};
use crate::support::{Context, runtime};

/// Set in the child's environment: the backend. Also `SPATE_CLUSTER_TEST` (the test's name,
/// giving its table prefix or SQLite file) and `SPATE_CLUSTER_NODE`.
pub const CHILD_ENV: &str = "SPATE_CLUSTER_CHILD";

/// The child's heartbeat interval in ms (default: the tests' 200 ms).
const HEARTBEAT_ENV: &str = "SPATE_CLUSTER_HEARTBEAT_MS";

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The child's main: one coordinator until killed. Returns the exit code.
pub fn run() -> i32 {
    match child_main() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("child failed: {e}");
            1
        }
    }
}

fn child_main() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let backend = Backend::from_name(&var(CHILD_ENV)?).ok_or("unknown backend")?;
    let db = ClusterDb::named(backend, &var("SPATE_CLUSTER_TEST")?)?;
    let node = var("SPATE_CLUSTER_NODE")?;
    let mut config = config(&db, &node);
    if let Some(ms) = std::env::var(HEARTBEAT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.heartbeat_interval = Duration::from_millis(ms);
        config.event_polling_interval = Duration::from_millis(ms);
    }
    let (commands_tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if commands_tx.send(line).is_err() {
                break;
            }
        }
    });
    runtime()?.block_on(async {
        let coordinator = Coordinator::connect(&db.target, config)
            .await
            .ctx("start")?;
        let mut events = coordinator
            .take_events()
            .ok_or_else(|| "events taken".to_string())?;
        let say = |line: String| {
            let mut out = std::io::stdout().lock();
            let _ignored = writeln!(out, "{line}").and_then(|()| out.flush());
        };
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(ClusterEvent::BecameActive { epoch, .. }) => say(format!("ACTIVE {epoch} {}", unix_ms())),
                    Some(ClusterEvent::BecamePassive { epoch, .. }) => say(format!("PASSIVE {epoch} {}", unix_ms())),
                    Some(ClusterEvent::Fenced { epoch, .. }) => say(format!("FENCED {epoch} {}", unix_ms())),
                    Some(_) => {}
                    None => return Ok(()),
                },
                command = commands.recv() => match command.as_deref() {
                    Some("outage on") => coordinator.inject_db_outage(true),
                    Some("outage off") => coordinator.inject_db_outage(false),
                    _ => return Ok(()),
                },
            }
        }
    })
}

/// A child process and its reported lines.
struct Node {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn spawn(db: &ClusterDb, node: &str) -> Result<Node, String> {
        Node::spawn_with(db, node, crate::coord::HEARTBEAT)
    }

    fn spawn_with(db: &ClusterDb, node: &str, heartbeat: Duration) -> Result<Node, String> {
        let exe = std::env::current_exe().ctx("current exe")?;
        let mut child = Command::new(exe)
            .env(CHILD_ENV, db.backend.name())
            .env("SPATE_CLUSTER_TEST", &db.name)
            .env("SPATE_CLUSTER_NODE", node)
            .env(HEARTBEAT_ENV, heartbeat.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ctx("spawn child")?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Node {
            child,
            stdin,
            lines,
        })
    }

    /// Waits for a line starting with `word`; returns its epoch and time.
    fn expect(&self, word: &str) -> Result<(u64, u128), String> {
        let until = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("no `{word}` from the child"))?;
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() == Some(&word) && parts.len() == 3 {
                let epoch = parts[1].parse().ctx("epoch")?;
                let at = parts[2].parse().ctx("time")?;
                return Ok((epoch, at));
            }
        }
    }

    fn tell(&mut self, command: &str) -> Result<(), String> {
        writeln!(self.stdin, "{command}").ctx("write to the child")
    }

    fn kill_9(&mut self) -> Result<u128, String> {
        let at = unix_ms();
        self.child.kill().ctx("kill -9")?;
        let _status = self.child.wait();
        Ok(at)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _already_dead = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Two processes on one cluster database: A active (1), B passive; A loses the DB → A fenced before
/// B takes epoch 2; A rejoins passive; `kill -9` of B → A takes epoch 3.
pub fn two_processes(db: ClusterDb) -> Result<(), String> {
    let result = (|| {
        let mut a = Node::spawn(&db, "proc-a")?;
        ensure!(a.expect("ACTIVE")?.0 == 1, "A starts active at epoch 1");
        let mut b = Node::spawn(&db, "proc-b")?;
        ensure!(b.expect("PASSIVE")?.0 == 1, "B starts passive at epoch 1");
        let cut = unix_ms();
        a.tell("outage on")?;
        let (fenced_epoch, fenced_at) = a.expect("FENCED")?;
        let (epoch, active_at) = b.expect("ACTIVE")?;
        ensure!(
            fenced_epoch == 1 && epoch == 2,
            "epochs {fenced_epoch} → {epoch}"
        );
        ensure!(
            fenced_at < active_at,
            "A fenced at {fenced_at}, B active at {active_at}"
        );
        eprintln!(
            "two processes: DB cut from A → A fenced after {} ms, B active after {} ms",
            fenced_at - cut,
            active_at - cut
        );
        a.tell("outage off")?;
        std::thread::sleep(crate::coord::HEARTBEAT * 3);
        let killed = b.kill_9()?;
        let (epoch, active_at) = a.expect("ACTIVE")?;
        ensure!(epoch == 3, "A takes epoch 3, got {epoch}");
        eprintln!(
            "two processes: kill -9 of the active → takeover after {} ms",
            active_at - killed
        );
        Ok(())
    })();
    if let Ok(rt) = runtime() {
        rt.block_on(db.cleanup());
    }
    result
}

/// The failover benchmark (run with `--ignored`): heartbeat 250 ms × 3 (override with
/// `SPATE_CLUSTER_HEARTBEAT_MS`), `SPATE_CLUSTER_BENCH_RUNS` (10) alternating `kill -9`s of the
/// active process, each killed node restarted as passive. Prints the time from the kill to the
/// other process holding the lease: min, p50, p99 (max). Asserts epochs, not durations.
pub fn failover_benchmark(db: ClusterDb) -> Result<(), String> {
    let heartbeat = Duration::from_millis(
        std::env::var(HEARTBEAT_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(250),
    );
    let runs: usize = std::env::var("SPATE_CLUSTER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let result = (|| {
        let mut active = Node::spawn_with(&db, "bench-a", heartbeat)?;
        ensure!(active.expect("ACTIVE")?.0 == 1, "first active at epoch 1");
        let mut passive = Node::spawn_with(&db, "bench-b", heartbeat)?;
        passive.expect("PASSIVE")?;
        let (mut ids, mut epoch, mut times) = (("bench-a", "bench-b"), 1, Vec::new());
        for run in 0..runs {
            // Kill at varying points of the renewal cycle.
            let offset = (run as u64 * 7919) % u64::try_from(heartbeat.as_millis()).unwrap_or(1);
            std::thread::sleep(heartbeat * 2 + Duration::from_millis(offset));
            let killed_at = active.kill_9()?;
            let (new_epoch, active_at) = passive.expect("ACTIVE")?;
            ensure!(new_epoch == epoch + 1, "epoch {new_epoch} after {epoch}");
            epoch = new_epoch;
            times.push(active_at.saturating_sub(killed_at));
            let restarted = Node::spawn_with(&db, ids.0, heartbeat)?;
            restarted.expect("PASSIVE")?;
            active = std::mem::replace(&mut passive, restarted);
            ids = (ids.1, ids.0);
        }
        times.sort_unstable();
        let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        eprintln!(
            "failover benchmark ({runs} kill -9 drills, heartbeat {heartbeat:?} x 3, {}, two \
             processes): kill -> new active: min {} ms, p50 {} ms, p99 {} ms; all: {times:?}",
            db.backend.name(),
            pick(0.0),
            pick(0.5),
            pick(0.99)
        );
        Ok(())
    })();
    if let Ok(rt) = runtime() {
        rt.block_on(db.cleanup());
    }
    result
}
