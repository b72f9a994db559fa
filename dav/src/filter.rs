//! `addressbook-query` filters (RFC 6352 §10.5): parsing and exact evaluation on one card.
//!
//! The store may narrow candidates with its index first (see [`Filter::index_hint`]); the
//! evaluation here is always the final word, so the index only has to be a superset.

use crate::names::CARDDAV;
use crate::vcard::{CardInfo, CardProp, fold_unicode};
use crate::xml::Element;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unsupported collation {0:?}")]
    Collation(String),
    #[error("invalid filter: {0}")]
    Invalid(String),
}

/// The longest text a `text-match` may search for.
pub const MAX_TEXT_MATCH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    UnicodeCasemap,
    AsciiCasemap,
    Octet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The needle, already folded for the collation.
    pub needle: String,
    pub collation: Collation,
    pub match_type: MatchType,
    pub negate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub all_of: bool,
    pub is_not_defined: bool,
    pub text_matches: Vec<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub all_of: bool,
    pub props: Vec<PropFilter>,
}

/// A condition the store can check on its index: some indexed value of `prop` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHint {
    pub prop: String,
    pub match_type: MatchType,
    /// Folded with `i;unicode-casemap`, as the index is.
    pub needle: String,
}

fn test_attr(el: &Element) -> Result<bool, FilterError> {
    match el.attr("test") {
        None | Some("anyof") => Ok(false),
        Some("allof") => Ok(true),
        Some(other) => Err(FilterError::Invalid(format!("test={other:?}"))),
    }
}

impl TextMatch {
    fn parse(el: &Element) -> Result<TextMatch, FilterError> {
        Self::parse_with(el, "i;unicode-casemap")
    }

    /// Parses a text-match whose collation defaults to `default` (CalDAV's is
    /// `i;ascii-casemap`, CardDAV's `i;unicode-casemap`).
    pub fn parse_with(el: &Element, default: &str) -> Result<TextMatch, FilterError> {
        // No name, address or note search needs more; a longer one only makes work (and
        // SQLite refuses LIKE patterns past 50,000 bytes).
        if el.text.chars().count() > MAX_TEXT_MATCH {
            return Err(FilterError::Invalid(format!(
                "a text-match is limited to {MAX_TEXT_MATCH} characters"
            )));
        }
        let collation = match el.attr("collation").unwrap_or(default) {
            "i;unicode-casemap" => Collation::UnicodeCasemap,
            "i;ascii-casemap" => Collation::AsciiCasemap,
            "i;octet" => Collation::Octet,
            other => return Err(FilterError::Collation(other.to_string())),
        };
        let match_type = match el.attr("match-type").unwrap_or("contains") {
            "equals" => MatchType::Equals,
            "contains" => MatchType::Contains,
            "starts-with" => MatchType::StartsWith,
            "ends-with" => MatchType::EndsWith,
            other => return Err(FilterError::Invalid(format!("match-type={other:?}"))),
        };
        let negate = match el.attr("negate-condition").unwrap_or("no") {
            "yes" => true,
            "no" => false,
            other => return Err(FilterError::Invalid(format!("negate-condition={other:?}"))),
        };
        Ok(TextMatch {
            needle: fold(&el.text, collation),
            collation,
            match_type,
            negate,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        let hay = fold(value, self.collation);
        let hit = match self.match_type {
            MatchType::Equals => hay == self.needle,
            MatchType::Contains => hay.contains(&self.needle),
            MatchType::StartsWith => hay.starts_with(&self.needle),
            MatchType::EndsWith => hay.ends_with(&self.needle),
        };
        hit != self.negate
    }
}

fn fold(s: &str, c: Collation) -> String {
    match c {
        Collation::UnicodeCasemap => fold_unicode(s).into_owned(),
        Collation::AsciiCasemap => s.to_ascii_lowercase(),
        Collation::Octet => s.to_string(),
    }
}

pub(crate) fn name_attr(el: &Element) -> Result<String, FilterError> {
    el.attr("name")
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.trim().to_ascii_uppercase())
        .ok_or_else(|| FilterError::Invalid(format!("{} without a name", el.name)))
}

impl Filter {
    /// Parses a `CARDDAV:filter` element.
    pub fn parse(el: &Element) -> Result<Filter, FilterError> {
        let mut props = Vec::new();
        for pf in el.children_named(CARDDAV, "prop-filter") {
            let mut f = PropFilter {
                name: name_attr(pf)?,
                all_of: test_attr(pf)?,
                is_not_defined: false,
                text_matches: Vec::new(),
                param_filters: Vec::new(),
            };
            for c in &pf.children {
                if c.ns != CARDDAV {
                    continue;
                }
                match c.name.as_str() {
                    "is-not-defined" => f.is_not_defined = true,
                    "text-match" => f.text_matches.push(TextMatch::parse(c)?),
                    "param-filter" => {
                        let mut p = ParamFilter {
                            name: name_attr(c)?,
                            is_not_defined: false,
                            text_match: None,
                        };
                        if c.child(CARDDAV, "is-not-defined").is_some() {
                            p.is_not_defined = true;
                        } else if let Some(tm) = c.child(CARDDAV, "text-match") {
                            p.text_match = Some(TextMatch::parse(tm)?);
                        }
                        f.param_filters.push(p);
                    }
                    other => return Err(FilterError::Invalid(format!("unknown element {other}"))),
                }
            }
            props.push(f);
        }
        Ok(Filter {
            all_of: test_attr(el)?,
            props,
        })
    }

    pub fn matches(&self, card: &CardInfo) -> bool {
        if self.props.is_empty() {
            return true;
        }
        let mut results = self.props.iter().map(|p| p.matches(card));
        if self.all_of {
            results.all(|r| r)
        } else {
            results.any(|r| r)
        }
    }

    /// A condition every match must satisfy, for the store to narrow candidates by index.
    /// Only given when it is implied by the filter: one positive text-match on an indexed
    /// property with a case-insensitive collation, in a filter whose result depends on it.
    pub fn index_hint(&self) -> Option<IndexHint> {
        let required: Vec<&PropFilter> = if self.all_of || self.props.len() == 1 {
            self.props.iter().collect()
        } else {
            return None;
        };
        required.into_iter().find_map(|p| {
            if p.is_not_defined || !crate::vcard::is_indexed(&p.name) {
                return None;
            }
            let tms: Vec<&TextMatch> = p.text_matches.iter().collect();
            let needs_text = p.all_of || (tms.len() == 1 && p.param_filters.is_empty());
            if !needs_text {
                return None;
            }
            tms.into_iter()
                .find(|t| !t.negate && t.collation != Collation::Octet)
                .map(|t| IndexHint {
                    prop: p.name.clone(),
                    match_type: t.match_type,
                    needle: fold_unicode(&t.needle).into_owned(),
                })
        })
    }
}

impl PropFilter {
    fn matches(&self, card: &CardInfo) -> bool {
        let mut instances = card.props.iter().filter(|p| p.name == self.name).peekable();
        if self.is_not_defined {
            return instances.peek().is_none();
        }
        if self.text_matches.is_empty() && self.param_filters.is_empty() {
            return instances.peek().is_some();
        }
        instances.any(|prop| self.instance_matches(prop))
    }

    fn instance_matches(&self, prop: &CardProp) -> bool {
        let texts = self.text_matches.iter().map(|t| t.matches(&prop.value));
        let params = self.param_filters.iter().map(|p| p.matches(prop));
        let mut all = texts.chain(params);
        if self.all_of {
            all.all(|r| r)
        } else {
            all.any(|r| r)
        }
    }
}

impl ParamFilter {
    fn matches(&self, prop: &CardProp) -> bool {
        let mut values = prop
            .params
            .iter()
            .filter(|(n, _)| *n == self.name)
            .flat_map(|(_, v)| v.split(','))
            .peekable();
        if self.is_not_defined {
            return values.peek().is_none();
        }
        match &self.text_match {
            None => values.peek().is_some(),
            Some(tm) => values.any(|v| tm.matches(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcard::parse_card;
    use crate::xml::parse;

    fn card() -> CardInfo {
        parse_card(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:J\xc3\xbcrgen M\xc3\xbcller\r\nEMAIL;TYPE=WORK:jm@Example.com\r\nTEL;TYPE=CELL:+49 30 1234\r\nEND:VCARD\r\n",
        )
        .unwrap()
    }

    fn filter(xml: &str) -> Filter {
        let doc = format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav" {xml}</C:filter>"#);
        Filter::parse(&parse(doc.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn text_match_types_and_collations() {
        let c = card();
        assert!(
            filter(
                r#"><C:prop-filter name="FN"><C:text-match>MÜLLER</C:text-match></C:prop-filter>"#
            )
            .matches(&c)
        );
        assert!(!filter(r#"><C:prop-filter name="FN"><C:text-match collation="i;ascii-casemap">MÜLLER</C:text-match></C:prop-filter>"#).matches(&c));
        assert!(filter(r#"><C:prop-filter name="EMAIL"><C:text-match match-type="equals">JM@example.COM</C:text-match></C:prop-filter>"#).matches(&c));
        assert!(filter(r#"><C:prop-filter name="EMAIL"><C:text-match match-type="starts-with">jm@</C:text-match></C:prop-filter>"#).matches(&c));
        assert!(filter(r#"><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">.com</C:text-match></C:prop-filter>"#).matches(&c));
        assert!(!filter(r#"><C:prop-filter name="EMAIL"><C:text-match negate-condition="yes">example</C:text-match></C:prop-filter>"#).matches(&c));
        assert!(!filter(r#"><C:prop-filter name="EMAIL"><C:text-match collation="i;octet">JM</C:text-match></C:prop-filter>"#).matches(&c));
    }

    #[test]
    fn defined_not_defined_and_params() {
        let c = card();
        assert!(
            filter(r#"><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>"#)
                .matches(&c)
        );
        assert!(
            !filter(r#"><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter>"#)
                .matches(&c)
        );
        assert!(filter(r#"><C:prop-filter name="TEL"/>"#).matches(&c));
        assert!(filter(r#"><C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:text-match match-type="equals">cell</C:text-match></C:param-filter></C:prop-filter>"#).matches(&c));
        assert!(!filter(r#"><C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter></C:prop-filter>"#).matches(&c));
    }

    #[test]
    fn anyof_allof() {
        let c = card();
        let miss = r#"<C:prop-filter name="NOTE"/>"#;
        let hit = r#"<C:prop-filter name="FN"/>"#;
        assert!(filter(&format!(">{miss}{hit}")).matches(&c));
        assert!(!filter(&format!(r#"test="allof">{miss}{hit}"#)).matches(&c));
        let f = filter(
            r#"test="allof"><C:prop-filter name="EMAIL" test="allof"><C:text-match>jm</C:text-match><C:text-match>example</C:text-match></C:prop-filter>"#,
        );
        assert!(f.matches(&c));
        assert_eq!(f.index_hint().unwrap().prop, "EMAIL");
        assert!(filter(&format!(">{miss}{hit}")).index_hint().is_none());
    }

    #[test]
    fn bad_collation_is_an_error() {
        let doc = r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav"><C:prop-filter name="FN"><C:text-match collation="x;nope">a</C:text-match></C:prop-filter></C:filter>"#;
        assert!(matches!(
            Filter::parse(&parse(doc.as_bytes()).unwrap()),
            Err(FilterError::Collation(_))
        ));
    }
}
