//! The `kith` binary: parses the command line, then serves or runs the command.
//!
//! The crate is layered, lowest first: leaves (config, time, metrics, secrets) < store < core <
//! upstream < sync < app < fronts (dav, web, cli) < router < main. ARCHITECTURE.md has the rule;
//! `scripts/check-layers` enforces it.

mod alloc;
mod app;
mod cli;
mod config;
mod core;
mod dav;
mod listen;
mod metrics;
mod router;
mod secrets;
mod store;
mod sync;
mod time;
mod upstream;
mod web;

use cli::args::Command;
use config::Config;
use std::process::ExitCode;
use std::sync::Arc;

/// A failure that ends the command, reported as one line that says what to do.
type CliResult = Result<(), String>;

/// A command whose output is piped into `head` ends quietly when the pipe closes, as Unix tools
/// do. Rust ignores SIGPIPE, so `println!` would panic at the first write after the close. The
/// server keeps ignoring it: a client that hangs up must not end the process.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: sets one signal's disposition back to the default, at start, before any other
    // thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}

fn main() -> ExitCode {
    let cli = cli::parse();
    // Tuned for a long-running server's steady RSS; one-shot commands (a 50,000-row import)
    // run faster on glibc's defaults.
    if matches!(cli.command, Command::Serve { .. }) {
        alloc::tune();
    } else {
        restore_sigpipe();
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
    let outcome = runtime.block_on(async {
        let config = cli::config(&cli)?;
        match cli.command {
            Command::Serve { .. } => serve(config).await,
            command => cli::run(command, &config).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kith: {msg}");
            ExitCode::FAILURE
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

async fn serve(config: Config) -> CliResult {
    init_logging(&config);
    let store = store::open(&config).await?;
    // Held until the process ends: `kith backup restore` refuses to replace a database a
    // server is running on.
    let _lock = match core::backup::lock_data_dir(&config.data_dir) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(format!(
                "another Kith server is already running on {}",
                config.data_dir.display()
            ));
        }
        Err(e) => return Err(format!("cannot lock the data directory: {e}")),
    };
    let key = app::server_key(&config, store.as_ref()).await?;
    if let Some(admin) = core::accounts::bootstrap_admin(store.as_ref())
        .await
        .map_err(|e| e.to_string())?
    {
        cli::announce_admin(&admin.password, admin.from_env);
    }
    let upstreams = Arc::new(upstream::Upstreams::load(&config, store.clone()).await?);

    core::maintenance::spawn(store.clone(), config.clone());
    {
        // Once per database: rows stored before Kith refused what breaks clients.
        let (store, config) = (store.clone(), config.clone());
        tokio::spawn(async move {
            if let Err(e) = core::repair::once(store.as_ref(), &config).await {
                tracing::error!(error = %e, "the repair of stored objects failed; it runs again at the next start");
            }
        });
    }

    // Checked when the config was resolved.
    let lease_ms = config.database.lease_ms().unwrap_or(60_000);
    let notifier = Arc::new(sync::notify::Notifier::new(
        config.smtp.clone(),
        &config.web.public_url,
    ));
    let watcher = sync::watch::Watcher::new(&config.push.public_url, &key).map(Arc::new);
    let cadence = sync::schedule::Cadence {
        watcher: watcher.clone(),
        fast_poll_secs: (config.push.fast_poll_ms().unwrap_or(300_000) / 1000).max(10) as u64,
    };
    let scheduler = sync::schedule::spawn(
        store.clone(),
        upstreams.clone(),
        notifier.clone(),
        cadence.clone(),
        config.sync.scheduler_tick(),
        lease_ms,
    );

    let push = core::push::PushService::open(&config, store.as_ref(), &key)
        .await?
        .map(Arc::new);
    let pusher = push.clone().map(|p| core::push::spawn(store.clone(), p));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e} (set --listen or KITH_LISTEN)",
                config.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(app::App {
        store,
        auth: core::auth::Authenticator::new(key),
        config: config.clone(),
        upstreams,
        notifier,
        push,
        cadence,
    });
    tracing::info!(data_dir = %config.data_dir.display(), "data directory");
    // Scripts and the tests read this line to learn the port (useful with --listen ...:0).
    println!("kith: listening on http://{addr}/");
    listen::serve(
        listener,
        router::router(app),
        &config.limits,
        shutdown_signal(),
        std::time::Duration::from_secs(30),
    )
    .await;
    // In-flight requests are done; let a sync run under way finish and release its lease, so
    // another instance need not wait for the lease to lapse.
    scheduler.stop(std::time::Duration::from_secs(30)).await;
    if let Some(p) = pusher {
        p.stop(std::time::Duration::from_secs(5)).await;
    }
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
