//! Memory check: runs a stateful app over many generated events and reports peak RSS and,
//! along the way, resident memory, so bounded state shows as a flat line.
//!
//!     cargo run --release -p spate-engine --example memory -- pattern 10000000
//!     cargo run --release -p spate-engine --example memory -- time-window 1000000
//!
//! `pattern`: `every e1=S[price > 195] -> e2=S[...] within 10 sec`, one event per ms.
//! `time-window`: `time(1 min)` with group by over 1 M events per minute (events 60 µs
//! apart), i.e. a million events held; compare with the raw size of those events.
//!
//! At the end it prints the RSS growth per event held and the raw size per event: the
//! payload a compact encoding must keep, 8 bytes of timestamp plus each attribute's own
//! bytes (a string's UTF-8 length, 8 for a double or a long). The bound is
//! RSS per event held <= 2 x raw per event.

use std::sync::Arc;

use spate_engine::plan;
use spate_engine::runtime::{AppRuntime, NullSink};
use spate_engine::value::Value;

const PATTERN: &str = "define stream S (symbol string, price double, volume long);
from every e1=S[price > 195.0] -> e2=S[symbol == e1.symbol and price < e1.price - 150.0] within 10 sec
select e1.symbol as symbol, e1.price as high, e2.price as low insert into Out;";

const TIME_WINDOW: &str = "define stream S (symbol string, price double, volume long);
from S#window.time(1 min) select symbol, sum(volume) as total, avg(price) as avgPrice
group by symbol insert into Out;";

fn rss_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("pattern", String::as_str);
    let n: u64 = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let (app, step_us) = match which {
        "time-window" => (TIME_WINDOW, 60u64),
        _ => (PATTERN, 1000u64),
    };
    let plan = Arc::new(plan::compile_text(app).expect("valid app"));
    let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
    let s = plan.stream_id("S").expect("S");
    let symbols: Vec<Value> = (0..50).map(|i| Value::str(&format!("SYM{i}"))).collect();
    let mut seed: u64 = 42;
    let mut row = vec![Value::Null, Value::Double(0.0), Value::Long(0)];
    let base = 1_700_000_000_000i64;
    let before = rss_kb("VmRSS:");
    let mut last_ts = base;
    for i in 0..n {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        row[0] = symbols[(seed >> 33) as usize % symbols.len()].clone();
        row[1] = Value::Double(((seed >> 11) % 20_000) as f64 / 100.0);
        row[2] = Value::Long(((seed >> 20) % 1000) as i64);
        let ts = base + (i * step_us / 1000) as i64;
        rt.send(s, ts, &row, &mut NullSink);
        last_ts = ts;
        if (i + 1) % (n / 10).max(1) == 0 {
            println!("{:>10} events  RSS {:>8} kB", i + 1, rss_kb("VmRSS:"));
        }
    }
    let after = rss_kb("VmRSS:");
    println!(
        "{which}: {n} events, RSS before {before} kB, after {after} kB, peak {} kB",
        rss_kb("VmHWM:")
    );
    if which == "time-window" {
        // The events still held (arrived within the last minute), generated again so that
        // the measurement keeps nothing per event itself.
        let (mut held, mut raw) = (0u64, 0u64);
        let mut seed: u64 = 42;
        for i in 0..n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ts = base + (i * step_us / 1000) as i64;
            if ts + 60_000 > last_ts {
                let text = symbols[(seed >> 33) as usize % symbols.len()].as_str();
                held += 1;
                raw += 8 + text.map_or(0, str::len) as u64 + 8 + 8;
            }
        }
        let held = held.max(1) as f64;
        let raw_per = raw as f64 / held;
        let rss_per = (after.saturating_sub(before) * 1024) as f64 / held;
        println!(
            "held {held} events: RSS {rss_per:.1} B/event, raw {raw_per:.1} B/event, ratio {:.2} (bound 2.00)",
            rss_per / raw_per
        );
    }
}
