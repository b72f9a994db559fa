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

/// The scheduler every front uses: the store, the config, and mail through `[smtp]`.
pub fn scheduler<'a>(
    store: &'a dyn crate::store::Store,
    config: &'a crate::config::Config,
) -> crate::core::scheduling::deliver::Scheduler<'a> {
    crate::core::scheduling::deliver::Scheduler {
        store,
        config,
        imip: std::sync::Arc::new(ImipMailer {
            smtp: config.smtp.clone(),
        }),
    }
}

/// iTIP by mail (iMIP, RFC 6047) to calendar users outside Kith: a text part for people and
/// the `text/calendar; method=…` part their calendar reads, sent as the organizer (Reply-To)
/// through Kith's sender.
pub struct ImipMailer {
    pub smtp: Option<SmtpSection>,
}

#[async_trait::async_trait]
impl crate::core::scheduling::deliver::Imip for ImipMailer {
    fn configured(&self) -> bool {
        self.smtp.as_ref().is_some_and(|s| s.check().is_ok())
    }

    async fn send(&self, from: &str, from_name: &str, to: &str, ical: &str) -> Result<(), String> {
        use lettre::message::{MultiPart, SinglePart, header::ContentType};
        let smtp = self
            .smtp
            .as_ref()
            .ok_or("no mail server is set up ([smtp])")?;
        let method = ical
            .lines()
            .find_map(|l| l.strip_prefix("METHOD:"))
            .unwrap_or("REQUEST")
            .trim()
            .to_string();
        let summary = ical
            .lines()
            .find_map(|l| l.strip_prefix("SUMMARY:"))
            .unwrap_or("an event")
            .trim()
            .to_string();
        let (subject, words) = match method.as_str() {
            "CANCEL" => (
                format!("Cancelled: {summary}"),
                format!("{from_name} ({from}) cancelled {summary}."),
            ),
            "REPLY" => (
                format!("Reply: {summary}"),
                format!("{from_name} ({from}) answered your invitation to {summary}."),
            ),
            _ => (
                format!("Invitation: {summary}"),
                format!(
                    "{from_name} ({from}) invites you to {summary}. Your calendar program shows the details and lets you answer."
                ),
            ),
        };
        let kith = mailbox(&smtp.from).map_err(|e| e.to_string())?;
        let sender = Mailbox::new(Some(format!("{from_name} via Kith")), kith.email.clone());
        let calendar =
            ContentType::parse(&format!("text/calendar; method={method}; charset=UTF-8"))
                .map_err(|e| e.to_string())?;
        let msg = Message::builder()
            .from(sender)
            .reply_to(mailbox(from).map_err(|e| e.to_string())?)
            .to(mailbox(to).map_err(|e| e.to_string())?)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(words),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(calendar)
                            .body(ical.to_string()),
                    ),
            )
            .map_err(|e| e.to_string())?;
        transport(smtp)
            .map_err(|e| e.to_string())?
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
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
