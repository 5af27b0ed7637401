//! The canonical SiddhiQL printer (`impl Display` for the syntax tree).
//!
//! Output uses lower-case keywords, one app element per line ending in `;`, 4-space indented
//! queries inside partitions and the fewest parentheses the operator precedences need. It always
//! parses back to an equal tree: names that are reserved or not plain identifiers are
//! back-quoted, strings keep their quotes, and numbers are printed in a form that lexes as the
//! same literal type.

use std::fmt::{self, Display, Formatter};

use crate::ast::*;
use crate::lexer::Kw;

mod expr;

/// Words that may be names in the grammar but would be read as something else where a name
/// can appear first (a literal, `not`, `every`, an anonymous stream's `from`), so they are
/// always back-quoted.
const AMBIGUOUS: [&str; 6] = ["true", "false", "not", "every", "from", "null"];

/// Whether `name` must be back-quoted to read back as the same name.
pub fn needs_quotes(name: &str) -> bool {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return true;
    }
    match Kw::from_word(name) {
        Some(kw) => !kw.is_name() || AMBIGUOUS.iter().any(|w| w.eq_ignore_ascii_case(name)),
        None => false,
    }
}

/// A name, back-quoted when needed.
struct Name<'a>(&'a str);

impl Display for Name<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if needs_quotes(self.0) {
            write!(f, "`{}`", self.0)
        } else {
            f.write_str(self.0)
        }
    }
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        Name(&self.name).fmt(f)
    }
}

impl Display for StringLit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let q = match self.quote {
            QuoteStyle::Single => "'",
            QuoteStyle::Double => "\"",
            QuoteStyle::Triple => "\"\"\"",
        };
        write!(f, "{q}{}{q}", self.value)
    }
}

/// Writes `items` separated by `sep`.
fn list<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// Writes each annotation followed by a space.
fn annotations(f: &mut Formatter<'_>, list: &[Annotation]) -> fmt::Result {
    list.iter().try_for_each(|a| write!(f, "{a} "))
}

// ---- app ---------------------------------------------------------------------------------------

impl Display for SiddhiApp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for a in &self.app_annotations {
            write!(f, "@app:{}", a.name)?;
            items(f, &a.items)?;
            f.write_str("\n")?;
        }
        for d in &self.definitions {
            writeln!(f, "{d};")?;
        }
        for e in &self.elements {
            writeln!(f, "{e};")?;
        }
        Ok(())
    }
}

impl Display for ExecutionElement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ExecutionElement::Query(q) => q.fmt(f),
            ExecutionElement::Partition(p) => p.fmt(f),
        }
    }
}

impl Display for Annotation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.name)?;
        items(f, &self.items)
    }
}

fn items(f: &mut Formatter<'_>, items: &[AnnotationItem]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    f.write_str("(")?;
    list(f, items, ", ")?;
    f.write_str(")")
}

impl Display for AnnotationItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AnnotationItem::Element(e) => e.fmt(f),
            AnnotationItem::Annotation(a) => a.fmt(f),
        }
    }
}

impl Display for AnnotationElement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            let plain = key
                .name
                .split(['.', '-', ':'])
                .all(|part| !needs_quotes(part));
            if plain {
                f.write_str(&key.name)?;
            } else {
                let quote = if key.name.contains(['\'', '"']) || key.name.contains(char::is_control)
                {
                    if key.name.contains('"') || key.name.contains(char::is_control) {
                        QuoteStyle::Triple
                    } else {
                        QuoteStyle::Double
                    }
                } else {
                    QuoteStyle::Single
                };
                let lit = StringLit {
                    value: key.name.clone(),
                    quote,
                    span: key.span,
                };
                lit.fmt(f)?;
            }
            f.write_str("=")?;
        }
        self.value.fmt(f)
    }
}

// ---- definitions -------------------------------------------------------------------------------

impl Display for Definition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Definition::Stream(d) => {
                annotations(f, &d.annotations)?;
                write!(f, "define stream {} ", d.id)?;
                attribute_defs(f, &d.attributes)
            }
            Definition::Table(d) => {
                annotations(f, &d.annotations)?;
                write!(f, "define table {} ", d.id)?;
                attribute_defs(f, &d.attributes)
            }
            Definition::Window(d) => {
                annotations(f, &d.annotations)?;
                write!(f, "define window {} ", d.id)?;
                attribute_defs(f, &d.attributes)?;
                write!(f, " {}", d.window)?;
                match d.output {
                    Some(ty) => write!(f, " output {}", event_type(ty)),
                    None => Ok(()),
                }
            }
            Definition::Trigger(d) => write!(f, "define trigger {} at {}", d.id, d.at),
            Definition::Function(d) => write!(
                f,
                "define function {}[{}] return {} {{{}}}",
                d.name, d.language, d.return_type, d.body
            ),
            Definition::Aggregation(d) => {
                annotations(f, &d.annotations)?;
                write!(
                    f,
                    "define aggregation {} from {} {} aggregate",
                    d.id, d.from, d.selector
                )?;
                if let Some(by) = &d.aggregate_by {
                    write!(f, " by {by}")?;
                }
                write!(f, " every {}", d.every)
            }
        }
    }
}

impl Display for TriggerAt {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TriggerAt::Every(t) => write!(f, "every {t}"),
            TriggerAt::Literal(s) => s.fmt(f),
        }
    }
}

impl Display for AggregationTime {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AggregationTime::Range(a, b) => write!(f, "{a} ... {b}"),
            AggregationTime::List(l) => list(f, l, ", "),
        }
    }
}

fn attribute_defs(f: &mut Formatter<'_>, attrs: &[AttributeDef]) -> fmt::Result {
    f.write_str("(")?;
    list(f, attrs, ", ")?;
    f.write_str(")")
}

impl Display for AttributeDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.ty)
    }
}

impl Display for AttrType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttrType::String => "string",
            AttrType::Int => "int",
            AttrType::Long => "long",
            AttrType::Float => "float",
            AttrType::Double => "double",
            AttrType::Bool => "bool",
            AttrType::Object => "object",
        })
    }
}

impl Display for Duration {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Duration::Seconds => "sec",
            Duration::Minutes => "min",
            Duration::Hours => "hour",
            Duration::Days => "day",
            Duration::Weeks => "week",
            Duration::Months => "month",
            Duration::Years => "year",
        })
    }
}

fn event_type(ty: OutputEventType) -> &'static str {
    match ty {
        OutputEventType::Current => "current events",
        OutputEventType::Expired => "expired events",
        OutputEventType::All => "all events",
    }
}

// ---- execution elements ------------------------------------------------------------------------

impl Display for Partition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        annotations(f, &self.annotations)?;
        f.write_str("partition with (")?;
        list(f, &self.with, ", ")?;
        f.write_str(") begin\n")?;
        for q in &self.queries {
            writeln!(f, "    {q};")?;
        }
        f.write_str("end")
    }
}

impl Display for PartitionWith {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PartitionWith::Value { expr, stream, .. } => write!(f, "{expr} of {stream}"),
            PartitionWith::Range { ranges, stream, .. } => {
                list(f, ranges, " or ")?;
                write!(f, " of {stream}")
            }
        }
    }
}

impl Display for PartitionRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.condition, self.label)
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        annotations(f, &self.annotations)?;
        write!(f, "from {}", self.input)?;
        if let Some(s) = &self.selector {
            write!(f, " {s}")?;
        }
        if let Some(r) = &self.output_rate {
            write!(f, " {r}")?;
        }
        write!(f, " {}", self.output)
    }
}

impl Display for QueryInput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            QueryInput::Stream(s) => s.fmt(f),
            QueryInput::Join(j) => j.fmt(f),
            QueryInput::Pattern(p) => state_input(f, p, " -> "),
            QueryInput::Sequence(s) => state_input(f, s, ", "),
            QueryInput::Anonymous(a) => a.fmt(f),
        }
    }
}

impl Display for AnonymousStream {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "(from {}", self.input)?;
        if let Some(s) = &self.selector {
            write!(f, " {s}")?;
        }
        if let Some(r) = &self.output_rate {
            write!(f, " {r}")?;
        }
        f.write_str(" return")?;
        if let Some(ty) = self.event_type {
            write!(f, " {}", event_type(ty))?;
        }
        f.write_str(")")
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", kind_prefix(self.kind), self.id)
    }
}

fn kind_prefix(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Normal => "",
        SourceKind::Inner => "#",
        SourceKind::Fault => "!",
    }
}

impl Display for StandardStream {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)?;
        self.handlers.iter().try_for_each(|h| h.fmt(f))
    }
}

impl Display for StreamHandler {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            StreamHandler::Filter(filter) => filter.fmt(f),
            StreamHandler::Function(call) => write!(f, "#{call}"),
            StreamHandler::Window(call) => write!(f, "#window.{call}"),
        }
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]",
            if self.hash { "#" } else { "" },
            self.condition
        )
    }
}

impl Display for JoinInput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.left.fmt(f)?;
        if self.unidirectional == Some(JoinSide::Left) {
            f.write_str(" unidirectional")?;
        }
        write!(f, " {} {}", self.keyword, self.right)?;
        if self.unidirectional == Some(JoinSide::Right) {
            f.write_str(" unidirectional")?;
        }
        if let Some(on) = &self.on {
            write!(f, " on {on}")?;
        }
        within_per(f, self.within.as_ref(), self.per.as_ref())
    }
}

fn within_per(
    f: &mut Formatter<'_>,
    within: Option<&WithinRange>,
    per: Option<&Expr>,
) -> fmt::Result {
    if let Some(w) = within {
        write!(f, " {w}")?;
    }
    match per {
        Some(per) => write!(f, " per {per}"),
        None => Ok(()),
    }
}

impl Display for WithinRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "within {}", self.start)?;
        match &self.end {
            Some(end) => write!(f, ", {end}"),
            None => Ok(()),
        }
    }
}

impl Display for JoinSource {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.stream.fmt(f)?;
        match &self.alias {
            Some(alias) => write!(f, " as {alias}"),
            None => Ok(()),
        }
    }
}

impl Display for JoinKeyword {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinKeyword::Join => "join",
            JoinKeyword::InnerJoin => "inner join",
            JoinKeyword::OuterJoin => "outer join",
            JoinKeyword::LeftOuterJoin => "left outer join",
            JoinKeyword::RightOuterJoin => "right outer join",
            JoinKeyword::FullOuterJoin => "full outer join",
        })
    }
}

// ---- patterns and sequences --------------------------------------------------------------------

fn state_input(f: &mut Formatter<'_>, input: &StateInput, sep: &str) -> fmt::Result {
    state(f, &input.element, sep)?;
    match &input.within {
        Some(t) => write!(f, " within {t}"),
        None => Ok(()),
    }
}

/// Writes a state element; `sep` joins the steps of a `Next` (` -> ` or `, `).
fn state(f: &mut Formatter<'_>, element: &StateElement, sep: &str) -> fmt::Result {
    match element {
        StateElement::Stream(s) => s.fmt(f),
        StateElement::Absent(a) => a.fmt(f),
        StateElement::Logical {
            op, left, right, ..
        } => {
            state(f, left, sep)?;
            f.write_str(if *op == LogicalOp::And {
                " and "
            } else {
                " or "
            })?;
            state(f, right, sep)
        }
        StateElement::Count {
            element,
            quantifier,
            ..
        } => write!(f, "{element}{quantifier}"),
        StateElement::Next { steps, .. } => {
            for (i, step) in steps.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                // A step that is itself a chain only arises in hand-built trees; keep it whole.
                if matches!(step, StateElement::Next { .. }) {
                    f.write_str("(")?;
                    state(f, step, sep)?;
                    f.write_str(")")?;
                } else {
                    state(f, step, sep)?;
                }
            }
            Ok(())
        }
        StateElement::Every { element, .. } => {
            f.write_str("every ")?;
            if matches!(
                **element,
                StateElement::Next { .. } | StateElement::Every { .. }
            ) {
                f.write_str("(")?;
                state(f, element, sep)?;
                f.write_str(")")
            } else {
                state(f, element, sep)
            }
        }
    }
}

/// Printed as a pattern (steps joined by `->`); [`QueryInput::Sequence`] prints `,`.
impl Display for StateInput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        state_input(f, self, " -> ")
    }
}

impl Display for StateElement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        state(f, self, " -> ")
    }
}

impl Display for AbsentStateElement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "not {}", self.stream)?;
        match &self.for_time {
            Some(t) => write!(f, " for {t}"),
            None => Ok(()),
        }
    }
}

impl Display for StreamStateElement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.event_ref {
            write!(f, "{e}=")?;
        }
        self.stream.fmt(f)
    }
}

impl Display for Quantifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Quantifier::Collect {
                min, exact: true, ..
            } => write!(f, "<{}>", min.unwrap_or(0)),
            Quantifier::Collect { min, max, .. } => {
                f.write_str("<")?;
                if let Some(min) = min {
                    write!(f, "{min}")?;
                }
                f.write_str(":")?;
                if let Some(max) = max {
                    write!(f, "{max}")?;
                }
                f.write_str(">")
            }
            Quantifier::ZeroOrMore => f.write_str("*"),
            Quantifier::ZeroOrOne => f.write_str("?"),
            Quantifier::OneOrMore => f.write_str("+"),
        }
    }
}

// ---- selection and output ----------------------------------------------------------------------

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("select ")?;
        match &self.attributes {
            None => f.write_str("*")?,
            Some(attrs) => list(f, attrs, ", ")?,
        }
        if !self.group_by.is_empty() {
            f.write_str(" group by ")?;
            list(f, &self.group_by, ", ")?;
        }
        if let Some(h) = &self.having {
            write!(f, " having {h}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" order by ")?;
            list(f, &self.order_by, ", ")?;
        }
        if let Some(l) = &self.limit {
            write!(f, " limit {l}")?;
        }
        if let Some(o) = &self.offset {
            write!(f, " offset {o}")?;
        }
        Ok(())
    }
}

impl Display for OutputAttribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        match &self.alias {
            Some(alias) => write!(f, " as {alias}"),
            None => Ok(()),
        }
    }
}

impl Display for OrderByItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.attribute.fmt(f)?;
        match self.order {
            Some(Order::Asc) => f.write_str(" asc"),
            Some(Order::Desc) => f.write_str(" desc"),
            None => Ok(()),
        }
    }
}

impl Display for OutputRate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let rate = |f: &mut Formatter<'_>, ty: &Option<OutputRateType>| match ty {
            Some(OutputRateType::All) => f.write_str("output all every "),
            Some(OutputRateType::First) => f.write_str("output first every "),
            Some(OutputRateType::Last) => f.write_str("output last every "),
            None => f.write_str("output every "),
        };
        match self {
            OutputRate::Events {
                rate_type, count, ..
            } => {
                rate(f, rate_type)?;
                write!(f, "{count} events")
            }
            OutputRate::Time {
                rate_type, time, ..
            } => {
                rate(f, rate_type)?;
                time.fmt(f)
            }
            OutputRate::Snapshot { time, .. } => write!(f, "output snapshot every {time}"),
        }
    }
}

impl Display for OutputEventType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(event_type(*self))
    }
}

impl Display for SetAssignment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.attribute, self.value)
    }
}

/// ` for <type> events`, ` set ...` and ` on <cond>` of table outputs.
fn table_tail(
    f: &mut Formatter<'_>,
    for_type: Option<OutputEventType>,
    set: Option<&Vec<SetAssignment>>,
    on: &Expr,
) -> fmt::Result {
    if let Some(ty) = for_type {
        write!(f, " for {}", event_type(ty))?;
    }
    if let Some(set) = set {
        f.write_str(" set ")?;
        list(f, set, ", ")?;
    }
    write!(f, " on {on}")
}

impl Display for QueryOutput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            QueryOutput::Insert {
                event_type: ty,
                target,
                ..
            } => match ty {
                Some(ty) => write!(f, "insert {} into {target}", event_type(*ty)),
                None => write!(f, "insert into {target}"),
            },
            QueryOutput::Delete {
                target,
                for_type,
                on,
                ..
            } => {
                write!(f, "delete {target}")?;
                table_tail(f, *for_type, None, on)
            }
            QueryOutput::Update {
                target,
                for_type,
                set,
                on,
                ..
            } => {
                write!(f, "update {target}")?;
                table_tail(f, *for_type, set.as_ref(), on)
            }
            QueryOutput::UpdateOrInsert {
                target,
                for_type,
                set,
                on,
                ..
            } => {
                write!(f, "update or insert into {target}")?;
                table_tail(f, *for_type, set.as_ref(), on)
            }
            QueryOutput::Return { event_type: ty, .. } => match ty {
                Some(ty) => write!(f, "return {}", event_type(*ty)),
                None => f.write_str("return"),
            },
        }
    }
}

impl Display for StoreQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(input) = &self.input {
            parts.push(input.to_string());
        }
        if let Some(s) = &self.selector {
            parts.push(s.to_string());
        }
        if self.output != StoreQueryOutput::Find {
            parts.push(self.output.to_string());
        }
        f.write_str(&parts.join(" "))
    }
}

/// Prints nothing for `Find` (the query is all input and selection).
impl Display for StoreQueryOutput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            StoreQueryOutput::Find => Ok(()),
            StoreQueryOutput::Insert { target, .. } => write!(f, "insert into {target}"),
            StoreQueryOutput::Delete { target, on, .. } => write!(f, "delete {target} on {on}"),
            StoreQueryOutput::Update {
                target, set, on, ..
            } => {
                write!(f, "update {target}")?;
                table_tail(f, None, set.as_ref(), on)
            }
            StoreQueryOutput::UpdateOrInsert {
                target, set, on, ..
            } => {
                write!(f, "update or insert into {target}")?;
                table_tail(f, None, set.as_ref(), on)
            }
        }
    }
}

impl Display for StoreInput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "from {}", self.source)?;
        if let Some(alias) = &self.alias {
            write!(f, " as {alias}")?;
        }
        if let Some(on) = &self.on {
            write!(f, " on {on}")?;
        }
        within_per(f, self.within.as_ref(), self.per.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_app;

    #[test]
    fn app_layout() {
        let app = parse_app(
            "@app:name('A') define stream S (a int);\
             partition with (a of S) begin from S select a insert into O; end",
        )
        .unwrap();
        assert_eq!(
            app.to_string(),
            "@app:name('A')\ndefine stream S (a int);\n\
             partition with (a of S) begin\n    from S select a insert into O;\nend;\n"
        );
    }
}
