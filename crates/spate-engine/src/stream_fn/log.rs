//! `#log([priority,] [message,] [is.event.logged])`: logs each event and passes it on.

use super::{CompiledStreamFunction, FnArg, StreamFunction, StreamFunctionFactory};
use crate::expr::EvalCtx;
use crate::value::{AttrType, Value};

pub struct Log;

impl StreamFunctionFactory for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn compile(
        &self,
        args: Vec<FnArg>,
        _input: &[(String, AttrType)],
    ) -> Result<CompiledStreamFunction, String> {
        if args.len() > 3 {
            return Err(format!(
                "log takes at most 3 parameters, but found {}",
                args.len()
            ));
        }
        Ok((Box::new(LogFn { args }), Vec::new()))
    }
}

#[derive(Debug)]
struct LogFn {
    args: Vec<FnArg>,
}

impl StreamFunction for LogFn {
    fn apply(&self, ctx: &mut EvalCtx<'_>, _out: &mut Vec<Value>) -> bool {
        let mut message = String::new();
        let mut log_event = true;
        for a in &self.args {
            match (a.ty, a.expr.eval(ctx)) {
                (AttrType::Bool, Value::Bool(b)) => log_event = b,
                (_, v) => message = v.to_java_string(),
            }
        }
        if log_event {
            tracing::info!(timestamp = ctx.ts, event = ?ctx.rows.first(), "{message}");
        } else {
            tracing::info!("{message}");
        }
        true
    }
}
