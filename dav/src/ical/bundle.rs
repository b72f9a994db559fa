//! Whole calendars as one iCalendar file: joining stored objects into one VCALENDAR (export,
//! GET on a calendar) and splitting such a file back into one object per UID (import).
//!
//! Both work on content lines, not on a parsed model, so every component is copied exactly as
//! it was stored. Time zones are written once per TZID.

use std::collections::{BTreeMap, HashSet};

/// A top-level component of a VCALENDAR: its type, its lines (CRLF-terminated) and, for
/// VTIMEZONE, its TZID; for the others, its UID.
struct Block {
    kind: String,
    text: String,
    key: Option<String>,
}

/// `NAME` of a content line, upper-cased (parameters and value stripped).
fn prop_name(line: &str) -> String {
    line.split([';', ':'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase()
}

fn value(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, v)| v)
}

/// Cuts a VCALENDAR into its top-level components. Lines outside components (VERSION, PRODID,
/// METHOD, X-WR-CALNAME) are dropped; folded lines stay folded.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur: Option<Block> = None;
    // The unfolded text of the current line at depth 2, to read UID and TZID.
    let mut logical = String::new();
    let mut logical_depth = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\r', '\n']);
        let continuation = line.starts_with([' ', '\t']);
        if !continuation {
            if let Some(b) = cur.as_mut()
                && logical_depth == 2
                && b.key.is_none()
            {
                let name = prop_name(&logical);
                if (b.kind == "VTIMEZONE" && name == "TZID")
                    || (b.kind != "VTIMEZONE" && name == "UID")
                {
                    b.key = Some(value(&logical).trim().to_string());
                }
            }
            logical.clear();
            logical_depth = depth;
        }
        logical.push_str(if continuation { &line[1..] } else { line });
        if continuation {
            if let Some(b) = cur.as_mut() {
                b.text.push_str(line);
                b.text.push_str("\r\n");
            }
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if let Some(kind) = upper.strip_prefix("BEGIN:") {
            depth += 1;
            if depth == 2 {
                cur = Some(Block {
                    kind: kind.trim().to_string(),
                    text: String::new(),
                    key: None,
                });
            }
            logical_depth = depth;
        } else if upper.starts_with("END:") {
            if depth == 2
                && let Some(mut b) = cur.take()
            {
                b.text.push_str(line);
                b.text.push_str("\r\n");
                out.push(b);
                depth -= 1;
                continue;
            }
            depth = depth.saturating_sub(1);
        }
        if let Some(b) = cur.as_mut() {
            b.text.push_str(line);
            b.text.push_str("\r\n");
        }
    }
    out
}

/// Writes many stored objects as one VCALENDAR, streaming: [`Joiner::begin`], then
/// [`Joiner::push`] per object, then [`Joiner::end`]. Memory holds only the TZIDs written.
pub struct Joiner {
    zones: HashSet<String>,
}

impl Joiner {
    /// The VCALENDAR header, naming the calendar for clients that show it.
    pub fn begin(name: &str) -> (Joiner, String) {
        let name = name.replace(['\r', '\n'], " ");
        let head = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith//Kith//EN\r\nX-WR-CALNAME:{name}\r\n"
        );
        (
            Joiner {
                zones: HashSet::new(),
            },
            head,
        )
    }

    /// Appends the components of one stored object to `out`; a time zone already written is
    /// skipped.
    pub fn push(&mut self, data: &[u8], out: &mut String) {
        let text = String::from_utf8_lossy(data);
        for b in blocks(&text) {
            if b.kind == "VTIMEZONE" {
                let id = b.key.clone().unwrap_or_default();
                if !self.zones.insert(id) {
                    continue;
                }
            }
            out.push_str(&b.text);
        }
    }

    pub fn end(self) -> &'static str {
        "END:VCALENDAR\r\n"
    }
}

/// One object of a split calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub uid: String,
    pub text: String,
}

/// Splits a calendar file (one or more VCALENDARs) into one object per UID: a master and its
/// overrides stay together, with the time zones the object refers to. Components without a
/// UID are returned as errors by their type, so the caller can report them.
pub fn split(text: &str) -> (Vec<Piece>, Vec<String>) {
    let all = blocks(text);
    let zones: BTreeMap<String, &Block> = all
        .iter()
        .filter(|b| b.kind == "VTIMEZONE")
        .filter_map(|b| Some((b.key.clone()?, b)))
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut by_uid: BTreeMap<String, Vec<&Block>> = BTreeMap::new();
    let mut missing = Vec::new();
    for b in all.iter().filter(|b| b.kind != "VTIMEZONE") {
        match &b.key {
            Some(uid) if !uid.is_empty() => {
                if !by_uid.contains_key(uid) {
                    order.push(uid.clone());
                }
                by_uid.entry(uid.clone()).or_default().push(b);
            }
            _ => missing.push(b.kind.clone()),
        }
    }
    let pieces = order
        .into_iter()
        .map(|uid| {
            let comps = &by_uid[&uid];
            let mut text =
                String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kith//Kith//EN\r\n");
            for (id, z) in &zones {
                if comps.iter().any(|c| {
                    c.text.contains(&format!("TZID={id}"))
                        || c.text.contains(&format!("TZID=\"{id}\""))
                }) {
                    text.push_str(&z.text);
                }
            }
            for c in comps {
                text.push_str(&c.text);
            }
            text.push_str("END:VCALENDAR\r\n");
            Piece { uid, text }
        })
        .collect();
    (pieces, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

    fn object(uid: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{ZONE}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;TZID=Europe/Berlin:20260101T090000\r\nSUMMARY:A long summary that is\r\n  folded{extra}\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn join_then_split_gives_back_each_object() {
        let a = object("a", "");
        let b = object("b", " too");
        let (mut j, mut out) = Joiner::begin("Personal");
        j.push(a.as_bytes(), &mut out);
        j.push(b.as_bytes(), &mut out);
        out.push_str(j.end());
        assert_eq!(out.matches("BEGIN:VTIMEZONE").count(), 1, "{out}");
        assert_eq!(out.matches("BEGIN:VCALENDAR").count(), 1);
        assert!(out.contains("X-WR-CALNAME:Personal"));
        let (pieces, missing) = split(&out);
        assert!(missing.is_empty());
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].uid, "a");
        let body = |t: &str| t[t.find("BEGIN:VTIMEZONE").unwrap()..].to_string();
        assert_eq!(body(&pieces[0].text), body(&a));
        assert_eq!(body(&pieces[1].text), body(&b));
    }

    #[test]
    fn overrides_stay_with_their_master_and_uidless_components_are_reported() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:s\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nSUMMARY:no uid\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260102T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let (pieces, missing) = split(text);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].text.matches("BEGIN:VEVENT").count(), 2);
        assert!(!pieces[0].text.contains("VTIMEZONE"));
        assert_eq!(missing, vec!["VTODO".to_string()]);
    }
}
