//! `kith notify …`: a user's notifications of automatic runs.

use super::lookup::user;
use crate::cli::args::NotifyCommand;
use crate::config::Config;
use crate::store::Store;
use crate::sync::notify::{Notice, Notifier, Occasion, Settings};
use crate::upstream::Upstreams;

type CliResult = Result<(), String>;

/// `none` (or empty) clears an optional value.
fn optional(v: String) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v != "none").then(|| v.to_string())
}

fn describe(s: &Settings, mail: bool) -> String {
    let mut on = Vec::new();
    for (want, what) in [
        (s.on_failure, "failure"),
        (s.on_guard, "guard"),
        (s.on_changes, "changes"),
    ] {
        if want {
            on.push(what);
        }
    }
    format!(
        "  mail     {}{}\n  webhook  {}\n  on       {}\n",
        s.email.as_deref().unwrap_or("off"),
        if mail {
            ""
        } else {
            " (this server has no [smtp]: mail is off)"
        },
        s.webhook.as_deref().map_or("off", |_| "set"),
        if on.is_empty() {
            "nothing".to_string()
        } else {
            on.join(", ")
        }
    )
}

pub async fn command(
    store: &dyn Store,
    up: &Upstreams,
    config: &Config,
    cmd: NotifyCommand,
) -> CliResult {
    let notifier = Notifier::new(config.smtp.clone(), &config.web.public_url);
    match cmd {
        NotifyCommand::Show { user: name } => {
            let u = user(store, &name).await?;
            let s = notifier.settings(store, up, u.id).await;
            print!(
                "Notifications of {name}'s automatic runs:\n{}",
                describe(&s, notifier.mail_available())
            );
            Ok(())
        }
        NotifyCommand::Set {
            user: name,
            email,
            webhook,
            on,
        } => {
            let u = user(store, &name).await?;
            let mut s = notifier.settings(store, up, u.id).await;
            if let Some(e) = email {
                s.email = optional(e);
            }
            if let Some(w) = webhook {
                s.webhook = optional(w);
            }
            if let Some(on) = on {
                let words: Vec<&str> = on
                    .split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty() && *w != "none")
                    .collect();
                if let Some(bad) = words
                    .iter()
                    .find(|w| !matches!(**w, "failure" | "guard" | "changes"))
                {
                    return Err(format!(
                        "--on: unknown occasion {bad:?}; use failure, guard and changes, comma-separated, or none"
                    ));
                }
                s.on_failure = words.contains(&"failure");
                s.on_guard = words.contains(&"guard");
                s.on_changes = words.contains(&"changes");
            }
            notifier
                .save(store, up, u.id, &s)
                .await
                .map_err(|e| e.to_string())?;
            print!(
                "Saved. Notifications of {name}'s automatic runs:\n{}",
                describe(&s, notifier.mail_available())
            );
            Ok(())
        }
        NotifyCommand::Test { user: name } => {
            let u = user(store, &name).await?;
            let s = notifier.settings(store, up, u.id).await;
            let n = Notice {
                occasion: Occasion::Test,
                user: name.clone(),
                source: None,
                run: None,
                message: "This is a test: notifications of your automatic runs reach you here."
                    .into(),
            };
            let sent = notifier.send(&s, &n).await.map_err(|e| e.to_string())?;
            println!("test notification sent by {}", sent.join(" and "));
            Ok(())
        }
    }
}
