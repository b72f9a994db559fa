//! A small namespace-aware element tree over quick-xml's `NsReader`.
//!
//! DAV request bodies are small (a PROPFIND or REPORT is a few kilobytes), so a tree is simpler
//! and safer than a streaming state machine. Clients spell prefixes any way they like, so every
//! element is keyed by its resolved (namespace, local name) pair, never by its prefix.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Refuse documents nested deeper than this: no DAV body needs it, and it bounds recursion.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("the XML body is empty")]
    Empty,
    #[error("the XML body is nested too deeply")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The value of an attribute without a namespace (the common case in DAV).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(ns, n, _)| ns.is_empty() && n == name)
            .map(|(_, _, v)| v.as_str())
    }

    /// Serialises the element again, declaring every namespace it uses, so it can be stored
    /// as a dead property and returned later in any other document.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out, "");
        out
    }

    fn write_xml(&self, out: &mut String, parent_ns: &str) {
        // Our documents never set a default namespace, so an unprefixed name has none.
        let prefix = if self.ns.is_empty() { "" } else { "x:" };
        out.push('<');
        out.push_str(prefix);
        out.push_str(&self.name);
        if self.ns != parent_ns && !self.ns.is_empty() {
            out.push_str(" xmlns:x=\"");
            out.push_str(&escape(&self.ns));
            out.push('"');
        }
        for (ns, name, value) in &self.attrs {
            if ns == "http://www.w3.org/XML/1998/namespace" {
                out.push_str(" xml:");
            } else if !ns.is_empty() {
                // Attributes in a namespace are rare in DAV; keep them with a private prefix.
                out.push_str(" xmlns:a=\"");
                out.push_str(&escape(ns));
                out.push_str("\" a:");
            } else {
                out.push(' ');
            }
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&escape(value));
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for c in &self.children {
            if c.ns == self.ns {
                c.write_xml(out, &self.ns);
            } else {
                // A child in another namespace gets its own declaration of the same prefix.
                c.write_xml(out, "\u{0}");
            }
        }
        out.push_str("</");
        out.push_str(prefix);
        out.push_str(&self.name);
        out.push('>');
    }
}

/// Parses a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Malformed("not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_string(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => {
                return Err(XmlError::Malformed(format!("unknown prefix {p}")));
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                let mut el = Element {
                    ns,
                    name: e.local_name().as_ref().to_string(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                    text: String::new(),
                };
                for a in e.attributes() {
                    let a = a.map_err(|e| XmlError::Malformed(e.to_string()))?;
                    let key = a.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let (ans, local) = reader.resolver().resolve_attribute(a.key);
                    let ans = match ans {
                        ResolveResult::Bound(n) => n.0.to_string(),
                        _ if key.starts_with("xml:") => {
                            "http://www.w3.org/XML/1998/namespace".to_string()
                        }
                        _ => String::new(),
                    };
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| XmlError::Malformed(e.to_string()))?;
                    el.attrs
                        .push((ans, local.as_ref().to_string(), value.into_owned()));
                }
                let is_empty = matches!(event, Event::Empty(_));
                if is_empty {
                    close(el, &mut stack, &mut root);
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                close(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| XmlError::Malformed(e.to_string()))?
                } else {
                    match r.xml10_content().as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        other => {
                            return Err(XmlError::Malformed(format!("unknown entity &{other};")));
                        }
                    }
                };
                if let (Some(top), Some(c)) = (stack.last_mut(), ch) {
                    top.text.push(c);
                }
            }
            Event::DocType(_) => {
                // Entity declarations are a billion-laughs vector and no DAV client sends them.
                return Err(XmlError::Malformed("DOCTYPE is not allowed".into()));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    root.ok_or(XmlError::Empty)
}

fn close(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => {
            // Whitespace between elements is layout, not content.
            if parent.children.is_empty() && parent.text.trim().is_empty() {
                parent.text.clear();
            }
            parent.children.push(el);
        }
        None => *root = Some(el),
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    // Scanned as bytes: every character escaped is ASCII, and this runs for each href and
    // ETag of a listing, so it must not cost more than a pass over the bytes.
    let Some(first) = s.bytes().position(needs_escape) else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    escape_into(&mut out, &s[first..]);
    std::borrow::Cow::Owned(out)
}

/// [`escape`], appending to `out`. Characters XML 1.0 cannot carry at all, escaped or not
/// (control characters but TAB, LF and CR, and U+FFFE and U+FFFF), become U+FFFD: one card
/// stored with such a byte must not make a whole multistatus unreadable.
pub fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(s.len() + s.len() / 16);
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // The plain run is scanned with one table load per byte: this is most of the work of
        // a multiget, whose vCards are all text.
        while i < bytes.len() && !SPECIAL[bytes[i] as usize] {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let (entity, width) = match b {
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'&' => ("&amp;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            // A bare CR would be normalised away by the client's XML parser; vCards need it.
            b'\r' => ("&#13;", 1),
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF) are not XML characters.
            0xef if bytes.get(i + 1) == Some(&0xbf)
                && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)) =>
            {
                ("\u{fffd}", 3)
            }
            0xef => {
                i += 1;
                continue;
            }
            _ => ("\u{fffd}", 1),
        };
        out.push_str(&s[start..i]);
        out.push_str(entity);
        i += width;
        start = i;
    }
    out.push_str(&s[start..]);
}

/// The bytes [`escape_into`] stops at: the escaped ASCII, control characters but TAB and LF,
/// and 0xEF (the lead byte of U+FFFE and U+FFFF).
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b != b'\t' as usize && b != b'\n' as usize;
        b += 1;
    }
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[0xef] = true;
    t
};

fn needs_escape(b: u8) -> bool {
    SPECIAL[b as usize]
}

#[cfg(test)]
mod tests {
    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        let s = "a\u{7}b\u{0}c\td\ne\rf\u{fffe}g\u{ff61}h\u{7f}";
        let out = super::escape(s);
        assert_eq!(
            out,
            "a\u{fffd}b\u{fffd}c\td\ne&#13;f\u{fffd}g\u{ff61}h\u{7f}"
        );
        assert!(super::parse(format!("<x>{out}</x>").as_bytes()).is_ok());
    }

    use super::*;

    #[test]
    fn prefixes_resolve_to_the_same_names() {
        for body in [
            r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
            r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
            r#"<X:propfind xmlns:X="DAV:"><X:prop><X:getetag/></X:prop></X:propfind>"#,
        ] {
            let el = parse(body.as_bytes()).unwrap();
            assert!(el.is("DAV:", "propfind"));
            let prop = el.child("DAV:", "prop").unwrap();
            assert!(prop.children[0].is("DAV:", "getetag"));
        }
    }

    #[test]
    fn entities_and_dead_property_round_trip() {
        let el = parse(
            br#"<a:foo xmlns:a="urn:x" xmlns:b="urn:y">x &amp; &#65;<b:bar q="1">t</b:bar></a:foo>"#,
        )
        .unwrap();
        assert_eq!(el.text, "x & A");
        let again = parse(el.to_xml().as_bytes()).unwrap();
        assert_eq!(again, el);
    }

    #[test]
    fn rejects_doctype_and_garbage() {
        assert!(parse(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a xmlns:q='x'><z:b/></a>").is_err());
    }
}
