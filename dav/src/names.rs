//! Namespaces and the fixed prefixes Kith writes them with.

pub const DAV: &str = "DAV:";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CALSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// WebDAV-Push (draft-bitfire-webdav-push).
pub const PUSH: &str = "https://bitfire.at/webdav-push";

/// The prefix a namespace is written with, for the namespaces declared on every response root.
pub fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("d"),
        CARDDAV => Some("card"),
        CALDAV => Some("cal"),
        CALSERVER => Some("cs"),
        APPLE_ICAL => Some("ical"),
        PUSH => Some("push"),
        _ => None,
    }
}

/// The root attributes that declare every fixed prefix.
pub const ROOT_XMLNS: &str = concat!(
    " xmlns:d=\"DAV:\"",
    " xmlns:card=\"urn:ietf:params:xml:ns:carddav\"",
    " xmlns:cal=\"urn:ietf:params:xml:ns:caldav\"",
    " xmlns:cs=\"http://calendarserver.org/ns/\"",
    " xmlns:ical=\"http://apple.com/ns/ical/\"",
    " xmlns:push=\"https://bitfire.at/webdav-push\""
);

/// A property or element name: (namespace, local name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Self {
        Name {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// Writes an empty element for this name, e.g. `<d:getetag/>` or
    /// `<x:foo xmlns:x="urn:other"/>`.
    pub fn write_empty(&self, out: &mut String) {
        self.write_open(out, true);
    }

    pub fn write_open(&self, out: &mut String, empty: bool) {
        out.push('<');
        match prefix(&self.ns) {
            Some(p) => {
                out.push_str(p);
                out.push(':');
                out.push_str(&self.local);
            }
            None if self.ns.is_empty() => out.push_str(&self.local),
            None => {
                out.push_str("x:");
                out.push_str(&self.local);
                out.push_str(" xmlns:x=\"");
                out.push_str(&crate::xml::escape(&self.ns));
                out.push('"');
            }
        }
        out.push_str(if empty { "/>" } else { ">" });
    }

    pub fn write_close(&self, out: &mut String) {
        out.push_str("</");
        match prefix(&self.ns) {
            Some(p) => {
                out.push_str(p);
                out.push(':');
            }
            None if self.ns.is_empty() => {}
            None => out.push_str("x:"),
        }
        out.push_str(&self.local);
        out.push('>');
    }
}
