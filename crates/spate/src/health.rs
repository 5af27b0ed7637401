//! `spate health`: asks a node whether it is up (or the active node of an HA pair) and answers
//! with the exit code, so a container health check needs no HTTP client in the image.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Answers are tiny; read no more than this.
const LIMIT: u64 = 64 * 1024;

/// Exit 0 when `GET <url>/health` answers 200 (with `active`: when the HA probe answers
/// `true`); 1 otherwise, with the reason on stderr.
pub fn run(url: &str, active: bool) -> anyhow::Result<ExitCode> {
    let path = if active {
        "/siddhi-apps/ha/is-active-node"
    } else {
        "/health"
    };
    match get(url, path) {
        Ok((200, body)) if !active || body.trim() == "true" => Ok(ExitCode::SUCCESS),
        Ok((200, body)) => {
            eprintln!(
                "{url}: not the active node (the probe answered {})",
                body.trim()
            );
            Ok(ExitCode::from(1))
        }
        Ok((status, body)) => {
            eprintln!("{url}{path}: HTTP {status} {}", body.trim());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("{url}{path}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `GET path` on the node at `url` (`http://host:port`); the status and body.
fn get(url: &str, path: &str) -> Result<(u16, String), String> {
    let authority = url
        .strip_prefix("http://")
        .ok_or("the URL must start with http://")?
        .split('/')
        .next()
        .unwrap_or_default();
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .take(LIMIT)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("not an HTTP answer")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The payload of a chunked body.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn dechunks() {
        assert_eq!(super::dechunk("4\r\ntrue\r\n0\r\n\r\n"), "true");
    }
}
