//! Scalar functions (`cast`, `convert`, `ifThenElse`, ...): an explicit registry of factories,
//! one file per function family. A factory checks argument types at compile time, as Siddhi's
//! `init` does, and returns the compiled function with its result type.

use std::sync::Arc;

use crate::expr::ScalarFunction;
use crate::value::{AttrType, Value};

mod cast;
mod coalesce;
mod convert;
mod extremum;
mod if_then_else;
mod instance_of;
mod set;
mod time;
mod uuid;

/// What the compiler knows about one argument.
#[derive(Clone, Copy, Debug)]
pub struct ArgInfo<'a> {
    pub ty: AttrType,
    /// The value when the argument is a constant.
    pub constant: Option<&'a Value>,
}

/// A compiled call: the function and its result type.
pub type Compiled = (Arc<dyn ScalarFunction>, AttrType);

/// Builds a scalar function for given arguments.
pub trait FunctionFactory: Send + Sync {
    /// The name used in SiddhiQL (case-sensitive, as in Siddhi).
    fn name(&self) -> &'static str;
    /// Checks the arguments; returns the compiled function or a message for the user.
    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String>;
}

/// Every built-in scalar function.
pub fn builtins() -> &'static [&'static dyn FunctionFactory] {
    &[
        &cast::Cast,
        &convert::Convert,
        &if_then_else::IfThenElse,
        &coalesce::Coalesce,
        &coalesce::Default,
        &instance_of::InstanceOf::BOOLEAN,
        &instance_of::InstanceOf::DOUBLE,
        &instance_of::InstanceOf::FLOAT,
        &instance_of::InstanceOf::INTEGER,
        &instance_of::InstanceOf::LONG,
        &instance_of::InstanceOf::STRING,
        &extremum::Maximum,
        &extremum::Minimum,
        &time::EventTimestamp,
        &time::CurrentTimeMillis,
        &uuid::Uuid,
        &set::CreateSet,
        &set::SizeOfSet,
    ]
}

/// Looks up a built-in scalar function by name.
pub fn find(name: &str) -> Option<&'static dyn FunctionFactory> {
    builtins().iter().copied().find(|f| f.name() == name)
}

/// Checks the argument count.
pub(crate) fn arity(name: &str, args: &[ArgInfo<'_>], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "{name}() takes {n} argument{}, but found {}",
            if n == 1 { "" } else { "s" },
            args.len()
        ))
    }
}

/// The lower-case SiddhiQL name of a type.
pub(crate) fn type_name(t: AttrType) -> &'static str {
    crate::aggregate::type_name(t)
}

/// Parses a type name as `cast`/`convert` accept it (any case).
pub(crate) fn parse_type_name(s: &str) -> Option<AttrType> {
    Some(match s.to_ascii_lowercase().as_str() {
        "string" => AttrType::String,
        "int" => AttrType::Int,
        "long" => AttrType::Long,
        "float" => AttrType::Float,
        "double" => AttrType::Double,
        "bool" => AttrType::Bool,
        "object" => AttrType::Object,
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::expr::{EvalCtx, Expr};

    /// Compiles `name` over constant arguments and evaluates it once.
    pub fn call(name: &str, args: &[(AttrType, Value)]) -> Result<(Value, AttrType), String> {
        let infos: Vec<ArgInfo<'_>> = args
            .iter()
            .map(|(ty, v)| ArgInfo {
                ty: *ty,
                constant: Some(v),
            })
            .collect();
        let (f, ty) = find(name).ok_or("no such function")?.compile(&infos)?;
        let exprs: Vec<Expr> = args.iter().map(|(_, v)| Expr::Const(v.clone())).collect();
        let rows: [&[Value]; 1] = [&[]];
        let mut ctx = EvalCtx::new(&rows, 42, 99);
        let v = f.eval(&exprs, &mut ctx);
        match ctx.error {
            Some(e) => Err(e),
            None => Ok((v, ty)),
        }
    }
}
