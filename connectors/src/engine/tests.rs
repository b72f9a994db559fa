use super::*;
use crate::card::read_card;
use crate::connector::Fetched;
use crate::formats::{self, Format};
use crate::plan::Guard;

/// An in-memory book and mapping table that plans are applied to, as the server does.
struct Sim {
    cards: HashMap<String, String>,
    mappings: HashMap<String, Mapping>,
    next: u32,
    established: bool,
}

fn etag(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

impl Sim {
    fn new() -> Sim {
        Sim {
            cards: HashMap::new(),
            mappings: HashMap::new(),
            next: 0,
            established: false,
        }
    }

    fn plan(&mut self, csv: &str, rules: &Rules) -> Plan {
        let read = formats::read(csv.as_bytes(), None).unwrap();
        let mut book = Book::new(self.cards.iter().map(|(n, t)| {
            (
                n.clone(),
                BookCard {
                    etag: etag(t),
                    text: t.clone(),
                    record: read_card(t.as_bytes()).unwrap().record,
                    uid: read_card(t.as_bytes()).unwrap().uid,
                },
            )
        }));
        let state = SourceState {
            mappings: self.mappings.clone(),
            others: HashMap::new(),
            established: self.established,
        };
        let mut n = self.next;
        let mut uid = || {
            n += 1;
            format!("id-{n}")
        };
        let p = plan(PlanInput {
            source: "linkedin",
            rules,
            fetched: Fetched {
                items: read.items,
                errors: read.errors,
                complete: true,
                full: true,
                ..Fetched::default()
            },
            state: &state,
            book: &mut book,
            new_uid: &mut uid,
            accept_merges: false,
            fields: &Field::ALL,
            kind: crate::object::ObjectKind::Card,
            fit: &|r| r,
            create_label: None,
        });
        self.next = n;
        p
    }

    fn apply(&mut self, p: &Plan) {
        for op in &p.ops {
            let mut etag_after = None;
            if let (Some(card), Some(text)) = (&op.card, &op.card_text) {
                assert_eq!(self.cards.get(card).map(|t| etag(t)), op.expect_etag);
                self.cards.insert(card.clone(), text.clone());
                etag_after = Some(etag(text));
            }
            if op.action == Action::Delete {
                self.cards.remove(op.card.as_ref().unwrap());
            }
            if let Some(m) = &op.mapping {
                let mut m = m.clone();
                if etag_after.is_some() {
                    m.card_etag = etag_after;
                } else if m.card_etag.is_none() {
                    m.card_etag = m
                        .card
                        .as_ref()
                        .and_then(|c| self.cards.get(c))
                        .map(|t| etag(t));
                }
                self.mappings.insert(op.remote_id.clone(), m);
            }
        }
        self.established = true;
    }

    fn card_of(&self, id: &str) -> String {
        let c = self.mappings[id].card.clone().unwrap();
        self.cards[&c].clone()
    }
}

const HEAD: &str = "\u{feff}Notes:\n\"When exporting your connection data, you may notice that some of the email addresses are missing.\"\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n";

fn linkedin(rows: &[&str]) -> String {
    format!("{HEAD}{}\n", rows.join("\n"))
}

const PRIYA: &str = "Priya,Sharma,https://www.linkedin.com/in/priya-sharma-1a2b3c,,\"Stripe, Inc.\",Technical Recruiter,12 Mar 2024";
const ARJUN: &str = "Arjun,Mehta,https://www.linkedin.com/in/ArjunMehta/,arjun@example.com,Amazon Web Services (AWS),\"Engineering Manager, Payments\",03 Jan 2023";
const LENA: &str = "Lena,Berg,https://www.linkedin.com/in/lena-berg,,Nordlys AS,CTO,7-Feb-22";

#[test]
fn reimport_is_a_no_op_and_a_newer_export_plans_exactly_its_changes() {
    let mut sim = Sim::new();
    let rules = Rules::default();
    let first = sim.plan(&linkedin(&[PRIYA, ARJUN, LENA]), &rules);
    assert_eq!(first.count(Action::Create), 3);
    assert!(first.trips.is_empty());
    sim.apply(&first);
    let again = sim.plan(&linkedin(&[PRIYA, ARJUN, LENA]), &rules);
    assert!(again.ops.is_empty(), "{:?}", again.ops);
    assert_eq!(again.unchanged, 3);

    let priya2 = PRIYA.replace("\"Stripe, Inc.\"", "Plaid");
    let new = "Omar,Haddad,https://www.linkedin.com/in/omarh,,Acme,Designer,01 Jan 2025";
    let newer = sim.plan(&linkedin(&[&priya2, ARJUN, new]), &rules);
    let c = newer.counts();
    assert_eq!(c.get(&Action::Update), Some(&1));
    assert_eq!(c.get(&Action::Create), Some(&1));
    assert_eq!(c.get(&Action::Unlink), Some(&1));
    assert_eq!(c.get(&Action::Delete), None);
    assert_eq!(newer.ops.len(), 3);
    let upd = newer
        .ops
        .iter()
        .find(|o| o.action == Action::Update)
        .unwrap();
    assert_eq!(upd.changes.len(), 1);
    assert_eq!(upd.changes[0].after.as_deref(), Some("Plaid"));
    sim.apply(&newer);
    assert!(
        sim.card_of("linkedin.com/in/priya-sharma-1a2b3c")
            .contains("ORG:Plaid")
    );
    assert_eq!(sim.cards.len(), 4, "the unlinked card stays");
}

#[test]
fn client_edits_survive_an_older_export() {
    let mut sim = Sim::new();
    let rules = Rules::default();
    let p0 = sim.plan(&linkedin(&[LENA]), &rules);
    sim.apply(&p0);
    let id = "linkedin.com/in/lena-berg";
    let card = sim.card_of(id);
    let edited = card
        .replace("TITLE:CTO", "TITLE:Chief Executive")
        .replace("END:VCARD", "TEL;TYPE=cell:+47 22 00 00 00\r\nEND:VCARD");
    let name = sim.mappings[id].card.clone().unwrap();
    sim.cards.insert(name.clone(), edited);
    let older = LENA.replace("CTO", "Lead Engineer");
    let p = sim.plan(&linkedin(&[&older]), &rules);
    assert_eq!(p.ops.len(), 1);
    let op = &p.ops[0];
    assert_eq!(op.action, Action::Refresh, "nothing to write to the card");
    assert!(op.conflict);
    assert!(
        op.notes[0].contains("kept your edit \"Chief Executive\""),
        "{:?}",
        op.notes
    );
    sim.apply(&p);
    let after = &sim.cards[&name];
    assert!(after.contains("TITLE:Chief Executive") && after.contains("+47 22 00 00 00"));
    assert!(
        sim.plan(&linkedin(&[&older]), &rules).ops.is_empty(),
        "the older value is now the base"
    );
}

#[test]
fn guards_trip_on_mass_removal_empty_exports_and_create_storms() {
    let rows: Vec<String> = (0..20)
        .map(|i| format!("P{i},Q,https://www.linkedin.com/in/p{i},,Co,Role,01 Jan 2024"))
        .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let mut sim = Sim::new();
    let rules = Rules::default();
    let p0 = sim.plan(&linkedin(&refs), &rules);
    sim.apply(&p0);
    let p = sim.plan(&linkedin(&refs[..12]), &rules);
    assert_eq!(p.count(Action::Unlink), 8);
    assert_eq!(p.trips.len(), 1);
    assert_eq!(p.trips[0].guard, Guard::MassDelete);
    let p = sim.plan(&linkedin(&[]), &rules);
    assert!(p.trips.iter().any(|t| t.guard == Guard::EmptySide));
    let more: Vec<String> = (100..130)
        .map(|i| format!("P{i},Q,https://www.linkedin.com/in/p{i},,Co,Role,01 Jan 2024"))
        .collect();
    let mut all = refs.clone();
    all.extend(more.iter().map(String::as_str));
    let p = sim.plan(&linkedin(&all), &rules);
    assert!(
        p.trips.iter().any(|t| t.guard == Guard::CreateStorm),
        "{:?}",
        p.trips
    );
}

#[test]
fn sources_match_by_email_and_linkedin_url_and_propose_name_matches() {
    let mut sim = Sim::new();
    let rules = Rules::default();
    let p0 = sim.plan(&linkedin(&[ARJUN, LENA]), &rules);
    sim.apply(&p0);
    let google = "First Name,Last Name,Organization Name,E-mail 1 - Label,E-mail 1 - Value,Website 1 - Label,Website 1 - Value,Phone 1 - Label,Phone 1 - Value\n\
        Arjun,Mehta,AWS,* Work,Arjun@Example.com,,,Mobile,+1 555 0100\n\
        Lena,B.,,,,Profile,https://linkedin.com/in/Lena-Berg,,\n\
        Priya,Sharma,\"Stripe, Inc.\",,,,,,\n";
    // Priya is not in the book yet; add her from another source first to get a name match.
    let mut book_priya = Record::default();
    book_priya.set(Field::FullName, "Priya Sharma");
    book_priya.set(Field::Company, "Stripe, Inc.");
    sim.cards
        .insert("p.vcf".into(), crate::card::new_card("p", &book_priya));
    let mut g = Sim {
        cards: sim.cards.clone(),
        mappings: HashMap::new(),
        next: 100,
        established: false,
    };
    let p = g.plan(google, &rules);
    assert_eq!(p.count(Action::Link), 2, "{:#?}", p.ops);
    assert_eq!(p.count(Action::Propose), 1);
    assert_eq!(p.count(Action::Create), 0);
    let arjun = p.ops.iter().find(|o| o.name == "Arjun Mehta").unwrap();
    assert!(arjun.changes.iter().any(|c| c.field == Field::Phone));
    assert!(arjun.conflict, "company differs: AWS vs the LinkedIn value");
    g.apply(&p);
    let card = g.card_of("email:arjun@example.com");
    assert!(card.contains("+1 555 0100") && card.contains("linkedin.com/in/ArjunMehta"));
    assert!(g.plan(google, &rules).count(Action::Link) == 0);
}

#[test]
fn own_domain_contacts_are_ignored_and_deletes_need_rules() {
    let mut sim = Sim::new();
    let mut rules = Rules {
        ignore_domains: vec!["example.com".into()],
        ..Rules::default()
    };
    let p = sim.plan(&linkedin(&[ARJUN, LENA]), &rules);
    assert_eq!(p.count(Action::Ignore), 1);
    assert_eq!(p.count(Action::Create), 1);
    sim.apply(&p);
    assert!(sim.plan(&linkedin(&[ARJUN, LENA]), &rules).ops.is_empty());

    rules.delete_protection = false;
    let p = sim.plan(&linkedin(&[ARJUN]), &rules);
    assert_eq!(p.count(Action::Delete), 1);
    rules.delete_protection = true;
    let p = sim.plan(&linkedin(&[ARJUN]), &rules);
    assert_eq!(p.count(Action::Unlink), 1);
    assert!(p.ops[0].notes[0].contains("delete protection"));
    let _ = Format::LinkedinCsv;
}

#[test]
fn a_row_that_fails_to_read_is_not_a_removal() {
    let mut sim = Sim::new();
    let rules = Rules::default();
    let p0 = sim.plan(&linkedin(&[PRIYA, LENA]), &rules);
    sim.apply(&p0);
    let broken = LENA.replace("7-Feb-22", "someday");
    let p = sim.plan(&linkedin(&[PRIYA, &broken]), &rules);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].id.as_deref(), Some("linkedin.com/in/lena-berg"));
    assert!(p.ops.is_empty(), "{:?}", p.ops);
}

/// Two-way, with creates and deletes in the source allowed (they are off by default).
fn two_way() -> Rules {
    Rules {
        direction: crate::rules::Direction::TwoWay,
        source: crate::rules::Side {
            create: true,
            update: true,
            delete: true,
        },
        ..Rules::default()
    }
}

#[test]
fn two_way_sources_get_pushes_for_kith_edits_new_cards_and_allowed_deletes() {
    use crate::plan::PushKind;
    let mut sim = Sim::new();
    let p0 = sim.plan(&linkedin(&[PRIYA, LENA]), &Rules::default());
    sim.apply(&p0);
    assert!(
        p0.ops.iter().all(|o| o.push.is_none()),
        "import-only never pushes"
    );

    // A card only Kith has, and an edit in Kith to a linked card.
    let mut only = Record::default();
    only.set(Field::FullName, "Kith Only");
    only.add(Field::Email, "only@kith.example", None);
    sim.cards
        .insert("only.vcf".into(), crate::card::new_card("only", &only));
    let lena = sim.mappings["linkedin.com/in/lena-berg"]
        .card
        .clone()
        .unwrap();
    let edited = sim.cards[&lena].replace("TITLE:CTO", "TITLE:Founder");
    sim.cards.insert(lena.clone(), edited);

    // With creates in the source blocked, the card is listed as a skip with the reason.
    let mut no_create = two_way();
    no_create.source.create = false;
    let p = sim.plan(&linkedin(&[PRIYA, LENA]), &no_create);
    assert_eq!(p.pushes(PushKind::Create), 0);
    let skip = p
        .ops
        .iter()
        .find(|o| o.card.as_deref() == Some("only.vcf"))
        .expect("the blocked create is in the plan");
    assert_eq!(skip.action, crate::plan::Action::Skip);
    assert!(
        skip.notes
            .iter()
            .any(|n| n.contains("blocked by the rules")),
        "{:?}",
        skip.notes
    );

    let p = sim.plan(&linkedin(&[PRIYA, LENA]), &two_way());
    assert_eq!(p.pushes(PushKind::Create), 1, "{:#?}", p.ops);
    assert_eq!(p.pushes(PushKind::Update), 1);
    let upd = p
        .ops
        .iter()
        .find(|o| o.push.as_ref().is_some_and(|x| x.kind == PushKind::Update))
        .unwrap();
    let push = upd.push.as_ref().unwrap();
    assert_eq!(push.changes.len(), 1);
    assert_eq!(push.changes[0].after.as_deref(), Some("Founder"));
    assert!(upd.card_text.is_none(), "the card itself does not change");
    assert_eq!(
        upd.mapping
            .as_ref()
            .unwrap()
            .base
            .as_ref()
            .unwrap()
            .get(Field::Title),
        Some("Founder")
    );

    // Deleting a linked card in Kith: protected by default, pushed only when the rules allow.
    sim.cards.remove(&lena);
    let p = sim.plan(&linkedin(&[PRIYA, LENA]), &two_way());
    assert_eq!(p.pushes(PushKind::Delete), 0);
    let open = Rules {
        delete_protection: false,
        ..two_way()
    };
    let p = sim.plan(&linkedin(&[PRIYA, LENA]), &open);
    assert_eq!(p.pushes(PushKind::Delete), 1);

    // Export-only: the source's changes are not pulled.
    let export = Rules {
        direction: crate::rules::Direction::ExportOnly,
        ..Rules::default()
    };
    let priya2 = PRIYA.replace("\"Stripe, Inc.\"", "Plaid");
    let p = sim.plan(&linkedin(&[&priya2]), &export);
    assert_eq!(p.count(Action::Update), 0);
    let back = p.ops.iter().find(|o| o.name == "Priya Sharma").unwrap();
    assert_eq!(
        back.push.as_ref().unwrap().changes[0].after.as_deref(),
        Some("Stripe, Inc.")
    );
}

#[test]
fn a_rule_added_later_unlinks_what_it_filters_and_keeps_the_card() {
    let mut sim = Sim::new();
    let mut rules = Rules::default();
    let p = sim.plan(&linkedin(&[ARJUN, LENA]), &rules);
    sim.apply(&p);
    rules.ignore_domains = vec!["example.com".into()];
    let p = sim.plan(&linkedin(&[ARJUN, LENA]), &rules);
    assert_eq!(p.count(Action::Unlink), 1, "{:?}", p.ops);
    assert!(p.ops[0].notes[0].contains("the card stays in your book"));
    sim.apply(&p);
    assert_eq!(sim.cards.len(), 2);
    assert!(sim.plan(&linkedin(&[ARJUN, LENA]), &rules).ops.is_empty());
}
