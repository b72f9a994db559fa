//! vCard content lines: unfolding, splitting a line into group, name and value, and folding.

/// One logical (unfolded) content line.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
}

impl Line {
    /// The part before the value: `item1.EMAIL;TYPE=work`.
    fn head(&self) -> &str {
        let mut quoted = false;
        for (i, c) in self.text.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ':' if !quoted => return &self.text[..i],
                _ => {}
            }
        }
        &self.text
    }

    /// `(group, NAME)` with the name upper-cased.
    pub fn name(&self) -> (Option<&str>, String) {
        let head = self.head();
        let name = head.split(';').next().unwrap_or("");
        match name.split_once('.') {
            Some((g, n)) => (Some(g), n.to_ascii_uppercase()),
            None => (None, name.to_ascii_uppercase()),
        }
    }
}

/// Splits a card into logical lines: RFC 6350 folding (CRLF + space or tab) is undone, and so
/// are vCard 2.1 quoted-printable soft breaks (`=` at the end of a line).
pub fn unfold(text: &str) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut qp_open = false;
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // A quoted-printable soft break comes first: the next line belongs to the value even
        // when it starts with white space, and is kept as it is.
        if qp_open && let Some(last) = out.last_mut() {
            last.text.push_str("\r\n");
            last.text.push_str(raw);
            qp_open = raw.ends_with('=');
            continue;
        }
        if let Some(cont) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.text.push_str(cont);
            continue;
        }
        if raw.is_empty() {
            continue;
        }
        qp_open = raw.to_ascii_uppercase().contains("QUOTED-PRINTABLE") && raw.ends_with('=');
        out.push(Line {
            text: raw.to_string(),
        });
    }
    out
}

/// Folds a line at 75 octets, never inside a UTF-8 sequence.
pub fn fold(line: &str, out: &mut String) {
    if line.contains("\r\n") {
        // A quoted-printable line with its soft breaks: already within limits.
        out.push_str(line);
        out.push_str("\r\n");
        return;
    }
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// Escapes a text value (RFC 6350 §3.4).
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            ',' => o.push_str("\\,"),
            ';' => o.push_str("\\;"),
            '\r' => {}
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_names() {
        let lines = unfold(
            "BEGIN:VCARD\r\nitem1.EMAIL;TYPE=\"a:b\":x@y\r\n  z\r\nNOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\nEND:VCARD\r\n",
        );
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].name(), (Some("item1"), "EMAIL".to_string()));
        assert_eq!(lines[1].text, "item1.EMAIL;TYPE=\"a:b\":x@y z");
        assert_eq!(lines[2].text, "NOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nb");
        let qp = unfold("LABEL;ENCODING=QUOTED-PRINTABLE:Box=\r\n  2=0A=\r\nS\r\nEND:VCARD\r\n");
        assert_eq!(qp.len(), 2, "{qp:?}");
        assert_eq!(qp[1].text, "END:VCARD");
        let mut s = String::new();
        fold(&"é".repeat(50), &mut s);
        assert!(s.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(escape("a,b;c\\\nd"), "a\\,b\\;c\\\\\\nd");
    }
}
