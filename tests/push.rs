//! WebDAV-Push (issue 22): devices register on a collection and hear of every change to it,
//! whatever made it, through a push service, encrypted (RFC 8291) and signed (RFC 8292). The
//! fake push service decrypts each message with the device's own keys.

use crate::common::*;
use kith_fakes::push::{Delivered, Subscription, push_service};
use std::time::Duration;

const PUSH_NS: &str = "https://bitfire.at/webdav-push";
const WAIT: Duration = Duration::from_secs(20);
const PW: &str = "a long enough password";

/// A config file (in the returned directory) that lets Kith reach the fake push service, on
/// loopback and plain HTTP; its path.
pub(crate) fn trusting(sub: &Subscription) -> (tempfile::TempDir, String) {
    let host = sub
        .push_resource
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("kith.toml");
    std::fs::write(&path, format!("[push]\ntrusted_hosts = [\"{host}\"]\n")).unwrap();
    let path = path.to_str().unwrap().to_string();
    (conf, path)
}

/// A server that may reach the fake push service.
fn start(sub: &Subscription) -> (Server, tempfile::TempDir) {
    let (conf, path) = trusting(sub);
    let s = Server::start_with(&[("KITH_CONFIG", &path)]);
    (s, conf)
}

/// The body DAVx⁵ sends: no trigger, no content-encoding.
pub(crate) fn register_body(sub: &Subscription) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<push-register xmlns="{PUSH_NS}"><subscription><web-push-subscription>
<push-resource>{}</push-resource>
<subscription-public-key type="p256dh">{}</subscription-public-key>
<auth-secret>{}</auth-secret>
</web-push-subscription></subscription>
<expires>{}</expires></push-register>"#,
        sub.push_resource, sub.public_key, sub.auth_secret, "Thu, 01 Jan 2099 00:00:00 GMT"
    )
}

async fn register(s: &Server, path: &str, user: &str, pw: &str, sub: &Subscription) -> String {
    let r = s
        .req("POST", path)
        .auth(user, pw)
        .header("content-type", "application/xml")
        .body(register_body(sub))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("expires").is_some());
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("http://") && location.contains("/dav/push/"),
        "{location}"
    );
    location
}

/// The path of an absolute URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_string())
}

/// The collection's sync-token and push topic, as a client reads them.
async fn token_and_topic(s: &Server, path: &str, user: &str, pw: &str) -> (String, String) {
    let r = s
        .req("PROPFIND", path)
        .auth(user, pw)
        .header("depth", "0")
        .xml(&format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:p="{PUSH_NS}"><d:prop><d:sync-token/><p:topic/></d:prop></d:propfind>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let (_, resp) = &responses(&ms)[0];
    (
        prop(resp, "DAV:", "sync-token").unwrap().text.clone(),
        prop(resp, PUSH_NS, "topic").unwrap().text.clone(),
    )
}

/// The one message in `got`, decrypted and signed, with the collection's topic and token.
fn assert_message(got: &Delivered, topic: &str, token: &str) {
    let body = got.body.as_ref().expect("the message decrypts");
    assert!(got.vapid.is_ok(), "VAPID: {:?}", got.vapid);
    assert!(got.ttl.is_some(), "TTL is sent");
    let el = kith_dav::xml::parse(body.as_bytes()).expect("the message is XML");
    assert!(el.is(PUSH_NS, "push-message"), "{body}");
    assert_eq!(el.child(PUSH_NS, "topic").unwrap().text, topic, "{body}");
    let t = el
        .child(PUSH_NS, "content-update")
        .and_then(|c| c.child("DAV:", "sync-token"))
        .unwrap();
    assert_eq!(t.text, token, "{body}");
}

async fn put(s: &Server, name: &str, fn_: &str, extra: Option<(&str, &str)>) {
    let mut r = s
        .req("PUT", &format!("{BOOK}{name}.vcf"))
        .vcard(&card(name, fn_));
    if let Some((k, v)) = extra {
        r = r.header(k, v);
    }
    let r = r.send().await;
    assert!(matches!(r.status.as_u16(), 201 | 204), "{}", r.text());
}

#[tokio::test]
async fn a_device_hears_of_each_change_once_and_not_of_its_own() {
    let push = push_service();
    let phone = push.device("phone");
    let tablet = push.device("tablet");
    let (s, _conf) = start(&phone);

    // Discovery: the DAV header, and the properties DAVx⁵ reads.
    let r = s.anon("OPTIONS", BOOK).send().await;
    assert!(r.header("dav").unwrap().contains("webdav-push"));
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "0")
        .xml(&format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:p="{PUSH_NS}"><d:prop><p:transports/><p:topic/><p:supported-triggers/></d:prop></d:propfind>"#
        ))
        .send()
        .await;
    let ms = r.xml();
    let (_, resp) = &responses(&ms)[0];
    let key = prop(resp, PUSH_NS, "transports")
        .and_then(|t| t.child(PUSH_NS, "web-push"))
        .and_then(|w| w.child(PUSH_NS, "vapid-public-key"))
        .expect("a VAPID key is advertised");
    assert_eq!(key.attr("type"), Some("p256ecdsa"));
    assert_eq!(key.text.len(), 87, "an uncompressed P-256 point, base64url");
    assert!(
        prop(resp, PUSH_NS, "supported-triggers")
            .and_then(|t| t.child(PUSH_NS, "content-update"))
            .is_some()
    );

    let phone_url = register(&s, BOOK, "admin", ADMIN_PW, &phone).await;
    let again = register(&s, BOOK, "admin", ADMIN_PW, &phone).await;
    assert_eq!(
        phone_url, again,
        "registering again renews, never duplicates"
    );
    let tablet_url = register(&s, BOOK, "admin", ADMIN_PW, &tablet).await;
    let (phone_path, tablet_path) = (path_of(&phone_url), path_of(&tablet_url));

    // Another client's change: both devices hear of it, once, with the new sync-token.
    put(&s, "a", "Ann Example", None).await;
    let (token, topic) = token_and_topic(&s, BOOK, "admin", ADMIN_PW).await;
    push.inbox().wait_for(2, WAIT);
    for device in ["phone", "tablet"] {
        let got = push.for_device(device);
        assert_eq!(got.len(), 1, "{device}: {got:?}");
        assert_message(&got[0], &topic, &token);
        assert_eq!(
            got[0].topic.as_deref(),
            Some(topic.as_str()),
            "RFC 8030 Topic"
        );
        assert_eq!(
            got[0].vapid.as_deref().unwrap(),
            key.text,
            "signed with the advertised key"
        );
    }

    // The phone's own write, with Push-Dont-Notify naming its registration: only the tablet
    // hears of it. Then a change by someone else reaches both.
    put(
        &s,
        "b",
        "Bo Example",
        Some(("push-dont-notify", &format!("\"{phone_url}\""))),
    )
    .await;
    push.inbox().wait_for(3, WAIT);
    assert_eq!(push.for_device("tablet").len(), 2);
    put(&s, "c", "Cy Example", None).await;
    let (token, _) = token_and_topic(&s, BOOK, "admin", ADMIN_PW).await;
    push.inbox().wait_for(5, WAIT);
    let phone_got = push.for_device("phone");
    assert_eq!(
        phone_got.len(),
        2,
        "not told of its own change: {phone_got:?}"
    );
    assert_message(&phone_got[1], &topic, &token);

    // Unsubscribing: only the one who registered may; then the phone hears nothing more,
    // while the tablet still does.
    s.add_user("eve", PW);
    let foreign = s.req("DELETE", &phone_path).auth("eve", PW).send().await;
    assert_eq!(foreign.status, 404);
    let r = s.req("DELETE", &phone_path).send().await;
    assert_eq!(r.status, 204);
    let r = s.req("DELETE", &phone_path).send().await;
    assert_eq!(r.status, 404);
    s.req("DELETE", &format!("{BOOK}a.vcf")).send().await;
    push.inbox().wait_for(6, WAIT);
    assert_eq!(push.for_device("tablet").len(), 4);
    assert_eq!(push.for_device("phone").len(), 2);

    // A push service that says the subscription is gone (410) ends the registration.
    push.gone("tablet");
    put(&s, "d", "Di Example", None).await;
    let mut ended = false;
    for _ in 0..400 {
        let m = s.anon("GET", "/metrics").send().await.text();
        if m.contains("kith_pushes_total{outcome=\"gone\"} 1") {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "the push service's 410 was seen");
    let r = s.req("DELETE", &tablet_path).send().await;
    assert_eq!(r.status, 404, "and the registration is gone");
    assert!(ended, "the gone registration was dropped");
}

#[tokio::test]
async fn pushes_follow_every_writer_an_import_an_undo_and_a_sharee() {
    let push = push_service();
    let phone = push.device("phone");
    let (s, _conf) = start(&phone);
    register(&s, BOOK, "admin", ADMIN_PW, &phone).await;

    // A run of a file source, made by the CLI (another process): found by the sender's
    // periodic check.
    let file = s.dir.path().join("people.vcf");
    std::fs::write(
        &file,
        [card("i1", "Ida Import"), card("i2", "Ivo Import")].concat(),
    )
    .unwrap();
    let (ok, out, err) = kith_cli(
        s.dir.path(),
        &["import", file.to_str().unwrap(), "--user", "admin"],
        "",
    );
    assert!(ok, "{err}");
    let (token, topic) = token_and_topic(&s, BOOK, "admin", ADMIN_PW).await;
    push.inbox().wait_for(1, WAIT);
    let got = push.for_device("phone");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_message(&got[0], &topic, &token);

    // Its undo.
    let run = out
        .split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .unwrap()
        .to_string();
    let (ok, _, err) = kith_cli(s.dir.path(), &["sync", "undo", &run], "");
    assert!(ok, "{err}");
    let (token, _) = token_and_topic(&s, BOOK, "admin", ADMIN_PW).await;
    push.inbox().wait_for(2, WAIT);
    let got = push.for_device("phone");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_message(&got[1], &topic, &token);

    // A sharee's device hears of the owner's changes, until the share ends.
    s.add_user("bob", PW);
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "add",
            "--user",
            "admin",
            "--book",
            "contacts",
            "--with-user",
            "bob",
            "--write",
        ],
        "",
    );
    assert!(ok, "{err}");
    let shared = "/dav/addressbooks/bob/admin~contacts/";
    let bobs = push.device("bobs-phone");
    register(&s, shared, "bob", PW, &bobs).await;
    let (_, shared_topic) = token_and_topic(&s, shared, "bob", PW).await;
    assert_eq!(
        shared_topic, topic,
        "one topic per collection, for owner and sharee"
    );
    // The sharee writes: the owner's phone hears of it.
    let r = s
        .req("PUT", &format!("{shared}s1.vcf"))
        .auth("bob", PW)
        .vcard(&card("s1", "Sam Shared"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    push.inbox().wait_for(4, WAIT);
    assert_eq!(push.for_device("phone").len(), 3);
    assert_eq!(push.for_device("bobs-phone").len(), 1);

    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &[
            "share",
            "remove",
            "--user",
            "admin",
            "--book",
            "contacts",
            "--with-user",
            "bob",
        ],
        "",
    );
    assert!(ok, "{err}");
    put(&s, "after", "After Share", None).await;
    push.inbox().wait_for(5, WAIT);
    assert_eq!(push.for_device("phone").len(), 4);
    assert_eq!(
        push.for_device("bobs-phone").len(),
        1,
        "a revoked share ends the pushes"
    );

    // The web's devices page lists the registration, and stops it.
    let cookie = s.web_session("admin", ADMIN_PW).await;
    let page = s
        .anon("GET", "/devices")
        .header("cookie", &cookie)
        .send()
        .await
        .text();
    assert!(
        page.contains("id=\"pushes\"") && page.contains("127.0.0.1"),
        "{page}"
    );
    let field = |name: &str| {
        let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        page[at..].split('"').next().unwrap().to_string()
    };
    let form = format!("csrf={}&token={}", field("csrf"), field("token"));
    let r = s
        .anon("POST", "/devices/push/stop")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = s
        .anon("GET", "/devices")
        .header("cookie", &cookie)
        .send()
        .await
        .text();
    assert!(page.contains("id=\"no-pushes\""), "{page}");
    put(&s, "stopped", "After Stop", None).await;
    // bob's registration ended with his share; nobody is told now. A new device proves the
    // sender has moved past this change: it hears only of the next one.
    let late = push.device("late");
    register(&s, BOOK, "admin", ADMIN_PW, &late).await;
    put(&s, "next", "Next One", None).await;
    push.inbox().wait_for(6, WAIT);
    assert_eq!(push.for_device("phone").len(), 4, "stopped from the web");
    assert_ne!(push.for_device("late").len(), 0);
}

#[tokio::test]
async fn registrations_that_would_misuse_the_server_are_refused() {
    let push = push_service();
    let phone = push.device("phone");
    let (s, _conf) = start(&phone);
    let refused = |sub: Subscription, body: Option<String>| {
        let s = &s;
        async move {
            let r = s
                .req("POST", BOOK)
                .header("content-type", "application/xml")
                .body(body.unwrap_or_else(|| register_body(&sub)))
                .send()
                .await;
            (r.status.as_u16(), error_condition(&r))
        }
    };
    for (resource, why) in [
        ("http://10.0.0.1/push/x", "a private address"),
        (
            "https://127.0.0.1:9/push/x",
            "loopback, not trusted on that port",
        ),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://up.example.net/push/x", "plain HTTP"),
        ("not a url", "not a URL"),
    ] {
        let sub = Subscription {
            push_resource: resource.into(),
            ..phone.clone()
        };
        let (status, (ns, name)) = refused(sub, None).await;
        assert_eq!(status, 403, "{why}");
        assert_eq!(
            (ns.as_str(), name.as_str()),
            (PUSH_NS, "invalid-subscription"),
            "{why}"
        );
    }
    let bad_key = Subscription {
        public_key: "AAAA".into(),
        ..phone.clone()
    };
    let (status, (_, name)) = refused(bad_key, None).await;
    assert_eq!((status, name.as_str()), (403, "invalid-subscription"));
    let properties_only = register_body(&phone).replace(
        "<expires>",
        "<trigger><property-update><depth xmlns=\"DAV:\">0</depth></property-update></trigger><expires>",
    );
    let (status, (_, name)) = refused(phone.clone(), Some(properties_only)).await;
    assert_eq!((status, name.as_str()), (403, "no-supported-trigger"));
    let r = s
        .req("POST", "/dav/addressbooks/admin/")
        .header("content-type", "application/xml")
        .body(register_body(&phone))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(error_condition(&r).1, "push-not-available");
    // Another user's collection does not exist for the caller.
    s.add_user("eve", PW);
    let r = s
        .req("POST", BOOK)
        .auth("eve", PW)
        .header("content-type", "application/xml")
        .body(register_body(&phone))
        .send()
        .await;
    assert_eq!(r.status, 404);
}
