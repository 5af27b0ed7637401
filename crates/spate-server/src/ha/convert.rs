//! Engine values and input-log entries to and from the event-sync protocol's own types.

use spate_cluster::sync::{self, EntryKind, SyncValue};
use spate_engine::plan::AppPlan as Plan;
use spate_engine::value::AttrType;
use spate_engine::value::{Object, Value};

use crate::input_log::Entry;

/// An engine value as sent to the passive. `object` values travel as their text form.
pub fn to_sync(value: &Value) -> SyncValue {
    match value {
        Value::Null => SyncValue::Null,
        Value::Bool(b) => SyncValue::Bool(*b),
        Value::Int(i) => SyncValue::Int(*i),
        Value::Long(l) => SyncValue::Long(*l),
        Value::Float(f) => SyncValue::Float(*f),
        Value::Double(d) => SyncValue::Double(*d),
        Value::Str(s) => SyncValue::Str(s.to_string()),
        Value::Object(o) => SyncValue::Object(o.to_string().into_bytes()),
    }
}

/// A value received from the active, back as the engine's.
pub fn from_sync(value: SyncValue) -> Value {
    match value {
        SyncValue::Null => Value::Null,
        SyncValue::Bool(b) => Value::Bool(b),
        SyncValue::Int(i) => Value::Int(i),
        SyncValue::Long(l) => Value::Long(l),
        SyncValue::Float(f) => Value::Float(f),
        SyncValue::Double(d) => Value::Double(d),
        SyncValue::Str(s) => Value::str(&s),
        SyncValue::Object(bytes) => Value::Object(std::sync::Arc::new(Object::Text(
            String::from_utf8_lossy(&bytes).into_owned(),
        ))),
    }
}

/// An input-log entry of `app` as forwarded; `plan` names its stream.
pub fn entry_to_sync(app: &str, plan: &Plan, entry: &Entry) -> sync::Entry {
    match entry {
        Entry::Event {
            seq,
            stream,
            ts,
            row,
        } => sync::Entry {
            app: app.to_string(),
            seq: *seq,
            timestamp: *ts,
            kind: EntryKind::Event {
                stream: plan.stream(*stream).name.clone(),
                values: row.iter().map(to_sync).collect(),
            },
        },
        Entry::Tick { seq, now } => sync::Entry {
            app: app.to_string(),
            seq: *seq,
            timestamp: *now,
            kind: EntryKind::Tick,
        },
    }
}

/// A replayed entry back as an input-log entry of the app `plan` describes; an error names
/// what no longer fits (the app changed between the nodes).
pub fn entry_from_sync(plan: &Plan, entry: sync::Entry) -> Result<Entry, String> {
    match entry.kind {
        EntryKind::Tick => Ok(Entry::Tick {
            seq: entry.seq,
            now: entry.timestamp,
        }),
        EntryKind::Event { stream, values } => {
            let id = plan
                .stream_id(&stream)
                .ok_or_else(|| format!("entry {}: the app has no stream `{stream}`", entry.seq))?;
            let types: &[AttrType] = &plan.stream(id).schema.types;
            if types.len() != values.len() {
                return Err(format!(
                    "entry {}: stream `{stream}` has {} attributes, the entry {}",
                    entry.seq,
                    types.len(),
                    values.len()
                ));
            }
            Ok(Entry::Event {
                seq: entry.seq,
                stream: id,
                ts: entry.timestamp,
                row: values.into_iter().map(from_sync).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int(-3),
            Value::Long(1 << 40),
            Value::Float(1.5),
            Value::Double(-2.25),
            Value::str("ü"),
        ] {
            assert_eq!(from_sync(to_sync(&v)), v);
        }
    }
}
