//! Graph's `patternedRecurrence` ↔ RRULE. What Graph cannot express (hourly rules, several
//! ordinals, negative or several month days, BYWEEKNO, BYYEARDAY, an UNTIL with a time that cuts
//! the last day) maps to `None`: such a series is never approximated upstream.

use crate::event::normal_rrule;
use crate::event::when::When;
use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const DAYS: [(&str, &str); 7] = [
    ("MO", "monday"),
    ("TU", "tuesday"),
    ("WE", "wednesday"),
    ("TH", "thursday"),
    ("FR", "friday"),
    ("SA", "saturday"),
    ("SU", "sunday"),
];
const INDEX: [(i32, &str); 5] = [
    (1, "first"),
    (2, "second"),
    (3, "third"),
    (4, "fourth"),
    (-1, "last"),
];

fn day_name(code: &str) -> Option<&'static str> {
    DAYS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

fn day_code(name: &str) -> Option<&'static str> {
    DAYS.iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// `2TH` → (2, "TH"); `MO` → (0, "MO").
fn ordinal(v: &str) -> Option<(i32, &str)> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, d) = v.split_at(split);
    let n = if n.is_empty() { 0 } else { n.parse().ok()? };
    Some((n, d))
}

/// The Graph recurrence for `rrule` on a series starting `start`, or `None` when Graph cannot
/// hold it exactly.
pub fn to_graph(rrule: &str, start: &When) -> Option<Value> {
    let parts: BTreeMap<String, String> = normal_rrule(rrule)
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let known = [
        "FREQ",
        "INTERVAL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYSETPOS",
        "COUNT",
        "UNTIL",
        "WKST",
    ];
    if parts.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let interval: u32 = parts.get("INTERVAL").map_or(Some(1), |v| v.parse().ok())?;
    let first = start.naive().date();
    let days: Vec<(i32, &str)> = match parts.get("BYDAY") {
        Some(v) => v.split(',').map(ordinal).collect::<Option<_>>()?,
        None => Vec::new(),
    };
    let setpos: Option<i32> = match parts.get("BYSETPOS") {
        Some(v) => Some(v.parse().ok()?),
        None => None,
    };
    let month_day: Option<u32> = match parts.get("BYMONTHDAY") {
        Some(v) => Some(v.parse().ok().filter(|d| (1..=31).contains(d))?),
        None => None,
    };
    let month: Option<u32> = match parts.get("BYMONTH") {
        Some(v) => Some(v.parse().ok().filter(|m| (1..=12).contains(m))?),
        None => None,
    };
    let names = |d: &[(i32, &str)]| -> Option<Vec<&'static str>> {
        d.iter().map(|(_, c)| day_name(c)).collect()
    };
    // One ordinal for all the days (`2TH`, or `TH` with BYSETPOS=2), as Graph's `index`.
    let relative = |d: &[(i32, &str)]| -> Option<&'static str> {
        let ords: Vec<i32> = d.iter().map(|(n, _)| *n).collect();
        let n = match (setpos, ords.iter().all(|o| *o == 0)) {
            (Some(p), true) => p,
            (None, false) if ords.windows(2).all(|w| w[0] == w[1]) => ords[0],
            _ => return None,
        };
        INDEX.iter().find(|(i, _)| *i == n).map(|(_, s)| *s)
    };
    let freq = parts.get("FREQ")?.as_str();
    let mut pattern = json!({"interval": interval});
    match freq {
        "DAILY" if days.is_empty() && month_day.is_none() && month.is_none() => {
            pattern["type"] = json!("daily");
        }
        "WEEKLY" if month_day.is_none() && month.is_none() && setpos.is_none() => {
            if days.iter().any(|(n, _)| *n != 0) {
                return None;
            }
            let list = if days.is_empty() {
                vec![day_name(
                    &first.weekday().to_string()[..2].to_ascii_uppercase(),
                )?]
            } else {
                names(&days)?
            };
            pattern["type"] = json!("weekly");
            pattern["daysOfWeek"] = json!(list);
            let wkst = parts.get("WKST").map_or("MO", String::as_str);
            pattern["firstDayOfWeek"] = json!(day_name(wkst)?);
        }
        "MONTHLY" if month.is_none() => {
            if days.is_empty() {
                pattern["type"] = json!("absoluteMonthly");
                pattern["dayOfMonth"] = json!(month_day.unwrap_or(first.day()));
            } else if month_day.is_none() {
                pattern["type"] = json!("relativeMonthly");
                pattern["daysOfWeek"] = json!(names(&days)?);
                pattern["index"] = json!(relative(&days)?);
            } else {
                return None;
            }
        }
        "YEARLY" => {
            let m = month.unwrap_or(first.month());
            pattern["month"] = json!(m);
            if days.is_empty() {
                pattern["type"] = json!("absoluteYearly");
                pattern["dayOfMonth"] = json!(month_day.unwrap_or(first.day()));
            } else if month_day.is_none() {
                pattern["type"] = json!("relativeYearly");
                pattern["daysOfWeek"] = json!(names(&days)?);
                pattern["index"] = json!(relative(&days)?);
            } else {
                return None;
            }
        }
        _ => return None,
    }
    let zone = start.zone().unwrap_or("UTC");
    let mut range =
        json!({"startDate": first.format("%Y-%m-%d").to_string(), "recurrenceTimeZone": zone});
    match (parts.get("COUNT"), parts.get("UNTIL")) {
        (Some(n), None) => {
            range["type"] = json!("numbered");
            range["numberOfOccurrences"] = json!(n.parse::<u32>().ok()?);
        }
        (None, Some(u)) => {
            // Graph's end is a date, inclusive, in the series' zone.
            let until = When::from_ical(u, None, u.len() == 8)?;
            let local = match (&until, start) {
                (When::Utc(t), When::Local(_, z)) => {
                    let tz: calcard::common::timezone::Tz = z.parse().ok()?;
                    chrono::TimeZone::from_utc_datetime(&tz, t).naive_local()
                }
                _ => until.naive(),
            };
            range["type"] = json!("endDate");
            range["endDate"] = json!(local.date().format("%Y-%m-%d").to_string());
        }
        (None, None) => range["type"] = json!("noEnd"),
        _ => return None,
    }
    Some(json!({"pattern": pattern, "range": range}))
}

/// The RRULE for a Graph recurrence, in the normal form of [`normal_rrule`]; `start` gives the
/// series' time of day and zone (an end date becomes an UNTIL at the end of that day).
pub fn from_graph(r: &Value, start: &When) -> Option<String> {
    let p = &r["pattern"];
    let mut parts = Vec::new();
    let days = || -> Option<String> {
        let list: Vec<&str> = p["daysOfWeek"]
            .as_array()?
            .iter()
            .filter_map(|d| day_code(d.as_str()?))
            .collect();
        (!list.is_empty()).then(|| list.join(","))
    };
    let index = || -> Option<i32> {
        let s = p["index"].as_str().unwrap_or("first");
        INDEX.iter().find(|(_, n)| *n == s).map(|(i, _)| *i)
    };
    let kind = p["type"].as_str()?;
    match kind {
        "daily" => parts.push("FREQ=DAILY".to_string()),
        "weekly" => {
            parts.push("FREQ=WEEKLY".into());
            parts.push(format!("BYDAY={}", days()?));
            if let Some(w) = p["firstDayOfWeek"].as_str().and_then(day_code)
                && w != "MO"
            {
                parts.push(format!("WKST={w}"));
            }
        }
        "absoluteMonthly" => {
            parts.push("FREQ=MONTHLY".into());
            parts.push(format!("BYMONTHDAY={}", p["dayOfMonth"].as_u64()?));
        }
        "relativeMonthly" | "relativeYearly" => {
            parts.push(format!(
                "FREQ={}",
                if kind == "relativeMonthly" {
                    "MONTHLY"
                } else {
                    "YEARLY"
                }
            ));
            if kind == "relativeYearly" {
                parts.push(format!("BYMONTH={}", p["month"].as_u64()?));
            }
            let d = days()?;
            let n = index()?;
            if d.contains(',') {
                parts.push(format!("BYDAY={d}"));
                parts.push(format!("BYSETPOS={n}"));
            } else {
                parts.push(format!("BYDAY={n}{d}"));
            }
        }
        "absoluteYearly" => {
            parts.push("FREQ=YEARLY".into());
            parts.push(format!("BYMONTH={}", p["month"].as_u64()?));
            parts.push(format!("BYMONTHDAY={}", p["dayOfMonth"].as_u64()?));
        }
        _ => return None,
    }
    if let Some(i) = p["interval"].as_u64().filter(|i| *i > 1) {
        parts.push(format!("INTERVAL={i}"));
    }
    let range = &r["range"];
    match range["type"].as_str() {
        Some("numbered") => parts.push(format!("COUNT={}", range["numberOfOccurrences"].as_u64()?)),
        Some("endDate") => {
            let end = NaiveDate::parse_from_str(range["endDate"].as_str()?, "%Y-%m-%d").ok()?;
            let until = match start {
                When::Date(_) => end.format("%Y%m%d").to_string(),
                When::Local(_, z) => {
                    // The last occurrence's day, to its end, as UTC (RFC 5545 wants UTC here).
                    let tz: calcard::common::timezone::Tz = z.parse().ok()?;
                    let last = end.and_hms_opt(23, 59, 59)?;
                    let utc = chrono::TimeZone::from_local_datetime(&tz, &last)
                        .earliest()?
                        .naive_utc();
                    utc.format("%Y%m%dT%H%M%SZ").to_string()
                }
                _ => end.format("%Y%m%dT235959Z").to_string(),
            };
            parts.push(format!("UNTIL={until}"));
        }
        _ => {}
    }
    Some(normal_rrule(&parts.join(";")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_round_trip_and_the_unrepresentable_is_refused() {
        let start = When::parse("2026-03-16T09:00:00 Europe/Berlin").unwrap();
        for rule in [
            "FREQ=DAILY;INTERVAL=2;COUNT=10",
            "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
            "FREQ=WEEKLY;BYDAY=MO;WKST=SU",
            "FREQ=MONTHLY;BYMONTHDAY=15",
            "FREQ=MONTHLY;BYDAY=2TH",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=1",
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=16",
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260413T215959Z",
        ] {
            let g = to_graph(rule, &start).unwrap_or_else(|| panic!("{rule}"));
            assert_eq!(
                from_graph(&g, &start).as_deref(),
                Some(normal_rrule(rule).as_str()),
                "{g}"
            );
        }
        let g = to_graph("FREQ=WEEKLY;BYDAY=MO;UNTIL=20260413T215959Z", &start).unwrap();
        assert_eq!(g["range"]["endDate"], "2026-04-13");
        assert_eq!(g["pattern"]["daysOfWeek"][0], "monday");
        for no in [
            "FREQ=HOURLY",
            "FREQ=MONTHLY;BYDAY=1MO,3MO",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=MONTHLY;BYMONTHDAY=1,15",
            "FREQ=YEARLY;BYWEEKNO=20",
        ] {
            assert!(to_graph(no, &start).is_none(), "{no}");
        }
    }
}
