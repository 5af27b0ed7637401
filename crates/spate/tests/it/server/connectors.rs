//! The file, tcp and mapper connectors through the real binary: files written and tailed,
//! malformed lines skipped with file:line in the log, and events sent with `spate send`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use super::node::{self, Node, test_dir};
use super::wait_active;

/// Waits until the file at `path` satisfies `done`, returning its text.
fn wait_for_file(path: &Path, done: impl Fn(&str) -> bool) -> Result<String, Failed> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!("{} never became as expected:\n{text}", path.display()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn append(path: &Path, text: &str) -> Result<(), Failed> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A tailed JSON-lines file in, JSON lines and the text format out; a CSV file read once;
/// malformed lines skipped with their place in the log.
pub fn file_source_and_sink() -> Result<(), Failed> {
    let dir = test_dir("files")?;
    let d = dir.display();
    std::fs::write(
        dir.join("in.jsonl"),
        "{\"event\":{\"symbol\":\"A\",\"price\":1.5,\"volume\":20}}\n\
         {\"event\":{\"symbol\":\"B\",\"price\":\"cheap\",\"volume\":1}}\n\
         \n\
         {\"event\":{\"symbol\":\"C\",\"price\":2.5,\"volume\":5}}\n",
    )?;
    std::fs::write(
        dir.join("in.csv"),
        "symbol,price,volume\n\"X, Inc\",1.0,7\nY,oops,8\nZ,3.0,9\n",
    )?;
    let app = format!(
        "@app:name('Files')\n\
         @source(type='file', file.uri='file://{d}/in.jsonl', file.polling.interval='20', @map(type='json'))\n\
         define stream Trades (symbol string, price double, volume long);\n\
         @source(type='file', file.uri='{d}/in.csv', tailing='false', action.after.process='keep',\n\
                 @map(type='csv', header.present='true'))\n\
         define stream CsvIn (symbol string, price double, volume long);\n\
         @sink(type='file', file.uri='{d}/out/big.jsonl')\n\
         define stream Big (symbol string, volume long);\n\
         @sink(type='file', file.uri='{d}/out/csv.txt', @map(type='text'))\n\
         define stream FromCsv (symbol string, volume long);\n\
         @sink(type='file', file.uri='{d}/out/all.csv', @map(type='csv', header='true'))\n\
         define stream All (symbol string, price double);\n\
         from Trades[volume > 10] select symbol, volume insert into Big;\n\
         from Trades select symbol, price insert into All;\n\
         from CsvIn select symbol, volume insert into FromCsv;\n"
    );
    let node = Node::start(&dir, None)?;
    node.call("POST", "/siddhi-apps", &app)?.expect(201)?;
    wait_active(&node, "Files")?;
    wait_for_file(&dir.join("out/big.jsonl"), |t| t.lines().count() == 1)?;
    node.wait_for_output("in.jsonl:2")?;
    node.wait_for_output("`price` of stream `Trades` is double")?;
    // Tailing: lines appended later arrive, a line written in two parts is read once whole.
    append(&dir.join("in.jsonl"), "{\"event\":{\"symbol\":\"D\",")?;
    std::thread::sleep(Duration::from_millis(100));
    append(
        &dir.join("in.jsonl"),
        "\"price\":3.0,\"volume\":30}}\nnot json\n",
    )?;
    let big = wait_for_file(&dir.join("out/big.jsonl"), |t| t.lines().count() == 2)?;
    if big
        != "{\"event\":{\"symbol\":\"A\",\"volume\":20}}\n{\"event\":{\"symbol\":\"D\",\"volume\":30}}\n"
    {
        return Err(format!("unexpected big.jsonl:\n{big}").into());
    }
    node.wait_for_output("in.jsonl:6")?;
    let all = wait_for_file(&dir.join("out/all.csv"), |t| t.lines().count() == 4)?;
    if all != "symbol,price\nA,1.5\nC,2.5\nD,3.0\n" {
        return Err(format!("unexpected all.csv:\n{all}").into());
    }
    let texts = wait_for_file(&dir.join("out/csv.txt"), |t| t.contains("\"Z\""))?;
    if texts != "symbol:\"X, Inc\",\nvolume:7\nsymbol:\"Z\",\nvolume:9\n" {
        return Err(format!("unexpected csv.txt:\n{texts}").into());
    }
    node.wait_for_output("in.csv:3")?;
    if !dir.join("in.csv").exists() {
        return Err("action.after.process='keep' deleted the file".into());
    }
    let metrics = node.call("GET", "/metrics", "")?.expect(200)?.body;
    for want in [
        "spate_events_in_total{app=\"Files\",stream=\"Trades\"} 3",
        "spate_source_errors_total{app=\"Files\",stream=\"Trades\"} 2",
    ] {
        if !metrics.contains(want) {
            return Err(format!("no `{want}` in\n{metrics}").into());
        }
    }
    // A restarted node goes on after the last line taken: nothing is read twice.
    let (status, output) = node.terminate()?;
    if !status.success() {
        return Err(format!("unclean shutdown ({status}):\n{output}").into());
    }
    let node = Node::start(&dir, None)?;
    wait_active(&node, "Files")?;
    node.wait_for_output("resumes after the last line it took")?;
    append(
        &dir.join("in.jsonl"),
        "{\"event\":{\"symbol\":\"E\",\"price\":4.0,\"volume\":40}}\n",
    )?;
    let big = wait_for_file(&dir.join("out/big.jsonl"), |t| t.lines().count() >= 3)?;
    std::thread::sleep(Duration::from_millis(200));
    let big_now = std::fs::read_to_string(dir.join("out/big.jsonl"))?;
    if big_now != big || !big.ends_with("{\"event\":{\"symbol\":\"E\",\"volume\":40}}\n") {
        return Err(format!("lines read again or lost after a restart:\n{big_now}").into());
    }
    // A bad mapper option is refused at deploy with the option named.
    let bad = "@app:name('Bad')\n\
               @sink(type='file', file.uri='/tmp/x', @map(type='csv', delimiter='ab'))\n\
               define stream S (a int);\n";
    let answer = node.call("POST", "/siddhi-apps", bad)?.expect(400)?.body;
    if !answer.contains("delimiter") {
        return Err(format!("the bad option is not named: {answer}").into());
    }
    drop(node);
    node::remove_dir(&dir)
}

/// The http source with the keyvalue, text and custom JSON mappers, the http sink with the
/// text mapper; mistyped payloads get 400 naming the attribute.
pub fn http_mappers() -> Result<(), Failed> {
    let dir = test_dir("http-mappers")?;
    let receiver = super::receiver::Receiver::start(0)?;
    let port = node::free_port()?;
    let url = |path: &str| format!("http://127.0.0.1:{port}/{path}");
    let app = format!(
        "@app:name('Mappers')\n\
         @source(type='http', receiver.url='{}', @map(type='keyvalue'))\n\
         define stream Kv (symbol string, volume long);\n\
         @source(type='http', receiver.url='{}', @map(type='text'))\n\
         define stream Txt (symbol string, volume long);\n\
         @source(type='http', receiver.url='{}',\n\
                 @map(type='json', @attributes(symbol='$.s', volume='$.v.n')))\n\
         define stream Custom (symbol string, volume long);\n\
         @sink(type='http', publisher.url='http://{}/out',\n\
               @map(type='text', @payload('{{{{symbol}}}} x {{{{volume}}}}')))\n\
         define stream Out (symbol string, volume long);\n\
         from Kv select * insert into Out;\n\
         from Txt select * insert into Out;\n\
         from Custom select * insert into Out;\n",
        url("kv"),
        url("text"),
        url("custom"),
        receiver.addr
    );
    let node = Node::start(&dir, None)?;
    node.call("POST", "/siddhi-apps", &app)?.expect(201)?;
    wait_active(&node, "Mappers")?;
    let source = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let post = |path: &str, body: &str| node::request(source, "POST", path, None, body);
    post("/kv", "symbol=A%20B&volume=1")?.expect(200)?;
    post("/text", "symbol:\"C\",\nvolume:2")?.expect(200)?;
    post("/custom", "{\"s\":\"D\",\"v\":{\"n\":3}}")?.expect(200)?;
    let got = receiver.wait_for(3)?;
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    if bodies != ["A B x 1", "C x 2", "D x 3"]
        || got[0].header("content-type") != Some("text/plain")
    {
        return Err(format!("unexpected requests {got:?}").into());
    }
    let cases = [
        (
            "/kv",
            "symbol=A&volume=x",
            "`volume` of stream `Kv` is long",
        ),
        (
            "/kv",
            "symbol=A",
            "`volume` (long) of stream `Kv` is missing",
        ),
        (
            "/text",
            "symbol:\"C\",\nvolume:2,\ncolour:3",
            "no attribute `colour`",
        ),
        ("/custom", "{\"s\":\"D\"}", "nothing at $.v.n"),
    ];
    for (path, body, want) in cases {
        let answer = post(path, body)?.expect(400)?;
        if !answer.body.contains(want) {
            return Err(format!("{path} {body}: expected `{want}` in {}", answer.body).into());
        }
    }
    // spate send --http posts lines as JSON arrays; a refused event is named by file:line.
    let file = dir.join("custom.jsonl");
    std::fs::write(
        &file,
        "{\"s\":\"E\",\"v\":{\"n\":4}}\n\n{\"s\":\"F\",\"v\":{\"n\":5}}\n",
    )?;
    let send = |file: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(["send", "--http", &url("custom")])
            .arg(file)
            .output()
    };
    let out = send(&file)?;
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("\"events\":2") {
        return Err(format!("spate send --http failed: {out:?}").into());
    }
    let got = receiver.wait_for(5)?;
    if got[3].body != "E x 4" || got[4].body != "F x 5" {
        return Err(format!("unexpected requests {got:?}").into());
    }
    std::fs::write(&file, "{\"s\":\"G\",\"v\":{\"n\":6}}\n\n{\"s\":\"H\"}\n")?;
    let out = send(&file)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("custom.jsonl:3: event 2: attribute `volume`") {
        return Err(format!("expected a refusal naming custom.jsonl:3, got:\n{stderr}").into());
    }
    drop(node);
    node::remove_dir(&dir)
}

/// `spate send --tcp` into a tcp source: every event acknowledged lands; a mistyped line is
/// refused with its file:line; malformed frames close only their connection.
pub fn tcp_source_and_send() -> Result<(), Failed> {
    use std::io::Read;
    let dir = test_dir("tcp")?;
    let port = node::free_port()?;
    let app = format!(
        "@app:name('Tcp')\n\
         @source(type='tcp', context='/Trades', host='127.0.0.1', port='{port}')\n\
         define stream Trades (symbol string, price double, volume long);\n\
         @primaryKey('symbol')\n\
         define table Totals (symbol string, trades long, volume long);\n\
         from Trades select symbol, count() as trades, sum(volume) as volume group by symbol\n\
         update or insert into Totals on Totals.symbol == symbol;\n"
    );
    let node = Node::start(&dir, None)?;
    node.call("POST", "/siddhi-apps", &app)?.expect(201)?;
    // No waiting for the app: a batch sent while it starts is answered `retry` and resent.
    let events = dir.join("events.jsonl");
    let mut text = String::new();
    for i in 0..500 {
        if i % 2 == 0 {
            text.push_str("[\"IBM\", 1.5, 2]\n");
        } else {
            text.push_str("{\"stream\":\"Trades\",\"data\":[\"IBM\",2,2]}\n\n");
        }
    }
    std::fs::write(&events, text)?;
    let addr = format!("127.0.0.1:{port}");
    let send = |file: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_spate"))
            .args([
                "send", "--tcp", &addr, "--stream", "Trades", "--batch", "64",
            ])
            .arg(file)
            .output()
    };
    let out = send(&events)?;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("no summary ({e}): {}", String::from_utf8_lossy(&out.stderr)))?;
    if !out.status.success() || summary["events"] != 500 || summary["batches"] != 8 {
        return Err(format!("spate send failed: {summary}").into());
    }
    // Acknowledged means in the input log: the totals catch up without loss.
    let totals = "from Totals select symbol, trades, volume";
    node.wait_for_records("Tcp", totals, &serde_json::json!([["IBM", 500, 1000]]))?;

    let bad = dir.join("bad.jsonl");
    // One frame: the good event is not taken either (a batch is all or nothing).
    std::fs::write(&bad, "[\"A\", 1.0, 1]\n\n[\"B\", \"high\", 1]\n")?;
    let out = send(&bad)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success()
        || !stderr.contains("bad.jsonl:3: event 2: attribute `price` of stream `Trades` is double")
    {
        return Err(format!("expected a refusal naming bad.jsonl:3, got:\n{stderr}").into());
    }

    // Hostile frames: each gets an ERROR frame and its connection closed; the node goes on.
    let hostile: [(&[u8], &str); 3] = [
        (b"\x00\x00\x00\x08HTTP/1.1", "magic"),
        (b"\xff\xff\xff\xff", "over the limit"),
        (b"\x00\x00\x00\x07SPTE\x09\x01x", "version 9"),
    ];
    for (bytes, want) in hostile {
        let mut conn = std::net::TcpStream::connect(&addr)?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.write_all(bytes)?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer)?;
        if !String::from_utf8_lossy(&answer).contains(want) {
            return Err(format!("expected an ERROR frame with `{want}`, got {answer:?}").into());
        }
    }
    node.wait_for_output("Closed a TCP connection that sent a malformed frame.")?;
    // A connection cut in the middle of a frame is dropped quietly.
    let mut conn = std::net::TcpStream::connect(&addr)?;
    conn.write_all(b"\x00\x00\x01\x00SPTE\x01\x01")?;
    drop(conn);
    let out = send(&events)?;
    if !out.status.success() {
        return Err(format!("spate send failed after hostile frames: {out:?}").into());
    }
    node.wait_for_records("Tcp", totals, &serde_json::json!([["IBM", 1000, 2000]]))?;

    // A tcp sink of another app feeds the same source.
    let http_port = node::free_port()?;
    let relay = format!(
        "@app:name('Relay')\n\
         @source(type='http', receiver.url='http://127.0.0.1:{http_port}/in')\n\
         define stream In2 (symbol string, price double, volume long);\n\
         @sink(type='tcp', url='tcp://127.0.0.1:{port}/Trades', @map(type='binary'))\n\
         define stream Out (symbol string, price double, volume long);\n\
         from In2 select * insert into Out;\n"
    );
    node.call("POST", "/siddhi-apps", &relay)?.expect(201)?;
    wait_active(&node, "Relay")?;
    let body = r#"[{"event":{"symbol":"IBM","price":1.0,"volume":5}},
                   {"event":{"symbol":"IBM","price":1.0,"volume":6}}]"#;
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], http_port));
    node::request(http, "POST", "/in", None, body)?.expect(200)?;
    node.wait_for_records("Tcp", totals, &serde_json::json!([["IBM", 1002, 2011]]))?;
    drop(node);
    node::remove_dir(&dir)
}
