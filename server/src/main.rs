//! The `kith` binary.

mod accounts;
mod alloc;
mod archive;
mod auth;
mod backup;
mod birthdays;
mod calendar_import;
mod cli;
mod commands;
mod config;
mod export;
mod healthcheck;
mod history;
mod history_commands;
mod http;
mod lease;
mod maintenance;
mod metrics;
mod migrate_db;
mod provider_commands;
mod secret;
mod store;
mod sync;
mod upstream;
mod web;

use clap::Parser;
use cli::{AppPasswordCommand, Cli, Command, UserCommand};
use config::Config;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use store::{PgStore, SqliteStore, Store};

/// A failure that ends the command, reported as one line that says what to do.
type CliResult = Result<(), String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Tuned for a long-running server's steady RSS; one-shot commands (a 50,000-row import)
    // run faster on glibc's defaults.
    if matches!(cli.command, Command::Serve { .. }) {
        alloc::tune();
    }
    kith_connectors::observe::set_observer(metrics::upstream_call);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kith: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kith: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let file = config::load_file(cli.global.config.as_deref()).map_err(|e| e.to_string())?;
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        // The container's HEALTHCHECK runs with the server's environment.
        Command::Healthcheck { .. } => std::env::var("KITH_LISTEN").ok().filter(|v| !v.is_empty()),
        _ => None,
    };
    let config =
        config::resolve(file, listen, cli.global.data_dir.clone()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Healthcheck { url } => healthcheck::run(url.as_deref(), config.listen),
        Command::MigrateDb { from, to } => migrate_db::run(&from, &to).await,
        Command::User(cmd) => user_command(&config, cmd).await,
        Command::Import(args) if calendar_import::is_calendar(&args) => {
            calendar_import::run(open_store(&config).await?.as_ref(), &config, args).await
        }
        Command::Import(args) => {
            let store = open_store(&config).await?;
            let up = upstream::Upstreams::load(&config, store.clone()).await?;
            commands::import(store.as_ref(), &up, args).await
        }
        Command::Source(cmd) => {
            let store = open_store(&config).await?;
            let up = upstream::Upstreams::load(&config, store.clone()).await?;
            commands::source_command(store.as_ref(), &up, cmd).await
        }
        Command::Provider(cmd) => {
            let store = open_store(&config).await?;
            let up = upstream::Upstreams::load(&config, store.clone()).await?;
            provider_commands::provider(store.as_ref(), &up, cmd).await
        }
        Command::Sync(cmd) => {
            let store = open_store(&config).await?;
            let up = upstream::Upstreams::load(&config, store.clone()).await?;
            commands::sync_command(store.as_ref(), &up, cmd).await
        }
        Command::Export(args) => export::command(open_store(&config).await?, args).await,
        Command::Backup(cmd) => backup::command(&config, cmd).await,
        Command::Trash(cmd) => {
            history_commands::trash(open_store(&config).await?.as_ref(), &config, cmd).await
        }
        Command::History(args) => {
            history_commands::history(open_store(&config).await?.as_ref(), args).await
        }
        Command::RestoreVersion { version, user } => {
            history_commands::restore_version(
                open_store(&config).await?.as_ref(),
                &config,
                version,
                &user,
            )
            .await
        }
        Command::Book(cmd) => {
            history_commands::book(open_store(&config).await?.as_ref(), &config, cmd).await
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn prepare_data_dir(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The directory holds the secret key and password hashes: keep it private.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Opens the configured database: PostgreSQL when `database.url` is set, else `kith.db` in
/// the data directory.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    prepare_data_dir(&config.data_dir)?;
    if let Some(url) = &config.database.url {
        let store = PgStore::open(url, config.database.max_connections)
            .await
            .map_err(|e| {
                format!(
                    "cannot open database {}: {e} (check database.url or KITH_DATABASE_URL, and that PostgreSQL is running)",
                    config::redact_url(url)
                )
            })?;
        return Ok(Arc::new(store));
    }
    let path = config.data_dir.join("kith.db");
    let store = SqliteStore::open(&path)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
    Ok(Arc::new(store))
}

/// The key app passwords are hashed with. SQLite installs keep it in `secret.key`; instances
/// on one PostgreSQL database must all use the same key, so there it lives in the database,
/// seeded from this data directory's key when it has one (an install moved by
/// `kith migrate-db` keeps its app passwords).
async fn server_key(config: &Config, store: &dyn Store) -> Result<[u8; 32], String> {
    let file_key = || {
        secret::load_or_create(&config.data_dir)
            .map_err(|e| format!("cannot read or create the secret key: {e}"))
    };
    if store.backend() == "sqlite" {
        return file_key();
    }
    let seed = match std::fs::read(config.data_dir.join("secret.key")) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        _ => secret::random_key().to_vec(),
    };
    let stored = store
        .shared_setting("secret_key", &seed)
        .await
        .map_err(|e| format!("cannot read the shared secret key: {e}"))?;
    stored
        .try_into()
        .map_err(|_| "the secret key in the database is not 32 bytes".to_string())
}

async fn serve(config: Config) -> CliResult {
    init_logging(&config);
    let store = open_store(&config).await?;
    // Held until the process ends: `kith backup restore` refuses to replace a database a
    // server is running on.
    let _lock = match backup::lock_data_dir(&config.data_dir) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(format!(
                "another Kith server is already running on {}",
                config.data_dir.display()
            ));
        }
        Err(e) => return Err(format!("cannot lock the data directory: {e}")),
    };
    let key = server_key(&config, store.as_ref()).await?;
    bootstrap_admin(store.as_ref()).await?;
    let upstreams = Arc::new(upstream::Upstreams::load(&config, store.clone()).await?);

    maintenance::spawn(store.clone(), config.clone());

    // Checked when the config was resolved.
    let lease_ms = config.database.lease_ms().unwrap_or(60_000);
    let scheduler = sync::schedule::spawn(
        store.clone(),
        upstreams.clone(),
        config.sync.scheduler_tick(),
        lease_ms,
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e} (set --listen or KITH_LISTEN)",
                config.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(http::App {
        store,
        auth: auth::Authenticator::new(key),
        config: config.clone(),
        upstreams,
    });
    tracing::info!(data_dir = %config.data_dir.display(), "data directory");
    // Scripts and the tests read this line to learn the port (useful with --listen ...:0).
    println!("kith: listening on http://{addr}/");
    // TCP_NODELAY: a DAV response is often written as headers plus a small body; Nagle's
    // algorithm with the client's delayed ACK would hold the second write for ~40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    // In-flight requests are done; let a sync run under way finish and release its lease, so
    // another instance need not wait for the lease to lapse.
    scheduler.stop(std::time::Duration::from_secs(30)).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// On a first start with no users, creates `admin`, with KITH_ADMIN_PASSWORD or a random
/// password printed once.
async fn bootstrap_admin(store: &dyn Store) -> CliResult {
    if !store
        .list_users()
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let given = std::env::var("KITH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = given.clone().unwrap_or_else(accounts::random_password);
    match accounts::create_user(store, "admin", &password).await {
        Ok(u) => store
            .set_user_admin(u.id, true)
            .await
            .map_err(|e| e.to_string())?,
        // Another instance on the same database started at the same moment and created it.
        Err(accounts::AccountError::Store(store::StoreError::Exists(_))) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    if given.is_some() {
        println!("kith: created user admin with the password from KITH_ADMIN_PASSWORD");
    } else {
        // Printed to the terminal once, never written to the log.
        println!("kith: created user admin with password: {password}");
        println!("kith: this password is shown only once; change it with `kith user passwd admin`");
    }
    Ok(())
}

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

fn fmt_time(ms: i64) -> String {
    http::format_date(ms)
}

async fn user_command(config: &Config, cmd: UserCommand) -> CliResult {
    let store = open_store(config).await?;
    let s: &dyn Store = store.as_ref();
    let err = |e: accounts::AccountError| e.to_string();
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
            println!("password changed for {name}");
        }
        UserCommand::Remove { name } => {
            let user = accounts::require_user(s, &name).await.map_err(err)?;
            s.delete_user(user.id).await.map_err(|e| e.to_string())?;
            println!("removed user {name} and their address books");
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
    let err = |e: accounts::AccountError| e.to_string();
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
