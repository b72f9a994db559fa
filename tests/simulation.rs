//! A simulation: random sequences of imports from two sources (a LinkedIn and a Google CSV
//! that share people), client edits and deletes over CardDAV, and undos, against the real
//! server. After every step it checks that no client edit was lost, that no identity has two
//! cards, and that no card disappeared without a rule or an undo of the run that created it.

use crate::common::*;
use std::collections::{BTreeSet, HashMap};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic per seed, so a failure is reproducible.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PEOPLE: usize = 12;
const COMPANIES: [&str; 4] = ["Acme", "Globex", "Initech", "Umbrella"];
const TITLES: [&str; 4] = ["Engineer", "Manager", "Designer", "Analyst"];

#[derive(Clone)]
struct Person {
    in_linkedin: bool,
    in_google: bool,
    company: usize,
    title: usize,
    phone: usize,
}

fn linkedin(people: &[Person]) -> String {
    let mut s = String::from(
        "Notes:\n\"Some email addresses are missing.\"\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n",
    );
    for (i, p) in people.iter().enumerate().filter(|(_, p)| p.in_linkedin) {
        s.push_str(&format!(
            "P{i},Sim,https://www.linkedin.com/in/sim-{i},,{},{},01 Jan 2024\n",
            COMPANIES[p.company], TITLES[p.title]
        ));
    }
    s
}

fn google(people: &[Person]) -> String {
    let mut s = String::from(
        "First Name,Last Name,Organization Name,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Website 1 - Label,Website 1 - Value\n",
    );
    for (i, p) in people.iter().enumerate().filter(|(_, p)| p.in_google) {
        s.push_str(&format!(
            "P{i},Sim,{},* myContacts,Work,p{i}@sim.example,Mobile,+1 555 010 {:04},Profile,https://linkedin.com/in/SIM-{i}/\n",
            COMPANIES[p.company],
            1000 + p.phone
        ));
    }
    s
}

fn run_of(out: &str) -> Option<(i64, String)> {
    let first = out.lines().next()?;
    let mut w = first.split_whitespace();
    if w.next()? != "Run" {
        return None;
    }
    let id = w.next()?.parse().ok()?;
    Some((id, first.rsplit(": ").next()?.to_string()))
}

/// The people a card mentions, by their LinkedIn URL or email.
fn persons(text: &str) -> BTreeSet<usize> {
    let lower = text.to_lowercase();
    let mut out = BTreeSet::new();
    let digits = |s: &str| -> Option<usize> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    for (i, _) in lower.match_indices("/in/sim-") {
        out.extend(digits(&lower[i + 8..]));
    }
    for (i, _) in lower.match_indices("@sim.example") {
        let start = lower[..i].rfind('p').map_or(i, |p| p + 1);
        out.extend(digits(&lower[start..i]));
    }
    out
}

async fn simulate(seed: u64, steps: usize) {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut people: Vec<Person> = (0..PEOPLE)
        .map(|i| Person {
            in_linkedin: i % 3 != 0,
            in_google: i % 2 == 0,
            company: i % 4,
            title: i % 4,
            phone: i,
        })
        .collect();
    // Client edits that must survive: card → (title, phone).
    let mut edits: HashMap<String, (String, String)> = HashMap::new();
    // Applied sync runs, newest last, with the cards that appeared in each.
    let mut applied: Vec<(i64, BTreeSet<String>)> = Vec::new();
    let mut log = Vec::new();
    for step in 0..steps {
        let before = download_book(&s).await;
        let mut removed_ok: BTreeSet<String> = BTreeSet::new();
        match rng.below(6) {
            0..=2 => {
                for _ in 0..1 + rng.below(3) {
                    let p = &mut people[rng.below(PEOPLE)];
                    match rng.below(4) {
                        0 => p.in_linkedin = !p.in_linkedin,
                        1 => p.in_google = !p.in_google,
                        2 => p.company = rng.below(COMPANIES.len()),
                        _ => {
                            p.title = rng.below(TITLES.len());
                            p.phone = rng.below(50);
                        }
                    }
                }
                let (name, text) = if rng.below(2) == 0 {
                    ("li", linkedin(&people))
                } else {
                    ("g", google(&people))
                };
                let path = dir.path().join(format!("{name}.csv"));
                std::fs::write(&path, text).unwrap();
                let (ok, out, err) = kith_cli(
                    s.dir.path(),
                    &[
                        "import",
                        path.to_str().unwrap(),
                        "--user",
                        "admin",
                        "--source",
                        name,
                    ],
                    "",
                );
                assert!(ok, "seed {seed} step {step}: import failed: {err}");
                let (id, status) = run_of(&out).expect("a run summary");
                log.push(format!("{step}: import {name} → run {id} {status}"));
                if status == "applied" {
                    let now = download_book(&s).await;
                    let created = now
                        .keys()
                        .filter(|k| !before.contains_key(*k))
                        .cloned()
                        .collect();
                    applied.push((id, created));
                }
            }
            3 if !before.is_empty() => {
                let names: Vec<&String> = before.keys().collect();
                let name = names[rng.below(names.len())].clone();
                let (etag, text) = &before[&name];
                let title = format!("Edited {step}");
                let phone = format!("+44 20 7946 {:04}", step);
                let mut edited = String::new();
                for line in text.split("\r\n") {
                    if line.starts_with("TITLE:") {
                        continue;
                    }
                    if line == "END:VCARD" {
                        edited.push_str(&format!("TITLE:{title}\r\nTEL;TYPE=home:{phone}\r\n"));
                    }
                    if !line.is_empty() {
                        edited.push_str(line);
                        edited.push_str("\r\n");
                    }
                }
                let r = s
                    .req("PUT", &format!("{BOOK}{name}"))
                    .header("if-match", etag)
                    .vcard(edited.as_bytes())
                    .send()
                    .await;
                assert_eq!(r.status, 204, "seed {seed} step {step}: {}", r.text());
                log.push(format!("{step}: edit {name}"));
                edits.insert(name, (title, phone));
            }
            4 if !before.is_empty() && rng.below(3) == 0 => {
                let names: Vec<&String> = before.keys().collect();
                let name = names[rng.below(names.len())].clone();
                let r = s.req("DELETE", &format!("{BOOK}{name}")).send().await;
                assert_eq!(r.status, 204);
                log.push(format!("{step}: client deletes {name}"));
                edits.remove(&name);
                removed_ok.insert(name);
            }
            _ => {
                let Some((id, created)) = applied.pop() else {
                    continue;
                };
                let force = rng.below(2) == 0;
                let id_s = id.to_string();
                let mut args = vec!["sync", "undo", id_s.as_str()];
                if force {
                    args.push("--force");
                }
                let (ok, out, err) = kith_cli(s.dir.path(), &args, "");
                log.push(format!(
                    "{step}: undo {id} force={force} → {ok} {}",
                    out.trim()
                ));
                if ok {
                    removed_ok.extend(created);
                } else {
                    assert!(err.contains("--force"), "seed {seed} step {step}: {err}");
                    applied.push((id, created));
                }
            }
        }
        let after = download_book(&s).await;
        let ctx = || format!("seed {seed} step {step}\n{}", log.join("\n"));
        // No client edit is lost.
        for (name, (title, phone)) in &edits {
            let (_, text) = after
                .get(name)
                .unwrap_or_else(|| panic!("edited card {name} disappeared; {}", ctx()));
            assert!(
                text.contains(&format!("TITLE:{title}")) && text.contains(phone.as_str()),
                "client edit of {name} lost:\n{text}\n{}",
                ctx()
            );
        }
        // One card per identity.
        let mut seen: HashMap<usize, &String> = HashMap::new();
        for (name, (_, text)) in &after {
            for person in persons(text) {
                if let Some(other) = seen.insert(person, name) {
                    panic!("two cards for P{person}: {other} and {name}; {}", ctx());
                }
            }
        }
        if std::env::var("SIM_LOG").is_ok() && step + 1 == steps {
            eprintln!("{}", ctx());
        }
        // Nothing deleted without a rule: only client deletes and undone creations.
        for name in before.keys() {
            assert!(
                after.contains_key(name) || removed_ok.contains(name),
                "card {name} was deleted by a sync; {}",
                ctx()
            );
        }
    }
}

#[tokio::test]
async fn random_imports_edits_and_undos_keep_the_invariants() {
    for seed in [0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 42] {
        simulate(seed, 40).await;
    }
}
