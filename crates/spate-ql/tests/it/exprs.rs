//! Random names, literals and expressions in the shapes the parser produces.

use proptest::prelude::*;
use spate_ql::ast::*;
use spate_ql::span::Span;

/// Spans do not take part in equality; generated trees use this one.
pub const D: Span = Span::DUMMY;

// ---- names and literals ------------------------------------------------------------------------

/// Plain names, keyword names, reserved words and names needing back-quotes.
pub fn ident() -> impl Strategy<Value = Ident> {
    prop::sample::select(
        &[
            "a", "b", "price", "e1", "S", "_x1", "min", "count", "window", "order", "last",
            "string", "select", "events", "set", "in", "true", "not", "every", "from", "my name",
            "9lives",
        ][..],
    )
    .prop_map(|n| Ident::new(n, D))
}

pub fn string_lit() -> impl Strategy<Value = StringLit> {
    prop_oneof![
        "[a-z0-9 .,\"]{0,8}".prop_map(|v| StringLit {
            value: v.replace('"', "x"),
            quote: QuoteStyle::Single,
            span: D
        }),
        "[a-z0-9 ']{0,8}".prop_map(|v| StringLit {
            value: v,
            quote: QuoteStyle::Double,
            span: D
        }),
        "[a-z0-9 '\n]{0,8}".prop_map(|v| StringLit {
            value: v,
            quote: QuoteStyle::Triple,
            span: D
        }),
    ]
}

pub fn time_value() -> impl Strategy<Value = TimeValue> {
    let units = [
        TimeUnit::Years,
        TimeUnit::Months,
        TimeUnit::Weeks,
        TimeUnit::Days,
        TimeUnit::Hours,
        TimeUnit::Minutes,
        TimeUnit::Seconds,
        TimeUnit::Milliseconds,
    ];
    (
        prop::collection::vec(any::<bool>(), 8),
        prop::collection::vec(0i64..1000, 8),
        0usize..8,
    )
        .prop_map(move |(pick, values, forced)| {
            let parts: Vec<(i64, TimeUnit)> = (0..8)
                .filter(|&i| pick[i] || i == forced)
                .map(|i| (values[i], units[i]))
                .collect();
            let millis = parts.iter().map(|(v, u)| v * u.millis()).sum();
            TimeValue {
                parts,
                millis,
                span: D,
            }
        })
}

pub fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i32>().prop_map(Literal::Int),
        any::<i64>().prop_map(Literal::Long),
        any::<f32>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Literal::Float),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Literal::Double),
        any::<bool>().prop_map(Literal::Bool),
        string_lit().prop_map(Literal::String),
        time_value().prop_map(Literal::Time),
    ]
}

pub fn event_index() -> impl Strategy<Value = EventIndex> {
    prop_oneof![
        (0u32..5).prop_map(EventIndex::Index),
        (0u32..3).prop_map(|m| EventIndex::Last { minus: m })
    ]
}

pub fn source_kind() -> impl Strategy<Value = SourceKind> {
    prop::sample::select(&[SourceKind::Normal, SourceKind::Inner, SourceKind::Fault][..])
}

pub fn attribute_ref() -> impl Strategy<Value = AttributeRef> {
    let qualifier = (
        source_kind(),
        ident(),
        prop::option::of(event_index()),
        prop::option::weighted(0.1, (ident(), prop::option::of(event_index()))),
    )
        .prop_map(|(kind, name, index, inner)| Qualifier {
            kind,
            name,
            index,
            inner,
            span: D,
        });
    (prop::option::of(qualifier), ident()).prop_map(|(qualifier, name)| AttributeRef {
        qualifier,
        name,
        span: D,
    })
}

pub fn call(arg: BoxedStrategy<Expr>) -> impl Strategy<Value = FunctionCall> {
    (
        prop::option::of(ident()),
        ident(),
        prop::collection::vec(arg, 0..3),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(namespace, name, args, star)| FunctionCall {
            namespace,
            name,
            args: if star { Vec::new() } else { args },
            star,
            span: D,
        })
}

// ---- expressions -------------------------------------------------------------------------------

pub fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        literal().prop_map(|l| Expr::Literal(l, D)),
        attribute_ref().prop_map(Expr::Attribute),
        attribute_ref().prop_map(|a| Expr::IsNull(Box::new(Expr::Attribute(a)), D)),
        (source_kind(), ident(), prop::option::of(event_index()))
            .prop_filter("a bare name is an attribute null check", |(k, _, i)| {
                *k != SourceKind::Normal || i.is_some()
            })
            .prop_map(|(kind, name, index)| Expr::IsNullStream {
                kind,
                name,
                index,
                span: D
            }),
    ]
}

const OPS: [BinaryOp; 13] = [
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::And,
    BinaryOp::Or,
];

pub fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Not(Box::new(e), D)),
                (prop::sample::select(&OPS[..]), inner.clone(), inner.clone()).prop_map(
                    |(op, l, r)| Expr::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                        span: D
                    }
                ),
                (inner.clone(), ident()).prop_map(|(e, table)| Expr::In {
                    expr: Box::new(e),
                    table,
                    span: D
                }),
                call(inner.clone()).prop_map(Expr::Call),
                call(inner).prop_map(|c| Expr::IsNull(Box::new(Expr::Call(c)), D)),
            ]
        })
        .boxed()
}
