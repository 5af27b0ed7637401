//! The drill's client (one event at a time, retrying on the other node until a node answers
//! 200) and the check of what the http receiver got.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::{Value, json};

use super::super::node::request;
use super::super::receiver::Receiver;

/// Where the app's http sinks publish.
pub struct Sink {
    pub addr: SocketAddr,
}

impl Sink {
    /// A receiver that takes everything.
    pub fn start() -> Result<(Sink, Receiver), Failed> {
        let receiver = Receiver::start(0)?;
        Ok((
            Sink {
                addr: receiver.addr,
            },
            receiver,
        ))
    }

    /// An address nobody listens on (the outputs are not looked at).
    pub fn none() -> Sink {
        Sink {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
        }
    }
}

/// The body of event `i`: unique id, one of three keys, value `i`.
pub fn event(i: usize) -> String {
    json!({"event": {"id": format!("e{i}"), "key": format!("k{}", i % 3), "v": i}}).to_string()
}

/// Sends events one by one to the two nodes' sources.
pub struct Client {
    ports: [u16; 2],
    current: usize,
    /// When each event was acknowledged, and by which node.
    pub acked: Vec<(Instant, usize)>,
}

impl Client {
    pub fn new(ports: [u16; 2]) -> Client {
        Client {
            ports,
            current: 0,
            acked: Vec::new(),
        }
    }

    /// Sends event `i` until a node answers 200 (switching nodes on anything else).
    pub fn send(&mut self, i: usize) -> Result<(), Failed> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let addr = SocketAddr::from(([127, 0, 0, 1], self.ports[self.current]));
            match request(addr, "POST", "/in", None, &event(i)) {
                Ok(a) if a.status == 200 => {
                    self.acked.push((Instant::now(), self.current));
                    return Ok(());
                }
                _ => self.current = 1 - self.current,
            }
            if Instant::now() > deadline {
                return Err(format!("event {i} was not acknowledged within 30 s").into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Time from `at` to the first acknowledgement by `node` after it.
    pub fn first_ack_after(&self, node: usize, at: Instant) -> Option<Duration> {
        self.acked
            .iter()
            .find(|(t, n)| *t > at && *n == node)
            .map(|(t, _)| t.duration_since(at))
    }
}

/// What outputs event `j` (the j-th unique event) gives: a running count per key and the sum
/// of the last four values.
fn expected(stream: &str, j: u64) -> Value {
    match stream {
        "Counts" => {
            json!({"event": {"id": format!("e{j}"), "key": format!("k{}", j % 3), "cnt": j / 3 + 1}})
        }
        _ => {
            json!({"event": {"id": format!("e{j}"), "wsum": (j.saturating_sub(3)..=j).sum::<u64>()}})
        }
    }
}

/// What the outputs showed.
#[derive(Debug)]
pub struct Outcome {
    /// Outputs received more than once (same id).
    pub duplicates: usize,
    /// Epochs seen, in arrival order of their first output.
    pub epochs: Vec<u64>,
}

/// Waits until the receiver has both outputs of each of `n` events, then checks that — after
/// dropping repeated ids — they are exactly those of a run without failure, that a repeated id
/// always carries the same output, and that no output of an older epoch came after a newer one.
pub fn check_outputs(receiver: &Receiver, n: u64) -> Result<Outcome, Failed> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = receiver.all();
        let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
        let mut duplicates = 0;
        let mut epochs: Vec<u64> = Vec::new();
        for r in &all {
            let id = r.header("x-spate-event-id").unwrap_or_default().to_string();
            let epoch: u64 = r
                .header("x-spate-epoch")
                .and_then(|e| e.parse().ok())
                .unwrap_or(0);
            if let Some(&last) = epochs.last()
                && epoch < last
            {
                return Err(
                    format!("output {id} of epoch {epoch} arrived after epoch {last}").into(),
                );
            }
            if epochs.last() != Some(&epoch) {
                epochs.push(epoch);
            }
            let body: Value = serde_json::from_str(&r.body)?;
            if let Some(old) = by_id.insert(id.clone(), body.clone()) {
                duplicates += 1;
                if old != body {
                    return Err(format!("{id} was published as {old} and as {body}").into());
                }
            }
        }
        if by_id.len() as u64 >= 2 * n || Instant::now() > deadline {
            for stream in ["Counts", "Sums"] {
                for j in 0..n {
                    let id = format!("Drill/{stream}/{j}");
                    let want = expected(stream, j);
                    match by_id.get(&id) {
                        Some(got) if *got == want => {}
                        Some(got) => return Err(format!("{id}: got {got}, expected {want}").into()),
                        None => {
                            return Err(format!(
                                "{id} ({want}) never arrived; {} distinct outputs of {}",
                                by_id.len(),
                                2 * n
                            )
                            .into());
                        }
                    }
                }
            }
            if by_id.len() as u64 != 2 * n {
                return Err(format!("{} distinct outputs, expected {}", by_id.len(), 2 * n).into());
            }
            return Ok(Outcome { duplicates, epochs });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
