//! The command line: argument parsing (clap) and every command but `serve`. Each command
//! words core's errors for a terminal, naming the option or command that fixes them.

pub mod args;
mod backup;
mod calendar_import;
mod copy_db;
mod export;
mod groups;
mod healthcheck;
mod invitations;
mod lookup;
mod notify;
mod providers;
mod repair;
mod report;
mod rules;
mod shares;
mod sources;
mod users;
mod versions;

use crate::config::{self, Config};
use crate::store;
use crate::upstream::Upstreams;
use args::{Cli, Command};
use clap::Parser;

type CliResult = Result<(), String>;

/// The parsed command line.
pub fn parse() -> Cli {
    Cli::parse()
}

/// The configuration for `cli`: the file, then the environment, then the flags.
pub fn config(cli: &Cli) -> Result<Config, String> {
    let file = config::load_file(cli.global.config.as_deref()).map_err(|e| e.to_string())?;
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        // The container's HEALTHCHECK runs with the server's environment.
        Command::Healthcheck { .. } => std::env::var("KITH_LISTEN").ok().filter(|v| !v.is_empty()),
        _ => None,
    };
    config::resolve(file, listen, cli.global.data_dir.clone()).map_err(|e| e.to_string())
}

/// Says once, on the terminal, how the first admin was created.
pub fn announce_admin(password: &str, from_env: bool) {
    if from_env {
        println!("kith: created user admin with the password from KITH_ADMIN_PASSWORD");
    } else {
        // Printed to the terminal once, never written to the log.
        println!("kith: created user admin with password: {password}");
        println!("kith: this password is shown only once; change it with `kith user passwd admin`");
    }
}

/// Runs every command but `serve`, which the binary's `main` starts.
pub async fn run(command: Command, config: &Config) -> CliResult {
    let config = config.clone();
    let with_upstreams = async || -> Result<_, String> {
        let store = store::open(&config).await?;
        let up = Upstreams::load(&config, store.clone()).await?;
        Ok((store, up))
    };
    match command {
        Command::Serve { .. } => Err("serve is started by the binary's main".into()),
        Command::Healthcheck { url } => healthcheck::run(url.as_deref(), config.listen),
        Command::MigrateDb { from, to } => copy_db::run(&from, &to).await,
        Command::User(cmd) => users::command(&config, cmd).await,
        Command::Group(cmd) => groups::command(store::open(&config).await?.as_ref(), cmd).await,
        Command::Share(cmd) => shares::command(store::open(&config).await?.as_ref(), cmd).await,
        Command::Invitations(cmd) => {
            invitations::command(store::open(&config).await?.as_ref(), &config, cmd).await
        }
        Command::Import(args) if calendar_import::is_calendar(&args) => {
            calendar_import::run(store::open(&config).await?.as_ref(), &config, args).await
        }
        Command::Import(args) => {
            let (store, up) = with_upstreams().await?;
            sources::import(store.as_ref(), &up, args).await
        }
        Command::Source(cmd) => {
            let (store, up) = with_upstreams().await?;
            sources::source_command(store.as_ref(), &up, cmd).await
        }
        Command::Provider(cmd) => {
            let (store, up) = with_upstreams().await?;
            providers::provider(store.as_ref(), &up, cmd).await
        }
        Command::Notify(cmd) => {
            let (store, up) = with_upstreams().await?;
            notify::command(store.as_ref(), &up, &config, cmd).await
        }
        Command::Sync(cmd) => {
            let (store, up) = with_upstreams().await?;
            sources::sync_command(store.as_ref(), &up, cmd).await
        }
        Command::Export(args) => export::command(store::open(&config).await?, args).await,
        Command::Backup(cmd) => backup::command(&config, cmd).await,
        Command::Trash(cmd) => {
            versions::trash(store::open(&config).await?.as_ref(), &config, cmd).await
        }
        Command::History(args) => {
            versions::history(store::open(&config).await?.as_ref(), args).await
        }
        Command::RestoreVersion { version, user } => {
            versions::restore_version(
                store::open(&config).await?.as_ref(),
                &config,
                version,
                &user,
            )
            .await
        }
        Command::Repair { dry_run } => {
            repair::run(store::open(&config).await?.as_ref(), &config, dry_run).await
        }
        Command::Book(cmd) => {
            versions::book(store::open(&config).await?.as_ref(), &config, cmd).await
        }
    }
}
