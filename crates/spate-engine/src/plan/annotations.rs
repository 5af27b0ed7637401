//! Reading annotations: `@info(name='q')`, `@app:name('X')`, `@primaryKey('a')`, ...
//! Annotation names and keys are matched case-insensitively, as Siddhi does.

use spate_ql::ast::{Annotation, AnnotationItem};

/// The first annotation called `name`.
pub fn find<'a>(annotations: &'a [Annotation], name: &str) -> Option<&'a Annotation> {
    annotations
        .iter()
        .find(|a| a.name.name.eq_ignore_ascii_case(name))
}

/// Every annotation called `name`.
pub fn find_all<'a>(
    annotations: &'a [Annotation],
    name: &'a str,
) -> impl Iterator<Item = &'a Annotation> {
    annotations
        .iter()
        .filter(move |a| a.name.name.eq_ignore_ascii_case(name))
}

/// The value of `key = '...'` in an annotation.
pub fn value<'a>(a: &'a Annotation, key: &str) -> Option<&'a str> {
    a.items.iter().find_map(|i| match i {
        AnnotationItem::Element(e)
            if e.key
                .as_ref()
                .is_some_and(|k| k.name.eq_ignore_ascii_case(key)) =>
        {
            Some(e.value.value.as_str())
        }
        _ => None,
    })
}

/// The first key-less value (`@app:name('X')`), or the value of `key` when given that way.
pub fn first_value<'a>(a: &'a Annotation, key: &str) -> Option<&'a str> {
    value(a, key).or_else(|| {
        a.items.iter().find_map(|i| match i {
            AnnotationItem::Element(e) if e.key.is_none() => Some(e.value.value.as_str()),
            _ => None,
        })
    })
}

/// All key-less values in order (`@primaryKey('a', 'b')`).
pub fn values(a: &Annotation) -> Vec<&str> {
    a.items
        .iter()
        .filter_map(|i| match i {
            AnnotationItem::Element(e) if e.key.is_none() => Some(e.value.value.as_str()),
            _ => None,
        })
        .collect()
}

/// The query name from `@info(name='...')` (or the older `@name('...')`).
pub fn query_name(annotations: &[Annotation]) -> Option<&str> {
    find(annotations, "info")
        .and_then(|a| value(a, "name"))
        .or_else(|| find(annotations, "name").and_then(|a| first_value(a, "name")))
}
