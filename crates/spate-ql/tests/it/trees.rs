//! Random syntax trees (in the shapes the parser produces) and the property that printing and
//! parsing them again gives the same tree.

use libtest_mimic::Trial;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use spate_ql::ast::*;

use crate::exprs::{D, attribute_ref, call, expr, ident, source_kind, string_lit, time_value};

pub fn trials() -> Vec<Trial> {
    vec![
        crate::trial("prop::expressions_round_trip".into(), || {
            run(expr, 1024, |e| round_trip(e, spate_ql::parse_expression))
        }),
        crate::trial("prop::apps_round_trip".into(), || {
            run(app, 256, |a| round_trip(a, parse_app_small_stack))
        }),
        crate::trial("prop::store_queries_round_trip".into(), || {
            run(store_query, 512, |q| {
                round_trip(q, spate_ql::parse_store_query)
            })
        }),
    ]
}

type Parsed<T> = Result<T, Vec<spate_ql::Diagnostic>>;

/// Prints `value`, parses the text with `parse` and compares.
fn round_trip<T>(value: T, parse: fn(&str) -> Parsed<T>) -> Result<(), String>
where
    T: std::fmt::Display + std::fmt::Debug + PartialEq,
{
    let printed = value.to_string();
    let back = parse(&printed).map_err(|d| {
        format!(
            "{printed}\n{}",
            spate_ql::diagnostic::render_all(&d, &printed, "p")
        )
    })?;
    if back == value {
        Ok(())
    } else {
        Err(format!("{printed}\n{back:#?}\n{value:#?}"))
    }
}

/// `parse_app` on a 1 MiB stack: the parser itself must do with little stack.
fn parse_app_small_stack(text: &str) -> Parsed<SiddhiApp> {
    let text = text.to_string();
    let outcome = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || spate_ql::parse_app(&text))
        .map(|handle| handle.join());
    match outcome {
        Ok(Ok(parsed)) => parsed,
        _ => Err(vec![spate_ql::Diagnostic::syntax(
            D,
            "parser thread failed",
        )]),
    }
}

/// Runs a property on a thread with a large stack: proptest's nested strategy and value-tree
/// types for whole apps recurse deeply in debug builds (the parser itself does not).
fn run<T: std::fmt::Debug + 'static, S: Strategy<Value = T> + 'static>(
    strategy: fn() -> S,
    cases: u32,
    check: impl Fn(T) -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let config = Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            };
            TestRunner::new(config)
                .run(&strategy(), |v| check(v).map_err(TestCaseError::fail))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "property test panicked".to_string())?
}

// ---- streams and state elements ----------------------------------------------------------------

fn source() -> impl Strategy<Value = Source> {
    (source_kind(), ident()).prop_map(|(kind, id)| Source { kind, id, span: D })
}

fn handlers(window: bool) -> impl Strategy<Value = Vec<StreamHandler>> {
    let handler = prop_oneof![
        (expr(), any::<bool>()).prop_map(|(condition, hash)| StreamHandler::Filter(Filter {
            condition,
            hash,
            span: D
        })),
        call(expr()).prop_map(StreamHandler::Function),
    ];
    (
        prop::collection::vec(handler, 0..3),
        prop::option::of(call(expr())),
    )
        .prop_map(move |(mut list, w)| {
            if let Some(w) = w.filter(|_| window) {
                list.push(StreamHandler::Window(w));
            }
            list
        })
}

fn stream(window: bool) -> impl Strategy<Value = StandardStream> {
    (source(), handlers(window)).prop_map(|(source, handlers)| StandardStream {
        source,
        handlers,
        span: D,
    })
}

fn stream_state(needs_ref: bool) -> impl Strategy<Value = StreamStateElement> {
    (prop::option::of(ident()), ident(), stream(false)).prop_map(
        move |(event_ref, fallback, stream)| {
            let event_ref = if needs_ref {
                event_ref.or(Some(fallback))
            } else {
                event_ref
            };
            StreamStateElement {
                event_ref,
                stream,
                span: D,
            }
        },
    )
}

fn absent(with_for: bool) -> impl Strategy<Value = StateElement> {
    (stream(false), time_value()).prop_map(move |(stream, t)| {
        StateElement::Absent(AbsentStateElement {
            stream,
            for_time: with_for.then_some(t),
            span: D,
        })
    })
}

fn quantifier(sequence: bool) -> impl Strategy<Value = Quantifier> {
    let collect = (
        prop::option::of(0u32..5),
        prop::option::of(0u32..9),
        any::<bool>(),
    )
        .prop_filter("<:> is not a count", |(min, max, exact)| {
            *exact || min.is_some() || max.is_some()
        })
        .prop_map(|(min, max, exact)| {
            if exact {
                let n = n_or(min, max);
                Quantifier::Collect {
                    min: Some(n),
                    max: Some(n),
                    exact: true,
                }
            } else {
                Quantifier::Collect {
                    min,
                    max,
                    exact: false,
                }
            }
        });
    if sequence {
        prop_oneof![
            collect,
            Just(Quantifier::ZeroOrMore),
            Just(Quantifier::ZeroOrOne),
            Just(Quantifier::OneOrMore)
        ]
        .boxed()
    } else {
        collect.boxed()
    }
}

fn n_or(min: Option<u32>, max: Option<u32>) -> u32 {
    min.or(max).unwrap_or(1)
}

/// One step: a stream (with `e=` when alone), a count, an absence or an `and`/`or` pair.
fn basic_state(sequence: bool, alone: bool) -> BoxedStrategy<StateElement> {
    prop_oneof![
        stream_state(alone).prop_map(StateElement::Stream),
        (stream_state(false), quantifier(sequence)).prop_map(|(element, quantifier)| {
            StateElement::Count {
                element,
                quantifier,
                span: D,
            }
        }),
        absent(true),
        (any::<bool>(), stream_state(false), stream_state(false)).prop_map(|(and, l, r)| {
            StateElement::Logical {
                op: if and { LogicalOp::And } else { LogicalOp::Or },
                left: Box::new(StateElement::Stream(l)),
                right: Box::new(StateElement::Stream(r)),
                span: D,
            }
        }),
        (stream_state(false), absent(false), any::<bool>()).prop_map(|(s, a, swap)| {
            let (l, r) = if swap {
                (a, StateElement::Stream(s))
            } else {
                (StateElement::Stream(s), a)
            };
            StateElement::Logical {
                op: LogicalOp::And,
                left: Box::new(l),
                right: Box::new(r),
                span: D,
            }
        }),
    ]
    .boxed()
}

fn every(inner: StateElement) -> StateElement {
    StateElement::Every {
        element: Box::new(inner),
        span: D,
    }
}

fn pattern() -> impl Strategy<Value = StateInput> {
    let step = prop_oneof![
        basic_state(false, false),
        basic_state(false, false).prop_map(every),
        prop::collection::vec(basic_state(false, false), 2..4)
            .prop_map(|steps| every(StateElement::Next { steps, span: D })),
    ];
    let element = prop_oneof![
        basic_state(false, true),
        basic_state(false, true).prop_map(every),
        prop::collection::vec(step, 2..5).prop_map(|steps| StateElement::Next { steps, span: D }),
    ];
    (element, prop::option::of(time_value())).prop_map(|(element, within)| StateInput {
        element,
        within,
        span: D,
    })
}

fn sequence() -> impl Strategy<Value = StateInput> {
    (
        any::<bool>(),
        prop::collection::vec(basic_state(true, false), 2..5),
        prop::option::of(time_value()),
    )
        .prop_map(|(first_every, mut steps, within)| {
            if first_every {
                steps[0] = every(steps[0].clone());
            }
            StateInput {
                element: StateElement::Next { steps, span: D },
                within,
                span: D,
            }
        })
}

// ---- queries -----------------------------------------------------------------------------------

fn annotation(depth: u32) -> BoxedStrategy<Annotation> {
    let element = (
        prop::option::of(prop::sample::select(
            &["type", "a.b-c:d", "my key", "'q"][..],
        )),
        string_lit(),
    )
        .prop_map(|(key, value)| {
            AnnotationItem::Element(AnnotationElement {
                key: key.map(|k| Ident::new(k, D)),
                value,
                span: D,
            })
        });
    let item = if depth == 0 {
        element.boxed()
    } else {
        prop_oneof![
            element,
            annotation(depth - 1).prop_map(AnnotationItem::Annotation)
        ]
        .boxed()
    };
    (ident(), prop::collection::vec(item, 0..3))
        .prop_map(|(name, items)| Annotation {
            name,
            items,
            span: D,
        })
        .boxed()
}

fn annotations() -> impl Strategy<Value = Vec<Annotation>> {
    prop::collection::vec(annotation(1), 0..2)
}

fn output_attribute() -> impl Strategy<Value = OutputAttribute> {
    prop_oneof![
        attribute_ref().prop_map(|a| OutputAttribute {
            expr: Expr::Attribute(a),
            alias: None,
            span: D
        }),
        (expr(), ident()).prop_map(|(expr, alias)| OutputAttribute {
            expr,
            alias: Some(alias),
            span: D
        }),
    ]
}

fn selector(full: bool) -> impl Strategy<Value = Selector> {
    let order = prop::option::of(prop::sample::select(&[Order::Asc, Order::Desc][..]));
    (
        prop::option::of(prop::collection::vec(output_attribute(), 1..4)),
        prop::collection::vec(attribute_ref(), 0..3),
        prop::option::of(expr()),
        prop::collection::vec((attribute_ref(), order), 0..3),
        prop::option::of(expr()),
        prop::option::of(expr()),
    )
        .prop_map(
            move |(attributes, group_by, having, order_by, limit, offset)| Selector {
                attributes,
                group_by,
                having: having.filter(|_| full),
                order_by: if full {
                    order_by
                        .into_iter()
                        .map(|(attribute, order)| OrderByItem {
                            attribute,
                            order,
                            span: D,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                limit: limit.filter(|_| full),
                offset: offset.filter(|_| full),
                span: D,
            },
        )
}

fn event_type() -> BoxedStrategy<OutputEventType> {
    prop::sample::select(
        &[
            OutputEventType::Current,
            OutputEventType::Expired,
            OutputEventType::All,
        ][..],
    )
    .boxed()
}

fn output_rate() -> impl Strategy<Value = OutputRate> {
    let ty = prop::option::of(prop::sample::select(
        &[
            OutputRateType::All,
            OutputRateType::First,
            OutputRateType::Last,
        ][..],
    ));
    prop_oneof![
        (ty.clone(), 1i64..100).prop_map(|(rate_type, count)| OutputRate::Events {
            rate_type,
            count,
            span: D
        }),
        (ty, time_value()).prop_map(|(rate_type, time)| OutputRate::Time {
            rate_type,
            time,
            span: D
        }),
        time_value().prop_map(|time| OutputRate::Snapshot { time, span: D }),
    ]
}

fn set_clause() -> impl Strategy<Value = Option<Vec<SetAssignment>>> {
    prop::option::of(prop::collection::vec(
        (attribute_ref(), expr()).prop_map(|(attribute, value)| SetAssignment {
            attribute,
            value,
            span: D,
        }),
        1..3,
    ))
}

fn query_output() -> impl Strategy<Value = QueryOutput> {
    let et = prop::option::of(event_type());
    prop_oneof![
        (et.clone(), source()).prop_map(|(event_type, target)| QueryOutput::Insert {
            event_type,
            target,
            span: D
        }),
        (source(), et.clone(), expr()).prop_map(|(target, for_type, on)| QueryOutput::Delete {
            target,
            for_type,
            on,
            span: D
        }),
        (source(), et.clone(), set_clause(), expr()).prop_map(|(target, for_type, set, on)| {
            QueryOutput::Update {
                target,
                for_type,
                set,
                on,
                span: D,
            }
        }),
        (source(), et.clone(), set_clause(), expr()).prop_map(|(target, for_type, set, on)| {
            QueryOutput::UpdateOrInsert {
                target,
                for_type,
                set,
                on,
                span: D,
            }
        }),
        et.prop_map(|event_type| QueryOutput::Return {
            event_type,
            span: D
        }),
    ]
}

fn join_source() -> impl Strategy<Value = JoinSource> {
    (stream(true), prop::option::of(ident())).prop_map(|(stream, alias)| JoinSource {
        stream,
        alias,
        span: D,
    })
}

fn join() -> impl Strategy<Value = JoinInput> {
    let keyword = prop::sample::select(
        &[
            JoinKeyword::Join,
            JoinKeyword::InnerJoin,
            JoinKeyword::OuterJoin,
            JoinKeyword::LeftOuterJoin,
            JoinKeyword::RightOuterJoin,
            JoinKeyword::FullOuterJoin,
        ][..],
    );
    let side = prop::option::of(prop::sample::select(&[JoinSide::Left, JoinSide::Right][..]));
    let within = prop::option::of((expr(), prop::option::of(expr()), expr()));
    (
        join_source(),
        keyword,
        join_source(),
        side,
        prop::option::of(expr()),
        within,
    )
        .prop_map(|(left, keyword, right, unidirectional, on, within)| {
            let (within, per) = within_per(within);
            JoinInput {
                left,
                keyword,
                right,
                unidirectional,
                on,
                within,
                per,
                span: D,
            }
        })
}

type WithinParts = Option<(Expr, Option<Expr>, Expr)>;

/// `within a[, b] per c` comes whole or not at all.
fn within_per(parts: WithinParts) -> (Option<WithinRange>, Option<Expr>) {
    match parts {
        Some((start, end, per)) => (
            Some(WithinRange {
                start,
                end,
                span: D,
            }),
            Some(per),
        ),
        None => (None, None),
    }
}

fn query_input() -> impl Strategy<Value = QueryInput> {
    let anonymous = (
        stream(true),
        prop::option::of(selector(true)),
        prop::option::of(output_rate()),
        prop::option::of(event_type()),
    )
        .prop_map(|(s, selector, output_rate, event_type)| {
            QueryInput::Anonymous(Box::new(AnonymousStream {
                input: QueryInput::Stream(s),
                selector,
                output_rate,
                event_type,
                span: D,
            }))
        });
    prop_oneof![
        stream(true).prop_map(QueryInput::Stream),
        join().prop_map(|j| QueryInput::Join(Box::new(j))),
        pattern().prop_map(QueryInput::Pattern),
        sequence().prop_map(QueryInput::Sequence),
        anonymous,
    ]
}

fn query() -> impl Strategy<Value = Query> {
    (
        annotations(),
        query_input(),
        prop::option::of(selector(true)),
        prop::option::of(output_rate()),
        query_output(),
    )
        .prop_map(
            |(annotations, input, selector, output_rate, output)| Query {
                annotations,
                input,
                selector,
                output_rate,
                output,
                span: D,
            },
        )
}

// ---- definitions and apps ----------------------------------------------------------------------

fn attribute_defs() -> impl Strategy<Value = Vec<AttributeDef>> {
    let ty = prop::sample::select(
        &[
            AttrType::String,
            AttrType::Int,
            AttrType::Long,
            AttrType::Float,
            AttrType::Double,
            AttrType::Bool,
            AttrType::Object,
        ][..],
    );
    prop::collection::vec(
        (ident(), ty).prop_map(|(name, ty)| AttributeDef { name, ty, span: D }),
        1..4,
    )
}

fn duration() -> impl Strategy<Value = Duration> {
    prop::sample::select(
        &[
            Duration::Seconds,
            Duration::Minutes,
            Duration::Hours,
            Duration::Days,
            Duration::Weeks,
            Duration::Months,
            Duration::Years,
        ][..],
    )
}

fn definition() -> impl Strategy<Value = Definition> {
    prop_oneof![
        (annotations(), ident(), attribute_defs()).prop_map(|(annotations, id, attributes)| {
            Definition::Stream(StreamDef {
                annotations,
                id,
                attributes,
                span: D,
            })
        }),
        (annotations(), ident(), attribute_defs()).prop_map(|(annotations, id, attributes)| {
            Definition::Table(TableDef {
                annotations,
                id,
                attributes,
                span: D,
            })
        }),
        (
            annotations(),
            ident(),
            attribute_defs(),
            call(expr()),
            prop::option::of(event_type())
        )
            .prop_map(|(annotations, id, attributes, window, output)| {
                Definition::Window(WindowDef {
                    annotations,
                    id,
                    attributes,
                    window,
                    output,
                    span: D,
                })
            }),
        (
            ident(),
            prop_oneof![
                time_value().prop_map(TriggerAt::Every),
                string_lit().prop_map(TriggerAt::Literal)
            ]
        )
            .prop_map(|(id, at)| Definition::Trigger(TriggerDef { id, at, span: D })),
        (ident(), ident(), "[a-z ;.=\n]{0,12}").prop_map(|(name, language, body)| {
            Definition::Function(FunctionDef {
                name,
                language,
                return_type: AttrType::Int,
                body,
                span: D,
            })
        }),
        (
            annotations(),
            ident(),
            stream(true),
            selector(false),
            prop::option::of(attribute_ref()),
            prop_oneof![
                (duration(), duration()).prop_map(|(a, b)| AggregationTime::Range(a, b)),
                prop::collection::vec(duration(), 1..4).prop_map(AggregationTime::List),
            ]
        )
            .prop_map(|(annotations, id, from, selector, aggregate_by, every)| {
                Definition::Aggregation(AggregationDef {
                    annotations,
                    id,
                    from,
                    selector,
                    aggregate_by,
                    every,
                    span: D,
                })
            }),
    ]
}

fn partition() -> impl Strategy<Value = Partition> {
    let range = (expr(), string_lit()).prop_map(|(condition, label)| PartitionRange {
        condition,
        label,
        span: D,
    });
    let with = prop_oneof![
        (expr(), ident()).prop_map(|(expr, stream)| PartitionWith::Value {
            expr,
            stream,
            span: D
        }),
        (prop::collection::vec(range, 1..3), ident()).prop_map(|(ranges, stream)| {
            PartitionWith::Range {
                ranges,
                stream,
                span: D,
            }
        }),
    ];
    (
        annotations(),
        prop::collection::vec(with, 1..3),
        prop::collection::vec(query(), 1..3),
    )
        .prop_map(|(annotations, with, queries)| Partition {
            annotations,
            with,
            queries,
            span: D,
        })
}

fn app() -> impl Strategy<Value = SiddhiApp> {
    let app_annotation =
        (ident(), prop::collection::vec(annotation(0), 0..1)).prop_map(|(name, _)| Annotation {
            name,
            items: vec![AnnotationItem::Element(AnnotationElement {
                key: None,
                value: StringLit {
                    value: "v".into(),
                    quote: QuoteStyle::Single,
                    span: D,
                },
                span: D,
            })],
            span: D,
        });
    let element = prop_oneof![
        3 => query().prop_map(ExecutionElement::Query),
        1 => partition().prop_map(ExecutionElement::Partition),
    ];
    (
        prop::collection::vec(app_annotation, 0..2),
        prop::collection::vec(definition(), 1..3),
        prop::collection::vec(element, 0..3),
    )
        .prop_map(|(app_annotations, definitions, elements)| SiddhiApp {
            app_annotations,
            definitions,
            elements,
            span: D,
        })
}

fn store_query() -> impl Strategy<Value = StoreQuery> {
    let within = prop::option::of((expr(), prop::option::of(expr()), expr()));
    let input = (
        ident(),
        prop::option::of(ident()),
        prop::option::of(expr()),
        within,
    )
        .prop_map(|(source, alias, on, within)| {
            let (within, per) = within_per(within);
            StoreInput {
                source,
                alias,
                on,
                within,
                per,
                span: D,
            }
        });
    prop_oneof![
        (input, prop::option::of(selector(true))).prop_map(|(input, selector)| StoreQuery {
            input: Some(input),
            selector,
            output: StoreQueryOutput::Find,
            span: D
        }),
        (selector(true), source()).prop_map(|(s, target)| StoreQuery {
            input: None,
            selector: Some(s),
            output: StoreQueryOutput::Insert { target, span: D },
            span: D
        }),
        (selector(true), source(), set_clause(), expr()).prop_map(|(s, target, set, on)| {
            StoreQuery {
                input: None,
                selector: Some(s),
                output: StoreQueryOutput::UpdateOrInsert {
                    target,
                    set,
                    on,
                    span: D,
                },
                span: D,
            }
        }),
        (prop::option::of(selector(true)), source(), expr()).prop_map(|(selector, target, on)| {
            StoreQuery {
                input: None,
                selector,
                output: StoreQueryOutput::Delete {
                    target,
                    on,
                    span: D,
                },
                span: D,
            }
        }),
        (
            prop::option::of(selector(true)),
            source(),
            set_clause(),
            expr()
        )
            .prop_map(|(selector, target, set, on)| {
                StoreQuery {
                    input: None,
                    selector,
                    output: StoreQueryOutput::Update {
                        target,
                        set,
                        on,
                        span: D,
                    },
                    span: D,
                }
            }),
    ]
}
