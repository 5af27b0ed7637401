//! Output comparison with the rules of the case format (`conformance/FORMAT.md`): per stream
//! in order, integers never equal floats, floats within a relative 1e-9, an error line only
//! matches an error line.

use std::collections::BTreeMap;

use serde_json::Value as Json;

const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;

struct Output {
    streams: BTreeMap<String, Vec<Json>>,
    errors: Vec<String>,
}

/// Parses JSON lines that may hold the bare tokens NaN / Infinity / -Infinity.
fn load(text: &str) -> Result<Output, String> {
    let mut out = Output {
        streams: BTreeMap::new(),
        errors: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let json: Json = serde_json::from_str(&quote_non_finite(line))
            .map_err(|e| format!("line {}: {e}: {line}", n + 1))?;
        if let Some(e) = json.get("error") {
            out.errors.push(e.to_string());
            continue;
        }
        let stream = json
            .get("stream")
            .and_then(Json::as_str)
            .ok_or(format!("line {}: no stream", n + 1))?;
        out.streams
            .entry(stream.to_string())
            .or_default()
            .push(json.clone());
    }
    Ok(out)
}

/// Turns bare `NaN`, `Infinity`, `-Infinity` outside strings into marker strings.
fn quote_non_finite(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_str = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        let rest = &line[i..];
        if c == '"' {
            in_str = true;
        } else if let Some(tok) = ["-Infinity", "Infinity", "NaN"]
            .iter()
            .find(|t| rest.starts_with(**t))
        {
            out.push_str(&format!("\"__nonfinite__{tok}\""));
            i += tok.len();
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn special(v: &Json) -> Option<f64> {
    match v.as_str()?.strip_prefix("__nonfinite__")? {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn as_float(v: &Json) -> Option<f64> {
    special(v).or_else(|| match v {
        Json::Number(n) if n.is_f64() => n.as_f64(),
        _ => None,
    })
}

fn values_equal(e: &Json, a: &Json) -> bool {
    match (as_float(e), as_float(a)) {
        (Some(x), Some(y)) => {
            if x.is_nan() || y.is_nan() {
                return x.is_nan() && y.is_nan();
            }
            if x == y {
                return true;
            }
            if x.is_infinite() || y.is_infinite() {
                return false;
            }
            (x - y).abs() <= (REL_TOL * x.abs().max(y.abs())).max(ABS_TOL)
        }
        (None, None) => match (e, a) {
            (Json::Array(x), Json::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
            }
            _ => e == a,
        },
        _ => false,
    }
}

/// Compares actual output with expected output; returns the differences (empty when equal).
pub fn compare(expected: &str, actual: &str, compare_ts: bool) -> Vec<String> {
    let exp = match load(expected) {
        Ok(o) => o,
        Err(e) => return vec![format!("bad expected output: {e}")],
    };
    let act = match load(actual) {
        Ok(o) => o,
        Err(e) => return vec![format!("bad actual output: {e}")],
    };
    if !exp.errors.is_empty() || !act.errors.is_empty() {
        return match (exp.errors.is_empty(), act.errors.is_empty()) {
            (false, false) => vec![],
            (false, true) => vec![format!("expected an error {}, got events", exp.errors[0])],
            _ => vec![format!("unexpected error {}", act.errors[0])],
        };
    }
    let mut problems = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        exp.streams.keys().chain(act.streams.keys()).collect();
    for name in names {
        let (es, as_) = (
            exp.streams.get(name).map_or(&[][..], |v| v),
            act.streams.get(name).map_or(&[][..], |v| v),
        );
        for (i, (e, a)) in es.iter().zip(as_).enumerate() {
            let ts_ok = !compare_ts || e.get("timestamp") == a.get("timestamp");
            let data_ok = values_equal(&e["data"], &a["data"]);
            if !ts_ok || !data_ok {
                problems.push(format!("{name} event #{}: expected {e}, got {a}", i + 1));
            }
        }
        if es.len() != as_.len() {
            problems.push(format!(
                "{name}: expected {} events, got {}",
                es.len(),
                as_.len()
            ));
        }
        if problems.len() > 5 {
            break;
        }
    }
    problems
}

/// Self-checks of the comparator, run as trials of the suite.
pub fn self_checks() -> Result<(), String> {
    let line = |data: &str| format!(r#"{{"stream":"A","timestamp":1,"data":{data}}}"#);
    if compare(&line("[1]"), &line("[1.0]"), true).is_empty() {
        return Err("an integer matched a float".into());
    }
    if !compare(
        &line("[NaN,0.1,-Infinity]"),
        &line("[NaN,0.1000000000001,-Infinity]"),
        true,
    )
    .is_empty()
    {
        return Err("equal floats did not match".into());
    }
    if compare(&line("[0.1]"), &line("[0.1001]"), true).is_empty() {
        return Err("different floats matched".into());
    }
    if compare(
        &line("[1]"),
        &format!("{}\n{}", line("[1]"), line("[2]")),
        true,
    )
    .is_empty()
    {
        return Err("an extra event went unnoticed".into());
    }
    Ok(())
}
