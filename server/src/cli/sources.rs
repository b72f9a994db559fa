//! `kith import`, `kith source` and `kith sync`: the command line of the reconcile engine.

use super::lookup::{absolute, book_id, claim_source, source, user};
use super::report;
use crate::cli::args::{ImportArgs, SourceCommand, SyncCommand};
use crate::core::accounts::DEFAULT_BOOK;
use crate::store::sources::{RunStatus, SourcePatch, Trigger};
use crate::store::{Kind, Store, StoreError};
use crate::sync::provenance::{self, Link};
use crate::sync::{self, Options, Summary};
use crate::upstream::Upstreams;
use kith_connectors::formats::{self, Format};
use kith_connectors::plan::LinkState;
use kith_connectors::record::Field;
use std::collections::HashMap;
use std::io::IsTerminal;

type CliResult = Result<(), String>;

fn store_err(e: StoreError) -> String {
    e.to_string()
}

fn sync_err(e: crate::sync::SyncError) -> String {
    super::lookup::sync_words(e)
}

/// Progress on standard error, one line rewritten in place, only when someone is watching.
fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K{msg}");
    }
}

pub async fn import(store: &dyn Store, up: &Upstreams, args: ImportArgs) -> CliResult {
    let user = user(store, &args.user).await?;
    progress(&format!("reading {}…", args.file.display()));
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let expected = Format::parse(&args.format);
    let format = match expected {
        Some(f) => f,
        None => formats::detect(&bytes).map_err(|e| format!("{}: {e}", args.file.display()))?,
    };
    drop(bytes);
    let location = absolute(&args.file)?;
    let name = args
        .source
        .clone()
        .unwrap_or_else(|| format.as_str().to_string());
    let book = match &args.book {
        Some(b) => Some(book_id(store, &user, b).await?),
        None => None,
    };
    let (src, created) =
        crate::core::sources::file_source(store, &user, &name, format, location, book)
            .await
            .map_err(super::lookup::words)?;
    if created {
        eprintln!(
            "created source {name:?} ({format}) for {} → book {:?}",
            user.name,
            args.book.as_deref().unwrap_or(DEFAULT_BOOK)
        );
    }
    let lease = if args.dry_run {
        None
    } else {
        Some(claim_source(store, src.id, &src.name).await?)
    };
    let outcome = sync::run_source(
        store,
        up,
        &src,
        Options {
            dry_run: args.dry_run,
            force: args.force,
            accept_merges: args.accept_merges,
            trigger: Trigger::Cli,
            progress,
        },
    )
    .await;
    if let Some(lease) = lease {
        let _ = store
            .release_lease(&lease, crate::core::lease::instance_id())
            .await;
    }
    progress("");
    let outcome = outcome.map_err(sync_err)?;
    print_outcome(&outcome, args.dry_run);
    Ok(())
}

fn print_outcome(o: &sync::Outcome, dry_run: bool) {
    let mut out = String::new();
    report::summary(&mut out, o.run_id, o.status, &o.summary);
    if dry_run || o.status == RunStatus::Paused {
        report::ops(&mut out, "Operations", &o.ops, 200);
    } else {
        // What needs the user's attention: kept conflicts, proposed merges, and cards of the
        // file that were repaired on the way in.
        let notable: Vec<_> = o
            .ops
            .iter()
            .filter(|op| {
                op.conflict
                    || op.action == kith_connectors::plan::Action::Propose
                    || (op.verbatim && !op.notes.is_empty())
            })
            .cloned()
            .collect();
        if !notable.is_empty() {
            report::ops(
                &mut out,
                "Conflicts, proposed merges and repaired cards",
                &notable,
                50,
            );
        }
    }
    match o.status {
        RunStatus::Paused => out.push_str(&format!(
            "Nothing was applied. Review with `kith sync show {0}`, then `kith sync apply {0} --force`.\n",
            o.run_id
        )),
        RunStatus::Planned => out.push_str(&format!(
            "Dry run: nothing was changed. Apply this plan with `kith sync apply {}`.\n",
            o.run_id
        )),
        _ => {}
    }
    print!("{out}");
}

pub async fn source_command(store: &dyn Store, up: &Upstreams, cmd: SourceCommand) -> CliResult {
    match cmd {
        SourceCommand::Add {
            provider,
            user,
            name,
            book,
        } => crate::cli::providers::add(store, up, &provider, &user, name, book).await,
        SourceCommand::Directory {
            provider,
            user,
            book,
            readers,
        } => crate::cli::providers::directory(store, up, &provider, &user, &book, &readers).await,
        SourceCommand::Calendar {
            provider,
            user,
            calendar,
            into,
            name,
            list,
        } => {
            let into = into.unwrap_or_else(|| format!("{provider}-calendar"));
            let name = name.unwrap_or_else(|| into.clone());
            if list {
                crate::cli::providers::calendars(store, up, &provider, &user).await
            } else {
                crate::cli::providers::calendar(
                    store, up, &provider, &user, &calendar, &into, &name,
                )
                .await
            }
        }
        SourceCommand::Revoke { name, user } => {
            crate::cli::providers::revoke(store, up, &user, &name).await
        }
        SourceCommand::List { user: u } => {
            let user = user(store, &u).await?;
            let mut books: HashMap<i64, String> = HashMap::new();
            // Contact sources fill books, calendar sources calendars.
            for kind in [Kind::Addressbook, Kind::Calendar] {
                for c in store.collections(user.id, kind).await.map_err(store_err)? {
                    books.insert(c.id, c.name);
                }
            }
            let sources = store.sources(user.id).await.map_err(store_err)?;
            if sources.is_empty() {
                println!(
                    "{} has no sources; add one with `kith import FILE --user {}`",
                    user.name, user.name
                );
            }
            for s in sources {
                let linked = store
                    .mappings(s.id)
                    .await
                    .map_err(store_err)?
                    .iter()
                    .filter(|(_, m)| m.state == LinkState::Linked)
                    .count();
                println!(
                    "{:<16} {:<13} → {:<12} {:<7} {linked} linked{}",
                    s.name,
                    s.kind,
                    books.get(&s.collection_id).map_or("?", String::as_str),
                    s.status,
                    s.location
                        .as_deref()
                        .map(|l| format!("  {l}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        SourceCommand::Show { name, user: u } => show(store, &u, &name).await,
        SourceCommand::Rules(args) => super::rules::rules(store, *args).await,
        SourceCommand::Remove {
            name,
            user: u,
            delete_cards,
            keep_cards,
        } => {
            let user = user(store, &u).await?;
            let s = source(store, &user, &name).await?;
            let mut delete = delete_cards;
            if !delete_cards && !keep_cards && std::io::stdin().is_terminal() {
                eprint!("Keep the cards imported from {name}? [Y/n] ");
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                delete =
                    line.trim().eq_ignore_ascii_case("n") || line.trim().eq_ignore_ascii_case("no");
            }
            crate::cli::providers::disconnect(store, up, &s).await?;
            let n = store.delete_source(s.id, delete).await.map_err(store_err)?;
            if delete {
                println!("removed source {name} and {n} cards only it had linked");
            } else {
                println!("removed source {name}; its cards stay in the address book");
            }
            Ok(())
        }
    }
}

async fn show(store: &dyn Store, u: &str, name: &str) -> CliResult {
    let user = user(store, u).await?;
    let s = source(store, &user, name).await?;
    let rules = sync::parse_rules(&s).map_err(sync_err)?;
    let book = store
        .collections(user.id, Kind::Addressbook)
        .await
        .map_err(store_err)?
        .into_iter()
        .find(|c| c.id == s.collection_id)
        .map(|c| c.name)
        .unwrap_or_default();
    println!("Source {} ({}) → book {book:?}", s.name, s.kind);
    println!(
        "  status      {}{}",
        s.status,
        s.status_detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    );
    if let Some(l) = &s.location {
        println!("  file        {l}");
    }
    println!("  created     {}", report::time(s.created_at));
    if let Some(t) = s.last_run_at {
        println!("  last run    {}", report::time(t));
    }
    print!("{}", super::rules::rules_text(&rules, s.applied_once));
    let links = store.book_links(s.collection_id).await.map_err(store_err)?;
    let mut by_card: HashMap<&str, Vec<&crate::store::sources::BookLink>> = HashMap::new();
    for l in &links {
        if let Some(c) = l.mapping.card.as_deref() {
            by_card.entry(c).or_default().push(l);
        }
    }
    let mine: Vec<_> = store
        .mappings(s.id)
        .await
        .map_err(store_err)?
        .into_iter()
        .filter(|(_, m)| {
            m.card.is_some() && matches!(m.state, LinkState::Linked | LinkState::Unlinked)
        })
        .collect();
    let counts = |st: LinkState| mine.iter().filter(|(_, m)| m.state == st).count();
    println!(
        "Contacts: {} linked, {} unlinked",
        counts(LinkState::Linked),
        counts(LinkState::Unlinked)
    );
    let mut cards: Vec<(String, String)> = Vec::new();
    for (_, m) in &mine {
        let Some(card) = &m.card else { continue };
        let Some(obj) = store
            .object(s.collection_id, card)
            .await
            .map_err(store_err)?
        else {
            continue;
        };
        let Ok(read) = kith_connectors::card::read_card(&obj.data) else {
            continue;
        };
        let card_links: Vec<Link<'_>> = by_card
            .get(card.as_str())
            .into_iter()
            .flatten()
            .filter_map(|l| {
                Some(Link {
                    source: &l.source_name,
                    base: l.mapping.base.as_ref()?,
                    state: l.mapping.state,
                })
            })
            .collect();
        let mut text = format!(
            "\n{}  [{card}]{}\n",
            read.record.display_name(),
            if m.state == LinkState::Unlinked {
                " (unlinked)"
            } else {
                ""
            }
        );
        for o in provenance::of_card(&read.record, &card_links) {
            let from = if o.sources.is_empty() {
                "set in Kith".to_string()
            } else {
                o.sources.join(", ")
            };
            let value = if o.field == Field::Address {
                o.value
                    .split(';')
                    .filter(|p| !p.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                o.value.clone()
            };
            let value: String = value.replace('\n', " / ").chars().take(48).collect();
            text.push_str(&format!("  {:<13} {value:<50} {from}\n", o.field.as_str()));
        }
        cards.push((read.record.display_name().to_lowercase(), text));
    }
    cards.sort();
    for (_, t) in cards {
        print!("{t}");
    }
    Ok(())
}

pub async fn sync_command(store: &dyn Store, up: &Upstreams, cmd: SyncCommand) -> CliResult {
    match cmd {
        SyncCommand::Plan {
            name,
            user: u,
            file,
            accept_merges,
        } => {
            let user = user(store, &u).await?;
            let mut s = source(store, &user, &name).await?;
            if let Some(f) = file {
                let loc = absolute(&f)?;
                store
                    .patch_source(s.id, SourcePatch::Location(loc.clone()))
                    .await
                    .map_err(store_err)?;
                s.location = Some(loc);
            }
            let o = sync::run_source(
                store,
                up,
                &s,
                Options {
                    dry_run: true,
                    force: false,
                    accept_merges,
                    trigger: Trigger::Cli,
                    progress,
                },
            )
            .await
            .map_err(sync_err)?;
            print_outcome(&o, true);
            Ok(())
        }
        SyncCommand::Run {
            name,
            user: u,
            force,
        } => {
            let user = user(store, &u).await?;
            let s = source(store, &user, &name).await?;
            let lease = claim_source(store, s.id, &s.name).await?;
            let o = sync::run_source(
                store,
                up,
                &s,
                Options {
                    dry_run: false,
                    force,
                    accept_merges: false,
                    trigger: Trigger::Cli,
                    progress,
                },
            )
            .await;
            let _ = store
                .release_lease(&lease, crate::core::lease::instance_id())
                .await;
            let o = o.map_err(sync_err)?;
            print_outcome(&o, false);
            Ok(())
        }
        SyncCommand::Apply { run, force } => {
            let (_, planned) = sync::run_and_source(store, run).await.map_err(sync_err)?;
            let lease = claim_source(store, planned.id, &planned.name).await?;
            let applied = sync::apply_run(store, up, run, force).await;
            let _ = store
                .release_lease(&lease, crate::core::lease::instance_id())
                .await;
            let (src, summary) = applied.map_err(sync_err)?;
            let mut out = String::new();
            report::summary(&mut out, run, RunStatus::Applied, &summary);
            print!("{out}");
            let _ = src;
            Ok(())
        }
        SyncCommand::History {
            user: u,
            source: name,
            limit,
        } => {
            let user = user(store, &u).await?;
            let sid = match name {
                Some(n) => Some(source(store, &user, &n).await?.id),
                None => None,
            };
            let runs = store.runs(user.id, sid, limit).await.map_err(store_err)?;
            let mut out = String::new();
            if runs.is_empty() {
                out.push_str("no runs yet\n");
            } else {
                out.push_str("  run  when                     source       status    trigger        changes\n");
            }
            for r in &runs {
                report::history_line(&mut out, r);
            }
            print!("{out}");
            Ok(())
        }
        SyncCommand::Show { run, all } => {
            let (r, _) = sync::run_and_source(store, run).await.map_err(sync_err)?;
            let summary: Summary = serde_json::from_str(&r.summary).unwrap_or_default();
            let mut out = String::new();
            report::summary(&mut out, r.id, r.status, &summary);
            out.push_str(&format!("  started     {}\n", report::time(r.created_at)));
            if let Some(t) = r.applied_at {
                out.push_str(&format!("  applied     {}\n", report::time(t)));
            }
            if let Some(m) = &r.message {
                out.push_str(&format!("  note        {m}\n"));
            }
            let ops = sync::load_ops(store, run).await.map_err(sync_err)?;
            report::ops(
                &mut out,
                "Operations",
                &ops,
                if all { usize::MAX } else { 200 },
            );
            print!("{out}");
            Ok(())
        }
        SyncCommand::Undo { run, force } => {
            let u = sync::undo_run(store, run, force).await.map_err(sync_err)?;
            println!(
                "undid run {run} as run {}: {} cards restored, {} removed",
                u.run_id, u.restored, u.removed
            );
            for c in u.skipped {
                println!("  left {c} as it is: it was edited after run {run}");
            }
            Ok(())
        }
        SyncCommand::Events { user: u, limit } => {
            let user = user(store, &u).await?;
            let events = store.events(user.id, limit).await.map_err(store_err)?;
            if events.is_empty() {
                println!("no events");
            }
            for e in events {
                println!(
                    "{}  {:<7} {}{}",
                    report::time(e.at),
                    e.level,
                    e.source.map(|s| format!("[{s}] ")).unwrap_or_default(),
                    e.message
                );
            }
            Ok(())
        }
    }
}
