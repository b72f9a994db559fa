//! iTIP (RFC 5546) for CalDAV scheduling (RFC 6638): the scheduling facts of a calendar object
//! (organizer, attendees per instance, their participation), and the messages made from it:
//! REQUEST, CANCEL and REPLY, an attendee's own copy, a reply applied to the organizer's copy,
//! and SCHEDULE-STATUS written back. Objects are handled as components of unfolded lines, so
//! what scheduling does not touch keeps its text.

use crate::lines::{fold, split, unfold, value_colon};

/// One property line: upper-cased name, parameters as sent (with their leading `;`), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub name: String,
    pub params: String,
    pub value: String,
}

/// A component and what it holds, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comp {
    pub name: String,
    pub props: Vec<Prop>,
    pub subs: Vec<Comp>,
}

/// The parameters of a property, split on `;` outside quotes: (upper-cased key, raw value).
fn params_of(params: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in params.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), v.to_string()),
            None => (p.to_ascii_uppercase(), String::new()),
        })
        .collect()
}

impl Prop {
    /// A parameter's value, unquoted; `None` if absent.
    pub fn param(&self, key: &str) -> Option<String> {
        params_of(&self.params)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim_matches('"').to_string())
    }

    /// Sets (or with `None` removes) a parameter.
    pub fn set_param(&mut self, key: &str, value: Option<&str>) {
        let mut list: Vec<(String, String)> = params_of(&self.params)
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(key))
            .collect();
        if let Some(v) = value {
            list.push((key.to_ascii_uppercase(), v.to_string()));
        }
        self.params = list
            .into_iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!(";{k}")
                } else {
                    format!(";{k}={v}")
                }
            })
            .collect();
    }

    /// The calendar user a property names (ORGANIZER, ATTENDEE): bare and lowercase.
    pub fn address(&self) -> String {
        bare(&self.value)
    }

    fn line(&self) -> String {
        format!("{}{}:{}", self.name, self.params, self.value)
    }
}

/// `mailto:X` → `x`: a calendar user address, bare and lowercase.
pub fn bare(address: &str) -> String {
    let a = address.trim();
    let a = if a.len() > 7 && a[..7].eq_ignore_ascii_case("mailto:") {
        &a[7..]
    } else {
        a
    };
    a.to_lowercase()
}

impl Comp {
    pub fn new(name: &str) -> Comp {
        Comp {
            name: name.to_string(),
            props: Vec::new(),
            subs: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|p| p.value.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Prop> {
        self.props.iter().filter(move |p| p.name == name)
    }

    pub fn push(&mut self, name: &str, params: &str, value: &str) {
        self.props.push(Prop {
            name: name.to_string(),
            params: params.to_string(),
            value: value.to_string(),
        });
    }

    /// The scheduled components (events and to-dos) of a VCALENDAR.
    pub fn items(&self) -> impl Iterator<Item = &Comp> {
        self.subs
            .iter()
            .filter(|c| c.name == "VEVENT" || c.name == "VTODO")
    }

    fn items_mut(&mut self) -> impl Iterator<Item = &mut Comp> {
        self.subs
            .iter_mut()
            .filter(|c| c.name == "VEVENT" || c.name == "VTODO")
    }

    /// The instance a component is: its RECURRENCE-ID, `None` for the master.
    pub fn instance(&self) -> Option<&str> {
        self.value("RECURRENCE-ID")
    }

    /// The ATTENDEE line of `who` (bare address).
    pub fn attendee(&self, who: &str) -> Option<&Prop> {
        self.all("ATTENDEE").find(|p| p.address() == who)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        fold(&format!("BEGIN:{}", self.name), out);
        for p in &self.props {
            fold(&p.line(), out);
        }
        for s in &self.subs {
            s.write(out);
        }
        fold(&format!("END:{}", self.name), out);
    }
}

/// Parses iCalendar text into its outermost component; `None` if it is not one.
pub fn parse(text: &str) -> Option<Comp> {
    let mut stack: Vec<Comp> = Vec::new();
    let mut done = None;
    for line in unfold(text) {
        if line.trim().is_empty() {
            continue;
        }
        value_colon(&line)?;
        let (_, name, params, value) = split(&line)?;
        match name.as_str() {
            "BEGIN" => stack.push(Comp::new(&value.to_ascii_uppercase())),
            "END" => {
                let c = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.subs.push(c),
                    None => done = Some(c),
                }
            }
            _ => stack.last_mut()?.props.push(Prop {
                name,
                params: params.to_string(),
                value: value.to_string(),
            }),
        }
    }
    done
}

/// A participant in one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub address: String,
    pub partstat: String,
    /// SCHEDULE-AGENT: `SERVER` (the default), `CLIENT` or `NONE`.
    pub agent: String,
}

/// The scheduling facts of a calendar object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub uid: String,
    pub organizer: String,
    /// The organizer's SCHEDULE-AGENT.
    pub organizer_agent: String,
    /// Each instance (RECURRENCE-ID, `None` for the master) with its attendees.
    pub instances: Vec<(Option<String>, Vec<Party>)>,
}

impl Facts {
    /// Everyone invited to some instance, the organizer left out, once each, in order.
    pub fn attendees(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, parties) in &self.instances {
            for p in parties {
                if p.address != self.organizer && !out.contains(&p.address) {
                    out.push(p.address.clone());
                }
            }
        }
        out
    }

    /// `who`'s participation in each instance they are invited to.
    pub fn partstats(&self, who: &str) -> Vec<(Option<String>, String)> {
        self.instances
            .iter()
            .filter_map(|(rid, ps)| {
                ps.iter()
                    .find(|p| p.address == who)
                    .map(|p| (rid.clone(), p.partstat.clone()))
            })
            .collect()
    }

    /// Whether the server schedules for `who` (SCHEDULE-AGENT absent or SERVER).
    pub fn server_schedules(&self, who: &str) -> bool {
        self.instances
            .iter()
            .flat_map(|(_, ps)| ps.iter())
            .filter(|p| p.address == who)
            .all(|p| p.agent == "SERVER")
    }
}

/// The scheduling facts of a VCALENDAR; `None` unless it has an organizer and an attendee.
pub fn facts(cal: &Comp) -> Option<Facts> {
    let first = cal.items().next()?;
    let organizer = cal.items().find_map(|c| c.get("ORGANIZER"))?;
    let mut instances = Vec::new();
    for c in cal.items() {
        let parties = c
            .all("ATTENDEE")
            .map(|a| Party {
                address: a.address(),
                partstat: a
                    .param("PARTSTAT")
                    .unwrap_or_else(|| "NEEDS-ACTION".into())
                    .to_ascii_uppercase(),
                agent: a
                    .param("SCHEDULE-AGENT")
                    .unwrap_or_else(|| "SERVER".into())
                    .to_ascii_uppercase(),
            })
            .collect();
        instances.push((c.instance().map(str::to_string), parties));
    }
    let f = Facts {
        uid: first.value("UID").unwrap_or("").to_string(),
        organizer: organizer.address(),
        organizer_agent: organizer
            .param("SCHEDULE-AGENT")
            .unwrap_or_else(|| "SERVER".into())
            .to_ascii_uppercase(),
        instances,
    };
    (!f.attendees().is_empty()).then_some(f)
}

/// The parameters only the server sets, taken off lines a message carries.
fn scrub(p: &mut Prop) {
    if p.name == "ATTENDEE" || p.name == "ORGANIZER" {
        p.set_param("SCHEDULE-STATUS", None);
        p.set_param("SCHEDULE-FORCE-SEND", None);
    }
}

fn message(cal: &Comp, method: &str) -> Comp {
    let mut m = Comp::new("VCALENDAR");
    for p in &cal.props {
        if p.name != "METHOD" {
            m.props.push(p.clone());
        }
    }
    m.push("METHOD", "", method);
    m.subs
        .extend(cal.subs.iter().filter(|s| s.name == "VTIMEZONE").cloned());
    m
}

/// The REQUEST that invites `who` (or, with `None`, everyone): the instances they are
/// invited to, without alarms (an attendee's alarms are theirs).
pub fn request(cal: &Comp, who: Option<&str>) -> Comp {
    let mut m = message(cal, "REQUEST");
    // Occurrences changed without them are not theirs: excluded from their series (as
    // CalendarServer does), so their copy does not keep the old time.
    let excluded = who.map(|w| left_out(cal, w)).unwrap_or_default();
    for c in cal.items() {
        if who.is_some_and(|w| c.attendee(w).is_none()) {
            continue;
        }
        let mut c = c.clone();
        c.subs.retain(|s| s.name != "VALARM");
        c.props.retain(|p| p.name != TAG_PROP);
        c.props.iter_mut().for_each(scrub);
        if c.instance().is_none() {
            for rid in &excluded {
                let params = rid_params(cal, rid);
                c.push("EXDATE", &params, rid);
            }
        }
        m.subs.push(c);
    }
    m
}

/// The parameters (a TZID) of the RECURRENCE-ID `rid` in `cal`.
fn rid_params(cal: &Comp, rid: &str) -> String {
    cal.items()
        .find(|c| c.instance() == Some(rid))
        .and_then(|c| c.get("RECURRENCE-ID"))
        .map(|p| p.params.clone())
        .unwrap_or_default()
}

/// Whether two REQUESTs for one attendee differ in what matters to them: not the stamp, nor
/// anyone's participation.
pub fn differs(a: &Comp, b: &Comp) -> bool {
    fn key(c: &Comp) -> String {
        let mut c = c.clone();
        for i in c.items_mut() {
            i.props
                .retain(|p| p.name != "DTSTAMP" && p.name != "LAST-MODIFIED");
            for p in i.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
                p.set_param("PARTSTAT", None);
                p.set_param("RSVP", None);
            }
        }
        c.to_text()
    }
    key(a) != key(b)
}

/// The CANCEL telling `who` that the instances `only` (all they are invited to, with
/// `None`) are off.
pub fn cancel(cal: &Comp, who: &str, only: Option<&[Option<String>]>) -> Option<Comp> {
    let mut m = message(cal, "CANCEL");
    for c in cal.items() {
        if c.attendee(who).is_none() {
            continue;
        }
        let rid = c.instance().map(str::to_string);
        if only.is_some_and(|o| !o.contains(&rid)) {
            continue;
        }
        let mut x = Comp::new(&c.name);
        for p in &c.props {
            if matches!(
                p.name.as_str(),
                "UID"
                    | "DTSTAMP"
                    | "RECURRENCE-ID"
                    | "DTSTART"
                    | "DTEND"
                    | "DUE"
                    | "SUMMARY"
                    | "ORGANIZER"
            ) {
                x.props.push(p.clone());
            }
        }
        if let Some(a) = c.attendee(who) {
            x.props.push(a.clone());
        }
        let seq = c
            .value("SEQUENCE")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        x.push("SEQUENCE", "", &(seq + 1).to_string());
        x.push("STATUS", "", "CANCELLED");
        x.props.iter_mut().for_each(scrub);
        m.subs.push(x);
    }
    (m.items().count() > 0).then_some(m)
}

/// The occurrences of a series `who` is invited to (by the master) but left out of by an
/// override: each moved or changed occurrence without them.
pub fn left_out(cal: &Comp, who: &str) -> Vec<String> {
    let in_master = cal
        .items()
        .any(|c| c.instance().is_none() && c.attendee(who).is_some());
    if !in_master {
        return Vec::new();
    }
    cal.items()
        .filter(|c| c.attendee(who).is_none())
        .filter_map(|c| c.instance().map(str::to_string))
        .collect()
}

/// The CANCEL telling `who` that the occurrences `rids` of the series are off for them.
pub fn cancel_occurrences(cal: &Comp, who: &str, rids: &[String]) -> Option<Comp> {
    let master = cal.items().find(|c| c.instance().is_none())?;
    let mut m = message(cal, "CANCEL");
    for rid in rids {
        let mut x = Comp::new(&master.name);
        for p in &master.props {
            if matches!(p.name.as_str(), "UID" | "DTSTAMP" | "SUMMARY" | "ORGANIZER") {
                x.props.push(p.clone());
            }
        }
        x.push("RECURRENCE-ID", &rid_params(cal, rid), rid);
        if let Some(a) = master.attendee(who) {
            x.props.push(a.clone());
        }
        x.push("STATUS", "", "CANCELLED");
        x.props.iter_mut().for_each(scrub);
        m.subs.push(x);
    }
    (!rids.is_empty()).then_some(m)
}

/// The REPLY in which `who` answers for each instance they are invited to, with their
/// participation as `cal` (their copy) has it; `partstat` overrides it (a decline on delete).
pub fn reply(cal: &Comp, who: &str, partstat: Option<&str>) -> Option<Comp> {
    let mut m = message(cal, "REPLY");
    for c in cal.items() {
        let Some(a) = c.attendee(who) else {
            continue;
        };
        let mut x = Comp::new(&c.name);
        for p in &c.props {
            if matches!(
                p.name.as_str(),
                "UID" | "DTSTAMP" | "RECURRENCE-ID" | "DTSTART" | "SEQUENCE" | "ORGANIZER"
            ) {
                x.props.push(p.clone());
            }
        }
        let mut a = a.clone();
        if let Some(ps) = partstat {
            a.set_param("PARTSTAT", Some(ps));
        }
        a.set_param("RSVP", None);
        x.props.push(a);
        x.props.iter_mut().for_each(scrub);
        m.subs.push(x);
    }
    (m.items().count() > 0).then_some(m)
}

/// The copy of a REQUEST kept in `who`'s calendar: the organizer's data, with the
/// participation and alarms `who` had in their previous copy.
pub fn attendee_copy(request: &Comp, previous: Option<&Comp>, who: &str) -> Comp {
    let mut copy = request.clone();
    copy.props.retain(|p| p.name != "METHOD");
    for c in copy.items_mut() {
        let rid = c.instance().map(str::to_string);
        let before = previous.and_then(|p| {
            p.items()
                .find(|x| x.instance().map(str::to_string) == rid)
                .or_else(|| p.items().find(|x| x.instance().is_none()))
        });
        let partstat = before
            .and_then(|b| b.attendee(who))
            .and_then(|a| a.param("PARTSTAT"));
        if let Some(ps) = partstat
            && let Some(a) = c
                .props
                .iter_mut()
                .find(|p| p.name == "ATTENDEE" && p.address() == who)
        {
            a.set_param("PARTSTAT", Some(&ps));
        }
        if let Some(b) = before {
            c.subs
                .extend(b.subs.iter().filter(|s| s.name == "VALARM").cloned());
        }
    }
    copy
}

/// Applies `reply` to the organizer's copy: each answered instance's ATTENDEE gets the
/// participation, with SCHEDULE-STATUS 2.0 (delivered). Returns whether anything changed.
pub fn apply_reply(org: &mut Comp, reply: &Comp) -> bool {
    let mut changed = false;
    for r in reply.items() {
        let Some(answer) = r.get("ATTENDEE") else {
            continue;
        };
        let who = answer.address();
        let ps = answer
            .param("PARTSTAT")
            .unwrap_or_else(|| "NEEDS-ACTION".into());
        let rid = r.instance().map(str::to_string);
        for c in org.items_mut() {
            if c.instance().map(str::to_string) != rid {
                continue;
            }
            for a in c.props.iter_mut() {
                if a.name == "ATTENDEE"
                    && a.address() == who
                    && a.param("PARTSTAT").as_deref() != Some(ps.as_str())
                {
                    a.set_param("PARTSTAT", Some(&ps));
                    a.set_param("SCHEDULE-STATUS", Some("2.0"));
                    changed = true;
                }
            }
        }
    }
    changed
}

/// Writes SCHEDULE-STATUS onto the organizer's ATTENDEE lines: `status(address)` gives the
/// code, `None` leaves a line as it is. Returns whether anything changed.
pub fn set_status(cal: &mut Comp, status: &dyn Fn(&str) -> Option<&'static str>) -> bool {
    let mut changed = false;
    for c in cal.items_mut() {
        for a in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if let Some(code) = status(&a.address())
                && a.param("SCHEDULE-STATUS").as_deref() != Some(code)
            {
                a.set_param("SCHEDULE-STATUS", Some(code));
                changed = true;
            }
        }
    }
    changed
}

/// Sets `who`'s participation in every instance they are invited to.
pub fn set_partstat(cal: &mut Comp, who: &str, partstat: &str) {
    for c in cal.items_mut() {
        for a in c.props.iter_mut() {
            if a.name == "ATTENDEE" && a.address() == who {
                a.set_param("PARTSTAT", Some(partstat));
                a.set_param("RSVP", None);
            }
        }
    }
}

/// The Schedule-Tag of a scheduling object (RFC 6638 §3.2.10), quoted; `None` for an object
/// without an organizer. It changes with what the organizer decides, not with the
/// participation Kith merges in from replies or the statuses it writes back, so an attendee's
/// client can save its answer with `If-Schedule-Tag-Match` while replies keep arriving.
pub fn schedule_tag(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    if !text.contains("ORGANIZER") {
        return None;
    }
    let cal = parse(text)?;
    cal.items().find_map(|c| c.get("ORGANIZER"))?;
    // An attendee's copy carries the tag its last delivery gave it: whatever their client
    // writes back around their answer, the tag moves only when the organizer's update does.
    if let Some(t) = cal.items().find_map(|c| c.value(TAG_PROP)) {
        return Some(format!("\"{}\"", t.trim()));
    }
    Some(content_tag(&cal))
}

/// The property a delivered copy keeps its Schedule-Tag in.
pub const TAG_PROP: &str = "X-KITH-SCHEDULE-TAG";

/// Gives an attendee's copy a Schedule-Tag of its own (see [`schedule_tag`]).
pub fn stamp_tag(cal: &mut Comp) {
    for c in cal.items_mut() {
        c.props.retain(|p| p.name != TAG_PROP);
    }
    let tag = content_tag(cal);
    let bare = tag.trim_matches('"').to_string();
    for c in cal.items_mut() {
        c.push(TAG_PROP, "", &bare);
    }
}

fn content_tag(cal: &Comp) -> String {
    // What the organizer decides, read as values: a client that writes the same event back
    // in its own order, case and folding, or with only its answer changed, keeps the tag.
    const DECIDED: [&str; 13] = [
        "UID",
        "RECURRENCE-ID",
        "DTSTART",
        "DTEND",
        "DUE",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "SUMMARY",
        "LOCATION",
        "STATUS",
        "SEQUENCE",
    ];
    let mut items: Vec<String> = cal
        .items()
        .map(|c| {
            let mut parts: Vec<String> = c
                .props
                .iter()
                .filter(|p| DECIDED.contains(&p.name.as_str()))
                .map(|p| {
                    format!(
                        "{}={}{}",
                        p.name,
                        p.param("TZID").unwrap_or_default(),
                        p.value.trim()
                    )
                })
                .collect();
            parts.extend(c.all("ORGANIZER").map(|p| format!("O={}", p.address())));
            let mut who: Vec<String> = c.all("ATTENDEE").map(|p| p.address()).collect();
            who.sort();
            parts.extend(who.into_iter().map(|a| format!("A={a}")));
            parts.sort();
            parts.join("\n")
        })
        .collect();
    items.sort();
    let h = items
        .join("\n--\n")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("\"{h:016x}\"")
}

/// A free-busy request POSTed to an outbox (RFC 6638 §5): who asks, about whom, for when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRequest {
    pub organizer: String,
    pub attendees: Vec<String>,
    pub start: String,
    pub end: String,
    pub uid: Option<String>,
}

/// Reads a VFREEBUSY REQUEST; the error says what is missing.
pub fn freebusy_request(text: &str) -> Result<FreeBusyRequest, String> {
    let cal = parse(text).ok_or("the body is not an iCalendar object")?;
    if !cal
        .value("METHOD")
        .is_some_and(|m| m.eq_ignore_ascii_case("REQUEST"))
    {
        return Err("a free-busy request needs METHOD:REQUEST".into());
    }
    let fb = cal
        .subs
        .iter()
        .find(|c| c.name == "VFREEBUSY")
        .ok_or("a free-busy request holds one VFREEBUSY")?;
    let organizer = fb
        .value("ORGANIZER")
        .ok_or("the VFREEBUSY has no ORGANIZER")?;
    let attendees: Vec<String> = fb.all("ATTENDEE").map(|a| a.value.clone()).collect();
    if attendees.is_empty() {
        return Err("the VFREEBUSY names no ATTENDEE".into());
    }
    Ok(FreeBusyRequest {
        organizer: organizer.to_string(),
        attendees,
        start: fb
            .value("DTSTART")
            .ok_or("the VFREEBUSY has no DTSTART")?
            .to_string(),
        end: fb
            .value("DTEND")
            .ok_or("the VFREEBUSY has no DTEND")?
            .to_string(),
        uid: fb.value("UID").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEETING: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270105T100000Z\r\n\
DTEND:20270105T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\n\
ORGANIZER;CN=Ann:mailto:ann@example.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\n\
ATTENDEE;CN=\"Bob; B\";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Bob@Example.org\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20270101T000000Z\r\nRECURRENCE-ID:20270112T100000Z\r\n\
DTSTART:20270112T120000Z\r\nDTEND:20270112T130000Z\r\nSUMMARY:Weekly (moved)\r\n\
ORGANIZER;CN=Ann:mailto:ann@example.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn facts_name_the_organizer_and_each_instance_s_attendees() {
        let cal = parse(MEETING).unwrap();
        let f = facts(&cal).unwrap();
        assert_eq!(f.uid, "m1");
        assert_eq!(f.organizer, "ann@example.org");
        assert_eq!(f.attendees(), ["bob@example.org", "carol@example.org"]);
        assert_eq!(
            f.partstats("carol@example.org"),
            [(
                Some("20270112T100000Z".to_string()),
                "NEEDS-ACTION".to_string()
            )]
        );
        let bob = cal
            .items()
            .next()
            .unwrap()
            .attendee("bob@example.org")
            .unwrap();
        assert_eq!(bob.param("CN").as_deref(), Some("Bob; B"));
    }

    #[test]
    fn a_request_holds_only_the_attendee_s_instances_without_alarms() {
        let cal = parse(MEETING).unwrap();
        let carol = request(&cal, Some("carol@example.org"));
        assert_eq!(carol.value("METHOD"), Some("REQUEST"));
        assert_eq!(carol.items().count(), 1, "only the moved instance");
        let bob = request(&cal, Some("bob@example.org"));
        assert_eq!(bob.items().count(), 2);
        assert!(!bob.to_text().contains("VALARM"));
        // Only a participation changed: not worth a new request.
        let mut later = cal.clone();
        later.subs[0].props.iter_mut().for_each(|p| {
            if p.name == "DTSTAMP" {
                p.value = "20270102T000000Z".into();
            }
        });
        assert!(!differs(&request(&later, Some("bob@example.org")), &bob));
        later.subs[0].props.iter_mut().for_each(|p| {
            if p.name == "SUMMARY" {
                p.value = "Weekly sync".into();
            }
        });
        assert!(differs(&request(&later, Some("bob@example.org")), &bob));
    }

    #[test]
    fn a_reply_carries_the_answer_and_applies_to_the_organizer_s_copy() {
        let cal = parse(MEETING).unwrap();
        let req = request(&cal, Some("bob@example.org"));
        let mut copy = attendee_copy(&req, None, "bob@example.org");
        assert!(copy.value("METHOD").is_none());
        for c in copy.items_mut() {
            for a in c.props.iter_mut() {
                if a.name == "ATTENDEE" && a.address() == "bob@example.org" {
                    a.set_param("PARTSTAT", Some("ACCEPTED"));
                }
            }
        }
        let r = reply(&copy, "bob@example.org", None).unwrap();
        assert_eq!(r.value("METHOD"), Some("REPLY"));
        assert_eq!(r.items().count(), 2);
        let mut org = cal.clone();
        assert!(apply_reply(&mut org, &r));
        let f = facts(&org).unwrap();
        assert!(
            f.partstats("bob@example.org")
                .iter()
                .all(|(_, p)| p == "ACCEPTED")
        );
        assert!(!apply_reply(&mut org, &r), "applied once");
        // The attendee's next copy keeps their answer over a new request.
        let again = attendee_copy(&req, Some(&copy), "bob@example.org");
        assert!(
            facts(&again)
                .unwrap()
                .partstats("bob@example.org")
                .iter()
                .all(|(_, p)| p == "ACCEPTED")
        );
        let declined = reply(&copy, "bob@example.org", Some("DECLINED")).unwrap();
        assert!(declined.to_text().contains("PARTSTAT=DECLINED"));
    }

    #[test]
    fn a_cancel_names_the_instances_that_are_off() {
        let cal = parse(MEETING).unwrap();
        let all = cancel(&cal, "bob@example.org", None).unwrap();
        assert_eq!(all.items().count(), 2);
        assert!(all.to_text().contains("STATUS:CANCELLED"));
        let one = cancel(
            &cal,
            "bob@example.org",
            Some(&[Some("20270112T100000Z".to_string())]),
        )
        .unwrap();
        assert_eq!(one.items().count(), 1);
        // Someone invited to the series but not to the moved occurrence.
        let mut dave = cal.clone();
        dave.subs[0].push("ATTENDEE", "", "mailto:dave@example.org");
        assert_eq!(left_out(&dave, "dave@example.org"), ["20270112T100000Z"]);
        assert!(left_out(&dave, "bob@example.org").is_empty());
        let off = cancel_occurrences(
            &dave,
            "dave@example.org",
            &left_out(&dave, "dave@example.org"),
        )
        .unwrap();
        assert!(off.to_text().contains("RECURRENCE-ID:20270112T100000Z"));
        assert!(off.to_text().contains("STATUS:CANCELLED"));
        let theirs = request(&dave, Some("dave@example.org"));
        assert_eq!(theirs.items().count(), 1);
        assert!(theirs.to_text().contains("EXDATE:20270112T100000Z"));
        assert!(cancel(&cal, "dave@example.org", None).is_none());
    }

    #[test]
    fn statuses_are_written_once_and_round_trip() {
        let mut cal = parse(MEETING).unwrap();
        assert!(set_status(&mut cal, &|a| (a == "bob@example.org").then_some("1.2")));
        assert!(!set_status(&mut cal, &|a| (a == "bob@example.org").then_some("1.2")));
        let text = cal.to_text();
        assert!(
            text.replace("\r\n ", "")
                .contains("SCHEDULE-STATUS=1.2:mailto:Bob@Example.org"),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap(), cal);
        // SCHEDULE-STATUS never leaves in a message.
        assert!(!request(&cal, None).to_text().contains("SCHEDULE-STATUS"));
    }

    #[test]
    fn the_schedule_tag_ignores_replies_and_statuses_but_not_the_organizer() {
        let tag = schedule_tag(MEETING.as_bytes()).unwrap();
        let mut cal = parse(MEETING).unwrap();
        set_partstat(&mut cal, "bob@example.org", "ACCEPTED");
        set_status(&mut cal, &|_| Some("1.2"));
        assert_eq!(schedule_tag(cal.to_text().as_bytes()).unwrap(), tag);
        let moved = MEETING.replace("SUMMARY:Weekly\r\n", "SUMMARY:Weekly sync\r\n");
        assert_ne!(schedule_tag(moved.as_bytes()).unwrap(), tag);
        assert!(schedule_tag(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_none());
        // A delivered copy keeps the tag its delivery stamped, whatever its client rewrites.
        let mut copy = attendee_copy(
            &request(&parse(MEETING).unwrap(), Some("bob@example.org")),
            None,
            "bob@example.org",
        );
        stamp_tag(&mut copy);
        let stamped = schedule_tag(copy.to_text().as_bytes()).unwrap();
        copy.subs[0].push("X-CLIENT-NOTE", "", "rewritten");
        assert_eq!(schedule_tag(copy.to_text().as_bytes()).unwrap(), stamped);
        assert!(!request(&copy, None).to_text().contains(TAG_PROP));
    }

    #[test]
    fn a_free_busy_request_is_read_or_refused_with_the_reason() {
        let ok = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:f1\r\n\
DTSTART:20270101T000000Z\r\nDTEND:20270102T000000Z\r\nORGANIZER:mailto:ann@example.org\r\n\
ATTENDEE:mailto:bob@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let r = freebusy_request(ok).unwrap();
        assert_eq!(r.attendees, ["mailto:bob@example.org"]);
        assert_eq!(r.uid.as_deref(), Some("f1"));
        let err = freebusy_request(&ok.replace("METHOD:REQUEST\r\n", "")).unwrap_err();
        assert!(err.contains("METHOD:REQUEST"), "{err}");
    }
}
