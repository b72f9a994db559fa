//! vCard files with one or many cards (2.1, 3.0 or 4.0). Each card is cut out by its BEGIN/END
//! lines, so a broken card is reported with its line and the others still import.

use super::{FileRead, RowError, SourceItem, finish};
use crate::card::read_card;

pub(super) fn read(text: &str, out: &mut FileRead) {
    let mut start: Option<(u64, usize)> = None;
    let mut offset = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = n as u64 + 1;
        let line = raw
            .trim_end_matches(['\r', '\n'])
            .trim_start_matches('\u{feff}');
        if line.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some((l, _)) = start {
                out.errors
                    .push(RowError::at(l, "the card has no END:VCARD"));
            }
            start = Some((line_no, offset));
        } else if line.eq_ignore_ascii_case("END:VCARD")
            && let Some((l, from)) = start.take()
        {
            let card = &text[from..offset + raw.len()];
            match read_card(card.as_bytes()) {
                Ok(c) => {
                    let id = c.uid.map(|u| format!("uid:{u}"));
                    match finish(c.record, id, l) {
                        Ok(item) => out.items.push(SourceItem {
                            raw: Some(card.to_string()),
                            ..item
                        }),
                        Err(e) => out.errors.push(e),
                    }
                }
                Err(m) => out
                    .errors
                    .push(RowError::at(l, format!("the card could not be read: {m}"))),
            }
        }
        offset += raw.len();
    }
    if let Some((l, _)) = start {
        out.errors
            .push(RowError::at(l, "the card has no END:VCARD"));
    }
}
