//! WebDAV-Push (draft-bitfire-webdav-push, as DAVx⁵ speaks it): the `push-register` request a
//! device POSTs to a collection, the properties that advertise push, and the `push-message`
//! a push service carries to the device. Keys and URLs are checked by the server, which has
//! the cryptography; this module only reads and writes the XML.

use crate::names::{DAV, PUSH};
use crate::xml::{Element, escape, parse};

/// A `push-register` body, as the device sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The push service's URL for this device (RFC 8030 push resource).
    pub push_resource: String,
    /// The device's P-256 key, base64url (`subscription-public-key type="p256dh"`).
    pub public_key: String,
    /// The 16-byte authentication secret, base64url.
    pub auth_secret: String,
    /// `content-encoding`, when sent (DAVx⁵ sends none; `aes128gcm` is meant).
    pub content_encoding: Option<String>,
    /// `expires`, an HTTP date, when sent.
    pub expires: Option<String>,
    /// The triggers asked for; empty when the body named none (DAVx⁵), which means content
    /// updates.
    pub triggers: Vec<Trigger>,
}

/// What a registration wants to hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A member was added, changed or removed (depth 1).
    ContentUpdate,
    /// A property of the collection changed (depth 0).
    PropertyUpdate,
}

/// Why a `push-register` body is refused; each names the draft's precondition.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("the body is not XML: {0}")]
    NotXml(String),
    #[error("the body is not a push-register element")]
    NotRegister,
    #[error("the registration has no web-push-subscription")]
    NoSubscription,
    #[error("the web-push-subscription has no {0}")]
    Missing(&'static str),
    #[error("the content encoding {0:?} is not supported; use aes128gcm")]
    Encoding(String),
    #[error("the subscription public key must have type=\"p256dh\"")]
    KeyType,
    #[error("none of the requested triggers is supported")]
    NoTrigger,
}

impl RegisterError {
    /// The precondition element of the 403 answer, in the push namespace.
    pub fn precondition(&self) -> &'static str {
        match self {
            RegisterError::NoTrigger => "no-supported-trigger",
            _ => "invalid-subscription",
        }
    }
}

/// Whether `body` is a `push-register` request (and not, say, a scheduling POST).
pub fn is_register(body: &[u8]) -> bool {
    // Cheap before a full parse: every other POST body Kith takes is iCalendar.
    let head = &body[..body.len().min(512)];
    head.windows(13).any(|w| w == b"push-register")
}

fn text<'a>(parent: &'a Element, local: &'static str) -> Result<&'a Element, RegisterError> {
    parent
        .child(PUSH, local)
        .filter(|e| !e.text.trim().is_empty())
        .ok_or(RegisterError::Missing(local))
}

/// Reads a `push-register` body.
pub fn parse_register(body: &[u8]) -> Result<Register, RegisterError> {
    let root = parse(body).map_err(|e| RegisterError::NotXml(e.to_string()))?;
    if !root.is(PUSH, "push-register") {
        return Err(RegisterError::NotRegister);
    }
    let sub = root
        .child(PUSH, "subscription")
        .and_then(|s| s.child(PUSH, "web-push-subscription"))
        .ok_or(RegisterError::NoSubscription)?;
    let push_resource = text(sub, "push-resource")?.text.trim().to_string();
    let key = text(sub, "subscription-public-key")?;
    if key
        .attr("type")
        .is_some_and(|t| !t.trim().eq_ignore_ascii_case("p256dh"))
    {
        return Err(RegisterError::KeyType);
    }
    let auth_secret = text(sub, "auth-secret")?.text.trim().to_string();
    let content_encoding = sub
        .child(PUSH, "content-encoding")
        .map(|e| e.text.trim().to_string())
        .filter(|e| !e.is_empty());
    if let Some(enc) = &content_encoding
        && !enc.eq_ignore_ascii_case("aes128gcm")
    {
        return Err(RegisterError::Encoding(enc.clone()));
    }
    let mut triggers = Vec::new();
    let mut asked = false;
    if let Some(t) = root.child(PUSH, "trigger") {
        for c in &t.children {
            asked = true;
            // Unsupported depths are downgraded, as the draft allows: content updates are
            // sent for depth 1, property updates for depth 0.
            if c.is(PUSH, "content-update") {
                triggers.push(Trigger::ContentUpdate);
            } else if c.is(PUSH, "property-update") {
                triggers.push(Trigger::PropertyUpdate);
            }
        }
    }
    if asked && triggers.is_empty() {
        return Err(RegisterError::NoTrigger);
    }
    Ok(Register {
        push_resource,
        public_key: key.text.trim().to_string(),
        auth_secret,
        content_encoding,
        expires: root
            .child(PUSH, "expires")
            .map(|e| e.text.trim().to_string())
            .filter(|e| !e.is_empty()),
        triggers,
    })
}

/// The `transports` property: Web Push, with the server's VAPID key (base64url of the
/// uncompressed P-256 point) so push services can check who sends.
pub fn transports(vapid_public_key: &str) -> String {
    format!(
        "<push:web-push><push:vapid-public-key type=\"p256ecdsa\">{}</push:vapid-public-key></push:web-push>",
        escape(vapid_public_key)
    )
}

/// The `supported-triggers` property of an address book or calendar: members added, changed
/// or removed. Property updates are not sent, so they are not offered.
pub const SUPPORTED_TRIGGERS: &str =
    "<push:content-update><d:depth>1</d:depth></push:content-update>";

/// The body of one push: the collection's topic and its new sync-token, which lets a client
/// skip a sync it has already done.
pub fn message(topic: &str, sync_token: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<push-message xmlns=\"{PUSH}\" xmlns:d=\"{DAV}\"><topic>{}</topic>",
        escape(topic)
    );
    out.push_str("<content-update><d:sync-token>");
    out.push_str(&escape(sync_token));
    out.push_str("</d:sync-token></content-update></push-message>");
    out
}

/// `Push-Dont-Notify`: the registrations (their URLs, as issued) a writing client asks not to
/// be told of its own change, or all of its registrations (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DontNotify {
    All,
    Urls(Vec<String>),
}

impl DontNotify {
    /// Reads the header's value: `*`, or a comma-separated list of quoted URLs.
    pub fn parse(value: &str) -> Option<DontNotify> {
        let v = value.trim();
        if v == "*" {
            return Some(DontNotify::All);
        }
        let urls: Vec<String> = v
            .split(',')
            .map(|u| u.trim().trim_matches('"').trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        (!urls.is_empty()).then_some(DontNotify::Urls(urls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAVX5: &str = r#"<?xml version='1.0' encoding='UTF-8' ?>
<push-register xmlns="https://bitfire.at/webdav-push">
  <subscription><web-push-subscription>
    <push-resource>https://up.example.net/yohd4yai5Phiz1wi</push-resource>
    <subscription-public-key type="p256dh">BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4</subscription-public-key>
    <auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret>
  </web-push-subscription></subscription>
  <expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>
</push-register>"#;

    #[test]
    fn reads_what_davx5_sends_with_no_trigger_and_no_encoding() {
        assert!(is_register(DAVX5.as_bytes()));
        let r = parse_register(DAVX5.as_bytes()).unwrap();
        assert_eq!(r.push_resource, "https://up.example.net/yohd4yai5Phiz1wi");
        assert_eq!(r.auth_secret, "BTBZMqHH6r4Tts7J_aSIgg");
        assert!(r.public_key.starts_with("BCVxsr7N"));
        assert_eq!(r.content_encoding, None);
        assert_eq!(r.expires.as_deref(), Some("Wed, 20 Dec 2023 10:03:31 GMT"));
        assert!(r.triggers.is_empty());
    }

    #[test]
    fn triggers_are_read_and_unknown_ones_alone_are_refused() {
        let with = DAVX5.replace(
            "<expires>",
            "<trigger><content-update><depth xmlns=\"DAV:\">infinity</depth></content-update><property-update/></trigger><expires>",
        );
        let r = parse_register(with.as_bytes()).unwrap();
        assert_eq!(
            r.triggers,
            vec![Trigger::ContentUpdate, Trigger::PropertyUpdate]
        );
        let unknown = DAVX5.replace("<expires>", "<trigger><x-other/></trigger><expires>");
        let e = parse_register(unknown.as_bytes()).unwrap_err();
        assert_eq!(e, RegisterError::NoTrigger);
        assert_eq!(e.precondition(), "no-supported-trigger");
    }

    #[test]
    fn broken_registrations_are_refused_with_invalid_subscription() {
        let no_auth = DAVX5.replace("<auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret>", "");
        assert_eq!(
            parse_register(no_auth.as_bytes()),
            Err(RegisterError::Missing("auth-secret"))
        );
        let enc = DAVX5.replace(
            "<auth-secret>",
            "<content-encoding>aesgcm</content-encoding><auth-secret>",
        );
        let e = parse_register(enc.as_bytes()).unwrap_err();
        assert!(matches!(e, RegisterError::Encoding(_)));
        assert_eq!(e.precondition(), "invalid-subscription");
        let typ = DAVX5.replace("type=\"p256dh\"", "type=\"x25519\"");
        assert_eq!(parse_register(typ.as_bytes()), Err(RegisterError::KeyType));
        assert_eq!(
            parse_register(b"<a xmlns=\"https://bitfire.at/webdav-push\"/>"),
            Err(RegisterError::NotRegister)
        );
        assert!(matches!(
            parse_register(b"<push-register"),
            Err(RegisterError::NotXml(_))
        ));
        assert!(!is_register(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n"));
    }

    #[test]
    fn messages_are_well_formed_and_escaped() {
        let m = message("t<1>", "urn:kith:sync:1:2");
        let el = parse(m.as_bytes()).unwrap();
        assert!(el.is(PUSH, "push-message"));
        assert_eq!(el.child(PUSH, "topic").unwrap().text, "t<1>");
        let token = el
            .child(PUSH, "content-update")
            .and_then(|c| c.child(DAV, "sync-token"))
            .unwrap();
        assert_eq!(token.text, "urn:kith:sync:1:2");
    }

    #[test]
    fn dont_notify_reads_a_star_or_quoted_urls() {
        assert_eq!(DontNotify::parse(" * "), Some(DontNotify::All));
        assert_eq!(
            DontNotify::parse("\"https://a/dav/push/1\", \"https://a/dav/push/2\""),
            Some(DontNotify::Urls(vec![
                "https://a/dav/push/1".into(),
                "https://a/dav/push/2".into()
            ]))
        );
        assert_eq!(DontNotify::parse(" , "), None);
    }
}
