//! `delay(t)`: holds each event for `t` of app time, then releases it as a current event
//! stamped with the clock at release (a timer or a later arrival, whichever comes first).
//! Arrivals themselves are not emitted. A negative delay releases an event at the next
//! movement of the clock, as in Siddhi. As in Siddhi it is a time window underneath (the
//! processor is [`super::time`]'s), so it is a sliding window to aggregators, and a join
//! sees the held events.

use super::params::{Param, TIME_TYPES, const_long};
use super::time::TimeSpec;
use super::{WindowArg, WindowCompileCtx, WindowFactory, WindowSpec, check_overloads};

pub struct Delay;

const PARAMS: &[Param] = &[Param::fixed("window.delay", TIME_TYPES)];

impl WindowFactory for Delay {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn compile(
        &self,
        args: Vec<WindowArg>,
        cx: WindowCompileCtx,
    ) -> Result<Box<dyn WindowSpec>, String> {
        check_overloads("delay", &args, PARAMS, &[&["window.delay"]])?;
        let millis = const_long(&args[0])
            .ok_or("delay window's window.delay must be an int, long or time constant")?;
        Ok(Box::new(TimeSpec {
            millis,
            arity: cx.arity,
            delay: true,
        }))
    }
}
