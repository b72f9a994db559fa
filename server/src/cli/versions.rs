//! `kith trash`, `kith history`, `kith restore-version` and `kith book rewind`.

use crate::cli::args::{BookCommand, HistoryArgs, TrashCommand, Which};
use crate::config::Config;
use crate::core::accounts::DEFAULT_BOOK;
use crate::core::versions::{self, HistoryError};
use crate::store::versions::Version;
use crate::store::{Actor, Collection, Kind, Store, User};

type CliResult = Result<(), String>;

fn err(e: HistoryError) -> String {
    match e {
        HistoryError::NotInTrash { .. } => format!("{e}; `kith trash list` shows what is"),
        e => e.to_string(),
    }
}

/// Unix ms as an RFC 3339 time in UTC, to the second.
pub fn when(ms: i64) -> String {
    crate::time::rfc3339(ms)
}

/// Reads `--to`: an RFC 3339 time, or a duration meaning that long ago.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    if let Some(secs) = kith_connectors::rules::parse_interval(s) {
        return Ok(now_ms - secs as i64 * 1000);
    }
    crate::time::parse_rfc3339(s).ok_or_else(|| {
            format!(
                "--to {s:?} is not a time: give one like 2026-11-22T10:00:00Z (or with an offset, +01:00), or how long ago, like 10m, 2h or 3d"
            )
        })
}

/// What a card or event is called, for listings: its FN or SUMMARY.
fn title(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let name = line
            .split([';', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if (name == "FN" || name == "SUMMARY")
            && let Some((_, v)) = line.split_once(':')
        {
            return v.trim_end().chars().take(60).collect();
        }
    }
    String::new()
}

async fn user(store: &dyn Store, name: &str) -> Result<User, String> {
    super::lookup::user(store, name).await
}

async fn collection(store: &dyn Store, which: &Which) -> Result<(User, Collection), String> {
    let user = user(store, &which.user).await?;
    let (kind, name, what) = match &which.calendar {
        Some(c) => (Kind::Calendar, c.as_str(), "calendar"),
        None => (
            Kind::Addressbook,
            which.book.as_deref().unwrap_or(DEFAULT_BOOK),
            "address book",
        ),
    };
    let coll = store
        .collection(user.id, kind, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} has no {what} named {name:?}", user.name))?;
    if coll.derived.is_some() {
        return Err(format!(
            "{name:?} is derived from the address books and keeps no history; restore the cards instead"
        ));
    }
    Ok((user, coll))
}

/// The collection (of `user`) a version belongs to, refusing anyone else's.
async fn owning_collection(
    store: &dyn Store,
    user: &User,
    v: &Version,
) -> Result<Collection, String> {
    versions::owning_collection(store, user, v)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "version {} is not one of {}'s; `kith history --user {}` shows theirs",
                v.id, user.name, user.name
            )
        })
}

fn command_actor(what: &str) -> Actor {
    // The operating-system account that ran the command, when the environment says.
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(who) if !who.is_empty() => Actor::Command(format!("{what} (kith CLI, run by {who})")),
        _ => Actor::Command(format!("{what} (kith CLI)")),
    }
}

pub async fn trash(store: &dyn Store, config: &Config, cmd: TrashCommand) -> CliResult {
    match cmd {
        TrashCommand::List {
            user: name,
            book,
            calendar,
        } => {
            let user = user(store, &name).await?;
            let mut colls = Vec::new();
            for kind in [Kind::Addressbook, Kind::Calendar] {
                colls.extend(
                    store
                        .collections(user.id, kind)
                        .await
                        .map_err(|e| e.to_string())?
                        .into_iter()
                        .filter(|c| c.derived.is_none())
                        .filter(|c| match (&book, &calendar) {
                            (Some(b), _) => c.kind == Kind::Addressbook && &c.name == b,
                            (_, Some(cal)) => c.kind == Kind::Calendar && &c.name == cal,
                            _ => true,
                        }),
                );
            }
            let retention = config.history.retention_ms().map_err(|e| e.to_string())?;
            let mut total = 0;
            for c in colls {
                let items = store.trash(c.id).await.map_err(|e| e.to_string())?;
                if items.is_empty() {
                    continue;
                }
                println!("{} {}:", c.kind.as_str(), c.name);
                for v in &items {
                    println!(
                        "  {:<44} deleted {} by {}; purged after {}  {}",
                        v.name,
                        when(v.replaced_at),
                        v.replaced_by,
                        when(v.replaced_at + retention),
                        title(&v.data)
                    );
                }
                total += items.len();
            }
            let gone = store
                .deleted_collections(user.id)
                .await
                .map_err(|e| e.to_string())?;
            if !gone.is_empty() && book.is_none() && calendar.is_none() {
                println!("deleted address books and calendars:");
                for c in &gone {
                    println!(
                        "  {} {:<30} deleted {} by {}; {} item(s); purged after {}",
                        c.kind.as_str(),
                        c.name,
                        when(c.deleted_at),
                        c.deleted_by,
                        c.members,
                        when(c.deleted_at + retention)
                    );
                }
                println!(
                    "Bring one back with `kith trash restore-book NAME --user {}`.",
                    user.name
                );
            }
            let kept = store.version_count().await.map_err(|e| e.to_string())?;
            println!(
                "{total} item(s) in the trash ({kept} version(s) kept on this server in all). Restore one with `kith trash restore NAME --user {}`.",
                user.name
            );
            Ok(())
        }
        TrashCommand::Restore { item, which } => {
            let (user, coll) = collection(store, &which).await?;
            let name = store
                .find_name(coll.id, &item)
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or(item);
            let actor = command_actor(&format!("trash restore in {}'s {}", user.name, coll.name));
            let etag = versions::restore_from_trash(store, config, &coll, &name, &actor)
                .await
                .map_err(err)?;
            println!(
                "restored {name} to {} {} (ETag {etag}); clients get it on their next sync",
                coll.kind.as_str(),
                coll.name
            );
            Ok(())
        }
        TrashCommand::RestoreBook {
            name,
            user: user_name,
            calendar,
            as_name,
        } => {
            let user = user(store, &user_name).await?;
            let kind = if calendar {
                Kind::Calendar
            } else {
                Kind::Addressbook
            };
            let gone = store
                .deleted_collections(user.id)
                .await
                .map_err(|e| e.to_string())?;
            // The most recently deleted one of that name.
            let Some(c) = gone.iter().find(|c| c.kind == kind && c.name == name) else {
                return Err(format!(
                    "{} has no deleted {} named {name:?}; `kith trash list --user {}` shows them",
                    user.name,
                    kind.as_str(),
                    user.name
                ));
            };
            let target = as_name.unwrap_or_else(|| name.clone());
            if !store
                .restore_collection(c.id, &target)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{} already has a {} named {target:?}; restore it under another name with --as NAME",
                    user.name,
                    kind.as_str()
                ));
            }
            println!(
                "restored {} {target} with its {} item(s); clients find it again on their next sync",
                kind.as_str(),
                c.members
            );
            Ok(())
        }
        TrashCommand::Purge { which } => {
            let (_, coll) = collection(store, &which).await?;
            let n = store
                .purge_trash(coll.id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "purged {n} version(s) of deleted items from {} {}",
                coll.kind.as_str(),
                coll.name
            );
            Ok(())
        }
    }
}

pub async fn history(store: &dyn Store, args: HistoryArgs) -> CliResult {
    let (_, coll) = collection(store, &args.which).await?;
    let Some(name) = store
        .find_name(coll.id, &args.item)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err(format!(
            "{:?} is neither a name nor a UID in {} {}, now or in its history",
            args.item,
            coll.kind.as_str(),
            coll.name
        ));
    };
    println!("{} {} / {name}", coll.kind.as_str(), coll.name);
    let versions = store
        .versions(coll.id, &name)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(v) = versions.first() {
        println!("  UID {}", v.uid);
    }
    match store
        .object(coll.id, &name)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(o) => {
            let by = store
                .written_by(coll.id, &name)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "  current      written {} by {}  {}  {}",
                when(o.meta.modified_at),
                by.as_deref().unwrap_or("(unknown)"),
                o.meta.etag,
                title(&o.data)
            )
        }
        None => println!("  (deleted; it is in the trash until the retention ends)"),
    }
    for v in &versions {
        println!(
            "  version {:<5} written {} by {}; {} {} by {}  {}  {}",
            v.id,
            when(v.written_at),
            v.written_by.as_deref().unwrap_or("(unknown)"),
            if v.deleted { "deleted" } else { "replaced" },
            when(v.replaced_at),
            v.replaced_by,
            v.etag,
            title(&v.data)
        );
    }
    if versions.is_empty() {
        println!("  no earlier versions");
    } else {
        println!(
            "Put one back with `kith restore-version VERSION --user {}`.",
            args.which.user
        );
    }
    Ok(())
}

pub async fn restore_version(
    store: &dyn Store,
    config: &Config,
    id: i64,
    user_name: &str,
) -> CliResult {
    let user = user(store, user_name).await?;
    let v = store
        .version(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("there is no version {id} (it may have been purged); `kith history` lists them")
        })?;
    let coll = owning_collection(store, &user, &v).await?;
    let actor = command_actor(&format!("restore of version {id}"));
    let etag = versions::restore_version(store, config, &coll, &v, &actor)
        .await
        .map_err(err)?;
    println!(
        "restored version {id} of {} in {} {} (ETag {etag}); clients get it on their next sync",
        v.name,
        coll.kind.as_str(),
        coll.name
    );
    Ok(())
}

pub async fn book(store: &dyn Store, config: &Config, cmd: BookCommand) -> CliResult {
    match cmd {
        BookCommand::Rewind { which, to, dry_run } => {
            let now = crate::store::now_ms();
            let at = parse_time(&to, now)?;
            let retention = config.history.retention_ms().map_err(|e| e.to_string())?;
            if at < now - retention {
                return Err(format!(
                    "{} is before the history retention ({}); the oldest time a book can be rewound to is {}",
                    when(at),
                    config.history.retention,
                    when(now - retention)
                ));
            }
            if at > now {
                return Err(format!("{} is in the future", when(at)));
            }
            let (user, coll) = collection(store, &which).await?;
            let actor = command_actor(&format!(
                "rewind of {}'s {} to {}",
                user.name,
                coll.name,
                when(at)
            ));
            let done = versions::rewind(store, config, &coll, at, &actor, dry_run)
                .await
                .map_err(err)?;
            let verb = if dry_run { "would be" } else { "were" };
            println!(
                "{} {} to {}: {} deleted item(s) {verb} restored, {} changed item(s) {verb} reverted, {} item(s) created since {verb} moved to the trash",
                coll.kind.as_str(),
                coll.name,
                when(at),
                done.restored,
                done.reverted,
                done.removed
            );
            if !dry_run {
                println!("Clients get the changes on their next sync.");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_how_long_ago() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("10m", now).unwrap(), now - 600_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00", now).unwrap(),
            1_700_000_000_000
        );
        let e = parse_time("yesterday", now).unwrap_err();
        assert!(e.contains("2026-11-22T10:00:00Z"), "{e}");
        assert_eq!(when(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn titles_come_from_fn_or_summary() {
        assert_eq!(
            title(b"BEGIN:VCARD\r\nFN;CHARSET=UTF-8:Ada\r\nEND:VCARD"),
            "Ada"
        );
        assert_eq!(title(b"BEGIN:VEVENT\nSUMMARY:Lunch\nEND:VEVENT"), "Lunch");
    }
}
