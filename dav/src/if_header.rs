//! The `If` request header (RFC 4918 §10.4): lists of state tokens and entity tags, each list
//! optionally tagged with the resource it is about.
//!
//! Kith grants no locks, so no state token is ever held: a `<token>` condition is false and a
//! `Not <token>` condition true. Entity-tag conditions compare strongly with the resource's
//! current ETag.

use crate::quirks::unescape_etag_quotes;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    Token(String),
    ETag(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    not: bool,
    operand: Operand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct List {
    /// The resource a tagged list is about; `None` for the request's own resource.
    resource: Option<String>,
    conditions: Vec<Condition>,
}

/// A parsed `If` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfHeader {
    lists: Vec<List>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the If header is malformed: {0}")]
pub struct IfError(&'static str);

impl IfHeader {
    pub fn parse(value: &str) -> Result<IfHeader, IfError> {
        let value = unescape_etag_quotes(value);
        let mut rest = value.trim();
        let mut lists = Vec::new();
        let mut resource = None;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('<') {
                let end = r
                    .find('>')
                    .ok_or(IfError("a resource tag has no closing >"))?;
                resource = Some(r[..end].to_string());
                rest = r[end + 1..].trim_start();
                if !rest.starts_with('(') {
                    return Err(IfError("a resource tag must be followed by a list"));
                }
                continue;
            }
            let Some(r) = rest.strip_prefix('(') else {
                return Err(IfError("expected ( to open a list"));
            };
            let end = r.find(')').ok_or(IfError("a list has no closing )"))?;
            let conditions = conditions(&r[..end])?;
            lists.push(List {
                resource: resource.clone(),
                conditions,
            });
            rest = r[end + 1..].trim_start();
        }
        if lists.is_empty() {
            return Err(IfError("it holds no list"));
        }
        Ok(IfHeader { lists })
    }

    /// Whether the header holds for the resource at `path` whose ETag is `current`: true when
    /// some list about it has every condition true, or when no list is about it. `is_path`
    /// tells whether a tagged list's URL names that resource.
    pub fn holds(&self, current: Option<&str>, is_path: impl Fn(&str) -> bool) -> bool {
        let mut about = self
            .lists
            .iter()
            .filter(|l| l.resource.as_deref().is_none_or(&is_path))
            .peekable();
        if about.peek().is_none() {
            return true;
        }
        about.any(|l| {
            l.conditions.iter().all(|c| {
                let met = match &c.operand {
                    Operand::Token(_) => false,
                    Operand::ETag(t) => !t.starts_with("W/") && Some(t.as_str()) == current,
                };
                met != c.not
            })
        })
    }
}

fn conditions(mut s: &str) -> Result<Vec<Condition>, IfError> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            break;
        }
        let not = match s.get(..3) {
            Some(w) if w.eq_ignore_ascii_case("not") => {
                s = s[3..].trim_start();
                true
            }
            _ => false,
        };
        let (operand, rest) = if let Some(r) = s.strip_prefix('<') {
            let end = r
                .find('>')
                .ok_or(IfError("a state token has no closing >"))?;
            (Operand::Token(r[..end].to_string()), &r[end + 1..])
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or(IfError("an entity tag has no closing ]"))?;
            (Operand::ETag(r[..end].trim().to_string()), &r[end + 1..])
        } else {
            return Err(IfError("a condition must be a <state-token> or an [etag]"));
        };
        out.push(Condition { not, operand });
        s = rest;
    }
    if out.is_empty() {
        return Err(IfError("a list is empty"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(h: &str, current: Option<&str>) -> bool {
        IfHeader::parse(h)
            .unwrap()
            .holds(current, |u| u.ends_with("/a.vcf"))
    }

    #[test]
    fn etags_compare_strongly() {
        assert!(holds("([\"x\"])", Some("\"x\"")));
        assert!(!holds("([\"x\"])", Some("\"y\"")));
        assert!(!holds("([W/\"x\"])", Some("\"x\"")));
        assert!(holds("(Not [\"x\"])", Some("\"y\"")));
        assert!(holds("([\"y\"]) ([\"x\"])", Some("\"x\"")));
    }

    #[test]
    fn no_lock_is_ever_held() {
        assert!(!holds("(<urn:uuid:1>)", Some("\"x\"")));
        assert!(holds("(Not <DAV:no-lock>)", Some("\"x\"")));
        assert!(holds(
            "(<urn:uuid:1>) (Not <DAV:no-lock> [\"x\"])",
            Some("\"x\"")
        ));
    }

    #[test]
    fn tagged_lists_apply_to_their_resource() {
        assert!(!holds("</dav/b/a.vcf> ([\"x\"])", Some("\"y\"")));
        // About another resource only: nothing to check here.
        assert!(holds("</dav/b/other.vcf> ([\"x\"])", Some("\"y\"")));
    }

    #[test]
    fn evolution_escapes_work_here_too() {
        assert!(holds("([\\\"x\\\"])", Some("\"x\"")));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in ["", "[\"x\"]", "(", "()", "(<a)", "<x>", "(foo)"] {
            assert!(IfHeader::parse(bad).is_err(), "{bad}");
        }
    }
}
