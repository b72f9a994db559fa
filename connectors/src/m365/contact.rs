//! Graph `contact` JSON ↔ [`Record`]: Outlook's fixed slots (3 emails, 2 business and 2 home
//! phones, one mobile, three typed addresses, one web page), birthdays as dates read in the
//! mailbox's time zone, and computed fields (`fileAs`, `initials`, a generated `displayName`)
//! left out.

use crate::date::{Date, NO_YEAR_MARKER};
use crate::formats::SourceItem;
use crate::normalize;
use crate::record::address;
use crate::record::{Elem, Field, Record};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The single-value extended property that holds Kith's card name on contacts Kith created.
pub const MARKER_PROP: &str = "String {6f0a7c3e-6c1b-4c1e-9a51-4b1d2e3f5a70} Name KithCard";

/// What a delta round selects (every field Kith maps; `id` always comes).
pub const SELECT: &str = "givenName,surname,middleName,title,generation,nickName,displayName,companyName,department,jobTitle,birthday,personalNotes,emailAddresses,businessPhones,homePhones,mobilePhone,businessHomePage,homeAddress,businessAddress,otherAddress,categories,parentFolderId";

/// The fields an Outlook contact holds.
pub const FIELDS: &[Field] = &[
    Field::FullName,
    Field::GivenName,
    Field::FamilyName,
    Field::MiddleName,
    Field::Prefix,
    Field::Suffix,
    Field::Nickname,
    Field::Company,
    Field::Department,
    Field::Title,
    Field::Birthday,
    Field::Note,
    Field::Email,
    Field::Phone,
    Field::Url,
    Field::Address,
    Field::Category,
];

/// Outlook's slots.
pub const EMAILS: usize = 3;
pub const BUSINESS_PHONES: usize = 2;
pub const HOME_PHONES: usize = 2;

const NAME_PARTS: [Field; 5] = [
    Field::GivenName,
    Field::FamilyName,
    Field::MiddleName,
    Field::Prefix,
    Field::Suffix,
];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Where a phone goes: `mobile`, `business` or `home`, by its label.
fn phone_slot(label: Option<&str>) -> &'static str {
    match label.map(str::to_ascii_lowercase).as_deref() {
        Some(l) if l.contains("cell") || l.contains("mobile") => "mobile",
        Some(l) if l.contains("home") => "home",
        _ => "business",
    }
}

fn address_slot(label: Option<&str>) -> &'static str {
    match label.map(str::to_ascii_lowercase).as_deref() {
        Some(l) if l.contains("home") => "homeAddress",
        Some(l) if l.contains("work") || l.contains("business") => "businessAddress",
        _ => "otherAddress",
    }
}

/// What Outlook can hold of a record: the first three emails, phones in their slots (a
/// phone whose slot is full goes to the other of business/home, else is left out), one web
/// page, one address per type. The card keeps everything; this is what is pushed and compared.
pub fn fit(mut r: Record) -> Record {
    let keep = |r: &Record, f: Field| -> Vec<(String, Elem)> {
        r.elems(f).map(|(k, e)| (k.clone(), e.clone())).collect()
    };
    let emails: BTreeMap<String, Elem> = keep(&r, Field::Email).into_iter().take(EMAILS).collect();
    let mut phones = BTreeMap::new();
    let (mut mobile, mut business, mut home) = (0, 0, 0);
    for (k, e) in keep(&r, Field::Phone) {
        let slot = match phone_slot(e.label.as_deref()) {
            "mobile" if mobile == 0 => Some(&mut mobile),
            "home" if home < HOME_PHONES => Some(&mut home),
            "home" | "mobile" if business < BUSINESS_PHONES => Some(&mut business),
            "business" if business < BUSINESS_PHONES => Some(&mut business),
            "business" | "mobile" if home < HOME_PHONES => Some(&mut home),
            _ => None,
        };
        if let Some(n) = slot {
            *n += 1;
            phones.insert(k, e);
        }
    }
    let urls: BTreeMap<String, Elem> = keep(&r, Field::Url).into_iter().take(1).collect();
    let mut addresses = BTreeMap::new();
    let mut used = Vec::new();
    for (_, e) in keep(&r, Field::Address) {
        let slot = address_slot(e.label.as_deref());
        if !used.contains(&slot) {
            used.push(slot);
            // Outlook has no PO box or extended line: they join the street.
            let value = outlook_address(&e.value);
            let key = Field::Address.key(&value);
            addresses.insert(
                key,
                Elem {
                    value,
                    label: e.label,
                },
            );
        }
    }
    for (f, m) in [
        (Field::Email, emails),
        (Field::Phone, phones),
        (Field::Url, urls),
        (Field::Address, addresses),
    ] {
        if m.is_empty() {
            r.multis.remove(&f);
        } else {
            r.multis.insert(f, m);
        }
    }
    r
}

/// A Graph birthday (a UTC timestamp) as the date the user meant. Exchange itself stores a
/// birthday at 11:59 UTC of the day, a time meant to be ignored: that date is the birthday.
/// Otherwise it is read in the mailbox's time zone (UTC without one), and a time past noon
/// counts as the next day: Outlook stores local midnight, and historical offsets (or a writer
/// in another zone) can put that on the evening before.
pub fn birthday_from(ts: &str, tz: Option<&calcard::common::timezone::Tz>) -> Option<Date> {
    use chrono::{DateTime, NaiveDate, Timelike, Utc};
    let local = match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => {
            let utc = t.with_timezone(&Utc);
            if (utc.hour(), utc.minute()) == (11, 59) {
                return date_of(utc.date_naive());
            }
            match tz {
                Some(tz) => utc.with_timezone(tz).naive_local(),
                None => utc.naive_utc(),
            }
        }
        Err(_) => NaiveDate::parse_from_str(ts.get(..10)?, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
    };
    let date = if local.hour() >= 12 {
        local.date().succ_opt()?
    } else {
        local.date()
    };
    date_of(date)
}

fn date_of(date: chrono::NaiveDate) -> Option<Date> {
    use chrono::Datelike;
    let year = Some(date.year()).filter(|y| *y != NO_YEAR_MARKER);
    Date::new(year, date.month() as u8, date.day() as u8)
}

/// The timestamp Kith writes for a birthday: local midnight in the mailbox's zone (what
/// Outlook itself writes), else midnight UTC. A birthday without a year gets 1604, Apple's
/// and Kith's marker for "no year".
pub fn birthday_to(d: &Date, tz: Option<&calcard::common::timezone::Tz>) -> String {
    use chrono::{NaiveDate, TimeZone, Utc};
    let year = d.year.unwrap_or(NO_YEAR_MARKER);
    let Some(midnight) = NaiveDate::from_ymd_opt(year, d.month as u32, d.day as u32)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
    else {
        return String::new();
    };
    let utc = tz
        .and_then(|tz| tz.from_local_datetime(&midnight).earliest())
        .map(|local| local.with_timezone(&Utc).naive_utc())
        .unwrap_or(midnight);
    utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An ADR value as Outlook can hold it: PO box, extended address and street in one street.
fn outlook_address(v: &str) -> String {
    let p: Vec<&str> = v.split(';').map(str::trim).collect();
    let g = |i: usize| p.get(i).copied().unwrap_or("");
    let street = [g(0), g(1), g(2)]
        .iter()
        .filter(|x| !x.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    address(&["", "", &street, g(3), g(4), g(5), g(6)])
}

fn address_value(a: &Value) -> Option<String> {
    let parts = [
        "",
        "",
        s(a, "street"),
        s(a, "city"),
        s(a, "state"),
        s(a, "postalCode"),
        s(a, "countryOrRegion"),
    ];
    parts
        .iter()
        .any(|p| !p.trim().is_empty())
        .then(|| address(&parts))
}

/// A contact as Kith sees it.
pub fn to_item(c: &Value, tz: Option<&calcard::common::timezone::Tz>) -> SourceItem {
    let mut r = Record::default();
    r.set(Field::GivenName, s(c, "givenName"));
    r.set(Field::FamilyName, s(c, "surname"));
    r.set(Field::MiddleName, s(c, "middleName"));
    r.set(Field::Prefix, s(c, "title"));
    r.set(Field::Suffix, s(c, "generation"));
    // displayName is Outlook's FN: computed from the parts unless someone set their own.
    r.set(Field::FullName, s(c, "displayName"));
    r.fill_full_name();
    r.set(Field::Nickname, s(c, "nickName"));
    r.set(Field::Company, s(c, "companyName"));
    r.set(Field::Department, s(c, "department"));
    r.set(Field::Title, s(c, "jobTitle"));
    r.set(Field::Note, s(c, "personalNotes"));
    if let Some(d) = c
        .get("birthday")
        .and_then(Value::as_str)
        .and_then(|b| birthday_from(b, tz))
    {
        r.set(Field::Birthday, &d.canonical());
    }
    for e in c["emailAddresses"].as_array().into_iter().flatten() {
        r.add(Field::Email, s(e, "address"), None);
    }
    let phones = |k: &str| c[k].as_array().cloned().unwrap_or_default();
    for p in phones("businessPhones") {
        r.add(Field::Phone, p.as_str().unwrap_or(""), Some("work"));
    }
    for p in phones("homePhones") {
        r.add(Field::Phone, p.as_str().unwrap_or(""), Some("home"));
    }
    r.add(Field::Phone, s(c, "mobilePhone"), Some("cell"));
    r.add(Field::Url, s(c, "businessHomePage"), None);
    for (k, label) in [
        ("homeAddress", "home"),
        ("businessAddress", "work"),
        ("otherAddress", "other"),
    ] {
        if let Some(v) = address_value(&c[k]) {
            r.add(Field::Address, &v, Some(label));
        }
    }
    for cat in c["categories"].as_array().into_iter().flatten() {
        r.add(Field::Category, cat.as_str().unwrap_or(""), None);
    }
    let marker = c["singleValueExtendedProperties"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| s(p, "id").eq_ignore_ascii_case(MARKER_PROP))
        .map(|p| s(p, "value").to_string());
    SourceItem {
        id: s(c, "id").to_string(),
        record: r,
        line: 0,
        raw: None,
        etag: Some(s(c, "@odata.etag").to_string()).filter(|e| !e.is_empty()),
        marker,
    }
}

fn opt(v: Option<&str>) -> Value {
    v.map(|x| json!(x)).unwrap_or(Value::Null)
}

/// The contact's properties for `fields` of `r` (fitted first): every property when
/// creating, only the changed ones in a PATCH. `null` clears a value and a collection is sent
/// whole.
pub fn to_contact(
    r: &Record,
    fields: &[Field],
    tz: Option<&calcard::common::timezone::Tz>,
) -> Map<String, Value> {
    let r = fit(r.clone());
    let mut m = Map::new();
    let scalar = |m: &mut Map<String, Value>, f: Field, k: &str| {
        if fields.contains(&f) {
            m.insert(k.into(), opt(r.get(f)));
        }
    };
    scalar(&mut m, Field::GivenName, "givenName");
    scalar(&mut m, Field::FamilyName, "surname");
    scalar(&mut m, Field::MiddleName, "middleName");
    scalar(&mut m, Field::Prefix, "title");
    scalar(&mut m, Field::Suffix, "generation");
    scalar(&mut m, Field::Nickname, "nickName");
    scalar(&mut m, Field::Company, "companyName");
    scalar(&mut m, Field::Department, "department");
    scalar(&mut m, Field::Title, "jobTitle");
    scalar(&mut m, Field::Note, "personalNotes");
    if fields.contains(&Field::FullName) {
        m.insert("displayName".into(), opt(r.get(Field::FullName)));
    }
    if fields.contains(&Field::Birthday) {
        let b = r
            .get(Field::Birthday)
            .and_then(|b| Date::parse(b).ok().flatten())
            .map(|d| json!(birthday_to(&d, tz)));
        m.insert("birthday".into(), b.unwrap_or(Value::Null));
    }
    if fields.contains(&Field::Email) {
        let list: Vec<Value> = r
            .elems(Field::Email)
            .map(|(_, e)| json!({"address": e.value, "name": e.value}))
            .collect();
        m.insert("emailAddresses".into(), Value::Array(list));
    }
    if fields.contains(&Field::Phone) {
        let (mut business, mut home, mut mobile) = (Vec::new(), Vec::new(), None);
        for (_, e) in r.elems(Field::Phone) {
            match phone_slot(e.label.as_deref()) {
                "mobile" if mobile.is_none() => mobile = Some(e.value.clone()),
                "home" if home.len() < HOME_PHONES => home.push(e.value.clone()),
                _ if business.len() < BUSINESS_PHONES => business.push(e.value.clone()),
                _ => home.push(e.value.clone()),
            }
        }
        m.insert("businessPhones".into(), json!(business));
        m.insert("homePhones".into(), json!(home));
        m.insert("mobilePhone".into(), opt(mobile.as_deref()));
    }
    if fields.contains(&Field::Url) {
        m.insert(
            "businessHomePage".into(),
            opt(r.elems(Field::Url).next().map(|(_, e)| e.value.as_str())),
        );
    }
    if fields.contains(&Field::Address) {
        for k in ["homeAddress", "businessAddress", "otherAddress"] {
            m.insert(k.into(), json!({}));
        }
        for (_, e) in r.elems(Field::Address) {
            let p: Vec<&str> = e.value.split(';').map(str::trim).collect();
            let g = |i: usize| p.get(i).copied().unwrap_or("");
            m.insert(
                address_slot(e.label.as_deref()).into(),
                json!({"street": g(2), "city": g(3), "state": g(4), "postalCode": g(5), "countryOrRegion": g(6)}),
            );
        }
    }
    if fields.contains(&Field::Category) {
        let cats: Vec<&str> = r
            .elems(Field::Category)
            .map(|(_, e)| e.value.as_str())
            .collect();
        m.insert("categories".into(), json!(cats));
    }
    m
}

/// The fields on which two records differ (a PATCH carries only these). A changed name part
/// takes the display name along: Outlook recomputes it from the parts unless it is sent.
pub fn changed(a: &Record, b: &Record) -> Vec<Field> {
    let mut out: Vec<Field> = FIELDS
        .iter()
        .copied()
        .filter(|f| {
            if f.is_multi() {
                !a.elems(*f).map(|(k, _)| k).eq(b.elems(*f).map(|(k, _)| k))
            } else {
                normalize::text(a.get(*f).unwrap_or("")) != normalize::text(b.get(*f).unwrap_or(""))
            }
        })
        .collect();
    if out.iter().any(|f| NAME_PARTS.contains(f)) && !out.contains(&Field::FullName) {
        out.push(Field::FullName);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn birthdays_are_dates_in_the_mailbox_zone_and_no_year_survives() {
        let berlin = calcard::common::timezone::Tz::from_str("W. Europe Standard Time").unwrap();
        let new_york = calcard::common::timezone::Tz::from_str("Eastern Standard Time").unwrap();
        // Outlook in Berlin stores 22 Jul 1974 as local midnight: the evening before, UTC.
        let d = birthday_from("1974-07-21T22:00:00Z", Some(&berlin)).unwrap();
        assert_eq!(d.canonical(), "1974-07-22");
        // 1815 in Berlin had a historical offset (+0:53): still the right day.
        assert_eq!(
            birthday_from("1815-12-09T23:00:00Z", Some(&berlin))
                .unwrap()
                .canonical(),
            "1815-12-10"
        );
        // Exchange's own 11:59 UTC: the date as written, in any mailbox zone (east of UTC it
        // used to come out a day late).
        for tz in [Some(&berlin), Some(&new_york), None] {
            assert_eq!(
                birthday_from("1938-04-08T11:59:00Z", tz)
                    .unwrap()
                    .canonical(),
                "1938-04-08"
            );
        }
        // Without a zone: past noon UTC is the next day.
        assert_eq!(
            birthday_from("1974-07-21T22:00:00Z", None)
                .unwrap()
                .canonical(),
            "1974-07-22"
        );
        assert_eq!(
            birthday_from("1974-07-22", None).unwrap().canonical(),
            "1974-07-22"
        );
        assert_eq!(
            birthday_from("1974-07-22T04:00:00Z", Some(&new_york))
                .unwrap()
                .canonical(),
            "1974-07-22"
        );
        let no_year = Date::parse("--12-26").unwrap().unwrap();
        for tz in [Some(&berlin), Some(&new_york), None] {
            let written = birthday_to(&no_year, tz);
            assert!(written.starts_with("1604-12-2"), "{written}");
            assert_eq!(
                birthday_from(&written, tz).unwrap().canonical(),
                "--12-26",
                "{written}"
            );
            let d = Date::parse("1990-02-28").unwrap().unwrap();
            assert_eq!(birthday_from(&birthday_to(&d, tz), tz), Some(d));
        }
    }

    #[test]
    fn slots_limit_what_is_pushed_but_fit_is_stable() {
        let mut r = Record::default();
        for i in 0..5 {
            r.add(Field::Email, &format!("a{i}@example.org"), None);
        }
        for (n, l) in [
            ("+1 206 555 0001", "work"),
            ("+1 206 555 0002", "work"),
            ("+1 206 555 0003", "work"),
            ("+1 206 555 0004", "cell"),
            ("+1 206 555 0005", "cell"),
        ] {
            r.add(Field::Phone, n, Some(l));
        }
        let f = fit(r.clone());
        assert_eq!(f.elems(Field::Email).count(), EMAILS);
        // Two work phones, the third in a home slot, one mobile, the second mobile in home.
        assert_eq!(f.elems(Field::Phone).count(), 5);
        assert_eq!(fit(f.clone()), f, "fitting twice changes nothing");
        let body = to_contact(&r, FIELDS, None);
        assert_eq!(body["emailAddresses"].as_array().unwrap().len(), 3);
        assert_eq!(body["businessPhones"].as_array().unwrap().len(), 2);
        let back = to_item(&Value::Object(body), None);
        assert!(crate::merge::same(
            &back.record.project(FIELDS),
            &f.project(FIELDS)
        ));
    }
}
