//! Command-line interface. Every flag that matters to containers has a `KITH_*` variable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kith",
    version,
    about = "Kith: a self-hosted CardDAV and CalDAV server with upstream contact sources",
    long_about = "Kith: a self-hosted CardDAV and CalDAV server that keeps one address book and \
                  calendar for all your devices.\n\nStart it with `kith serve`; manage accounts with `kith user`; bring contacts in \
                  with `kith import`, and review and undo runs with `kith sync`. Keep your data with \
                  `kith export` and `kith backup`; undo mistakes with `kith trash`, `kith history` \
                  and `kith book rewind`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// TOML config file (see config/kith.example.toml).
    #[arg(long, global = true, env = "KITH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the secret key (with PostgreSQL: the lock file and backups) [default: ~/.local/share/kith].
    #[arg(long, global = true, env = "KITH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the CardDAV and CalDAV server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:5233].
        #[arg(long, env = "KITH_LISTEN", value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Check that a server answers on /healthz (for Docker's HEALTHCHECK and scripts).
    Healthcheck {
        /// The server's base URL [default: http:// and the listen address].
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Copy a SQLite install into an empty PostgreSQL database, keeping ids, ETags and sync
    /// tokens, so clients carry on. Stop the server first.
    MigrateDb {
        /// The SQLite database, as sqlite:PATH (e.g. sqlite:/var/lib/kith/kith.db).
        #[arg(long, value_name = "sqlite:PATH")]
        from: String,
        /// The PostgreSQL database, as postgres://USER:PASSWORD@HOST:PORT/DB. It must be empty
        /// or hold only Kith's migrated, unused schema.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Groups of users: who may connect a provider, and (later) who a share reaches.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Share an address book or calendar with a user or a group, read-only or read-write; list
    /// and end shares.
    #[command(subcommand)]
    Share(ShareCommand),
    /// Invitations waiting in a user's scheduling inbox; accept, tentatively accept or decline.
    #[command(subcommand)]
    Invitations(InvitationsCommand),
    /// Import a LinkedIn, Google or Outlook CSV export or a vCard file into a user's book, or
    /// an iCalendar file into a calendar.
    Import(ImportArgs),
    /// Manage a user's contact sources and their sync rules.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Enable upstream providers (Google, Microsoft 365) for this server's users, and see their
    /// state.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Mail or webhook notifications of automatic runs: on failure, guard trip or changes.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Plan, apply, review and undo source runs.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Write a user's contacts or calendars as vCard, CSV or iCalendar.
    Export(ExportArgs),
    /// Take, check and restore backups of everything (database, key and a manifest).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// List, restore and purge deleted cards, events and whole books or calendars.
    #[command(subcommand)]
    Trash(TrashCommand),
    /// Show the earlier versions of a card or event, and who changed it.
    History(HistoryArgs),
    /// Put an earlier version (see `kith history`) back as a new change.
    RestoreVersion {
        /// The version number `kith history` shows.
        version: i64,
        #[arg(long)]
        user: String,
    },
    /// Whole-book operations: rewind a book or calendar to a point in time.
    #[command(subcommand)]
    Book(BookCommand),
    /// Repair objects stored before Kith refused what breaks clients: bytes that are not
    /// UTF-8, control characters, a card's second UID, vCard 2.1. The server runs this once
    /// by itself; each repaired object keeps its old bytes in its history.
    Repair {
        /// List what would be repaired, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which of a user's collections a command works on.
#[derive(Debug, Args, Clone)]
pub struct Which {
    #[arg(long)]
    pub user: String,
    /// An address book [default: "contacts"].
    #[arg(long, conflicts_with = "calendar")]
    pub book: Option<String>,
    /// A calendar instead of an address book.
    #[arg(long)]
    pub calendar: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub user: String,
    /// The address book, or with `--format ics` the calendar [default: all of them].
    #[arg(long)]
    pub book: Option<String>,
    /// vcf: the cards exactly as stored; vcf3/vcf4: converted to one vCard version;
    /// csv-google, csv-outlook, csv-linkedin: the CSV layouts those services import; ics:
    /// calendars; archive: a zip of every book (.vcf), every calendar (.ics) and a CSV.
    #[arg(long, value_parser = ["vcf", "vcf3", "vcf4", "csv-google", "csv-outlook", "csv-linkedin", "ics", "archive"])]
    pub format: String,
    /// Write here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a consistent backup while the server runs: a .tar with the database, the secret key
    /// and a manifest of checksums.
    Create {
        /// Directory to write it to [default: the [backup] directory, DATA_DIR/backups].
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Check a backup: its checksums, and that its database opens and passes an integrity check.
    Verify { file: PathBuf },
    /// Restore a backup into the data directory, which must be empty unless --force is given.
    Restore {
        file: PathBuf,
        /// Replace an existing database (never while a server is running on it).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrashCommand {
    /// Deleted cards and events that can still be restored, newest first.
    List {
        #[arg(long)]
        user: String,
        /// Only this address book.
        #[arg(long, conflicts_with = "calendar")]
        book: Option<String>,
        /// Only this calendar.
        #[arg(long)]
        calendar: Option<String>,
    },
    /// Put a deleted card or event back (by its name or UID, as `trash list` shows).
    Restore {
        item: String,
        #[command(flatten)]
        which: Which,
    },
    /// Bring back a whole address book (or with --calendar, a calendar) a client deleted.
    RestoreBook {
        /// The name it had, as `trash list` shows it.
        name: String,
        #[arg(long)]
        user: String,
        /// It is a calendar.
        #[arg(long)]
        calendar: bool,
        /// Restore it under another name (when a new one has taken its name).
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
    },
    /// Empty the trash of a book or calendar now, instead of waiting for the retention.
    Purge {
        #[command(flatten)]
        which: Which,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The card or event: its resource name (abc.vcf) or UID.
    pub item: String,
    #[command(flatten)]
    pub which: Which,
}

#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Return a book (or calendar) to its state at a time, as one new change set.
    Rewind {
        #[command(flatten)]
        which: Which,
        /// A time (2026-11-22T10:00:00Z, or with an offset) or how long ago (10m, 2h, 3d).
        #[arg(long, value_name = "TIMESTAMP")]
        to: String,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export: LinkedIn Connections.csv, Google or Outlook CSV, a .vcf file, or an .ics
    /// calendar file (imported into the calendar named by --book, default "personal").
    pub file: PathBuf,
    /// Whose address book to import into.
    #[arg(long)]
    pub user: String,
    /// The file's format; `auto` tells it from the header.
    #[arg(long, default_value = "auto", value_parser = ["auto", "linkedin-csv", "google-csv", "outlook-csv", "vcard", "ics"])]
    pub format: String,
    /// Target address book [default: the source's book, or "contacts"].
    #[arg(long)]
    pub book: Option<String>,
    /// Name of the source to create or reuse [default: the format, e.g. "linkedin-csv"].
    #[arg(long)]
    pub source: Option<String>,
    /// Only plan and show what would change; apply later with `kith sync apply RUN`.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply even if a guard (mass delete, empty file or listing, create storm) trips.
    #[arg(long)]
    pub force: bool,
    /// Link contacts that match an existing card only by name and company.
    #[arg(long)]
    pub accept_merges: bool,
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a collection, or change the access of a share it has. The sharee sees it in their
    /// own home as OWNER~NAME, named "NAME (OWNER)".
    Add {
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        with: ShareWith,
        /// Let the sharee add, change and delete cards or events (default: read-only).
        #[arg(long, conflicts_with = "card")]
        write: bool,
        /// Share this one card (its resource name, e.g. abc.vcf) of the book, not the book: it
        /// appears read-only in the sharee's "Shared with me" book.
        #[arg(long, conflicts_with = "calendar")]
        card: Option<String>,
    },
    /// End a share; the sharee's devices lose the collection (or the card) on their next sync.
    Remove {
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        with: ShareWith,
        /// End the share of this one card.
        #[arg(long, conflicts_with = "calendar")]
        card: Option<String>,
    },
    /// Give another user access to all of a user's calendars, those made later included
    /// (Apple clients show it as calendar delegation), or change its access.
    Delegate {
        /// The user whose calendars these are.
        #[arg(long)]
        user: String,
        /// The delegate.
        #[arg(long, value_name = "USER")]
        to: String,
        /// Let the delegate add, change and delete events (default: read-only).
        #[arg(long)]
        write: bool,
    },
    /// End a delegation; the delegate's devices lose the calendars on their next sync.
    Undelegate {
        #[arg(long)]
        user: String,
        #[arg(long, value_name = "USER")]
        to: String,
    },
    /// What a user shares and delegates, and what is shared with or delegated to them.
    List {
        #[arg(long)]
        user: String,
    },
}

/// The user or group a share is for.
#[derive(Debug, Args, Clone)]
#[group(required = true, multiple = false)]
pub struct ShareWith {
    /// Share with this user.
    #[arg(long = "with-user", value_name = "USER")]
    pub with_user: Option<String>,
    /// Share with every member of this group (now and later).
    #[arg(long = "with-group", value_name = "GROUP")]
    pub with_group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// List the invitations in a user's inbox, with the answer each has so far.
    List {
        #[arg(long)]
        user: String,
    },
    /// Answer an invitation: the answer goes into the user's calendar and to the organizer.
    Answer {
        #[arg(long)]
        user: String,
        /// The invitation's id, as `list` shows it.
        id: String,
        #[arg(value_parser = ["accept", "tentative", "decline"])]
        answer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Make a group.
    Add { name: String },
    /// Every group with its members.
    List,
    /// Delete a group; its members stay users.
    Remove { name: String },
    /// Show a group's members, adding or removing some first.
    Members {
        name: String,
        /// A user to add (repeatable).
        #[arg(long, value_name = "USER")]
        add: Vec<String>,
        /// A user to remove (repeatable).
        #[arg(long, value_name = "USER")]
        remove: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Show a user's notification settings.
    Show {
        #[arg(long)]
        user: String,
    },
    /// Change a user's notification settings; options not given keep their value.
    Set {
        #[arg(long)]
        user: String,
        /// Where mail goes (`none` turns mail off); needs [smtp] in the config.
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
        /// A URL that gets a JSON POST per notification (`none` turns it off).
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// When to notify, comma-separated: failure, guard, changes (or `none`).
        #[arg(long, value_name = "OCCASIONS")]
        on: Option<String>,
    },
    /// Send a test notification on every channel the user set.
    Test {
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Let users connect accounts of a provider set up in [providers.NAME] or by `provider set`.
    Enable {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
    },
    /// Stop new connections and syncs of a provider (connected sources are kept).
    Disable {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
    },
    /// Show each provider: configured, enabled, and connected accounts.
    Status,
    /// Set or rotate a provider's app (OAuth client). Stored sealed, it overrides the config
    /// file. The secret is read from standard input, never from the command line.
    Set {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
        #[arg(long)]
        client_id: Option<String>,
        /// Read the client secret from standard input (one line).
        #[arg(long)]
        client_secret_stdin: bool,
        /// Microsoft 365: common, organizations, or your tenant's id or domain.
        #[arg(long)]
        tenant: Option<String>,
        /// The server's public URL, which the provider sends users back to.
        #[arg(long, value_name = "URL")]
        redirect_base: Option<String>,
    },
    /// Choose who may connect accounts of a provider: user names, or `all`.
    Allow {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
        /// A user who may connect (repeatable); `--user all` opens it to everyone again.
        #[arg(long = "user", value_name = "NAME")]
        users: Vec<String>,
        /// A group whose members may connect (repeatable; see `kith group`).
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Connect a user's Google or Microsoft 365 account: prints the URL the user opens to
    /// authorize Kith.
    Add {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
        #[arg(long)]
        user: String,
        /// The source's name [default: the provider].
        #[arg(long)]
        name: Option<String>,
        /// The address book it feeds [default: "contacts"].
        #[arg(long)]
        book: Option<String>,
    },
    /// Connect the organisation's directory (an admin's grant to read Microsoft 365 users or
    /// the Google Workspace directory): prints the URL the admin opens. It fills the admin's
    /// book, shared read-only with a group or everyone, and syncs like any source.
    Directory {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
        /// The admin whose grant reads it and whose book it fills.
        #[arg(long)]
        user: String,
        /// The address book it fills [default: "directory"].
        #[arg(long, default_value = "directory")]
        book: String,
        /// Who reads it: a group's name, or `everyone` (a group holding every user, made as
        /// needed).
        #[arg(long = "for", value_name = "GROUP", default_value = "everyone")]
        readers: String,
    },
    /// Sync one calendar of a user's Google account into a Kith calendar (made with the upstream
    /// name and color if new): prints the URL the user opens, unless they connected a calendar
    /// before, which makes the source at once. Events sync with the same rules, previews,
    /// guards and undo as contacts. Tasks are not synced.
    Calendar {
        #[arg(value_parser = ["google", "m365"])]
        provider: String,
        #[arg(long)]
        user: String,
        /// The upstream calendar's id (`primary` is the account's main calendar).
        #[arg(long, default_value = "primary")]
        calendar: String,
        /// The Kith calendar it fills [default: PROVIDER-calendar].
        #[arg(long)]
        into: Option<String>,
        /// The source's name [default: the Kith calendar's name].
        #[arg(long)]
        name: Option<String>,
        /// List the account's calendars (of a calendar source already connected) instead.
        #[arg(long)]
        list: bool,
    },
    /// Revoke Kith's access to a connected account; the source and its contacts are kept and it
    /// waits to be connected again.
    Revoke {
        name: String,
        #[arg(long)]
        user: String,
    },
    /// List a user's sources.
    List {
        #[arg(long)]
        user: String,
    },
    /// Show a source: rules, status, linked contacts and where each field came from.
    Show {
        name: String,
        #[arg(long)]
        user: String,
    },
    /// Show or change a source's rules (flags, or a TOML file).
    Rules(Box<RulesArgs>),
    /// Remove a source; asks whether to keep the imported cards (default: keep).
    Remove {
        name: String,
        #[arg(long)]
        user: String,
        /// Also delete the cards only this source linked.
        #[arg(long, conflicts_with = "keep_cards")]
        delete_cards: bool,
        /// Keep the cards without asking.
        #[arg(long)]
        keep_cards: bool,
    },
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    pub name: String,
    #[arg(long)]
    pub user: String,
    /// Replace the rules with this TOML file (see config/rules.example.toml).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// import-only, export-only or two-way (file sources are import-only).
    #[arg(long)]
    pub direction: Option<String>,
    /// Allow an operation: kith:create, kith:update, kith:delete, source:create, ...
    #[arg(long, value_name = "SIDE:OP")]
    pub allow: Vec<String>,
    /// Block an operation (same form as --allow).
    #[arg(long, value_name = "SIDE:OP")]
    pub block: Vec<String>,
    /// on or off: with protection on, contacts gone from the source are unlinked, never deleted.
    #[arg(long, value_parser = ["on", "off"])]
    pub delete_protection: Option<String>,
    /// Ignore contacts whose every email is on this domain (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub ignore_domain: Vec<String>,
    /// Only contacts with this label or category (repeatable); `--scope all` clears it.
    #[arg(long, value_name = "LABEL")]
    pub scope: Vec<String>,
    /// Microsoft 365: a contact folder to sync, by name (repeatable; `default` is the mailbox's
    /// Contacts folder; `--folder all` clears the list, back to the default folder).
    #[arg(long, value_name = "NAME")]
    pub folder: Vec<String>,
    /// Where contacts Kith creates in the source go: a Microsoft 365 folder (one of the synced
    /// folders) or a Google label; `--target none` clears it (first folder, no label).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Who wins a conflict on a field: FIELD=source or FIELD=kith (repeatable).
    #[arg(long, value_name = "FIELD=OWNER")]
    pub field: Vec<String>,
    /// Move the source to another of the user's address books.
    #[arg(long)]
    pub book: Option<String>,
    /// Read this file on scheduled runs.
    #[arg(long, value_name = "FILE")]
    pub location: Option<PathBuf>,
    /// on or off: run automatically (only after one plan of the source was applied).
    #[arg(long, value_parser = ["on", "off"])]
    pub auto: Option<String>,
    /// How often automatic runs happen: 30m, 6h, 1d.
    #[arg(long)]
    pub every: Option<String>,
    /// When automatic runs may start: 08:00-20:00 (`any` clears it).
    #[arg(long)]
    pub window: Option<String>,
    /// The user's time zone for the window, e.g. Europe/Berlin.
    #[arg(long)]
    pub timezone: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Read a source and show what a run would change, without changing anything.
    Plan {
        name: String,
        #[arg(long)]
        user: String,
        /// Read this file instead of the source's file (and remember it).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(long)]
        accept_merges: bool,
    },
    /// Read a source, plan and apply at once, as a scheduled run does (a guard trip still
    /// stops it for review).
    Run {
        name: String,
        #[arg(long)]
        user: String,
        /// Apply even if a guard trips.
        #[arg(long)]
        force: bool,
    },
    /// Apply a stored plan, after re-checking that nothing changed since it was made.
    Apply {
        run: i64,
        /// Apply a plan that tripped a guard.
        #[arg(long)]
        force: bool,
    },
    /// List runs, newest first.
    History {
        #[arg(long)]
        user: String,
        /// Only this source's runs.
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Show a run: its summary and every operation with its field changes and reasons.
    Show {
        run: i64,
        /// Show every operation, not only the first 200.
        #[arg(long)]
        all: bool,
    },
    /// Revert what an applied run changed in the address book.
    Undo {
        run: i64,
        /// Undo the rest when some cards were edited since (those are left as they are).
        #[arg(long)]
        force: bool,
    },
    /// A user's notifications: failed runs, guard trips, re-authorization needed.
    Events {
        #[arg(long)]
        user: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a default address book, calendar and task list.
    Add {
        name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// May use the web UI's admin pages (users, providers, backups).
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List,
    /// Change a user's password.
    Passwd {
        name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user and all their address books and calendars.
    Remove { name: String },
    /// Show a user's e-mail addresses, adding or removing some first: the addresses that name
    /// them as organizer or attendee when events are scheduled (besides a user name that is an
    /// address, and their connected accounts).
    Email {
        name: String,
        /// An address to add (repeatable).
        #[arg(long, value_name = "ADDRESS")]
        add: Vec<String>,
        /// An address to remove (repeatable).
        #[arg(long, value_name = "ADDRESS")]
        remove: Vec<String>,
    },
    /// Manage device (app) passwords.
    #[command(subcommand)]
    AppPassword(AppPasswordCommand),
}

#[derive(Debug, Subcommand)]
pub enum AppPasswordCommand {
    /// Issue a new device password; it is shown once.
    Add {
        name: String,
        /// What the password is for, e.g. "iphone".
        #[arg(long)]
        label: String,
    },
    /// List a user's device passwords (labels and dates, never the passwords).
    List { name: String },
    /// Revoke a device password.
    Revoke {
        name: String,
        #[arg(long)]
        label: String,
    },
}
