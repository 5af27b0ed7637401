//! The SiddhiQL syntax tree (Siddhi 5.1.7 core grammar).
//!
//! Every node carries a [`Span`]. Spans are ignored by `PartialEq`, so `parse(print(ast)) == ast`
//! is the round-trip property the printer is tested with. Names keep the case they were written
//! in; keywords are case-insensitive and never stored.

use crate::span::Span;

/// An identifier as written (back-quotes removed).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Ident {
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident {
            name: name.into(),
            span,
        }
    }
}

/// Which quotes a string literal was written with; strings have no escapes in SiddhiQL, so the
/// printer needs the original quote style to reproduce a string holding a quote character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteStyle {
    Single,
    Double,
    Triple,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    pub value: String,
    pub quote: QuoteStyle,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// App and annotations
// ---------------------------------------------------------------------------------------------

/// A whole Siddhi app.
#[derive(Clone, Debug, PartialEq)]
pub struct SiddhiApp {
    /// `@app:name('X')`, `@app:playback`, ... (stored without the `app:` prefix in `name`).
    pub app_annotations: Vec<Annotation>,
    pub definitions: Vec<Definition>,
    pub elements: Vec<ExecutionElement>,
    pub span: Span,
}

/// `@name(key='value', 'value', @nested(...))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    pub name: Ident,
    pub items: Vec<AnnotationItem>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AnnotationItem {
    Element(AnnotationElement),
    Annotation(Annotation),
}

/// `key = 'value'` or a bare `'value'`. Keys may be dotted (`buffer.size`), dashed or colon
/// separated, or a string literal; they are stored as written, joined.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnotationElement {
    pub key: Option<Ident>,
    pub value: StringLit,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per app; boxing would change the contract
pub enum Definition {
    Stream(StreamDef),
    Table(TableDef),
    Window(WindowDef),
    Trigger(TriggerDef),
    Aggregation(AggregationDef),
    Function(FunctionDef),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Int,
    Long,
    Float,
    Double,
    Bool,
    Object,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttributeDef {
    pub name: Ident,
    pub ty: AttrType,
    pub span: Span,
}

/// `define stream S (a string, b int)`.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamDef {
    pub annotations: Vec<Annotation>,
    pub id: Ident,
    pub attributes: Vec<AttributeDef>,
    pub span: Span,
}

/// `define table T (a string, b int)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub annotations: Vec<Annotation>,
    pub id: Ident,
    pub attributes: Vec<AttributeDef>,
    pub span: Span,
}

/// `define window W (a string) length(5) output all events`.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowDef {
    pub annotations: Vec<Annotation>,
    pub id: Ident,
    pub attributes: Vec<AttributeDef>,
    pub window: FunctionCall,
    pub output: Option<OutputEventType>,
    pub span: Span,
}

/// `define trigger T at every 5 sec` / `at 'start'` / `at '*/5 * * * * ?'`.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerDef {
    pub id: Ident,
    pub at: TriggerAt,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerAt {
    Every(TimeValue),
    /// `'start'` or a cron expression.
    Literal(StringLit),
}

/// `define aggregation A from S select ... group by ... aggregate [by ts] every sec ... year`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregationDef {
    pub annotations: Vec<Annotation>,
    pub id: Ident,
    pub from: StandardStream,
    /// Only `select`, `group by` are allowed by the grammar here.
    pub selector: Selector,
    pub aggregate_by: Option<AttributeRef>,
    pub every: AggregationTime,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Duration {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AggregationTime {
    /// `sec ... year`
    Range(Duration, Duration),
    /// `sec, min, hour`
    List(Vec<Duration>),
}

/// `define function f[javascript] return int { ... }` (script body kept verbatim, braces
/// excluded).
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    pub name: Ident,
    pub language: Ident,
    pub return_type: AttrType,
    pub body: String,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Execution elements
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per app; boxing would change the contract
pub enum ExecutionElement {
    Query(Query),
    Partition(Partition),
}

/// `partition with (sym of S, price < 10 as 'low' or price >= 10 as 'high' of T) begin ... end`.
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    pub annotations: Vec<Annotation>,
    pub with: Vec<PartitionWith>,
    pub queries: Vec<Query>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PartitionWith {
    Value {
        expr: Expr,
        stream: Ident,
        span: Span,
    },
    Range {
        ranges: Vec<PartitionRange>,
        stream: Ident,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct PartitionRange {
    pub condition: Expr,
    pub label: StringLit,
    pub span: Span,
}

/// `[@info(...)] from <input> [select ...] [output <rate>] <output>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub annotations: Vec<Annotation>,
    pub input: QueryInput,
    pub selector: Option<Selector>,
    pub output_rate: Option<OutputRate>,
    pub output: QueryOutput,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryInput {
    Stream(StandardStream),
    Join(Box<JoinInput>),
    Pattern(StateInput),
    Sequence(StateInput),
    /// `from (from S ... return) ...`
    Anonymous(Box<AnonymousStream>),
}

/// Whether a source names a plain, inner (`#S`) or fault (`!S`) stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Normal,
    Inner,
    Fault,
}

/// A stream/table/window/aggregation name in `from`, `insert into`, joins and partitions.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub kind: SourceKind,
    pub id: Ident,
    pub span: Span,
}

/// One step after a source: `[cond]` / `#[cond]`, `#fn(...)`, `#window.fn(...)`.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamHandler {
    Filter(Filter),
    Function(FunctionCall),
    Window(FunctionCall),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub condition: Expr,
    /// Written as `#[...]` rather than `[...]`.
    pub hash: bool,
    pub span: Span,
}

/// `S[cond]#fn()#window.w(..)[cond]`: handlers in written order; at most one window.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardStream {
    pub source: Source,
    pub handlers: Vec<StreamHandler>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinType {
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
}

/// How the join keyword was spelled, kept for canonical printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinKeyword {
    /// `join`
    Join,
    /// `inner join`
    InnerJoin,
    /// `outer join` (means full outer)
    OuterJoin,
    LeftOuterJoin,
    RightOuterJoin,
    FullOuterJoin,
}

impl JoinKeyword {
    pub fn join_type(self) -> JoinType {
        match self {
            JoinKeyword::Join | JoinKeyword::InnerJoin => JoinType::Inner,
            JoinKeyword::OuterJoin | JoinKeyword::FullOuterJoin => JoinType::FullOuter,
            JoinKeyword::LeftOuterJoin => JoinType::LeftOuter,
            JoinKeyword::RightOuterJoin => JoinType::RightOuter,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinSide {
    Left,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JoinSource {
    pub stream: StandardStream,
    pub alias: Option<Ident>,
    pub span: Span,
}

/// `from A#window.x() as a [left outer] join B as b [unidirectional] on cond [within .. per ..]`.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinInput {
    pub left: JoinSource,
    pub keyword: JoinKeyword,
    pub right: JoinSource,
    /// `unidirectional` after the left source (Left) or after the right source (Right).
    pub unidirectional: Option<JoinSide>,
    pub on: Option<Expr>,
    pub within: Option<WithinRange>,
    pub per: Option<Expr>,
    pub span: Span,
}

/// `within <start>[, <end>]` of aggregation joins and store queries.
#[derive(Clone, Debug, PartialEq)]
pub struct WithinRange {
    pub start: Expr,
    pub end: Option<Expr>,
    pub span: Span,
}

/// A pattern (`->`) or sequence (`,`) input with its optional `within`.
#[derive(Clone, Debug, PartialEq)]
pub struct StateInput {
    pub element: StateElement,
    pub within: Option<TimeValue>,
    pub span: Span,
}

/// A node of a pattern or sequence.
#[derive(Clone, Debug, PartialEq)]
pub enum StateElement {
    /// `[e1=]S[cond]#fn()`
    Stream(StreamStateElement),
    /// `not S[cond] [for <time>]` (without `for` only inside `and`/`or`).
    Absent(AbsentStateElement),
    /// `a and b` / `a or b`
    Logical {
        op: LogicalOp,
        left: Box<StateElement>,
        right: Box<StateElement>,
        span: Span,
    },
    /// `e1=S<2:5>`, and in sequences `e1=S+`, `S*`, `S?`.
    Count {
        element: StreamStateElement,
        quantifier: Quantifier,
        span: Span,
    },
    /// `a -> b -> c` (pattern) or `a, b, c` (sequence): two or more steps, flattened.
    Next {
        steps: Vec<StateElement>,
        span: Span,
    },
    /// `every a` / `every (a -> b)`
    Every {
        element: Box<StateElement>,
        span: Span,
    },
}

impl StateElement {
    pub fn span(&self) -> Span {
        match self {
            StateElement::Stream(s) => s.span,
            StateElement::Absent(a) => a.span,
            StateElement::Logical { span, .. }
            | StateElement::Count { span, .. }
            | StateElement::Next { span, .. }
            | StateElement::Every { span, .. } => *span,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalOp {
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamStateElement {
    pub event_ref: Option<Ident>,
    /// The source with its filters and stream functions (no window).
    pub stream: StandardStream,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AbsentStateElement {
    pub stream: StandardStream,
    pub for_time: Option<TimeValue>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantifier {
    /// `<n:m>`, `<n:>`, `<:m>`, `<n>` (the last as min == max, `exact` set).
    Collect {
        min: Option<u32>,
        max: Option<u32>,
        exact: bool,
    },
    /// `*`
    ZeroOrMore,
    /// `?`
    ZeroOrOne,
    /// `+`
    OneOrMore,
}

impl Quantifier {
    /// The (min, max) count the quantifier allows; `None` max is unbounded.
    pub fn bounds(self) -> (u32, Option<u32>) {
        match self {
            Quantifier::Collect { min, max, exact } => {
                if exact {
                    (min.unwrap_or(0), min)
                } else {
                    (min.unwrap_or(0), max)
                }
            }
            Quantifier::ZeroOrMore => (0, None),
            Quantifier::ZeroOrOne => (0, Some(1)),
            Quantifier::OneOrMore => (1, None),
        }
    }
}

/// `(from S ... return [events])` used as a query input.
#[derive(Clone, Debug, PartialEq)]
pub struct AnonymousStream {
    pub input: QueryInput,
    pub selector: Option<Selector>,
    pub output_rate: Option<OutputRate>,
    pub event_type: Option<OutputEventType>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Selection and output
// ---------------------------------------------------------------------------------------------

/// `select ... group by ... having ... order by ... limit ... offset ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// `None` for `select *`.
    pub attributes: Option<Vec<OutputAttribute>>,
    pub group_by: Vec<AttributeRef>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderByItem>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
    pub span: Span,
}

/// `expr as name`, or a bare attribute reference (named after the attribute).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputAttribute {
    pub expr: Expr,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderByItem {
    pub attribute: AttributeRef,
    pub order: Option<Order>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputRateType {
    All,
    First,
    Last,
}

/// `output [all|first|last] every (<time> | N events)` / `output snapshot every <time>`.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputRate {
    Events {
        rate_type: Option<OutputRateType>,
        count: i64,
        span: Span,
    },
    Time {
        rate_type: Option<OutputRateType>,
        time: TimeValue,
        span: Span,
    },
    Snapshot {
        time: TimeValue,
        span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputEventType {
    Current,
    Expired,
    All,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetAssignment {
    pub attribute: AttributeRef,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryOutput {
    /// `insert [current|expired|all events] into S`
    Insert {
        event_type: Option<OutputEventType>,
        target: Source,
        span: Span,
    },
    /// `delete T [for ...] on cond`
    Delete {
        target: Source,
        for_type: Option<OutputEventType>,
        on: Expr,
        span: Span,
    },
    /// `update T [for ...] [set ...] on cond`
    Update {
        target: Source,
        for_type: Option<OutputEventType>,
        set: Option<Vec<SetAssignment>>,
        on: Expr,
        span: Span,
    },
    /// `update or insert into T [for ...] [set ...] on cond`
    UpdateOrInsert {
        target: Source,
        for_type: Option<OutputEventType>,
        set: Option<Vec<SetAssignment>>,
        on: Expr,
        span: Span,
    },
    /// `return [events]`
    Return {
        event_type: Option<OutputEventType>,
        span: Span,
    },
}

// ---------------------------------------------------------------------------------------------
// On-demand (store) queries
// ---------------------------------------------------------------------------------------------

/// A query run once against a table, window or aggregation (REST `/stores/query`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoreQuery {
    pub input: Option<StoreInput>,
    pub selector: Option<Selector>,
    pub output: StoreQueryOutput,
    pub span: Span,
}

/// `from T [as t] [on cond] [within .. per ..]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreInput {
    pub source: Ident,
    pub alias: Option<Ident>,
    pub on: Option<Expr>,
    pub within: Option<WithinRange>,
    pub per: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoreQueryOutput {
    /// `from T ... select ...` (find)
    Find,
    /// `select ... insert into T`
    Insert { target: Source, span: Span },
    /// `[select ...] delete T on cond`
    Delete {
        target: Source,
        on: Expr,
        span: Span,
    },
    /// `[select ...] update T [set ...] on cond`
    Update {
        target: Source,
        set: Option<Vec<SetAssignment>>,
        on: Expr,
        span: Span,
    },
    /// `select ... update or insert into T [set ...] on cond`
    UpdateOrInsert {
        target: Source,
        set: Option<Vec<SetAssignment>>,
        on: Expr,
        span: Span,
    },
}

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

/// `5 sec 500 millisec`: the parts as written and their total in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeValue {
    pub parts: Vec<(i64, TimeUnit)>,
    pub millis: i64,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Years,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

impl TimeUnit {
    /// Milliseconds in one unit, as Siddhi counts them (a month is 30 days, a year 365).
    pub fn millis(self) -> i64 {
        match self {
            TimeUnit::Years => 365 * 24 * 3_600_000,
            TimeUnit::Months => 30 * 24 * 3_600_000,
            TimeUnit::Weeks => 7 * 24 * 3_600_000,
            TimeUnit::Days => 24 * 3_600_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Milliseconds => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bool(bool),
    String(StringLit),
    Time(TimeValue),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// Binding strength: higher binds tighter. All binary operators are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => 4,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::And => 1,
            BinaryOp::Or => 0,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

/// `in` binds between equality (3) and `and` (1).
pub const IN_PRECEDENCE: u8 = 2;
/// `not` binds tighter than every binary operator.
pub const NOT_PRECEDENCE: u8 = 7;

/// `[last]`, `[last - 2]` or `[3]` after an event reference in patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventIndex {
    Index(u32),
    Last { minus: u32 },
}

/// The stream, event or alias part of `e1[0].price`, `#Inner.x`, `T.a`.
#[derive(Clone, Debug, PartialEq)]
pub struct Qualifier {
    pub kind: SourceKind,
    pub name: Ident,
    pub index: Option<EventIndex>,
    /// The rare `name1#name2.attr` form (`#name2[index]`).
    pub inner: Option<(Ident, Option<EventIndex>)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttributeRef {
    pub qualifier: Option<Qualifier>,
    pub name: Ident,
    pub span: Span,
}

/// `ns:name(args)` or `name(*)`.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionCall {
    pub namespace: Option<Ident>,
    pub name: Ident,
    pub args: Vec<Expr>,
    /// Written as `name(*)`.
    pub star: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Literal, Span),
    Attribute(AttributeRef),
    Call(FunctionCall),
    Not(Box<Expr>, Span),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        span: Span,
    },
    /// `expr in Table`
    In {
        expr: Box<Expr>,
        table: Ident,
        span: Span,
    },
    /// `attr is null` / `f(x) is null`. A bare `x is null` is parsed as an attribute; the
    /// planner reads it as a stream/event null check when `x` names an event reference.
    IsNull(Box<Expr>, Span),
    /// `e1 is null`, `#S is null`, `e1[0] is null` (stream or event reference)
    IsNullStream {
        kind: SourceKind,
        name: Ident,
        index: Option<EventIndex>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Literal(_, span)
            | Expr::Not(_, span)
            | Expr::Binary { span, .. }
            | Expr::In { span, .. }
            | Expr::IsNull(_, span)
            | Expr::IsNullStream { span, .. } => *span,
            Expr::Attribute(a) => a.span,
            Expr::Call(c) => c.span,
        }
    }
}
