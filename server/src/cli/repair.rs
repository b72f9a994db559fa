//! `kith repair`: lists, and unless `--dry-run` repairs, objects stored before Kith refused
//! what breaks clients (see `core::repair`).

use super::CliResult;
use crate::config::Config;
use crate::core::repair;
use crate::store::{Kind, Store};

pub async fn run(store: &dyn Store, config: &Config, dry_run: bool) -> CliResult {
    let rows = repair::run(store, config, dry_run)
        .await
        .map_err(|e| e.to_string())?;
    let mut fixed = 0;
    for r in &rows {
        let what = match r.kind {
            Kind::Addressbook => "book",
            Kind::Calendar => "calendar",
        };
        let at = format!("{} {what} {}: {}", r.user, r.collection, r.name);
        match &r.left {
            None => {
                fixed += 1;
                println!("{at}: {}", r.changes.join("; "));
            }
            Some(why) => println!(
                "{at}: {} — left as stored, because {why}",
                r.changes.join("; ")
            ),
        }
    }
    let verb = if dry_run { "need repair" } else { "repaired" };
    println!(
        "{fixed} objects {verb}, {} left as stored",
        rows.len() - fixed
    );
    Ok(())
}
