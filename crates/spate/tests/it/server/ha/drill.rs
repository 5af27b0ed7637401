//! Failures of the active node under a steady client: `kill -9`, SIGTERM, a partition from the
//! cluster database; and the failover-time benchmark.

use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use super::client::{Client, Sink, check_outputs};
use super::{Db, health, pair, probe, remove, start_pair, wait_until};
use crate::server::databases::Database;
use crate::server::proxy::FaultProxy;

/// The stateful app: drops repeated ids (a retried event the failed node had already taken),
/// then a running count per key and a sliding sum over the last four events, both to `sink`.
pub fn app(sink: &Sink) -> String {
    let out = sink.addr;
    format!(
        "@app:name('Drill')\n\
         @source(type='http', receiver.url='http://127.0.0.1:${{SOURCE_PORT}}/in', @map(type='json'))\n\
         define stream Input (id string, key string, v long);\n\
         @sink(type='http', publisher.url='http://{out}/counts', @map(type='json'))\n\
         define stream Counts (id string, key string, cnt long);\n\
         @sink(type='http', publisher.url='http://{out}/sums', @map(type='json'))\n\
         define stream Sums (id string, wsum long);\n\
         define table Seen (id string);\n\
         from Input[not ((Seen.id == id) in Seen)] select id, key, v insert into Fresh;\n\
         from Fresh select id insert into Seen;\n\
         from Fresh select id, key, count() as cnt group by key insert into Counts;\n\
         from Fresh#window.length(4) select id, sum(v) as wsum insert into Sums;\n"
    )
}

/// A number in `0..n` that differs from run to run.
fn random_below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| u64::from(d.subsec_nanos()));
    (nanos ^ (nanos >> 7)) % n.max(1)
}

const EVENTS: usize = 400;
/// Between events (a steady ~150 events/s with the request itself).
const PACE: Duration = Duration::from_millis(4);

/// Test 2: `kill -9` of the active node at a random moment under a steady client.
pub fn kill_drill(db: Db) -> Result<(), Failed> {
    let (sink, receiver) = Sink::start()?;
    let pair = pair("drill", db, &app(&sink), None)?;
    let (a, b) = start_pair(&pair)?;
    let ports = [pair.members[0].source_port, pair.members[1].source_port];
    let delay = Duration::from_millis(400 + random_below(1200));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(delay);
        let at = Instant::now();
        a.kill().map(|()| at).map_err(|e| format!("{e:?}"))
    });
    let mut client = Client::new(ports);
    for i in 0..EVENTS {
        client.send(i)?;
        std::thread::sleep(PACE);
    }
    let killed_at = killer.join().map_err(|_| "the killer panicked")??;
    let outcome = check_outputs(&receiver, EVENTS as u64)?;
    let failover = client
        .first_ack_after(1, killed_at)
        .ok_or("no event was acknowledged after the kill")?;
    if !probe(&b)? {
        return Err("node 1 is not active after the kill".into());
    }
    let replayed = b.output().contains("Replayed the passive queue.");
    eprintln!(
        "ha kill drill on {}: killed {} ms into the run, {EVENTS} events acknowledged, 0 lost, \
         {} raw duplicate outputs, epochs {:?}, failover {} ms (kill to the next acknowledged event), replayed: {replayed}",
        db.name(),
        delay.as_millis(),
        outcome.duplicates,
        outcome.epochs,
        failover.as_millis()
    );
    drop(b);
    remove(&pair.dir)
}

/// Test 5: SIGTERM of the active node: it persists, hands the lease over, exits 0; nothing lost.
pub fn sigterm_handover(db: Db) -> Result<(), Failed> {
    let (sink, receiver) = Sink::start()?;
    let pair = pair("sigterm", db, &app(&sink), None)?;
    let (a, b) = start_pair(&pair)?;
    let ports = [pair.members[0].source_port, pair.members[1].source_port];
    let mut client = Client::new(ports);
    let n = 200;
    for i in 0..60 {
        client.send(i)?;
    }
    let stopper = std::thread::spawn(move || {
        let at = Instant::now();
        a.terminate().map(|r| (at, r)).map_err(|e| format!("{e:?}"))
    });
    for i in 60..n {
        client.send(i)?;
        std::thread::sleep(PACE);
    }
    let (stopped_at, (status, output)) = stopper.join().map_err(|_| "the stopper panicked")??;
    if !status.success() || !output.contains("Siddhi apps persisted successfully") {
        return Err(format!("unclean shutdown ({status}):\n{output}").into());
    }
    let outcome = check_outputs(&receiver, n as u64)?;
    let handover = client
        .first_ack_after(1, stopped_at)
        .ok_or("node 1 did not take the events after the SIGTERM")?;
    eprintln!(
        "ha sigterm handover on {}: {n} events, 0 lost, {} raw duplicates, handover {} ms",
        db.name(),
        outcome.duplicates,
        handover.as_millis()
    );
    if !probe(&b)? {
        return Err("node 1 is not active after the handover".into());
    }
    drop(b);
    remove(&pair.dir)
}

/// Test 4: the active node loses the cluster database (a proxy goes silent): it stops
/// publishing before its lease can expire, the passive takes over, nothing is lost and no
/// output of the old epoch follows one of the new.
pub fn partition(db: Database) -> Result<(), Failed> {
    let (sink, receiver) = Sink::start()?;
    let proxy = FaultProxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], db.port())))?;
    let pair = pair("partition", Db::Server(db), &app(&sink), Some(proxy.port))?;
    let (a, b) = start_pair(&pair)?;
    let ports = [pair.members[0].source_port, pair.members[1].source_port];
    let mut client = Client::new(ports);
    let n = 300;
    let mut cut_at = None;
    for i in 0..n {
        if i == 100 {
            proxy.cut();
            cut_at = Some(Instant::now());
        }
        client.send(i)?;
        std::thread::sleep(PACE);
    }
    a.wait_for_output("Lost the lease")?;
    if !probe(&b)? || probe(&a)? {
        return Err("expected node 1 active and node 0 passive after the partition".into());
    }
    let took = cut_at
        .and_then(|at| client.first_ack_after(1, at))
        .ok_or("node 1 acknowledged nothing after the cut")?;
    // The database comes back: node 0 rejoins as the passive node of node 1...
    proxy.restore();
    wait_until(
        "node 0 to rejoin as passive",
        Duration::from_secs(15),
        || {
            Ok(health(&a)?["role"] == "passive"
                && health(&b)?["syncConnected"] == serde_json::json!(true))
        },
    )?;
    // ...and takes over again when node 1 dies.
    let total = 400;
    for i in n..total {
        if i == n + 40 {
            b.kill()?;
            break;
        }
        client.send(i)?;
        std::thread::sleep(PACE);
    }
    for i in n + 40..total {
        client.send(i)?;
        std::thread::sleep(PACE);
    }
    let outcome = check_outputs(&receiver, total as u64)?;
    if outcome.epochs.len() < 3 {
        return Err(format!("expected outputs of three epochs, got {:?}", outcome.epochs).into());
    }
    eprintln!(
        "ha partition on {}: {total} events, 0 lost, {} raw duplicates, epochs {:?}, node 1 took \
         events {} ms after the cut; node 0 rejoined and took over again after node 1's kill",
        db.name(),
        outcome.duplicates,
        outcome.epochs,
        took.as_millis()
    );
    drop(a);
    remove(&pair.dir)
}

/// Test 3 (ignored; `-- --ignored failover_benchmark`): 10 `kill -9`s of the active node, the
/// killed node restarted as passive each time; from the kill to the other node accepting an
/// event.
pub fn benchmark(db: Db) -> Result<(), Failed> {
    let runs: usize = std::env::var("SPATE_HA_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let pair = pair("bench", db, &app(&Sink::none()), None)?;
    let (a, b) = start_pair(&pair)?;
    let mut nodes = [Some(a), Some(b)];
    let mut active = 0;
    let mut times = Vec::new();
    for run in 0..runs {
        let passive = 1 - active;
        let killed = nodes[active].take().ok_or("no active node")?;
        let at = Instant::now();
        killed.kill()?;
        let mut client = Client::new([pair.members[passive].source_port; 2]);
        client.send(run)?;
        let took = client
            .acked
            .last()
            .map(|(t, _)| t.duration_since(at))
            .ok_or("no ack")?;
        times.push(took);
        let new_active = nodes[passive].as_ref().ok_or("no node")?;
        let takeover = new_active
            .output()
            .lines()
            .rfind(|l| l.contains("Took over as the active node"))
            .and_then(|l| l.split(" in ").nth(1))
            .and_then(|l| l.split(" ms").next())
            .map_or("?".to_string(), |ms| format!("{ms} ms"));
        eprintln!(
            "run {run}: {} ms (of which restore, replay and opening the sources {takeover})",
            took.as_millis()
        );
        let restarted = pair.members[active].start()?;
        restarted.wait_for_output("HA Deployment: Starting up as Passive Node")?;
        let now_active = nodes[passive].as_ref().ok_or("no node")?;
        wait_until("the event sync", Duration::from_secs(10), || {
            Ok(health(now_active)?["syncConnected"] == serde_json::json!(true))
        })?;
        nodes[active] = Some(restarted);
        active = passive;
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize].as_millis();
    eprintln!(
        "ha failover benchmark on {} ({runs} runs, heartbeat 250 ms x 3): p50 {} ms, p99 {} ms, min {} ms, max {} ms",
        db.name(),
        pct(0.5),
        pct(0.99),
        times[0].as_millis(),
        times[times.len() - 1].as_millis()
    );
    drop(nodes);
    if std::env::var_os("SPATE_HA_BENCH_KEEP").is_some() {
        eprintln!("logs kept in {}", pair.dir.display());
        return Ok(());
    }
    remove(&pair.dir)
}
