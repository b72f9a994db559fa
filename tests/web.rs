//! The web UI end to end: a real `kith serve` on loopback, driven through headless Chromium
//! (Debian's chromium and chromedriver, over WebDriver). Each test is a flow a user walks;
//! screenshots of the main pages go to target/tmp/web-screenshots/TEST/.

use crate::common::browser::Browser;
use crate::common::upstream::Upstream;
use crate::common::*;
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sources");

/// A fixture's canonical path (chromedriver refuses `..` in an upload's path).
fn fixture(name: &str) -> String {
    std::fs::canonicalize(format!("{FIXTURES}/{name}"))
        .unwrap()
        .display()
        .to_string()
}

/// Uploads `file` on the Sources page and returns the detected format the page shows.
async fn upload(b: &Browser, file: &str) -> String {
    b.go("/sources").await;
    b.wait("#file").await.send_keys(file).await.unwrap();
    b.press("Upload and check").await;
    b.wait("#detected-format").await;
    b.wait("#detected-format")
        .await
        .attr("data-format")
        .await
        .unwrap()
        .unwrap()
}

/// From the upload check page: import under `name`, which previews the run; returns its id.
async fn import_and_preview(b: &Browser, name: &str) -> i64 {
    b.fill("#name", name).await;
    b.press("Preview the import").await;
    b.wait("#run-status").await;
    run_id(b).await
}

async fn run_id(b: &Browser) -> i64 {
    let path = b.path().await;
    path.trim_start_matches("/runs/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("not a run page: {path}"))
}

/// The number the run page's summary shows for `action`.
async fn planned(b: &Browser, action: &str) -> usize {
    b.text(&format!("#summary .count[data-action={action}]"))
        .await
        .parse()
        .unwrap_or(0)
}

async fn apply(b: &Browser) {
    b.press("Apply this plan").await;
    b.wait("#notice").await;
    assert_eq!(b.text("#run-status").await, "applied");
}

/// The card count the dashboard shows for the `contacts` book.
async fn dashboard_count(b: &Browser) -> usize {
    b.go("/").await;
    b.wait("#books").await;
    let books = b.text("#books").await;
    let line = books
        .lines()
        .find(|l| l.contains("(contacts)"))
        .unwrap_or_else(|| panic!("no contacts book on the dashboard: {books}"));
    line.split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

fn google_config(fake: &str, base: &str) -> String {
    format!(
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
    )
}

/// A form POST made outside the browser (as another site, or to read a download), with
/// `cookie` as the browser's cookies; redirects are not followed.
async fn post_form(url: &str, cookie: &str, body: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The text between `start` and `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    &text[from..from + len]
}

/// The acceptance walk: a fresh server, the admin enables Google, the user connects Google
/// through the real redirect flow and imports LinkedIn, previews and applies both, installs
/// the iPhone profile, and a CardDAV client with the profile's credentials sees the merged
/// cards.
#[tokio::test]
async fn a_first_time_user_goes_from_a_fresh_server_to_an_iphone_with_google_and_linkedin() {
    let (fake, _) = kith_fakes::google::spawn();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let g = Upstream::start_env(
        fake.clone(),
        google_config(&fake, &base),
        None,
        "google",
        &[("KITH_LISTEN", &listen)],
    );
    assert_eq!(g.s.base, base);
    // Google holds Arjun, who is also a LinkedIn connection (same email), and Grace.
    g.control(
        "/_fake/people",
        json!({"account": "ada@example.org", "people": [
            {"names": [{"givenName": "Arjun", "familyName": "Mehta"}],
             "emailAddresses": [{"value": "arjun@example.com", "type": "work"}],
             "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}]},
            {"names": [{"givenName": "Grace", "familyName": "Hopper"}],
             "emailAddresses": [{"value": "grace@example.net", "type": "home"}]}
        ]}),
    )
    .await;
    g.control("/_fake/consent", json!({"account": "ada@example.org"}))
        .await;

    let b = Browser::open(&base, "first_time_user").await;
    // Signed out, every page leads to the sign-in form.
    b.go("/sources").await;
    b.wait("#user").await;
    assert!(
        b.path().await.starts_with("/login?next="),
        "{}",
        b.path().await
    );
    b.shot("login").await;
    b.fill("#user", "admin").await;
    b.fill("#password", ADMIN_PW).await;
    b.press("Sign in").await;
    b.wait("#connect-google").await;
    assert_eq!(b.path().await, "/sources");

    // Google is not enabled yet: the page says so and who can enable it.
    let why = b.text("#connect-google").await;
    assert!(
        why.contains("not enabled") && why.contains("Admins here: admin"),
        "{why}"
    );

    // As admin, enable it.
    b.go("/admin").await;
    b.press("Enable Google").await;
    b.wait("#notice").await;
    assert!(b.text("#provider-google").await.contains("enabled"));
    assert!(g.ok(&["provider", "status"]).contains("google: enabled"));
    b.shot("admin").await;

    // Connect Google: out to (the fake) Google's consent and back, through real redirects.
    b.go("/sources").await;
    b.shot("sources").await;
    b.press("Connect Google").await;
    b.wait("#notice").await;
    assert!(b.path().await.starts_with("/sources/google?connected="));
    assert!(b.text("#notice").await.contains("ada@example.org"));
    b.shot("source").await;

    // Preview, then apply.
    b.press("Preview sync").await;
    b.wait("#run-status").await;
    assert_eq!(b.text("#run-status").await, "planned");
    assert_eq!(planned(&b, "create").await, 2);
    b.shot("preview").await;
    apply(&b).await;
    assert_eq!(dashboard_count(&b).await, 2);

    // LinkedIn: the format is detected and shown before anything is imported.
    assert_eq!(
        upload(&b, &fixture("linkedin-2024.csv")).await,
        "linkedin-csv"
    );
    let contacts: usize = b.text("#contact-count").await.parse().unwrap();
    assert!(contacts >= 5, "{contacts}");
    b.shot("upload").await;
    let run = import_and_preview(&b, "linkedin").await;
    assert_eq!(
        planned(&b, "link").await,
        1,
        "Arjun: {}",
        b.text("#ops").await
    );
    assert_eq!(
        dashboard_count(&b).await,
        2,
        "nothing imported before applying"
    );
    b.go(&format!("/runs/{run}")).await;
    apply(&b).await;
    // Arjun is linked to the card Google made, not created again.
    let count = dashboard_count(&b).await;
    assert_eq!(
        count,
        2 + contacts - 1,
        "LinkedIn's Arjun merged into Google's"
    );
    b.shot("dashboard").await;

    // The iPhone profile, downloaded with the page's own form (the session and its token).
    b.go("/devices/setup/ios").await;
    assert_eq!(b.text("#dav-url").await, format!("{base}/dav/"));
    b.shot("setup-ios").await;
    let (csrf, cookie) = (b.csrf().await, b.cookie_header().await);
    let r = post_form(
        &format!("{base}/devices/profile"),
        &cookie,
        &format!("csrf={csrf}&label=iPhone"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-apple-aspen-config"
    );
    let profile = String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap();
    assert_eq!(
        between(&profile, "<key>CardDAVHostName</key><string>", "<"),
        "127.0.0.1"
    );
    assert_eq!(
        between(&profile, "<key>CardDAVPort</key><integer>", "<"),
        port.to_string()
    );
    let principal = between(&profile, "<key>CardDAVPrincipalURL</key><string>", "<");
    let user = between(&profile, "<key>CardDAVUsername</key><string>", "<");
    let password = between(&profile, "<key>CardDAVPassword</key><string>", "<");
    assert_eq!(
        password,
        between(&profile, "<key>CalDAVPassword</key><string>", "<")
    );

    // The iPhone: discovery from the principal, then a first sync-collection of the book.
    let home = g
        .s
        .anon("PROPFIND", principal)
        .auth(user, password)
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><c:addressbook-home-set/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(home.status, 207, "{}", home.text());
    let home = home.text();
    assert!(home.contains("/dav/addressbooks/admin/"), "{home}");
    let synced =
        g.s.anon("REPORT", BOOK)
            .auth(user, password)
            .header("depth", "0")
            .xml(&sync_report("", None, "<d:getetag/><c:address-data/>"))
            .send()
            .await;
    assert_eq!(synced.status, 207);
    let ms = synced.xml();
    let cards: Vec<String> = responses(&ms)
        .iter()
        .filter_map(|(_, r)| prop(r, "urn:ietf:params:xml:ns:carddav", "address-data"))
        .map(|e| e.text.clone())
        .collect();
    assert_eq!(cards.len(), count);
    let arjun = cards
        .iter()
        .find(|c| c.contains("Arjun"))
        .expect("Arjun on the phone");
    assert!(arjun.contains("555 0100"), "Google's phone: {arjun}");
    assert!(
        arjun.contains("Amazon Web Services"),
        "LinkedIn's company: {arjun}"
    );
    assert!(cards.iter().any(|c| c.contains("Grace")));
    assert!(cards.iter().any(|c| c.contains("Sofia")));

    // The phone shows up on the Devices page, used just now.
    b.go("/devices").await;
    let row = b.text("#passwords").await;
    assert!(row.contains("iPhone") && !row.contains("never"), "{row}");
    b.shot("devices").await;
    for (path, name) in [
        ("/devices/setup/android", "setup-android"),
        ("/history", "history"),
        ("/conflicts", "conflicts"),
        ("/data", "data"),
    ] {
        b.go(path).await;
        b.wait("h1").await;
        b.shot(name).await;
    }
    assert!(
        b.find("#qr").await.is_none(),
        "the QR code is on the Android page only"
    );
    // On a phone's screen the pages reflow; no sideways scrolling on the overview.
    b.c.set_window_size(390, 844).await.unwrap();
    b.go("/").await;
    b.wait("#books").await;
    let fits =
        b.c.execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true));
    b.shot("phone-overview").await;
    b.go("/sources/google").await;
    b.wait("#rules").await;
    b.shot("phone-source").await;
    b.close().await;
}

/// Signs in as admin on a plain server (no providers).
async fn admin_browser(s: &Server, test: &str) -> Browser {
    let b = Browser::open(&s.base, test).await;
    b.sign_in("admin", ADMIN_PW).await;
    b.wait("#books").await;
    b
}

/// A LinkedIn export with no connections left: only the header.
const EMPTY_LINKEDIN: &str =
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n";

#[tokio::test]
async fn a_rule_change_is_saved_and_a_run_can_be_undone() {
    let s = Server::start();
    let b = admin_browser(&s, "rules_and_undo").await;
    assert_eq!(
        upload(&b, &fixture("linkedin-2025.csv")).await,
        "linkedin-csv"
    );
    let run = import_and_preview(&b, "linkedin").await;
    let creates = planned(&b, "create").await;
    assert!(creates >= 3, "{creates}");

    // Automatic sync waits for a first applied plan.
    b.go("/sources/linkedin").await;
    b.click("#auto").await;
    b.press("Save rules").await;
    assert!(
        b.read("#rules-error")
            .await
            .contains("stays off until one previewed plan"),
    );
    b.go(&format!("/runs/{run}")).await;
    apply(&b).await;
    assert_eq!(dashboard_count(&b).await, creates);

    // Now rules change: delete protection off, every 6 h between 08:00 and 20:00, automatic.
    b.go("/sources/linkedin").await;
    b.click("#delete_protection").await;
    b.click("#auto").await;
    b.fill("#every", "6h").await;
    b.fill("#window", "08:00-20:00").await;
    b.fill("#timezone", "Europe/Berlin").await;
    b.press("Save rules").await;
    assert_eq!(b.read("#notice").await, "Rules saved.");
    b.shot("rules-saved").await;
    // What the page shows after a reload is what is stored, and the CLI agrees.
    b.go("/sources/linkedin").await;
    assert!(
        !b.wait("#delete_protection")
            .await
            .is_selected()
            .await
            .unwrap()
    );
    assert!(b.wait("#auto").await.is_selected().await.unwrap());
    assert_eq!(
        b.wait("#every").await.prop("value").await.unwrap().unwrap(),
        "6h"
    );
    let (ok, shown, err) = kith_cli(
        s.dir.path(),
        &["source", "show", "linkedin", "--user", "admin"],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        shown.contains("6h") && shown.contains("08:00-20:00"),
        "{shown}"
    );

    // A bad value is refused with the reason, and nothing changes.
    b.fill("#every", "often").await;
    b.press("Save rules").await;
    assert!(b.read("#rules-error").await.contains("\"often\""));
    b.go("/sources/linkedin").await;
    assert_eq!(
        b.wait("#every").await.prop("value").await.unwrap().unwrap(),
        "6h"
    );

    // Undo the import from its page: the cards go, and the undo is itself a run.
    b.go(&format!("/runs/{run}")).await;
    b.press("Undo this run").await;
    let notice = b.read("#notice").await;
    assert!(notice.contains(&format!("reverted run {run}")), "{notice}");
    assert_ne!(run_id(&b).await, run);
    b.shot("undone").await;
    assert_eq!(dashboard_count(&b).await, 0);
    b.go("/history").await;
    let history = b.read("#history").await;
    assert!(
        history.contains("undo") && history.contains("applied"),
        "{history}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_guard_trip_shows_why_and_applies_only_when_confirmed() {
    let s = Server::start();
    let b = admin_browser(&s, "guard").await;
    // The organisation's own domain: colleagues there are not imported from any source.
    b.go("/admin").await;
    b.fill("#domains", "example.com").await;
    b.press("Save domains").await;
    assert!(b.read("#notice").await.contains("example.com"));
    upload(&b, &fixture("linkedin-2024.csv")).await;
    import_and_preview(&b, "linkedin").await;
    assert_eq!(planned(&b, "ignore").await, 1, "arjun@example.com");
    assert!(b.text("tr.op-ignore").await.contains("Arjun Mehta"));
    apply(&b).await;
    let before = dashboard_count(&b).await;

    // The next export is empty: more likely a mistake than everyone leaving.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("Connections.csv");
    std::fs::write(&empty, EMPTY_LINKEDIN).unwrap();
    assert_eq!(
        upload(&b, &empty.display().to_string()).await,
        "linkedin-csv"
    );
    let run = import_and_preview(&b, "linkedin").await;
    assert_eq!(b.text("#run-status").await, "paused");
    let why = b.read("#guard").await;
    assert!(why.contains("yielded no contacts"), "{why}");
    assert!(
        b.find("#apply").await.is_none(),
        "only the confirm button applies it"
    );
    b.shot("guard").await;
    b.press("Apply anyway").await;
    b.wait("#notice").await;
    assert_eq!(b.text("#run-status").await, "applied");
    assert_eq!(run_id(&b).await, run);
    // Delete protection: the cards stay, only unlinked.
    assert_eq!(dashboard_count(&b).await, before);
    b.close().await;
}

#[tokio::test]
async fn an_app_password_made_in_the_browser_works_over_carddav_until_revoked() {
    let s = Server::start();
    let b = admin_browser(&s, "app_password").await;
    b.go("/devices").await;
    b.fill("#label", "Pixel 9").await;
    b.press("Create").await;
    let pw = b.read("#app-password").await;
    assert_eq!(pw.len(), 29, "{pw}");
    b.shot("new-password").await;
    let propfind = |pw: String| {
        let s = &s;
        async move {
            s.anon("PROPFIND", BOOK)
                .auth("admin", &pw)
                .header("depth", "0")
                .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>"#)
                .send()
                .await
                .status
        }
    };
    assert_eq!(propfind(pw.clone()).await, 207);
    // The same label again is refused with what to do.
    b.go("/devices").await;
    b.fill("#label", "Pixel 9").await;
    b.press("Create").await;
    assert!(b.read("#device-error").await.contains("Revoke it first"));
    // Revoked: the phone is locked out at once.
    b.go("/devices").await;
    assert!(b.text("#passwords").await.contains("Pixel 9"));
    b.press("Revoke").await;
    b.wait("#create-password").await;
    assert!(!b.text("main").await.contains("Pixel 9"));
    assert_eq!(propfind(pw).await, 401);
    b.close().await;
}

#[tokio::test]
async fn a_form_without_the_session_token_changes_nothing() {
    let s = Server::start();
    let b = admin_browser(&s, "csrf").await;
    b.go("/devices").await;
    // The form as another site would send it: the right fields, a wrong token.
    b.c.execute(
        "document.querySelector('#create-password input[name=csrf]').value = 'forged'",
        vec![],
    )
    .await
    .unwrap();
    b.fill("#label", "Evil").await;
    b.press("Create").await;
    b.wait_heading("The form could not be accepted").await;
    assert!(b.text("main").await.contains("CSRF"));
    b.shot("csrf-refused").await;
    b.go("/devices").await;
    assert!(!b.text("main").await.contains("Evil"));

    // A cross-site POST carries the cookie (SameSite=Lax aside) but never the token.
    let cookie = b.cookie_header().await;
    for (path, body) in [
        ("/devices/passwords", "label=Evil"),
        ("/admin/create-user", "name=mallory&password=x"),
        ("/logout", ""),
    ] {
        let r = post_form(&s.url(path), &cookie, body).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let (_, users, _) = kith_cli(s.dir.path(), &["user", "list"], "");
    assert!(!users.contains("mallory"));
    // Still signed in: the forged logout did nothing.
    b.go("/").await;
    b.wait("#books").await;

    // The sign-in form has its own token (a cookie and a field that must match).
    let r = post_form(
        &s.url("/login"),
        "kith_login=xyz",
        &format!("user=admin&password={ADMIN_PW}&token=abc"),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("kith_session"))
    );
    b.close().await;
}

#[tokio::test]
async fn users_reach_only_their_own_pages() {
    let s = Server::start();
    let admin = admin_browser(&s, "isolation").await;
    // The admin makes a user on the admin page, and imports a file of their own.
    admin.go("/admin").await;
    admin.fill("#new-name", "bob").await;
    admin.fill("#new-password", "bobs-password").await;
    admin.press("Create user").await;
    assert!(
        admin
            .wait("#notice")
            .await
            .text()
            .await
            .unwrap()
            .contains("Created bob")
    );
    upload(&admin, &fixture("linkedin-2024.csv")).await;
    let run = import_and_preview(&admin, "linkedin").await;

    let bob = Browser::open(&s.base, "isolation-bob").await;
    // A wrong password says so; five in a row make the account wait.
    for _ in 0..5 {
        bob.sign_in("bob", "wrong").await;
        assert_eq!(
            bob.read("#login-error").await,
            "Wrong user name or password."
        );
    }
    bob.sign_in("bob", "bobs-password").await;
    assert!(
        bob.read("#login-error")
            .await
            .contains("Too many wrong passwords")
    );
    bob.shot("throttled").await;

    // As bob (fresh throttle: another account), nothing of admin's shows or opens.
    let bob = Browser::open(&s.base, "isolation-bob").await;
    s.add_user("carol", "carols-password");
    bob.sign_in("carol", "carols-password").await;
    bob.wait("#books").await;
    assert!(!bob.text("main").await.contains("linkedin"));
    for path in [
        format!("/runs/{run}"),
        "/sources/linkedin".to_string(),
        "/admin".to_string(),
    ] {
        bob.go(&path).await;
        assert_eq!(bob.read("h1").await, "Not found", "{path}");
    }
    bob.go("/").await;
    assert!(bob.find("a[href='/admin']").await.is_none());
    // A POST to admin's run is refused the same way.
    bob.go("/devices").await;
    let (csrf, cookie) = (bob.csrf().await, bob.cookie_header().await);
    let r = post_form(
        &s.url(&format!("/runs/{run}/apply")),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status(), 404);
    admin.go(&format!("/runs/{run}")).await;
    assert_eq!(admin.read("#run-status").await, "planned");

    // Disabled by the admin: signed out at once, and the password no longer works.
    admin.go("/admin").await;
    admin.click("button[aria-label='Disable carol']").await;
    assert!(
        admin
            .wait("#notice")
            .await
            .text()
            .await
            .unwrap()
            .contains("carol is disabled")
    );
    bob.go("/").await;
    bob.wait("#user").await;
    bob.sign_in("carol", "carols-password").await;
    assert!(bob.read("#login-error").await.contains("disabled"));
    let dav = s
        .anon("PROPFIND", "/dav/addressbooks/carol/")
        .auth("carol", "carols-password")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(dav.status, 401);
    admin.close().await;
    bob.close().await;
}

const SOFIA_V1: &str = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\nSofia,Rossi,https://www.linkedin.com/in/sofiarossi,sofia.rossi@example.org,Studio Rossi,Senior Engineer,30 Nov 2020\n";
const SOFIA_V2: &str = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\nSofia,Rossi,https://www.linkedin.com/in/sofiarossi,sofia.rossi@example.org,Studio Rossi,Staff Engineer,30 Nov 2020\n";

#[tokio::test]
async fn a_conflict_is_resolved_in_the_inbox_by_keeping_theirs() {
    let s = Server::start();
    let b = admin_browser(&s, "conflicts").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Connections.csv");
    std::fs::write(&file, SOFIA_V1).unwrap();
    upload(&b, &file.display().to_string()).await;
    import_and_preview(&b, "linkedin").await;
    apply(&b).await;

    // The user retitles Sofia on their phone; LinkedIn then says something else.
    let (name, (etag, text)) = download_book(&s).await.into_iter().next().unwrap();
    let edited = text.replace("TITLE:Senior Engineer", "TITLE:Principal Engineer");
    assert_ne!(edited, text);
    let put = s
        .req("PUT", &format!("{BOOK}{name}"))
        .header("if-match", &etag)
        .vcard(edited.as_bytes())
        .send()
        .await;
    assert_eq!(put.status, 204);
    std::fs::write(&file, SOFIA_V2).unwrap();
    upload(&b, &file.display().to_string()).await;
    import_and_preview(&b, "linkedin").await;
    assert!(
        b.text("#ops").await.contains("kept your edit"),
        "{}",
        b.text("#ops").await
    );
    apply(&b).await;
    let kept = download_book(&s).await;
    assert!(
        kept[&name].1.contains("TITLE:Principal Engineer"),
        "your edit wins the run"
    );

    // The Overview points at the inbox instead of saying there is nothing to report.
    b.go("/").await;
    assert!(
        b.read("#open-conflicts").await.contains("1 conflict"),
        "{}",
        b.text("main").await
    );
    assert!(!b.text("main").await.contains("Nothing to report"));

    // The inbox shows both values; keeping theirs writes LinkedIn's into the card.
    b.go("/conflicts").await;
    let item = b.read(".conflict").await;
    assert!(
        item.contains("Sofia Rossi")
            && item.contains("Principal Engineer")
            && item.contains("Staff Engineer"),
        "{item}"
    );
    b.shot("conflicts").await;
    b.press("Keep theirs").await;
    assert!(b.read("#notice").await.contains("Sofia Rossi"));
    assert!(
        b.find(".conflict").await.is_none(),
        "resolved conflicts leave the inbox"
    );
    b.go("/").await;
    b.wait("#books").await;
    assert!(b.find("#open-conflicts").await.is_none());
    let after = download_book(&s).await;
    assert!(
        after[&name].1.contains("TITLE:Staff Engineer"),
        "{}",
        after[&name].1
    );
    // A client syncing sees the new version.
    assert_ne!(after[&name].0, kept[&name].0);
    b.close().await;
}

#[tokio::test]
async fn single_sign_on_signs_in_an_existing_user_and_explains_refusals() {
    let issuer = kith_fakes::oidc::spawn();
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("kith.toml");
    std::fs::write(
        &path,
        format!(
            "[web.oidc]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nlabel = \"Example ID\"\ngroups_claim = \"groups\"\n",
            kith_fakes::oidc::CLIENT_ID,
            kith_fakes::oidc::CLIENT_SECRET
        ),
    )
    .unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", path.to_str().unwrap())]);
    s.add_user("alice", "alices-password");
    let person = |v: serde_json::Value| {
        let url = format!("{issuer}/_fake/oidc/person");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .body(v.to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    person(
        json!({"sub": "1001", "preferred_username": "alice", "email": "alice@example.org",
                  "groups": ["recruiting", "not a group name!"]}),
    )
    .await;
    let b = Browser::open(&s.base, "sso").await;
    b.go("/history").await;
    assert_eq!(b.read("#sso").await, "Sign in with Example ID");
    b.shot("login-sso").await;
    b.press("Sign in with Example ID").await;
    b.wait("#history, main p.muted").await;
    assert_eq!(b.path().await, "/history", "back where the user was going");
    assert_eq!(b.read(".who").await, "alice");
    // The provider's groups claim made her a member (a name Kith cannot use is left out).
    let (ok, groups, _) = kith_cli(s.dir.path(), &["group", "list"], "");
    assert!(ok && groups.trim() == "recruiting: alice", "{groups}");

    // Someone the provider knows but Kith does not: told what to do, not signed in.
    b.press("Sign out").await;
    b.wait("#user").await;
    person(json!({"sub": "1002", "preferred_username": "mallory"})).await;
    b.press("Sign in with Example ID").await;
    assert!(
        b.read("#login-error")
            .await
            .contains("no user of that name. Ask a Kith admin")
    );
    // A forged ID token (another key) is refused.
    person(json!({"sub": "1001", "preferred_username": "alice", "bad_signature": true})).await;
    b.press("Sign in with Example ID").await;
    assert!(
        b.read("#login-error")
            .await
            .contains("ID token is not valid")
    );
    // The provider refusing (the user cancelled): said plainly.
    person(json!({"error": "access_denied"})).await;
    b.press("Sign in with Example ID").await;
    assert!(
        b.read("#login-error")
            .await
            .contains("refused (access_denied")
    );
    // A callback replayed (its state is single-use) signs nobody in.
    b.go("/login/oidc/callback?state=made-up&code=x").await;
    assert!(
        b.read("#login-error")
            .await
            .contains("expired or was already used")
    );
    b.go("/").await;
    b.wait("#user").await;
    b.close().await;
}

#[tokio::test]
async fn the_data_page_restores_from_the_trash_and_downloads_exports() {
    let s = Server::start();
    let b = admin_browser(&s, "data").await;
    upload(&b, &fixture("linkedin-2024.csv")).await;
    import_and_preview(&b, "linkedin").await;
    apply(&b).await;
    let before = dashboard_count(&b).await;
    // A phone deletes Lena.
    let cards = download_book(&s).await;
    let (name, (etag, _)) = cards
        .iter()
        .find(|(_, (_, t))| t.contains("FN:Lena Berg"))
        .unwrap();
    let del = s
        .req("DELETE", &format!("{BOOK}{name}"))
        .header("if-match", etag)
        .send()
        .await;
    assert_eq!(del.status, 204);

    b.go("/data").await;
    b.click("details summary").await;
    assert!(b.text("details").await.contains("Lena Berg"));
    b.shot("data-trash").await;
    // Her history is one click away.
    b.click("details a").await;
    assert!(b.read("main").await.contains("This card is deleted"));
    b.shot("card-history").await;
    b.go("/data").await;
    b.click("details summary").await;
    b.press("Restore").await;
    assert!(b.read("#notice").await.contains("Restored"));
    assert_eq!(dashboard_count(&b).await, before);
    assert!(download_book(&s).await.contains_key(name));

    // Downloads, as the browser makes them (with its session).
    let cookie = b.cookie_header().await;
    let get = |path: &str| {
        let req = reqwest::Client::new()
            .get(s.url(path))
            .header("cookie", &cookie)
            .send();
        async move {
            let r = req.await.unwrap();
            let status = r.status().as_u16();
            let ctype = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, ctype, r.bytes().await.unwrap().to_vec())
        }
    };
    let (status, ctype, csv) = get("/data/export/addressbook/contacts?format=csv-google").await;
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(String::from_utf8_lossy(&csv).contains("Lena"));
    let (status, _, vcf) = get("/data/export/addressbook/contacts?format=vcf4").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&vcf).contains("VERSION:4.0"));
    let (status, _, _) = get("/data/export/addressbook/contacts?format=ics").await;
    assert_eq!(status, 400, "a book is not a calendar");
    let (status, ctype, zip) = get("/account/export.zip").await;
    assert_eq!((status, ctype.as_str()), (200, "application/zip"));
    assert!(zip.starts_with(b"PK"));
    // Without the session, nothing.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/data/export/addressbook/contacts"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
    b.close().await;
}

/// Issue 25: an admin sets both providers' apps and who may connect on the admin page; the
/// secret is never shown again; a user outside the allowed set is told who to ask; the app
/// set in the browser is the one the connection uses.
#[tokio::test]
async fn an_admin_sets_provider_apps_and_who_may_connect_in_the_browser() {
    let (google, _) = kith_fakes::google::spawn();
    let (ms, _) = kith_fakes::m365::spawn();
    // Only the providers' endpoints (here: the fakes) come from the config file.
    let config = format!(
        r#"[providers.google]
auth_url = "{google}/o/oauth2/v2/auth"
token_url = "{google}/token"
revoke_url = "{google}/revoke"
api_url = "{google}"
retry_base = "40ms"

[providers.m365]
authority_url = "{ms}"
graph_url = "{ms}/v1.0"
"#
    );
    let g = Upstream::start(google.clone(), config, None, "google");
    g.s.add_user("bob", "bobs-password");
    g.control("/_fake/consent", json!({"account": "ada@example.org"}))
        .await;
    let b = admin_browser(&g.s, "provider_apps").await;
    b.go("/admin").await;
    assert!(b.text("#provider-google").await.contains("missing"));

    for (id, client, secret) in [
        (
            "google",
            "kith-test.apps.googleusercontent.com",
            "fake-secret",
        ),
        (
            "m365",
            "11111111-2222-3333-4444-555555555555",
            "an-old-m365-secret-value",
        ),
    ] {
        b.fill(&format!("#{id}-client-id"), client).await;
        b.fill(&format!("#{id}-client-secret"), secret).await;
        b.fill(&format!("#{id}-base"), &g.s.base).await;
        b.click(&format!("#app-{id} button")).await;
        b.wait_text("#notice", &format!("{}/oauth/{id}/callback", g.s.base))
            .await;
    }
    let page = b.text("main").await;
    assert!(!page.contains("fake-secret"), "no secret is shown again");
    assert!(page.contains("ends in …alue"), "{page}");
    b.press("Enable Google").await;
    b.wait_text("#notice", "Google is enabled").await;
    assert!(b.text("#provider-google").await.contains("enabled"));
    // A group, with admin in it, is the only one allowed to connect Google.
    b.fill("#new-group", "recruiting").await;
    b.press("Create group").await;
    b.wait_text("#notice", "Group recruiting made").await;
    b.press("Add to group").await;
    b.wait_text("#notice", "Members of recruiting: admin.")
        .await;
    b.fill("#google-groups", "sales").await;
    b.press("Save who may connect Google").await;
    b.wait_text("#admin-error", "no group named \"sales\"")
        .await;
    b.fill("#google-groups", "recruiting").await;
    b.press("Save who may connect Google").await;
    b.wait_text(
        "#notice",
        "Only the members of recruiting may now connect Google",
    )
    .await;
    b.shot("admin-providers").await;
    let status = g.ok(&["provider", "status"]);
    assert!(
        status.contains("who may connect: group recruiting"),
        "{status}"
    );
    assert!(g.ok(&["group", "list"]).contains("recruiting: admin"));
    assert!(!status.contains("an-old-m365-secret-value"), "{status}");

    // Bob is not in the set: the Sources page and the connect link say who to ask.
    let bob = Browser::open(&g.s.base, "provider_apps-bob").await;
    bob.sign_in("bob", "bobs-password").await;
    bob.wait("#books").await;
    bob.go("/sources").await;
    bob.wait_heading("Sources").await;
    let why = bob.text("#connect-google").await;
    assert!(
        why.contains("only to some users") && why.contains("Ask an admin (admin)"),
        "{why}"
    );
    bob.go("/oauth/google/start?source=google").await;
    assert!(
        bob.text("main").await.contains("Ask an admin (admin)"),
        "{}",
        bob.text("main").await
    );
    bob.close().await;

    // The admin connects: the app set in the browser is the one Google sees.
    b.go("/sources").await;
    b.press("Connect Google").await;
    b.wait("#notice").await;
    assert!(b.text("#notice").await.contains("ada@example.org"));

    // And the Microsoft 365 app set in the browser is the one Microsoft sees.
    for (path, body) in [
        (
            "/_fake/user",
            json!({"account": "ada@contoso.example", "tenant": "contoso"}),
        ),
        ("/_fake/signin", json!({"account": "ada@contoso.example"})),
    ] {
        let r = g
            .http
            .post(format!("{ms}{path}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    b.go("/admin").await;
    b.press("Enable Microsoft 365").await;
    b.wait("#notice").await;
    b.go("/sources").await;
    b.press("Connect Microsoft 365").await;
    // The secret typed first is not the app's: Microsoft says so, and the page says what to do.
    b.wait_heading("Microsoft 365 was not connected").await;
    assert!(b.text("main").await.contains("enter it on the admin page"));
    b.go("/admin").await;
    b.fill("#m365-client-secret", "fake-m365-secret").await;
    b.click("#app-m365 button").await;
    assert!(b.read("#notice").await.contains("with the new secret"));
    assert!(b.text("#app-m365").await.contains("ends in …cret"));
    b.go("/sources").await;
    b.press("Connect Microsoft 365").await;
    b.wait("#notice").await;
    assert!(
        b.text("#notice").await.contains("ada@contoso.example"),
        "{}",
        b.text("main").await
    );
    b.close().await;
}
