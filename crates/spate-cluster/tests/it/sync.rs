//! Event sync over real TCP on localhost: acknowledgements, backpressure, a receiver killed and
//! restarted, control-message trimming, malformed and oversized frames, version mismatch,
//! fenced senders, and a throughput figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use futures_util::{SinkExt, StreamExt};
use libtest_mimic::Trial;
use spate_cluster::RefusalCode;
use spate_cluster::sync::codec::{FrameCodec, encode_body};
use spate_cluster::sync::frame::Hello;
use spate_cluster::sync::{
    AckFuture, Control, Delivery, Entry, EntryKind, Frame, ReceiverConfig, Replica, SenderConfig,
    SyncReceiver, SyncSender, SyncValue, Watermark,
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::ensure;
use crate::support::{Context, runtime};

const GROUP: &str = "si";
const WAIT: Duration = Duration::from_secs(10);

type Case = fn() -> Result<(), String>;

pub fn trials() -> Vec<Trial> {
    let cases: [(&str, Case); 9] = [
        ("a_sealed_replica_takes_nothing_more", sealed),
        ("entries_are_acked_in_order", acks),
        ("a_full_window_blocks_until_the_passive_acks", backpressure),
        (
            "receiver_killed_and_restarted_without_loss_or_duplicates",
            restart,
        ),
        ("control_messages_trim_and_name_the_revision", trimming),
        ("malformed_and_oversized_frames_are_refused", malformed),
        (
            "another_protocol_version_is_refused_clearly",
            version_mismatch,
        ),
        ("a_fenced_sender_is_refused", stale_epoch),
        ("throughput", throughput),
    ];
    cases
        .into_iter()
        .map(|(name, case)| Trial::test(format!("sync::{name}"), move || Ok(case()?)))
        .collect()
}

fn event(app: &str, seq: u64) -> Entry {
    Entry {
        app: app.into(),
        seq,
        timestamp: 1_700_000_000_000 + seq as i64,
        kind: EntryKind::Event {
            stream: "In".into(),
            values: vec![
                SyncValue::Str(format!("k{}", seq % 7)),
                SyncValue::Long(seq as i64),
                SyncValue::Double(seq as f64 / 2.0),
            ],
        },
    }
}

fn receiver_config(bind: &str) -> ReceiverConfig {
    let mut config = ReceiverConfig::new(bind, GROUP, "passive");
    config.idle_timeout = Duration::from_secs(5);
    config
}

fn sender_config(epoch: u64, window: usize) -> SenderConfig {
    let mut config = SenderConfig::new(GROUP, "active", epoch);
    config.window = window;
    config.backoff = (Duration::from_millis(10), Duration::from_millis(100));
    config
}

async fn receiver(bind: &str, replica: Arc<Replica>) -> Result<SyncReceiver, String> {
    SyncReceiver::bind(receiver_config(bind), replica)
        .await
        .ctx("bind receiver")
}

async fn all_acked(acks: Vec<AckFuture>) -> Result<(), String> {
    for ack in acks {
        let delivery = tokio::time::timeout(WAIT, ack)
            .await
            .ctx("ack wait")?
            .ctx("ack")?;
        ensure!(delivery == Delivery::Acked, "{delivery:?}");
    }
    Ok(())
}

fn seqs(replica: &Replica, app: &str) -> Vec<u64> {
    replica
        .snapshot()
        .iter()
        .filter(|a| a.app == app)
        .flat_map(|a| a.entries.iter().map(|e| e.seq))
        .collect()
}

/// A free port on localhost (bound then released).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ctx("bind")?;
    Ok(listener.local_addr().ctx("addr")?.port())
}

fn acks() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(10_000));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let tx = SyncSender::start(sender_config(1, 256), Some(rx.local_addr().to_string()));
        let mut acks = Vec::new();
        for seq in 1..=1_000 {
            for app in ["A", "B"] {
                acks.push(tx.send(event(app, seq)).await.ctx("send")?);
            }
        }
        acks.push(
            tx.send(Entry {
                app: "A".into(),
                seq: 1_001,
                timestamp: 5,
                kind: EntryKind::Tick,
            })
            .await
            .ctx("tick")?,
        );
        all_acked(acks).await?;
        ensure!(
            seqs(&replica, "A") == (1..=1_001).collect::<Vec<_>>(),
            "A in order"
        );
        ensure!(
            seqs(&replica, "B") == (1..=1_000).collect::<Vec<_>>(),
            "B in order"
        );
        let a = &replica.snapshot()[0];
        ensure!(
            a.entries[0] == event("A", 1),
            "values survive the wire: {:?}",
            a.entries[0]
        );
        ensure!(a.replayable, "a log from seq 1 is replayable");
        let out_of_order = tx.send(event("A", 7)).await;
        ensure!(out_of_order.is_err(), "seq must grow per app");
        ensure!(tx.stats().in_flight == 0, "{:?}", tx.stats());
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

fn backpressure() -> Result<(), String> {
    runtime()?.block_on(async {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        // Nobody listens yet: the window fills and stays full.
        let tx = SyncSender::start(sender_config(1, 8), Some(addr.clone()));
        let mut acks = Vec::new();
        for seq in 1..=8 {
            acks.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        let ninth = tx.try_send(event("A", 9)).ctx("try_send")?;
        let Err(ninth) = ninth else {
            return Err("the 9th entry must not fit a window of 8".into());
        };
        let blocked =
            tokio::time::timeout(Duration::from_millis(300), tx.send(ninth.clone())).await;
        ensure!(blocked.is_err(), "send must wait while the window is full");
        ensure!(
            tx.stats().in_flight == 8 && !tx.stats().connected,
            "{:?}",
            tx.stats()
        );
        // The passive comes up: the sender connects, everything is acked, room opens.
        let replica = Arc::new(Replica::new(100));
        let rx = receiver(&addr, replica.clone()).await?;
        acks.push(
            tokio::time::timeout(WAIT, tx.send(ninth))
                .await
                .ctx("room")?
                .ctx("send")?,
        );
        all_acked(acks).await?;
        ensure!(
            seqs(&replica, "A") == (1..=9).collect::<Vec<_>>(),
            "all nine, once"
        );
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

fn restart() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(10_000));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let addr = rx.local_addr().to_string();
        let tx = SyncSender::start(sender_config(1, 512), Some(addr.clone()));
        let mut first = Vec::new();
        for seq in 1..=100 {
            first.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        all_acked(first).await?;
        // Crash of the passive's server: no goodbye. The queue object survives in `replica`
        // (a restart of the listener); a second case below uses a fresh replica (a new process).
        rx.kill().await;
        let mut second = Vec::new();
        for seq in 101..=300 {
            second.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rx = receiver(&addr, replica.clone()).await?;
        all_acked(second).await?;
        ensure!(
            seqs(&replica, "A") == (1..=300).collect::<Vec<_>>(),
            "every entry exactly once"
        );
        ensure!(
            replica.stats().duplicates == 0,
            "the welcome prevented resends: {:?}",
            replica.stats()
        );
        // Now a new passive process: an empty replica gets exactly what is unacknowledged.
        rx.kill().await;
        let mut third = Vec::new();
        for seq in 301..=400 {
            third.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        let fresh = Arc::new(Replica::new(10_000));
        let rx = receiver(&addr, fresh.clone()).await?;
        all_acked(third).await?;
        ensure!(
            seqs(&fresh, "A") == (301..=400).collect::<Vec<_>>(),
            "resent: {:?}",
            seqs(&fresh, "A").first()
        );
        ensure!(
            !fresh.snapshot()[0].replayable,
            "a new passive cannot replay without a snapshot"
        );
        ensure!(tx.stats().connections == 3, "{:?}", tx.stats());
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

async fn until(what: &str, check: impl Fn() -> bool) -> Result<(), String> {
    let limit = Instant::now() + WAIT;
    while !check() {
        ensure!(Instant::now() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn trimming() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(30));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let tx = SyncSender::start(sender_config(1, 64), Some(rx.local_addr().to_string()));
        let mut acks = Vec::new();
        for seq in 1..=20 {
            acks.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        acks.push(tx.send(event("B", 1)).await.ctx("send")?);
        all_acked(acks).await?;
        let control = Control {
            app: "A".into(),
            revision: "1700000000012__A".into(),
            covered_seq: 12,
        };
        tx.control(control.clone());
        tx.published(Watermark {
            app: "A".into(),
            stream: "Out".into(),
            seq: 9,
        });
        until("the trim", || replica.depth("A") == 8).await?;
        until("the watermark", || {
            replica.snapshot()[0].published.get("Out") == Some(&9)
        })
        .await?;
        let a = replica.snapshot().remove(0);
        ensure!(
            a.restore == Some(control),
            "restore exactly the named revision"
        );
        ensure!(
            a.entries.iter().map(|e| e.seq).eq(13..=20),
            "kept what the snapshot lacks"
        );
        ensure!(a.replayable, "13 follows the covered 12");
        ensure!(replica.depth("B") == 1, "other apps untouched");
        // The queue bound: 30 per app. Without a trim the 31st is refused and resent later.
        let mut acks = Vec::new();
        for seq in 21..=45 {
            acks.push(tx.send(event("A", seq)).await.ctx("send")?);
        }
        until("the full queue", || replica.stats().refused_full > 0).await?;
        ensure!(replica.depth("A") == 30, "bounded: {}", replica.depth("A"));
        tx.control(Control {
            app: "A".into(),
            revision: "1700000000040__A".into(),
            covered_seq: 40,
        });
        all_acked(acks).await?;
        ensure!(
            seqs(&replica, "A") == (41..=45).collect::<Vec<_>>(),
            "{:?}",
            seqs(&replica, "A")
        );
        // Failover: seal (nothing more is taken) and hand the queue over.
        replica.seal(2);
        let replay = replica.take_replay();
        ensure!(replay.len() == 2 && replica.depth("A") == 0, "taken");
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

type Raw = Framed<TcpStream, FrameCodec>;

async fn raw(addr: &str) -> Result<Raw, String> {
    let stream = TcpStream::connect(addr).await.ctx("connect")?;
    Ok(Framed::new(stream, FrameCodec::new(1 << 20)))
}

fn hello(version: u16, epoch: u64) -> Frame {
    Frame::Hello(Hello {
        version,
        group: GROUP.into(),
        node: "raw".into(),
        epoch,
    })
}

async fn refusal(conn: &mut Raw) -> Result<(RefusalCode, String), String> {
    loop {
        match tokio::time::timeout(WAIT, conn.next()).await.ctx("reply")? {
            Some(Ok(Frame::Refused { code, message })) => return Ok((code, message)),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("reply: {e}")),
            None => return Err("closed without a refusal".into()),
        }
    }
}

fn malformed() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(100));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let addr = rx.local_addr().to_string();
        // A damaged checksum after a good hello.
        let mut conn = raw(&addr).await?;
        conn.send(hello(spate_cluster::sync::PROTOCOL_VERSION, 1))
            .await
            .ctx("hello")?;
        let mut body = encode_body(&Frame::Entry(event("A", 1))).to_vec();
        body[3] ^= 0xff;
        conn.send(bytes::Bytes::from(body)).await.ctx("send")?;
        let (code, message) = refusal(&mut conn).await?;
        ensure!(
            code == RefusalCode::Malformed && message.contains("checksum"),
            "{code:?} {message}"
        );
        // An oversized frame: refused from its length alone.
        let mut stream = TcpStream::connect(&addr).await.ctx("connect")?;
        let mut header = BytesMut::new();
        header.put_u32(u32::MAX);
        tokio::io::AsyncWriteExt::write_all(&mut stream, &header)
            .await
            .ctx("write")?;
        let mut conn = Framed::new(stream, FrameCodec::new(1 << 20));
        let (code, message) = refusal(&mut conn).await?;
        ensure!(
            code == RefusalCode::Malformed && message.contains("limit"),
            "{code:?} {message}"
        );
        // Garbage instead of a hello.
        let mut stream = TcpStream::connect(&addr).await.ctx("connect")?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, b"\0\0\0\x08GET / HTTP")
            .await
            .ctx("write")?;
        let mut conn = Framed::new(stream, FrameCodec::new(1 << 20));
        ensure!(
            refusal(&mut conn).await?.0 == RefusalCode::Malformed,
            "garbage refused"
        );
        until("the rejections to be counted", || {
            replica.stats().rejected >= 3
        })
        .await?;
        ensure!(replica.depth("A") == 0, "nothing queued from bad frames");
        // The server still serves a proper sender.
        let tx = SyncSender::start(sender_config(1, 8), Some(addr));
        all_acked(vec![tx.send(event("A", 1)).await.ctx("send")?]).await?;
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

fn version_mismatch() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(100));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let mut conn = raw(&rx.local_addr().to_string()).await?;
        conn.send(hello(99, 1)).await.ctx("hello")?;
        let (code, message) = refusal(&mut conn).await?;
        ensure!(code == RefusalCode::VersionMismatch, "{code:?}");
        ensure!(
            message.contains("version 1")
                && message.contains("version 99")
                && message.contains("same Spate version"),
            "{message}"
        );
        until("the refusal to be recorded", || {
            replica
                .stats()
                .last_error
                .is_some_and(|e| e.contains("version 99"))
        })
        .await?;
        rx.shutdown().await;
        Ok(())
    })
}

fn stale_epoch() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(100));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let addr = rx.local_addr().to_string();
        let new = SyncSender::start(sender_config(2, 8), Some(addr.clone()));
        all_acked(vec![new.send(event("A", 1)).await.ctx("send")?]).await?;
        let old = SyncSender::start(sender_config(1, 8), Some(addr));
        let pending = old.send(event("A", 2)).await.ctx("send")?;
        until("the refusal", || old.stats().last_error.is_some()).await?;
        let error = old.stats().last_error.unwrap_or_default();
        ensure!(
            error.contains("StaleEpoch") && error.contains("fenced"),
            "{error}"
        );
        ensure!(
            seqs(&replica, "A") == vec![1],
            "nothing from the fenced sender"
        );
        old.set_peer(None);
        ensure!(
            pending.await.ctx("released")? == Delivery::Unreplicated,
            "released on detach"
        );
        new.shutdown();
        old.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

/// Prints events/s over localhost with 3-attribute events, window 4096 (not asserted).
fn throughput() -> Result<(), String> {
    runtime()?.block_on(async {
        let total: u64 = std::env::var("SPATE_SYNC_BENCH_EVENTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        let replica = Arc::new(Replica::new(
            usize::try_from(total + 1_000).unwrap_or(usize::MAX),
        ));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let tx = SyncSender::start(sender_config(1, 4096), Some(rx.local_addr().to_string()));
        let start = Instant::now();
        let mut last = None;
        for seq in 1..=total {
            last = Some(tx.send(event("A", seq)).await.ctx("send")?);
        }
        if let Some(last) = last {
            all_acked(vec![last]).await?;
        }
        let elapsed = start.elapsed();
        ensure!(replica.depth("A") as u64 == total, "all queued");
        eprintln!(
            "sync throughput: {total} events acked in {elapsed:?} = {:.0} events/s",
            total as f64 / elapsed.as_secs_f64()
        );
        // What a source in `ack` mode adds per event when it sends one at a time.
        let mut latencies = Vec::new();
        for seq in total + 1..=total + 1_000 {
            let sent = Instant::now();
            all_acked(vec![tx.send(event("A", seq)).await.ctx("send")?]).await?;
            latencies.push(sent.elapsed());
        }
        latencies.sort_unstable();
        eprintln!(
            "sync ack round trip, one entry at a time: p50 {:?}, p99 {:?}",
            latencies[latencies.len() / 2],
            latencies[latencies.len() * 99 / 100]
        );
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}

/// After failover the new active seals its replica: the old active's live connection is closed
/// at its next frame, reconnects are refused, and the queue handed over stays as it was.
fn sealed() -> Result<(), String> {
    runtime()?.block_on(async {
        let replica = Arc::new(Replica::new(100));
        let rx = receiver("127.0.0.1:0", replica.clone()).await?;
        let tx = SyncSender::start(sender_config(1, 8), Some(rx.local_addr().to_string()));
        all_acked(vec![tx.send(event("A", 1)).await.ctx("send")?]).await?;
        replica.seal(2);
        let replay = replica.take_replay();
        ensure!(
            replay.len() == 1 && replay[0].entries.len() == 1,
            "{replay:?}"
        );
        let late = tx.send(event("A", 2)).await.ctx("send")?;
        until("the old active to be refused", || {
            tx.stats()
                .last_error
                .is_some_and(|e| e.contains("became the active node"))
        })
        .await?;
        ensure!(replica.depth("A") == 0, "nothing taken after the seal");
        tx.set_peer(None);
        ensure!(
            late.await.ctx("released")? == Delivery::Unreplicated,
            "released"
        );
        tx.shutdown();
        rx.shutdown().await;
        Ok(())
    })
}
