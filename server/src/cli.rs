//! Command-line interface. Every flag that matters to containers has a `KITH_*` variable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kith",
    version,
    about = "Kith: a self-hosted CardDAV server",
    long_about = "Kith: a self-hosted CardDAV server that keeps one address book for all your \
                  devices.\n\nStart it with `kith serve`; manage accounts with `kith user`."
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
    /// Directory for the database and secret key [default: ~/.local/share/kith].
    #[arg(long, global = true, env = "KITH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the CardDAV server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:5233].
        #[arg(long, env = "KITH_LISTEN", value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a default address book.
    Add {
        name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
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
    /// Remove a user and all their address books.
    Remove { name: String },
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
