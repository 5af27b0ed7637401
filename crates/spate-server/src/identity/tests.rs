//! `auto` resolution against a real (local) metadata HTTP server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use super::{ECS_METADATA_ENV, advertised_host, first_interface_address, is_auto, node_id};

/// Serves `task` at `/v4/x/task` and `container` at `/v4/x` to `requests` connections;
/// returns the metadata base URL.
fn metadata_server(task: &'static str, container: &'static str, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut buf = [0u8; 256];
            while !request.contains("\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                "/v4/x/task" => ("200 OK", task),
                "/v4/x" => ("200 OK", container),
                _ => ("404 Not Found", "{}"),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            // A client that gave up is the client's test failure, not the server's.
            stream.write_all(response.as_bytes()).ok();
        }
    });
    format!("http://{addr}/v4/x")
}

fn env_with(base: String) -> impl Fn(&str) -> Option<String> {
    move |k: &str| (k == ECS_METADATA_ENV).then(|| base.clone())
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn explicit_values_are_kept() {
    let id = node_id("node-1", no_env).expect("id");
    assert_eq!((id.value.as_str(), id.source), ("node-1", "config"));
    let host = advertised_host(Some("10.0.0.7"), no_env).expect("host");
    assert_eq!((host.value.as_str(), host.source), ("10.0.0.7", "config"));
    assert!(is_auto(None) && is_auto(Some(" AUTO ")) && !is_auto(Some("h")));
}

#[test]
fn ecs_metadata_gives_service_name_and_task_address() {
    let task = r#"{"Cluster":"c","TaskARN":"arn:aws:ecs:eu-west-1:1:task/c/0123abcd","ServiceName":"spate-node-b"}"#;
    let container =
        r#"{"Name":"spate","Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.1.2.3"]}]}"#;
    let base = metadata_server(task, container, 2);
    let id = node_id("auto", env_with(base.clone())).expect("id");
    assert_eq!(
        (id.value.as_str(), id.source),
        ("spate-node-b", "ECS service name")
    );
    let host = advertised_host(None, env_with(base)).expect("host");
    assert_eq!(
        (host.value.as_str(), host.source),
        ("10.1.2.3", "ECS task metadata")
    );
}

#[test]
fn a_task_without_a_service_is_named_by_its_task_id() {
    let base = metadata_server(r#"{"TaskARN":"arn:aws:ecs:r:1:task/c/feedbeef"}"#, "{}", 2);
    let id = node_id("auto", env_with(base.clone())).expect("id");
    assert_eq!((id.value.as_str(), id.source), ("feedbeef", "ECS task id"));
    let err = advertised_host(Some("auto"), env_with(base)).expect_err("no address");
    assert!(err.contains("lists no IPv4 address"), "{err}");
}

#[test]
fn an_unreachable_metadata_endpoint_is_an_error_naming_it() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/v4/x", listener.local_addr().expect("addr"));
    drop(listener);
    let err = node_id("auto", env_with(base.clone())).expect_err("down");
    assert!(err.contains(&base), "{err}");
}

#[test]
fn without_ecs_the_host_name_and_first_interface_are_used() {
    let id = node_id("auto", no_env).expect("host name");
    assert_eq!(id.source, "host name");
    assert!(!id.value.is_empty());
    match (advertised_host(None, no_env), first_interface_address()) {
        (Ok(host), Some(ip)) => {
            assert_eq!(host.value, ip.to_string());
            assert_ne!(host.value, "127.0.0.1");
        }
        (Err(e), None) => assert!(e.contains("no non-loopback"), "{e}"),
        (got, ip) => panic!("resolution {got:?} disagrees with interfaces {ip:?}"),
    }
}
