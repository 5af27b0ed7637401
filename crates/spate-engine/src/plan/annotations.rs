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

/// A duration written in an annotation (`'1 hour'`, `'10 sec'`), read as Siddhi's
/// `Expression.Time.timeToLong` reads it: the first run of digits and the first run of
/// non-digits as the unit (sec, min, hour, day, month, year and their plurals).
pub fn duration_millis(text: &str) -> Result<i64, String> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let unit: String = text
        .chars()
        .skip_while(char::is_ascii_digit)
        .take_while(|c| !c.is_ascii_digit())
        .collect();
    let unit = unit.trim().to_ascii_lowercase();
    let bad =
        || format!("cannot read `{text}` as a duration; write it as e.g. '10 sec' or '1 hour'");
    if digits.is_empty() || unit.is_empty() {
        return Err(bad());
    }
    let n: i64 = digits.parse::<i32>().map_err(|_| bad())?.into();
    let unit_ms: i64 = match unit.as_str() {
        "sec" | "second" | "seconds" => 1_000,
        "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "day" | "days" => 86_400_000,
        "month" | "months" => 2_592_000_000,
        "year" | "years" => 31_536_000_000,
        _ => {
            return Err(format!(
                "unknown time unit `{unit}` in `{text}`; use sec, min, hour, day, month or year"
            ));
        }
    };
    Ok(n * unit_ms)
}

#[cfg(test)]
mod tests {
    use super::duration_millis;

    #[test]
    fn durations_read_as_siddhi_reads_them() {
        assert_eq!(duration_millis("10 sec"), Ok(10_000));
        assert_eq!(duration_millis("1 hour"), Ok(3_600_000));
        assert_eq!(duration_millis("2 minutes"), Ok(120_000));
        assert_eq!(duration_millis("1day"), Ok(86_400_000));
        assert!(duration_millis("1 millisec").is_err());
        assert!(duration_millis("sec").is_err());
        assert!(duration_millis("").is_err());
    }
}
