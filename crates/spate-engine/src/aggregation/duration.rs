//! Granularities of incremental aggregations and Siddhi's calendar arithmetic on them
//! (`IncrementalTimeConverterUtil`): buckets are aligned in GMT, seconds to days by plain
//! division, months and years by the calendar. Also the time strings of `within`.

use spate_ql::ast::Duration;

/// One aggregation granularity, in Siddhi's order (`sec ... year`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Seconds,
    Minutes,
    Hours,
    Days,
    Months,
    Years,
}

const DAY: i64 = 86_400_000;

impl Granularity {
    pub const ALL: [Granularity; 6] = [
        Granularity::Seconds,
        Granularity::Minutes,
        Granularity::Hours,
        Granularity::Days,
        Granularity::Months,
        Granularity::Years,
    ];

    /// The granularity of a parsed duration; weeks are not an aggregation granularity.
    pub fn of(d: Duration) -> Option<Granularity> {
        Some(match d {
            Duration::Seconds => Granularity::Seconds,
            Duration::Minutes => Granularity::Minutes,
            Duration::Hours => Granularity::Hours,
            Duration::Days => Granularity::Days,
            Duration::Weeks => return None,
            Duration::Months => Granularity::Months,
            Duration::Years => Granularity::Years,
        })
    }

    /// Siddhi's `normalizeDuration`: the names `per` and `@retentionPeriod` accept.
    pub fn parse(name: &str) -> Option<Granularity> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sec" | "seconds" | "second" => Granularity::Seconds,
            "min" | "minutes" | "minute" => Granularity::Minutes,
            "h" | "hour" | "hours" => Granularity::Hours,
            "days" | "day" => Granularity::Days,
            "month" | "months" => Granularity::Months,
            "year" | "years" => Granularity::Years,
            _ => return None,
        })
    }

    /// Siddhi's enum name (`SECONDS`), as in messages.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Seconds => "SECONDS",
            Granularity::Minutes => "MINUTES",
            Granularity::Hours => "HOURS",
            Granularity::Days => "DAYS",
            Granularity::Months => "MONTHS",
            Granularity::Years => "YEARS",
        }
    }

    fn fixed_millis(self) -> Option<i64> {
        match self {
            Granularity::Seconds => Some(1000),
            Granularity::Minutes => Some(60_000),
            Granularity::Hours => Some(3_600_000),
            Granularity::Days => Some(DAY),
            Granularity::Months | Granularity::Years => None,
        }
    }

    /// Start of the bucket holding `t` (`getStartTimeOfAggregates`; Java's `%`, so times
    /// before 1970 round towards zero as in Siddhi).
    pub fn start_of(self, t: i64) -> i64 {
        match self.fixed_millis() {
            Some(ms) => t - t % ms,
            None => {
                let (y, m, _) = civil_from_days(t.div_euclid(DAY));
                let m = if self == Granularity::Years { 1 } else { m };
                days_from_civil(y, m, 1) * DAY
            }
        }
    }

    /// Start of the bucket after the one holding `t` (`getNextEmitTime`, GMT).
    pub fn next_emit(self, t: i64) -> i64 {
        self.next_emit_at_offset(t, 0)
    }

    /// [`Granularity::next_emit`] with months and years counted in a fixed UTC offset.
    pub fn next_emit_at_offset(self, t: i64, offset_ms: i64) -> i64 {
        match self.fixed_millis() {
            Some(ms) => t - t % ms + ms,
            None => {
                let local = t + offset_ms;
                let (y, m, _) = civil_from_days(local.div_euclid(DAY));
                let (y, m) = match self {
                    Granularity::Years => (y + 1, 1),
                    _ if m == 12 => (y + 1, 1),
                    _ => (y, m + 1),
                };
                days_from_civil(y, m, 1) * DAY - offset_ms
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `yyyy-MM-dd HH:mm:ss[ +hh:mm]` to epoch millis (`timestampInMilliseconds`), with the
/// offset it was written in (millis east of GMT).
pub fn parse_timestamp(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() != 19 && b.len() != 26 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let offset = if b.len() == 26 {
        if b[19] != b' ' || !matches!(b[20], b'+' | b'-') || b[23] != b':' {
            return None;
        }
        let (oh, om) = (digits(21..23)?, digits(24..26)?);
        if oh > 18 || om > 59 {
            return None;
        }
        let o = (oh * 3600 + om * 60) * 1000;
        if b[20] == b'-' { -o } else { o }
    } else {
        0
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    if civil_from_days(days) != (y, mo as u32, d as u32) {
        return None;
    }
    Some((
        days * DAY + (h * 3600 + mi * 60 + sec) * 1000 - offset,
        offset,
    ))
}

/// A single `within '<pattern>'` string: `2017-06-** **:**:**` and the like, as the range
/// `[start, end)` it covers (`IncrementalStartTimeEndTimeFunctionExecutor`).
pub fn within_pattern(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    if s.len() != 19 && s.len() != 26 {
        return None;
    }
    let (date_time, zone) = s.split_at(19);
    let stars = |r: std::ops::Range<usize>| date_time.get(r) == Some("**");
    // Which fields, from the seconds up, are wildcards.
    let wild = [
        stars(17..19),
        stars(14..16),
        stars(11..13),
        stars(8..10),
        stars(5..7),
    ];
    let n = wild.iter().take_while(|w| **w).count();
    if wild[n..].iter().any(|w| *w) {
        return None;
    }
    let filled = match n {
        0..=3 => date_time.replace('*', "0"),
        4 => format!("{}01 00:00:00", &date_time[..8]),
        _ => format!("{}01-01 00:00:00", &date_time[..5]),
    };
    let (start, offset) = parse_timestamp(&format!("{filled}{zone}"))?;
    let end = match n {
        0 => start + 1000,
        1 => start + 60_000,
        2 => start + 3_600_000,
        3 => start + DAY,
        4 => Granularity::Months.next_emit_at_offset(start, offset),
        _ => Granularity::Years.next_emit_at_offset(start, offset),
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_the_calendar() {
        let t = 1_704_067_261_500; // 2024-01-01 00:01:01.5 GMT
        assert_eq!(Granularity::Seconds.start_of(t), 1_704_067_261_000);
        assert_eq!(Granularity::Minutes.start_of(t), 1_704_067_260_000);
        assert_eq!(Granularity::Days.next_emit(t), 1_704_153_600_000);
        assert_eq!(Granularity::Months.start_of(t), 1_704_067_200_000);
        assert_eq!(Granularity::Months.next_emit(t), 1_706_745_600_000);
        assert_eq!(Granularity::Years.next_emit(t), 1_735_689_600_000);
        let dec = 1_701_388_800_000; // 2023-12-01
        assert_eq!(Granularity::Months.next_emit(dec), 1_704_067_200_000);
    }

    #[test]
    fn within_strings() {
        assert_eq!(
            parse_timestamp("2024-01-01 00:00:00"),
            Some((1_704_067_200_000, 0))
        );
        assert_eq!(
            parse_timestamp("2024-01-01 05:30:00 +05:30"),
            Some((1_704_067_200_000, 19_800_000))
        );
        assert_eq!(
            within_pattern("2024-01-01 00:01:**"),
            Some((1_704_067_260_000, 1_704_067_320_000))
        );
        assert_eq!(
            within_pattern("2024-**-** **:**:**"),
            Some((1_704_067_200_000, 1_735_689_600_000))
        );
        assert_eq!(
            within_pattern("2024-02-** **:**:**"),
            Some((1_706_745_600_000, 1_709_251_200_000))
        );
        assert_eq!(within_pattern("2024-**-01 **:**:**"), None);
        assert_eq!(parse_timestamp("2024-02-30 00:00:00"), None);
    }
}
