//! Live properties of each resource, for PROPFIND and for the `prop` of REPORTs.

use super::paths::{collection_href, home_href, principal_href};
use crate::config::Config;
use crate::core::access::Access;
use crate::store::{Collection, Kind, ObjectMeta, User};
use kith_dav::multistatus::{PropValue, hrefs};
use kith_dav::names::{CALDAV, CALSERVER, CARDDAV, DAV, Name, PUSH};
use kith_dav::request::{PropRequest, PropSelection};
use kith_dav::xml::escape;

/// A resource as PROPFIND sees it.
pub enum Resource<'a> {
    Root,
    Principal,
    Home,
    /// An address book or calendar, with its dead properties.
    Collection(&'a Collection, &'a [(String, String, String)]),
    /// A card or calendar object, with the collection it is in.
    Member(&'a ObjectMeta, &'a Collection),
}

/// What every property renderer needs: the authenticated user and server settings.
pub struct PropCtx<'a> {
    /// Who asks.
    pub user: &'a User,
    /// Whose principal and homes the request names: the asker, or the delegator a delegate
    /// reads (Apple's calendar proxies).
    pub subject: &'a str,
    pub config: &'a Config,
    /// WebDAV-Push, when it is on.
    pub push: Option<&'a crate::core::push::PushService>,
}

pub fn sync_token(c: &Collection) -> String {
    sync_token_at(c, c.seq)
}

/// The sync token of collection `c` as of change stamp `seq`.
pub fn sync_token_at(c: &Collection, seq: i64) -> String {
    kith_dav::sync_token::format(c.id, seq)
}

/// Parses our sync token for collection `c`; `None` if it is not ours or not for `c`.
pub fn parse_sync_token(c: &Collection, token: &str) -> Option<i64> {
    kith_dav::sync_token::parse(c.id, token)
}

pub use crate::time::http_date;

const PRIVS_OWNER: &str = "<d:privilege><d:all/></d:privilege><d:privilege><d:read/></d:privilege>\
<d:privilege><d:write/></d:privilege><d:privilege><d:write-properties/></d:privilege>\
<d:privilege><d:write-content/></d:privilege><d:privilege><d:bind/></d:privilege>\
<d:privilege><d:unbind/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege>";
const PRIVS_READ: &str = "<d:privilege><d:read/></d:privilege>\
<d:privilege><d:read-current-user-privilege-set/></d:privilege>";
/// A scheduling inbox: read its messages, delete them, and receive deliveries (RFC 6638 §6.1).
const PRIVS_INBOX: &str = "<d:privilege><d:read/></d:privilege>\
<d:privilege><d:unbind/></d:privilege><d:privilege><cal:schedule-deliver/></d:privilege>\
<d:privilege><d:read-current-user-privilege-set/></d:privilege>";
/// A scheduling outbox: POST free-busy requests (RFC 6638 §6.2).
const PRIVS_OUTBOX: &str = "<d:privilege><d:read/></d:privilege>\
<d:privilege><cal:schedule-send/></d:privilege>\
<d:privilege><d:read-current-user-privilege-set/></d:privilege>";
/// A read-write sharee: the members, not the collection's own properties (its owner's).
const PRIVS_WRITE: &str = "<d:privilege><d:read/></d:privilege>\
<d:privilege><d:write-content/></d:privilege><d:privilege><d:bind/></d:privilege>\
<d:privilege><d:unbind/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege>";

/// What the caller may do in collection `c` (and with its members).
fn privileges(c: &Collection) -> &'static str {
    if crate::core::scheduling::boxes::is_inbox(c) {
        return PRIVS_INBOX;
    }
    if crate::core::scheduling::boxes::is_outbox(c) {
        return PRIVS_OUTBOX;
    }
    if c.derived.is_some() {
        return PRIVS_READ;
    }
    match Access::of(c) {
        Access::Owner => PRIVS_OWNER,
        Access::Write => PRIVS_WRITE,
        Access::Read => PRIVS_READ,
    }
}

/// Who owns collection `c`: its sharer, or the caller.
fn owner_of<'a>(c: &'a Collection, user: &'a str) -> &'a str {
    c.shared.as_ref().map_or(user, |s| s.owner_name.as_str())
}

/// The `DAV:acl` of collection `c` as the caller may read it (RFC 3744 §5.5): the owner's
/// grant, and for a sharee their own; other sharees are not shown.
fn acl(c: &Collection, user: &str) -> String {
    let ace = |who: &str, privs: &str, protected: bool| {
        format!(
            "<d:ace><d:principal><d:href>{}</d:href></d:principal><d:grant>{privs}</d:grant>{}</d:ace>",
            escape(&principal_href(who)),
            if protected { "<d:protected/>" } else { "" }
        )
    };
    let mut out = ace(
        owner_of(c, user),
        "<d:privilege><d:all/></d:privilege>",
        true,
    );
    if c.shared.is_some() {
        out.push_str(&ace(user, privileges(c), false));
    }
    out
}

const BOOK_REPORTS: &str = "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>\
<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>\
<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>";
const CALENDAR_REPORTS: &str = "<d:supported-report><d:report><cal:calendar-multiget/></d:report></d:supported-report>\
<d:supported-report><d:report><cal:calendar-query/></d:report></d:supported-report>\
<d:supported-report><d:report><cal:free-busy-query/></d:report></d:supported-report>\
<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>";
const COLLATIONS: &str = "<cal:supported-collation>i;ascii-casemap</cal:supported-collation>\
<cal:supported-collation>i;unicode-casemap</cal:supported-collation>\
<cal:supported-collation>i;octet</cal:supported-collation>";

/// The widest dates Kith accepts (RFC 4791 §5.2.6-7): it sets no limit of its own.
const MIN_DATE_TIME: &str = "00010101T000000Z";
const MAX_DATE_TIME: &str = "99991231T235959Z";

fn n(ns: &str, local: &str) -> Name {
    Name::new(ns, local)
}

/// The live properties a resource has (for allprop and propname).
pub fn live_names(res: &Resource<'_>) -> Vec<Name> {
    let mut v = vec![
        n(DAV, "resourcetype"),
        n(DAV, "current-user-principal"),
        n(DAV, "current-user-privilege-set"),
        n(DAV, "supported-report-set"),
    ];
    match res {
        Resource::Root => {}
        Resource::Principal => v.extend([
            n(DAV, "displayname"),
            n(DAV, "principal-URL"),
            n(DAV, "owner"),
            n(DAV, "principal-collection-set"),
            n(CARDDAV, "addressbook-home-set"),
            n(CALDAV, "calendar-home-set"),
            n(CALDAV, "calendar-user-address-set"),
            n(CALDAV, "schedule-inbox-URL"),
            n(CALDAV, "schedule-outbox-URL"),
            n(CALDAV, "calendar-user-type"),
        ]),
        Resource::Home => v.extend([n(DAV, "displayname"), n(DAV, "owner")]),
        Resource::Collection(c, _) => {
            v.extend([
                n(DAV, "displayname"),
                n(DAV, "owner"),
                n(DAV, "sync-token"),
                n(DAV, "getlastmodified"),
                n(CALSERVER, "getctag"),
            ]);
            match c.kind {
                Kind::Addressbook => v.extend([
                    n(CARDDAV, "addressbook-description"),
                    n(CARDDAV, "supported-address-data"),
                    n(CARDDAV, "max-resource-size"),
                ]),
                Kind::Calendar => v.extend([
                    n(CALDAV, "calendar-description"),
                    n(CALDAV, "supported-calendar-component-set"),
                    n(CALDAV, "supported-calendar-data"),
                    n(CALDAV, "max-resource-size"),
                    n(CALDAV, "min-date-time"),
                    n(CALDAV, "max-date-time"),
                    n(CALDAV, "max-instances"),
                    n(CALDAV, "supported-collation-set"),
                ]),
            }
            if c.timezone.is_some() {
                v.push(n(CALDAV, "calendar-timezone"));
            }
        }
        Resource::Member(..) => v.extend([
            n(DAV, "getetag"),
            n(DAV, "getcontenttype"),
            n(DAV, "getcontentlength"),
            n(DAV, "getlastmodified"),
            n(DAV, "owner"),
        ]),
    }
    v
}

/// Renders one live or dead property; `None` means the resource does not have it (404).
pub fn render(ctx: &PropCtx<'_>, res: &Resource<'_>, name: &Name) -> Option<String> {
    let user = ctx.user.name.as_str();
    let subject = ctx.subject;
    if name.ns == DAV {
        let v = match (name.local.as_str(), res) {
            ("resourcetype", Resource::Root | Resource::Home) => "<d:collection/>".to_string(),
            ("resourcetype", Resource::Principal) => "<d:collection/><d:principal/>".to_string(),
            ("resourcetype", Resource::Collection(c, _))
                if crate::core::scheduling::boxes::is_inbox(c) =>
            {
                "<d:collection/><cal:schedule-inbox/>".into()
            }
            ("resourcetype", Resource::Collection(c, _))
                if crate::core::scheduling::boxes::is_outbox(c) =>
            {
                "<d:collection/><cal:schedule-outbox/>".into()
            }
            ("resourcetype", Resource::Collection(c, _)) => match (c.kind, &c.shared) {
                (Kind::Addressbook, _) => "<d:collection/><card:addressbook/>".into(),
                // CalendarServer's mark of a calendar another user shares (caldav-sharing):
                // Apple Calendar shows it as shared and offers no sharing of its own.
                (Kind::Calendar, Some(_)) => "<d:collection/><cal:calendar/><cs:shared/>".into(),
                (Kind::Calendar, None) => "<d:collection/><cal:calendar/>".into(),
            },
            // draft-pot-webdav-resource-sharing: what the caller's share allows.
            ("share-access", Resource::Collection(c, _)) => match &c.shared {
                Some(s) if s.writable => "<d:read-write/>".into(),
                Some(_) => "<d:read/>".into(),
                None => return None,
            },
            ("resourcetype", Resource::Member(..)) => String::new(),
            ("current-user-principal", _) => hrefs(&[&principal_href(user)]),
            ("principal-URL", Resource::Principal) => hrefs(&[&principal_href(subject)]),
            ("principal-collection-set", Resource::Principal) => hrefs(&["/dav/principals/"]),
            ("owner", Resource::Collection(c, _) | Resource::Member(_, c)) => {
                hrefs(&[&principal_href(owner_of(c, user))])
            }
            ("owner", Resource::Principal | Resource::Home) => hrefs(&[&principal_href(subject)]),
            ("acl", Resource::Collection(c, _) | Resource::Member(_, c)) => acl(c, user),
            ("displayname", Resource::Principal | Resource::Home) => escape(subject).into_owned(),
            ("displayname", Resource::Collection(c, _)) => {
                escape(c.displayname.as_deref()?).into_owned()
            }
            ("current-user-privilege-set", Resource::Root) => PRIVS_READ.to_string(),
            ("current-user-privilege-set", Resource::Collection(c, _) | Resource::Member(_, c)) => {
                privileges(c).to_string()
            }
            ("current-user-privilege-set", _) => {
                if subject == user {
                    PRIVS_OWNER.to_string()
                } else {
                    PRIVS_READ.to_string()
                }
            }
            ("supported-report-set", Resource::Collection(c, _)) => match c.kind {
                Kind::Addressbook => BOOK_REPORTS.to_string(),
                Kind::Calendar => CALENDAR_REPORTS.to_string(),
            },
            ("supported-report-set", _) => String::new(),
            ("sync-token", Resource::Collection(c, _)) => escape(&sync_token(c)).into_owned(),
            ("getlastmodified", Resource::Collection(c, _)) => http_date(c.modified_at),
            ("getetag", Resource::Member(m, _)) => escape(&m.etag).into_owned(),
            ("getcontenttype", Resource::Member(m, _)) => escape(&m.content_type).into_owned(),
            ("getcontentlength", Resource::Member(m, _)) => m.size.to_string(),
            ("getlastmodified", Resource::Member(m, _)) => http_date(m.modified_at),
            _ => return dead(res, name),
        };
        return Some(v);
    }
    let book = match res {
        Resource::Collection(c, _) if c.kind == Kind::Addressbook => Some(*c),
        _ => None,
    };
    let calendar = match res {
        Resource::Collection(c, _) if c.kind == Kind::Calendar => Some(*c),
        _ => None,
    };
    if name.ns == CARDDAV {
        let v = match (name.local.as_str(), res, book) {
            ("addressbook-home-set", Resource::Principal, _) => {
                hrefs(&[&home_href(Kind::Addressbook, subject)])
            }
            ("addressbook-description", _, Some(c)) => {
                escape(c.description.as_deref()?).into_owned()
            }
            ("supported-address-data", _, Some(_)) => concat!(
                "<card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>",
                "<card:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>"
            )
            .to_string(),
            ("max-resource-size", _, Some(_)) => ctx.config.dav.max_resource_size.to_string(),
            _ => return dead(res, name),
        };
        return Some(v);
    }
    if name.ns == CALDAV {
        let v = match (name.local.as_str(), res, calendar) {
            ("calendar-home-set", Resource::Principal, _) => {
                hrefs(&[&home_href(Kind::Calendar, subject)])
            }
            // RFC 6638 §2.4.1: the principal URL always identifies the user; an e-mail-like
            // user name is also given as a mailto address, which clients show as the owner.
            ("calendar-user-address-set", Resource::Principal, _) => {
                let principal = principal_href(subject);
                if subject.contains('@') {
                    hrefs(&[&format!("mailto:{subject}"), &principal])
                } else {
                    hrefs(&[&principal])
                }
            }
            // RFC 6638 §2.2–2.3, §2.4.2.
            ("schedule-inbox-URL", Resource::Principal, _) => hrefs(&[&collection_href(
                Kind::Calendar,
                subject,
                crate::core::scheduling::boxes::INBOX,
            )]),
            ("schedule-outbox-URL", Resource::Principal, _) => hrefs(&[&collection_href(
                Kind::Calendar,
                subject,
                crate::core::scheduling::boxes::OUTBOX,
            )]),
            ("calendar-user-type", Resource::Principal, _) => "INDIVIDUAL".to_string(),
            ("calendar-description", _, Some(c)) => escape(c.description.as_deref()?).into_owned(),
            ("calendar-timezone", _, Some(c)) => escape(c.timezone.as_deref()?).into_owned(),
            ("supported-calendar-component-set", _, Some(c)) => c
                .components
                .iter()
                .map(|k| format!("<cal:comp name=\"{}\"/>", escape(k)))
                .collect(),
            ("supported-calendar-data", _, Some(_)) => {
                "<cal:calendar-data content-type=\"text/calendar\" version=\"2.0\"/>".into()
            }
            ("max-resource-size", _, Some(_)) => ctx.config.dav.max_resource_size.to_string(),
            ("min-date-time", _, Some(_)) => MIN_DATE_TIME.into(),
            ("max-date-time", _, Some(_)) => MAX_DATE_TIME.into(),
            ("max-instances", _, Some(_)) => ctx.config.caldav.max_instances.to_string(),
            ("supported-collation-set", _, Some(_)) => COLLATIONS.into(),
            _ => return dead(res, name),
        };
        return Some(v);
    }
    if name.ns == PUSH
        && let (Resource::Collection(c, _), Some(push)) = (res, ctx.push)
        && let Some(v) = super::push::property(push, c, &name.local)
    {
        return Some(v);
    }
    if name.is(CALSERVER, "getctag")
        && let Resource::Collection(c, _) = res
    {
        return Some(escape(&sync_token(c)).into_owned());
    }
    // CalendarServer's link from a sharee's calendar to the owner's.
    if name.is(CALSERVER, "shared-url")
        && let Resource::Collection(c, _) = res
        && let Some(s) = &c.shared
    {
        return Some(hrefs(&[&super::paths::collection_href(
            c.kind,
            &s.owner_name,
            &s.owner_collection,
        )]));
    }
    dead(res, name)
}

/// A dead property's stored XML, re-rendered as the content of the property element.
fn dead(res: &Resource<'_>, name: &Name) -> Option<String> {
    let Resource::Collection(_, dead) = res else {
        return None;
    };
    let (_, _, xml) = dead
        .iter()
        .find(|(ns, local, _)| *ns == name.ns && *local == name.local)?;
    // The stored XML is the whole property element; clients want only its content, but the
    // content may use namespaces declared on the element, so inner children are kept whole.
    let el = kith_dav::xml::parse(xml.as_bytes()).ok()?;
    let mut inner = escape(&el.text).into_owned();
    for c in &el.children {
        inner.push_str(&c.to_xml());
    }
    Some(inner)
}

/// Properties that clients may never set, answered 403 by PROPPATCH.
pub fn is_protected(name: &Name) -> bool {
    (name.ns == DAV
        && matches!(
            name.local.as_str(),
            "resourcetype"
                | "current-user-principal"
                | "current-user-privilege-set"
                | "supported-report-set"
                | "sync-token"
                | "getetag"
                | "getcontenttype"
                | "getcontentlength"
                | "getlastmodified"
                | "owner"
                | "acl"
                | "share-access"
                | "invite"
                | "principal-URL"
                | "principal-collection-set"
                | "lockdiscovery"
                | "supportedlock"
                | "creationdate"
        ))
        || (name.ns == CARDDAV
            && matches!(
                name.local.as_str(),
                "supported-address-data" | "max-resource-size" | "addressbook-home-set"
            ))
        || (name.ns == CALDAV
            && matches!(
                name.local.as_str(),
                "supported-calendar-data"
                    | "max-resource-size"
                    | "min-date-time"
                    | "max-date-time"
                    | "max-instances"
                    | "calendar-home-set"
                    | "calendar-user-address-set"
                    | "schedule-inbox-URL"
                    | "schedule-outbox-URL"
                    | "calendar-user-type"
                    | "schedule-default-calendar-URL"
                    | "supported-collation-set"
                    | "calendar-data"
            ))
        || (name.ns == PUSH
            && matches!(
                name.local.as_str(),
                "transports" | "topic" | "supported-triggers"
            ))
        || name.is(CALSERVER, "getctag")
        || name.is(CALSERVER, "shared-url")
        || name.is(CALSERVER, "invite")
}

/// Renders the requested properties of one resource into found and missing lists.
/// `extra` renders what depends on the request (e.g. `address-data`) before the defaults.
pub fn collect(
    ctx: &PropCtx<'_>,
    res: &Resource<'_>,
    select: &PropSelection,
    extra: &mut dyn FnMut(&Name) -> Option<Option<String>>,
) -> (Vec<PropValue>, Vec<(u16, Vec<Name>)>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let mut one = |name: &Name, found: &mut Vec<PropValue>, missing: &mut Vec<Name>| {
        let value = match extra(name) {
            Some(v) => v,
            None => render(ctx, res, name),
        };
        match value {
            Some(xml) => found.push(PropValue {
                name: name.clone(),
                xml,
            }),
            None => missing.push(name.clone()),
        }
    };
    match &select.props {
        PropRequest::Prop(names) => {
            for name in names {
                one(name, &mut found, &mut missing);
            }
        }
        PropRequest::AllProp { include } => {
            let mut names = live_names(res);
            if let Resource::Collection(_, dead) = res {
                names.extend(dead.iter().map(|(ns, local, _)| Name::new(ns, local)));
            }
            for extra_name in include {
                if !names.contains(extra_name) {
                    names.push(extra_name.clone());
                }
            }
            let mut unused = Vec::new();
            for name in &names {
                one(name, &mut found, &mut unused);
            }
            // allprop leaves out properties the resource does not have, unless included.
            missing.extend(unused.into_iter().filter(|n| include.contains(n)));
        }
        PropRequest::PropName => {
            let mut names = live_names(res);
            if let Resource::Collection(_, dead) = res {
                names.extend(dead.iter().map(|(ns, local, _)| Name::new(ns, local)));
            }
            found = names
                .into_iter()
                .map(|name| PropValue {
                    name,
                    xml: String::new(),
                })
                .collect();
        }
    }
    (found, vec![(404, missing)])
}
