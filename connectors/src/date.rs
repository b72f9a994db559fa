//! Dates as contacts carry them: birthdays and anniversaries are calendar dates, possibly without
//! a year, and never timestamps (a timestamp shifts a birthday by a day across time zones).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: Option<i32>,
    pub month: u8,
    pub day: u8,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Apple writes a birthday without a year as year 1604; Graph needs a year and gets 1604 too.
pub const NO_YEAR_MARKER: i32 = 1604;

impl Date {
    pub fn new(year: Option<i32>, month: u8, day: u8) -> Option<Date> {
        let max = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => match year {
                Some(y) if !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) => 28,
                _ => 29,
            },
            _ => return None,
        };
        (1..=max)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Parses the forms exports use: `YYYY-MM-DD`, `YYYYMMDD`, `--MM-DD`, `--MMDD`, a timestamp
    /// (its date part), `12 Mar 2024`, `7-Feb-22` and `M/D/YYYY`. `Ok(None)` is an explicitly
    /// empty date (`0/0/00`, as Outlook writes), `Err` a value that is not a date.
    pub fn parse(s: &str) -> Result<Option<Date>, String> {
        let s = s.trim();
        if s.is_empty() || s == "0/0/00" || s == "0/0/0000" || s == "00/00/0000" {
            return Ok(None);
        }
        parse_any(s)
            .map(Some)
            .ok_or_else(|| format!("{s:?} is not a date (expected e.g. 2024-03-12 or 12 Mar 2024)"))
    }

    /// The canonical text: `YYYY-MM-DD`, or `--MM-DD` without a year.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// vCard 4.0 form: `YYYYMMDD` or `--MMDD`.
    pub fn vcard4(&self) -> String {
        match self.year {
            Some(y) => format!("{y:04}{:02}{:02}", self.month, self.day),
            None => format!("--{:02}{:02}", self.month, self.day),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}-{:02}-{:02}", self.month, self.day),
            None => write!(f, "--{:02}-{:02}", self.month, self.day),
        }
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month_name(s: &str) -> Option<u8> {
    let l = s.to_ascii_lowercase();
    let p = l.get(..3)?;
    MONTHS.iter().position(|m| *m == p).map(|i| i as u8 + 1)
}

fn two_digit_year(y: i32) -> i32 {
    // `7-Feb-22` is 2022; a two-digit year after next year's is last century.
    if y <= 30 { 2000 + y } else { 1900 + y }
}

fn parse_any(s: &str) -> Option<Date> {
    // A timestamp: keep the date as written; the time of day is not part of a birthday.
    let s = match s.split_once('T') {
        Some((d, _)) if d.len() >= 8 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-') => d,
        _ => s,
    };
    if let Some(rest) = s.strip_prefix("--") {
        let digits: String = rest.chars().filter(|c| *c != '-').collect();
        if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Date::new(None, num(&digits[..2])?, num(&digits[2..])?);
        }
        return None;
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Date::new(Some(num(&s[..4])?), num(&s[4..6])?, num(&s[6..])?);
    }
    if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
        if y.len() == 4 {
            return Date::new(Some(num(y)?), num(m)?, num(d)?);
        }
        // `7-Feb-22`
        let year = num::<i32>(d)?;
        let year = if d.len() == 2 {
            two_digit_year(year)
        } else {
            year
        };
        return Date::new(Some(year), month_name(m)?, num(y)?);
    }
    if let [m, d, y] = s.split('/').collect::<Vec<_>>()[..] {
        let year = num::<i32>(y)?;
        let year = if y.len() == 2 {
            two_digit_year(year)
        } else {
            year
        };
        return Date::new(Some(year), num(m)?, num(d)?);
    }
    if let [d, m, y] = s.split_whitespace().collect::<Vec<_>>()[..] {
        return Date::new(Some(num(y)?), month_name(m)?, num(d)?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Date::parse(s).unwrap().unwrap().to_string()
    }

    #[test]
    fn parses_every_export_form() {
        assert_eq!(p("1996-04-15"), "1996-04-15");
        assert_eq!(p("19960415"), "1996-04-15");
        assert_eq!(p("--04-15"), "--04-15");
        assert_eq!(p("--0415"), "--04-15");
        assert_eq!(p("12 Mar 2024"), "2024-03-12");
        assert_eq!(p("7-Feb-22"), "2022-02-07");
        assert_eq!(p("3/7/1980"), "1980-03-07");
        assert_eq!(p("1953-10-15T23:10:00Z"), "1953-10-15");
        assert_eq!(Date::parse("0/0/00").unwrap(), None);
        assert_eq!(Date::parse("").unwrap(), None);
        assert!(Date::parse("31/02/2020").is_err());
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("soon").is_err());
        assert!(Date::parse("--1é2").is_err());
        assert!(Date::parse("1é-Feb-22").is_err());
        assert_eq!(Date::parse("--0229").unwrap().unwrap().vcard4(), "--0229");
    }
}
