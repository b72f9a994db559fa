//! Notifications of what automatic runs did, so nobody has to read the history to learn that a
//! source failed, a guard paused it, or a run changed their book. Each user chooses the
//! occasions and the channels: mail through the admin's SMTP server, a webhook, or both. The
//! settings are sealed like tokens (a webhook URL often carries its own secret).

pub mod mail;
mod webhook;

use crate::config::SmtpSection;
use crate::store::Store;
use crate::upstream::Upstreams;
use serde::{Deserialize, Serialize};

/// One user's choices.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    pub email: Option<String>,
    pub webhook: Option<String>,
    pub on_failure: bool,
    pub on_guard: bool,
    pub on_changes: bool,
}

impl Default for Settings {
    /// Failures and guard trips: what needs the user; a run with changes only when asked.
    fn default() -> Self {
        Settings {
            email: None,
            webhook: None,
            on_failure: true,
            on_guard: true,
            on_changes: false,
        }
    }
}

impl Settings {
    fn wants(&self, o: Occasion) -> bool {
        match o {
            Occasion::Failure => self.on_failure,
            Occasion::Guard => self.on_guard,
            Occasion::Changes => self.on_changes,
            Occasion::Test => true,
        }
    }
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occasion {
    Failure,
    Guard,
    Changes,
    Test,
}

impl Occasion {
    pub fn as_str(self) -> &'static str {
        match self {
            Occasion::Failure => "failure",
            Occasion::Guard => "guard",
            Occasion::Changes => "changes",
            Occasion::Test => "test",
        }
    }
}

/// One notification.
pub struct Notice {
    pub occasion: Occasion,
    pub user: String,
    pub source: Option<String>,
    pub run: Option<i64>,
    pub message: String,
}

impl Notice {
    /// A one-line subject.
    fn subject(&self) -> String {
        let what = match self.occasion {
            Occasion::Failure => "a sync failed",
            Occasion::Guard => "a guard paused a sync",
            Occasion::Changes => "a sync changed your contacts",
            Occasion::Test => "test notification",
        };
        match &self.source {
            Some(s) => format!("Kith: {what} ({s})"),
            None => format!("Kith: {what}"),
        }
    }

    /// The page that shows more, on `public_url`.
    fn link(&self, public_url: &str) -> Option<String> {
        let base = public_url.trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        Some(match (self.run, &self.source) {
            (Some(r), _) => format!("{base}/runs/{r}"),
            (None, Some(s)) => {
                let mut href = format!("{base}/sources/");
                kith_dav::href::push_segment(&mut href, s);
                href
            }
            (None, None) => format!("{base}/"),
        })
    }
}

/// Why settings were refused or a notification did not go out.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("mail is not set up on this server (the admin adds [smtp] to the config)")]
    NoMail,
    #[error("{0:?} is not an email address")]
    BadAddress(String),
    #[error("the webhook URL {0:?} must start with https:// or http://")]
    BadUrl(String),
    #[error("nowhere to send: set an email address or a webhook first")]
    Nowhere,
    #[error("the mail server did not take the message: {0}")]
    Mail(String),
    #[error("the webhook did not take the notification: {0}")]
    Webhook(String),
    #[error("{0}")]
    Store(String),
}

fn settings_name(user_id: i64) -> String {
    format!("notify:{user_id}")
}

/// Sends notifications; one per server.
pub struct Notifier {
    smtp: Option<SmtpSection>,
    public_url: String,
    http: reqwest::Client,
}

impl Notifier {
    pub fn new(smtp: Option<SmtpSection>, public_url: &str) -> Notifier {
        Notifier {
            smtp,
            public_url: public_url.to_string(),
            http: webhook::client(),
        }
    }

    pub fn mail_available(&self) -> bool {
        self.smtp.is_some()
    }

    /// A user's settings (the defaults, if they never chose).
    pub async fn settings(&self, store: &dyn Store, up: &Upstreams, user_id: i64) -> Settings {
        let name = settings_name(user_id);
        let Ok(Some(sealed)) = store.sealed(&name).await else {
            return Settings::default();
        };
        up.sealer
            .open(&name, &sealed)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .unwrap_or_default()
    }

    /// Checks and stores a user's settings.
    pub async fn save(
        &self,
        store: &dyn Store,
        up: &Upstreams,
        user_id: i64,
        s: &Settings,
    ) -> Result<(), NotifyError> {
        if let Some(e) = &s.email {
            if self.smtp.is_none() {
                return Err(NotifyError::NoMail);
            }
            mail::mailbox(e)?;
        }
        if let Some(u) = &s.webhook
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(NotifyError::BadUrl(u.clone()));
        }
        let name = settings_name(user_id);
        let plain = serde_json::to_vec(s).map_err(|e| NotifyError::Store(e.to_string()))?;
        store
            .put_sealed(&name, Some(user_id), &up.sealer.seal(&name, &plain), None)
            .await
            .map_err(|e| NotifyError::Store(e.to_string()))
    }

    /// Sends `n` on every channel `s` has; the channels that worked, or the first failure.
    pub async fn send(&self, s: &Settings, n: &Notice) -> Result<Vec<&'static str>, NotifyError> {
        if s.email.is_none() && s.webhook.is_none() {
            return Err(NotifyError::Nowhere);
        }
        let link = n.link(&self.public_url);
        let mut done = Vec::new();
        let mut failed = None;
        if let Some(to) = &s.email {
            match &self.smtp {
                None => failed = Some(NotifyError::NoMail),
                Some(smtp) => match mail::send(smtp, to, n, link.as_deref()).await {
                    Ok(()) => done.push("mail"),
                    Err(e) => failed = Some(e),
                },
            }
        }
        if let Some(url) = &s.webhook {
            match webhook::send(&self.http, url, n, link.as_deref()).await {
                Ok(()) => done.push("webhook"),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Sends `n` to its user if they asked for this occasion. A notification that cannot be
    /// sent is recorded among the user's events, never retried into a storm.
    pub async fn notify(&self, store: &dyn Store, up: &Upstreams, user_id: i64, n: Notice) {
        let s = self.settings(store, up, user_id).await;
        if !s.wants(n.occasion) || (s.email.is_none() && s.webhook.is_none()) {
            return;
        }
        match self.send(&s, &n).await {
            Ok(channels) => {
                tracing::info!(user = %n.user, occasion = n.occasion.as_str(), ?channels, "notification sent")
            }
            Err(e) => {
                tracing::warn!(user = %n.user, error = %e, "notification not sent");
                let _ = store
                    .add_event(
                        user_id,
                        None,
                        "warning",
                        &format!("a notification ({}) could not be sent: {e}", n.subject()),
                    )
                    .await;
            }
        }
    }
}
