//! Converting a card between vCard 3.0 and 4.0 without losing its dates. calcard converts the
//! rest; these named rules then rewrite what it gets wrong, from the original's own values:
//!
//! - `date-forms`: BDAY, ANNIVERSARY, X-ANNIVERSARY and Apple's X-ABDATE are written in the
//!   target version's form: 4.0 basic (`19630921`, `19630921T100000Z`), 3.0 extended
//!   (`1963-09-21`, `1963-09-21T10:00:00Z`). Extended 4.0 input (`1963-09-21`) keeps its day.
//! - `no-year`: a date without a year is `--MMDD` in 4.0 and Apple's
//!   `X-APPLE-OMIT-YEAR=1604:1604-MM-DD` in 3.0, both ways, so no client sees the year 1604.
//! - `no-charset-in-3`: 3.0 defines no CHARSET parameter (RFC 2426 is UTF-8 only); it is left
//!   out of 3.0 output.
//!
//! A date Kith cannot read (free text such as "circa 1800") is left as calcard wrote it.

use crate::lines::{fold, split, unfold};
use crate::vcard_version::Version;

/// Apple's stand-in year for "no year".
const NO_YEAR: &str = "1604";
const DATE_PROPS: [&str; 4] = ["BDAY", "ANNIVERSARY", "X-ANNIVERSARY", "X-ABDATE"];

/// A date (with its time, if any) as a card gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Moment {
    year: Option<String>,
    month: String,
    day: String,
    /// `HHMMSS` and the zone (`Z`, `+0200`, or empty for local time).
    time: Option<(String, String)>,
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Reads `value`; `omit_year` is the X-APPLE-OMIT-YEAR parameter, if any.
fn read(value: &str, omit_year: Option<&str>) -> Option<Moment> {
    let v = value.trim();
    let (date, time) = match v.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let (year, month, day) = if let Some(rest) = date.strip_prefix("--") {
        let md = rest.replace('-', "");
        if !digits(&md, 4) {
            return None;
        }
        (None, md[..2].to_string(), md[2..].to_string())
    } else {
        let ymd = date.replace('-', "");
        if !digits(&ymd, 8) {
            return None;
        }
        let y = ymd[..4].to_string();
        let year = if omit_year == Some(y.as_str()) {
            None
        } else {
            Some(y)
        };
        (year, ymd[4..6].to_string(), ymd[6..].to_string())
    };
    let (m, d) = (month.parse::<u32>().ok()?, day.parse::<u32>().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let time = match time {
        None => None,
        Some(t) => {
            let (clock, zone) = match t.find(['Z', 'z', '+', '-']) {
                Some(i) => (&t[..i], t[i..].replace(':', "").to_uppercase()),
                None => (t, String::new()),
            };
            let clock = clock.replace(':', "");
            if !digits(&clock, 6) {
                return None;
            }
            Some((clock, zone))
        }
    };
    Some(Moment {
        year,
        month,
        day,
        time,
    })
}

/// The value (with the parameters it needs) in `want`'s form.
fn write(m: &Moment, want: Version) -> (String, String) {
    match want {
        Version::V4 => {
            let date = match &m.year {
                Some(y) => format!("{y}{}{}", m.month, m.day),
                None => format!("--{}{}", m.month, m.day),
            };
            let time = m
                .time
                .as_ref()
                .map(|(c, z)| format!("T{c}{z}"))
                .unwrap_or_default();
            (String::new(), format!("{date}{time}"))
        }
        Version::V3 => {
            let (param, year) = match &m.year {
                Some(y) => (String::new(), y.clone()),
                None => (format!(";X-APPLE-OMIT-YEAR={NO_YEAR}"), NO_YEAR.to_string()),
            };
            let time = m
                .time
                .as_ref()
                .map(|(c, z)| {
                    let zone = if z.len() == 5 {
                        format!("{}:{}", &z[..3], &z[3..])
                    } else {
                        z.clone()
                    };
                    format!("T{}:{}:{}{zone}", &c[..2], &c[2..4], &c[4..])
                })
                .unwrap_or_default();
            let param = if m.time.is_some() {
                format!("{param};VALUE=date-time")
            } else {
                param
            };
            (param, format!("{year}-{}-{}{time}", m.month, m.day))
        }
    }
}

/// A content line split as `(group, NAME, params, value)`, params with their leading `;`.
/// `params` without the named ones (case-insensitive), keeping the rest in order.
fn without(params: &str, names: &[&str]) -> String {
    let mut out = String::new();
    for p in params.split(';').filter(|p| !p.is_empty()) {
        let key = p.split('=').next().unwrap_or("").to_ascii_uppercase();
        if !names.contains(&key.as_str()) {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim_matches('"'))
    })
}

/// `converted` (calcard's conversion of `original` to `want`) with the rules above applied.
pub fn repair(original: &str, converted: &str, want: Version) -> String {
    // The dates as the original gives them, in order, per property name.
    let mut dates: Vec<(String, Option<Moment>)> = unfold(original)
        .iter()
        .filter_map(|l| {
            let (_, name, params, value) = split(l)?;
            DATE_PROPS
                .contains(&name.as_str())
                .then(|| (name, read(value, param(params, "X-APPLE-OMIT-YEAR"))))
        })
        .collect();
    dates.reverse();
    let mut out = String::with_capacity(converted.len() + 32);
    for line in unfold(converted) {
        let Some((group, name, params, _)) = split(&line) else {
            fold(&line, &mut out);
            continue;
        };
        let params = if want == Version::V3 {
            without(params, &["CHARSET"])
        } else {
            params.to_string()
        };
        let prefix = group.map(|g| format!("{g}.")).unwrap_or_default();
        if DATE_PROPS.contains(&name.as_str())
            && let Some(pos) = dates.iter().rposition(|(n, _)| *n == name)
        {
            let (_, moment) = dates.remove(pos);
            if let Some(m) = moment {
                let (extra, value) = write(&m, want);
                let kept = without(&params, &["VALUE", "X-APPLE-OMIT-YEAR"]);
                let name = line[prefix.len()..]
                    .split([';', ':'])
                    .next()
                    .unwrap_or(&name)
                    .to_string();
                fold(&format!("{prefix}{name}{kept}{extra}:{value}"), &mut out);
                continue;
            }
        }
        let value = &line[line.len() - split(&line).map_or(0, |(_, _, _, v)| v.len())..];
        let name = line[prefix.len()..]
            .split([';', ':'])
            .next()
            .unwrap_or("")
            .to_string();
        fold(&format!("{prefix}{name}{params}:{value}"), &mut out);
    }
    out
}
