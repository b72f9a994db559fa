//! Which source set which field of a card: a value equal to a linked source's base came from
//! that source; a value no source has was set in Kith (by a CardDAV client).

use kith_connectors::plan::LinkState;
use kith_connectors::record::{Field, Record};

pub struct Origin {
    pub field: Field,
    pub value: String,
    /// Sources that provide this value; empty: set in Kith.
    pub sources: Vec<String>,
}

/// A source's view of a card: its name, its base, and whether it is still linked.
pub struct Link<'a> {
    pub source: &'a str,
    pub base: &'a Record,
    pub state: LinkState,
}

fn label(l: &Link<'_>) -> String {
    match l.state {
        LinkState::Linked => l.source.to_string(),
        _ => format!("{} ({})", l.source, l.state.as_str()),
    }
}

pub fn of_card(card: &Record, links: &[Link<'_>]) -> Vec<Origin> {
    let mut out = Vec::new();
    for (f, v) in &card.scalars {
        out.push(Origin {
            field: *f,
            value: v.clone(),
            sources: links
                .iter()
                .filter(|l| l.base.get(*f) == Some(v.as_str()))
                .map(label)
                .collect(),
        });
    }
    for (f, elems) in &card.multis {
        for (k, e) in elems {
            out.push(Origin {
                field: *f,
                value: e.value.clone(),
                sources: links
                    .iter()
                    .filter(|l| l.base.has_elem(*f, k))
                    .map(label)
                    .collect(),
            });
        }
    }
    out.sort_by_key(|o| o.field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_attributed_to_the_sources_that_have_them() {
        let mut li = Record::default();
        li.set(Field::Title, "Engineer");
        li.add(Field::Email, "a@x.org", None);
        let mut g = Record::default();
        g.add(Field::Email, "A@X.org", None);
        let mut card = li.clone();
        card.set(Field::Title, "CTO");
        let links = [
            Link {
                source: "linkedin",
                base: &li,
                state: LinkState::Linked,
            },
            Link {
                source: "google",
                base: &g,
                state: LinkState::Unlinked,
            },
        ];
        let o = of_card(&card, &links);
        let title = o.iter().find(|o| o.field == Field::Title).unwrap();
        assert!(title.sources.is_empty(), "edited in Kith");
        let email = o.iter().find(|o| o.field == Field::Email).unwrap();
        assert_eq!(
            email.sources,
            vec!["linkedin".to_string(), "google (unlinked)".to_string()]
        );
    }
}
