//! Load generator for the http source: keeps `--connections` keep-alive connections busy for
//! `--seconds`, each request carrying `--batch` events in Siddhi's JSON shape, and prints one
//! JSON line with the events per second the node acknowledged (HTTP 200).
//!
//! ```sh
//! cargo run --release -- server --apps examples/server &
//! cargo run --release --example http_ingest -- --url http://127.0.0.1:8006/trades --batch 100
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    host: String,
    path: String,
    batch: usize,
    connections: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: "127.0.0.1:8006".into(),
        path: "/trades".into(),
        batch: 1,
        connections: 4,
        seconds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--url" => {
                let rest = value
                    .strip_prefix("http://")
                    .ok_or("--url must start with http://")?;
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                args.host = host.to_string();
                args.path = if path.is_empty() {
                    "/".into()
                } else {
                    path.to_string()
                };
            }
            "--batch" => args.batch = number()?.max(1) as usize,
            "--connections" => args.connections = number()?.max(1) as usize,
            "--seconds" => args.seconds = number()?.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// A request body of `n` trades.
fn body(n: usize) -> String {
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"event":{{"symbol":"S{}","price":{}.5,"volume":{}}}}}"#,
                i % 10,
                100 + i % 7,
                1 + i % 300
            )
        })
        .collect();
    if n == 1 {
        events.concat()
    } else {
        format!("[{}]", events.join(","))
    }
}

/// Sends requests on one connection until `stop`; counts 200s and other answers.
fn worker(
    args: &Args,
    request: &[u8],
    stop: &AtomicBool,
    ok: &AtomicU64,
    refused: &AtomicU64,
) -> std::io::Result<()> {
    let addr = args
        .host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        writer.write_all(request)?;
        line.clear();
        reader.read_line(&mut line)?;
        let ok_status = line.split_whitespace().nth(1) == Some("200");
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':')
                && n.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut skip = vec![0; length];
        reader.read_exact(&mut skip)?;
        if ok_status {
            ok.fetch_add(1, Ordering::Relaxed);
        } else {
            refused.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let args = Arc::new(parse_args()?);
    let body = body(args.batch);
    let request = Arc::new(
        format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            args.path,
            args.host,
            body.len()
        )
        .into_bytes(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..args.connections)
        .map(|_| {
            let (args, request, stop, ok, refused) = (
                args.clone(),
                request.clone(),
                stop.clone(),
                ok.clone(),
                refused.clone(),
            );
            std::thread::spawn(move || worker(&args, &request, &stop, &ok, &refused))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            eprintln!("connection error: {e}");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = ok.load(Ordering::Relaxed);
    println!(
        "{{\"batch\":{},\"connections\":{},\"seconds\":{secs:.1},\"requests\":{requests},\"refused\":{},\"requests_per_sec\":{:.0},\"events_per_sec\":{:.0}}}",
        args.batch,
        args.connections,
        refused.load(Ordering::Relaxed),
        requests as f64 / secs,
        (requests as usize * args.batch) as f64 / secs
    );
    Ok(())
}
