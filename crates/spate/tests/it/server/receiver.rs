//! An HTTP receiver for the http sink: records each request's headers and body, and answers
//! 503 to the first `fail_first` requests (to exercise retries), 200 to the rest.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

/// A request the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    refused: usize,
    accepted: Vec<Received>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Result<Receiver, Failed> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state, fail_first));
            }
        });
        Ok(Receiver { addr, state })
    }

    /// Every request accepted so far, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        self.state
            .lock()
            .map(|s| s.accepted.clone())
            .unwrap_or_default()
    }

    /// Waits until `n` requests were accepted and returns them.
    pub fn wait_for(&self, n: usize) -> Result<Vec<Received>, Failed> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let accepted = self.state.lock().map_err(|_| "poisoned")?.accepted.clone();
            if accepted.len() >= n {
                return Ok(accepted);
            }
            if Instant::now() > deadline {
                return Err(
                    format!("{} of {n} requests arrived: {accepted:?}", accepted.len()).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(stream: TcpStream, state: &Mutex<State>, fail_first: usize) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let refuse = {
            let Ok(mut s) = state.lock() else { return };
            if s.refused < fail_first {
                s.refused += 1;
                true
            } else {
                s.accepted.push(Received {
                    headers,
                    body: String::from_utf8_lossy(&body).to_string(),
                });
                false
            }
        };
        let answer = if refuse {
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
        } else {
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
