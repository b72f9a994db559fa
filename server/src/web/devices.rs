//! Devices: app passwords (created, listed, revoked), and setup pages per client with the
//! exact URL to type: a `.mobileconfig` profile for iOS and macOS with CardDAV and CalDAV
//! accounts, a QR code of the base URL for DAVx5, and steps for Thunderbird and Evolution.

use super::Web;
use super::form::Form;
use super::page::{self, Nav, when, when_opt};
use crate::store::StoreError;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct Password {
    pub label: String,
    pub created: String,
    pub used: String,
}

/// A device registered for WebDAV-Push, as the page lists it.
pub struct Pushed {
    pub token: String,
    /// The push service's host: what the user recognises (ntfy.sh, their own server...).
    pub service: String,
    pub until: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct Devices {
    nav: Nav,
    passwords: Vec<Password>,
    pushes: Vec<Pushed>,
    dav_url: String,
    created: Option<(String, String)>,
    error: Option<String>,
}

fn dav_url(web: &Web) -> String {
    format!("{}/dav/", web.base_url())
}

async fn render(
    web: &Web,
    status: StatusCode,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let passwords = match web.app.store.app_passwords(web.user().id).await {
        Ok(p) => p,
        Err(e) => return page::internal(web, e),
    };
    let pushes = match web.app.store.push_registrations_of(web.user().id).await {
        Ok(p) => p,
        Err(e) => return page::internal(web, e),
    };
    page::render(
        status,
        &Devices {
            nav: web.nav("devices"),
            passwords: passwords
                .into_iter()
                .map(|p| Password {
                    label: p.label,
                    created: when(p.created_at),
                    used: when_opt(p.last_used_at),
                })
                .collect(),
            pushes: pushes
                .into_iter()
                .map(|p| Pushed {
                    token: p.token,
                    service: reqwest::Url::parse(&p.push_resource)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_string))
                        .unwrap_or_default(),
                    until: when(p.expires_at),
                    state: match p.failures {
                        0 => "delivering".to_string(),
                        n => format!("{n} deliveries failed in a row"),
                    },
                })
                .collect(),
            dav_url: dav_url(web),
            created,
            error,
        },
    )
}

pub async fn list(web: &Web) -> Response {
    render(web, StatusCode::OK, None, None).await
}

/// Makes an app password labelled `label`; returns it (shown once) or what to do instead.
async fn new_password(web: &Web, label: &str) -> Result<String, Result<String, StoreError>> {
    let label = label.trim();
    if label.is_empty() || label.len() > 64 || label.chars().any(char::is_control) {
        return Err(Ok(
            "Name the device (up to 64 characters), e.g. \"iPhone\".".to_string(),
        ));
    }
    let token = crate::core::accounts::random_password();
    let hash = web.app.auth.app_password_hash(&token);
    match web
        .app
        .store
        .add_app_password(web.user().id, label, &hash)
        .await
    {
        Ok(()) => Ok(token),
        Err(StoreError::Exists(_)) => Err(Ok(format!(
            "You already have an app password labelled \"{label}\". Revoke it first or pick another name."
        ))),
        Err(e) => Err(Err(e)),
    }
}

pub async fn create(web: &Web, form: &Form) -> Response {
    let label = form.get("label").trim().to_string();
    match new_password(web, &label).await {
        Ok(token) => render(web, StatusCode::OK, Some((label, token)), None).await,
        Err(Ok(msg)) => render(web, StatusCode::BAD_REQUEST, None, Some(msg)).await,
        Err(Err(e)) => page::internal(web, e),
    }
}

pub async fn revoke(web: &Web, form: &Form) -> Response {
    match web
        .app
        .store
        .revoke_app_password(web.user().id, form.get("label"))
        .await
    {
        Ok(_) => page::redirect("/devices"),
        Err(e) => page::internal(web, e),
    }
}

pub struct Client {
    pub id: &'static str,
    pub title: &'static str,
}

const CLIENTS: &[Client] = &[
    Client {
        id: "ios",
        title: "iPhone and iPad",
    },
    Client {
        id: "macos",
        title: "macOS",
    },
    Client {
        id: "android",
        title: "Android (DAVx5)",
    },
    Client {
        id: "thunderbird",
        title: "Thunderbird",
    },
    Client {
        id: "evolution",
        title: "Evolution",
    },
];

#[derive(Template)]
#[template(path = "setup.html")]
struct Setup {
    nav: Nav,
    client: &'static Client,
    clients: &'static [Client],
    base: String,
    dav_url: String,
    principal_url: String,
    books_url: String,
    calendars_url: String,
    qr: String,
}

/// An SVG QR code of `text`, for DAVx5's "scan QR code".
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(224, 224)
            .quiet_zone(true)
            .build()
            // Inline in the page: the XML declaration has no place there.
            .split_once("<svg")
            .map(|(_, svg)| {
                format!(
                    "<svg role=\"img\" aria-label=\"QR code of {}\"{svg}",
                    xml(text)
                )
            })
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn setup(web: &Web, client: &str) -> Response {
    let Some(c) = CLIENTS.iter().find(|c| c.id == client) else {
        return page::not_found(web);
    };
    let base = web.base_url();
    let dav_url = dav_url(web);
    let user = super::seg(&web.user().name);
    page::ok(&Setup {
        nav: web.nav("devices"),
        client: c,
        clients: CLIENTS,
        qr: if c.id == "android" {
            qr_svg(&dav_url)
        } else {
            String::new()
        },
        principal_url: format!("{base}/dav/principals/{user}/"),
        books_url: format!("{base}/dav/addressbooks/{user}/"),
        calendars_url: format!("{base}/dav/calendars/{user}/"),
        base,
        dav_url,
    })
}

use super::page::escape as xml;

/// A random UUID (v4) for a profile payload.
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The profile's CardDAV and CalDAV account payloads, with the app password inside so the
/// device never asks for it.
pub fn mobileconfig(base: &str, user: &str, password: &str, label: &str) -> String {
    let (ssl, rest) = match base.split_once("://") {
        Some(("https", r)) => (true, r),
        Some((_, r)) => (false, r),
        None => (false, base),
    };
    let hostport = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, p.to_string()),
        _ => (hostport, if ssl { "443".into() } else { "80".into() }),
    };
    let principal = format!("/dav/principals/{}/", super::seg(user));
    let account = |kind: &str, ptype: &str, desc: &str| {
        format!(
            "<dict>\n<key>{kind}AccountDescription</key><string>{desc}</string>\n<key>{kind}HostName</key><string>{host}</string>\n<key>{kind}Port</key><integer>{port}</integer>\n<key>{kind}PrincipalURL</key><string>{principal}</string>\n<key>{kind}UseSSL</key><{ssl}/>\n<key>{kind}Username</key><string>{user}</string>\n<key>{kind}Password</key><string>{password}</string>\n<key>PayloadDescription</key><string>{desc}</string>\n<key>PayloadDisplayName</key><string>{desc}</string>\n<key>PayloadIdentifier</key><string>org.kith.{ptype}.{id}</string>\n<key>PayloadType</key><string>com.apple.{ptype}.account</string>\n<key>PayloadUUID</key><string>{id}</string>\n<key>PayloadVersion</key><integer>1</integer>\n</dict>\n",
            host = xml(host),
            principal = xml(&principal),
            ssl = if ssl { "true" } else { "false" },
            user = xml(user),
            password = xml(password),
            desc = xml(desc),
            id = uuid(),
        )
    };
    let card = account("CardDAV", "carddav", &format!("Kith contacts ({user})"));
    let cal = account("CalDAV", "caldav", &format!("Kith calendars ({user})"));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n<key>PayloadContent</key>\n<array>\n{card}{cal}</array>\n<key>PayloadDisplayName</key><string>Kith ({label})</string>\n<key>PayloadDescription</key><string>Contacts and calendars from Kith at {host}</string>\n<key>PayloadIdentifier</key><string>org.kith.profile.{id}</string>\n<key>PayloadType</key><string>Configuration</string>\n<key>PayloadUUID</key><string>{id}</string>\n<key>PayloadVersion</key><integer>1</integer>\n</dict>\n</plist>\n",
        label = xml(label),
        host = xml(host),
        id = uuid(),
    )
}

/// `POST /devices/profile`: a new app password for the device, inside a profile to install.
pub async fn profile(web: &Web, form: &Form) -> Response {
    let label = form.get("label").trim().to_string();
    let token = match new_password(web, &label).await {
        Ok(t) => t,
        Err(Ok(msg)) => return render(web, StatusCode::BAD_REQUEST, None, Some(msg)).await,
        Err(Err(e)) => return page::internal(web, e),
    };
    let body = mobileconfig(&web.base_url(), &web.user().name, &token, &label);
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-apple-aspen-config"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"kith.mobileconfig\""),
    );
    r
}

/// Stops pushes to one device; it registers again at its next sync if it still wants them.
pub async fn stop_push(web: &Web, form: &Form) -> Response {
    match crate::core::push::unregister(web.app.store.as_ref(), web.user().id, form.get("token"))
        .await
    {
        Ok(_) => page::redirect("/devices"),
        Err(e) => page::internal(web, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_host_port_and_principal() {
        let p = mobileconfig("https://dav.example.com", "ann", "pw<&>", "iPhone");
        assert!(p.contains("<key>CardDAVHostName</key><string>dav.example.com</string>"));
        assert!(p.contains("<key>CalDAVPort</key><integer>443</integer>"));
        assert!(p.contains("<key>CardDAVUseSSL</key><true/>"));
        assert!(p.contains("<string>/dav/principals/ann/</string>"));
        assert!(p.contains("pw&lt;&amp;&gt;"));
        let p = mobileconfig("http://127.0.0.1:5233", "ann", "x", "Mac");
        assert!(p.contains("<key>CalDAVPort</key><integer>5233</integer>"));
        assert!(p.contains("<key>CalDAVUseSSL</key><false/>"));
    }

    #[test]
    fn qr_code_is_an_svg() {
        assert!(qr_svg("https://dav.example.com/dav/").starts_with("<svg role=\"img\""));
    }
}
