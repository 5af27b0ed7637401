//! `spate send`: publishes events from a JSON-lines file (or stdin) to a node's `tcp` source
//! (Spate's binary protocol, `docs/tcp-protocol.md`) or `http` source, in batches, waiting
//! for the acknowledgements (events in the app's input log) — over TCP with up to `--window`
//! frames in flight — and resending batches the node asks to retry, in order. Prints one JSON
//! line with the count and rate.
//!
//! Over TCP each line is the event's values in attribute order: `["IBM", 12.5, 100]` or
//! `{"data": ["IBM", 12.5, 100]}` (the `spate replay` format; other keys are ignored).
//! Over HTTP each line is what the http source's mapper takes (by default Siddhi's JSON
//! event `{"event": {...}}`); a batch goes as one JSON array.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;
use spate_engine::value::{Object, Value};
use spate_server::connector::tcp_protocol::{self as wire, Answer, Status, Writer};

/// Where to send.
pub enum Target {
    /// `HOST:PORT` of a tcp source and its context (the stream).
    Tcp { addr: String, context: String },
    /// The `receiver.url` of an http source.
    Http { url: String },
}

/// How long to wait before resending a batch the node could not take.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// What was sent.
#[derive(Debug, Default)]
struct Totals {
    events: u64,
    batches: u64,
    retries: u64,
}

/// Sends the events of `file` (`-` for stdin) to `target`, `batch` events a frame or request,
/// up to `window` tcp frames in flight.
pub fn run(file: &Path, target: &Target, batch: usize, window: usize) -> Result<ExitCode> {
    let input: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
    };
    let name = file.display().to_string();
    let lines = BufReader::with_capacity(1 << 16, input).lines();
    let batch = batch.max(1);
    let started = Instant::now();
    let totals = match target {
        Target::Tcp { addr, context } => send_tcp(lines, &name, addr, context, batch, window)?,
        Target::Http { url } => send_http(lines, &name, url, batch)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        totals.events as f64 / seconds
    } else {
        0.0
    };
    let summary = serde_json::json!({
        "events": totals.events,
        "batches": totals.batches,
        "retries": totals.retries,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "events_per_sec": rate.round(),
    });
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// Reads the next `batch` non-blank lines with their line numbers.
fn next_lines(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    line_no: &mut usize,
    batch: usize,
    name: &str,
) -> Result<Vec<(usize, String)>> {
    let mut out = Vec::with_capacity(batch);
    while out.len() < batch {
        let Some(line) = lines.next() else { break };
        *line_no += 1;
        let line = line.with_context(|| format!("{name}:{line_no}: cannot read the line"))?;
        if !line.trim().is_empty() {
            out.push((*line_no, line));
        }
    }
    Ok(out)
}

/// One line as the values of an event.
fn tcp_row(line: &str, at: &str) -> Result<Vec<Value>> {
    let json: Json =
        serde_json::from_str(line).with_context(|| format!("{at}: not a JSON value"))?;
    let data = match &json {
        Json::Array(values) => values,
        Json::Object(o) => match o.get("data") {
            Some(Json::Array(values)) => values,
            _ => bail!(
                "{at}: over tcp a line is the values in attribute order, [\"IBM\", 12.5] or \
                 {{\"data\": [...]}}"
            ),
        },
        _ => bail!("{at}: expected a JSON array of values or {{\"data\": [...]}}"),
    };
    Ok(data.iter().map(json_value).collect())
}

/// A JSON value as the nearest typed value: integers as long, other numbers as double (the
/// node narrows them to the attribute's type).
fn json_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Long(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::str(s),
        other => Value::Object(std::sync::Arc::new(Object::Text(other.to_string()))),
    }
}

/// The file line of "event N: ..." in a node's message about a batch.
fn blame(message: &str, lines: &[usize], name: &str) -> String {
    let event = message
        .strip_prefix("event ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse::<usize>().ok());
    match event.and_then(|n| lines.get(n.wrapping_sub(1))) {
        Some(line) => format!("{name}:{line}: {message}"),
        None => format!(
            "{name}:{}-{}: {message}",
            lines.first().copied().unwrap_or(0),
            lines.last().copied().unwrap_or(0)
        ),
    }
}

/// A frame sent and not yet acknowledged.
struct InFlight {
    id: u64,
    frame: Vec<u8>,
    /// The file line of each event.
    lines: Vec<usize>,
}

/// Sends frames over TCP, up to `window` before waiting for answers. A `retry` answer makes
/// the node refuse every later frame until the refused one comes again, so the client waits,
/// skips the answers to the frames that were already on their way and resends them all.
fn send_tcp(
    mut lines: impl Iterator<Item = std::io::Result<String>>,
    name: &str,
    addr: &str,
    context: &str,
    batch: usize,
    window: usize,
) -> Result<Totals> {
    let mut conn = TcpStream::connect(addr)
        .with_context(|| format!("cannot connect to the tcp source at {addr}"))?;
    conn.set_nodelay(true).ok();
    let mut reader = BufReader::new(conn.try_clone().context("cannot clone the socket")?);
    let mut writer = Writer::new();
    let mut totals = Totals::default();
    let mut line_no = 0;
    let mut body = Vec::new();
    let mut in_flight: std::collections::VecDeque<InFlight> = Default::default();
    let mut stale_answers = 0usize;
    let mut done = false;
    loop {
        while !done && in_flight.len() < window.max(1) {
            let chunk = next_lines(&mut lines, &mut line_no, batch, name)?;
            if chunk.is_empty() {
                done = true;
                break;
            }
            let rows = chunk
                .iter()
                .map(|(n, line)| tcp_row(line, &format!("{name}:{n}")))
                .collect::<Result<Vec<_>>>()?;
            totals.batches += 1;
            let id = totals.batches;
            let frame = writer
                .events(id, context, rows.iter().map(Vec::as_slice))
                .to_vec();
            conn.write_all(&frame)
                .with_context(|| format!("cannot send to {addr}"))?;
            in_flight.push_back(InFlight {
                id,
                frame,
                lines: chunk.iter().map(|(n, _)| *n).collect(),
            });
        }
        let Some(front) = in_flight.front() else {
            return Ok(totals);
        };
        let mut len = [0u8; 4];
        reader
            .read_exact(&mut len)
            .with_context(|| format!("{addr} closed the connection without an answer"))?;
        let len = wire::check_len(u32::from_be_bytes(len), wire::DEFAULT_MAX_FRAME_LEN)?;
        body.resize(len, 0);
        reader
            .read_exact(&mut body)
            .with_context(|| format!("{addr} closed the connection mid-answer"))?;
        let (acked, status, message) = match wire::read_answer(&body)? {
            Answer::Ack {
                batch,
                status,
                message,
            } => (batch, status, message),
            Answer::Error(message) => bail!("the node closed the connection: {message}"),
        };
        if stale_answers > 0 {
            // An answer to a frame sent before the last resend.
            stale_answers -= 1;
            continue;
        }
        if acked != front.id {
            bail!(
                "the node answered batch {acked} while batch {} was waiting",
                front.id
            );
        }
        match status {
            Status::Ok => {
                totals.events += front.lines.len() as u64;
                in_flight.pop_front();
            }
            Status::Retry => {
                totals.retries += 1;
                std::thread::sleep(RETRY_PAUSE);
                stale_answers = in_flight.len() - 1;
                for f in &in_flight {
                    conn.write_all(&f.frame)
                        .with_context(|| format!("cannot send to {addr}"))?;
                }
            }
            Status::Rejected => bail!("{}", blame(&message, &front.lines, name)),
        }
    }
}

fn send_http(
    mut lines: impl Iterator<Item = std::io::Result<String>>,
    name: &str,
    url: &str,
    batch: usize,
) -> Result<Totals> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let client = reqwest::Client::new();
    let mut totals = Totals::default();
    let mut line_no = 0;
    loop {
        let chunk = next_lines(&mut lines, &mut line_no, batch, name)?;
        if chunk.is_empty() {
            return Ok(totals);
        }
        let mut body = String::from("[");
        for (i, (n, line)) in chunk.iter().enumerate() {
            serde_json::from_str::<Json>(line).with_context(|| format!("{name}:{n}: not JSON"))?;
            if i > 0 {
                body.push(',');
            }
            body.push_str(line);
        }
        body.push(']');
        let numbers: Vec<usize> = chunk.iter().map(|(n, _)| *n).collect();
        totals.batches += 1;
        loop {
            let answer = runtime.block_on(async {
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                Ok::<_, reqwest::Error>((status, response.text().await.unwrap_or_default()))
            });
            let (status, text) = answer.with_context(|| format!("cannot POST to {url}"))?;
            if status.is_success() {
                break;
            }
            if status.as_u16() == 503 {
                totals.retries += 1;
                std::thread::sleep(RETRY_PAUSE);
                continue;
            }
            let message = serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
                .unwrap_or(text);
            bail!("{} (HTTP {status})", blame(&message, &numbers, name));
        }
        totals.events += chunk.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_positional_lines() {
        let row = tcp_row(r#"{"stream":"S","data":["A",1,2.5,true,null]}"#, "f:1").unwrap();
        assert_eq!(
            row,
            vec![
                Value::str("A"),
                Value::Long(1),
                Value::Double(2.5),
                Value::Bool(true),
                Value::Null
            ]
        );
        assert!(tcp_row(r#"{"event":{"a":1}}"#, "f:1").is_err());
        assert_eq!(blame("event 2: bad", &[3, 5, 9], "f"), "f:5: event 2: bad");
        assert_eq!(blame("no stream", &[3, 9], "f"), "f:3-9: no stream");
    }

    /// A node that answers `retry` to the first frame of batch 2 (and, as a node does, to
    /// every later frame until batch 2 comes again): the client resends in order.
    #[test]
    fn resends_in_order_after_a_retry() {
        use spate_server::connector::tcp_protocol::{Reader, read_events_head};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let node = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut taken = Vec::new();
            let mut awaiting = None;
            let mut refused_once = false;
            let mut writer = Writer::new();
            loop {
                let mut len = [0u8; 4];
                if conn.read_exact(&mut len).is_err() {
                    return taken;
                }
                let mut body = vec![0; u32::from_be_bytes(len) as usize];
                conn.read_exact(&mut body).unwrap();
                let head = read_events_head(&mut Reader::new(&body)).unwrap();
                let status = match awaiting {
                    Some(b) if b != head.batch => Status::Retry,
                    _ if head.batch == 2 && !refused_once => {
                        refused_once = true;
                        awaiting = Some(2);
                        Status::Retry
                    }
                    _ => {
                        awaiting = None;
                        taken.push(head.batch);
                        Status::Ok
                    }
                };
                conn.write_all(writer.ack(head.batch, status, "")).unwrap();
            }
        });
        let lines = (0..10).map(|i| Ok(format!("[{i}]")));
        let totals = send_tcp(lines, "f", &addr, "S", 2, 4).unwrap();
        assert_eq!((totals.events, totals.batches, totals.retries), (10, 5, 1));
        assert_eq!(node.join().unwrap(), vec![1, 2, 3, 4, 5]);
    }
}
