//! Spate's Siddhi runtime: compiles a parsed app into a typed plan and runs it
//! deterministically over typed rows, with snapshot and restore of every piece of state.
//!
//! ```
//! use std::sync::Arc;
//! use spate_engine::{plan, runtime::{AppRuntime, OutputSink}, event::ChunkRef, value::Value};
//!
//! struct Print(Vec<Vec<Value>>);
//! impl OutputSink for Print {
//!     fn on_events(&mut self, _stream: u32, _seq: u64, events: ChunkRef<'_>) {
//!         for i in 0..events.len() { self.0.push(events.row(i).to_vec()); }
//!     }
//! }
//!
//! let app = "define stream S (sym string, price double); \
//!            from S[price > 10.0] select sym insert into Out;";
//! let plan = Arc::new(plan::compile_text(app).expect("valid app"));
//! let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
//! rt.observe(plan.stream_id("Out").unwrap());
//! let mut out = Print(Vec::new());
//! let s = plan.stream_id("S").unwrap();
//! rt.send(s, 1000, &[Value::str("IBM"), Value::Double(12.5)], &mut out);
//! rt.send(s, 1001, &[Value::str("HP"), Value::Double(2.5)], &mut out);
//! assert_eq!(out.0, vec![vec![Value::str("IBM")]]);
//! ```

pub mod aggregate;
pub mod aggregation;
pub mod compact_rows;
pub mod compiled;
pub mod cron;
pub mod diagnostics;
pub mod env;
pub mod event;
pub mod expr;
pub mod function;
pub mod java_fmt;
pub mod named_window;
pub mod pattern;
pub mod plan;
pub mod query;
pub mod ratelimit;
pub mod row_queue;
pub mod runtime;
pub mod scheduler;
pub mod snapshot;
pub mod stream_fn;
pub mod table;
pub mod text;
pub mod value;
pub mod window;
