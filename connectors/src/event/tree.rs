//! An iCalendar object as a tree of components whose lines are kept as written: what Kith
//! does not manage is written back byte for byte (refolded), never re-serialized.

use crate::card::lines::{Line, fold, unfold};

#[derive(Debug, Clone, Default)]
pub struct Component {
    pub name: String,
    /// Property lines, unfolded, in order.
    pub props: Vec<String>,
    pub children: Vec<Component>,
}

/// A property line split into its name, parameters and raw value.
pub struct Prop<'a> {
    pub name: String,
    pub params: Vec<(String, String)>,
    pub value: &'a str,
}

pub fn split(line: &str) -> Prop<'_> {
    let l = Line {
        text: line.to_string(),
    };
    let (_, name) = l.name();
    let mut quoted = false;
    let mut colon = line.len();
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = i;
                break;
            }
            _ => {}
        }
    }
    let head = &line[..colon];
    let value = line.get(colon + 1..).unwrap_or("");
    let mut params = Vec::new();
    let mut quoted = false;
    let mut start = None;
    for (i, c) in head.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                if let Some(s) = start {
                    params.push(param(&head[s..i]));
                }
                start = Some(i + 1);
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        params.push(param(&head[s..]));
    }
    Prop {
        name,
        params,
        value,
    }
}

fn param(p: &str) -> (String, String) {
    let (k, v) = p.split_once('=').unwrap_or((p, ""));
    (k.to_ascii_uppercase(), v.trim_matches('"').to_string())
}

impl Prop<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Component {
    pub fn new(name: &str) -> Component {
        Component {
            name: name.to_string(),
            ..Component::default()
        }
    }

    /// The first property named `name`.
    pub fn prop(&self, name: &str) -> Option<Prop<'_>> {
        self.props.iter().map(|l| split(l)).find(|p| p.name == name)
    }

    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Prop<'a>> + 'a {
        self.props
            .iter()
            .map(|l| split(l))
            .filter(move |p| p.name == name)
    }

    pub fn remove(&mut self, names: &[&str]) {
        self.props
            .retain(|l| !names.contains(&split(l).name.as_str()));
    }

    /// Replaces the properties named `names` by `lines`, at the place of the first of them.
    pub fn replace(&mut self, names: &[&str], lines: Vec<String>) {
        let at = self
            .props
            .iter()
            .position(|l| names.contains(&split(l).name.as_str()))
            .unwrap_or(self.props.len());
        self.remove(names);
        let at = at.min(self.props.len());
        for (i, l) in lines.into_iter().enumerate() {
            self.props.insert(at + i, l);
        }
    }

    pub fn write(&self, out: &mut String) {
        fold(&format!("BEGIN:{}", self.name), out);
        for p in &self.props {
            fold(p, out);
        }
        for c in &self.children {
            c.write(out);
        }
        fold(&format!("END:{}", self.name), out);
    }
}

/// Parses `text` into its top component (VCALENDAR).
pub fn parse(text: &str) -> Result<Component, String> {
    let mut stack: Vec<Component> = Vec::new();
    let mut top = None;
    for line in unfold(text) {
        let t = line.text;
        let upper = t.to_ascii_uppercase();
        if let Some(name) = upper.strip_prefix("BEGIN:") {
            stack.push(Component::new(name.trim()));
        } else if let Some(name) = upper.strip_prefix("END:") {
            let c = stack
                .pop()
                .ok_or_else(|| format!("END:{} without BEGIN", name.trim()))?;
            if c.name != name.trim() {
                return Err(format!("END:{} closes BEGIN:{}", name.trim(), c.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(c),
                None => top = Some(c),
            }
        } else if let Some(c) = stack.last_mut() {
            c.props.push(t);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("BEGIN:{} is never closed", open.name));
    }
    top.filter(|c| c.name == "VCALENDAR")
        .ok_or_else(|| "not an iCalendar object".to_string())
}

/// iCalendar TEXT unescaping (RFC 5545 §3.3.11).
pub fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub use crate::card::lines::escape;
