//! `sort(n, attr[, 'asc'|'desc'], attr2[, order2], ...)`: keeps the `n` events that sort
//! first by the given attributes; each arrival beyond `n` expires the one that sorts last,
//! which may be the arrival itself. Unlike other windows the arrival is emitted *before*
//! the row it pushes out (Siddhi appends the expired row after the current one), and the
//! expired row is stamped with the clock.
//!
//! Ordering is Java's `compareTo` per attribute (numbers by value, `-0.0` before `0.0`, NaN
//! last; strings by UTF-16 code units), and ties keep list order: Siddhi appends the arrival
//! and runs a stable sort, so among equal rows the newest sorts last and is the one
//! expired. The list is only sorted once it first overflows; until then a join sees it in
//! arrival order. A null in a sort attribute makes Siddhi's sort throw; Spate sorts nulls
//! first instead (see `docs/divergences.md`).

use std::cmp::Ordering;

use super::params::{INT_TYPE, Param, REPEAT, STRING_TYPE, attr_index, const_str};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct Sort;

const PARAMS: &[Param] = &[
    Param::fixed("window.length", INT_TYPE),
    Param::dynamic(
        "attribute",
        &[
            AttrType::String,
            AttrType::Double,
            AttrType::Int,
            AttrType::Long,
            AttrType::Float,
        ],
    ),
    Param::fixed("order", STRING_TYPE),
];

impl WindowFactory for Sort {
    fn name(&self) -> &'static str {
        "sort"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            "sort",
            &args,
            PARAMS,
            &[
                &["window.length", "attribute"],
                &["window.length", "attribute", "order", REPEAT],
                &["window.length", "attribute", "order", "attribute", REPEAT],
            ],
        )?;
        let length = match args[0].constant() {
            Some(Value::Int(n)) => *n as i64,
            _ => return Err("sort window's window.length must be an int constant".into()),
        };
        Ok(Box::new(SortSpec {
            length,
            keys: sort_keys(&args[1..])?,
            arity: cx.arity,
        }))
    }
}

/// Reads `attr[, order], attr[, order], ...`: an order follows its attribute when the next
/// parameter is a string (which must then be a constant `asc` or `desc`).
fn sort_keys(args: &[WindowArg]) -> Result<Vec<(usize, bool)>, String> {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(idx) = attr_index(&args[i]) else {
            return Err(format!(
                "sort window's parameter {} must be an attribute to sort by (an order must follow an attribute)",
                i + 2
            ));
        };
        let mut desc = false;
        if let Some(next) = args.get(i + 1)
            && next.ty == AttrType::String
        {
            let order = const_str(next).ok_or_else(|| {
                format!(
                    "sort window's parameter {} must be the constant 'asc' or 'desc'",
                    i + 3
                )
            })?;
            if java_eq_ignore_case(order, "desc") {
                desc = true;
            } else if !java_eq_ignore_case(order, "asc") {
                return Err(format!(
                    "sort window's order must be 'asc' or 'desc', but found '{order}'"
                ));
            }
            i += 1;
        }
        keys.push((idx, desc));
        i += 1;
    }
    Ok(keys)
}

/// Java's `String.equalsIgnoreCase` (char by char, through upper and lower case).
fn java_eq_ignore_case(a: &str, b: &str) -> bool {
    fn single(mut it: impl Iterator<Item = char>, c: char) -> char {
        match (it.next(), it.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(c), Some(d)) => {
                let (cu, du) = (single(c.to_uppercase(), c), single(d.to_uppercase(), d));
                let same = c == d
                    || cu == du
                    || single(cu.to_lowercase(), cu) == single(du.to_lowercase(), du);
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Java's `compareTo` between two values of one attribute; null sorts first (where Java
/// would throw).
pub(crate) fn java_compare(a: &Value, b: &Value) -> Ordering {
    /// `Double.compare`: NaN (all NaNs alike) after everything, else IEEE total order.
    fn nan_last(a_nan: bool, b_nan: bool, total: Ordering) -> Ordering {
        match (a_nan, b_nan) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => total,
        }
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Long(x), Value::Long(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => nan_last(x.is_nan(), y.is_nan(), x.total_cmp(y)),
        (Value::Float(x), Value::Float(y)) => nan_last(x.is_nan(), y.is_nan(), x.total_cmp(y)),
        (Value::Str(x), Value::Str(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.total_cmp(b),
    }
}

#[derive(Debug)]
struct SortSpec {
    length: i64,
    /// Attribute index and descending flag, most significant first.
    keys: Vec<(usize, bool)>,
    arity: usize,
}

impl WindowSpec for SortSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(SortWindow {
            length: self.length,
            keys: self.keys.clone(),
            arity: self.arity,
            ts: Vec::new(),
            values: Vec::new(),
            sorted: false,
        })
    }
}

#[derive(Debug)]
struct SortWindow {
    length: i64,
    keys: Vec<(usize, bool)>,
    arity: usize,
    /// The held rows (flat), in Siddhi's list order.
    ts: Vec<i64>,
    values: Vec<Value>,
    /// The list has overflowed once, so it is sorted (and stays so).
    sorted: bool,
}

impl SortWindow {
    fn row(&self, i: usize) -> &[Value] {
        &self.values[i * self.arity..(i + 1) * self.arity]
    }

    fn compare(&self, a: &[Value], b: &[Value]) -> Ordering {
        for &(idx, desc) in &self.keys {
            let o = java_compare(&a[idx], &b[idx]);
            if o != Ordering::Equal {
                return if desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// Holds an arrival at its place: appended, then (once sorted) moved in front of the
    /// first row that sorts after it, where a stable sort would put it.
    fn insert(&mut self, ts: i64, row: &[Value]) {
        let n = self.ts.len();
        let pos = if self.sorted {
            let (mut lo, mut hi) = (0, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if self.compare(self.row(mid), row) == Ordering::Greater {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            lo
        } else {
            n
        };
        self.ts.insert(pos, ts);
        let at = pos * self.arity;
        self.values.splice(at..at, row.iter().cloned());
    }

    /// The first overflow: a stable sort of the whole list.
    fn sort_all(&mut self) {
        let mut order: Vec<usize> = (0..self.ts.len()).collect();
        order.sort_by(|&a, &b| self.compare(self.row(a), self.row(b)));
        let ts = order.iter().map(|&i| self.ts[i]).collect();
        let mut values = Vec::with_capacity(self.values.len());
        for &i in &order {
            values.extend_from_slice(self.row(i));
        }
        self.ts = ts;
        self.values = values;
        self.sorted = true;
    }
}

impl WindowProcessor for SortWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = input.batch;
        for &i in sel {
            let i = i as usize;
            let (ts, row) = (input.ts(i), input.row(i));
            out.push(ts, EventKind::Current, row);
            self.insert(ts, row);
            if self.ts.len() as i64 > self.length {
                if !self.sorted {
                    self.sort_all();
                }
                let last = self.ts.len() - 1;
                self.ts.pop();
                let at = last * self.arity;
                out.push_moved(cx.now, EventKind::Expired, &mut self.values[at..]);
                self.values.truncate(at);
            }
        }
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        for (i, &ts) in self.ts.iter().enumerate() {
            f(ts, self.row(i));
        }
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.bool(self.sorted);
        w.usize(self.ts.len());
        for (i, &ts) in self.ts.iter().enumerate() {
            w.i64(ts);
            w.row(self.row(i));
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.sorted = r.bool()?;
        self.ts.clear();
        self.values.clear();
        let n = r.len(1 + self.arity)?;
        for _ in 0..n {
            self.ts.push(r.i64()?);
            r.row_into(self.arity, &mut self.values)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(keys: Vec<(usize, bool)>, length: i64) -> SortWindow {
        SortWindow {
            length,
            keys,
            arity: 2,
            ts: Vec::new(),
            values: Vec::new(),
            sorted: false,
        }
    }

    fn feed(w: &mut SortWindow, rows: &[(i32, &str)]) -> Vec<(EventKind, i32, String)> {
        let mut scheduler = crate::scheduler::Scheduler::new();
        let mut cx = WindowCtx {
            now: 0,
            scheduler: &mut scheduler,
            timer: None,
        };
        let mut out = Chunk::new(2);
        for (n, (a, b)) in rows.iter().enumerate() {
            let row = [Value::Int(*a), Value::str(b)];
            let ts = [n as i64];
            w.process(ChunkRef::single(&ts, &row), &[0], &mut out, &mut cx);
        }
        (0..out.len())
            .map(|r| {
                let row = out.row(r);
                (
                    out.kind(r),
                    row[0].as_i32().unwrap_or(0),
                    row[1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    fn expired(rows: &[(EventKind, i32, String)]) -> Vec<String> {
        rows.iter()
            .filter(|r| r.0 == EventKind::Expired)
            .map(|r| r.2.clone())
            .collect()
    }

    #[test]
    fn expires_the_last_in_order_and_the_newest_of_ties() {
        let mut w = window(vec![(0, false)], 2);
        let out = feed(&mut w, &[(5, "a"), (3, "b"), (5, "c"), (1, "d"), (3, "e")]);
        // [a5 b3] + c5 -> sorted b3 a5 c5 -> c expires (newest of the tie).
        // [b3 a5] + d1 -> d1 b3 a5 -> a; [d1 b3] + e3 -> d1 b3 e3 -> e.
        assert_eq!(expired(&out), ["c", "a", "e"]);
        assert_eq!(out[2].0, EventKind::Current);
        assert_eq!(out[3].0, EventKind::Expired);
    }

    #[test]
    fn multi_key_with_descending_and_strings() {
        let mut w = window(vec![(0, true), (1, false)], 2);
        let out = feed(
            &mut w,
            &[(2, "T-300"), (5, "T-100"), (5, "T-200"), (5, "T-050")],
        );
        assert_eq!(expired(&out), ["T-300", "T-200"]);
        let mut held = Vec::new();
        w.visit_held(&mut |_, r| held.push(r[1].as_str().unwrap_or("").to_string()));
        assert_eq!(held, ["T-050", "T-100"]);
    }

    #[test]
    fn zero_length_expires_each_arrival() {
        let mut w = window(vec![(0, false)], 0);
        let out = feed(&mut w, &[(1, "a"), (2, "b")]);
        assert_eq!(expired(&out), ["a", "b"]);
    }

    #[test]
    fn java_ordering_rules() {
        use Ordering::*;
        assert_eq!(
            java_compare(&Value::Double(-0.0), &Value::Double(0.0)),
            Less
        );
        assert_eq!(
            java_compare(&Value::Double(f64::NAN), &Value::Double(f64::INFINITY)),
            Greater
        );
        assert_eq!(
            java_compare(&Value::Float(f32::NAN), &Value::Float(f32::NAN)),
            Equal
        );
        // U+FF21 (one UTF-16 unit) sorts after U+1F600 (a surrogate pair starting 0xD83D).
        assert_eq!(
            java_compare(&Value::str("\u{FF21}"), &Value::str("\u{1F600}")),
            Greater
        );
        assert_eq!(java_compare(&Value::Null, &Value::Int(1)), Less);
        assert!(java_eq_ignore_case("DeSc", "desc"));
        assert!(java_eq_ignore_case("a\u{17F}c", "asc"));
        assert!(!java_eq_ignore_case("ascc", "asc"));
    }
}
