//! `kith group …`: groups of users.

use crate::cli::args::GroupCommand;
use crate::core::groups;
use crate::store::Store;

type CliResult = Result<(), String>;

fn names(users: &[crate::store::User]) -> String {
    if users.is_empty() {
        "(no members)".into()
    } else {
        users
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub async fn command(store: &dyn Store, cmd: GroupCommand) -> CliResult {
    let e = |e: groups::GroupError| e.to_string();
    match cmd {
        GroupCommand::Add { name } => {
            let g = groups::create(store, &name).await.map_err(e)?;
            println!(
                "group {} made; add members with `kith group members {} --add USER`",
                g.name, g.name
            );
        }
        GroupCommand::List => {
            let all = store.groups().await.map_err(|e| e.to_string())?;
            if all.is_empty() {
                println!("no groups yet; make one with `kith group add NAME`");
            }
            for g in all {
                let members = store.members(g.id).await.map_err(|e| e.to_string())?;
                println!("{}: {}", g.name, names(&members));
            }
        }
        GroupCommand::Remove { name } => {
            let g = groups::find(store, &name).await.map_err(e)?;
            store.delete_group(g.id).await.map_err(|e| e.to_string())?;
            println!("group {} deleted; its members are users as before", g.name);
        }
        GroupCommand::Members { name, add, remove } => {
            let members = groups::change_members(store, &name, &add, &remove)
                .await
                .map_err(e)?;
            println!("{}: {}", name.trim(), names(&members));
        }
    }
    Ok(())
}
