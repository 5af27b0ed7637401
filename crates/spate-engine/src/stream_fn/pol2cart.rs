//! `#pol2Cart(theta, rho[, z])`: appends `x`, `y` (and `z`) from polar coordinates in degrees.

use super::{CompiledStreamFunction, FnArg, StreamFunction, StreamFunctionFactory};
use crate::expr::EvalCtx;
use crate::value::{AttrType, Value};

pub struct Pol2Cart;

impl StreamFunctionFactory for Pol2Cart {
    fn name(&self) -> &'static str {
        "pol2Cart"
    }

    fn compile(
        &self,
        args: Vec<FnArg>,
        input: &[(String, AttrType)],
    ) -> Result<CompiledStreamFunction, String> {
        if !(2..=3).contains(&args.len()) {
            return Err(format!(
                "pol2Cart takes (theta, rho) or (theta, rho, z), but found {} parameters",
                args.len()
            ));
        }
        if let Some((i, _)) = args
            .iter()
            .enumerate()
            .find(|(_, a)| a.ty != AttrType::Double)
        {
            return Err(format!("pol2Cart parameter {} must be a double", i + 1));
        }
        let names: &[&str] = if args.len() == 2 {
            &["x", "y"]
        } else {
            &["x", "y", "z"]
        };
        if let Some((n, _)) = input.iter().find(|(n, _)| names.contains(&n.as_str())) {
            return Err(format!(
                "pol2Cart adds attribute `{n}`, which the input already has"
            ));
        }
        let added = names
            .iter()
            .map(|n| (n.to_string(), AttrType::Double))
            .collect();
        Ok((Box::new(Pol2CartFn { args }), added))
    }
}

#[derive(Debug)]
struct Pol2CartFn {
    args: Vec<FnArg>,
}

impl StreamFunction for Pol2CartFn {
    fn apply(&self, ctx: &mut EvalCtx<'_>, out: &mut Vec<Value>) -> bool {
        let theta = self.args[0].expr.eval(ctx).as_f64();
        let rho = self.args[1].expr.eval(ctx).as_f64();
        let (Some(theta), Some(rho)) = (theta, rho) else {
            ctx.fail("pol2Cart needs non-null theta and rho");
            return false;
        };
        let rad = theta.to_radians();
        out.push(Value::Double(rho * rad.cos()));
        out.push(Value::Double(rho * rad.sin()));
        if let Some(z) = self.args.get(2) {
            out.push(z.expr.eval(ctx));
        }
        true
    }
}
