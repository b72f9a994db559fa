//! Partial retrieval: the `prop` selection of `address-data` (RFC 6352 §10.4) and the
//! `comp`/`prop` selection of `calendar-data` (RFC 4791 §9.6.1). Both select components and
//! properties by name, so one line filter serves vCard and iCalendar; the lines it keeps are
//! the stored lines, byte for byte.
//!
//! An empty `comp` element returns its whole component: RFC 4791's own example (§7.8.1) asks
//! for `<C:comp name="VTIMEZONE"/>` and gets the whole time zone. Otherwise its `prop` and
//! `comp` lists say exactly what is returned (RFC 4791 §9.6.1).
//! VERSION is always kept, so the result still parses, and so is Apple's `X-ABLabel` of a kept
//! property's group (`item1.EMAIL` with `item1.X-ABLabel`), so a custom label is not lost.

use crate::lines::{split, unfold, value_colon};
use std::collections::HashSet;

/// What to return of one component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompSelect {
    pub name: String,
    /// `None`: every property.
    pub props: Option<Vec<PropSelect>>,
    /// `None`: every sub-component.
    pub comps: Option<Vec<CompSelect>>,
}

/// One property to return; with `novalue`, its name and parameters only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropSelect {
    pub name: String,
    pub novalue: bool,
}

/// Where a line sits: in a component returned whole, in a selected one, or in one left out.
#[derive(Clone, Copy)]
enum Scope<'a> {
    All,
    Some(&'a CompSelect),
    Out,
}

impl<'a> Scope<'a> {
    fn enter(self, comp: &str) -> Scope<'a> {
        match self {
            Scope::All => Scope::All,
            Scope::Out => Scope::Out,
            Scope::Some(sel) => match &sel.comps {
                None => Scope::All,
                Some(list) => list
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(comp))
                    .map_or(Scope::Out, scope_of),
            },
        }
    }
}

fn scope_of(sel: &CompSelect) -> Scope<'_> {
    if sel.props.is_none() && sel.comps.is_none() {
        Scope::All
    } else {
        Scope::Some(sel)
    }
}

/// What to do with a property line in `scope`: `None` leaves it out, `Some(false)` keeps it,
/// `Some(true)` keeps its name and parameters only.
fn keep_prop(scope: Scope<'_>, name: &str) -> Option<bool> {
    match scope {
        Scope::All => Some(false),
        Scope::Out => None,
        Scope::Some(sel) => match &sel.props {
            None => Some(false),
            Some(_) if name == "VERSION" => Some(false),
            Some(list) => list
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .map(|p| p.novalue),
        },
    }
}

/// `text` with only what `root` selects. `root` names the outermost component (`VCARD` or
/// `VCALENDAR`); text whose outermost component has another name comes back empty.
pub fn select(text: &str, root: &CompSelect) -> String {
    let lines = unfold(text);
    // Two passes: the first finds the groups of kept properties, so their labels come along.
    let mut groups = HashSet::new();
    walk(&lines, root, |_, group, name, keep| {
        if let (Some(g), Some(_)) = (group, keep)
            && name != "X-ABLABEL"
        {
            groups.insert(g.to_ascii_lowercase());
        }
    });
    let mut out = String::with_capacity(text.len());
    walk(&lines, root, |line, group, name, keep| {
        let label =
            name == "X-ABLABEL" && group.is_some_and(|g| groups.contains(&g.to_ascii_lowercase()));
        match keep {
            Some(false) => crate::lines::fold(line, &mut out),
            Some(true) => {
                let head = &line[..value_colon(line).unwrap_or(line.len())];
                crate::lines::fold(&format!("{head}:"), &mut out);
            }
            None if label => crate::lines::fold(line, &mut out),
            None => {}
        }
    });
    out
}

/// Calls `f` with each line, its group and name, and what [`keep_prop`] says of it; BEGIN and
/// END lines are kept exactly when their component is.
fn walk(
    lines: &[String],
    root: &CompSelect,
    mut f: impl FnMut(&str, Option<&str>, &str, Option<bool>),
) {
    let mut stack: Vec<Scope<'_>> = Vec::new();
    for line in lines {
        let Some((group, name, _, value)) = split(line) else {
            continue;
        };
        match name.as_str() {
            "BEGIN" => {
                let scope = match stack.last() {
                    Some(parent) => parent.enter(value),
                    None if root.name.eq_ignore_ascii_case(value) => scope_of(root),
                    None => Scope::Out,
                };
                stack.push(scope);
                f(
                    line,
                    None,
                    &name,
                    (!matches!(scope, Scope::Out)).then_some(false),
                );
            }
            "END" => {
                let scope = stack.pop().unwrap_or(Scope::Out);
                f(
                    line,
                    None,
                    &name,
                    (!matches!(scope, Scope::Out)).then_some(false),
                );
            }
            _ => {
                let scope = stack.last().copied().unwrap_or(Scope::Out);
                f(line, group, &name, keep_prop(scope, &name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str) -> PropSelect {
        PropSelect {
            name: name.into(),
            novalue: false,
        }
    }

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ann Example\r\n\
item1.EMAIL;TYPE=INTERNET:ann@example.org\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
item2.TEL:+1 555\r\nitem2.X-ABLabel:fax\r\nNOTE:long\r\n  text\r\nEND:VCARD\r\n";

    #[test]
    fn a_card_keeps_the_named_properties_version_and_their_labels() {
        let sel = CompSelect {
            name: "VCARD".into(),
            props: Some(vec![prop("EMAIL"), prop("uid")]),
            comps: None,
        };
        assert_eq!(
            select(CARD, &sel),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nitem1.EMAIL;TYPE=INTERNET:ann@example.org\r\n\
item1.X-ABLabel:_$!<Other>!$_\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn novalue_keeps_the_name_and_parameters() {
        let sel = CompSelect {
            name: "VCARD".into(),
            props: Some(vec![PropSelect {
                name: "NOTE".into(),
                novalue: true,
            }]),
            comps: None,
        };
        assert_eq!(
            select(CARD, &sel),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:\r\nEND:VCARD\r\n"
        );
    }

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:e\r\nSUMMARY:Talk\r\nDESCRIPTION:secret\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_calendar_keeps_selected_components_and_whole_empty_selections() {
        let sel = CompSelect {
            name: "VCALENDAR".into(),
            props: Some(vec![]),
            comps: Some(vec![
                CompSelect {
                    name: "VEVENT".into(),
                    props: Some(vec![prop("UID"), prop("SUMMARY")]),
                    comps: Some(vec![]),
                },
                CompSelect {
                    name: "VTIMEZONE".into(),
                    ..Default::default()
                },
            ]),
        };
        assert_eq!(
            select(CAL, &sel),
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\n\
TZOFFSETTO:+0000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:e\r\nSUMMARY:Talk\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn another_root_selects_nothing() {
        let sel = CompSelect {
            name: "VCALENDAR".into(),
            ..Default::default()
        };
        assert_eq!(select(CARD, &sel), "");
    }
}
