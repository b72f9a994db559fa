//! People API `Person` JSON ↔ [`Record`]. Server-computed values (`displayName`,
//! `formattedType`, `formattedValue`, `canonicalForm`, field metadata) are never read, so a
//! re-computed or re-localized value is not a change.

use crate::date::Date;
use crate::formats::SourceItem;
use crate::record::address;
use crate::record::{Field, Record};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `clientData` key under which Kith stores the card's name.
pub const MARKER_KEY: &str = "kith-card";

/// Everything Kith reads (`personFields`) and writes (`updatePersonFields`).
pub const PERSON_FIELDS: &str = "names,nicknames,organizations,birthdays,events,biographies,emailAddresses,phoneNumbers,urls,addresses,memberships,clientData,metadata";
pub const UPDATE_FIELDS: &str = "names,nicknames,organizations,birthdays,events,biographies,emailAddresses,phoneNumbers,urls,addresses,memberships";

/// The fields a Google contact holds: all of Kith's but LinkedIn's "connected on".
pub static FIELDS: std::sync::LazyLock<Vec<Field>> = std::sync::LazyLock::new(|| {
    Field::ALL
        .into_iter()
        .filter(|f| *f != Field::ConnectedOn)
        .collect()
});

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

fn date_of(v: &Value) -> Option<Date> {
    let d = v.get("date")?;
    let n = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
    // A year of 0 (or none) is Google's "no year".
    let year = Some(n("year") as i32).filter(|y| *y > 0);
    Date::new(year, n("month") as u8, n("day") as u8)
}

fn date_json(d: &Date) -> Value {
    match d.year {
        Some(y) => json!({"year": y, "month": d.month, "day": d.day}),
        None => json!({"month": d.month, "day": d.day}),
    }
}

/// Whether the change feed reports this person deleted.
pub fn is_deleted(p: &Value) -> bool {
    p.pointer("/metadata/deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A person as Kith sees it. `groups` names the user's contact groups by resource name.
pub fn to_item(p: &Value, groups: &HashMap<String, String>) -> SourceItem {
    let mut r = Record::default();
    if let Some(n) = list(p, "names").next() {
        r.set(Field::GivenName, str_of(n, "givenName"));
        r.set(Field::FamilyName, str_of(n, "familyName"));
        r.set(Field::MiddleName, str_of(n, "middleName"));
        r.set(Field::Prefix, str_of(n, "honorificPrefix"));
        r.set(Field::Suffix, str_of(n, "honorificSuffix"));
        r.set(Field::FullName, str_of(n, "unstructuredName"));
    }
    if let Some(n) = list(p, "nicknames").next() {
        r.set(Field::Nickname, str_of(n, "value"));
    }
    if let Some(o) = list(p, "organizations").next() {
        r.set(Field::Company, str_of(o, "name"));
        r.set(Field::Department, str_of(o, "department"));
        r.set(Field::Title, str_of(o, "title"));
    }
    if let Some(d) = list(p, "birthdays").find_map(date_of) {
        r.set(Field::Birthday, &d.canonical());
    }
    if let Some(d) = list(p, "events")
        .filter(|e| str_of(e, "type").eq_ignore_ascii_case("anniversary"))
        .find_map(date_of)
    {
        r.set(Field::Anniversary, &d.canonical());
    }
    if let Some(b) = list(p, "biographies").next() {
        r.set(Field::Note, str_of(b, "value"));
    }
    fn label(e: &Value) -> Option<&str> {
        Some(str_of(e, "type")).filter(|t| !t.is_empty())
    }
    for e in list(p, "emailAddresses") {
        r.add(Field::Email, str_of(e, "value"), label(e));
    }
    for e in list(p, "phoneNumbers") {
        r.add(Field::Phone, str_of(e, "value"), label(e));
    }
    for e in list(p, "urls") {
        r.add(Field::Url, str_of(e, "value"), label(e));
    }
    for a in list(p, "addresses") {
        let parts = [
            "poBox",
            "extendedAddress",
            "streetAddress",
            "city",
            "region",
            "postalCode",
            "country",
        ]
        .map(|k| str_of(a, k));
        if parts.iter().any(|p| !p.trim().is_empty()) {
            r.add(Field::Address, &address(&parts), label(a));
        }
    }
    for m in list(p, "memberships") {
        let g = m
            .pointer("/contactGroupMembership/contactGroupResourceName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(name) = groups.get(g) {
            r.add(Field::Category, name, None);
        }
    }
    let marker = list(p, "clientData")
        .find(|c| str_of(c, "key") == MARKER_KEY)
        .map(|c| str_of(c, "value").to_string());
    SourceItem {
        id: str_of(p, "resourceName").to_string(),
        record: r,
        line: 0,
        raw: None,
        etag: Some(str_of(p, "etag").to_string()).filter(|e| !e.is_empty()),
        marker,
    }
}

/// The Person body for a create or an update. `groups` maps category names (lowercase) to
/// group resource names; every contact stays in `myContacts`, as Google requires.
pub fn to_person(r: &Record, groups: &HashMap<String, String>, marker: Option<&str>) -> Value {
    let g = |f: Field| r.get(f).unwrap_or("");
    let mut p = serde_json::Map::new();
    let any = |fs: &[Field]| fs.iter().any(|f| r.get(*f).is_some());
    let names = if any(&[
        Field::GivenName,
        Field::FamilyName,
        Field::MiddleName,
        Field::Prefix,
        Field::Suffix,
        Field::FullName,
    ]) {
        vec![json!({
            "givenName": g(Field::GivenName),
            "familyName": g(Field::FamilyName),
            "middleName": g(Field::MiddleName),
            "honorificPrefix": g(Field::Prefix),
            "honorificSuffix": g(Field::Suffix),
            "unstructuredName": g(Field::FullName),
        })]
    } else {
        Vec::new()
    };
    p.insert("names".into(), Value::Array(names));
    let one = |f: Field| -> Vec<Value> {
        r.get(f)
            .map(|v| vec![json!({ "value": v })])
            .unwrap_or_default()
    };
    p.insert("nicknames".into(), Value::Array(one(Field::Nickname)));
    p.insert("biographies".into(), Value::Array(one(Field::Note)));
    let orgs = if any(&[Field::Company, Field::Department, Field::Title]) {
        vec![
            json!({"name": g(Field::Company), "department": g(Field::Department), "title": g(Field::Title)}),
        ]
    } else {
        Vec::new()
    };
    p.insert("organizations".into(), Value::Array(orgs));
    let date = |f: Field| r.get(f).and_then(|s| Date::parse(s).ok().flatten());
    p.insert(
        "birthdays".into(),
        Value::Array(
            date(Field::Birthday)
                .map(|d| vec![json!({ "date": date_json(&d) })])
                .unwrap_or_default(),
        ),
    );
    p.insert(
        "events".into(),
        Value::Array(
            date(Field::Anniversary)
                .map(|d| vec![json!({ "date": date_json(&d), "type": "anniversary" })])
                .unwrap_or_default(),
        ),
    );
    let elems = |f: Field| -> Vec<Value> {
        r.elems(f)
            .map(|(_, e)| match &e.label {
                Some(l) => json!({"value": e.value, "type": l}),
                None => json!({ "value": e.value }),
            })
            .collect()
    };
    p.insert("emailAddresses".into(), Value::Array(elems(Field::Email)));
    p.insert("phoneNumbers".into(), Value::Array(elems(Field::Phone)));
    p.insert("urls".into(), Value::Array(elems(Field::Url)));
    let addrs: Vec<Value> = r
        .elems(Field::Address)
        .map(|(_, e)| {
            let mut parts = e.value.split(';').map(str::trim);
            let mut next = || parts.next().unwrap_or("").to_string();
            let mut a = json!({
                "poBox": next(), "extendedAddress": next(), "streetAddress": next(),
                "city": next(), "region": next(), "postalCode": next(), "country": next(),
            });
            if let (Some(l), Some(o)) = (&e.label, a.as_object_mut()) {
                o.insert("type".into(), json!(l));
            }
            a
        })
        .collect();
    p.insert("addresses".into(), Value::Array(addrs));
    let mut memberships = vec![
        json!({"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}}),
    ];
    for (_, e) in r.elems(Field::Category) {
        if let Some(g) = groups.get(&e.value.to_lowercase()) {
            memberships.push(json!({"contactGroupMembership": {"contactGroupResourceName": g}}));
        }
    }
    p.insert("memberships".into(), Value::Array(memberships));
    if let Some(m) = marker {
        p.insert(
            "clientData".into(),
            json!([{ "key": MARKER_KEY, "value": m }]),
        );
    }
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_fields_are_not_read_and_no_year_birthdays_stay_without_a_year() {
        let groups = HashMap::from([("contactGroups/abc".to_string(), "Friends".to_string())]);
        let p = json!({
            "resourceName": "people/c1", "etag": "%E1",
            "names": [{"displayName": "Ada L.", "givenName": "Ada", "familyName": "Lovelace", "unstructuredName": "Ada Lovelace"}],
            "phoneNumbers": [{"value": "+44 20 7946 0000", "canonicalForm": "+442079460000", "type": "mobile", "formattedType": "Handy"}],
            "birthdays": [{"date": {"month": 12, "day": 10}, "text": "Dec 10"}],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/abc"}},
                            {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}}],
            "clientData": [{"key": MARKER_KEY, "value": "x.vcf"}]
        });
        let item = to_item(&p, &groups);
        assert_eq!(item.record.get(Field::FullName), Some("Ada Lovelace"));
        assert_eq!(item.record.get(Field::Birthday), Some("--12-10"));
        assert_eq!(item.marker.as_deref(), Some("x.vcf"));
        assert_eq!(item.etag.as_deref(), Some("%E1"));
        let cats: Vec<_> = item
            .record
            .elems(Field::Category)
            .map(|(_, e)| e.value.clone())
            .collect();
        assert_eq!(cats, ["Friends"]);
        // Round trip: what Kith writes reads back as the same record.
        let back = HashMap::from([("friends".to_string(), "contactGroups/abc".to_string())]);
        let mut body = to_person(&item.record, &back, Some("x.vcf"));
        body["resourceName"] = json!("people/c1");
        let again = to_item(&body, &groups);
        assert!(crate::merge::same(&again.record, &item.record));
        assert_eq!(body["birthdays"][0]["date"].get("year"), None);
    }
}
