//! Robustness: random text and random token soups must give `Ok` or `Err`, never a panic; and
//! whatever parses must round-trip through the printer.

use libtest_mimic::Trial;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Words and symbols that SiddhiQL apps are made of, so soups reach deep into the grammar.
const TOKENS: &[&str] = &[
    "define",
    "stream",
    "table",
    "window",
    "trigger",
    "function",
    "aggregation",
    "aggregate",
    "from",
    "select",
    "insert",
    "into",
    "delete",
    "update",
    "or",
    "and",
    "not",
    "set",
    "on",
    "partition",
    "with",
    "begin",
    "end",
    "every",
    "within",
    "per",
    "output",
    "snapshot",
    "all",
    "first",
    "last",
    "events",
    "current",
    "expired",
    "return",
    "as",
    "join",
    "left",
    "outer",
    "unidirectional",
    "group",
    "by",
    "order",
    "having",
    "limit",
    "offset",
    "is",
    "null",
    "in",
    "of",
    "for",
    "at",
    "sec",
    "min",
    "hour",
    "millisec",
    "int",
    "string",
    "double",
    "true",
    "S",
    "T",
    "e1",
    "e2",
    "a",
    "b",
    "f",
    "ns",
    "`q x`",
    "1",
    "2",
    "2147483648",
    "5L",
    "1.5",
    "2f",
    ".5",
    "1e3",
    "'s'",
    "\"d\"",
    "\"\"\"t\"\"\"",
    "{ x }",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "...",
    "=",
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "?",
    "@",
    "@app:",
    "->",
    "#",
    "!",
    "#window.",
    "--c\n",
    "/*",
    "*/",
];

pub fn trials() -> Vec<Trial> {
    vec![
        crate::trial("prop::random_text_never_panics".into(), || {
            run(
                prop::collection::vec(any::<char>(), 0..200).prop_map(String::from_iter),
                512,
            )
        }),
        crate::trial("prop::siddhi_like_text_never_panics".into(), || {
            let chars = "[a-zA-Z0-9_ ;:,.()\\[\\]{}<>=!#@'\"`*+/%?\\-\n]{0,300}";
            run(chars, 512)
        }),
        crate::trial("prop::token_soups_never_panic".into(), || {
            let soup = prop::collection::vec(prop::sample::select(TOKENS), 0..80)
                .prop_map(|tokens| tokens.join(" "));
            run(soup, 1024)
        }),
        crate::trial("prop::app_prefix_soups_never_panic".into(), || {
            let soup =
                prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|tokens| {
                    format!(
                        "define stream S (a int, b string); from S {}",
                        tokens.join(" ")
                    )
                });
            run(soup, 1024)
        }),
    ]
}

/// Feeds every entry point; a parsed app must also round-trip.
fn run(strategy: impl Strategy<Value = String>, cases: u32) -> Result<(), String> {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&strategy, |text| {
            if spate_ql::parse_app(&text).is_ok() {
                crate::verified_app(&text).map_err(TestCaseError::fail)?;
            }
            let _store = spate_ql::parse_store_query(&text);
            let _expr = spate_ql::parse_expression(&text);
            Ok(())
        })
        .map_err(|e| e.to_string())
}
