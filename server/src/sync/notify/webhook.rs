//! Notification webhooks: one JSON POST, which chat bridges and automation tools accept.

use super::{Notice, NotifyError};
use std::time::Duration;

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        // A webhook that redirects elsewhere is not followed: the user named this URL.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

pub(super) async fn send(
    http: &reqwest::Client,
    url: &str,
    n: &Notice,
    link: Option<&str>,
) -> Result<(), NotifyError> {
    let body = serde_json::json!({
        "event": n.occasion.as_str(),
        "user": n.user,
        "source": n.source,
        "run": n.run,
        "title": n.subject(),
        "message": n.message,
        // Slack- and Mattermost-style receivers show `text`.
        "text": format!("{}: {}", n.subject(), n.message),
        "link": link,
    });
    let r = http
        .post(url)
        .header("user-agent", concat!("Kith/", env!("CARGO_PKG_VERSION")))
        .json(&body)
        .send()
        .await
        .map_err(|e| NotifyError::Webhook(without_url(&e)))?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(NotifyError::Webhook(format!("it answered {}", r.status())))
    }
}

/// reqwest's error without the URL, which may hold the webhook's secret token.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "no answer within 15 s"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    kind.to_string()
}
