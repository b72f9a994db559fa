//! `kith user …`: accounts and app passwords.

use crate::app::server_key;
use crate::cli::args::{AppPasswordCommand, UserCommand};
use crate::config::Config;
use crate::core::accounts;
use crate::store::{self, Store};
use crate::time::http_date as fmt_time;
use std::io::BufRead;

type CliResult = Result<(), String>;

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            return Err("the password on stdin is empty".into());
        }
        return Ok(pw);
    }
    let pw = rpassword::prompt_password("Password: ")
        .map_err(|e| format!("cannot prompt for a password ({e}); use --password-stdin"))?;
    let again = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if pw != again {
        return Err("the passwords do not match".into());
    }
    if pw.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(pw)
}

pub async fn command(config: &Config, cmd: UserCommand) -> CliResult {
    let store = store::open(config).await?;
    let s: &dyn Store = store.as_ref();
    let err = super::lookup::account_words;
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            admin,
        } => {
            if !accounts::valid_user_name(&name) {
                return Err(accounts::AccountError::BadName(name).to_string());
            }
            let pw = read_password(password_stdin)?;
            let user = accounts::create_user(s, &name, &pw).await.map_err(err)?;
            if admin {
                s.set_user_admin(user.id, true)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!(
                "created user {name} with address book \"{}\", calendar \"personal\" and task list \"tasks\"",
                accounts::DEFAULT_BOOK
            );
        }
        UserCommand::List => {
            for u in s.list_users().await.map_err(|e| e.to_string())? {
                let role = match (u.is_admin, u.disabled_at.is_some()) {
                    (_, true) => "\tdisabled",
                    (true, _) => "\tadmin",
                    _ => "",
                };
                println!("{}\tcreated {}{role}", u.name, fmt_time(u.created_at));
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            let pw = read_password(password_stdin)?;
            let hash = accounts::hash_password(&pw).map_err(err)?;
            s.set_password(user.id, &hash)
                .await
                .map_err(|e| e.to_string())?;
            // Whoever knew the old password may hold a browser session: it ends too.
            s.delete_web_sessions(user.id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "password changed for {name}; their browser sessions ended (app passwords keep working)"
            );
        }
        UserCommand::Remove { name } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            s.delete_user(user.id).await.map_err(|e| e.to_string())?;
            println!("removed user {name} and their address books");
        }
        UserCommand::Email { name, add, remove } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            let all = crate::core::scheduling::addresses::change(s, &user, &add, &remove)
                .await
                .map_err(|e| e.to_string())?;
            if all.is_empty() {
                println!("{name} has no e-mail address; invitations cannot name them");
            }
            for a in all {
                println!("{a}");
            }
        }
        UserCommand::AppPassword(cmd) => app_password_command(config, s, cmd).await?,
    }
    Ok(())
}

async fn app_password_command(
    config: &Config,
    s: &dyn Store,
    cmd: AppPasswordCommand,
) -> CliResult {
    let err = super::lookup::account_words;
    match cmd {
        AppPasswordCommand::Add { name, label } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            if label.trim().is_empty() {
                return Err("the label is empty; name the device, e.g. --label iphone".into());
            }
            let key = server_key(config, s).await?;
            let token = accounts::random_password();
            let hash = accounts::app_password_hash(&key, &token);
            s.add_app_password(user.id, &label, &hash).await.map_err(|e| match e {
                store::StoreError::Exists(_) => format!(
                    "{name} already has an app password labelled {label:?}; revoke it first or pick another label"
                ),
                e => e.to_string(),
            })?;
            println!("{token}");
            eprintln!(
                "app password {label:?} for {name}: shown once, use it as the password on that device"
            );
        }
        AppPasswordCommand::List { name } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            for a in s.app_passwords(user.id).await.map_err(|e| e.to_string())? {
                let used = a
                    .last_used_at
                    .map(fmt_time)
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\tcreated {}\tlast used {used}",
                    a.label,
                    fmt_time(a.created_at)
                );
            }
        }
        AppPasswordCommand::Revoke { name, label } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            if !s
                .revoke_app_password(user.id, &label)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{name} has no app password labelled {label:?}; `kith user app-password list {name}` shows them"
                ));
            }
            println!("revoked app password {label:?} for {name}");
        }
    }
    Ok(())
}
