//! Window parameter checks shared by the windows: Siddhi's `@ParameterOverload` matching
//! (`InputParameterValidator`), which runs before each window's own `init` checks, and small
//! readers for the parameter shapes windows take.
//!
//! The overload check decides, by the parameters' types alone, which declared form a call
//! is; then every parameter of that form that is not declared dynamic must be a constant.
//! Siddhi's `time` type never matches (no expression has it), so time parameters accept
//! `int` and `long`, and `5 sec` is a `long`.

use super::WindowArg;
use crate::aggregate::type_name;
use crate::expr::Expr;
use crate::value::{AttrType, Value};

/// One declared parameter (Siddhi's `@Parameter`).
pub(crate) struct Param {
    pub name: &'static str,
    pub types: &'static [AttrType],
    /// May be an attribute or any expression; otherwise it must be a constant.
    pub dynamic: bool,
}

impl Param {
    /// A parameter that must be a constant.
    pub const fn fixed(name: &'static str, types: &'static [AttrType]) -> Param {
        Param {
            name,
            types,
            dynamic: false,
        }
    }

    /// A parameter that may be an attribute or any expression.
    pub const fn dynamic(name: &'static str, types: &'static [AttrType]) -> Param {
        Param {
            name,
            types,
            dynamic: true,
        }
    }
}

/// The name that repeats the parameter before it (`"..."` in an overload).
pub(crate) const REPEAT: &str = "...";

/// `int`, `long` or a time constant (`5 sec`).
pub(crate) const TIME_TYPES: &[AttrType] = &[AttrType::Int, AttrType::Long];
pub(crate) const INT_TYPE: &[AttrType] = &[AttrType::Int];
pub(crate) const LONG_TYPE: &[AttrType] = &[AttrType::Long];
pub(crate) const STRING_TYPE: &[AttrType] = &[AttrType::String];
pub(crate) const BOOL_TYPE: &[AttrType] = &[AttrType::Bool];
pub(crate) const DOUBLE_TYPE: &[AttrType] = &[AttrType::Double];

/// Checks `args` against the declared overloads as Siddhi does before `init`.
pub(crate) fn check_overloads(
    window: &str,
    args: &[WindowArg],
    params: &[Param],
    overloads: &[&[&str]],
) -> Result<(), String> {
    let param = |name: &str| params.iter().find(|p| p.name == name);
    let accepts =
        |name: &str, arg: &WindowArg| param(name).is_some_and(|p| p.types.contains(&arg.ty));
    let matched = overloads.iter().find(|names| {
        let repeats = names.last() == Some(&REPEAT);
        if !repeats {
            names.len() == args.len() && names.iter().zip(args).all(|(n, a)| accepts(n, a))
        } else {
            // `(a, b, ...)`: positions past the named ones take the type of the last named.
            names.len() - 1 <= args.len()
                && !args.is_empty()
                && args.iter().enumerate().all(|(i, a)| {
                    let name = if i < names.len() - 1 {
                        names[i]
                    } else {
                        names[names.len().saturating_sub(2)]
                    };
                    accepts(name, a)
                })
        }
    });
    let Some(names) = matched else {
        let found: Vec<&str> = args.iter().map(|a| type_name(a.ty)).collect();
        let forms: Vec<String> = overloads
            .iter()
            .map(|names| describe_overload(names, params))
            .collect();
        return Err(format!(
            "{window} window cannot take parameters of types ({}); it takes {}",
            found.join(", "),
            forms.join(" or ")
        ));
    };
    for (i, name) in names.iter().enumerate() {
        if let (Some(p), Some(a)) = (param(name), args.get(i))
            && !p.dynamic
            && a.constant().is_none()
        {
            return Err(format!(
                "{window} window's {} (parameter {}) must be a constant, but found an expression",
                p.name,
                i + 1
            ));
        }
    }
    Ok(())
}

fn describe_overload(names: &[&str], params: &[Param]) -> String {
    let mut parts = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let shown = if *name == REPEAT && i > 0 {
            names[i - 1]
        } else {
            name
        };
        let types = params
            .iter()
            .find(|p| p.name == shown)
            .map(|p| {
                p.types
                    .iter()
                    .map(|t| type_name(*t))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default();
        if *name == REPEAT {
            parts.push(format!("<{types}> ..."));
        } else {
            parts.push(format!("<{types}> {name}"));
        }
    }
    format!("({})", parts.join(", "))
}

/// The attribute a parameter names, when it is a plain attribute of the input.
pub(crate) fn attr_index(arg: &WindowArg) -> Option<usize> {
    match arg.expr {
        Expr::Attr { slot: 0, idx } => Some(idx as usize),
        _ => None,
    }
}

/// A constant `int` or `long` read as a long (time parameters).
pub(crate) fn const_long(arg: &WindowArg) -> Option<i64> {
    match arg.constant() {
        Some(Value::Int(v)) => Some(*v as i64),
        Some(Value::Long(v)) => Some(*v),
        _ => None,
    }
}

/// A constant string parameter.
pub(crate) fn const_str(arg: &WindowArg) -> Option<&str> {
    arg.constant().and_then(Value::as_str)
}

/// A constant bool parameter.
pub(crate) fn const_bool(arg: &WindowArg) -> Option<bool> {
    match arg.constant() {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(v: Option<Value>, ty: AttrType) -> WindowArg {
        WindowArg {
            expr: match v {
                Some(v) => Expr::Const(v),
                None => Expr::Attr { slot: 0, idx: 0 },
            },
            ty,
        }
    }

    const PARAMS: &[Param] = &[
        Param::fixed("window.length", INT_TYPE),
        Param::dynamic("attribute", &[AttrType::String, AttrType::Int]),
        Param::fixed("order", STRING_TYPE),
    ];
    const FORMS: &[&[&str]] = &[
        &["window.length", "attribute"],
        &["window.length", "attribute", "order", REPEAT],
        &["window.length", "attribute", "order", "attribute", REPEAT],
    ];

    #[test]
    fn repeating_overloads_follow_siddhi() {
        let n = || arg(Some(Value::Int(2)), AttrType::Int);
        let int_attr = || arg(None, AttrType::Int);
        let str_attr = || arg(None, AttrType::String);
        let asc = || arg(Some(Value::str("asc")), AttrType::String);
        assert!(check_overloads("sort", &[n(), int_attr()], PARAMS, FORMS).is_ok());
        assert!(
            check_overloads("sort", &[n(), int_attr(), asc(), int_attr()], PARAMS, FORMS).is_ok()
        );
        // A third parameter is an order: it must be a constant string.
        let e = check_overloads("sort", &[n(), int_attr(), str_attr()], PARAMS, FORMS);
        assert!(e.unwrap_err().contains("must be a constant"));
        let e = check_overloads("sort", &[n(), int_attr(), int_attr()], PARAMS, FORMS);
        assert!(e.unwrap_err().contains("cannot take"));
        let long = arg(Some(Value::Long(2)), AttrType::Long);
        assert!(check_overloads("sort", &[long, int_attr()], PARAMS, FORMS).is_err());
        assert!(check_overloads("sort", &[n()], PARAMS, FORMS).is_err());
    }
}
