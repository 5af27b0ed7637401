//! `frequent(n[, attr])`: Misra-Gries frequent items. Events are keyed by the text of
//! `attr`, or — Siddhi's quirk — of the attributes the query *selects* (its `outputData`:
//! one value per selected output, `null` for a computed one), not of every attribute. The
//! window keeps the latest event of at most `n` keys: a repeated key replaces its event and
//! counts up; a new key, when `n` keys are held, counts every held key down (expiring those
//! that reach zero, stamped with the clock) and is dropped if nothing made room.
//!
//! Which keys are counted down, and the order they expire in, is the iteration order of
//! Siddhi's `ConcurrentHashMap`, emulated by [`JavaChm`].

use super::java_map::JavaChm;
use super::params::{INT_TYPE, Param, STRING_TYPE, attr_index};
use super::{
    WindowArg, WindowCompileCtx, WindowCtx, WindowInput, WindowProcessor, WindowSpec,
    check_overloads,
};
use crate::aggregate::ProcessingMode;
use crate::event::{Chunk, ChunkRef, EventKind};
use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::value::Value;

pub struct Frequent;

const PARAMS: &[Param] = &[
    Param::fixed("event.count", INT_TYPE),
    Param::dynamic("attribute", STRING_TYPE),
];

factory_with_input!(Frequent, "frequent");

impl Frequent {
    fn build(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
        input: Option<WindowInput<'_>>,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads(
            "frequent",
            &args,
            PARAMS,
            &[&["event.count"], &["event.count", "attribute"]],
        )?;
        let count = match args[0].constant() {
            Some(Value::Int(n)) => *n,
            _ => return Err("frequent window's event.count must be an int constant".into()),
        };
        let output = input.and_then(|i| i.output_data);
        Ok(Box::new(FrequentSpec {
            count: count as i64,
            key: KeySpec::from_args("frequent", &args[1..], cx.arity, output)?,
            arity: cx.arity,
        }))
    }
}

/// What an event's key text is made of.
#[derive(Debug, Clone)]
pub(super) enum KeySpec {
    /// The attributes in this order (`frequent(n, attr)`, or every attribute when the
    /// query's selection is unknown).
    Attrs(Vec<usize>),
    /// Siddhi's output data: per selected output, its attribute or a null.
    Output(Vec<Option<usize>>),
}

impl KeySpec {
    /// Reads the key parameters: attributes of the stream (Siddhi casts them to variables).
    pub(super) fn from_args(
        window: &str,
        args: &[WindowArg],
        arity: usize,
        output: Option<&[Option<usize>]>,
    ) -> Result<KeySpec, String> {
        if args.is_empty() {
            return Ok(match output {
                Some(layout) => KeySpec::Output(layout.to_vec()),
                None => KeySpec::Attrs((0..arity).collect()),
            });
        }
        let attrs = args
            .iter()
            .map(|a| {
                attr_index(a).ok_or_else(|| {
                    format!("{window} window's attribute must be an attribute of the stream")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(KeySpec::Attrs(attrs))
    }
}

/// Key texts of events, built in a reused buffer.
#[derive(Debug)]
pub(super) struct EventKeys {
    spec: KeySpec,
    buf: String,
}

impl EventKeys {
    pub(super) fn new(spec: KeySpec) -> EventKeys {
        EventKeys {
            spec,
            buf: String::new(),
        }
    }

    /// The key text of `row` (Java's `StringBuilder.append` of each value).
    pub(super) fn text(&mut self, row: &[Value]) -> &str {
        let buf = &mut self.buf;
        buf.clear();
        let mut push = |v: Option<&Value>| match v {
            Some(Value::Str(s)) => buf.push_str(s),
            Some(v) => buf.push_str(&v.to_java_string()),
            None => buf.push_str("null"),
        };
        match &self.spec {
            KeySpec::Attrs(attrs) => attrs.iter().for_each(|&i| push(row.get(i))),
            KeySpec::Output(layout) => layout.iter().for_each(|i| push(i.and_then(|i| row.get(i)))),
        }
        &self.buf
    }
}

/// The held events by key, in `ConcurrentHashMap` order, rows stored in a reused slab.
#[derive(Debug)]
pub(super) struct EventMap {
    map: JavaChm<u32>,
    arity: usize,
    ts: Vec<i64>,
    values: Vec<Value>,
    free: Vec<u32>,
}

impl EventMap {
    pub(super) fn new(arity: usize) -> EventMap {
        EventMap {
            map: JavaChm::default(),
            arity,
            ts: Vec::new(),
            values: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// `put`: stores the event under `key`; true when the key was already held.
    pub(super) fn put(&mut self, key: &str, ts: i64, row: &[Value]) -> bool {
        if let Some(&slot) = self.map.get(key) {
            let at = slot as usize * self.arity;
            self.values[at..at + self.arity].clone_from_slice(row);
            self.ts[slot as usize] = ts;
            return true;
        }
        let slot = match self.free.pop() {
            Some(s) => {
                let at = s as usize * self.arity;
                self.values[at..at + self.arity].clone_from_slice(row);
                self.ts[s as usize] = ts;
                s
            }
            None => {
                self.values.extend_from_slice(row);
                self.ts.push(ts);
                (self.ts.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        false
    }

    /// Removes a key, emitting its event as `kind` stamped with `ts` when `out` is given.
    pub(super) fn remove(&mut self, key: &str, out: Option<(&mut Chunk, EventKind, i64)>) {
        let Some(slot) = self.map.remove(key) else {
            return;
        };
        let at = slot as usize * self.arity;
        let row = &mut self.values[at..at + self.arity];
        match out {
            Some((out, kind, ts)) => out.push_moved(ts, kind, row),
            None => row.iter_mut().for_each(|v| *v = Value::Null),
        }
        self.free.push(slot);
    }

    pub(super) fn visit(&self, f: &mut dyn FnMut(i64, &[Value])) {
        for (_, &slot) in self.map.iter() {
            let at = slot as usize * self.arity;
            f(self.ts[slot as usize], &self.values[at..at + self.arity]);
        }
    }

    pub(super) fn snapshot(&self, w: &mut StateWriter) {
        self.map.snapshot(w, |w, &slot| {
            let at = slot as usize * self.arity;
            w.i64(self.ts[slot as usize]);
            w.row(&self.values[at..at + self.arity]);
        });
    }

    pub(super) fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let arity = self.arity;
        let (mut ts, mut values) = (Vec::new(), Vec::new());
        self.map.restore(r, |r| {
            ts.push(r.i64()?);
            r.row_into(arity, &mut values)?;
            Ok((ts.len() - 1) as u32)
        })?;
        self.ts = ts;
        self.values = values;
        self.free.clear();
        Ok(())
    }
}

#[derive(Debug)]
struct FrequentSpec {
    count: i64,
    key: KeySpec,
    arity: usize,
}

impl WindowSpec for FrequentSpec {
    fn mode(&self) -> ProcessingMode {
        ProcessingMode::Slide
    }

    fn instantiate(&self) -> Box<dyn WindowProcessor> {
        Box::new(FrequentWindow {
            count: self.count,
            keys: EventKeys::new(self.key.clone()),
            counts: JavaChm::default(),
            events: EventMap::new(self.arity),
        })
    }
}

#[derive(Debug)]
struct FrequentWindow {
    count: i64,
    keys: EventKeys,
    /// Siddhi's `countMap`.
    counts: JavaChm<i32>,
    /// Siddhi's `map`: the latest event per key (what a join sees).
    events: EventMap,
}

impl WindowProcessor for FrequentWindow {
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
            let key = self.keys.text(row);
            if self.events.put(key, ts, row) {
                if let Some(c) = self.counts.get_mut(key) {
                    *c = c.wrapping_add(1);
                }
                out.push(ts, EventKind::Current, row);
                continue;
            }
            if self.events.len() as i64 > self.count {
                // Count every held key down once (the new key is not counted yet).
                for k in self.counts.keys().iter().take(self.count.max(0) as usize) {
                    let left = self.counts.get(k).map_or(0, |c| c.wrapping_sub(1));
                    if left == 0 {
                        self.counts.remove(k);
                        self.events
                            .remove(k, Some((&mut *out, EventKind::Expired, cx.now)));
                    } else {
                        self.counts.insert(k, left);
                    }
                }
                if self.events.len() as i64 > self.count {
                    // Nothing made room: the arrival is dropped.
                    self.events.remove(key, None);
                    continue;
                }
            }
            self.counts.insert(key, 1);
            out.push(ts, EventKind::Current, row);
        }
    }

    fn visit_held(&self, f: &mut dyn FnMut(i64, &[Value])) {
        self.events.visit(f);
    }

    fn snapshot(&self, w: &mut StateWriter) {
        self.counts.snapshot(w, |w, c| w.i64(*c as i64));
        self.events.snapshot(w);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.counts.restore(r, |r| {
            i32::try_from(r.i64()?).map_err(|_| SnapshotError::Invalid("frequent count".into()))
        })?;
        self.events.restore(r)
    }
}
