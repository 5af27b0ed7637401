//! `spate server` as a user runs it: real processes, real ports, real databases. Each test
//! starts the built binary on free ports in its own directory, talks to it over HTTP and
//! checks what it answers, logs and keeps across restarts.

mod connectors;
mod databases;
mod deploy_pair;
mod ha;
mod node;
mod proxy;
mod receiver;
mod store_tables;

use libtest_mimic::{Completion, Failed, Trial};
use serde_json::json;

use node::{Node, free_port, request, test_dir};

/// An app with an http source on `port`, a log sink (prefix from `${SPATE_TEST_PREFIX}`) and a
/// running count per symbol in a table.
fn counter_app(port: u16) -> String {
    format!(
        "@app:name('Counter')\n\
         @source(type='http', receiver.url='http://127.0.0.1:{port}/trades', @map(type='json'))\n\
         define stream TradeStream (symbol string, price double, volume long);\n\
         @sink(type='log', prefix='${{SPATE_TEST_PREFIX}}')\n\
         define stream BigStream (symbol string, volume long);\n\
         @primaryKey('symbol')\n\
         define table Totals (symbol string, trades long, volume long);\n\
         from TradeStream[volume > 100] select symbol, volume insert into BigStream;\n\
         from TradeStream select symbol, count() as trades, sum(volume) as volume group by symbol\n\
         update or insert into Totals on Totals.symbol == symbol;\n"
    )
}

const TOTALS: &str = "from Totals select symbol, trades, volume";

fn trade(volume: i64) -> String {
    json!({"event": {"symbol": "IBM", "price": 10.5, "volume": volume}}).to_string()
}

/// Posts events to the app's http source and expects 200.
fn send(port: u16, body: &str) -> Result<(), Failed> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    request(addr, "POST", "/trades", None, body)?.expect(200)?;
    Ok(())
}

fn deploy_counter(node: &Node, port: u16) -> Result<(), Failed> {
    let answer = node
        .call("POST", "/siddhi-apps", &counter_app(port))?
        .expect(201)?;
    if !answer
        .headers
        .to_ascii_lowercase()
        .contains("location: /siddhi-apps/counter")
    {
        return Err(format!("no Location header: {}", answer.headers).into());
    }
    wait_active(node, "Counter")
}

fn wait_active(node: &Node, app: &str) -> Result<(), Failed> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = node.call("GET", &format!("/siddhi-apps/{app}/status"), "")?;
        if status.status == 200 && status.json()?["status"] == "active" {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("app {app} not active: {}", status.body).into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Deploy, send, see outputs, back up, restore a revision, shut down cleanly, restart with the
/// state, then `kill -9` and restart from the last backup plus the input journal — on the
/// embedded SQLite default.
fn lifecycle_on_sqlite() -> Result<(), Failed> {
    let dir = test_dir("lifecycle")?;
    let port = free_port()?;
    let node = Node::start(&dir, None)?;
    deploy_counter(&node, port)?;
    let listed = node.call("GET", "/siddhi-apps", "")?.expect(200)?.json()?;
    assert_eq_json(&listed, &json!(["Counter"]))?;
    send(port, &trade(150))?;
    send(port, &format!("[{},{}]", trade(10), trade(20)))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 180]]))?;
    node.wait_for_output("FromEnv : Event{timestamp=")?;
    node.wait_for_output("data=[IBM, 150], isExpired=false}")?;

    let backup = node
        .call("POST", "/siddhi-apps/Counter/backup", "")?
        .expect(201)?
        .json()?;
    let revision = backup["revision"]
        .as_str()
        .ok_or("no revision")?
        .to_string();
    if !revision.ends_with("__Counter") {
        return Err(format!("odd revision {revision}").into());
    }
    send(port, &trade(5))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 4, 185]]))?;
    node.call(
        "POST",
        &format!("/siddhi-apps/Counter/restore?revision={revision}"),
        "",
    )?
    .expect(200)?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 180]]))?;

    let (status, output) = node.terminate()?;
    if !status.success() || !output.contains("Siddhi apps persisted successfully") {
        return Err(format!("unclean shutdown ({status}):\n{output}").into());
    }

    // The app was saved to the apps directory; its state comes back from SQLite.
    let node = Node::start(&dir, None)?;
    wait_active(&node, "Counter")?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 3, 180]]))?;
    send(port, &trade(1))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 4, 181]]))?;
    node.call("POST", "/siddhi-apps/Counter/backup", "")?
        .expect(201)?;
    send(port, &trade(1))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 5, 182]]))?;
    node.kill()?;

    // The input journal (on in the embedded default) replays what the backup missed.
    let node = Node::start(&dir, None)?;
    wait_active(&node, "Counter")?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 5, 182]]))?;
    node.wait_for_output("Replayed the input journal.")?;
    node.call("DELETE", "/siddhi-apps/Counter", "")?
        .expect(200)?;
    node.call("GET", "/siddhi-apps/Counter", "")?.expect(404)?;
    if dir.join("apps/Counter.siddhi").exists() {
        return Err("the app file was not deleted".into());
    }
    drop(node);
    node::remove_dir(&dir)
}

/// Every bad input gets its status and a precise message, and the node keeps working.
fn bad_inputs() -> Result<(), Failed> {
    let dir = test_dir("bad-inputs")?;
    let port = free_port()?;
    let node = Node::start(&dir, None)?;
    let addr = node.api;

    // Authentication: /health and the HA probe are open, the rest is not.
    request(addr, "GET", "/health", None, "")?.expect(200)?;
    let active = request(addr, "GET", "/siddhi-apps/ha/is-active-node", None, "")?.expect(200)?;
    assert_eq_json(&active.json()?, &json!(true))?;
    request(addr, "GET", "/siddhi-apps", None, "")?.expect(401)?;
    request(addr, "GET", "/siddhi-apps", Some(("admin", "wrong")), "")?.expect(401)?;
    request(addr, "GET", "/metrics", None, "")?.expect(401)?;

    // Invalid app: 400 with line and column.
    let invalid =
        "@app:name('Bad')\ndefine stream S (a int);\nfrom S[b > 1] select a insert into O;\n";
    let answer = node
        .call("POST", "/siddhi-apps", invalid)?
        .expect(400)?
        .json()?;
    if answer["line"] != 3 || answer["column"] != 8 {
        return Err(format!("expected line 3 column 8: {answer}").into());
    }
    let message = answer["message"].as_str().unwrap_or_default();
    if !message.starts_with("3:8:") || !message.contains("`b`") {
        return Err(format!("imprecise message: {message}").into());
    }
    let unknown_option =
        "@app:name('Bad')\n@sink(type='log', colour='red')\ndefine stream S (a int);\n";
    let answer = node
        .call("POST", "/siddhi-apps", unknown_option)?
        .expect(400)?
        .json()?;
    if !answer["message"]
        .as_str()
        .unwrap_or_default()
        .contains("`colour`")
    {
        return Err(format!("the unknown option is not named: {answer}").into());
    }

    deploy_counter(&node, port)?;
    node.call("POST", "/siddhi-apps", &counter_app(port))?
        .expect(409)?;
    node.call("GET", "/siddhi-apps/Nope/status", "")?
        .expect(404)?;
    node.call("POST", "/siddhi-apps/Nope/backup", "")?
        .expect(404)?;
    node.call(
        "POST",
        "/siddhi-apps/Counter/restore?revision=1__Counter",
        "",
    )?
    .expect(404)?;

    // Bad events: 400 with the reason; the node keeps taking good ones.
    let source = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let cases = [
        ("{\"event\":", "malformed JSON"),
        (
            "{\"event\":{\"symbol\":\"IBM\",\"price\":\"high\",\"volume\":1}}",
            "`price` of stream `TradeStream` is double",
        ),
        (
            "{\"event\":{\"symbol\":\"IBM\",\"price\":1.0}}",
            "`volume` (long) of stream `TradeStream` is missing",
        ),
        (
            "{\"event\":{\"symbol\":\"IBM\",\"price\":1.0,\"volume\":1,\"x\":2}}",
            "no attribute `x`",
        ),
        ("{\"symbol\":\"IBM\"}", "expected {\"event\""),
    ];
    for (body, want) in cases {
        let answer = request(source, "POST", "/trades", None, body)?
            .expect(400)?
            .json()?;
        if !answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains(want)
        {
            return Err(format!("{body}: expected `{want}` in {answer}").into());
        }
    }
    request(source, "POST", "/elsewhere", None, &trade(1))?.expect(404)?;
    let huge = format!("[{}]", vec![trade(1); 400_000].join(","));
    request(source, "POST", "/trades", None, &huge)?.expect(413)?;
    send(port, &trade(7))?;
    node.wait_for_records("Counter", TOTALS, &json!([["IBM", 1, 7]]))?;
    node.wait_for_output("Rejected an HTTP payload.")?;

    // Metrics and the API description.
    let metrics = node.call("GET", "/metrics", "")?.expect(200)?.body;
    for want in [
        "spate_events_in_total{app=\"Counter\",stream=\"TradeStream\"} 1",
        "spate_source_errors_total{app=\"Counter\",stream=\"TradeStream\"} 5",
    ] {
        if !metrics.contains(want) {
            return Err(format!("no `{want}` in\n{metrics}").into());
        }
    }
    let openapi = node.call("GET", "/openapi.json", "")?.expect(200)?.json()?;
    if openapi["paths"]["/siddhi-apps/{app}/backup"].is_null() {
        return Err(format!("backup missing from {openapi}").into());
    }
    let answer = node
        .call(
            "POST",
            "/stores/query",
            &json!({"appName": "Counter", "query": "from Nope select *"}).to_string(),
        )?
        .expect(400)?;
    if !answer.body.contains("Nope") {
        return Err(format!("imprecise query error: {}", answer.body).into());
    }
    drop(node);
    node::remove_dir(&dir)
}

/// The http sink delivers each output with its id and header, retrying a refusal; an
/// inMemory sink chains a second app.
fn http_and_in_memory_sinks() -> Result<(), Failed> {
    let dir = test_dir("sinks")?;
    let receiver = receiver::Receiver::start(1)?;
    let port = free_port()?;
    let node = Node::start(&dir, None)?;
    let relay = format!(
        "@app:name('Relay')\n\
         @source(type='http', receiver.url='http://127.0.0.1:{port}/in')\n\
         define stream Incoming (symbol string, volume long);\n\
         @sink(type='inMemory', topic='big')\n\
         define stream Big (symbol string, volume long);\n\
         from Incoming[volume > 10] select * insert into Big;\n"
    );
    let publisher = format!(
        "@app:name('Publisher')\n\
         @source(type='inMemory', topic='big')\n\
         define stream Big (symbol string, volume long);\n\
         @sink(type='http', publisher.url='http://{}/out', headers=\"'X-Team:ops'\", @map(type='json'))\n\
         define stream Out (symbol string, volume long);\n\
         from Big select * insert into Out;\n",
        receiver.addr
    );
    node.call("POST", "/siddhi-apps", &publisher)?.expect(201)?;
    wait_active(&node, "Publisher")?;
    node.call("POST", "/siddhi-apps", &relay)?.expect(201)?;
    wait_active(&node, "Relay")?;
    let source = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let events = json!([
        {"event": {"symbol": "A", "volume": 11}},
        {"event": {"symbol": "B", "volume": 1}},
        {"event": {"symbol": "C", "volume": 12}}
    ]);
    request(source, "POST", "/in", None, &events.to_string())?.expect(200)?;
    let got = receiver.wait_for(2)?;
    let ids: Vec<_> = got.iter().map(|r| r.header("x-spate-event-id")).collect();
    if ids != [Some("Publisher/Out/0"), Some("Publisher/Out/1")] {
        return Err(format!("unexpected ids {ids:?}").into());
    }
    if got[0].body != r#"{"event":{"symbol":"A","volume":11}}"#
        || got[0].header("x-team") != Some("ops")
    {
        return Err(format!("unexpected request {:?}", got[0]).into());
    }
    drop(node);
    node::remove_dir(&dir)
}

/// A configuration key Spate does not know stops the node with the key named.
fn unknown_config_key() -> Result<(), Failed> {
    let dir = test_dir("config")?;
    let file = dir.join("deployment.yaml");
    std::fs::write(
        &file,
        "state.persistence:\n  enabled: true\n  intervalInMinutes: 1\n",
    )?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["server", "--api-bind", "127.0.0.1:0", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--apps")
        .arg(dir.join("apps"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) || !stderr.contains("state.persistence.intervalInMinutes") {
        return Err(format!("exit {:?}, stderr:\n{stderr}", out.status.code()).into());
    }
    node::remove_dir(&dir)
}

fn assert_eq_json(got: &serde_json::Value, want: &serde_json::Value) -> Result<(), Failed> {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got}, expected {want}").into())
    }
}

pub fn trials() -> Vec<Trial> {
    let mut trials = vec![
        Trial::test("server::lifecycle_on_sqlite", lifecycle_on_sqlite),
        Trial::test("server::bad_inputs", bad_inputs),
        Trial::test("server::unknown_config_key", unknown_config_key),
        Trial::test("server::http_and_in_memory_sinks", http_and_in_memory_sinks),
        Trial::test(
            "server::file_source_and_sink",
            connectors::file_source_and_sink,
        ),
        Trial::test("server::http_mappers", connectors::http_mappers),
        Trial::test(
            "server::tcp_source_and_send",
            connectors::tcp_source_and_send,
        ),
    ];
    trials.extend(ha::trials());
    trials.push(Trial::ignorable_test(
        "server::seed_deployment_yaml_on_mariadb",
        || match databases::Database::MariaDb.check()? {
            Some(skip) => Ok(skip),
            None => databases::seed_deployment_yaml_on_mariadb().map(|()| Completion::Completed),
        },
    ));
    trials.push(Trial::test("server::store_tables_on_sqlite", || {
        store_tables::store_tables(store_tables::Backend::Sqlite)
    }));
    trials.push(Trial::ignorable_test(
        "server::deploy_compose_pair_on_mariadb",
        || match databases::Database::MariaDb.check()? {
            Some(skip) => Ok(skip),
            None => deploy_pair::compose_pair().map(|()| Completion::Completed),
        },
    ));
    trials.push(Trial::ignorable_test(
        "server::deploy_ecs_pair_on_mariadb",
        || match databases::Database::MariaDb.check()? {
            Some(skip) => Ok(skip),
            None => deploy_pair::ecs_pair().map(|()| Completion::Completed),
        },
    ));
    for db in databases::Database::ALL {
        trials.push(Trial::ignorable_test(
            format!("server::store_tables_on_{}", db.name()),
            move || match db.check()? {
                Some(skip) => Ok(skip),
                None => store_tables::store_tables(store_tables::Backend::Server(db))
                    .map(|()| Completion::Completed),
            },
        ));
        trials.push(Trial::ignorable_test(
            format!("server::persistence_on_{}", db.name()),
            move || match db.check()? {
                Some(skip) => Ok(skip),
                None => databases::persistence_survives_restart(db).map(|()| Completion::Completed),
            },
        ));
        trials.push(Trial::ignorable_test(
            format!("server::database_outages_on_{}", db.name()),
            move || match db.check()? {
                Some(skip) => Ok(skip),
                None => databases::outages(db).map(|()| Completion::Completed),
            },
        ));
    }
    trials
}
