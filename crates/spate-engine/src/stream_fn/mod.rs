//! Stream functions (`#pol2Cart(theta, rho)`, `#log(...)`): per-event processors that append
//! attributes to the row or act on it. An explicit registry, one file each.

use std::fmt;

use crate::expr::{EvalCtx, Expr};
use crate::value::{AttrType, Value};

mod log;
mod pol2cart;

/// A compiled argument of a stream function.
#[derive(Debug)]
pub struct FnArg {
    pub expr: Expr,
    pub ty: AttrType,
}

/// A compiled stream function and the attributes it appends.
pub type CompiledStreamFunction = (Box<dyn StreamFunction>, Vec<(String, AttrType)>);

pub trait StreamFunctionFactory: Send + Sync {
    fn name(&self) -> &'static str;
    /// Validates the arguments against the input attributes; returns the function and the
    /// attributes it appends.
    fn compile(
        &self,
        args: Vec<FnArg>,
        input: &[(String, AttrType)],
    ) -> Result<CompiledStreamFunction, String>;
}

pub trait StreamFunction: Send + Sync + fmt::Debug {
    /// Appends the new attributes for the row in `ctx` to `out`; returns false to drop it.
    fn apply(&self, ctx: &mut EvalCtx<'_>, out: &mut Vec<Value>) -> bool;
}

pub fn builtins() -> &'static [&'static dyn StreamFunctionFactory] {
    &[&pol2cart::Pol2Cart, &log::Log]
}

pub fn find(name: &str) -> Option<&'static dyn StreamFunctionFactory> {
    builtins().iter().copied().find(|f| f.name() == name)
}
