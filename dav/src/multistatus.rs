//! Writing 207 Multi-Status bodies and DAV error bodies.
//!
//! Writes straight into a `String` with the fixed prefixes from [`crate::names`], declared once
//! on the root. Values are inner XML that the caller has already escaped.

use crate::names::{Name, ROOT_XMLNS};
use crate::xml::{escape, escape_into};

pub fn status_line(code: u16) -> String {
    let reason = match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "Unknown",
    };
    format!("HTTP/1.1 {code} {reason}")
}

/// One property with its rendered inner XML (empty for an empty element).
#[derive(Debug, Clone)]
pub struct PropValue {
    pub name: Name,
    pub xml: String,
}

pub struct Multistatus {
    out: String,
    /// RFC 8144 `return=minimal`: properties that were not found are left out.
    minimal: bool,
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    pub fn new() -> Self {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus");
        out.push_str(ROOT_XMLNS);
        out.push('>');
        Multistatus {
            out,
            minimal: false,
        }
    }

    /// Leaves out the 404 propstats of every later response (RFC 8144 `return=minimal`).
    pub fn minimal(mut self, on: bool) -> Self {
        self.minimal = on;
        self
    }

    /// A response with one propstat per status. Groups with no properties are left out, and a
    /// response always carries at least one propstat (RFC 4918 §14.22).
    pub fn response(&mut self, href: &str, found: &[PropValue], missing: &[(u16, Vec<Name>)]) {
        let out = &mut self.out;
        out.push_str("<d:response><d:href>");
        escape_into(out, href);
        out.push_str("</d:href>");
        let minimal = self.minimal;
        let shown = |code: u16, names: &[Name]| !(names.is_empty() || minimal && code == 404);
        let any_missing = missing.iter().any(|(code, names)| shown(*code, names));
        if !found.is_empty() || !any_missing {
            out.push_str("<d:propstat><d:prop>");
            for p in found {
                if p.xml.is_empty() {
                    p.name.write_empty(out);
                } else {
                    p.name.write_open(out, false);
                    out.push_str(&p.xml);
                    p.name.write_close(out);
                }
            }
            out.push_str("</d:prop><d:status>");
            out.push_str(&status_line(200));
            out.push_str("</d:status></d:propstat>");
        }
        for (code, names) in missing {
            if !shown(*code, names) {
                continue;
            }
            out.push_str("<d:propstat><d:prop>");
            for n in names {
                n.write_empty(out);
            }
            out.push_str("</d:prop><d:status>");
            out.push_str(&status_line(*code));
            out.push_str("</d:status></d:propstat>");
        }
        out.push_str("</d:response>");
    }

    /// A response that carries only a status, e.g. a removed member in sync-collection.
    pub fn status_response(&mut self, href: &str, code: u16) {
        self.out.push_str("<d:response><d:href>");
        escape_into(&mut self.out, href);
        self.out.push_str("</d:href><d:status>");
        self.out.push_str(&status_line(code));
        self.out.push_str("</d:status></d:response>");
    }

    /// A status response with an error element, e.g. 507 with `number-of-matches-within-limits`.
    pub fn status_response_with_error(&mut self, href: &str, code: u16, error: &Name) {
        self.out.push_str("<d:response><d:href>");
        escape_into(&mut self.out, href);
        self.out.push_str("</d:href><d:status>");
        self.out.push_str(&status_line(code));
        self.out.push_str("</d:status><d:error>");
        error.write_empty(&mut self.out);
        self.out.push_str("</d:error></d:response>");
    }

    pub fn sync_token(&mut self, token: &str) {
        self.out.push_str("<d:sync-token>");
        self.out.push_str(&escape(token));
        self.out.push_str("</d:sync-token>");
    }

    /// Takes what has been written so far, so a large body can be streamed in chunks.
    pub fn take_chunk(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</d:multistatus>");
        self.out
    }
}

/// A `DAV:error` body naming the precondition or postcondition that failed.
pub fn error_body(condition: &Name, description: Option<&str>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error");
    out.push_str(ROOT_XMLNS);
    out.push('>');
    condition.write_empty(&mut out);
    if let Some(d) = description {
        // Sabre's element name; clients show it, and it tells the user what to fix.
        out.push_str("<d:responsedescription>");
        out.push_str(&escape(d));
        out.push_str("</d:responsedescription>");
    }
    out.push_str("</d:error>");
    out
}

/// Renders a list of hrefs as property content.
pub fn hrefs(list: &[&str]) -> String {
    let mut s = String::new();
    for h in list {
        s.push_str("<d:href>");
        s.push_str(&escape(h));
        s.push_str("</d:href>");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::DAV;

    #[test]
    fn response_groups_found_and_missing() {
        let mut ms = Multistatus::new();
        ms.response(
            "/a/",
            &[PropValue {
                name: Name::new(DAV, "getetag"),
                xml: crate::xml::escape("\"x\"").into_owned(),
            }],
            &[(404, vec![Name::new("urn:other", "foo")])],
        );
        let body = ms.finish();
        assert!(body.contains("<d:getetag>&quot;x&quot;</d:getetag>"));
        assert!(body.contains("<x:foo xmlns:x=\"urn:other\"/>"));
        assert!(body.contains("HTTP/1.1 404 Not Found"));
        crate::xml::parse(body.as_bytes()).unwrap();
    }
}
