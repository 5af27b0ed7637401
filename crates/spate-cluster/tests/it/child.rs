//! The two-process test: two coordinators in two OS processes sharing one SQLite file, the
//! second-process one being this test binary run again with [`CHILD_ENV`] set. The child
//! reports on stdout (`ACTIVE <epoch> <unix ms>`, `PASSIVE ...`, `FENCED ...`) and obeys stdin
//! (`outage on`, `outage off`); the parent kills it with SIGKILL.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spate_cluster::coord::{ClusterEvent, Coordinator};
use spate_store::Datasource;

use crate::coord::config;
use crate::ensure;
use crate::services::ClusterDb;
use crate::support::{Context, runtime};

/// Set in the child's environment: the SQLite file. Also `SPATE_CLUSTER_PREFIX`, `..._NODE`.
pub const CHILD_ENV: &str = "SPATE_CLUSTER_CHILD";

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
    let file = var(CHILD_ENV)?;
    let prefix = var("SPATE_CLUSTER_PREFIX")?;
    let node = var("SPATE_CLUSTER_NODE")?;
    let target = Datasource::new("CLUSTER_DB", format!("jdbc:sqlite:{file}"))
        .target(&std::env::temp_dir())
        .ctx("datasource")?;
    let db = ClusterDb {
        target,
        prefix,
        sqlite_file: None,
    };
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
        let coordinator = Coordinator::connect(&db.target, config(&db, &node))
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
        let exe = std::env::current_exe().ctx("current exe")?;
        let file = db
            .sqlite_file
            .as_ref()
            .ok_or_else(|| "two-process test needs SQLite".to_string())?;
        let mut child = Command::new(exe)
            .env(CHILD_ENV, file)
            .env("SPATE_CLUSTER_PREFIX", &db.prefix)
            .env("SPATE_CLUSTER_NODE", node)
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

/// Two processes on one SQLite file: A active (1), B passive; A loses the DB → A fenced before
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
