//! `session(gap[, key[, allowed.latency]])`: per-key sessions of events no more than `gap`
//! apart. Arrivals pass through at once; a session's events expire together — with their
//! own timestamps, after the chunk's current events — when a timer at the session end
//! finds it over. With an allowed latency a closed session first waits that long as the
//! key's "previous" session, where late events can still join (and merge it back into the
//! current one); a late event that fits nowhere is dropped, and is not emitted.
//!
//! Siddhi's details kept on purpose:
//! - the gap and the latency must be `long` constants (`5 sec`, `5000L`): an `int` makes
//!   Siddhi's `init` fail, so it is rejected;
//! - a late event is inserted where Siddhi's session chunk iterator stands: before the
//!   first event the first time, then one step further each time (`hasNext/next` then
//!   `insertBeforeCurrent`), so late events interleave with the session's events;
//! - sessions ending at the same time expire in the iteration order of Siddhi's `HashMap`
//!   of end times (see [`HashMapOrder`]), and a timeout walk stops at the first session
//!   still open in end-time order;
//! - a join sees nothing: Siddhi's findable queue is emptied after every chunk.

use super::java_map::{HashMapOrder, JavaChm, string_hash};
use super::params::{Param, STRING_TYPE, TIME_TYPES, attr_index};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowFactory, WindowProcessor, WindowSpec,
    check_overloads, each_arrival,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::text::Str;
use crate::value::{AttrType, Value};

pub struct Session;

const NAME: &str = "session";
const DEFAULT_KEY: &str = "default-key";

const PARAMS: &[Param] = &[
    Param::fixed("window.session", TIME_TYPES),
    Param::dynamic("window.key", STRING_TYPE),
    Param::fixed("window.allowed.latency", TIME_TYPES),
];

impl WindowFactory for Session {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            NAME,
            &args,
            PARAMS,
            &[
                &["window.session"],
                &["window.session", "window.key"],
                &["window.session", "window.key", "window.allowed.latency"],
            ],
        )?;
        // Siddhi casts both durations to `Long`: an int constant fails.
        let long = |a: &WindowArg, what: &str| match a.constant() {
            Some(Value::Long(v)) => Ok(*v),
            _ => Err(format!(
                "session window's {what} must be a long or time constant (e.g. `5 sec` or `5000L`); Siddhi 5.1.7 fails on an int"
            )),
        };
        let gap = long(&args[0], "session gap")?;
        let key = match args.get(1) {
            None => None,
            Some(a) => match attr_index(a) {
                Some(i) if a.ty == AttrType::String => Some(i),
                _ => {
                    return Err(
                        "session window's session key must be a string attribute of the stream"
                            .into(),
                    );
                }
            },
        };
        let latency = match args.get(2) {
            None => 0,
            Some(a) => long(a, "allowed latency")?,
        };
        if latency > gap {
            return Err(format!(
                "session window's allowed latency ({latency} ms) cannot be greater than the session gap ({gap} ms)"
            ));
        }
        Ok(Box::new(SessionSpec {
            gap,
            key,
            latency,
            arity: cx.arity,
        }))
    }
}

#[derive(Debug)]
struct SessionSpec {
    gap: i64,
    key: Option<usize>,
    latency: i64,
    arity: usize,
}

impl WindowSpec for SessionSpec {
    fn mode(&self) -> ProcessingMode {
        // Siddhi's GROUP mode: aggregators behave as in batch mode (only SLIDE differs).
        ProcessingMode::Batch
    }

    fn needs_timer(&self) -> bool {
        true
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(SessionWindow {
            gap: self.gap,
            key: self.key,
            latency: self.latency,
            arity: self.arity,
            sessions: JavaChm::default(),
            containers: Vec::new(),
            end_times: HashMapOrder::default(),
            expired: Chunk::new(self.arity),
        })
    }
}

/// One session: Siddhi's `SessionComplexEventChunk`, with its iterator position.
#[derive(Debug, Default)]
struct Events {
    ts: Vec<i64>,
    values: Vec<Value>,
    /// Index of the iterator's last returned event (`None`: not iterated since cleared).
    cursor: Option<usize>,
    start: i64,
    end: i64,
    alive: i64,
}

impl Events {
    fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    fn set_times(&mut self, start: i64, end: i64, alive: i64) {
        (self.start, self.end, self.alive) = (start, end, alive);
    }

    fn push(&mut self, ts: i64, row: &[Value]) {
        self.ts.push(ts);
        self.values.extend_from_slice(row);
    }

    /// Moves all of `other`'s events to the end (`add(other.getFirst())`).
    fn append(&mut self, other: &mut Events) {
        self.ts.append(&mut other.ts);
        self.values.append(&mut other.values);
        other.clear();
    }

    fn clear(&mut self) {
        self.ts.clear();
        self.values.clear();
        self.cursor = None;
    }

    /// `if (hasNext()) next(); insertBeforeCurrent(...)`: the insertion point walks on.
    fn insert_at_cursor(&mut self, ts: &[i64], values: &[Value], arity: usize) {
        let len = self.ts.len();
        let pos = match self.cursor {
            None if len > 0 => 0,
            Some(c) if c + 1 < len => c + 1,
            Some(c) => c,
            None => 0,
        };
        self.ts.splice(pos..pos, ts.iter().copied());
        self.values
            .splice(pos * arity..pos * arity, values.iter().cloned());
        self.cursor = Some(pos + ts.len());
    }

    fn drain_expired(&mut self, out: &mut Chunk, arity: usize) {
        for (i, &ts) in self.ts.iter().enumerate() {
            out.push(
                ts,
                EventKind::Expired,
                &self.values[i * arity..(i + 1) * arity],
            );
        }
        self.clear();
    }

    fn snapshot(&self, w: &mut StateWriter, arity: usize) {
        w.usize(self.ts.len());
        for (i, &ts) in self.ts.iter().enumerate() {
            w.i64(ts);
            w.row(&self.values[i * arity..(i + 1) * arity]);
        }
        w.i64(self.cursor.map_or(-1, |c| c as i64));
        for v in [self.start, self.end, self.alive] {
            w.i64(v);
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>, arity: usize) -> SnapshotResult<()> {
        self.clear();
        let n = r.len(1 + arity)?;
        for _ in 0..n {
            self.ts.push(r.i64()?);
            r.row_into(arity, &mut self.values)?;
        }
        let c = r.i64()?;
        self.cursor = usize::try_from(c).ok().filter(|&c| c < n);
        self.start = r.i64()?;
        self.end = r.i64()?;
        self.alive = r.i64()?;
        Ok(())
    }
}

/// Siddhi's `SessionContainer`: a key's current and previous session.
#[derive(Debug)]
struct Container {
    key: Str,
    hash: i32,
    current: Events,
    previous: Events,
}

#[derive(Debug)]
struct SessionWindow {
    gap: i64,
    key: Option<usize>,
    latency: i64,
    arity: usize,
    /// Siddhi's `sessionMap`: key -> container, in `ConcurrentHashMap` order (never shrinks).
    sessions: JavaChm<u32>,
    containers: Vec<Container>,
    /// Siddhi's reused `sessionKeyEndTimeMap`.
    end_times: HashMapOrder,
    /// Expired rows of the chunk being handled; they follow its current rows.
    expired: Chunk,
}

impl SessionWindow {
    fn container(&mut self, key: &str) -> usize {
        if let Some(&c) = self.sessions.get(key) {
            return c as usize;
        }
        self.containers.push(Container {
            key: Str::new(key),
            hash: string_hash(key),
            current: Events::default(),
            previous: Events::default(),
        });
        let c = self.containers.len() - 1;
        self.sessions.insert(key, c as u32);
        c
    }

    /// Handles one arrival; false when it is a late event that fits no session (dropped).
    fn arrive(&mut self, c: usize, ts: i64, row: &[Value], cx: &mut WindowCtx<'_>) -> bool {
        let max = ts.wrapping_add(self.gap);
        let alive = max.wrapping_add(self.latency);
        let arity = self.arity;
        let con = &mut self.containers[c];
        let cur = &mut con.current;
        if cur.is_empty() {
            cur.push(ts, row);
            cur.set_times(ts, max, alive);
            cx.notify_at(max);
        } else if ts >= cur.start {
            if ts <= cur.end {
                cur.set_times(cur.start, max, alive);
                cur.push(ts, row);
                cx.notify_at(max);
            } else if self.latency > 0 {
                // A new session: the current one waits as the previous one.
                let prev = &mut con.previous;
                if !prev.is_empty() {
                    prev.drain_expired(&mut self.expired, arity);
                }
                prev.append(cur);
                prev.set_times(cur.start, cur.end, cur.alive);
                cx.notify_at(cur.alive);
                cur.push(ts, row);
                cur.set_times(ts, max, alive);
                cx.notify_at(max);
            }
        } else {
            return self.late(c, ts, row);
        }
        true
    }

    /// Siddhi's `addLateEvent`.
    fn late(&mut self, c: usize, ts: i64, row: &[Value]) -> bool {
        let (gap, arity) = (self.gap, self.arity);
        let con = &mut self.containers[c];
        let (cur, prev) = (&mut con.current, &mut con.previous);
        if ts >= cur.start.wrapping_sub(gap) {
            cur.insert_at_cursor(&[ts], row, arity);
            cur.start = ts;
            if self.latency > 0 {
                merge(prev, cur, gap, arity);
            }
            return true;
        }
        if self.latency == 0 || prev.is_empty() || ts < prev.start.wrapping_sub(gap) {
            return false;
        }
        prev.push(ts, row);
        if ts <= prev.end.wrapping_sub(gap) && ts < prev.start {
            prev.start = ts;
        } else {
            prev.end = ts.wrapping_add(gap);
            prev.alive = prev.end.wrapping_add(self.latency);
            merge(prev, cur, gap, arity);
        }
        true
    }

    /// Keys of the non-empty sessions (current or previous) in the order Siddhi walks them:
    /// by end time, ties in its `HashMap`'s order.
    fn by_end_time(&mut self, previous: bool) -> Vec<(usize, i64)> {
        let mut entries = Vec::new();
        for (_, &c) in self.sessions.iter() {
            let con = &self.containers[c as usize];
            let s = if previous {
                &con.previous
            } else {
                &con.current
            };
            let end = if s.is_empty() { -1 } else { s.end };
            if end != -1 {
                entries.push((c as usize, end));
            }
        }
        let hashes: Vec<i32> = entries
            .iter()
            .map(|&(c, _)| self.containers[c].hash)
            .collect();
        let order = self.end_times.refill(&hashes);
        let mut sorted: Vec<(usize, i64)> = order.into_iter().map(|i| entries[i]).collect();
        if sorted.len() > 1 {
            sorted.sort_by_key(|&(_, end)| end);
        }
        sorted
    }

    fn timeout(&mut self, now: i64, cx: &mut WindowCtx<'_>) {
        let arity = self.arity;
        for (c, end) in self.by_end_time(false) {
            let con = &mut self.containers[c];
            if con.current.is_empty() || now < end {
                break;
            }
            if self.latency > 0 {
                let (cur, prev) = (&mut con.current, &mut con.previous);
                prev.append(cur);
                prev.set_times(cur.start, cur.end, cur.alive);
                cx.notify_at(cur.alive);
            } else {
                con.current.drain_expired(&mut self.expired, arity);
            }
        }
        if self.latency > 0 {
            for (c, _) in self.by_end_time(true) {
                let prev = &mut self.containers[c].previous;
                if prev.is_empty() || now < prev.alive {
                    break;
                }
                prev.drain_expired(&mut self.expired, arity);
            }
        }
    }
}

/// Siddhi's `mergeWindows`: a previous session close enough joins the current one, at the
/// current session's iterator position.
fn merge(prev: &mut Events, cur: &mut Events, gap: i64, arity: usize) {
    if !prev.is_empty() && prev.end >= cur.start.wrapping_sub(gap) {
        cur.insert_at_cursor(&prev.ts, &prev.values, arity);
        cur.start = prev.start;
        prev.clear();
    }
}

impl WindowProcessor for SessionWindow {
    fn process(
        &mut self,
        input: ChunkRef<'_>,
        sel: &[u32],
        out: &mut Chunk,
        cx: &mut WindowCtx<'_>,
    ) {
        out.batch = input.batch;
        self.expired.clear();
        let ok = each_arrival(NAME, input, sel, out, |ts, row, out| {
            let key = match self.key {
                None => DEFAULT_KEY,
                Some(k) => match row.get(k) {
                    Some(Value::Str(s)) => s.as_str(),
                    // Siddhi looks a null key up in a ConcurrentHashMap and throws.
                    _ => return Err("the session key is null; the chunk is dropped".into()),
                },
            };
            let c = self.container(key);
            if self.arrive(c, ts, row, cx) {
                out.push(ts, EventKind::Current, row);
            }
            Ok(())
        });
        if ok {
            out.extend_from(self.expired.as_ref());
        }
        self.expired.clear();
    }

    fn on_timer(&mut self, due: i64, out: &mut Chunk, cx: &mut WindowCtx<'_>) {
        self.expired.clear();
        self.timeout(due, cx);
        out.extend_from(self.expired.as_ref());
        self.expired.clear();
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.sessions.snapshot(w, |w, &c| {
            let con = &self.containers[c as usize];
            con.current.snapshot(w, self.arity);
            con.previous.snapshot(w, self.arity);
        });
        self.end_times.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let arity = self.arity;
        let mut containers = Vec::new();
        self.sessions.restore(r, |r| {
            let mut current = Events::default();
            current.restore(r, arity)?;
            let mut previous = Events::default();
            previous.restore(r, arity)?;
            containers.push(Container {
                key: Str::new(""),
                hash: 0,
                current,
                previous,
            });
            Ok((containers.len() - 1) as u32)
        })?;
        for (key, &c) in self.sessions.iter() {
            if let Some(con) = containers.get_mut(c as usize) {
                con.key = Str::new(key);
                con.hash = string_hash(key);
            }
        }
        self.containers = containers;
        self.end_times.restore(r)
    }
}
