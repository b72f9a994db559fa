//! The company directory (issue 20): an admin connects the Google Workspace directory or the
//! Microsoft 365 users list; colleagues become a read-only book shared with a group or with
//! everyone, refreshed like any source. Against the fakes' `listDirectoryPeople` and users
//! delta, paging and photos included.

use crate::common::upstream::*;
use crate::common::*;
use serde_json::{Value, json};

const PW: &str = "directory-pw-1";

/// Every card of `path` as `user` downloads it: (resource name, text), by name.
async fn cards_as(s: &Server, user: &str, path: &str) -> Vec<(String, String)> {
    let r = s
        .req("PROPFIND", path)
        .auth(user, PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207, "{path} as {user}: {}", r.text());
    let ms = r.xml();
    let mut out = Vec::new();
    for (href, _) in responses(&ms) {
        if href.ends_with('/') {
            continue;
        }
        let g = s.req("GET", &href).auth(user, PW).send().await;
        assert_eq!(g.status, 200, "{href}");
        out.push((href.rsplit('/').next().unwrap_or("").to_string(), g.text()));
    }
    out.sort();
    out
}

/// The sync token of `path` as `user` sees it.
async fn token_as(s: &Server, user: &str, path: &str) -> String {
    let r = s
        .req("PROPFIND", path)
        .auth(user, PW)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let (_, resp) = responses(&ms).into_iter().next().unwrap();
    prop(resp, "DAV:", "sync-token").unwrap().text.clone()
}

/// The admin's browser through the directory's authorization; the callback's status and text.
async fn connect(u: &Upstream, query: &str) -> (u16, String) {
    let (path, cookie) = u.through(&format!("/oauth/directory/start?{query}")).await;
    let cb =
        u.s.anon("GET", &path)
            .header("cookie", &cookie)
            .send()
            .await;
    (cb.status.as_u16(), cb.text())
}

fn person(given: &str, family: &str, title: &str, dept: &str) -> Value {
    let email = format!("{}@example.org", given.to_lowercase());
    json!({
        "names": [{"givenName": given, "familyName": family}],
        "emailAddresses": [{"value": email, "type": "work"}],
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        "organizations": [{"name": "Example Ltd", "title": title, "department": dept}]
    })
}

/// Google: the directory for the recruiting group only, read in pages; bob (a member) gets
/// it read-only, ann (not one) never sees it; a second run with no change changes nothing;
/// a leaver leaves and a new title arrives.
#[tokio::test]
async fn the_google_directory_is_a_read_only_book_for_the_chosen_group() {
    let (fake, _) = kith_fakes::google::spawn();
    let config = format!(
        r#"[providers.google]
client_id = "kith-test.apps.googleusercontent.com"
client_secret = "fake-secret"
redirect_base = "http://kith.test"
auth_url = "{fake}/o/oauth2/v2/auth"
token_url = "{fake}/token"
revoke_url = "{fake}/revoke"
api_url = "{fake}"
page_size = 2
retry_base = "40ms"
"#
    );
    let u = Upstream::start(fake, config, None, "google-directory");
    for name in ["ann", "bob"] {
        u.s.add_user(name, PW);
    }
    u.ok(&["group", "add", "recruiting"]);
    u.ok(&["group", "members", "recruiting", "--add", "bob"]);
    u.ok(&["provider", "enable", "google"]);
    let mut people = vec![
        person("Grace", "Hopper", "Rear Admiral", "Navy"),
        person("Alan", "Turing", "Researcher", "Maths"),
        person("Ada", "Lovelace", "Analyst", "Engines"),
    ];
    people[0]["photos"] = json!([{"url": "https://lh3.googleusercontent.com/a/grace"}]);
    u.control(
        "/_fake/directory",
        json!({"domain": "example.org", "people": people}),
    )
    .await;
    u.control(
        "/_fake/consent",
        json!({"account": "it@example.org", "hd": "example.org"}),
    )
    .await;

    // Only an existing group (or everyone) can read it.
    let r =
        u.s.req(
            "GET",
            "/oauth/directory/start?provider=google&for=nosuchgroup",
        )
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("no group named"), "{}", r.text());
    // Only an admin connects it.
    let r =
        u.s.req(
            "GET",
            "/oauth/directory/start?provider=google&for=recruiting",
        )
        .auth("ann", PW)
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Only a Kith admin"), "{}", r.text());

    let (status, text) = connect(&u, "provider=google&book=directory&for=recruiting").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("google-directory"), "{text}");
    let out = u.run();
    assert_eq!(count(&out, "create"), 3, "{out}");

    // bob sees the admin's directory in his own home, read-only.
    let home = u
        .s
        .req("PROPFIND", "/dav/addressbooks/bob/")
        .auth("bob", PW)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-privilege-set/></d:prop></d:propfind>"#)
        .send()
        .await
        .text();
    assert!(
        home.contains("/dav/addressbooks/bob/admin~directory/"),
        "{home}"
    );
    let shared = "/dav/addressbooks/bob/admin~directory/";
    let cards = cards_as(&u.s, "bob", shared).await;
    assert_eq!(cards.len(), 3);
    let grace = &cards
        .iter()
        .find(|(_, t)| t.contains("FN:Grace Hopper"))
        .unwrap()
        .1;
    assert!(grace.contains("TITLE:Rear Admiral"), "{grace}");
    assert!(grace.contains("Example Ltd;Navy"), "{grace}");
    assert!(grace.contains("grace@example.org"), "{grace}");
    assert!(grace.contains("+44 20 7946 0000"), "{grace}");
    assert!(
        grace.contains("https://lh3.googleusercontent.com/a/grace"),
        "the photo: {grace}"
    );
    // Google's generated initials are not a photo.
    let alan = &cards
        .iter()
        .find(|(_, t)| t.contains("FN:Alan Turing"))
        .unwrap()
        .1;
    assert!(!alan.contains("PHOTO"), "{alan}");
    let put =
        u.s.req("PUT", &format!("{shared}{}", cards[0].0))
            .auth("bob", PW)
            .vcard(b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Mallory\r\nEND:VCARD\r\n")
            .send()
            .await;
    assert_eq!(put.status, 403);
    assert!(put.text().contains("need-privileges"), "{}", put.text());
    // ann is not in the group: nothing of it reaches her.
    let ann_home =
        u.s.req("PROPFIND", "/dav/addressbooks/ann/")
            .auth("ann", PW)
            .header("depth", "1")
            .send()
            .await
            .text();
    assert!(!ann_home.contains("directory"), "{ann_home}");
    let r =
        u.s.req("PROPFIND", shared.replace("bob", "ann").as_str())
            .auth("ann", PW)
            .header("depth", "0")
            .send()
            .await;
    assert_eq!(r.status, 404);

    // A second run with no change upstream changes nothing.
    let before = token_as(&u.s, "bob", shared).await;
    let again = u.run();
    for what in ["create", "update", "delete"] {
        assert_eq!(count(&again, what), 0, "{what}: {again}");
    }
    assert_eq!(token_as(&u.s, "bob", shared).await, before);

    // Alan leaves, Ada changes title: the book follows.
    people.remove(1);
    people[1]["organizations"][0]["title"] = json!("Chief Analyst");
    u.control(
        "/_fake/directory",
        json!({"domain": "example.org", "people": people}),
    )
    .await;
    let out = u.run();
    assert_eq!(count(&out, "delete"), 1, "{out}");
    assert_eq!(count(&out, "update"), 1, "{out}");
    let cards = cards_as(&u.s, "bob", shared).await;
    assert_eq!(cards.len(), 2);
    assert!(cards.iter().all(|(_, t)| !t.contains("Alan Turing")));
    assert!(cards.iter().any(|(_, t)| t.contains("TITLE:Chief Analyst")));
    // The fake read in pages of two.
    let listed = u
        .log()
        .await
        .iter()
        .filter(|e| e["path"] == "/v1/people:listDirectoryPeople")
        .count();
    assert_eq!(listed, 2 + 2 + 1, "three people in pages of two, then two");
}

/// Microsoft 365: the tenant's users for everyone, by users delta: photos come along, guests
/// and disabled accounts stay out, a second run asks only for changes and changes nothing, and
/// a removed user leaves the book.
#[tokio::test]
async fn the_microsoft_365_directory_is_shared_with_everyone() {
    let (fake, _) = kith_fakes::m365::spawn();
    let config = format!(
        r#"[providers]
wait_scale = 0.01

[providers.m365]
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "fake-m365-secret"
tenant = "common"
redirect_base = "http://kith.test"
authority_url = "{fake}"
graph_url = "{fake}/v1.0"
page_size = 2
retry_base = "100ms"
"#
    );
    let u = Upstream::start(fake, config, None, "m365-directory");
    u.ok(&["provider", "enable", "m365"]);
    u.control(
        "/_fake/user",
        json!({"account": "it@contoso.example", "tenant": "contoso"}),
    )
    .await;
    let user = |given: &str, surname: &str, title: &str| {
        json!({
            "displayName": format!("{given} {surname}"), "givenName": given, "surname": surname,
            "jobTitle": title, "department": "Sales", "companyName": "Contoso",
            "mail": format!("{}@contoso.example", given.to_lowercase()),
            "businessPhones": ["+1 425 555 0100"], "mobilePhone": "+1 425 555 0199",
            "city": "Redmond", "country": "USA",
            "accountEnabled": true, "userType": "Member"
        })
    };
    let mut users = vec![
        user("Megan", "Bowen", "Marketing Manager"),
        user("Alex", "Wilber", "Retail Manager"),
        user("Lynne", "Robbins", "Planner"),
    ];
    use base64::Engine;
    users[0]["photo"] =
        json!(base64::engine::general_purpose::STANDARD.encode([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    let mut guest = user("Gus", "Guest", "Consultant");
    guest["userType"] = json!("Guest");
    let mut gone = user("Dee", "Disabled", "Former");
    gone["accountEnabled"] = json!(false);
    let mut all = users.clone();
    all.extend([guest.clone(), gone.clone()]);
    u.control(
        "/_fake/directory",
        json!({"tenant": "contoso", "users": all}),
    )
    .await;
    // Everyone reads it, users made later too.
    u.s.add_user("ann", PW);
    u.control("/_fake/signin", json!({"account": "it@contoso.example"}))
        .await;
    let (status, text) = connect(&u, "provider=m365&for=everyone").await;
    assert_eq!(status, 200, "{text}");
    u.s.add_user("bob", PW);
    let out = u.run();
    assert_eq!(count(&out, "create"), 3, "{out}");

    for who in ["ann", "bob"] {
        let shared = format!("/dav/addressbooks/{who}/admin~directory/");
        let cards = cards_as(&u.s, who, &shared).await;
        assert_eq!(cards.len(), 3, "{who}");
        let megan = &cards
            .iter()
            .find(|(_, t)| t.contains("FN:Megan Bowen"))
            .unwrap()
            .1;
        assert!(megan.contains("TITLE:Marketing Manager"), "{megan}");
        assert!(megan.contains("megan@contoso.example"), "{megan}");
        assert!(megan.contains("+1 425 555 0199"), "{megan}");
        assert!(megan.contains("Redmond"), "{megan}");
        assert!(megan.contains("PHOTO"), "the photo: {megan}");
        assert!(
            cards
                .iter()
                .all(|(_, t)| !t.contains("Guest") && !t.contains("Disabled"))
        );
    }
    let token = token_as(&u.s, "bob", "/dav/addressbooks/bob/admin~directory/").await;
    u.clear_log().await;
    let again = u.run();
    for what in ["create", "update", "delete"] {
        assert_eq!(count(&again, what), 0, "{what}: {again}");
    }
    assert_eq!(
        token_as(&u.s, "bob", "/dav/addressbooks/bob/admin~directory/").await,
        token
    );
    let log = u.log().await;
    assert!(
        log.iter()
            .all(|e| !e["path"].as_str().unwrap_or("").contains("/photo/")),
        "no change: no photo is read again: {log:?}"
    );
    assert!(
        log.iter()
            .any(|e| e["path"].as_str().unwrap_or("").contains("$deltatoken=")),
        "the second run asks for changes only: {log:?}"
    );

    // Alex leaves the tenant.
    users.remove(1);
    u.control(
        "/_fake/directory",
        json!({"tenant": "contoso", "users": users}),
    )
    .await;
    let out = u.run();
    assert_eq!(count(&out, "delete"), 1, "{out}");
    let cards = cards_as(&u.s, "ann", "/dav/addressbooks/ann/admin~directory/").await;
    assert_eq!(cards.len(), 2);
    assert!(cards.iter().all(|(_, t)| !t.contains("Alex Wilber")));
    // "everyone" holds every user and cannot lose one.
    let (ok, _, err) = u.cli(&["group", "members", "everyone", "--remove", "ann"]);
    assert!(!ok);
    assert!(err.contains("holds every user"), "{err}");
}

/// The admin page's directory form, through the real redirects: the admin connects the
/// Google directory for everyone, previews and applies the first run on the source's page,
/// and a colleague finds it on their Sharing page and over CardDAV.
#[tokio::test]
async fn an_admin_connects_the_directory_in_the_browser() {
    use crate::common::browser::Browser;
    let (fake, _) = kith_fakes::google::spawn();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let config = format!(
        r#"[providers.google]
client_id = "kith-test.apps.googleusercontent.com"
client_secret = "fake-secret"
redirect_base = "{base}"
auth_url = "{fake}/o/oauth2/v2/auth"
token_url = "{fake}/token"
revoke_url = "{fake}/revoke"
api_url = "{fake}"
retry_base = "40ms"
"#
    );
    let listen = format!("127.0.0.1:{port}");
    let u = Upstream::start_env(
        fake,
        config,
        None,
        "google-directory",
        &[("KITH_LISTEN", &listen)],
    );
    u.s.add_user("bob", PW);
    u.ok(&["provider", "enable", "google"]);
    u.control(
        "/_fake/directory",
        json!({"domain": "example.org", "people": [
            person("Grace", "Hopper", "Rear Admiral", "Navy"),
            person("Alan", "Turing", "Researcher", "Maths")
        ]}),
    )
    .await;
    u.control("/_fake/consent", json!({"account": "it@example.org"}))
        .await;

    let b = Browser::open(&base, "directory-admin").await;
    b.sign_in("admin", ADMIN_PW).await;
    b.wait("#books").await;
    b.go("/admin").await;
    b.wait("#directory").await;
    b.click("#directory-provider option[value=google]").await;
    b.click("#directory-for option[value=everyone]").await;
    b.shot("admin-directory").await;
    b.press("Connect the directory").await;
    b.wait("#notice").await;
    assert!(
        b.path()
            .await
            .starts_with("/sources/google-directory?connected="),
        "{}",
        b.path().await
    );
    assert!(b.text("main").await.contains("Google Workspace directory"));
    b.press("Preview sync").await;
    b.wait("#run-status").await;
    assert_eq!(b.text("#run-status").await, "planned");
    assert_eq!(
        b.text("#summary .count[data-action=create]").await,
        "2",
        "{}",
        b.text("#ops").await
    );
    b.press("Apply this plan").await;
    b.wait("#notice").await;
    assert_eq!(b.text("#run-status").await, "applied");
    b.shot("applied").await;
    b.close().await;

    let bob = Browser::open(&base, "directory-bob").await;
    bob.sign_in("bob", PW).await;
    bob.wait("#books").await;
    bob.go("/sharing").await;
    let incoming = bob.wait_text("#incoming", "from admin").await;
    assert!(incoming.contains("Company directory"), "{incoming}");
    assert!(incoming.contains("read-only"), "{incoming}");
    bob.shot("sharing").await;
    bob.close().await;
    let cards = cards_as(&u.s, "bob", "/dav/addressbooks/bob/admin~directory/").await;
    assert_eq!(cards.len(), 2);
}
