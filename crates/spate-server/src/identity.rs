//! Who this node is and where its peer reaches it, when the config says `auto`.
//!
//! One container image serves both nodes of an HA pair, so neither the node id
//! (`wso2.carbon.id`) nor the address the peer dials
//! (`deployment.config.eventSyncServer.advertisedHost`) can be baked into it. With `auto`:
//!
//! - the node id is the ECS service name from the task metadata endpoint
//!   (`$ECS_CONTAINER_METADATA_URI_V4/task` → `ServiceName`), else the task id (last part of
//!   `TaskARN`), else the host name;
//! - the advertised host is the task's private address (`$ECS_CONTAINER_METADATA_URI_V4` →
//!   `Networks[0].IPv4Addresses[0]`), else the first non-loopback IPv4 interface address.
//!
//! This replaces the spec's `sed` over `ifconfig` output. Resolution does I/O (a local HTTP
//! call with a short timeout), so it runs once when the node starts, not when config loads.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The config value that asks for resolution.
pub const AUTO: &str = "auto";

/// The environment variable ECS sets in every container of a task.
pub const ECS_METADATA_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";

const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
/// Metadata responses are a few kB; anything far larger is not the endpoint we expect.
const METADATA_LIMIT: u64 = 1 << 20;

/// A resolved value and where it came from (for the start-up log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub source: &'static str,
}

/// Whether a configured value asks for resolution (`auto`, or unset).
pub fn is_auto(configured: Option<&str>) -> bool {
    configured.is_none_or(|v| v.trim().is_empty() || v.trim().eq_ignore_ascii_case(AUTO))
}

/// The node id: `configured` unless it is `auto`.
pub fn node_id(configured: &str, env: impl Fn(&str) -> Option<String>) -> Result<Resolved, String> {
    if !is_auto(Some(configured)) {
        return Ok(Resolved {
            value: configured.to_string(),
            source: "config",
        });
    }
    if let Some(base) = env(ECS_METADATA_ENV).filter(|b| !b.is_empty()) {
        let task = get_json(&format!("{}/task", base.trim_end_matches('/')))
            .map_err(|e| format!("wso2.carbon.id is `auto` but the ECS task metadata at {base}/task could not be read: {e}"))?;
        if let Some(name) = task["ServiceName"].as_str().filter(|n| !n.is_empty()) {
            return Ok(Resolved {
                value: name.to_string(),
                source: "ECS service name",
            });
        }
        if let Some(arn) = task["TaskARN"].as_str()
            && let Some(id) = arn.rsplit('/').next().filter(|id| !id.is_empty())
        {
            return Ok(Resolved {
                value: id.to_string(),
                source: "ECS task id",
            });
        }
    }
    host_name()
        .map(|value| Resolved {
            value,
            source: "host name",
        })
        .ok_or_else(|| {
            "wso2.carbon.id is `auto` but this host has no name; set the node id explicitly \
             (SPATE__WSO2_CARBON__ID)"
                .to_string()
        })
}

/// The address the peer dials: `configured` unless it is `auto` or unset.
pub fn advertised_host(
    configured: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved, String> {
    if let Some(host) = configured.filter(|c| !is_auto(Some(c))) {
        return Ok(Resolved {
            value: host.to_string(),
            source: "config",
        });
    }
    if let Some(base) = env(ECS_METADATA_ENV).filter(|b| !b.is_empty()) {
        let container = get_json(base.trim_end_matches('/')).map_err(|e| {
            format!("advertisedHost is `auto` but the ECS container metadata at {base} could not be read: {e}")
        })?;
        return container["Networks"][0]["IPv4Addresses"][0]
            .as_str()
            .filter(|a| !a.is_empty())
            .map(|a| Resolved {
                value: a.to_string(),
                source: "ECS task metadata",
            })
            .ok_or_else(|| {
                format!("advertisedHost is `auto` but the ECS container metadata at {base} lists no IPv4 address")
            });
    }
    first_interface_address()
        .map(|ip| Resolved {
            value: ip.to_string(),
            source: "first non-loopback interface",
        })
        .ok_or_else(|| {
            "advertisedHost is `auto` but no non-loopback IPv4 interface was found; set \
             deployment.config.eventSyncServer.advertisedHost"
                .to_string()
        })
}

/// The first non-loopback IPv4 address of this host's interfaces, in the order the OS lists
/// them.
pub fn first_interface_address() -> Option<IpAddr> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .map(|i| i.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
}

fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|n| n.trim().to_string())
        .find(|n| !n.is_empty())
}

/// `GET url` (plain `http://host[:port]/path`, as the ECS metadata endpoint is) and parse the
/// body as JSON.
fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} has no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&sock, METADATA_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(METADATA_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(METADATA_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .take(METADATA_LIMIT)
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the response has no body")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("HTTP status {status}"));
    }
    serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))
}

#[cfg(test)]
mod tests;
