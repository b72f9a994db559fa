//! `[smtp]`: the mail server Kith sends notifications through.

use super::ConfigError;
use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSection {
    pub host: String,
    /// 587 for `starttls`, 465 for `tls`, 25 for a relay without TLS.
    pub port: u16,
    /// `starttls` (the default), `tls` (implicit TLS), or `none` (a local relay only).
    pub security: String,
    /// Empty: no authentication.
    pub username: String,
    /// Env `KITH_SMTP_PASSWORD` overrides it.
    pub password: String,
    /// The sender, e.g. `Kith <kith@example.org>`.
    pub from: String,
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: String::new(),
            from: String::new(),
        }
    }
}

impl SmtpSection {
    /// Checks what a send would otherwise fail on, with the key to fix.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Value {
            key: format!("smtp.{key}"),
            message: message.into(),
        };
        if self.host.trim().is_empty() {
            return Err(bad("host", "must name the mail server"));
        }
        if !matches!(self.security.as_str(), "starttls" | "tls" | "none") {
            return Err(bad("security", "must be starttls, tls or none"));
        }
        if !self.from.contains('@') {
            return Err(bad(
                "from",
                "must be the sender's address, e.g. \"Kith <kith@example.org>\"",
            ));
        }
        Ok(())
    }
}

// The password never reaches a log line.
impl std::fmt::Debug for SmtpSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("from", &self.from)
            .finish()
    }
}
