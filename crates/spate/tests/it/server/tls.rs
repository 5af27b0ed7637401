//! The REST API over HTTPS (`spate.api.tls`): a real node with a self-signed certificate
//! (tests/data/tls, for 127.0.0.1 and localhost), checked with curl against that certificate;
//! plain HTTP on the same port gets no answer; a key that is not PEM stops the node with a
//! message naming the file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use super::node::{free_port, request, test_dir};

fn config(dir: &Path, key: &Path) -> Result<std::path::PathBuf, Failed> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    let text = format!(
        "wso2.carbon:\n  id: tls-node\n\
         spate:\n  api:\n    tls:\n      certFile: {data}/cert.pem\n      keyFile: {}\n",
        key.display()
    );
    let file = dir.join("deployment.yaml");
    std::fs::write(&file, text)?;
    Ok(file)
}

fn curl(args: &[&str]) -> Result<(String, String), Failed> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    Ok((body.to_string(), code.to_string()))
}

pub fn api_over_https() -> Result<(), Failed> {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("note: skipping: curl is not installed");
        return Ok(());
    }
    let dir = test_dir("tls")?;
    let key = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/tls/key.pem"
    ));
    let port = free_port()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_spate"))
        .arg("server")
        .args(["--config".as_ref(), config(&dir, key)?.as_os_str()])
        .args(["--api-bind", &format!("127.0.0.1:{port}")])
        .args(["--data-dir".as_ref(), dir.join("data").as_os_str()])
        .args(["--apps".as_ref(), dir.join("apps").as_os_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = (|| -> Result<(), Failed> {
        let cert = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/cert.pem");
        let url = format!("https://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (body, code) = curl(&["--cacert", cert, &format!("{url}/health")])?;
            if code == "200" {
                if !body.contains("ok") {
                    return Err(format!("odd /health over https: {body}").into());
                }
                break;
            }
            if Instant::now() > deadline {
                return Err("the node did not answer over https within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let password = std::fs::read_to_string(dir.join("data/admin-password"))?;
        let user = format!("admin:{}", password.trim());
        let (_, code) = curl(&["--cacert", cert, "-u", &user, &format!("{url}/siddhi-apps")])?;
        if code != "200" {
            return Err(format!("GET /siddhi-apps over https answered {code}").into());
        }
        let (_, code) = curl(&["--cacert", cert, &format!("{url}/siddhi-apps")])?;
        if code != "401" {
            return Err(format!("no credentials over https answered {code}, not 401").into());
        }
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(a) = request(addr, "GET", "/health", None, "")
            && a.status == 200
        {
            return Err("plain HTTP was answered on the HTTPS port".into());
        }
        Ok(())
    })();
    child.kill().ok();
    child.wait().ok();
    result?;

    // A key file that is not PEM: the node refuses to start and names the file.
    let bad = dir.join("not-a-key.pem");
    std::fs::write(&bad, "hello")?;
    let out = Command::new(env!("CARGO_BIN_EXE_spate"))
        .arg("server")
        .args(["--config".as_ref(), config(&dir, &bad)?.as_os_str()])
        .args(["--api-bind", &format!("127.0.0.1:{}", free_port()?)])
        .args(["--data-dir".as_ref(), dir.join("data").as_os_str()])
        .args(["--apps".as_ref(), dir.join("apps").as_os_str()])
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() || !text.contains("keyFile") || !text.contains("not-a-key.pem") {
        return Err(format!("a bad key file should stop the node naming it:\n{text}").into());
    }
    super::node::remove_dir(&dir)
}
