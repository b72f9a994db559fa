//! Simulations against the real server, with random sequences of edits:
//! - contacts: imports from two sources (a LinkedIn and a Google CSV that share people),
//!   client edits and deletes over CardDAV, and undos. After every step no client edit is
//!   lost, no identity has two cards, and no card disappeared without a rule or an undo of the
//!   run that created it;
//! - calendars: a Google and a Microsoft 365 calendar, two-way, with edits on both sides,
//!   new and deleted events upstream, and injected faults (expired tokens, throttling, etag
//!   churn). After every run no edit is lost, no event is duplicated on either side, and
//!   nothing is deleted in Kith, whose delete protection is on.

use crate::calendars;
use crate::calendars_outlook as outlook;
use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

#[derive(Clone, Copy, Debug)]
enum Cloud {
    Google,
    Outlook,
}

impl Cloud {
    /// Event `i` as the provider holds it: its identity in the description (`sim-i`).
    fn event(self, i: usize, summary: &str) -> Value {
        let (from, to) = (
            format!("{:02}:00:00", 8 + i % 10),
            format!("{:02}:30:00", 8 + i % 10),
        );
        match self {
            Cloud::Google => {
                json!({"id": format!("sim{i:08}"), "summary": summary, "description": format!("sim-{i}"),
                "start": calendars::timed("2026-05-04", &from), "end": calendars::timed("2026-05-04", &to)})
            }
            Cloud::Outlook => json!({"id": format!("AAMkSim{i}"), "subject": summary,
                "body": {"contentType": "text", "content": format!("sim-{i}")},
                "start": outlook::at("2026-05-04", &from, outlook::W), "end": outlook::at("2026-05-04", &to, outlook::W)}),
        }
    }

    async fn start(self, n: usize) -> calendars::C {
        let events: Vec<Value> = (0..n).map(|i| self.event(i, &format!("S{i}"))).collect();
        match self {
            Cloud::Google => calendars::C::start(events).await,
            Cloud::Outlook => calendars::C::outlook(json!(events)).await,
        }
    }

    async fn upsert(self, c: &calendars::C, i: usize, summary: &str) {
        match self {
            Cloud::Google => {
                c.upsert(vec![self.event(i, summary)]).await;
            }
            Cloud::Outlook => c.outlook_upsert(json!([self.event(i, summary)])).await,
        }
    }

    async fn delete(self, c: &calendars::C, i: usize) {
        let v = match self {
            Cloud::Google => {
                json!({"account": calendars::ACCOUNT, "calendar": "primary", "id": format!("sim{i:08}")})
            }
            Cloud::Outlook => json!({"account": outlook::MS, "id": format!("AAMkSim{i}")}),
        };
        c.control("/_fake/calendar/delete", v).await;
    }

    /// The change feed's token dies (and, at Google, every event's etag churns).
    async fn expire(self, c: &calendars::C) {
        match self {
            Cloud::Google => {
                c.control("/_fake/calendar/expire", json!({})).await;
                c.control(
                    "/_fake/calendar/churn",
                    json!({"account": calendars::ACCOUNT, "calendar": "primary"}),
                )
                .await;
            }
            Cloud::Outlook => {
                c.control("/_fake/calendar/evict", json!({})).await;
            }
        }
    }

    /// The next `n` requests are throttled.
    async fn storm(self, c: &calendars::C, n: usize) {
        match self {
            Cloud::Google => {
                c.control("/_fake/calendar/storm", json!({"requests": n}))
                    .await
            }
            Cloud::Outlook => {
                c.control("/_fake/config", json!({"storm": n, "retry_after_secs": 2}))
                    .await
            }
        };
    }

    /// Identity → summary of every event the provider holds.
    async fn listed(self, c: &calendars::C, step: usize) -> BTreeMap<usize, String> {
        let (rows, text, title) = match self {
            Cloud::Google => (c.upstream().await, "/description", "summary"),
            Cloud::Outlook => (
                calendars::graph_events(c, outlook::MS).await,
                "/body/content",
                "subject",
            ),
        };
        let mut there = BTreeMap::new();
        for e in rows.iter().filter(|e| e["status"] != "cancelled") {
            let id: usize = e.pointer(text).and_then(Value::as_str).unwrap()["sim-".len()..]
                .parse()
                .unwrap();
            let summary = e[title].as_str().unwrap().to_string();
            assert!(
                there.insert(id, summary).is_none(),
                "step {step}: sim-{id} twice in {self:?}"
            );
        }
        there
    }
}

/// Identity → summary of every event in the Kith calendar; each identity once.
async fn in_kith(c: &calendars::C, step: usize) -> BTreeMap<usize, String> {
    let mut seen = BTreeMap::new();
    for (_, t) in c.objects().await.values() {
        let field = |name: &str| {
            t.lines()
                .find_map(|l| l.trim_end().strip_prefix(name).map(str::to_string))
                .unwrap()
        };
        let id: usize = field("DESCRIPTION:sim-").parse().unwrap();
        assert!(
            seen.insert(id, field("SUMMARY:")).is_none(),
            "step {step}: sim-{id} twice in Kith"
        );
    }
    seen
}

async fn simulate_calendar(cloud: Cloud, seed: u64, steps: usize) {
    // Shown with a failure, so the sequence can be replayed.
    eprintln!("{cloud:?} calendar simulation seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let c = cloud.start(6).await;
    c.run();
    c.two_way();
    // What each identity's summary must be after the next run: Kith's edit wins a conflict.
    let mut want: BTreeMap<usize, String> = (0..6).map(|i| (i, format!("S{i}"))).collect();
    let mut gone_upstream: Vec<usize> = Vec::new();
    let mut made = 6;
    for step in 0..steps {
        let mut client: BTreeMap<usize, String> = BTreeMap::new();
        let mut upstream: BTreeMap<usize, String> = BTreeMap::new();
        for _ in 0..3 {
            let ids: Vec<usize> = want
                .keys()
                .copied()
                .filter(|i| !gone_upstream.contains(i))
                .collect();
            match rng.below(8) {
                0 | 1 if !ids.is_empty() => {
                    let i = ids[rng.below(ids.len())];
                    let v = format!("U{step}-{i}");
                    cloud.upsert(&c, i, &v).await;
                    upstream.insert(i, v);
                }
                2 | 3 if !ids.is_empty() => {
                    let i = ids[rng.below(ids.len())];
                    let (name, etag, text) = c.object_with(&format!("DESCRIPTION:sim-{i}\r")).await;
                    let old = text
                        .lines()
                        .find(|l| l.starts_with("SUMMARY:"))
                        .unwrap()
                        .trim_end()
                        .to_string();
                    let v = format!("K{step}-{i}");
                    let edited = text.replace(&old, &format!("SUMMARY:{v}"));
                    assert_eq!(c.put_event(&name, Some(&etag), &edited).await, 204);
                    client.insert(i, v);
                }
                4 => {
                    let i = made;
                    made += 1;
                    cloud.upsert(&c, i, &format!("N{i}")).await;
                    upstream.insert(i, format!("N{i}"));
                }
                5 if ids.len() > 3 => {
                    let i = ids[rng.below(ids.len())];
                    cloud.delete(&c, i).await;
                    // Kith keeps the event (delete protection), with any edit made to it.
                    gone_upstream.push(i);
                    upstream.remove(&i);
                }
                6 => cloud.expire(&c).await,
                _ => cloud.storm(&c, 1 + rng.below(2)).await,
            }
        }
        want.extend(upstream);
        want.extend(client);
        let out = c.run();
        assert!(!out.contains("paused"), "step {step}: {out}");
        let seen = in_kith(&c, step).await;
        for (i, v) in &want {
            assert_eq!(seen.get(i), Some(v), "step {step}: sim-{i} in Kith");
        }
        let there = cloud.listed(&c, step).await;
        for (i, v) in want.iter().filter(|(i, _)| !gone_upstream.contains(i)) {
            assert_eq!(there.get(i), Some(v), "step {step}: sim-{i} in {cloud:?}");
        }
    }
}

fn seed() -> u64 {
    0x9E37_79B9_7F4A_7C15u64 ^ std::process::id() as u64
}

#[tokio::test]
async fn a_google_calendar_under_random_edits_and_faults_loses_nothing() {
    simulate_calendar(Cloud::Google, seed(), 24).await;
}

#[tokio::test]
async fn an_outlook_calendar_under_random_edits_and_faults_loses_nothing() {
    simulate_calendar(Cloud::Outlook, seed().rotate_left(17), 24).await;
}
