//! Configuration: defaults, then the TOML file, then `KITH_*` environment variables and CLI
//! flags (clap reads both, flags first).

mod providers;
mod push;
mod smtp;

pub use providers::*;
pub use push::PushSection;
use serde::Deserialize;
pub use smtp::SmtpSection;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid listen address {0:?}: expected HOST:PORT, e.g. 127.0.0.1:5233")]
    Listen(String),
    #[error("invalid {key}: {message}")]
    Value { key: String, message: String },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub dav: DavSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub sync: SyncSection,
    #[serde(default)]
    pub caldav: CaldavSection,
    #[serde(default)]
    pub history: HistorySection,
    #[serde(default)]
    pub backup: BackupSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub providers: ProvidersSection,
    #[serde(default)]
    pub web: WebSection,
    #[serde(default)]
    pub push: PushSection,
    /// Where notification mail goes out; unset: mail notifications are off.
    pub smtp: Option<SmtpSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` selects PostgreSQL; unset, Kith uses the
    /// embedded SQLite database `kith.db` in the data directory.
    pub url: Option<String>,
    /// PostgreSQL connections per instance.
    pub max_connections: u32,
    /// How long an instance holds a claimed job (a source's sync, a housekeeping task) without
    /// renewing it; after a crash, another instance takes the job over once this has passed.
    pub lease: String,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: None,
            max_connections: 16,
            lease: "60s".into(),
        }
    }
}

impl DatabaseSection {
    pub fn lease_ms(&self) -> Result<i64, ConfigError> {
        duration_ms("database.lease", &self.lease)
    }
}

/// A duration in config: `30d`, `6h`, `15m` or `10s`.
pub(super) fn duration_ms(key: &str, value: &str) -> Result<i64, ConfigError> {
    kith_connectors::rules::parse_interval(value)
        .map(|s| s as i64 * 1000)
        .ok_or_else(|| ConfigError::Value {
            key: key.to_string(),
            message: format!("{value:?} is not a duration; write it like 30d, 6h, 15m or 10s"),
        })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistorySection {
    /// How long deleted members stay in the trash and replaced versions in history.
    pub retention: String,
    /// How often `kith serve` purges what is older than the retention.
    pub purge_interval: String,
}

impl Default for HistorySection {
    fn default() -> Self {
        HistorySection {
            retention: "30d".into(),
            purge_interval: "1h".into(),
        }
    }
}

impl HistorySection {
    pub fn retention_ms(&self) -> Result<i64, ConfigError> {
        duration_ms("history.retention", &self.retention)
    }

    pub fn purge_interval_ms(&self) -> Result<i64, ConfigError> {
        duration_ms("history.purge_interval", &self.purge_interval)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSection {
    /// Whether `kith serve` takes backups on its own.
    pub enabled: bool,
    /// How often.
    pub interval: String,
    /// Where they go [default: DATA_DIR/backups].
    pub directory: Option<PathBuf>,
    /// How many scheduled backups are kept; older ones are deleted.
    pub keep: usize,
}

impl Default for BackupSection {
    fn default() -> Self {
        BackupSection {
            enabled: false,
            interval: "1d".into(),
            directory: None,
            keep: 7,
        }
    }
}

impl BackupSection {
    pub fn interval_ms(&self) -> Result<i64, ConfigError> {
        duration_ms("backup.interval", &self.interval)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaldavSection {
    /// Whether each user gets the read-only birthday calendar derived from their address books.
    pub birthdays: bool,
    /// Most instances one recurring object is expanded to, for queries and stored spans.
    pub max_instances: usize,
    /// The zone floating times are read in when a calendar has no calendar-timezone.
    pub default_timezone: String,
}

impl Default for CaldavSection {
    fn default() -> Self {
        CaldavSection {
            birthdays: true,
            max_instances: 20_000,
            default_timezone: "UTC".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    /// How often the scheduler looks for sources whose automatic run is due, in seconds.
    pub scheduler_tick_secs: u64,
}

impl Default for SyncSection {
    fn default() -> Self {
        SyncSection {
            scheduler_tick_secs: 30,
        }
    }
}

impl SyncSection {
    pub fn scheduler_tick(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.scheduler_tick_secs.max(1))
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: ConnectionLimits,
}

/// `[server.limits]`: what one client, or many slow ones, may hold of the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Most connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (and, between requests, how
    /// long a kept-alive connection may sit idle).
    pub header_timeout: String,
    /// Longest pause while a request body arrives.
    pub body_timeout: String,
    /// Longest a DAV request may take to be answered (its body may still stream after); a
    /// request over it is stopped and answered 503.
    pub request_timeout: String,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            header_timeout: "30s".into(),
            body_timeout: "60s".into(),
            request_timeout: "120s".into(),
        }
    }
}

impl ConnectionLimits {
    pub fn header_timeout(&self) -> std::time::Duration {
        let ms =
            duration_ms("server.limits.header_timeout", &self.header_timeout).unwrap_or(30_000);
        std::time::Duration::from_millis(ms as u64)
    }

    pub fn body_timeout(&self) -> std::time::Duration {
        let ms = duration_ms("server.limits.body_timeout", &self.body_timeout).unwrap_or(60_000);
        std::time::Duration::from_millis(ms as u64)
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        let ms =
            duration_ms("server.limits.request_timeout", &self.request_timeout).unwrap_or(120_000);
        std::time::Duration::from_millis(ms as u64)
    }

    fn check(&self) -> Result<(), ConfigError> {
        duration_ms("server.limits.header_timeout", &self.header_timeout)?;
        duration_ms("server.limits.body_timeout", &self.body_timeout)?;
        duration_ms("server.limits.request_timeout", &self.request_timeout)?;
        if self.max_connections == 0 {
            return Err(ConfigError::Value {
                key: "server.limits.max_connections".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DavSection {
    /// Largest vCard accepted by PUT, in bytes.
    pub max_resource_size: usize,
    /// How long removed members are remembered for sync-collection, in days.
    pub tombstone_retention_days: u32,
    /// Most address books and calendars one user may have.
    pub max_collections: usize,
    /// Largest value of one property a client sets on a collection (bytes of XML).
    pub max_property_size: usize,
    /// Largest total of the properties clients set on one collection (bytes of XML).
    pub max_properties_size: usize,
    /// Most bytes of cards and events one user may store over DAV; 0: no limit. Off by
    /// default: the check sums the user's objects on every PUT, which tripled the CPU of a PUT
    /// into a 10,000-card book (`scripts/bench-compare`); a running total is what would make
    /// it cheap enough to be on.
    pub max_bytes_per_user: u64,
}

impl Default for DavSection {
    fn default() -> Self {
        DavSection {
            max_resource_size: 1024 * 1024,
            tombstone_retention_days: 90,
            max_collections: 200,
            max_property_size: 16 * 1024,
            max_properties_size: 64 * 1024,
            max_bytes_per_user: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A tracing filter, e.g. "info" or "kith=debug,info".
    pub level: String,
    /// "text" (one readable line per event) or "json" (one JSON object per line, for log
    /// collectors).
    pub format: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub dav: DavSection,
    pub log: LogSection,
    pub sync: SyncSection,
    pub caldav: CaldavSection,
    pub history: HistorySection,
    pub backup: BackupSection,
    pub database: DatabaseSection,
    pub providers: ProvidersSection,
    pub web: WebSection,
    pub push: PushSection,
    pub smtp: Option<SmtpSection>,
    pub limits: ConnectionLimits,
}

impl Config {
    /// Where backups go when no directory is given.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .directory
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5233";

/// `$XDG_DATA_HOME/kith`, else `~/.local/share/kith`, else `./kith-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("kith");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/kith");
    }
    PathBuf::from("kith-data")
}

pub fn load_file(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Merges the file with the values given on the command line or in the environment.
pub fn resolve(
    mut file: FileConfig,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let listen_s = listen
        .or(file.server.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen = listen_s
        .parse()
        .map_err(|_| ConfigError::Listen(listen_s.clone()))?;
    if let Ok(f) = std::env::var("KITH_LOG_FORMAT")
        && !f.is_empty()
    {
        file.log.format = f;
    }
    if !matches!(file.log.format.as_str(), "text" | "json") {
        return Err(ConfigError::Value {
            key: "log.format".into(),
            message: format!(
                "{:?} is not a log format; use \"text\" or \"json\"",
                file.log.format
            ),
        });
    }
    // Checked here, so a typo stops the server at start rather than its first purge.
    file.history.retention_ms()?;
    file.history.purge_interval_ms()?;
    file.backup.interval_ms()?;
    if let Ok(url) = std::env::var("KITH_DATABASE_URL")
        && !url.is_empty()
    {
        file.database.url = Some(url);
    }
    if let Some(url) = &file.database.url
        && !url.starts_with("postgres://")
        && !url.starts_with("postgresql://")
    {
        return Err(ConfigError::Value {
            key: "database.url".into(),
            message: format!(
                "{:?} is not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:5432/DB, or leave it unset for the embedded SQLite database",
                redact_url(url)
            ),
        });
    }
    if file.database.max_connections == 0 {
        return Err(ConfigError::Value {
            key: "database.max_connections".into(),
            message: "must be at least 1".into(),
        });
    }
    file.database.lease_ms()?;
    file.server.limits.check()?;
    if let Ok(k) = std::env::var("KITH_TOKEN_KEY")
        && !k.is_empty()
    {
        file.providers.token_key = Some(k);
    }
    if let Some(o) = file.web.oidc.as_mut() {
        if let Ok(s) = std::env::var("KITH_OIDC_CLIENT_SECRET")
            && !s.is_empty()
        {
            o.client_secret = s;
        }
        if !matches!(o.username_claim.as_str(), "preferred_username" | "email") {
            return Err(ConfigError::Value {
                key: "web.oidc.username_claim".into(),
                message: "must be preferred_username or email".into(),
            });
        }
    }
    if let Some(m) = file.smtp.as_mut() {
        if let Ok(p) = std::env::var("KITH_SMTP_PASSWORD")
            && !p.is_empty()
        {
            m.password = p;
        }
        m.check()?;
    }
    if let Some(g) = file.providers.google.as_mut() {
        if let Ok(s) = std::env::var("KITH_GOOGLE_CLIENT_SECRET")
            && !s.is_empty()
        {
            g.client_secret = s;
        }
        if !(1..=1000).contains(&g.page_size) {
            return Err(ConfigError::Value {
                key: "providers.google.page_size".into(),
                message: "must be between 1 and 1000".into(),
            });
        }
        g.retry_base_ms()?;
    }
    if let Some(m) = file.providers.m365.as_mut() {
        if let Ok(s) = std::env::var("KITH_M365_CLIENT_SECRET")
            && !s.is_empty()
        {
            m.client_secret = s;
        }
        if !(1..=1000).contains(&m.page_size) {
            return Err(ConfigError::Value {
                key: "providers.m365.page_size".into(),
                message: "must be between 1 and 1000".into(),
            });
        }
        m.retry_base_ms()?;
    }
    file.push.check()?;
    if !(file.providers.wait_scale.is_finite() && file.providers.wait_scale >= 0.0) {
        return Err(ConfigError::Value {
            key: "providers.wait_scale".into(),
            message: "must be a number, 0 or more".into(),
        });
    }
    Ok(Config {
        listen,
        data_dir: data_dir
            .or(file.server.data_dir)
            .unwrap_or_else(default_data_dir),
        dav: file.dav,
        log: file.log,
        sync: file.sync,
        caldav: file.caldav,
        history: file.history,
        backup: file.backup,
        database: file.database,
        providers: file.providers,
        web: file.web,
        push: file.push,
        smtp: file.smtp,
        limits: file.server.limits,
    })
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_rules_file_is_the_default_rules() {
        let text = include_str!("../../../config/rules.example.toml");
        let rules: kith_connectors::rules::Rules = toml::from_str(text).unwrap();
        assert_eq!(rules, kith_connectors::rules::Rules::default());
    }

    #[test]
    fn flags_override_file() {
        let file: FileConfig = toml::from_str(
            "[server]\nlisten = \"0.0.0.0:80\"\ndata_dir = \"/srv\"\n[dav]\nmax_resource_size = 10\n",
        )
        .unwrap();
        let c = resolve(file.clone(), Some("127.0.0.1:9".into()), None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9");
        assert_eq!(c.data_dir, PathBuf::from("/srv"));
        assert_eq!(c.dav.max_resource_size, 10);
        assert!(resolve(file, Some("nope".into()), None).is_err());
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../config/kith.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(
            file.dav.max_resource_size,
            DavSection::default().max_resource_size
        );
        let d = CaldavSection::default();
        assert_eq!(file.caldav.birthdays, d.birthdays);
        assert_eq!(file.caldav.max_instances, d.max_instances);
        assert_eq!(file.caldav.default_timezone, d.default_timezone);
        assert_eq!(file.log.format, LogSection::default().format);
        let h = HistorySection::default();
        assert_eq!(file.history.retention, h.retention);
        assert_eq!(file.history.purge_interval, h.purge_interval);
        let b = BackupSection::default();
        assert_eq!(file.backup.enabled, b.enabled);
        assert_eq!(file.backup.interval, b.interval);
        assert_eq!(file.backup.keep, b.keep);
        assert_eq!(file.backup.directory, b.directory);
        let d = DatabaseSection::default();
        assert_eq!(file.database.url, d.url);
        assert_eq!(file.database.max_connections, d.max_connections);
        assert_eq!(file.database.lease, d.lease);
    }

    #[test]
    fn the_example_google_section_documents_the_defaults_and_secrets_are_not_debug_printed() {
        let text = include_str!("../../../config/kith.example.toml");
        let section = text
            .split("# [providers.google]")
            .nth(1)
            .unwrap()
            .split("[providers.m365]")
            .next()
            .unwrap();
        let toml_text: String = section
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .collect::<Vec<_>>()
            .join("\n");
        let g: GoogleSection = toml::from_str(&toml_text).unwrap();
        let d = GoogleSection::default();
        assert_eq!(g.page_size, d.page_size);
        assert_eq!(g.retry_base, d.retry_base);
        assert_eq!(g.auth_url, d.auth_url);
        assert_eq!(g.token_url, d.token_url);
        assert_eq!(g.revoke_url, d.revoke_url);
        assert_eq!(g.api_url, d.api_url);
        assert!(!format!("{g:?}").contains(&g.client_secret));
    }

    #[test]
    fn the_example_m365_section_documents_the_defaults() {
        let text = include_str!("../../../config/kith.example.toml");
        let section = text.split("# [providers.m365]").nth(1).unwrap();
        let toml_text: String = section
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .collect::<Vec<_>>()
            .join("\n");
        let m: M365Section = toml::from_str(&toml_text).unwrap();
        let d = M365Section::default();
        assert_eq!(m.tenant, d.tenant);
        assert_eq!(m.page_size, d.page_size);
        assert_eq!(m.retry_base, d.retry_base);
        assert_eq!(m.authority_url, d.authority_url);
        assert_eq!(m.graph_url, d.graph_url);
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(
            file.providers.wait_scale,
            ProvidersSection::default().wait_scale
        );
        assert!(!format!("{m:?}").contains(&m.client_secret));
    }

    #[test]
    fn a_bad_duration_names_the_key() {
        let file: FileConfig = toml::from_str("[history]\nretention = \"a month\"").unwrap();
        let err = resolve(file, None, None).unwrap_err().to_string();
        assert!(err.contains("history.retention"), "{err}");
        assert!(err.contains("30d"), "{err}");
    }

    #[test]
    fn database_urls_are_checked_and_never_shown_with_their_password() {
        let file: FileConfig =
            toml::from_str("[database]\nurl = \"mysql://kith:hunter2@db/kith\"").unwrap();
        let err = resolve(file, None, None).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            redact_url("postgres://kith:hunter2@db:5432/kith"),
            "postgres://kith:***@db:5432/kith"
        );
        let file: FileConfig =
            toml::from_str("[database]\nurl = \"postgres://db/kith\"\nlease = \"soon\"").unwrap();
        assert!(
            resolve(file, None, None)
                .unwrap_err()
                .to_string()
                .contains("database.lease")
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("[server]\nlisen = \"x\"\n").is_err());
    }
}
