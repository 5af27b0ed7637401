//! `@source(type='inMemory', topic='...')` and `@sink(type='inMemory', topic='...')`: events
//! passed between apps of one node through named topics (Siddhi's InMemoryBroker), mostly for
//! tests and for chaining apps. Rows travel as they are (`passThrough` mapping).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use spate_engine::value::Value;

use super::mapper::PASS_THROUGH;
use super::{
    ConnectorSpec, OptionReader, OutputBatch, Sink, SinkContext, SinkFactory, SourceContext,
    SourceFactory, SourceGuard,
};
use crate::metrics::stream_labels;

/// `topic`: the topic's name.
pub const TOPIC: &str = "topic";
const ACCEPTED: &[&str] = &["type", TOPIC];

/// One event on a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryEvent {
    pub ts: i64,
    pub row: Vec<Value>,
}

type Subscriber = Arc<dyn Fn(&[InMemoryEvent]) + Send + Sync>;

/// Topics and their subscribers.
#[derive(Default)]
pub struct Broker {
    topics: Mutex<HashMap<String, Vec<(u64, Subscriber)>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Broker")
    }
}

impl Broker {
    /// Hands `events` to every subscriber of `topic`.
    pub fn publish(&self, topic: &str, events: &[InMemoryEvent]) {
        let subscribers: Vec<Subscriber> = self
            .lock()
            .get(topic)
            .map(|s| s.iter().map(|(_, f)| f.clone()).collect())
            .unwrap_or_default();
        for s in subscribers {
            s(events);
        }
    }

    /// Calls `f` with what is published to `topic` until the returned id is unsubscribed.
    pub fn subscribe(&self, topic: &str, f: Subscriber) -> u64 {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock()
            .entry(topic.to_string())
            .or_default()
            .push((id, f));
        id
    }

    pub fn unsubscribe(&self, topic: &str, id: u64) {
        let mut topics = self.lock();
        if let Some(subs) = topics.get_mut(topic) {
            subs.retain(|(i, _)| *i != id);
            if subs.is_empty() {
                topics.remove(topic);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(u64, Subscriber)>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn read_topic(spec: &ConnectorSpec, what: &str) -> Result<String, String> {
    super::check_mapper(spec, what, PASS_THROUGH, &[PASS_THROUGH])?;
    let r = OptionReader::new(what, &spec.options);
    let topic = r.required(TOPIC)?.to_string();
    r.finish(ACCEPTED)?;
    Ok(topic)
}

/// The `inMemory` source.
pub struct InMemorySourceFactory;

struct Subscription {
    services: Arc<super::Services>,
    topic: String,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.services.in_memory.unsubscribe(&self.topic, self.id);
    }
}

impl SourceFactory for InMemorySourceFactory {
    fn kind(&self) -> &'static str {
        "inmemory"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        read_topic(spec, "@source(type='inMemory')").map(|_| ())
    }

    fn start(&self, spec: &ConnectorSpec, ctx: &SourceContext<'_>) -> Result<SourceGuard, String> {
        let topic = read_topic(spec, "@source(type='inMemory')")?;
        let (log, stream, arity) = (ctx.log.clone(), ctx.stream, ctx.schema.len());
        let labels = stream_labels(ctx.app, ctx.stream_name);
        let events_in = ctx
            .services
            .metrics
            .events_in
            .get_or_create(&labels)
            .clone();
        let errors = ctx
            .services
            .metrics
            .source_errors
            .get_or_create(&labels)
            .clone();
        let (app, stream_name) = (ctx.app.to_string(), ctx.stream_name.to_string());
        let id = ctx.services.in_memory.subscribe(
            &topic,
            Arc::new(move |events: &[InMemoryEvent]| {
                let rows: Vec<Vec<Value>> = events
                    .iter()
                    .filter(|e| e.row.len() == arity)
                    .map(|e| e.row.clone())
                    .collect();
                let dropped = events.len() - rows.len();
                let n = rows.len() as u64;
                match log.append_events(stream, rows) {
                    Ok(_) => {
                        events_in.inc_by(n);
                    }
                    Err(e) => {
                        errors.inc();
                        tracing::warn!(app, stream = stream_name, error = %e, "In-memory events were dropped.");
                    }
                }
                if dropped > 0 {
                    errors.inc();
                    tracing::warn!(app, stream = stream_name, dropped, "In-memory events with the wrong number of attributes were dropped.");
                }
            }),
        );
        Ok(Box::new(Subscription {
            services: ctx.services.clone(),
            topic,
            id,
        }))
    }
}

/// The `inMemory` sink.
pub struct InMemorySinkFactory;

struct InMemorySink {
    services: Arc<super::Services>,
    topic: String,
    buf: Vec<InMemoryEvent>,
}

impl SinkFactory for InMemorySinkFactory {
    fn kind(&self) -> &'static str {
        "inmemory"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        read_topic(spec, "@sink(type='inMemory')").map(|_| ())
    }

    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String> {
        Ok(Box::new(InMemorySink {
            services: ctx.services.clone(),
            topic: read_topic(spec, "@sink(type='inMemory')")?,
            buf: Vec::new(),
        }))
    }
}

impl Sink for InMemorySink {
    fn publish(&mut self, batch: &OutputBatch<'_>) {
        self.buf.clear();
        for i in 0..batch.events.len() {
            self.buf.push(InMemoryEvent {
                ts: batch.events.ts(i),
                row: batch.events.row(i).to_vec(),
            });
        }
        self.services.in_memory.publish(&self.topic, &self.buf);
    }
}
