//! Printing of expressions: the fewest parentheses the precedences need, literals in a form
//! that lexes back as the same type and value.

use std::fmt::{self, Display, Formatter};

use super::{kind_prefix, list};
use crate::ast::*;

/// Binding strength of an expression's top operator; operands are 8 (never parenthesised).
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Binary { op, .. } => op.precedence(),
        Expr::In { .. } => IN_PRECEDENCE,
        Expr::Not(..) => NOT_PRECEDENCE,
        _ => NOT_PRECEDENCE + 1,
    }
}

/// Writes `expr`, parenthesised if it binds less tightly than `min`.
fn operand(f: &mut Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        expr.fmt(f)
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(lit, _) => lit.fmt(f),
            Expr::Attribute(a) => a.fmt(f),
            Expr::Call(c) => c.fmt(f),
            Expr::Not(inner, _) => {
                f.write_str("not ")?;
                operand(f, inner, NOT_PRECEDENCE)
            }
            Expr::Binary {
                op, left, right, ..
            } => {
                let p = op.precedence();
                operand(f, left, p)?;
                write!(f, " {} ", op.symbol())?;
                // Left-associative: an equal-precedence right operand needs parentheses.
                operand(f, right, p + 1)
            }
            Expr::In { expr, table, .. } => {
                operand(f, expr, IN_PRECEDENCE)?;
                write!(f, " in {table}")
            }
            Expr::IsNull(inner, _) => {
                operand(f, inner, NOT_PRECEDENCE + 1)?;
                f.write_str(" is null")
            }
            Expr::IsNullStream {
                kind, name, index, ..
            } => {
                write!(f, "{}{name}", kind_prefix(*kind))?;
                if let Some(i) = index {
                    write!(f, "[{i}]")?;
                }
                f.write_str(" is null")
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(v) => write!(f, "{v}"),
            Literal::Long(v) => write!(f, "{v}L"),
            // `{:?}` is the shortest text that reads back as the same value and always has a
            // `.` or an exponent, so a double never reads back as an int.
            Literal::Float(v) if v.is_infinite() => write!(f, "{}1e999f", sign(*v < 0.0)),
            Literal::Float(v) => write!(f, "{v:?}f"),
            Literal::Double(v) if v.is_infinite() => write!(f, "{}1e999", sign(*v < 0.0)),
            Literal::Double(v) => write!(f, "{v:?}"),
            Literal::Bool(v) => write!(f, "{v}"),
            Literal::String(s) => s.fmt(f),
            Literal::Time(t) => t.fmt(f),
        }
    }
}

fn sign(negative: bool) -> &'static str {
    if negative { "-" } else { "" }
}

impl Display for TimeValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, (value, unit)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{value} {unit}")?;
        }
        Ok(())
    }
}

impl Display for TimeUnit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeUnit::Years => "year",
            TimeUnit::Months => "month",
            TimeUnit::Weeks => "week",
            TimeUnit::Days => "day",
            TimeUnit::Hours => "hour",
            TimeUnit::Minutes => "min",
            TimeUnit::Seconds => "sec",
            TimeUnit::Milliseconds => "millisec",
        })
    }
}

impl Display for EventIndex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            EventIndex::Index(i) => write!(f, "{i}"),
            EventIndex::Last { minus: 0 } => f.write_str("last"),
            EventIndex::Last { minus } => write!(f, "last - {minus}"),
        }
    }
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", kind_prefix(self.kind), self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        if let Some((name, index)) = &self.inner {
            write!(f, "#{name}")?;
            if let Some(i) = index {
                write!(f, "[{i}]")?;
            }
        }
        Ok(())
    }
}

impl Display for AttributeRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(q) = &self.qualifier {
            write!(f, "{q}.")?;
        }
        self.name.fmt(f)
    }
}

impl Display for FunctionCall {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}:")?;
        }
        write!(f, "{}(", self.name)?;
        if self.star {
            f.write_str("*")?;
        } else {
            list(f, &self.args, ", ")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use crate::display::needs_quotes;
    use crate::parse_expression;

    fn canon(text: &str) -> String {
        parse_expression(text)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .to_string()
    }

    #[test]
    fn minimal_parentheses() {
        assert_eq!(canon("((a + b)) * c"), "(a + b) * c");
        assert_eq!(canon("a + (b * c)"), "a + b * c");
        assert_eq!(canon("a - (b + c)"), "a - (b + c)");
        assert_eq!(canon("not (not a)"), "not not a");
        assert_eq!(canon("not (a in T)"), "not (a in T)");
        assert_eq!(canon("(a or b) and c"), "(a or b) and c");
        assert_eq!(canon("(a and b) in T"), "(a and b) in T");
        assert_eq!(canon("a - -5"), "a - -5");
    }

    #[test]
    fn literals_keep_their_type() {
        assert_eq!(canon("1.0"), "1.0");
        assert_eq!(canon("1.5F"), "1.5f");
        assert_eq!(canon("2l"), "2L");
        assert_eq!(canon("1e300"), "1e300");
        assert_eq!(canon("1d"), "1.0");
        assert_eq!(canon("1e999"), "1e999");
        assert_eq!(canon("\"it's\""), "\"it's\"");
        assert_eq!(canon("1 hours 30 minutes"), "1 hour 30 min");
        assert_eq!(canon("e1[last-1].a"), "e1[last - 1].a");
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert!(needs_quotes("set"));
        assert!(needs_quotes("my name"));
        assert!(needs_quotes("true"));
        assert!(!needs_quotes("min"));
        assert!(!needs_quotes("window"));
        assert_eq!(canon("`set` + `a b` + min"), "`set` + `a b` + min");
    }
}
