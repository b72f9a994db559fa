//! Notification mail through the admin's SMTP server (lettre, TLS by rustls).

use super::{Notice, NotifyError};
use crate::config::SmtpSection;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// `addr` as a mailbox, or why not.
pub(super) fn mailbox(addr: &str) -> Result<Mailbox, NotifyError> {
    addr.trim()
        .parse()
        .map_err(|_| NotifyError::BadAddress(addr.to_string()))
}

fn transport(smtp: &SmtpSection) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    let host = smtp.host.trim();
    let fail = |e: lettre::transport::smtp::Error| NotifyError::Mail(e.to_string());
    let mut b = match smtp.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(fail)?,
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(fail)?,
    };
    b = b.port(smtp.port).timeout(Some(Duration::from_secs(20)));
    if !smtp.username.is_empty() {
        b = b.credentials(Credentials::new(
            smtp.username.clone(),
            smtp.password.clone(),
        ));
    }
    Ok(b.build())
}

pub(super) async fn send(
    smtp: &SmtpSection,
    to: &str,
    n: &Notice,
    link: Option<&str>,
) -> Result<(), NotifyError> {
    let from = mailbox(&smtp.from)?;
    let mut body = format!("{}\n", n.message);
    if let Some(l) = link {
        body.push_str(&format!("\nMore: {l}\n"));
    }
    body.push_str(
        "\n-- \nKith sends this because you asked for it; change what you get on the Notifications page.\n",
    );
    let msg = Message::builder()
        .from(from)
        .to(mailbox(to)?)
        .subject(n.subject())
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| NotifyError::Mail(e.to_string()))?;
    transport(smtp)?
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| NotifyError::Mail(e.to_string()))
}
