//! Running on-demand (store) queries on a live runtime (Siddhi's `siddhiAppRuntime.query`):
//! see [`crate::plan::store_query`] for what each form does.

use std::sync::Arc;

use spate_ql::Diagnostic;

use super::AppRuntime;
use crate::event::{Chunk, EventKind};
use crate::expr::EvalCtx;
use crate::plan::Schema;
use crate::plan::store_query::{StoreAction, StoreQueryPlan, StoreSource, compile_store_query};
use crate::query::selector::{SelectCtx, Selector};
use crate::table::ops;
use crate::value::Value;

/// What an on-demand query returns: the selector's rows (none for a query that changes a
/// table).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub schema: Arc<Schema>,
    pub rows: Vec<Vec<Value>>,
}

impl AppRuntime {
    /// Runs an on-demand query such as `from T on price > 10.0 select symbol, price` against
    /// the app's tables and named windows as they are now. A query that fails while running
    /// (a type error on a row) reports it as a diagnostic spanning the query.
    pub fn query(&mut self, text: &str) -> Result<QueryResult, Vec<Diagnostic>> {
        let q = compile_store_query(&self.plan, text)?;
        let run_error = |message: String| {
            vec![Diagnostic::validation(
                spate_ql::Span::new(0, text.len()),
                format!("the on-demand query failed: {message}"),
            )]
        };
        let mut input = Chunk::new(q.input_arity);
        input.batch = true;
        match &q.action {
            StoreAction::Find {
                source: StoreSource::Table(t),
                key: Some(key),
                ..
            } => {
                // A primary key equality: the key map answers, as in Siddhi.
                let rows: [&[Value]; 1] = [&[]];
                let mut ecx = EvalCtx::new(&rows, self.clock, self.clock);
                let v = key.eval(&mut ecx);
                if let Some(e) = ecx.error {
                    return Err(run_error(e));
                }
                let table = &self.tables[*t as usize];
                if let Some(row) = table
                    .find_key(std::slice::from_ref(&v))
                    .and_then(|s| table.row(s))
                {
                    input.push(self.clock, EventKind::Current, row);
                }
            }
            StoreAction::Find {
                source, on, within, ..
            } => {
                self.found_rows(*source, on.as_ref(), within.as_deref(), &mut input)
                    .map_err(run_error)?;
            }
            StoreAction::Change { .. } => {
                input.begin_row(self.clock, EventKind::Current);
            }
        }
        if input.is_empty() {
            // Siddhi returns nothing when nothing matched, aggregates included.
            return Ok(QueryResult {
                schema: q.schema.clone(),
                rows: Vec::new(),
            });
        }
        let out = select(&q, &input, self.clock, &self.tables).map_err(run_error)?;
        match &q.action {
            StoreAction::Find { .. } => Ok(QueryResult {
                schema: q.schema.clone(),
                rows: (0..out.len())
                    .filter(|&r| out.kind(r) == EventKind::Current)
                    .map(|r| out.row(r).to_vec())
                    .collect(),
            }),
            StoreAction::Change { table, op } => {
                ops::apply(
                    &mut self.tables[*table as usize],
                    op,
                    out.as_ref(),
                    self.clock,
                )
                .map_err(run_error)?;
                Ok(QueryResult {
                    schema: Arc::new(Schema::default()),
                    rows: Vec::new(),
                })
            }
        }
    }

    /// Appends the rows of `source` that satisfy `on`, in the order a join would meet them.
    fn found_rows(
        &self,
        source: StoreSource,
        on: Option<&crate::compiled::Compiled>,
        within: Option<&crate::aggregation::WithinPer>,
        into: &mut Chunk,
    ) -> Result<(), String> {
        let (now, tables) = (self.clock, &self.tables[..]);
        let mut failed = None;
        let mut consider = |ts: i64, row: &[Value]| {
            if failed.is_some() {
                return;
            }
            let keep = match on {
                None => true,
                Some(cond) => {
                    let rows: [&[Value]; 1] = [row];
                    let mut ecx = EvalCtx::new(&rows, ts, now).with_tables(tables);
                    let hit = cond.eval_bool(&mut ecx);
                    failed = ecx.error.take();
                    hit
                }
            };
            if keep {
                into.push(ts, EventKind::Current, row);
            }
        };
        match source {
            StoreSource::Table(t) => {
                self.tables[t as usize].visit(&mut |row| consider(now, row));
            }
            StoreSource::Window(w) => self.windows[w as usize].visit_held(&mut consider),
            StoreSource::Aggregation(a) => {
                let Some(wp) = within else {
                    return Err("an aggregation is read with `within` and `per`".into());
                };
                let rows: [&[Value]; 1] = [&[]];
                let mut ecx = EvalCtx::new(&rows, now, now).with_tables(tables);
                for row in self.aggregations[a as usize].find(wp, &mut ecx)? {
                    consider(now, &row);
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// The selector of `q` over `input` as one batch.
fn select(
    q: &StoreQueryPlan,
    input: &Chunk,
    now: i64,
    tables: &[crate::table::TableRuntime],
) -> Result<Chunk, String> {
    let mut selector = Selector::new(&q.selector);
    let mut out = Chunk::new(q.selector.outputs.len());
    let sel: Vec<u32> = (0..input.len() as u32).collect();
    selector.process(
        &q.selector,
        input.as_ref(),
        &sel,
        SelectCtx { now, tables },
        &mut out,
    );
    match selector.take_error() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    //! Expected rows recorded from Siddhi 5.1.7's `SiddhiAppRuntime.query` on the same app
    //! and events.

    use super::*;
    use crate::plan;
    use crate::runtime::NullSink;

    const APP: &str = "
        define stream StockIn (symbol string, price double, volume long);
        define stream WinIn (symbol string, price double);
        @primaryKey('symbol')
        define table StockTable (symbol string, price double, volume long);
        define table LogTable (symbol string, price double, volume long);
        define window PriceWindow (symbol string, price double) lengthBatch(2);
        from StockIn insert into StockTable;
        from StockIn insert into LogTable;
        from WinIn insert into PriceWindow;";

    fn runtime() -> AppRuntime {
        let plan = Arc::new(plan::compile_text(APP).expect("valid app"));
        let mut rt = AppRuntime::new(plan.clone()).expect("runnable");
        let stock = plan.stream_id("StockIn").expect("StockIn");
        let win = plan.stream_id("WinIn").expect("WinIn");
        let ticks = [("WSO2", 55.6, 100), ("IBM", 75.6, 10), ("GOOG", 50.0, 30)];
        let mut ts = 1000;
        for (s, p, v) in ticks.into_iter().chain([("WSO2", 57.6, 200)]) {
            let row = [Value::str(s), Value::Double(p), Value::Long(v)];
            rt.send(stock, ts, &row, &mut NullSink);
            ts += 1;
        }
        for (s, p) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            rt.send(win, ts, &[Value::str(s), Value::Double(p)], &mut NullSink);
            ts += 1;
        }
        rt
    }

    /// The rows as Siddhi prints them: `[["GOOG",50.0],...]`.
    fn show(rows: &[Vec<Value>]) -> String {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| {
                let vs: Vec<String> = r
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => format!("\"{s}\""),
                        other => other.to_java_string(),
                    })
                    .collect();
                format!("[{}]", vs.join(","))
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    fn query(rt: &mut AppRuntime, text: &str) -> String {
        match rt.query(text) {
            Ok(r) => show(&r.rows),
            Err(d) => panic!("{text}: {d:?}"),
        }
    }

    #[test]
    fn finds_in_scan_order_with_batch_selectors() {
        let mut rt = runtime();
        let cases = [
            (
                "from StockTable select *",
                r#"[["GOOG",50.0,30],["IBM",75.6,10],["WSO2",55.6,100]]"#,
            ),
            (
                "from StockTable on price > 52.0 select symbol, price",
                r#"[["IBM",75.6],["WSO2",55.6]]"#,
            ),
            (
                "from LogTable select symbol, sum(volume) as total group by symbol",
                r#"[["WSO2",300],["IBM",10],["GOOG",30]]"#,
            ),
            (
                "from LogTable select symbol, sum(volume) as total group by symbol having total > 50 order by total desc",
                r#"[["WSO2",300]]"#,
            ),
            (
                "from LogTable select sum(volume) as total, count() as n",
                "[[340,4]]",
            ),
            (
                "from LogTable select symbol, price order by price limit 2",
                r#"[["GOOG",50.0],["WSO2",55.6]]"#,
            ),
            (
                "from LogTable select symbol, price order by price desc limit 2 offset 1",
                r#"[["WSO2",57.6],["WSO2",55.6]]"#,
            ),
            (
                "from LogTable on volume < 0 select sum(volume) as total",
                "[]",
            ),
            (
                "from PriceWindow select symbol, price",
                r#"[["a",1.0],["b",2.0]]"#,
            ),
            (
                "from PriceWindow on price > 1.5 select count() as n",
                "[[1]]",
            ),
            (
                "from StockTable on StockTable.price > 52.0 select StockTable.symbol",
                r#"[["IBM"],["WSO2"]]"#,
            ),
            (
                "from StockTable as s on symbol == 'IBM' select symbol",
                r#"[["IBM"]]"#,
            ),
            (
                "from StockTable on 1 > 0 select count() as n, max(price) as mx, avg(volume) as av",
                "[[3,75.6,46.666666666666664]]",
            ),
            (
                "from StockTable select symbol, volume as v order by v desc, symbol limit 1",
                r#"[["WSO2",100]]"#,
            ),
            ("from StockTable select symbol offset 2", r#"[["WSO2"]]"#),
            (
                "from StockTable select symbol, price group by symbol order by price",
                r#"[["GOOG",50.0],["WSO2",55.6],["IBM",75.6]]"#,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(query(&mut rt, text), expected, "{text}");
        }
    }

    #[test]
    fn changes_tables() {
        let mut rt = runtime();
        let steps = [
            (
                "select 'X' as symbol, 1.0 as price, 5L as volume insert into LogTable",
                "[]",
            ),
            (
                "from LogTable select symbol, volume",
                r#"[["WSO2",100],["IBM",10],["GOOG",30],["WSO2",200],["X",5]]"#,
            ),
            ("delete LogTable on LogTable.symbol == 'WSO2'", "[]"),
            ("from LogTable select symbol", r#"[["IBM"],["GOOG"],["X"]]"#),
            (
                "update LogTable set LogTable.price = 0.0 on LogTable.volume > 20",
                "[]",
            ),
            (
                "from LogTable select symbol, price",
                r#"[["IBM",75.6],["GOOG",0.0],["X",1.0]]"#,
            ),
            (
                "select 'IBM' as symbol, 9.0 as price, 9L as volume update or insert into StockTable on StockTable.symbol == symbol",
                "[]",
            ),
            (
                "from StockTable select symbol, price, volume",
                r#"[["GOOG",50.0,30],["IBM",9.0,9],["WSO2",55.6,100]]"#,
            ),
        ];
        for (text, expected) in steps {
            assert_eq!(query(&mut rt, text), expected, "{text}");
        }
    }

    #[test]
    fn rejects_what_siddhi_rejects() {
        let mut rt = runtime();
        for text in [
            "from Nope select *",
            "from StockIn select *",
            "from StockTable select nope",
            "from StockTable as s select s.symbol",
            "from PriceWindow as w select w.symbol",
            "from StockTable on price > 'a' select symbol",
            "from StockTable select *, 1 as one",
            "select 1 as a insert into LogTable",
        ] {
            assert!(rt.query(text).is_err(), "{text} should be rejected");
        }
        let schema = rt
            .query("from StockTable select symbol, price * 2 as p2")
            .expect("valid")
            .schema;
        assert_eq!(schema.names, ["symbol", "p2"]);
    }
}
