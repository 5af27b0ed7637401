//! `unionSet(set)`: the union of the sets held. With removals tracked it keeps Siddhi's
//! per-element counter, including its quirk: an element whose counter is 1 leaves the set on
//! removal but its counter stays, so a later add counts from there.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_arg, type_name};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Object, Value};

pub struct UnionSet;

impl AggregatorFactory for UnionSet {
    fn name(&self) -> &'static str {
        "unionSet"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        match one_arg("unionSet", args)? {
            AttrType::Object => Ok(AttrType::Object),
            other => Err(format!(
                "unionSet() needs an object (set) argument, but found {}",
                type_name(other)
            )),
        }
    }

    fn create(&self, _args: &[AttrType], cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Union {
            set: Vec::new(),
            counter: cx.tracks_removals().then(FxHashMap::default),
        })
    }
}

#[derive(Debug)]
struct Union {
    /// Sorted, without duplicates.
    set: Vec<Value>,
    counter: Option<FxHashMap<Value, i64>>,
}

fn elements(v: &Value) -> &[Value] {
    match v {
        Value::Object(o) => match &**o {
            Object::Set(items) => items,
            Object::List(_) | Object::Text(_) => &[],
        },
        _ => &[],
    }
}

impl Union {
    fn insert(&mut self, v: &Value) {
        if let Err(pos) = self.set.binary_search_by(|x| x.total_cmp(v)) {
            self.set.insert(pos, v.clone());
        }
    }

    fn erase(&mut self, v: &Value) {
        if let Ok(pos) = self.set.binary_search_by(|x| x.total_cmp(v)) {
            self.set.remove(pos);
        }
    }

    fn current(&self) -> Value {
        Value::Object(Arc::new(Object::Set(self.set.clone())))
    }
}

impl AggregatorState for Union {
    fn add(&mut self, v: &Value) -> Value {
        for e in elements(v) {
            self.insert(e);
            if let Some(c) = &mut self.counter {
                *c.entry(e.clone()).or_insert(0) += 1;
            }
        }
        self.current()
    }

    fn remove(&mut self, v: &Value) -> Value {
        for e in elements(v) {
            match &mut self.counter {
                Some(counter) => match counter.get(e).copied() {
                    None | Some(0) => {}
                    Some(1) => self.erase(e),
                    Some(n) => {
                        counter.insert(e.clone(), n - 1);
                    }
                },
                None => self.erase(e),
            }
        }
        self.current()
    }

    fn reset(&mut self) -> Value {
        self.set.clear();
        if let Some(c) = &mut self.counter {
            c.clear();
        }
        Value::Object(Arc::new(Object::Set(Vec::new())))
    }

    fn can_destroy(&self) -> bool {
        self.set.is_empty()
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.values(&self.set);
        match &self.counter {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                let mut entries: Vec<(&Value, &i64)> = c.iter().collect();
                entries.sort_by(|a, b| a.0.total_cmp(b.0));
                w.usize(entries.len());
                for (k, n) in entries {
                    w.value(k);
                    w.i64(*n);
                }
            }
        }
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.set = r.values()?;
        self.counter = match r.u8()? {
            0 => None,
            _ => {
                let n = r.len(2)?;
                let mut c = FxHashMap::default();
                for _ in 0..n {
                    let k = r.value()?;
                    c.insert(k, r.i64()?);
                }
                Some(c)
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Object, Value};
    use std::sync::Arc;

    fn set(items: &[i32]) -> Value {
        Value::Object(Arc::new(Object::Set(
            items.iter().map(|i| Value::Int(*i)).collect(),
        )))
    }

    #[test]
    fn union_follows_window() {
        let out = run(
            "unionSet",
            AttrType::Object,
            SLIDE,
            &[
                ('+', set(&[1])),
                ('+', set(&[2])),
                ('+', set(&[1])),
                ('-', set(&[1])),
            ],
        );
        assert_eq!(
            out,
            vec![set(&[1]), set(&[1, 2]), set(&[1, 2]), set(&[1, 2])]
        );
    }
}
