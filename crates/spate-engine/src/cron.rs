//! Quartz cron expressions (`'0 */5 * * * ?'`): parsing and "next fire time after t" in UTC,
//! for the `cron` window and cron triggers. Spate drives them from the app clock, so they
//! are deterministic in playback.
//!
//! Syntax (Quartz's): `seconds minutes hours day-of-month month day-of-week [year]`,
//! case-insensitive, fields separated by spaces or tabs. A field is a comma list of items:
//! `*`, a value, a range `a-b` (wrapping past the end, as `FRI-MON` or `22-2`), each
//! optionally stepped (`*/15`, `5/15`, `10-40/10`). Months take `JAN`-`DEC`, days of the
//! week `SUN`-`SAT` (1 = Sunday .. 7 = Saturday). Exactly one of the two day fields must be
//! `?` (Quartz does not support constraining both). Day of month also takes `L` (last day),
//! `L-n` (n days before it), `LW` (last weekday), `nW` (the weekday nearest to day n,
//! within the month); day of week takes `nL` (the last such day of the month), `L` (7) and
//! `n#k` (the k-th such day). Years run from 1970 to 2199.

use std::fmt;

/// The earliest and latest years a schedule can fire in.
const MIN_YEAR: i64 = 1970;
const MAX_YEAR: i64 = 2199;

/// A parsed cron expression.
#[derive(Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u32,
    day_of_month: DayOfMonth,
    /// Bits 1..=12.
    months: u16,
    day_of_week: DayOfWeek,
    /// Bit `y - 1970`, or every year.
    years: Option<Vec<u64>>,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: the day of week decides.
    Unspecified,
    /// Bits 1..=31.
    Days(u32),
    /// `L`, `L-n`, `LW`.
    Last { offset: u32, weekday: bool },
    /// `nW`.
    NearestWeekday(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfWeek {
    Unspecified,
    /// Bits 1..=7 (1 = Sunday).
    Days(u8),
    /// `nL`: the last such weekday of the month.
    Last(u8),
    /// `n#k`.
    Nth(u8, u8),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "seconds",
            Field::Minute => "minutes",
            Field::Hour => "hours",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (1, 7),
            Field::Year => (MIN_YEAR, MAX_YEAR),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            Field::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }
}

impl CronSchedule {
    /// Parses a Quartz cron expression; the error says what is wrong and where.
    pub fn parse(expr: &str) -> Result<CronSchedule, String> {
        let upper = expr.to_uppercase();
        let fields: Vec<&str> = upper.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        if fields.len() < 6 {
            return Err(format!(
                "cron expression '{expr}' has {} fields; it needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year])",
                fields.len()
            ));
        }
        if fields.len() > 7 {
            return Err(format!(
                "cron expression '{expr}' has {} fields; it takes at most 7",
                fields.len()
            ));
        }
        let bits = |text: &str, f: Field| -> Result<Vec<u64>, String> {
            parse_set(text, f).map_err(|e| format!("cron expression '{expr}': {e}"))
        };
        let seconds = bits(fields[0], Field::Second)?[0];
        let minutes = bits(fields[1], Field::Minute)?[0];
        let hours = bits(fields[2], Field::Hour)?[0] as u32;
        let months = bits(fields[4], Field::Month)?[0] as u16;
        let day_of_month =
            parse_day_of_month(fields[3]).map_err(|e| format!("cron expression '{expr}': {e}"))?;
        let day_of_week =
            parse_day_of_week(fields[5]).map_err(|e| format!("cron expression '{expr}': {e}"))?;
        let dom_open = day_of_month == DayOfMonth::Unspecified;
        let dow_open = day_of_week == DayOfWeek::Unspecified;
        if dom_open == dow_open {
            return Err(format!(
                "cron expression '{expr}': exactly one of day-of-month and day-of-week must be '?' (Quartz does not support constraining both, or neither)"
            ));
        }
        let years = match fields.get(6) {
            Some(f) => Some(bits(f, Field::Year)?),
            None => None,
        };
        Ok(CronSchedule {
            text: expr.to_string(),
            seconds,
            minutes,
            hours,
            day_of_month,
            months,
            day_of_week,
            years,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first fire time strictly after `after` (epoch milliseconds, UTC), on a whole
    /// second; `None` when the schedule never fires again (before year 2200).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let mut t = after.div_euclid(1000).checked_add(1)?;
        let limit = days_from_civil(MAX_YEAR + 1, 1, 1) * 86_400;
        if t < days_from_civil(MIN_YEAR, 1, 1) * 86_400 {
            t = days_from_civil(MIN_YEAR, 1, 1) * 86_400;
        }
        while t < limit {
            let days = t.div_euclid(86_400);
            let secs = t.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            if !self.year_ok(y) {
                t = days_from_civil(y + 1, 1, 1) * 86_400;
                continue;
            }
            if self.months & (1 << m) == 0 {
                t = next_month_start(y, m);
                continue;
            }
            if !self.day_ok(y, m, d) {
                t = (days + 1) * 86_400;
                continue;
            }
            let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            let Some(nh) = next_bit(self.hours as u64, h) else {
                t = (days + 1) * 86_400;
                continue;
            };
            if nh != h {
                t = days * 86_400 + nh * 3600;
                continue;
            }
            let Some(nm) = next_bit(self.minutes, mi) else {
                t = days * 86_400 + (h + 1) * 3600;
                continue;
            };
            if nm != mi {
                t = days * 86_400 + h * 3600 + nm * 60;
                continue;
            }
            let Some(ns) = next_bit(self.seconds, s) else {
                t = days * 86_400 + h * 3600 + (mi + 1) * 60;
                continue;
            };
            return (days * 86_400 + h * 3600 + mi * 60 + ns).checked_mul(1000);
        }
        None
    }

    fn year_ok(&self, y: i64) -> bool {
        match &self.years {
            None => true,
            Some(bits) => {
                let i = y - MIN_YEAR;
                i >= 0
                    && bits
                        .get(i as usize / 64)
                        .is_some_and(|w| w & (1 << (i % 64)) != 0)
            }
        }
    }

    fn day_ok(&self, y: i64, m: i64, d: i64) -> bool {
        let last = days_in_month(y, m);
        let weekday = |d: i64| weekday(days_from_civil(y, m, d));
        match self.day_of_month {
            DayOfMonth::Unspecified => {}
            DayOfMonth::Days(bits) => return bits & (1 << d) != 0,
            DayOfMonth::Last { offset, weekday: w } => {
                let target = last - offset as i64;
                if target < 1 {
                    return false;
                }
                return if w {
                    nearest_weekday(target, last, weekday) == d
                } else {
                    target == d
                };
            }
            DayOfMonth::NearestWeekday(n) => {
                let n = n as i64;
                return n <= last && nearest_weekday(n, last, weekday) == d;
            }
        }
        let wd = weekday(d);
        match self.day_of_week {
            DayOfWeek::Unspecified => true,
            DayOfWeek::Days(bits) => bits & (1 << wd) != 0,
            DayOfWeek::Last(n) => wd == n as i64 && d + 7 > last,
            DayOfWeek::Nth(n, k) => wd == n as i64 && (d - 1) / 7 + 1 == k as i64,
        }
    }
}

/// Quartz's `W`: the weekday (Mon-Fri) nearest to day `n`, not leaving the month.
fn nearest_weekday(n: i64, last: i64, weekday: impl Fn(i64) -> i64) -> i64 {
    match weekday(n) {
        7 if n == 1 => n + 2,
        7 => n - 1,
        1 if n == last => n - 2,
        1 => n + 1,
        _ => n,
    }
}

/// The lowest set bit at or above `from`.
fn next_bit(bits: u64, from: i64) -> Option<i64> {
    if !(0..64).contains(&from) {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros() as i64)
}

fn next_month_start(y: i64, m: i64) -> i64 {
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * 86_400
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 1 = Sunday .. 7 = Saturday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7) + 1
}

/// A value or a name of the field.
fn parse_value(text: &str, f: Field) -> Result<i64, String> {
    let v = match f.names().iter().position(|n| *n == text) {
        Some(i) => i as i64 + 1,
        None => text.parse::<i64>().map_err(|_| {
            let names = f.names();
            if names.is_empty() {
                format!("'{text}' is not a number in the {} field", f.name())
            } else {
                format!(
                    "'{text}' is not a value of the {} field (a number or one of {})",
                    f.name(),
                    names.join(", ")
                )
            }
        })?,
    };
    let (lo, hi) = f.range();
    if !(lo..=hi).contains(&v) {
        return Err(format!(
            "{v} is out of range for the {} field ({lo}-{hi})",
            f.name()
        ));
    }
    Ok(v)
}

/// A comma list of `*`, values, ranges and steps, as bits (one word, or several for years).
fn parse_set(text: &str, f: Field) -> Result<Vec<u64>, String> {
    let (lo, hi) = f.range();
    let span = (hi - lo + 1) as usize;
    let mut words = vec![0u64; span.div_ceil(64)];
    // Bit positions: the value itself, except years (offset from 1970).
    let base = if f == Field::Year { lo } else { 0 };
    let mut set = |v: i64| {
        let i = (v - base) as usize;
        words[i / 64] |= 1 << (i % 64);
    };
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: i64 = s
                    .parse()
                    .map_err(|_| format!("'/' must be followed by a number in '{item}'"))?;
                if step < 1 || step > hi - lo + 1 {
                    return Err(format!(
                        "step {step} is out of range for the {} field",
                        f.name()
                    ));
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (parse_value(a, f)?, parse_value(b, f)?)
        } else if range.is_empty() {
            return Err(format!("empty item in the {} field", f.name()));
        } else {
            let v = parse_value(range, f)?;
            // `5/15` runs from 5 to the end of the field; a lone value is just itself.
            (v, if step.is_some() { hi } else { v })
        };
        let step = step.unwrap_or(1);
        if end >= start {
            let mut v = start;
            while v <= end {
                set(v);
                v += step;
            }
        } else {
            if f == Field::Year {
                return Err(format!("year range {start}-{end} runs backwards"));
            }
            // Wrapping range: continue past the end of the field from its start.
            let size = hi - lo + 1;
            let mut v = start;
            while v <= end + size {
                set(if v > hi { v - size } else { v });
                v += step;
            }
        }
    }
    Ok(words)
}

fn parse_day_of_month(text: &str) -> Result<DayOfMonth, String> {
    if text == "?" {
        return Ok(DayOfMonth::Unspecified);
    }
    if let Some(rest) = text.strip_prefix('L') {
        let (rest, weekday) = match rest.strip_suffix('W') {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let offset =
            match rest.strip_prefix('-') {
                None if rest.is_empty() => 0,
                Some(n) => n.parse::<u32>().ok().filter(|n| *n <= 30).ok_or_else(|| {
                    format!("'{text}': the offset from the last day must be 0-30")
                })?,
                None => return Err(format!("'{text}' is not a valid day-of-month item")),
            };
        return Ok(DayOfMonth::Last { offset, weekday });
    }
    if let Some(n) = text.strip_suffix('W') {
        let day = parse_value(n, Field::DayOfMonth)
            .map_err(|e| format!("{e} ('W' takes a single day: '15W')"))?;
        return Ok(DayOfMonth::NearestWeekday(day as u32));
    }
    let bits = parse_set(text, Field::DayOfMonth)?;
    Ok(DayOfMonth::Days(bits[0] as u32))
}

fn parse_day_of_week(text: &str) -> Result<DayOfWeek, String> {
    if text == "?" {
        return Ok(DayOfWeek::Unspecified);
    }
    if text == "L" {
        return Ok(DayOfWeek::Days(1 << 7));
    }
    if let Some(n) = text.strip_suffix('L') {
        let day = parse_value(n, Field::DayOfWeek)
            .map_err(|e| format!("{e} ('L' takes a single day of week: '6L')"))?;
        return Ok(DayOfWeek::Last(day as u8));
    }
    if let Some((n, k)) = text.split_once('#') {
        let day = parse_value(n, Field::DayOfWeek)?;
        let k: u8 = k
            .parse()
            .ok()
            .filter(|k| (1..=5).contains(k))
            .ok_or_else(|| format!("'{text}': the number after '#' must be 1-5"))?;
        return Ok(DayOfWeek::Nth(day as u8, k));
    }
    let bits = parse_set(text, Field::DayOfWeek)?;
    Ok(DayOfWeek::Days(bits[0] as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch millis of a UTC date-time.
    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
        (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000
    }

    fn next(expr: &str, after: i64) -> Option<i64> {
        CronSchedule::parse(expr).expect("valid").next_after(after)
    }

    #[test]
    fn calendar_helpers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(weekday(0), 5); // Thursday
        assert_eq!(weekday(days_from_civil(2024, 1, 7)), 1); // Sunday
    }

    #[test]
    fn every_few_seconds_is_strictly_after() {
        let e = "*/5 * * * * ?";
        assert_eq!(next(e, 0), Some(5000));
        assert_eq!(next(e, 4999), Some(5000));
        assert_eq!(next(e, 5000), Some(10_000));
        assert_eq!(next(e, -1), Some(0));
        assert_eq!(next("0 * * * * ?", 59_999), Some(60_000));
    }

    #[test]
    fn ranges_lists_steps_and_names() {
        let t = at(2024, 1, 1, 0, 0, 0); // a Monday
        assert_eq!(next("0 0 12 * * ?", t), Some(at(2024, 1, 1, 12, 0, 0)));
        assert_eq!(
            next("0 15,45 9-17/4 * * ?", t),
            Some(at(2024, 1, 1, 9, 15, 0))
        );
        assert_eq!(
            next("0 15,45 9-17/4 * * ?", at(2024, 1, 1, 9, 15, 0)),
            Some(at(2024, 1, 1, 9, 45, 0))
        );
        assert_eq!(
            next("0 15,45 9-17/4 * * ?", at(2024, 1, 1, 9, 45, 0)),
            Some(at(2024, 1, 1, 13, 15, 0))
        );
        assert_eq!(next("0 0 0 ? * SAT,SUN", t), Some(at(2024, 1, 6, 0, 0, 0)));
        assert_eq!(next("0 0 0 ? * fri-mon", t), Some(at(2024, 1, 5, 0, 0, 0)));
        assert_eq!(next("0 0 0 1 MAR ?", t), Some(at(2024, 3, 1, 0, 0, 0)));
        assert_eq!(next("0 0 23-1 * * ?", t), Some(at(2024, 1, 1, 1, 0, 0)));
        assert_eq!(next("0 0 0 29 2 ?", t), Some(at(2024, 2, 29, 0, 0, 0)));
        assert_eq!(
            next("0 0 0 29 2 ?", at(2024, 3, 1, 0, 0, 0)),
            Some(at(2028, 2, 29, 0, 0, 0))
        );
        assert_eq!(next("0 0 0 1 1 ? 2030", t), Some(at(2030, 1, 1, 0, 0, 0)));
        assert_eq!(next("0 0 0 1 1 ? 2020", t), None);
    }

    #[test]
    fn last_weekday_and_nth() {
        let t = at(2024, 1, 1, 0, 0, 0);
        assert_eq!(next("0 0 0 L * ?", t), Some(at(2024, 1, 31, 0, 0, 0)));
        assert_eq!(next("0 0 0 L-2 * ?", t), Some(at(2024, 1, 29, 0, 0, 0)));
        // 2024-03-31 is a Sunday: the last weekday is Friday the 29th.
        assert_eq!(
            next("0 0 0 LW * ?", at(2024, 3, 1, 0, 0, 0)),
            Some(at(2024, 3, 29, 0, 0, 0))
        );
        // 2024-06-01 is a Saturday: 1W moves forward to Monday the 3rd.
        assert_eq!(
            next("0 0 0 1W * ?", at(2024, 5, 31, 0, 0, 0)),
            Some(at(2024, 6, 3, 0, 0, 0))
        );
        // 2024-06-15 is a Saturday: 15W is Friday the 14th.
        assert_eq!(
            next("0 0 0 15W * ?", at(2024, 6, 1, 0, 0, 0)),
            Some(at(2024, 6, 14, 0, 0, 0))
        );
        // The last Friday of January 2024, and the third Monday.
        assert_eq!(next("0 0 0 ? * 6L", t), Some(at(2024, 1, 26, 0, 0, 0)));
        assert_eq!(next("0 0 0 ? * MON#3", t), Some(at(2024, 1, 15, 0, 0, 0)));
        assert_eq!(next("0 0 0 ? * L", t), Some(at(2024, 1, 6, 0, 0, 0)));
        // A fifth Monday is not in every month.
        assert_eq!(next("0 0 0 ? * 2#5", t), Some(at(2024, 1, 29, 0, 0, 0)));
        assert_eq!(
            next("0 0 0 ? * 2#5", at(2024, 1, 30, 0, 0, 0)),
            Some(at(2024, 4, 29, 0, 0, 0))
        );
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "bad",
            "* * * * *",
            "* * * * * * * *",
            "60 * * * * ?",
            "* * * * * *",
            "* * * ? * ?",
            "*/0 * * * * ?",
            "* * 25 * * ?",
            "* * * 32 * ?",
            "* * * * 13 ?",
            "* * * ? * 8",
            "* * * ? * MON#6",
            "* * * * FOO ?",
            "* * * L-31 * ?",
            "* * * * * ? 1969",
            "* * * * * ? 2010-2005",
            "*/x * * * * ?",
        ] {
            assert!(
                CronSchedule::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        let e = CronSchedule::parse("0 0 12 * * ?").unwrap();
        assert_eq!(e.text(), "0 0 12 * * ?");
    }
}
