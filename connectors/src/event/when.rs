//! Event times in one normal form, so that Kith, Google and Microsoft 365 compare equal when
//! they mean the same moment the same way:
//! - `2026-03-01`: a date (all-day), never an instant;
//! - `2026-03-01T09:00:00 Europe/Berlin`: a local time in an IANA zone;
//! - `2026-03-01T08:00:00Z`: UTC;
//! - `2026-03-01T09:00:00`: floating.

use calcard::common::timezone::Tz;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    Date(NaiveDate),
    Local(NaiveDateTime, String),
    Utc(NaiveDateTime),
    Floating(NaiveDateTime),
}

const ICAL_DT: &str = "%Y%m%dT%H%M%S";
const ISO_DT: &str = "%Y-%m-%dT%H:%M:%S";

/// The IANA name of a zone given by IANA or Windows name (`W. Europe Standard Time`).
pub fn iana(zone: &str) -> Option<String> {
    let tz = Tz::from_str(zone.trim()).ok()?;
    tz.name().map(|n| n.into_owned())
}

impl When {
    /// From an iCalendar DTSTART/DTEND/RECURRENCE-ID/EXDATE value and its TZID/VALUE.
    pub fn from_ical(value: &str, tzid: Option<&str>, date: bool) -> Option<When> {
        let v = value.trim();
        if date || (v.len() == 8 && !v.contains('T')) {
            return NaiveDate::parse_from_str(v, "%Y%m%d").ok().map(When::Date);
        }
        if let Some(u) = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
            return NaiveDateTime::parse_from_str(u, ICAL_DT)
                .ok()
                .map(When::Utc);
        }
        let dt = NaiveDateTime::parse_from_str(v, ICAL_DT).ok()?;
        Some(match tzid {
            Some(z) => match iana(z) {
                Some(n) if n == "UTC" || n == "Etc/UTC" => When::Utc(dt),
                Some(n) => When::Local(dt, n),
                // An unknown zone keeps its name: compared as written.
                None => When::Local(dt, z.to_string()),
            },
            None => When::Floating(dt),
        })
    }

    pub fn parse(s: &str) -> Option<When> {
        let s = s.trim();
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(When::Date);
        }
        if let Some((dt, zone)) = s.split_once(' ') {
            let dt = NaiveDateTime::parse_from_str(dt, ISO_DT).ok()?;
            return Some(When::Local(dt, zone.to_string()));
        }
        if let Some(u) = s.strip_suffix('Z') {
            return NaiveDateTime::parse_from_str(u, ISO_DT).ok().map(When::Utc);
        }
        NaiveDateTime::parse_from_str(s, ISO_DT)
            .ok()
            .map(When::Floating)
    }

    /// From an RFC 3339 instant and the zone it is meant in (Google's `dateTime`+`timeZone`).
    pub fn from_rfc3339(dt: &str, zone: Option<&str>) -> Option<When> {
        let parsed = DateTime::parse_from_rfc3339(dt.trim());
        let zone = zone.filter(|z| !z.is_empty()).and_then(iana);
        match (parsed, zone) {
            (Ok(at), Some(z)) if z != "UTC" && z != "Etc/UTC" => {
                let tz = Tz::from_str(&z).ok()?;
                Some(When::Local(at.with_timezone(&tz).naive_local(), z))
            }
            (Ok(at), _) => Some(When::Utc(at.naive_utc())),
            // No offset: a local time in the zone given.
            (Err(_), z) => {
                let local = NaiveDateTime::parse_from_str(dt.trim(), ISO_DT).ok()?;
                Some(match z {
                    Some(z) if z != "UTC" && z != "Etc/UTC" => When::Local(local, z),
                    Some(_) => When::Utc(local),
                    None => When::Floating(local),
                })
            }
        }
    }

    pub fn is_date(&self) -> bool {
        matches!(self, When::Date(_))
    }

    pub fn zone(&self) -> Option<&str> {
        match self {
            When::Local(_, z) => Some(z),
            When::Utc(_) => Some("UTC"),
            _ => None,
        }
    }

    /// The local wall time (midnight for a date).
    pub fn naive(&self) -> NaiveDateTime {
        match self {
            When::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            When::Local(t, _) | When::Utc(t) | When::Floating(t) => *t,
        }
    }

    /// The instant, with floating times read in `fallback` (UTC when unknown).
    pub fn utc(&self, fallback: Option<&str>) -> Option<NaiveDateTime> {
        let zone = match self {
            When::Utc(t) => return Some(*t),
            When::Local(_, z) => Some(z.as_str()),
            _ => fallback,
        };
        let tz = zone.and_then(|z| Tz::from_str(z).ok());
        let local = self.naive();
        match tz {
            Some(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.naive_utc()),
            None => Some(local),
        }
    }

    /// The same wall time moved by `d` (dates by whole days).
    pub fn plus(&self, d: Duration) -> When {
        match self {
            When::Date(x) => When::Date(*x + Duration::days(d.num_days())),
            When::Local(t, z) => When::Local(*t + d, z.clone()),
            When::Utc(t) => When::Utc(*t + d),
            When::Floating(t) => When::Floating(*t + d),
        }
    }

    /// The iCalendar property line `NAME;params:value`.
    pub fn ical_line(&self, name: &str) -> String {
        match self {
            When::Date(d) => format!("{name};VALUE=DATE:{}", d.format("%Y%m%d")),
            When::Local(t, z) => format!("{name};TZID={z}:{}", t.format(ICAL_DT)),
            When::Utc(t) => format!("{name}:{}Z", t.format(ICAL_DT)),
            When::Floating(t) => format!("{name}:{}", t.format(ICAL_DT)),
        }
    }

    /// The value alone (for EXDATE lists in one zone).
    pub fn ical_value(&self) -> String {
        match self {
            When::Date(d) => d.format("%Y%m%d").to_string(),
            When::Utc(t) => format!("{}Z", t.format(ICAL_DT)),
            When::Local(t, _) | When::Floating(t) => t.format(ICAL_DT).to_string(),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS` without zone (what APIs take beside a `timeZone`).
    pub fn local_iso(&self) -> String {
        self.naive().format(ISO_DT).to_string()
    }

    pub fn date_iso(&self) -> String {
        self.naive().format("%Y-%m-%d").to_string()
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            When::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            When::Local(t, z) => write!(f, "{} {z}", t.format(ISO_DT)),
            When::Utc(t) => write!(f, "{}Z", t.format(ISO_DT)),
            When::Floating(t) => write!(f, "{}", t.format(ISO_DT)),
        }
    }
}

/// An RFC 5545 duration (`-PT15M`, `P1D`, `P1W`) in seconds.
pub fn duration_secs(v: &str) -> Option<i64> {
    let v = v.trim();
    let (sign, rest) = match v.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, v.strip_prefix('+').unwrap_or(v)),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = 0i64;
    let mut n = String::new();
    let mut time = false;
    for c in rest.chars() {
        match c {
            'T' => time = true,
            '0'..='9' => n.push(c),
            u => {
                let k: i64 = n.parse().ok()?;
                n.clear();
                total += k * match (u, time) {
                    ('W', false) => 604_800,
                    ('D', false) => 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
        }
    }
    n.is_empty().then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_zones_resolve() {
        let w = When::from_ical("20260301T090000", Some("W. Europe Standard Time"), false);
        assert_eq!(
            w.as_ref().map(ToString::to_string).as_deref(),
            Some("2026-03-01T09:00:00 Europe/Berlin")
        );
        let g = When::from_rfc3339("2026-03-01T09:00:00+01:00", Some("Europe/Berlin"));
        assert_eq!(g, w);
        assert_eq!(
            When::from_rfc3339("2026-03-01T09:00:00+01:00", None).map(|w| w.to_string()),
            Some("2026-03-01T08:00:00Z".into())
        );
        for s in [
            "2026-03-01",
            "2026-03-01T09:00:00 Europe/Berlin",
            "2026-03-01T08:00:00Z",
            "2026-03-01T09:00:00",
        ] {
            assert_eq!(When::parse(s).map(|w| w.to_string()).as_deref(), Some(s));
        }
        assert_eq!(duration_secs("-PT15M"), Some(-900));
        assert_eq!(duration_secs("P1DT1H"), Some(90_000));
        assert_eq!(duration_secs("PX"), None);
    }
}
