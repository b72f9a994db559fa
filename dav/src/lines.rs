//! Content lines of vCard and iCalendar text (RFC 6350 §3.2, RFC 5545 §3.1): unfolding,
//! folding and splitting a line into group, name, parameters and value. The conversion rules
//! and partial retrieval work on lines, so the bytes they do not touch stay as the client sent
//! them.

/// The logical lines of `text`, unfolded, without their line ends; trailing empty lines dropped.
pub(crate) fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => out.push(raw.to_string()),
        }
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// Folds a line at 75 octets, on character boundaries (RFC 6350 §3.2), and ends it with CRLF.
pub(crate) fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The byte offset of the colon that starts a line's value: the first one outside a quoted
/// parameter value.
pub(crate) fn value_colon(line: &str) -> Option<usize> {
    let mut quoted = false;
    line.char_indices().find_map(|(i, c)| match c {
        '"' => {
            quoted = !quoted;
            None
        }
        ':' if !quoted => Some(i),
        _ => None,
    })
}

/// A line's group (`item1` in `item1.EMAIL`), upper-cased name, parameters (with their leading
/// `;`) and value; `None` for a line with no value colon.
pub(crate) fn split(line: &str) -> Option<(Option<&str>, String, &str, &str)> {
    let colon = value_colon(line)?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let name_end = head.find(';').unwrap_or(head.len());
    let (full_name, params) = (&head[..name_end], &head[name_end..]);
    let (group, name) = match full_name.split_once('.') {
        Some((g, n)) => (Some(g), n),
        None => (None, full_name),
    };
    Some((group, name.to_ascii_uppercase(), params, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_splits_with_quoted_colons() {
        let lines = unfold("BEGIN:VCARD\r\nitem1.EMAIL;X-A=\"a:b\":x@\r\n y.org\r\n\r\n");
        assert_eq!(lines, ["BEGIN:VCARD", "item1.EMAIL;X-A=\"a:b\":x@y.org"]);
        let (g, n, p, v) = split(&lines[1]).unwrap();
        assert_eq!(
            (g, n.as_str(), p, v),
            (Some("item1"), "EMAIL", ";X-A=\"a:b\"", "x@y.org")
        );
    }

    #[test]
    fn folds_at_75_octets_on_character_boundaries() {
        let mut out = String::new();
        fold(&"é".repeat(50), &mut out);
        assert!(out.split("\r\n").all(|l| l.len() <= 75), "{out}");
        assert_eq!(unfold(&out), ["é".repeat(50)]);
    }
}
