//! A `spate server` process for tests, and a minimal HTTP/1.1 client to talk to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libtest_mimic::Failed;

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> Result<u16, Failed> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> Result<PathBuf, Failed> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("spate-server-{}-{n}-{name}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes a test's directory once it passed (a failed test keeps it for a look).
pub fn remove_dir(dir: &Path) -> Result<(), Failed> {
    std::fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()).into())
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Result<serde_json::Value, Failed> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("not JSON ({e}): {}", self.body).into())
    }

    pub fn expect(self, status: u16) -> Result<Answer, Failed> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!("expected {status}, got {}: {}", self.status, self.body).into())
        }
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &str,
) -> Result<Answer, Failed> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((user, password)) = auth {
        let token = STANDARD.encode(format!("{user}:{password}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    if body.starts_with('{') || body.starts_with('[') {
        head.push_str("Content-Type: application/json\r\n");
    } else {
        head.push_str("Content-Type: text/plain\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {headers:?}"))?;
    Ok(Answer {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    })
}

/// A running `spate server`.
pub struct Node {
    pub api: SocketAddr,
    pub password: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    /// Starts a node whose data and apps live in `dir` (kept across restarts), with an optional
    /// `deployment.yaml`, and waits until its REST API answers.
    pub fn start(dir: &Path, config: Option<&str>) -> Result<Node, Failed> {
        Node::start_with_env(dir, config, &[])
    }

    /// [`Node::start`] with extra environment variables.
    pub fn start_with_env(
        dir: &Path,
        config: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<Node, Failed> {
        let api = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let runs = std::fs::read_dir(dir)?.count();
        let log = dir.join(format!("stdout-{runs}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_spate"));
        command
            .arg("server")
            .arg("--api-bind")
            .arg(api.to_string())
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--apps")
            .arg(dir.join("apps"))
            .env("RUST_LOG", "info")
            .env("SPATE_TEST_PREFIX", "FromEnv")
            .envs(env.iter().copied())
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(std::fs::File::create(
                dir.join(format!("stderr-{runs}.log")),
            )?));
        if let Some(config) = config {
            let file = dir.join("deployment.yaml");
            std::fs::write(&file, config)?;
            command.arg("--config").arg(file);
        }
        let child = command.spawn()?;
        let mut node = Node {
            api,
            password: String::new(),
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(a) = request(api, "GET", "/health", None, "")
                && a.status == 200
            {
                break;
            }
            if let Some(child) = node.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!("the node exited with {status}:\n{}", node.output()).into());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("the node did not answer within 30 s:\n{}", node.output()).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        node.password = std::fs::read_to_string(dir.join("data/admin-password"))
            .map(|p| p.trim().to_string())
            .unwrap_or_default();
        Ok(node)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the node printed to stdout so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A REST call as `admin`.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Result<Answer, Failed> {
        request(
            self.api,
            method,
            path,
            Some(("admin", &self.password)),
            body,
        )
    }

    /// Runs an on-demand query and returns the records.
    pub fn query(&self, app: &str, query: &str) -> Result<serde_json::Value, Failed> {
        let body = serde_json::json!({ "appName": app, "query": query }).to_string();
        let answer = self.call("POST", "/stores/query", &body)?.expect(200)?;
        Ok(answer.json()?["records"].clone())
    }

    /// Waits until `query` gives `want` (events are processed asynchronously).
    pub fn wait_for_records(
        &self,
        app: &str,
        query: &str,
        want: &serde_json::Value,
    ) -> Result<(), Failed> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.query(app, query)?;
            if &got == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("`{query}` gave {got}, expected {want}\n{}", self.output()).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stdout contains `text`.
    pub fn wait_for_output(&self, text: &str) -> Result<(), Failed> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.output().contains(text) {
            if Instant::now() > deadline {
                return Err(format!("no `{text}` in the output:\n{}", self.output()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> Result<(ExitStatus, String), Failed> {
        let mut child = self.child.take().ok_or("already stopped")?;
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()?;
        let status = child.wait()?;
        Ok((status, self.output()))
    }

    /// SIGKILL (no chance to persist).
    pub fn kill(mut self) -> Result<(), Failed> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
