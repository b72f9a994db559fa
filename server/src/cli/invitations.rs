//! `kith invitations …`: the invitations in a user's scheduling inbox, and answering one.

use super::CliResult;
use crate::cli::args::InvitationsCommand;
use crate::config::Config;
use crate::core::scheduling::invitations;
use crate::store::Store;

pub async fn command(store: &dyn Store, config: &Config, cmd: InvitationsCommand) -> CliResult {
    let sched = crate::sync::notify::mail::scheduler(store, config);
    let user = |name: String| async move {
        store
            .user_by_name(&name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("there is no user named {name:?}; see `kith user list`"))
    };
    match cmd {
        InvitationsCommand::List { user: name } => {
            let u = user(name.clone()).await?;
            let list = invitations::list(&sched, &u)
                .await
                .map_err(|e| e.to_string())?;
            if list.is_empty() {
                println!("{name} has no invitations waiting");
            }
            for i in list {
                println!(
                    "{}  {}  from {}  at {}  ({})",
                    i.id,
                    i.summary,
                    i.organizer,
                    i.start,
                    i.partstat.to_lowercase()
                );
            }
        }
        InvitationsCommand::Answer {
            user: name,
            id,
            answer,
        } => {
            let u = user(name).await?;
            let i = invitations::answer(&sched, &u, &id, &answer)
                .await
                .map_err(|e| format!("{e}; see `kith invitations list --user {}`", u.name))?;
            println!(
                "{} is {}; {} has been told",
                i.summary,
                i.partstat.to_lowercase(),
                i.organizer
            );
        }
    }
    Ok(())
}
