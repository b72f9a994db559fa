//! Typed DAV request bodies: PROPFIND, PROPPATCH, extended MKCOL and the CardDAV/sync REPORTs.

use crate::filter::{Filter, FilterError};
use crate::ical::filter::{CalFilter, parse_utc};
use crate::names::{CALDAV, CARDDAV, DAV, Name};
use crate::partial::{CompSelect, PropSelect};
use crate::vcard::Version;
use crate::xml::{Element, XmlError, parse};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("unexpected root element {0}")]
    UnexpectedRoot(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("unsupported report {0}")]
    UnsupportedReport(String),
}

/// What a PROPFIND (or the `prop` of a REPORT) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    AllProp { include: Vec<Name> },
    PropName,
    Prop(Vec<Name>),
}

/// Properties requested, plus the `address-data` and `calendar-data` options a REPORT may
/// carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropSelection {
    pub props: PropRequest,
    /// The version asked for with `<card:address-data version="…">`.
    pub address_data_version: Option<Version>,
    /// The properties `<card:address-data>` names (RFC 6352 §10.4); `None`: the whole card.
    pub address_data_select: Option<CompSelect>,
    pub calendar_data: CalendarDataRequest,
}

/// The options of `<cal:calendar-data>` (RFC 4791 §9.6): ranges in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarDataRequest {
    pub expand: Option<(i64, i64)>,
    pub limit_recurrence_set: Option<(i64, i64)>,
    /// The `<cal:comp>` selection (RFC 4791 §9.6.1); `None`: the whole object.
    pub select: Option<CompSelect>,
}

/// The selection of one `<cal:comp>` (or of `<card:address-data>`, whose component is the
/// card) from its `prop`/`allprop` and `comp`/`allcomp` children. An element with none of them
/// selects the whole component, as RFC 4791's example (§7.8.1) does with
/// `<C:comp name="VTIMEZONE"/>`; otherwise the lists say exactly what is returned.
fn comp_select(el: &Element, ns: &str, name: String) -> CompSelect {
    let has = |local: &str| el.child(ns, local).is_some();
    if !(has("prop") || has("allprop") || has("comp") || has("allcomp")) {
        return CompSelect {
            name,
            props: None,
            comps: None,
        };
    }
    let props = (!has("allprop")).then(|| {
        el.children_named(ns, "prop")
            .filter_map(|p| {
                Some(PropSelect {
                    name: p.attr("name")?.to_string(),
                    novalue: p.attr("novalue") == Some("yes"),
                })
            })
            .collect()
    });
    let comps = (!has("allcomp")).then(|| {
        el.children_named(ns, "comp")
            .filter_map(|c| Some(comp_select(c, ns, c.attr("name")?.to_string())))
            .collect()
    });
    CompSelect { name, props, comps }
}

fn utc_range(el: &Element) -> Result<(i64, i64), RequestError> {
    let side = |name: &str| {
        let v = el
            .attr(name)
            .ok_or_else(|| RequestError::Invalid(format!("{} needs {name}", el.name)))?;
        parse_utc(v).ok_or_else(|| {
            RequestError::Invalid(format!("{}: {name}={v:?} is not a UTC date-time", el.name))
        })
    };
    let (s, e) = (side("start")?, side("end")?);
    if e <= s {
        return Err(RequestError::Invalid(format!(
            "{}: end is not after start",
            el.name
        )));
    }
    Ok((s, e))
}

impl PropSelection {
    pub fn wants(&self, ns: &str, local: &str) -> bool {
        match &self.props {
            PropRequest::Prop(names) => names.iter().any(|n| n.is(ns, local)),
            PropRequest::AllProp { include } => include.iter().any(|n| n.is(ns, local)),
            PropRequest::PropName => false,
        }
    }
}

fn parse_prop_selection(parent: &Element) -> Result<PropSelection, RequestError> {
    let mut address_data_version = None;
    let mut address_data_select = None;
    let mut calendar_data = CalendarDataRequest::default();
    let props = if parent.child(DAV, "propname").is_some() {
        PropRequest::PropName
    } else if parent.child(DAV, "allprop").is_some() {
        let include = parent
            .child(DAV, "include")
            .map(|i| {
                i.children
                    .iter()
                    .map(|c| Name::new(&c.ns, &c.name))
                    .collect()
            })
            .unwrap_or_default();
        PropRequest::AllProp { include }
    } else if let Some(prop) = parent.child(DAV, "prop") {
        let mut names = Vec::with_capacity(prop.children.len());
        for c in &prop.children {
            if c.is(CARDDAV, "address-data")
                && let Some(v) = c.attr("version")
            {
                address_data_version = Some(Version::parse(v).ok_or_else(|| {
                    RequestError::Invalid(format!("unsupported address-data version {v:?}"))
                })?);
            }
            if c.is(CARDDAV, "address-data") && c.child(CARDDAV, "prop").is_some() {
                address_data_select = Some(comp_select(c, CARDDAV, "VCARD".into()));
            }
            if c.is(CALDAV, "calendar-data") {
                if let Some(x) = c.child(CALDAV, "expand") {
                    calendar_data.expand = Some(utc_range(x)?);
                }
                if let Some(x) = c.child(CALDAV, "limit-recurrence-set") {
                    calendar_data.limit_recurrence_set = Some(utc_range(x)?);
                }
                if let Some(x) = c.child(CALDAV, "comp") {
                    let name = x.attr("name").unwrap_or("VCALENDAR").to_string();
                    calendar_data.select = Some(comp_select(x, CALDAV, name));
                }
            }
            names.push(Name::new(&c.ns, &c.name));
        }
        PropRequest::Prop(names)
    } else {
        PropRequest::AllProp {
            include: Vec::new(),
        }
    };
    Ok(PropSelection {
        props,
        address_data_version,
        address_data_select,
        calendar_data,
    })
}

/// Parses a PROPFIND body; an empty body means `allprop` (RFC 4918 §9.1).
pub fn parse_propfind(body: &[u8]) -> Result<PropSelection, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropSelection {
            props: PropRequest::AllProp {
                include: Vec::new(),
            },
            address_data_version: None,
            address_data_select: None,
            calendar_data: CalendarDataRequest::default(),
        });
    }
    let root = parse(body)?;
    if !root.is(DAV, "propfind") {
        return Err(RequestError::UnexpectedRoot(root.name));
    }
    if root.children.is_empty() {
        return Err(RequestError::Invalid(
            "propfind needs prop, allprop or propname".into(),
        ));
    }
    // RFC 4918 §14.20: one of the three (allprop may bring an include).
    let asks = ["prop", "allprop", "propname"]
        .iter()
        .filter(|n| root.child(DAV, n).is_some())
        .count();
    if asks > 1 {
        return Err(RequestError::Invalid(
            "a propfind asks for one of prop, allprop and propname, not several".into(),
        ));
    }
    parse_prop_selection(&root)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    Set(Name, Element),
    Remove(Name),
}

/// Parses a PROPPATCH body into its operations, in document order (RFC 4918 §9.2).
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PatchOp>, RequestError> {
    let root = parse(body)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(RequestError::UnexpectedRoot(root.name));
    }
    let mut ops = Vec::new();
    for action in &root.children {
        let set = if action.is(DAV, "set") {
            true
        } else if action.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in action.children_named(DAV, "prop") {
            for p in &prop.children {
                let name = Name::new(&p.ns, &p.name);
                ops.push(if set {
                    PatchOp::Set(name, p.clone())
                } else {
                    PatchOp::Remove(name)
                });
            }
        }
    }
    if ops.is_empty() {
        return Err(RequestError::Invalid(
            "propertyupdate changes nothing".into(),
        ));
    }
    Ok(ops)
}

/// An extended MKCOL (RFC 5689): the resource types and the other properties to set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mkcol {
    pub resourcetypes: Vec<Name>,
    pub props: Vec<(Name, Element)>,
}

/// Parses an extended MKCOL body, or with `calendar` a MKCALENDAR body (RFC 4791 §5.3.1),
/// whose resource type is implied.
pub fn parse_mkcol(body: &[u8], calendar: bool) -> Result<Mkcol, RequestError> {
    let mut out = Mkcol::default();
    if calendar {
        out.resourcetypes = vec![Name::new(DAV, "collection"), Name::new(CALDAV, "calendar")];
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(out);
        }
    }
    let root = parse(body)?;
    let expected = if calendar {
        root.is(CALDAV, "mkcalendar")
    } else {
        root.is(DAV, "mkcol")
    };
    if !expected {
        return Err(RequestError::UnexpectedRoot(root.name));
    }
    for set in root.children_named(DAV, "set") {
        for prop in set.children_named(DAV, "prop") {
            for p in &prop.children {
                if p.is(DAV, "resourcetype") {
                    out.resourcetypes = p
                        .children
                        .iter()
                        .map(|c| Name::new(&c.ns, &c.name))
                        .collect();
                } else {
                    out.props.push((Name::new(&p.ns, &p.name), p.clone()));
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    AddressbookMultiget {
        select: PropSelection,
        hrefs: Vec<String>,
    },
    AddressbookQuery {
        select: PropSelection,
        filter: Filter,
        limit: Option<usize>,
    },
    SyncCollection {
        select: PropSelection,
        token: String,
        /// `true` for sync-level infinite; Kith's collections have no sub-collections.
        infinite: bool,
        limit: Option<usize>,
    },
    CalendarMultiget {
        select: PropSelection,
        hrefs: Vec<String>,
    },
    CalendarQuery {
        select: PropSelection,
        filter: CalFilter,
        /// The query's own time zone for floating times (`cal:timezone`), if given.
        timezone: Option<String>,
    },
    /// RFC 4791 §7.10, in Unix seconds.
    FreeBusyQuery { start: i64, end: i64 },
    /// RFC 3744 §9.4: (properties, text to match) per search, and whether all must match.
    PrincipalPropertySearch {
        select: PropSelection,
        searches: Vec<(Vec<Name>, String)>,
        all_of: bool,
    },
    /// RFC 3744 §9.5.
    PrincipalSearchPropertySet,
}

fn nresults(limit: Option<&Element>, ns: &str) -> Result<Option<usize>, RequestError> {
    let Some(limit) = limit else { return Ok(None) };
    let n = limit
        .child(ns, "nresults")
        .ok_or_else(|| RequestError::Invalid("limit without nresults".into()))?;
    n.text
        .trim()
        .parse::<usize>()
        .map(Some)
        .map_err(|_| RequestError::Invalid(format!("nresults {:?} is not a number", n.text)))
}

/// The hrefs of an addressbook-multiget or calendar-multiget.
fn multiget_hrefs(root: &Element) -> Vec<String> {
    root.children_named(DAV, "href")
        .map(|h| h.text.trim().to_string())
        .collect()
}

pub fn parse_report(body: &[u8]) -> Result<Report, RequestError> {
    let root = parse(body)?;
    if root.is(CARDDAV, "addressbook-multiget") {
        return Ok(Report::AddressbookMultiget {
            select: parse_prop_selection(&root)?,
            hrefs: multiget_hrefs(&root),
        });
    }
    if root.is(CARDDAV, "addressbook-query") {
        let filter = match root.child(CARDDAV, "filter") {
            Some(f) => Filter::parse(f)?,
            None => Filter::default(),
        };
        return Ok(Report::AddressbookQuery {
            select: parse_prop_selection(&root)?,
            filter,
            limit: nresults(root.child(CARDDAV, "limit"), CARDDAV)?,
        });
    }
    if root.is(DAV, "sync-collection") {
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_string())
            .unwrap_or_default();
        let infinite = match root.child(DAV, "sync-level").map(|l| l.text.trim()) {
            Some("infinite") => true,
            Some("1") | None => false,
            Some(other) => return Err(RequestError::Invalid(format!("sync-level {other:?}"))),
        };
        return Ok(Report::SyncCollection {
            select: parse_prop_selection(&root)?,
            token,
            infinite,
            limit: nresults(root.child(DAV, "limit"), DAV)?,
        });
    }
    if root.is(CALDAV, "calendar-multiget") {
        return Ok(Report::CalendarMultiget {
            select: parse_prop_selection(&root)?,
            hrefs: multiget_hrefs(&root),
        });
    }
    if root.is(CALDAV, "calendar-query") {
        let filter = root.child(CALDAV, "filter").ok_or_else(|| {
            RequestError::Filter(FilterError::Invalid("calendar-query needs a filter".into()))
        })?;
        return Ok(Report::CalendarQuery {
            select: parse_prop_selection(&root)?,
            filter: CalFilter::parse(filter)?,
            timezone: root
                .child(CALDAV, "timezone")
                .map(|t| t.text.clone())
                .or_else(|| {
                    root.child(CALDAV, "timezone-id")
                        .map(|t| t.text.trim().to_string())
                }),
        });
    }
    if root.is(DAV, "principal-property-search") {
        let searches = root
            .children_named(DAV, "property-search")
            .map(|ps| {
                let props = ps
                    .child(DAV, "prop")
                    .map(|p| {
                        p.children
                            .iter()
                            .map(|c| Name::new(&c.ns, &c.name))
                            .collect()
                    })
                    .unwrap_or_default();
                let text = ps
                    .child(DAV, "match")
                    .map(|m| m.text.trim().to_string())
                    .unwrap_or_default();
                (props, text)
            })
            .collect();
        let mut select = parse_prop_selection(&root)?;
        // python-caldav puts the wanted properties beside an empty <prop/> instead of in it;
        // read them from there too.
        if let PropRequest::Prop(names) = &mut select.props {
            names.extend(
                root.children
                    .iter()
                    .filter(|c| {
                        !c.is(DAV, "prop")
                            && !c.is(DAV, "property-search")
                            && !c.is(DAV, "apply-to-principal-collection-set")
                    })
                    .map(|c| Name::new(&c.ns, &c.name)),
            );
        }
        return Ok(Report::PrincipalPropertySearch {
            select,
            searches,
            all_of: root.attr("test") != Some("anyof"),
        });
    }
    if root.is(DAV, "principal-search-property-set") {
        return Ok(Report::PrincipalSearchPropertySet);
    }
    if root.is(CALDAV, "free-busy-query") {
        let tr = root
            .child(CALDAV, "time-range")
            .ok_or_else(|| RequestError::Invalid("free-busy-query needs a time-range".into()))?;
        let (start, end) = utc_range(tr)?;
        return Ok(Report::FreeBusyQuery { start, end });
    }
    Err(RequestError::UnsupportedReport(format!(
        "{{{}}}{}",
        root.ns, root.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_variants() {
        assert!(matches!(
            parse_propfind(b"").unwrap().props,
            PropRequest::AllProp { .. }
        ));
        let s = parse_propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap();
        assert_eq!(s.props, PropRequest::PropName);
        let s = parse_propfind(br#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data version="4.0"/></D:prop></D:propfind>"#).unwrap();
        assert!(s.wants(DAV, "getetag"));
        assert_eq!(s.address_data_version, Some(Version::V4));
        assert!(parse_propfind(br#"<D:propfind xmlns:D="DAV:"/>"#).is_err());
    }

    #[test]
    fn sync_collection_parses_token_and_limit() {
        let r = parse_report(br#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:limit><d:nresults>5</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>"#).unwrap();
        match r {
            Report::SyncCollection { token, limit, .. } => {
                assert_eq!(token, "");
                assert_eq!(limit, Some(5));
            }
            _ => panic!("wrong report"),
        }
        assert!(matches!(
            parse_report(br#"<d:expand-property xmlns:d="DAV:"/>"#),
            Err(RequestError::UnsupportedReport(_))
        ));
    }

    #[test]
    fn proppatch_keeps_order() {
        let ops = parse_proppatch(br#"<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><z:a>1</z:a></d:prop></d:set><d:remove><d:prop><z:a/></d:prop></d:remove></d:propertyupdate>"#).unwrap();
        assert!(matches!(ops[0], PatchOp::Set(..)));
        assert!(matches!(ops[1], PatchOp::Remove(..)));
    }
}
